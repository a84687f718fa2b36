/// Formats an integer count of 10⁻¹⁰ units as the plain decimal text AWS prints.
pub fn format_units(units: i128) -> String {
    let negative = units < 0;
    let abs = units.unsigned_abs();
    let int = abs / 10_000_000_000;
    let frac = abs % 10_000_000_000;
    let mut s = if negative {
        String::from("-")
    } else {
        String::new()
    };
    s.push_str(&int.to_string());
    if frac != 0 {
        let f = format!("{frac:010}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    } else {
        s.push_str(".0");
    }
    s
}

/// `units` × 10^-`scale` as plain decimal text, trailing zeros trimmed.
pub fn format_scaled(units: i128, scale: u32) -> String {
    let negative = units < 0;
    let abs = units.unsigned_abs();
    let ten = 10u128.pow(scale);
    let (int, frac) = (abs / ten, abs % ten);
    let mut s = String::new();
    if negative {
        s.push('-');
    }
    s.push_str(&int.to_string());
    if frac != 0 {
        let f = format!("{frac:0width$}", width = scale as usize);
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s
}

/// AWS also prints tiny values in scientific notation (`7.0E-10`).
pub(crate) fn format_scientific(units: i128) -> String {
    // units × 10⁻¹⁰ = m × 10^e with one digit before the point.
    let negative = units < 0;
    let digits = units.unsigned_abs().to_string();
    let exponent = digits.len() as i64 - 1 - 10;
    let (head, tail) = digits.split_at(1);
    let tail = tail.trim_end_matches('0');
    let tail = if tail.is_empty() { "0" } else { tail };
    format!(
        "{}{head}.{tail}E{exponent}",
        if negative { "-" } else { "" }
    )
}

/// A float holding micro-units (10⁻⁶) as JSON prints it (BigQuery exports, OpenAI): the
/// shortest text, with an exponent below 10⁻⁴ (`1.5e-05`).
pub(crate) fn float_json(micros: i128) -> String {
    if micros != 0 && micros.abs() < 100 {
        let digits = micros.unsigned_abs().to_string();
        let exponent = 6 - (digits.len() as i64 - 1);
        let (head, tail) = digits.split_at(1);
        let tail = tail.trim_end_matches('0');
        let mantissa = if tail.is_empty() {
            head.to_string()
        } else {
            format!("{head}.{tail}")
        };
        let sign = if micros < 0 { "-" } else { "" };
        return format!("{sign}{mantissa}e-{exponent:02}");
    }
    crate::format_scaled(micros, 6)
}

/// `units` divided by `step` (a power of ten), rounded half to even: a source amount with
/// more places than the lake's 12 as the lake holds it.
pub(crate) fn round_half_even(units: i128, step: i128) -> i128 {
    let (q, r) = (units.div_euclid(step), units.rem_euclid(step));
    match (2 * r).cmp(&step) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_aws() {
        assert_eq!(format_units(0), "0.0");
        assert_eq!(format_units(12_300_000_000), "1.23");
        assert_eq!(format_units(-7), "-0.0000000007");
        assert_eq!(format_scientific(7), "7.0E-10");
        assert_eq!(format_scientific(1234), "1.234E-7");
        assert_eq!(float_json(15), "1.5e-05");
        assert_eq!(float_json(-3), "-3e-06");
        assert_eq!(float_json(0), "0");
        assert_eq!(float_json(100), "0.0001");
        assert_eq!(float_json(41_250_000), "41.25");
    }
}
