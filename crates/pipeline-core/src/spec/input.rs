//! `[input]`: how the input topic's records are encoded. JSON by default; Avro or Protobuf
//! behind a schema registry's wire format (`[input.glue]` or `[input.confluent]`).

use serde::Deserialize;

use super::Problems;
use super::raw::Extra;
use crate::wire::Wire;

/// How the input's records are encoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// One JSON object per record (the default).
    #[default]
    Json,
    /// Avro or Protobuf, framed by a registry's wire format naming the writer's schema
    /// version.
    Registry(RegistrySpec),
}

impl InputFormat {
    /// The registry input, if the records are framed for one.
    pub fn registry(&self) -> Option<&RegistrySpec> {
        match self {
            InputFormat::Json => None,
            InputFormat::Registry(r) => Some(r),
        }
    }
}

/// What a registry's schemas describe, and so how a record's body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Avro,
    Protobuf,
}

impl SchemaType {
    /// As the spec's `input.format` names it.
    pub const fn name(self) -> &'static str {
        match self {
            SchemaType::Avro => "avro",
            SchemaType::Protobuf => "protobuf",
        }
    }

    /// As the registries name it (Glue's `DataFormat`, Confluent's `schemaType`).
    pub const fn registry_name(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }
}

/// Where the schemas live, what they describe, and which version the processor checks the
/// spec against at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySpec {
    pub schema_type: SchemaType,
    /// Protobuf: the full name of the event's message type (`package.Message`). `None`: the
    /// schema's only top-level message.
    pub message: Option<String>,
    pub registry: Registry,
    pub version: SchemaVersion,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registry {
    /// The AWS Glue Schema Registry: a registry and a schema in it.
    Glue { registry: String, schema: String },
    /// A Confluent-compatible registry: its URL (a flag or environment variable may override
    /// it per environment) and the subject.
    Confluent { url: String, subject: String },
}

impl Registry {
    pub fn wire(&self) -> Wire {
        match self {
            Registry::Glue { .. } => Wire::Glue,
            Registry::Confluent { .. } => Wire::Confluent,
        }
    }
}

/// The schema version checked at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaVersion {
    Latest,
    Number(u32),
}

impl std::fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchemaVersion::Latest => f.write_str("latest"),
            SchemaVersion::Number(n) => write!(f, "{n}"),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RawInput {
    pub format: Option<String>,
    pub schema_version: Option<toml::Value>,
    pub message: Option<String>,
    pub glue: Option<RawGlue>,
    pub confluent: Option<RawConfluent>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize)]
pub(super) struct RawGlue {
    pub registry: String,
    pub schema: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize)]
pub(super) struct RawConfluent {
    pub url: String,
    pub subject: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Glue's limit on registry and schema names, and the characters it allows.
const MAX_GLUE_NAME: usize = 255;

pub(super) fn check_input(raw: Option<RawInput>, problems: &mut Problems) -> InputFormat {
    let Some(raw) = raw else {
        return InputFormat::Json;
    };
    problems.unknown(
        "input",
        &raw.extra,
        &["format", "schema_version", "message", "glue", "confluent"],
    );
    let format = raw.format.as_deref().unwrap_or("json");
    let registry = match (raw.glue, raw.confluent) {
        (Some(_), Some(_)) => {
            problems.push(
                "input",
                "both [input.glue] and [input.confluent]; name one registry",
            );
            None
        }
        (Some(glue), None) => {
            problems.unknown("input.glue", &glue.extra, &["registry", "schema"]);
            for (key, name) in [
                ("input.glue.registry", &glue.registry),
                ("input.glue.schema", &glue.schema),
            ] {
                let legal = name.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$' | b'#' | b'.')
                });
                if name.is_empty() || name.len() > MAX_GLUE_NAME || !legal {
                    problems.push(
                        key,
                        format!("`{name}` is not a Glue name; expected 1–255 of [a-zA-Z0-9-_$#.]"),
                    );
                }
            }
            Some(Registry::Glue {
                registry: glue.registry,
                schema: glue.schema,
            })
        }
        (None, Some(confluent)) => {
            problems.unknown("input.confluent", &confluent.extra, &["url", "subject"]);
            if !(confluent.url.starts_with("http://") || confluent.url.starts_with("https://")) {
                problems.push(
                    "input.confluent.url",
                    format!("`{}` is not an http:// or https:// URL", confluent.url),
                );
            }
            if confluent.subject.is_empty() {
                problems.push(
                    "input.confluent.subject",
                    "empty; expected the subject's name",
                );
            }
            Some(Registry::Confluent {
                url: confluent.url.trim_end_matches('/').to_owned(),
                subject: confluent.subject,
            })
        }
        (None, None) => None,
    };
    let version = match &raw.schema_version {
        None => SchemaVersion::Latest,
        Some(toml::Value::String(s)) if s == "latest" => SchemaVersion::Latest,
        Some(toml::Value::Integer(n)) if (1..=i64::from(u32::MAX)).contains(n) => {
            SchemaVersion::Number(*n as u32)
        }
        Some(other) => {
            problems.push(
                "input.schema_version",
                format!("{other}; expected \"latest\" or a version number from 1"),
            );
            SchemaVersion::Latest
        }
    };
    let schema_type = match format {
        "json" => {
            if registry.is_some() || raw.schema_version.is_some() || raw.message.is_some() {
                problems.push(
                    "input.format",
                    "\"json\" takes no registry, schema_version or message; set format = \"avro\" or \"protobuf\"",
                );
            }
            return InputFormat::Json;
        }
        "avro" => SchemaType::Avro,
        "protobuf" => SchemaType::Protobuf,
        other => {
            problems.push(
                "input.format",
                format!("`{other}`; expected \"json\", \"avro\" or \"protobuf\""),
            );
            return InputFormat::Json;
        }
    };
    if let Some(message) = &raw.message {
        if schema_type != SchemaType::Protobuf {
            problems.push(
                "input.message",
                "only a \"protobuf\" input names a message type",
            );
        } else if !is_proto_full_name(message) {
            problems.push(
                "input.message",
                format!(
                    "`{message}` is not a message type's full name; expected dot-separated identifiers such as `shop.Order`"
                ),
            );
        }
    }
    match registry {
        Some(registry) => InputFormat::Registry(RegistrySpec {
            schema_type,
            message: raw.message,
            registry,
            version,
        }),
        None => {
            problems.push(
                "input",
                format!(
                    "format \"{}\" needs a registry: an [input.glue] or [input.confluent] table",
                    schema_type.name()
                ),
            );
            InputFormat::Json
        }
    }
}

/// `a.b.C`: identifiers (a letter or `_`, then letters, digits, `_`) joined by dots.
fn is_proto_full_name(name: &str) -> bool {
    name.split('.').all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}
