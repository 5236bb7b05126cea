//! Decoding and validating one tick: raw bytes in, a typed [`Tick`] or a [`Rejection`] out.
//!
//! The JSON is parsed once, borrowing from the input: each declared field's raw text is captured
//! and checked against the spec; unknown fields are skipped. A valid event costs no heap
//! allocation unless a string field holds escape sequences.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::decimal::{self, DecimalError, Fixed};
use crate::key::Key;
use crate::reject::{Reason, Rejection, quote};
use crate::spec::{FieldKind, FieldSpec, MAX_FIELDS, Spec};
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

/// Decodes ticks against a spec. Build once, use for every event.
#[derive(Debug, Clone)]
pub struct Decoder {
    fields: Vec<FieldSpec>,
    roles: crate::spec::Roles,
    max_bytes: usize,
    max_future_skew_ms: i64,
    max_past_skew_ms: i64,
}

/// A checked field value, before it is placed in the tick.
enum Value<'a> {
    Text(std::borrow::Cow<'a, str>),
    Int(i64),
    Units(i64),
    Time(i64),
    Absent,
}

impl Decoder {
    pub fn new(spec: &Spec) -> Self {
        Self {
            fields: spec.event.fields.clone(),
            roles: spec.event.roles,
            max_bytes: spec.event.max_bytes,
            max_future_skew_ms: spec.event.max_future_skew_ms,
            max_past_skew_ms: spec.event.max_past_skew_ms,
        }
    }

    /// Decodes and validates one Kafka record value. `record_time_ms` is the record's timestamp,
    /// the reference for the event-time skew check.
    pub fn decode(&self, payload: Option<&[u8]>, record_time_ms: i64) -> Result<Tick, Rejection> {
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
        let raw = parse_object(bytes, &self.fields).map_err(|e| {
            Rejection::new(Reason::Malformed, format!("not a valid JSON object: {e}"))
        })?;

        let mut key = None;
        let mut id_hash = 0;
        let (mut price_units, mut volume, mut event_time_ms) = (0, 0, 0);
        for (index, field) in self.fields.iter().enumerate() {
            let value = check_field(field, raw[index])?;
            let r = &self.roles;
            match value {
                Value::Text(text) if index == r.key => {
                    key = Some(Key::new(&text).ok_or_else(|| {
                        Rejection::new(
                            Reason::InvalidValue,
                            format!("{}: `{}` is too long for a key", field.name, quote(&text)),
                        )
                    })?);
                }
                Value::Text(text) if index == r.event_id => id_hash = fnv1a(text.as_bytes()),
                Value::Units(units) if index == r.price => price_units = units,
                Value::Int(int) if index == r.volume => volume = int,
                Value::Time(ms) if index == r.event_time => event_time_ms = ms,
                _ => {}
            }
        }
        let ahead = event_time_ms.saturating_sub(record_time_ms);
        if ahead > self.max_future_skew_ms || -ahead > self.max_past_skew_ms {
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

fn json_type(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn check_field<'a>(field: &FieldSpec, raw: Option<&'a RawValue>) -> Result<Value<'a>, Rejection> {
    let name = &field.name;
    let raw = match raw.map(RawValue::get) {
        None | Some("null") if field.required => {
            return Err(Rejection::new(
                Reason::MissingField,
                format!(
                    "{name} is required{}",
                    if raw.is_some() { " but null" } else { "" }
                ),
            ));
        }
        None | Some("null") => return Ok(Value::Absent),
        Some(raw) => raw,
    };
    let wrong_type = |want: &str| {
        Rejection::new(
            Reason::WrongType,
            format!("{name}: expected {want}, found {}", json_type(raw)),
        )
    };
    match &field.kind {
        FieldKind::String {
            min_length,
            max_length,
            pattern,
            one_of,
        } => {
            if !raw.starts_with('"') {
                return Err(wrong_type("a string"));
            }
            let text = unescape(raw).map_err(|e| {
                Rejection::new(Reason::Malformed, format!("{name}: bad string: {e}"))
            })?;
            let len = text.chars().count();
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
            let int = parse_integer(raw).map_err(|kind| match kind {
                IntError::NotInteger => wrong_type("an integer"),
                IntError::Overflow => Rejection::new(
                    Reason::OutOfRange,
                    format!("{name}: {} does not fit a 64-bit integer", quote(raw)),
                ),
            })?;
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
            if json_type(raw) != "a number" {
                return Err(wrong_type("a decimal number"));
            }
            let units = decimal::parse_units(raw, *scale).map_err(|e| match e {
                DecimalError::NotANumber => wrong_type("a decimal number"),
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
            let ms = if raw.starts_with('"') {
                let text = unescape(raw).map_err(|e| {
                    Rejection::new(Reason::Malformed, format!("{name}: bad string: {e}"))
                })?;
                parse_rfc3339_millis(&text).map_err(|why| {
                    Rejection::new(
                        Reason::InvalidValue,
                        format!("{name}: `{}`: {why}", quote(&text)),
                    )
                })?
            } else {
                parse_integer(raw).map_err(|kind| match kind {
                    IntError::NotInteger => wrong_type("an RFC 3339 string or epoch milliseconds"),
                    IntError::Overflow => Rejection::new(
                        Reason::OutOfRange,
                        format!("{name}: {} does not fit a 64-bit integer", quote(raw)),
                    ),
                })?
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

enum IntError {
    NotInteger,
    Overflow,
}

fn parse_integer(raw: &str) -> Result<i64, IntError> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IntError::NotInteger);
    }
    raw.parse().map_err(|_| IntError::Overflow)
}

/// The text of a JSON string literal, borrowed when it has no escapes.
fn unescape(raw: &str) -> Result<std::borrow::Cow<'_, str>, serde_json::Error> {
    let inner = &raw[1..raw.len() - 1];
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw).map(std::borrow::Cow::Owned)
    } else {
        Ok(std::borrow::Cow::Borrowed(inner))
    }
}

type Slots<'de> = [Option<&'de RawValue>; MAX_FIELDS];

/// Parses a JSON object, keeping the raw value of each declared field.
fn parse_object<'de>(
    bytes: &'de [u8],
    fields: &[FieldSpec],
) -> Result<Slots<'de>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let slots = ObjectSeed { fields }.deserialize(&mut de)?;
    de.end()?;
    Ok(slots)
}

struct ObjectSeed<'s> {
    fields: &'s [FieldSpec],
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = Slots<'de>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = Slots<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut slots: Slots<'de> = [None; MAX_FIELDS];
        while let Some(slot) = map.next_key_seed(KeySeed {
            fields: self.fields,
        })? {
            match slot {
                Some(i) if slots[i].is_some() => {
                    return Err(de::Error::custom(format_args!(
                        "duplicate key `{}`",
                        self.fields[i].name
                    )));
                }
                Some(i) => slots[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(slots)
    }
}

/// Maps an object key to the index of the declared field it names, if any.
struct KeySeed<'s> {
    fields: &'s [FieldSpec],
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.fields.iter().position(|f| f.name == key))
    }
}

#[cfg(test)]
mod tests;
