//! One declared field's value checked against its declaration: the same checks whatever the
//! input's format (JSON text, or the values a binary format reads).

use std::borrow::Cow;

use super::Checked;
use crate::decimal::{self, DecimalError, Fixed};
use crate::expr;
use crate::json::Json;
use crate::reject::{Reason, Rejection, quote};
use crate::spec::{FieldKind, FieldSpec, MAX_TIME_MS, MIN_TIME_MS};
use crate::time::parse_rfc3339_millis;

/// How a decimal field's value was written, for a rejection's detail.
enum Shown<'t> {
    Text(&'t str),
    Int(i64),
    Fixed(Fixed),
}

fn out_of_bounds(
    units: i64,
    lower: Option<&crate::spec::Bound>,
    upper: Option<&crate::spec::Bound>,
) -> bool {
    let below = lower.is_some_and(|b| units < b.units || (units == b.units && !b.inclusive));
    let above = upper.is_some_and(|b| units > b.units || (units == b.units && !b.inclusive));
    below || above
}

/// `units` at `from` decimals as units of `to` decimals, exactly: more significant decimals
/// than `to` are refused, as in a JSON number's text.
fn scale_units(units: i128, from: u32, to: u32) -> Result<i64, DecimalError> {
    let exact = if from <= to {
        expr::rescale_up(units, from, to).map_err(|_| DecimalError::Overflow)?
    } else {
        let d = 10_i128.pow(from - to);
        if units % d != 0 {
            let mut decimals = from as usize;
            let mut rest = units;
            while rest % 10 == 0 {
                rest /= 10;
                decimals -= 1;
            }
            return Err(DecimalError::TooPrecise { decimals });
        }
        units / d
    };
    i64::try_from(exact).map_err(|_| DecimalError::Overflow)
}

/// A number's text written on the stack: `None` when it does not fit (a double of extreme
/// magnitude, which no spec's fixed-point type holds anyway; the caller then allocates).
struct NumberText {
    buf: [u8; 48],
    len: usize,
}

impl Default for NumberText {
    fn default() -> Self {
        Self {
            buf: [0; 48],
            len: 0,
        }
    }
}

impl std::fmt::Write for NumberText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl NumberText {
    fn write(&mut self, f: f64) -> Option<&str> {
        std::fmt::Write::write_fmt(self, format_args!("{f}")).ok()?;
        std::str::from_utf8(&self.buf[..self.len]).ok()
    }
}

pub(super) fn check_field<'a>(field: &FieldSpec, json: Json<'a>) -> Result<Checked<'a>, Rejection> {
    let name = &field.name;
    if let Json::Null = json {
        return if field.required {
            Err(Rejection::new(
                Reason::MissingField,
                format!("{name} is required but null"),
            ))
        } else {
            Ok(Checked::Absent)
        };
    }
    let wrong_type = |want: &str, json: &Json<'_>| {
        Rejection::new(
            Reason::WrongType,
            format!("{name}: expected {want}, found {}", json.type_name()),
        )
    };
    let integer = |json: Json<'a>, want: &str| match json {
        Json::Int(v) => Ok(v),
        // A Protobuf uint64 beyond i64's range.
        Json::Units(units, 0) => i64::try_from(units).map_err(|_| {
            Rejection::new(
                Reason::OutOfRange,
                format!("{name}: {units} does not fit a 64-bit integer"),
            )
        }),
        Json::Num(text) if !text.contains(['.', 'e', 'E']) => text.parse::<i64>().map_err(|_| {
            Rejection::new(
                Reason::OutOfRange,
                format!("{name}: {} does not fit a 64-bit integer", quote(text)),
            )
        }),
        other => Err(wrong_type(want, &other)),
    };
    match &field.kind {
        FieldKind::String {
            min_length,
            max_length,
            pattern,
            one_of,
        } => {
            let Json::Str(text) = json else {
                return Err(wrong_type("a string", &json));
            };
            let len = if text.is_ascii() {
                text.len()
            } else {
                text.chars().count()
            };
            if len < *min_length || len > *max_length {
                return Err(Rejection::new(
                    Reason::InvalidValue,
                    format!(
                        "{name}: `{}` has {len} characters; expected {min_length} to {max_length}",
                        quote(&text)
                    ),
                ));
            }
            if let Some(re) = pattern
                && !re.is_match(&text)
            {
                return Err(Rejection::new(
                    Reason::InvalidValue,
                    format!("{name}: `{}` does not match {}", quote(&text), re.as_str()),
                ));
            }
            if let Some(allowed) = one_of
                && !allowed.iter().any(|a| *a == text)
            {
                return Err(Rejection::new(
                    Reason::InvalidValue,
                    format!(
                        "{name}: `{}` is not one of {}",
                        quote(&text),
                        allowed.join(", ")
                    ),
                ));
            }
            Ok(Checked::Text(text))
        }
        FieldKind::Integer { min, max } => {
            let int = integer(json, "an integer")?;
            if int < *min || int > *max {
                return Err(Rejection::new(
                    Reason::OutOfRange,
                    format!("{name}: {int} is outside {min} to {max}"),
                ));
            }
            Ok(Checked::Number(int))
        }
        FieldKind::Boolean => match json {
            Json::Bool(b) => Ok(Checked::Number(i64::from(b))),
            other => Err(wrong_type("true or false", &other)),
        },
        FieldKind::Decimal {
            scale,
            lower,
            upper,
        } => {
            // A binary format's integer or decimal is scaled exactly; a double is read as the
            // shortest text that reads back as it (Rust's `Display`), as JSON's text would be.
            let mut float_text = NumberText::default();
            let owned;
            let (parsed, shown) = match json {
                Json::Num(raw) => (decimal::parse_units(raw, *scale), Shown::Text(raw)),
                Json::Int(v) => (scale_units(i128::from(v), 0, *scale), Shown::Int(v)),
                Json::Units(units, s) => (
                    scale_units(units, s, *scale),
                    Shown::Fixed(Fixed::new(units, s)),
                ),
                Json::Float(f) if !f.is_finite() => {
                    return Err(Rejection::new(
                        Reason::InvalidValue,
                        format!("{name}: {f} is not a finite number"),
                    ));
                }
                // Most doubles carry a decimal of the field's scale: no text needed.
                Json::Float(f) if let Some(units) = decimal::units_of_f64(f, *scale) => (
                    Ok(units),
                    Shown::Fixed(Fixed::new(i128::from(units), *scale)),
                ),
                Json::Float(f) => {
                    let text = match float_text.write(f) {
                        Some(text) => text,
                        None => {
                            owned = f.to_string();
                            &owned
                        }
                    };
                    (decimal::parse_units(text, *scale), Shown::Text(text))
                }
                other => return Err(wrong_type("a decimal number", &other)),
            };
            // Written out only for a rejection's detail.
            let raw = &*match shown {
                _ if parsed
                    .as_ref()
                    .is_ok_and(|units| !out_of_bounds(*units, lower.as_ref(), upper.as_ref())) =>
                {
                    Cow::Borrowed("")
                }
                Shown::Text(text) => Cow::Borrowed(text),
                Shown::Int(v) => Cow::Owned(v.to_string()),
                Shown::Fixed(f) => Cow::Owned(f.to_string()),
            };
            let units = parsed.map_err(|e| match e {
                DecimalError::NotANumber => wrong_type("a decimal number", &Json::Num(raw)),
                DecimalError::Exponent => Rejection::new(
                    Reason::InvalidValue,
                    format!(
                        "{name}: {} uses exponent notation; write plain decimals",
                        quote(raw)
                    ),
                ),
                DecimalError::TooPrecise { decimals } => Rejection::new(
                    Reason::InvalidValue,
                    format!(
                        "{name}: {} has {decimals} decimal places; the spec allows {scale}",
                        quote(raw)
                    ),
                ),
                DecimalError::Overflow => Rejection::new(
                    Reason::OutOfRange,
                    format!(
                        "{name}: {} is too large for the fixed-point type",
                        quote(raw)
                    ),
                ),
            })?;
            if out_of_bounds(units, lower.as_ref(), upper.as_ref()) {
                let show = |b: &Option<crate::spec::Bound>, incl: &str, excl: &str| {
                    b.map(|b| {
                        format!(
                            "{}{}",
                            if b.inclusive { incl } else { excl },
                            Fixed::new(i128::from(b.units), *scale)
                        )
                    })
                };
                let range: Vec<String> = [show(lower, "≥ ", "> "), show(upper, "≤ ", "< ")]
                    .into_iter()
                    .flatten()
                    .collect();
                return Err(Rejection::new(
                    Reason::OutOfRange,
                    format!(
                        "{name}: {} is outside the range {}",
                        quote(raw),
                        range.join(" and ")
                    ),
                ));
            }
            Ok(Checked::Number(units))
        }
        FieldKind::Timestamp => {
            let ms = match json {
                Json::Str(text) => parse_rfc3339_millis(&text).map_err(|why| {
                    Rejection::new(
                        Reason::InvalidValue,
                        format!("{name}: `{}`: {why}", quote(&text)),
                    )
                })?,
                Json::Time(ms) => ms,
                other => integer(other, "an RFC 3339 string or epoch milliseconds")?,
            };
            if !(MIN_TIME_MS..=MAX_TIME_MS).contains(&ms) {
                return Err(Rejection::new(
                    Reason::OutOfRange,
                    format!("{name}: {ms} ms is outside the years 0001 to 9999"),
                ));
            }
            Ok(Checked::Number(ms))
        }
    }
}
