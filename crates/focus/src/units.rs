//! FOCUS UnitFormat: normalizing provider unit spellings (`Hrs`, `GB-Mo`) to the spec's.

use std::borrow::Cow;

const DATA_SIZES: [&str; 26] = [
    "b", "Kb", "Mb", "Gb", "Tb", "Pb", "Eb", "B", "KB", "MB", "GB", "TB", "PB", "EB", "Kib", "Mib",
    "Gib", "Tib", "Pib", "Eib", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
];
const TIME_SINGULAR: [&str; 6] = ["Year", "Month", "Day", "Hour", "Minute", "Second"];
const TIME_PLURAL: [&str; 6] = ["Years", "Months", "Days", "Hours", "Minutes", "Seconds"];

/// Provider abbreviations of time units and their FOCUS plural.
const TIME_ALIASES: [(&str, &str); 14] = [
    ("Hrs", "Hours"),
    ("Hr", "Hours"),
    ("Hour", "Hours"),
    ("Hours", "Hours"),
    ("Mo", "Months"),
    ("Month", "Months"),
    ("Months", "Months"),
    ("Second", "Seconds"),
    ("Seconds", "Seconds"),
    ("Sec", "Seconds"),
    ("Minute", "Minutes"),
    ("Min", "Minutes"),
    ("Day", "Days"),
    ("Days", "Days"),
];

/// A count unit: words of letters and digits separated by single spaces ("API Request").
fn is_count_unit(s: &str) -> bool {
    !s.is_empty()
        && s.split(' ').all(|w| {
            let mut chars = w.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric())
        })
}

fn is_quantity_unit(s: &str) -> bool {
    DATA_SIZES.contains(&s) || is_count_unit(s)
}

/// Whether `unit` follows the FOCUS UnitFormat attribute (the same five forms the FinOps
/// Foundation validator accepts).
pub fn is_unit_format(unit: &str) -> bool {
    if DATA_SIZES.contains(&unit)
        || TIME_SINGULAR.contains(&unit)
        || TIME_PLURAL.contains(&unit)
        || is_count_unit(unit)
    {
        return true;
    }
    if let Some((left, right)) = unit.rsplit_once('-')
        && TIME_PLURAL.contains(&right)
        && is_quantity_unit(left)
    {
        return true;
    }
    if let Some((left, right)) = unit.rsplit_once('/') {
        let left_ok = is_quantity_unit(left) || TIME_PLURAL.contains(&left);
        if left_ok && TIME_SINGULAR.contains(&right) {
            return true;
        }
        if left_ok
            && let Some((n, t)) = right.split_once(' ')
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && TIME_PLURAL.contains(&t)
        {
            return true;
        }
    }
    if let Some((n, u)) = unit.split_once(' ')
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && (is_quantity_unit(u) || TIME_PLURAL.contains(&u))
    {
        return true;
    }
    false
}

/// The FOCUS spelling of a provider unit: `Hrs` → `Hours`, `GB-Mo` → `GB-Months`,
/// `Lambda-GB-Second` → `Lambda GB-Seconds`. A unit already in format is returned as is;
/// one that cannot be normalized is returned unchanged (the conformance check reports it).
pub fn normalize(unit: &str) -> Cow<'_, str> {
    if is_unit_format(unit) && !TIME_ALIASES.iter().any(|(a, to)| a == &unit && a != to) {
        return Cow::Borrowed(unit);
    }
    if let Some((_, to)) = TIME_ALIASES.iter().find(|(a, _)| *a == unit) {
        return Cow::Borrowed(to);
    }
    if let Some((left, right)) = unit.rsplit_once('-')
        && let Some((_, to)) = TIME_ALIASES.iter().find(|(a, _)| *a == right)
    {
        let left = left.replace(['-', '_'], " ");
        let candidate = format!("{left}-{to}");
        if is_unit_format(&candidate) {
            return Cow::Owned(candidate);
        }
    }
    let spaced = unit.replace(['-', '_'], " ");
    if is_unit_format(&spaced) {
        return Cow::Owned(spaced);
    }
    Cow::Borrowed(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_spec_forms() {
        for u in [
            "GB",
            "Hours",
            "Requests",
            "API Request",
            "GB-Hours",
            "GB/Hour",
            "1000 Requests",
            "Requests/3 Months",
            "vCPU-Hours",
        ] {
            assert!(is_unit_format(u), "{u}");
        }
        for u in ["GB-Mo", "Hrs-", "Lambda-GB-Second", "", "GB-Hour", "per 1K"] {
            assert!(!is_unit_format(u), "{u}");
        }
    }

    #[test]
    fn normalizes_aws_units() {
        for (from, to) in [
            ("Hrs", "Hours"),
            ("GB-Mo", "GB-Months"),
            ("GB-Hrs", "GB-Hours"),
            ("Lambda-GB-Second", "Lambda GB-Seconds"),
            ("ReadCapacityUnit-Hrs", "ReadCapacityUnit-Hours"),
            ("Requests", "Requests"),
            ("GB", "GB"),
            ("IOPS-Mo", "IOPS-Months"),
            ("Metrics", "Metrics"),
        ] {
            assert_eq!(normalize(from), to, "{from}");
            assert!(is_unit_format(&normalize(from)));
        }
    }
}
