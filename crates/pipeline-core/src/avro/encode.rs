//! Writing Avro from the spec: the schema the spec implies, and events (as the generator writes
//! them, in JSON) encoded with it through `apache-avro`. For producers: the producer Lambda, the
//! local run and the tests. Not on the processor's path.

use apache_avro::Schema;
use apache_avro::types::Value;

use crate::decimal;
use crate::spec::{FieldKind, FieldSpec, Spec};
use crate::time::parse_rfc3339_millis;

/// The decimal precision the spec's schema declares: every 64-bit unit count fits it.
const DECIMAL_PRECISION: u32 = 19;

/// The Avro schema of a spec's events, and a writer for it.
#[derive(Debug, Clone)]
pub struct Encoder {
    text: String,
    schema: Schema,
    fields: Vec<FieldSpec>,
}

impl Encoder {
    /// The schema the spec implies: a record named after the pipeline, one field per declared
    /// field, in order. Strings are `string`, integers `long`, decimals `decimal` (bytes) at
    /// the field's scale, timestamps `timestamp-millis`, booleans `boolean`; a field that is
    /// not required is a union with `null` (default `null`).
    pub fn for_spec(spec: &Spec) -> Result<Self, String> {
        Self::with_fields(spec, &spec.event.fields)
    }

    /// An encoder of only `fields` (for tests of schema evolution: a writer that lacks some
    /// of the spec's fields).
    pub fn with_fields(spec: &Spec, fields: &[FieldSpec]) -> Result<Self, String> {
        let name: String = spec
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let fields_json: Vec<serde_json::Value> = fields
            .iter()
            .map(|f| {
                let ty = match f.kind {
                    FieldKind::String { .. } => serde_json::json!("string"),
                    FieldKind::Integer { .. } => serde_json::json!("long"),
                    FieldKind::Boolean => serde_json::json!("boolean"),
                    FieldKind::Timestamp => {
                        serde_json::json!({"type": "long", "logicalType": "timestamp-millis"})
                    }
                    FieldKind::Decimal { scale, .. } => serde_json::json!({
                        "type": "bytes", "logicalType": "decimal",
                        "precision": DECIMAL_PRECISION, "scale": scale
                    }),
                };
                if f.required {
                    serde_json::json!({"name": f.name, "type": ty})
                } else {
                    serde_json::json!({"name": f.name, "type": ["null", ty], "default": null})
                }
            })
            .collect();
        let text = serde_json::json!({
            "type": "record",
            "name": name,
            "namespace": "pipeline",
            "fields": fields_json,
        })
        .to_string();
        let schema = Schema::parse_str(&text).map_err(|e| e.to_string())?;
        Ok(Self {
            text,
            schema,
            fields: fields.to_vec(),
        })
    }

    /// The schema's JSON text, as registered.
    pub fn schema_text(&self) -> &str {
        &self.text
    }

    /// Encodes one JSON event as an Avro body (no wire-format header). Fails when a value
    /// cannot be written in the schema (a deliberately broken generated event, say): the
    /// caller decides what to send instead.
    pub fn encode_json(&self, json: &[u8]) -> Result<Vec<u8>, String> {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(json).map_err(|e| format!("not a JSON object: {e}"))?;
        let mut record = Vec::with_capacity(self.fields.len());
        for field in &self.fields {
            let value = match object.get(&field.name) {
                None | Some(serde_json::Value::Null) => None,
                Some(v) => Some(convert(field, v)?),
            };
            let value = match (value, field.required) {
                (Some(v), true) => v,
                (None, true) => return Err(format!("{} is required", field.name)),
                (Some(v), false) => Value::Union(1, Box::new(v)),
                (None, false) => Value::Union(0, Box::new(Value::Null)),
            };
            record.push((field.name.clone(), value));
        }
        apache_avro::to_avro_datum(&self.schema, Value::Record(record)).map_err(|e| e.to_string())
    }
}

fn convert(field: &FieldSpec, value: &serde_json::Value) -> Result<Value, String> {
    let name = &field.name;
    let wrong = || format!("{name}: {value} does not fit the field's Avro type");
    Ok(match (&field.kind, value) {
        (FieldKind::String { .. }, serde_json::Value::String(s)) => Value::String(s.clone()),
        (FieldKind::Integer { .. }, serde_json::Value::Number(n)) => {
            Value::Long(n.as_i64().ok_or_else(wrong)?)
        }
        (FieldKind::Boolean, serde_json::Value::Bool(b)) => Value::Boolean(*b),
        (FieldKind::Timestamp, serde_json::Value::String(s)) => {
            Value::TimestampMillis(parse_rfc3339_millis(s).map_err(|_| wrong())?)
        }
        (FieldKind::Timestamp, serde_json::Value::Number(n)) => {
            Value::TimestampMillis(n.as_i64().ok_or_else(wrong)?)
        }
        (FieldKind::Decimal { scale, .. }, serde_json::Value::Number(n)) => {
            let units = decimal::parse_units(&n.to_string(), *scale).map_err(|_| wrong())?;
            Value::Decimal(apache_avro::Decimal::from(minimal_bytes(units)))
        }
        _ => return Err(wrong()),
    })
}

/// The shortest big-endian two's complement of `units`.
fn minimal_bytes(units: i64) -> Vec<u8> {
    let bytes = units.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        let redundant = (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes[start..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::minimal_bytes;

    #[test]
    fn decimal_bytes_are_minimal_twos_complement() {
        assert_eq!(minimal_bytes(0), [0]);
        assert_eq!(minimal_bytes(127), [0x7f]);
        assert_eq!(minimal_bytes(128), [0x00, 0x80]);
        assert_eq!(minimal_bytes(-1), [0xff]);
        assert_eq!(minimal_bytes(-128), [0x80]);
        assert_eq!(minimal_bytes(-129), [0xff, 0x7f]);
        assert_eq!(minimal_bytes(i64::MIN).len(), 8);
    }
}
