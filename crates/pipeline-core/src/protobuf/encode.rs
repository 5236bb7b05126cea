//! Writing Protobuf from the spec: the `.proto` schema the spec implies, and events (as the
//! generator writes them, in JSON) encoded with it through `prost-reflect`, behind the message
//! index each wire format puts first. For producers: the producer Lambda, the local run and
//! the tests. Not on the processor's path.

use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, Value};

use super::{SCHEMA_FILE, confluent_path, descriptor_pool, glue_index};
use crate::decimal;
use crate::spec::{FieldKind, FieldSpec, Spec};
use crate::time::parse_rfc3339_millis;
use crate::wire::Wire;

/// The Protobuf schema of a spec's events, and a writer for it.
#[derive(Debug, Clone)]
pub struct ProtoEncoder {
    text: String,
    message: MessageDescriptor,
    glue_index: u64,
    confluent_path: Vec<u64>,
    fields: Vec<FieldSpec>,
}

impl ProtoEncoder {
    /// The schema the spec implies: proto3, one message (the spec's `input.message`, or
    /// `pipeline.<the pipeline's name>`) with one `optional` field per declared field, numbered in order (so an absent
    /// field is absent, not zero). Strings are `string`, integers `int64`, decimals `double`
    /// (exact for values of up to 15 significant digits), timestamps `int64` epoch
    /// milliseconds (no import: AWS's Glue serializers do not resolve them), booleans `bool`.
    pub fn for_spec(spec: &Spec) -> Result<Self, String> {
        Self::with_fields(spec, &spec.event.fields)
    }

    /// An encoder of only `fields` (for tests of schema evolution).
    pub fn with_fields(spec: &Spec, fields: &[FieldSpec]) -> Result<Self, String> {
        let named = spec
            .input
            .registry()
            .and_then(|r| r.message.as_deref())
            .map(|full| full.rsplit_once('.').unwrap_or(("", full)));
        let (package, name) = match named {
            Some((package, name)) => (package.to_owned(), name.to_owned()),
            None => {
                let mut name: String = spec
                    .name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
                    name.insert(0, 'E');
                }
                ("pipeline".to_owned(), name)
            }
        };
        let mut text = "syntax = \"proto3\";\n\n".to_owned();
        if !package.is_empty() {
            text.push_str(&format!("package {package};\n\n"));
        }
        text.push_str(&format!("message {name} {{\n"));
        for (i, field) in fields.iter().enumerate() {
            let ty = match field.kind {
                FieldKind::String { .. } => "string",
                FieldKind::Integer { .. } | FieldKind::Timestamp => "int64",
                FieldKind::Decimal { .. } => "double",
                FieldKind::Boolean => "bool",
            };
            text.push_str(&format!("  optional {ty} {} = {};\n", field.name, i + 1));
        }
        text.push_str("}\n");
        let pool = descriptor_pool(&text)?;
        let message = pool
            .get_message_by_name(&if package.is_empty() {
                name.clone()
            } else {
                format!("{package}.{name}")
            })
            .ok_or("the generated schema lost its message")?;
        let file = pool
            .get_file_by_name(SCHEMA_FILE)
            .ok_or("the generated schema compiled to no file")?;
        Ok(Self {
            glue_index: glue_index(&file, &message),
            confluent_path: confluent_path(&file, &message),
            text,
            message,
            fields: fields.to_vec(),
        })
    }

    /// The schema's `.proto` text, as registered.
    pub fn schema_text(&self) -> &str {
        &self.text
    }

    /// The message type's full name (`pipeline.<name>`).
    pub fn message_name(&self) -> &str {
        self.message.full_name()
    }

    /// Encodes one JSON event as a body for `wire`: the message index, then the message (no
    /// header). Fails when a value cannot be written in the schema.
    pub fn encode_json(&self, json: &[u8], wire: Wire) -> Result<Vec<u8>, String> {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(json).map_err(|e| format!("not a JSON object: {e}"))?;
        let mut message = DynamicMessage::new(self.message.clone());
        for field in &self.fields {
            match object.get(&field.name) {
                None | Some(serde_json::Value::Null) => {}
                Some(v) => message.set_field_by_name(&field.name, convert(field, v)?),
            }
        }
        let mut out = index_prefix(wire, self.glue_index, &self.confluent_path);
        message
            .encode(&mut out)
            .map_err(|e| format!("cannot encode: {e}"))?;
        Ok(out)
    }
}

/// The bytes that name a message type in `wire`'s framing.
pub(crate) fn index_prefix(wire: Wire, glue_index: u64, confluent_path: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    match wire {
        Wire::Glue => prost::encoding::encode_varint(glue_index, &mut out),
        Wire::Confluent if confluent_path == [0] => out.push(0),
        Wire::Confluent => {
            let zigzag = |v: i64| ((v << 1) ^ (v >> 63)) as u64;
            prost::encoding::encode_varint(zigzag(confluent_path.len() as i64), &mut out);
            for &i in confluent_path {
                prost::encoding::encode_varint(zigzag(i as i64), &mut out);
            }
        }
    }
    out
}

fn convert(field: &FieldSpec, value: &serde_json::Value) -> Result<Value, String> {
    let name = &field.name;
    let wrong = || format!("{name}: {value} does not fit the field's Protobuf type");
    Ok(match (&field.kind, value) {
        (FieldKind::String { .. }, serde_json::Value::String(s)) => Value::String(s.clone()),
        (FieldKind::Integer { .. }, serde_json::Value::Number(n)) => {
            Value::I64(n.as_i64().ok_or_else(wrong)?)
        }
        (FieldKind::Boolean, serde_json::Value::Bool(b)) => Value::Bool(*b),
        (FieldKind::Timestamp, serde_json::Value::String(s)) => {
            Value::I64(parse_rfc3339_millis(s).map_err(|_| wrong())?)
        }
        (FieldKind::Timestamp, serde_json::Value::Number(n)) => {
            Value::I64(n.as_i64().ok_or_else(wrong)?)
        }
        (FieldKind::Decimal { scale, .. }, serde_json::Value::Number(n)) => {
            // Through the exact units, then Rust's correctly rounded parse: the nearest double.
            let units = decimal::parse_units(&n.to_string(), *scale).map_err(|_| wrong())?;
            Value::F64(format!("{units}e-{scale}").parse().map_err(|_| wrong())?)
        }
        _ => return Err(wrong()),
    })
}
