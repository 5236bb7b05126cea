//! Exact fixed-point money. Prices are integers of `10^-scale` units; sums and ratios are done in
//! integers and rounded half-to-even at the end, never through `f64`.

use std::fmt;

/// Why a number's text does not fit the fixed-point scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a plain decimal number (e.g. a string, `true`, an empty text).
    NotANumber,
    /// `1e3`-style notation: refused so that a price is written as it is meant.
    Exponent,
    /// More significant decimal places than the scale holds.
    TooPrecise { decimals: usize },
    /// Outside what the fixed-point integer can hold.
    Overflow,
}

const POW10: [i64; 19] = {
    let mut table = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// `10^exp` as an `i64`; `exp` is at most 18.
/// The units at `scale` of the one decimal with at most `scale` places that reads back as `f`,
/// when that is certain without writing `f` out: `f` times `10^scale` below 2^52 (so at most
/// one such decimal rounds to `f`), and that decimal, divided exactly, rounding to `f`. Then it
/// is also the value of `f`'s shortest text. `None`: decide from the text.
pub fn units_of_f64(f: f64, scale: u32) -> Option<i64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let p = *POW10.get(scale as usize)?;
    let units = (f * p).round();
    // Both exact (below 2^53), so the division rounds once, as a parse of the decimal would.
    (units.abs() < 4_503_599_627_370_496.0 && units / p == f).then_some(units as i64)
}

pub fn pow10(exp: u32) -> i64 {
    POW10[exp as usize]
}

/// Parses the text of a JSON number (`"187.25"`, `"-3"`, `"0.0001"`) into units of `10^-scale`.
///
/// Trailing zeros past the scale are accepted (`187.25000` at scale 4 is exact); any other
/// extra digit is [`DecimalError::TooPrecise`]. `scale` is at most 18.
pub fn parse_units(text: &str, scale: u32) -> Result<i64, DecimalError> {
    let bytes = text.as_bytes();
    let (negative, rest) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    let int_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if int_len == 0 {
        return Err(DecimalError::NotANumber);
    }
    let (int_digits, rest) = rest.split_at(int_len);
    let (frac_digits, rest) = match rest.first() {
        Some(b'.') => {
            let frac_len = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if frac_len == 0 {
                return Err(DecimalError::NotANumber);
            }
            rest[1..].split_at(frac_len)
        }
        _ => (&rest[..0], rest),
    };
    match rest.first() {
        None => {}
        Some(b'e' | b'E') => return Err(DecimalError::Exponent),
        Some(_) => return Err(DecimalError::NotANumber),
    }
    let significant =
        frac_digits.len() - frac_digits.iter().rev().take_while(|&&b| b == b'0').count();
    if significant > scale as usize {
        return Err(DecimalError::TooPrecise {
            decimals: significant,
        });
    }
    // Accumulate negatively so that i64::MIN-sized values and overflow are caught uniformly.
    let mut units: i64 = 0;
    let push = |units: i64, digit: u8| -> Result<i64, DecimalError> {
        units
            .checked_mul(10)
            .and_then(|u| u.checked_sub(i64::from(digit - b'0')))
            .ok_or(DecimalError::Overflow)
    };
    for &d in int_digits {
        units = push(units, d)?;
    }
    for i in 0..scale as usize {
        units = push(units, frac_digits.get(i).copied().unwrap_or(b'0'))?;
    }
    if negative {
        Ok(units)
    } else {
        units.checked_neg().ok_or(DecimalError::Overflow)
    }
}

/// An exact decimal value: `units × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fixed {
    pub units: i128,
    pub scale: u32,
}

impl Fixed {
    pub fn new(units: i128, scale: u32) -> Self {
        Self { units, scale }
    }

    /// `numerator / denominator` (both in the numerator's `scale`) rescaled to `out_scale`,
    /// rounded half to even. `None` when the denominator is zero or `out_scale < scale`.
    pub fn ratio(numerator: i128, scale: u32, denominator: i128, out_scale: u32) -> Option<Self> {
        if denominator == 0 || out_scale < scale {
            return None;
        }
        let negative = (numerator < 0) != (denominator < 0);
        let n = numerator.unsigned_abs();
        let d = denominator.unsigned_abs();
        // Long division one decimal digit at a time: the remainder stays below `d`, so nothing
        // overflows however large the numerator is.
        let mut quotient = n / d;
        let mut remainder = n % d;
        for _ in scale..out_scale {
            remainder *= 10;
            quotient = quotient * 10 + remainder / d;
            remainder %= d;
        }
        let twice = remainder * 2;
        if twice > d || (twice == d && quotient % 2 == 1) {
            quotient += 1;
        }
        let units = i128::try_from(quotient).ok()?;
        Some(Self::new(if negative { -units } else { units }, out_scale))
    }
}

impl fmt::Display for Fixed {
    /// Plain decimal notation with exactly `scale` decimals, valid as a JSON number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.units < 0 { "-" } else { "" };
        if self.scale == 0 {
            return write!(f, "{sign}{}", self.units.unsigned_abs());
        }
        // Most values fit 64 bits, where division is far cheaper than in 128.
        if let Ok(magnitude) = u64::try_from(self.units.unsigned_abs())
            && self.scale <= 18
        {
            let divisor = 10u64.pow(self.scale);
            return write!(
                f,
                "{sign}{}.{:0width$}",
                magnitude / divisor,
                magnitude % divisor,
                width = self.scale as usize
            );
        }
        let magnitude = self.units.unsigned_abs();
        let divisor = 10u128.pow(self.scale);
        write!(
            f,
            "{sign}{}.{:0width$}",
            magnitude / divisor,
            magnitude % divisor,
            width = self.scale as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_plain_decimals_exactly() {
        assert_eq!(parse_units("187.25", 4), Ok(1_872_500));
        assert_eq!(parse_units("0.0001", 4), Ok(1));
        assert_eq!(parse_units("-3", 4), Ok(-30_000));
        assert_eq!(parse_units("187.25000", 4), Ok(1_872_500));
        assert_eq!(parse_units("42", 0), Ok(42));
    }

    #[test]
    fn refuses_what_would_lose_or_hide_precision() {
        assert_eq!(
            parse_units("1.23456", 4),
            Err(DecimalError::TooPrecise { decimals: 5 })
        );
        assert_eq!(parse_units("1e3", 4), Err(DecimalError::Exponent));
        assert_eq!(parse_units("1.5E-2", 4), Err(DecimalError::Exponent));
        assert_eq!(
            parse_units("9223372036854775808", 0),
            Err(DecimalError::Overflow)
        );
        assert_eq!(
            parse_units("922337203685477.5808", 4),
            Err(DecimalError::Overflow)
        );
        assert_eq!(parse_units("-9223372036854775808", 0), Ok(i64::MIN));
        for bad in [
            "", "-", ".5", "1.", "abc", "\"1.0\"", "1.2.3", "NaN", "Infinity",
        ] {
            assert_eq!(parse_units(bad, 4), Err(DecimalError::NotANumber), "{bad}");
        }
    }

    #[test]
    fn formats_with_exactly_scale_decimals() {
        assert_eq!(Fixed::new(1_872_500, 4).to_string(), "187.2500");
        assert_eq!(Fixed::new(-5, 4).to_string(), "-0.0005");
        assert_eq!(Fixed::new(7, 0).to_string(), "7");
    }

    #[test]
    fn ratio_rounds_half_to_even() {
        // 1 / 8 = 0.125 → 0.12 at two decimals; 3 / 8 = 0.375 → 0.38.
        assert_eq!(Fixed::ratio(1, 0, 8, 2), Some(Fixed::new(12, 2)));
        assert_eq!(Fixed::ratio(3, 0, 8, 2), Some(Fixed::new(38, 2)));
        assert_eq!(Fixed::ratio(2, 0, 3, 4), Some(Fixed::new(6_667, 4)));
        assert_eq!(Fixed::ratio(-2, 0, 3, 4), Some(Fixed::new(-6_667, 4)));
        assert_eq!(Fixed::ratio(1, 0, 0, 4), None);
        assert_eq!(Fixed::ratio(1, 4, 1, 2), None);
    }

    proptest! {
        #[test]
        fn parse_inverts_display(units in -(i64::MAX / 2)..(i64::MAX / 2), scale in 0u32..=8) {
            let text = Fixed::new(i128::from(units), scale).to_string();
            prop_assert_eq!(parse_units(&text, scale), Ok(units));
        }

        #[test]
        fn ratio_is_within_half_a_unit(n in -1_000_000_000_000i128..1_000_000_000_000, d in 1i128..1_000_000, extra in 0u32..6) {
            let got = Fixed::ratio(n, 0, d, extra).unwrap();
            // |got·d − n·10^extra| ≤ d/2, in exact integers.
            let scaled = n * 10i128.pow(extra);
            let error = (got.units * d - scaled).abs();
            prop_assert!(error * 2 <= d, "n={n} d={d} got={got}");
        }
    }
}

#[cfg(test)]
mod f64_tests {
    use proptest::prelude::*;

    use super::{parse_units, units_of_f64};

    proptest! {
        /// Whenever the shortcut answers, it answers what the shortest text would.
        #[test]
        fn the_shortcut_agrees_with_the_shortest_text(units in any::<i64>(), scale in 0u32..9, bits in any::<u64>()) {
            for f in [units as f64 / 10f64.powi(scale as i32), f64::from_bits(bits), units as f64] {
                if let Some(fast) = units_of_f64(f, scale) {
                    prop_assert_eq!(Ok(fast), parse_units(&f.to_string(), scale), "{} at scale {}", f, scale);
                }
            }
        }
    }

    #[test]
    fn decimals_of_the_scale_take_the_shortcut() {
        assert_eq!(units_of_f64(187.25, 4), Some(1_872_500));
        assert_eq!(units_of_f64(0.1, 1), Some(1));
        assert_eq!(units_of_f64(-0.0001, 4), Some(-1));
        assert_eq!(
            units_of_f64(0.1 + 0.2, 4),
            None,
            "17 decimals: the text decides"
        );
        assert_eq!(units_of_f64(1e300, 0), None);
        assert_eq!(units_of_f64(f64::NAN, 2), None);
    }
}
