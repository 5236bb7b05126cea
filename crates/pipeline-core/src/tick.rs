//! Decoding and validating one tick: raw bytes in, a typed [`Tick`] or a [`Rejection`] out.
//!
//! The payload is scanned once (see `json`), borrowing from the input: each declared field is
//! checked against the spec as the scanner meets it; undeclared fields are skipped. A valid
//! event costs no heap allocation unless a string field holds escape sequences.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::decimal::{self, DecimalError, Fixed};
use crate::json::{Json, Scanner};
use crate::key::Key;
use crate::reject::{Reason, Rejection, quote};
use crate::spec::{FieldKind, FieldSpec, Roles, Spec};
use crate::time::parse_rfc3339_millis;

/// Earliest and latest event time accepted at all (years 0001–9999), in epoch milliseconds.
const MIN_TIME_MS: i64 = -62_135_596_800_000;
const MAX_TIME_MS: i64 = 253_402_300_799_999;

/// What the core keeps of a valid event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// The key field (the ticker): the Kafka key and the window key.
    pub key: Key,
    /// A stable 64-bit hash of the event id (FNV-1a), the tie-break between events in the same
    /// millisecond.
    pub id_hash: u64,
    /// Price in units of `10^-scale` of the price field.
    pub price_units: i64,
    pub volume: i64,
    pub event_time_ms: i64,
}

/// Decodes ticks against a spec. Build one per partition (it remembers recent keys).
#[derive(Debug, Clone)]
pub struct Decoder {
    fields: Vec<FieldSpec>,
    /// Keys that passed every check of the key field, so that a repeating key skips its regex.
    /// Bounded: emptied when it reaches [`MEMO_CAPACITY`].
    memo: HashSet<Key, foldhash::fast::RandomState>,
    roles: Roles,
    max_bytes: usize,
    max_future_skew_ms: i64,
    max_past_skew_ms: i64,
}

const MEMO_CAPACITY: usize = 16_384;

/// A checked field value, before it is placed in the tick.
enum Value<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    Units(i64),
    Time(i64),
    Absent,
}

/// The tick being decoded: filled in field by field as the parser meets them.
#[derive(Default)]
struct Builder {
    /// Bit `i` set: field `i` appeared (possibly as null).
    seen: u32,
    /// Bit `i` set: field `i` had a value (not null).
    present: u32,
    key: Option<Key>,
    id_hash: u64,
    price_units: i64,
    volume: i64,
    event_time_ms: i64,
    /// The first field that failed its check; decoding reads on so that broken JSON later in
    /// the record still counts as malformed.
    first_error: Option<Rejection>,
}

impl Builder {
    /// Checks field `i`'s value and places it in the tick; the first failure is kept.
    fn take(
        &mut self,
        i: usize,
        json: Json<'_>,
        field: &FieldSpec,
        roles: &Roles,
        memo: &mut HashSet<Key, foldhash::fast::RandomState>,
    ) {
        if let Json::Str(text) = &json
            && i == roles.key
            && let Some(key) = Key::new(text).filter(|k| memo.contains(k))
        {
            self.present |= 1 << i;
            self.key = Some(key);
            return;
        }
        let value = match check_field(field, json) {
            Err(rejection) => {
                self.first_error = Some(rejection);
                return;
            }
            Ok(Value::Absent) => return,
            Ok(value) => value,
        };
        self.present |= 1 << i;
        match value {
            Value::Text(text) if i == roles.key => match Key::new(&text) {
                Some(key) => {
                    self.key = Some(key);
                    if memo.len() >= MEMO_CAPACITY {
                        memo.clear();
                    }
                    memo.insert(key);
                }
                None => {
                    self.first_error = Some(Rejection::new(
                        Reason::InvalidValue,
                        format!("{}: `{}` is too long for a key", field.name, quote(&text)),
                    ));
                }
            },
            Value::Text(text) if i == roles.event_id => self.id_hash = fnv1a(text.as_bytes()),
            Value::Units(units) if i == roles.price => self.price_units = units,
            Value::Int(int) if i == roles.volume => self.volume = int,
            Value::Time(ms) if i == roles.event_time => self.event_time_ms = ms,
            _ => {}
        }
    }
}

impl Decoder {
    pub fn new(spec: &Spec) -> Self {
        Self {
            fields: spec.event.fields.clone(),
            memo: HashSet::default(),
            roles: spec.event.roles,
            max_bytes: spec.event.max_bytes,
            max_future_skew_ms: spec.event.max_future_skew_ms,
            max_past_skew_ms: spec.event.max_past_skew_ms,
        }
    }

    /// Decodes and validates one Kafka record value. `record_time_ms` is the record's timestamp,
    /// the reference for the event-time skew check.
    pub fn decode(
        &mut self,
        payload: Option<&[u8]>,
        record_time_ms: i64,
    ) -> Result<Tick, Rejection> {
        let bytes = match payload {
            None => return Err(Rejection::new(Reason::Empty, "the record has a null value")),
            Some([]) => return Err(Rejection::new(Reason::Empty, "the record value is empty")),
            Some(b) => b,
        };
        if bytes.len() > self.max_bytes {
            return Err(Rejection::new(
                Reason::TooLarge,
                format!("{} bytes; the spec allows {}", bytes.len(), self.max_bytes),
            ));
        }
        let mut builder = Builder::default();
        let Decoder {
            fields,
            memo,
            roles,
            ..
        } = self;
        Scanner::new(bytes)
            .and_then(|mut scanner| {
                scanner.object(
                    |name| fields.iter().position(|f| f.name.as_bytes() == name),
                    |i, scanner| {
                        if builder.seen & (1 << i) != 0 {
                            return Err(format!("duplicate key `{}`", fields[i].name));
                        }
                        builder.seen |= 1 << i;
                        let json = scanner.value()?;
                        if builder.first_error.is_none() {
                            builder.take(i, json, &fields[i], roles, memo);
                        }
                        Ok(())
                    },
                )
            })
            .map_err(|e| {
                Rejection::new(Reason::Malformed, format!("not a valid JSON object: {e}"))
            })?;
        if let Some(rejection) = builder.first_error {
            return Err(rejection);
        }
        // A required field that was null has been reported already; these were absent.
        if let Some(field) = (self.fields.iter().enumerate())
            .find(|(i, f)| f.required && builder.present & (1 << i) == 0)
            .map(|(_, f)| f)
        {
            return Err(Rejection::new(
                Reason::MissingField,
                format!("{} is required", field.name),
            ));
        }
        let Builder {
            key,
            id_hash,
            price_units,
            volume,
            event_time_ms,
            ..
        } = builder;
        let ahead = event_time_ms.saturating_sub(record_time_ms);
        if ahead > self.max_future_skew_ms || ahead < -self.max_past_skew_ms {
            let name = &self.fields[self.roles.event_time].name;
            let (dir, limit) = if ahead > 0 {
                ("ahead of", self.max_future_skew_ms)
            } else {
                ("behind", self.max_past_skew_ms)
            };
            return Err(Rejection::new(
                Reason::TimeSkew,
                format!(
                    "{name} is {} {dir} the record timestamp; the spec allows {}",
                    crate::duration::format_millis(ahead.saturating_abs()),
                    crate::duration::format_millis(limit)
                ),
            ));
        }
        Ok(Tick {
            // The key is a required field, so it was set or we returned missing_field above.
            key: key.ok_or_else(|| Rejection::new(Reason::MissingField, "key field missing"))?,
            id_hash,
            price_units,
            volume,
            event_time_ms,
        })
    }
}

/// FNV-1a, 64-bit: stable across runs and machines, unlike the std hasher.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn check_field<'a>(field: &FieldSpec, json: Json<'a>) -> Result<Value<'a>, Rejection> {
    let name = &field.name;
    if let Json::Null = json {
        return if field.required {
            Err(Rejection::new(
                Reason::MissingField,
                format!("{name} is required but null"),
            ))
        } else {
            Ok(Value::Absent)
        };
    }
    let wrong_type = |want: &str, json: &Json<'_>| {
        Rejection::new(
            Reason::WrongType,
            format!("{name}: expected {want}, found {}", json.type_name()),
        )
    };
    let integer = |json: Json<'a>, want: &str| match json {
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
            Ok(Value::Text(text))
        }
        FieldKind::Integer { min, max } => {
            let int = integer(json, "an integer")?;
            if int < *min || int > *max {
                return Err(Rejection::new(
                    Reason::OutOfRange,
                    format!("{name}: {int} is outside {min} to {max}"),
                ));
            }
            Ok(Value::Int(int))
        }
        FieldKind::Decimal {
            scale,
            lower,
            upper,
        } => {
            let raw = match json {
                Json::Num(raw) => raw,
                other => return Err(wrong_type("a decimal number", &other)),
            };
            let units = decimal::parse_units(raw, *scale).map_err(|e| match e {
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
            let below =
                lower.is_some_and(|b| units < b.units || (units == b.units && !b.inclusive));
            let above =
                upper.is_some_and(|b| units > b.units || (units == b.units && !b.inclusive));
            if below || above {
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
            Ok(Value::Units(units))
        }
        FieldKind::Timestamp => {
            let ms = match json {
                Json::Str(text) => parse_rfc3339_millis(&text).map_err(|why| {
                    Rejection::new(
                        Reason::InvalidValue,
                        format!("{name}: `{}`: {why}", quote(&text)),
                    )
                })?,
                other => integer(other, "an RFC 3339 string or epoch milliseconds")?,
            };
            if !(MIN_TIME_MS..=MAX_TIME_MS).contains(&ms) {
                return Err(Rejection::new(
                    Reason::OutOfRange,
                    format!("{name}: {ms} ms is outside the years 0001 to 9999"),
                ));
            }
            Ok(Value::Time(ms))
        }
    }
}

#[cfg(test)]
mod tests;
