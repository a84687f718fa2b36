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
    }
}
