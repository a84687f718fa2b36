//! Exact decimal money.
//!
//! Billow stores every cost, price and quantity as `Decimal128(38,12)`: an `i128` counting
//! units of 10⁻¹². Text from a billing file is parsed here without ever touching a binary
//! float; scientific notation (`7.0E-10`) is accepted. Values with more than 12 fractional
//! digits are rounded half-even, and the caller learns that it happened so it can keep the
//! exact source sum ([`ExactSum`]) beside the stored one.

use std::fmt;

/// Scale of every money, price and quantity column.
pub const SCALE: i8 = 12;
/// Precision of every money, price and quantity column.
pub const PRECISION: u8 = 38;
/// 10¹², one unit at [`SCALE`].
pub const ONE: i128 = 1_000_000_000_000;
/// Largest magnitude accepted for one value (10¹⁵ at scale 12). DataFusion's `SUM` wraps
/// silently past `i128`, so ingest refuses values that could make a month's sum overflow:
/// 10 billion rows of this size still fit.
pub const MAX_ABS: i128 = 1_000_000_000_000_000 * ONE;

/// A parsed decimal at scale 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// Value in units of 10⁻¹².
    pub value: i128,
    /// True when digits beyond 12 places were rounded away.
    pub rounded: bool,
}

/// Why a text is not an acceptable decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not a number at all.
    #[error("not a decimal number")]
    Syntax,
    /// Outside ±10¹⁵, the range Billow can sum safely.
    #[error("magnitude is above 10^15, outside the range Billow can sum exactly")]
    OutOfRange,
}

/// Parses `text` (ASCII, optional sign, digits, optional `.`, optional exponent) exactly into
/// units of 10⁻¹², rounding half-even past 12 places.
pub fn parse_decimal(text: &[u8]) -> Result<Parsed, DecimalError> {
    let digits = parse_digits(text)?;
    let shift = digits.exponent + i64::from(SCALE);
    scale_to(digits, shift)
}

/// The digits of a decimal text: `negative`, up to 40 significant digits in `mantissa`,
/// `exponent` so that value = mantissa × 10^exponent, and whether nonzero digits were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Digits {
    negative: bool,
    mantissa: i128,
    exponent: i64,
    /// Nonzero digits that did not fit in the mantissa were dropped (only past 38 digits).
    sticky: bool,
}

fn parse_digits(text: &[u8]) -> Result<Digits, DecimalError> {
    let text = trim_ascii(text);
    match parse_short_plain(text) {
        Some(digits) => Ok(digits),
        None => parse_any_digits(text),
    }
}

/// [`parse_digits`] of any text, already trimmed.
fn parse_any_digits(text: &[u8]) -> Result<Digits, DecimalError> {
    let mut i = 0;
    if text.is_empty() {
        return Err(DecimalError::Syntax);
    }
    let mut negative = false;
    if text[0] == b'-' || text[0] == b'+' {
        negative = text[0] == b'-';
        i = 1;
    }
    let mut mantissa: i128 = 0;
    let mut exponent: i64 = 0;
    let mut seen_digit = false;
    let mut seen_point = false;
    let mut sticky = false;
    let mut significant = 0u32;
    while i < text.len() {
        let c = text[i];
        match c {
            b'0'..=b'9' => {
                seen_digit = true;
                let d = i128::from(c - b'0');
                if significant < 37 {
                    if mantissa != 0 || d != 0 {
                        significant += 1;
                    }
                    mantissa = mantissa * 10 + d;
                    if seen_point {
                        exponent -= 1;
                    }
                } else {
                    // Too many digits to hold: keep the order of magnitude, remember the loss.
                    if d != 0 {
                        sticky = true;
                    }
                    if !seen_point {
                        exponent += 1;
                    }
                }
            }
            b'.' if !seen_point => seen_point = true,
            b'e' | b'E' if seen_digit => {
                let rest = std::str::from_utf8(&text[i + 1..]).map_err(|_| DecimalError::Syntax)?;
                let e: i64 = rest.parse().map_err(|_| DecimalError::Syntax)?;
                if !(-400..=400).contains(&e) {
                    return Err(if e > 0 && mantissa != 0 {
                        DecimalError::OutOfRange
                    } else {
                        DecimalError::Syntax
                    });
                }
                exponent += e;
                break;
            }
            _ => return Err(DecimalError::Syntax),
        }
        i += 1;
    }
    if !seen_digit {
        return Err(DecimalError::Syntax);
    }
    Ok(Digits {
        negative,
        mantissa,
        exponent,
        sticky,
    })
}

/// The digits of the common cell, `[-+]digits[.digits]` with at most 18 digits, gathered in a
/// `u64` (a billing file's costs are almost all this shape); `None` for anything else, which
/// the general parser then reads (or rejects). Both give the same [`Digits`] for any text this
/// accepts.
#[inline]
fn parse_short_plain(text: &[u8]) -> Option<Digits> {
    let (negative, body) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    // 18 digits and a point at most: the mantissa stays below 10¹⁸, far inside u64.
    if body.len() > 19 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut point = None;
    for (i, &c) in body.iter().enumerate() {
        let digit = c.wrapping_sub(b'0');
        if digit < 10 {
            mantissa = mantissa * 10 + u64::from(digit);
        } else if c == b'.' && point.is_none() {
            point = Some(i);
        } else {
            return None;
        }
    }
    let fraction_digits = match point {
        Some(p) => body.len() - 1 - p,
        None => 0,
    };
    let digits = body.len() - usize::from(point.is_some());
    if digits == 0 || digits > 18 {
        return None;
    }
    Some(Digits {
        negative,
        mantissa: i128::from(mantissa),
        exponent: -(fraction_digits as i64),
        sticky: false,
    })
}

fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Turns digits into an integer of units 10^-(shift - exponent); `shift` is the power of ten
/// to multiply the mantissa by (negative: divide with half-even rounding).
fn scale_to(d: Digits, shift: i64) -> Result<Parsed, DecimalError> {
    let (mut value, rounded) = if shift >= 0 {
        if d.mantissa == 0 {
            (0, d.sticky)
        } else {
            let factor = pow10(shift).ok_or(DecimalError::OutOfRange)?;
            (
                d.mantissa
                    .checked_mul(factor)
                    .ok_or(DecimalError::OutOfRange)?,
                d.sticky,
            )
        }
    } else {
        let drop = -shift;
        if drop > 38 {
            (0, d.mantissa != 0 || d.sticky)
        } else {
            let divisor = pow10(drop).ok_or(DecimalError::OutOfRange)?;
            let q = d.mantissa / divisor;
            let r = d.mantissa % divisor;
            let half = divisor / 2;
            let round_up = r > half || (r == half && (d.sticky || q % 2 == 1));
            (q + i128::from(round_up), r != 0 || d.sticky)
        }
    };
    if value > MAX_ABS {
        return Err(DecimalError::OutOfRange);
    }
    if d.negative {
        value = -value;
    }
    Ok(Parsed { value, rounded })
}

/// `a × b` of two lake-scale values (a unit price times a quantity), rounded half-even back
/// to the lake's scale; `None` when the product leaves the lake's range (±10¹⁵).
pub fn mul(a: i128, b: i128) -> Option<i128> {
    let product = a.checked_mul(b)?;
    let quotient = product / ONE;
    let remainder = product % ONE;
    let twice = remainder.unsigned_abs() * 2;
    let half = ONE.unsigned_abs();
    let round_away = twice > half || (twice == half && quotient % 2 != 0);
    let value = if round_away {
        quotient + product.signum()
    } else {
        quotient
    };
    (value.abs() <= MAX_ABS).then_some(value)
}

/// `a × b ÷ c` of lake-scale values (a share of an amount), truncated toward zero, with a
/// 256-bit intermediate so the product never overflows; `None` when `c` is 0 or the result
/// leaves the lake's range (±10¹⁵).
pub fn mul_div(a: i128, b: i128, c: i128) -> Option<i128> {
    use arrow::datatypes::i256;
    if c == 0 {
        return None;
    }
    let value = i256::from_i128(a)
        .checked_mul(i256::from_i128(b))?
        .checked_div(i256::from_i128(c))?
        .to_i128()?;
    (value.abs() <= MAX_ABS).then_some(value)
}

/// 10⁰ … 10³⁸, every power of ten an `i128` holds.
const POWERS_OF_TEN: [i128; 39] = {
    let mut powers = [1i128; 39];
    let mut i = 1;
    while i < powers.len() {
        powers[i] = powers[i - 1] * 10;
        i += 1;
    }
    powers
};

/// 10ⁿ, `None` past what an `i128` holds (a table: this runs for every cell of a bill).
fn pow10(n: i64) -> Option<i128> {
    POWERS_OF_TEN.get(usize::try_from(n).ok()?).copied()
}

/// Formats units of 10⁻¹² as a plain decimal without trailing zeros (`"0.0000000007"`).
pub fn format_decimal(value: i128) -> String {
    format_scaled(value, SCALE as u32)
}

/// Formats an integer with `scale` implied fractional digits, without trailing zeros.
pub fn format_scaled(value: i128, scale: u32) -> String {
    let negative = value < 0;
    let abs = value.unsigned_abs();
    let divisor = 10u128.pow(scale);
    let int = abs / divisor;
    let mut frac = abs % divisor;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&int.to_string());
    if frac != 0 {
        let mut width = scale as usize;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        out.push('.');
        out.push_str(&format!("{frac:0width$}"));
    }
    out
}

/// An exact sum of decimal texts, at whatever scale the texts need (up to 30 places).
///
/// This is how Billow keeps the provider's own total: summed from the source cells' text,
/// independently of the rounded values stored in the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExactSum {
    units: i128,
    scale: u32,
    /// Values added that had more fractional digits than [`SCALE`].
    pub rounded_values: u64,
    /// Values added.
    pub count: u64,
}

/// Largest scale [`ExactSum`] keeps.
const MAX_EXACT_SCALE: u32 = 30;

/// The sum no longer fits 38 digits at its scale.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("exact sum overflowed 38 digits")]
pub struct SumOverflow;

impl ExactSum {
    /// Adds one decimal text.
    pub fn add_text(&mut self, text: &[u8]) -> Result<(), DecimalError> {
        self.add_signed_text(text, false)
    }

    /// Subtracts one decimal text.
    pub fn sub_text(&mut self, text: &[u8]) -> Result<(), DecimalError> {
        self.add_signed_text(text, true)
    }

    fn add_signed_text(&mut self, text: &[u8], negate: bool) -> Result<(), DecimalError> {
        let mut d = parse_digits(text)?;
        d.negative ^= negate;
        if d.sticky {
            return Err(DecimalError::OutOfRange);
        }
        let scale = u32::try_from(-d.exponent.min(0)).map_err(|_| DecimalError::OutOfRange)?;
        let mut units = d.mantissa;
        let mut scale = scale.min(MAX_EXACT_SCALE);
        if d.exponent > 0 {
            units = units
                .checked_mul(pow10(d.exponent).ok_or(DecimalError::OutOfRange)?)
                .ok_or(DecimalError::OutOfRange)?;
            scale = 0;
        } else if -d.exponent > i64::from(MAX_EXACT_SCALE) {
            // Below 10⁻³⁰: round to the kept scale (never seen in billing data).
            let p = scale_to(d, i64::from(MAX_EXACT_SCALE) + d.exponent)?;
            units = p.value.abs();
        }
        if d.negative {
            units = -units;
        }
        if scale > SCALE as u32 {
            self.rounded_values += 1;
        }
        self.count += 1;
        self.add_units(units, scale)
            .map_err(|_| DecimalError::OutOfRange)
    }

    /// Adds a value given as units of 10^-scale.
    pub fn add_units(&mut self, units: i128, scale: u32) -> Result<(), SumOverflow> {
        if scale > self.scale {
            let f = pow10(i64::from(scale - self.scale)).ok_or(SumOverflow)?;
            self.units = self.units.checked_mul(f).ok_or(SumOverflow)?;
            self.scale = scale;
        }
        let f = pow10(i64::from(self.scale - scale)).ok_or(SumOverflow)?;
        let v = units.checked_mul(f).ok_or(SumOverflow)?;
        self.units = self.units.checked_add(v).ok_or(SumOverflow)?;
        Ok(())
    }

    /// Adds another sum.
    pub fn merge(&mut self, other: &ExactSum) -> Result<(), SumOverflow> {
        self.add_units(other.units, other.scale)?;
        self.rounded_values += other.rounded_values;
        self.count += other.count;
        Ok(())
    }

    /// The sum with its sign flipped.
    pub fn negated(&self) -> ExactSum {
        ExactSum {
            units: -self.units,
            ..*self
        }
    }

    /// Whether the sum is exactly zero.
    pub fn is_zero(&self) -> bool {
        self.units == 0
    }

    /// |sum| in units of 10⁻¹², rounded up; `None` when it does not fit an `i128`.
    pub fn abs_lake_units_ceil(&self) -> Option<i128> {
        let abs = self.units.checked_abs()?;
        let lake_scale = SCALE as u32;
        if self.scale <= lake_scale {
            abs.checked_mul(10i128.checked_pow(lake_scale - self.scale)?)
        } else {
            let divisor = 10i128.checked_pow(self.scale - lake_scale)?;
            Some(abs / divisor + i128::from(abs % divisor != 0))
        }
    }

    /// The exact sum as plain decimal text.
    pub fn to_decimal_string(&self) -> String {
        format_scaled(self.units, self.scale)
    }

    /// The sum rounded half-even to scale 12, the lake's scale.
    pub fn at_lake_scale(&self) -> i128 {
        if self.scale <= SCALE as u32 {
            return self.units * 10i128.pow(SCALE as u32 - self.scale);
        }
        let d = Digits {
            negative: self.units < 0,
            mantissa: self.units.abs(),
            exponent: 0,
            sticky: false,
        };
        let shift = i64::from(SCALE) - i64::from(self.scale);
        scale_to(d, shift).map(|p| p.value).unwrap_or(i128::MAX)
    }

    /// Parses a sum written by [`ExactSum::to_decimal_string`].
    pub fn from_decimal_str(text: &str) -> Result<Self, DecimalError> {
        let mut s = ExactSum::default();
        s.add_text(text.as_bytes())?;
        s.count = 0;
        s.rounded_values = 0;
        Ok(s)
    }

    /// The largest difference rounding can cause between this exact sum and the sum of the
    /// same values each rounded to 12 places: half a unit of 10⁻¹² per rounded value.
    pub fn rounding_bound(&self) -> i128 {
        // In units of 10⁻¹², rounded up: n × 0.5.
        (i128::from(self.rounded_values) + 1) / 2
    }
}

impl fmt::Display for ExactSum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_truncate_and_never_overflow_in_between() {
        let v = |t: &str| parse_decimal(t.as_bytes()).unwrap().value;
        assert_eq!(mul_div(v("1.00"), v("0.75"), v("1.00")), Some(v("0.75")));
        assert_eq!(mul_div(v("1"), v("1"), v("3")), Some(v("0.333333333333")));
        assert_eq!(mul_div(v("-1"), v("1"), v("3")), Some(v("-0.333333333333")));
        // 10¹⁴ × 10¹⁴ at scale 12 is 10⁵², far past i128, before the division brings it back.
        assert_eq!(
            mul_div(
                v("100000000000000"),
                v("100000000000000"),
                v("100000000000000")
            ),
            Some(v("100000000000000"))
        );
        assert_eq!(mul_div(v("1"), v("1"), 0), None);
        assert_eq!(mul_div(v("1000000000000000"), v("10"), v("1")), None);
    }

    #[test]
    fn products_round_half_even_to_the_lake_scale() {
        let v = |t: &str| parse_decimal(t.as_bytes()).unwrap().value;
        assert_eq!(mul(v("3.25"), v("24")), Some(v("78")));
        assert_eq!(mul(v("0.000000000001"), v("0.5")), Some(0));
        assert_eq!(
            mul(v("0.000000000003"), v("0.5")),
            Some(v("0.000000000002"))
        );
        assert_eq!(
            mul(v("-0.000000000003"), v("0.5")),
            Some(v("-0.000000000002"))
        );
        assert_eq!(mul(v("0.1"), v("0.1")), Some(v("0.01")));
        assert_eq!(mul(v("999999999999999"), v("2")), None);
    }

    fn p(s: &str) -> i128 {
        parse_decimal(s.as_bytes()).unwrap().value
    }

    #[test]
    fn parses_plain_and_scientific_text_exactly() {
        assert_eq!(p("1"), ONE);
        assert_eq!(p("-0.5"), -ONE / 2);
        assert_eq!(p("7.0E-10"), 700);
        assert_eq!(p("1.5e3"), 1500 * ONE);
        assert_eq!(p("0.0000000001"), 100);
        assert_eq!(p(".25"), ONE / 4);
        assert_eq!(p(" 12 "), 12 * ONE);
        assert_eq!(p("+3"), 3 * ONE);
    }

    #[test]
    fn rounds_half_even_past_twelve_places() {
        assert_eq!(
            parse_decimal(b"0.0000000000005").unwrap(),
            Parsed {
                value: 0,
                rounded: true
            }
        );
        assert_eq!(p("0.0000000000015"), 2);
        assert_eq!(p("0.0000000000025"), 2);
        assert_eq!(p("0.00000000000250001"), 3);
        assert_eq!(p("-0.0000000000035"), -4);
        assert_eq!(p("0.123456789012345678"), 123_456_789_012);
    }

    #[test]
    fn rejects_garbage_and_out_of_range() {
        for bad in ["", "abc", "1.2.3", "--1", "1e", "e5", "12,5", "$3.11"] {
            assert_eq!(
                parse_decimal(bad.as_bytes()),
                Err(DecimalError::Syntax),
                "{bad}"
            );
        }
        assert_eq!(parse_decimal(b"1e16"), Err(DecimalError::OutOfRange));
        assert_eq!(
            parse_decimal(b"99999999999999999999"),
            Err(DecimalError::OutOfRange)
        );
        assert!(parse_decimal(b"1e15").is_ok());
    }

    #[test]
    fn the_short_path_reads_every_text_as_the_general_parser_does() {
        // Every sign, every digit count up to past the short path's limit, every place of the
        // point (and none, a trailing or a leading one), digits including zeros and nines;
        // plus shapes the short path must leave to the general parser.
        let mut texts: Vec<String> = ["-", "+", ".", "-.", "1.2.3", "1e5", "1E-3", " 1", "0x1"]
            .map(String::from)
            .to_vec();
        for sign in ["", "-", "+"] {
            for len in 1..=21usize {
                for fill in ["0", "9", "7"] {
                    let digits: String =
                        (0..len).map(|i| if i == 0 { "1" } else { fill }).collect();
                    texts.push(format!("{sign}{digits}"));
                    for point in 0..=len {
                        texts.push(format!("{sign}{}.{}", &digits[..point], &digits[point..]));
                    }
                }
            }
        }
        let mut short = 0;
        for text in &texts {
            if let Some(digits) = parse_short_plain(text.as_bytes()) {
                short += 1;
                assert_eq!(Ok(digits), parse_any_digits(text.as_bytes()), "{text}");
            }
            assert_eq!(
                parse_digits(text.as_bytes()),
                parse_any_digits(text.trim().as_bytes()),
                "{text}"
            );
        }
        // The short path takes the common cells (up to 18 digits), not only odd ones.
        assert!(short > texts.len() / 2, "{short} of {}", texts.len());
        assert!(parse_short_plain(b"999999999999999999").is_some());
        assert!(parse_short_plain(b"9999999999999999999").is_none());
        assert!(parse_short_plain(b"0.0080314543").is_some());
    }

    #[test]
    fn formats_without_trailing_zeros() {
        assert_eq!(format_decimal(0), "0");
        assert_eq!(format_decimal(-ONE / 2), "-0.5");
        assert_eq!(format_decimal(1_500_000_000_000_001), "1500.000000000001");
    }

    #[test]
    fn exact_sum_keeps_digits_beyond_lake_scale() {
        let mut s = ExactSum::default();
        for v in ["0.0827499841274349353", "7.0E-10", "-0.0000000000000000003"] {
            s.add_text(v.as_bytes()).unwrap();
        }
        assert_eq!(s.to_decimal_string(), "0.082749984827434935");
        assert_eq!(s.rounded_values, 2);
        assert_eq!(s.at_lake_scale(), 82_749_984_827);
        assert_eq!(
            ExactSum::from_decimal_str(&s.to_decimal_string())
                .unwrap()
                .to_decimal_string(),
            s.to_decimal_string()
        );
    }
}
