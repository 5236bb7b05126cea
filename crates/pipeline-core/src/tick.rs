//! Decoding and validating one tick: raw bytes in, a typed [`Tick`] or a [`Rejection`] out.
//!
//! The JSON is parsed once, borrowing from the input: each declared field's raw text is captured
//! and checked against the spec; unknown fields are skipped. A valid event costs no heap
//! allocation unless a string field holds escape sequences.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::decimal::{self, DecimalError, Fixed};
use crate::key::Key;
use crate::reject::{Reason, Rejection, quote};
use crate::spec::{FieldKind, FieldSpec, Spec};
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
    Text(Cow<'a, str>),
    Int(i64),
    Units(i64),
    Time(i64),
    Absent,
}

/// A field's JSON value as the parser handed it over.
enum Json<'de> {
    Str(Cow<'de, str>),
    Int(i64),
    /// An integer above `i64::MAX`.
    BigInt,
    Float(f64),
    Bool,
    Null,
    Object,
    Array,
    /// The raw text of a decimal field's value, to parse exactly.
    Raw(&'de str),
}

impl Json<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Json::Str(_) => "a string",
            Json::Int(_) | Json::BigInt | Json::Float(_) => "a number",
            Json::Bool => "a boolean",
            Json::Null => "null",
            Json::Object => "an object",
            Json::Array => "an array",
            Json::Raw(raw) => json_type(raw),
        }
    }
}

/// The tick being decoded: filled in field by field as the parser meets them.
#[derive(Default)]
struct Builder {
    /// Bit `i` set: field `i` appeared (possibly as null) / with a value.
    seen: u32,
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
        let mut builder = Builder::default();
        let mut de = serde_json::Deserializer::from_slice(bytes);
        FieldsSeed {
            decoder: self,
            builder: &mut builder,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| Rejection::new(Reason::Malformed, format!("not a valid JSON object: {e}")))?;
        if let Some(rejection) = builder.first_error {
            return Err(rejection);
        }
        for (index, field) in self.fields.iter().enumerate() {
            if field.required && builder.present & (1 << index) == 0 {
                let null = builder.seen & (1 << index) != 0;
                return Err(Rejection::new(
                    Reason::MissingField,
                    format!(
                        "{} is required{}",
                        field.name,
                        if null { " but null" } else { "" }
                    ),
                ));
            }
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
        Json::Int(i) => Ok(i),
        Json::BigInt => Err(Rejection::new(
            Reason::OutOfRange,
            format!("{name}: the value does not fit a 64-bit integer"),
        )),
        Json::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() >= 9.2e18 => {
            Err(Rejection::new(
                Reason::OutOfRange,
                format!("{name}: {f:e} does not fit a 64-bit integer"),
            ))
        }
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
                Json::Raw(raw) if json_type(raw) == "a number" => raw,
                other => return Err(wrong_type("a decimal number", &other)),
            };
            let units = decimal::parse_units(raw, *scale).map_err(|e| match e {
                DecimalError::NotANumber => wrong_type("a decimal number", &Json::Raw(raw)),
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

/// Reads the top-level object, checking each declared field as it goes.
struct FieldsSeed<'d, 'b> {
    decoder: &'d Decoder,
    builder: &'b mut Builder,
}

impl<'de> DeserializeSeed<'de> for FieldsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let fields = &self.decoder.fields;
        let b = self.builder;
        while let Some(slot) = map.next_key_seed(KeySeed { fields })? {
            let Some(i) = slot else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if b.seen & (1 << i) != 0 {
                return Err(de::Error::custom(format_args!(
                    "duplicate key `{}`",
                    fields[i].name
                )));
            }
            b.seen |= 1 << i;
            let json = match fields[i].kind {
                FieldKind::Decimal { .. } => match map.next_value::<&RawValue>()?.get() {
                    "null" => Json::Null,
                    raw => Json::Raw(raw),
                },
                _ => map.next_value_seed(AnyJson)?,
            };
            if b.first_error.is_some() {
                continue;
            }
            let r = &self.decoder.roles;
            match check_field(&fields[i], json) {
                Err(rejection) => b.first_error = Some(rejection),
                Ok(Value::Absent) => {}
                Ok(value) => {
                    b.present |= 1 << i;
                    match value {
                        Value::Text(text) if i == r.key => match Key::new(&text) {
                            Some(key) => b.key = Some(key),
                            None => {
                                b.first_error = Some(Rejection::new(
                                    Reason::InvalidValue,
                                    format!(
                                        "{}: `{}` is too long for a key",
                                        fields[i].name,
                                        quote(&text)
                                    ),
                                ));
                            }
                        },
                        Value::Text(text) if i == r.event_id => b.id_hash = fnv1a(text.as_bytes()),
                        Value::Units(units) if i == r.price => b.price_units = units,
                        Value::Int(int) if i == r.volume => b.volume = int,
                        Value::Time(ms) if i == r.event_time => b.event_time_ms = ms,
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

/// Any JSON value, borrowing strings where the input allows.
struct AnyJson;

impl<'de> DeserializeSeed<'de> for AnyJson {
    type Value = Json<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Json<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnyJson {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(i64::try_from(v).map_or(Json::BigInt, Json::Int))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(Json::Float(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Json::Object)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Json::Array)
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
