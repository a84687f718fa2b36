//! Fast, allocation-free parsing of the date/time spellings billing files use.

/// Microseconds since the Unix epoch for a UTC date/time in one of the spellings seen in
/// billing files: `2023-11-01T00:00:00Z`, `2023-11-01T00:00:00.000Z`, `2023-06-01 00:00:00`,
/// `2023-11-13T10:00Z`, `2023-11-01` and the compact `20180801T000000.000Z`.
/// A zone other than `Z`/`+00:00`/none is rejected rather than guessed.
pub fn parse_utc_micros(text: &[u8]) -> Option<i64> {
    let t = text.trim_ascii();
    let (date, rest) = if t.len() >= 10 && t[4] == b'-' && t[7] == b'-' {
        ((num(&t[0..4])?, num(&t[5..7])?, num(&t[8..10])?), &t[10..])
    } else if t.len() >= 8 && t[..8].iter().all(u8::is_ascii_digit) {
        ((num(&t[0..4])?, num(&t[4..6])?, num(&t[6..8])?), &t[8..])
    } else {
        return None;
    };
    let (y, m, d) = date;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let mut micros = days_from_civil(y, m, d) * 86_400_000_000;
    if rest.is_empty() {
        return Some(micros);
    }
    if rest[0] != b'T' && rest[0] != b' ' {
        return None;
    }
    let r = &rest[1..];
    let (h, mi, s, mut tail) = if r.len() >= 5 && r[2] == b':' {
        let h = num(&r[0..2])?;
        let mi = num(&r[3..5])?;
        if r.len() >= 8 && r[5] == b':' {
            (h, mi, num(&r[6..8])?, &r[8..])
        } else {
            (h, mi, 0, &r[5..])
        }
    } else if r.len() >= 6 && r[..6].iter().all(u8::is_ascii_digit) {
        (num(&r[0..2])?, num(&r[2..4])?, num(&r[4..6])?, &r[6..])
    } else {
        return None;
    };
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    micros += (h * 3600 + mi * 60 + s) * 1_000_000;
    if let Some(frac) = tail.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let mut f = 0i64;
        for (i, c) in frac[..n].iter().enumerate() {
            if i < 6 {
                f = f * 10 + i64::from(c - b'0');
            }
        }
        for _ in n..6 {
            f *= 10;
        }
        micros += f;
        tail = &frac[n..];
    }
    match tail {
        b"" | b"Z" | b"+00:00" | b" +0000" | b"+0000" | b" UTC" => Some(micros),
        _ => None,
    }
}

fn num(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar month (UTC) holding `t`, as [start, end) in microseconds.
pub fn month_bounds(t: i64) -> (i64, i64) {
    let (y, m, _) = civil_from_days(t.div_euclid(86_400_000_000));
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let micros = |y: i64, m: i64| days_from_civil(y, m, 1) * 86_400_000_000;
    (micros(y, m), micros(ny, nm))
}

/// `YYYY-MM` of a UTC instant in microseconds.
pub fn year_month(micros: i64) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let (y, m, _) = civil_from_days(days);
    format!("{y:04}-{m:02}")
}

/// (year, month, day) of days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling_to_the_same_instant() {
        let expected = 1_698_796_800_000_000; // 2023-11-01T00:00:00Z
        for s in [
            "2023-11-01T00:00:00Z",
            "2023-11-01T00:00:00.000Z",
            "2023-11-01 00:00:00",
            "2023-11-01T00:00Z",
            "2023-11-01",
            "20231101T000000.000Z",
            "2023-11-01T00:00:00+00:00",
        ] {
            assert_eq!(parse_utc_micros(s.as_bytes()), Some(expected), "{s}");
        }
        assert_eq!(
            parse_utc_micros(b"2023-11-01T10:30:15.5Z"),
            Some(expected + 37_815_500_000)
        );
        assert_eq!(year_month(expected), "2023-11");
    }

    #[test]
    fn rejects_impossible_or_zoned_dates() {
        for s in [
            "2023-02-30T00:00:00Z",
            "2023-13-01",
            "11/01/2023",
            "2023-11-01T25:00:00Z",
            "2023-11-01T00:00:00+02:00",
            "",
        ] {
            assert_eq!(parse_utc_micros(s.as_bytes()), None, "{s}");
        }
    }
}
