//! Registered Avro or Protobuf input in the decoder: the schema versions a partition has
//! learnt, each compiled for the spec's fields, and reading a record's header and body into
//! the event.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Event, KeyMemo, Plan, Progress};
use crate::avro;
use crate::protobuf;
use crate::reject::{Reason, Rejection};
use crate::spec::{FieldSpec, RegistrySpec, SchemaType};
use crate::wire::{self, SchemaId, Wire};

/// Registered Avro or Protobuf input: the schema versions learnt so far (see
/// [`super::Decoder::learn_schema`]).
#[derive(Debug, Clone)]
pub(super) struct RegistryInput {
    pub(super) wire: Wire,
    pub(super) schema_type: SchemaType,
    /// Protobuf: the event's message type, if the spec names it.
    pub(super) message: Option<String>,
    pub(super) schemas: HashMap<SchemaId, Result<Arc<BodyReader>, String>>,
    /// The version of the last record, looked up once for a run of records of one version.
    pub(super) last: Option<(SchemaId, Arc<BodyReader>)>,
    /// Where a zlib body is inflated.
    pub(super) scratch: Vec<u8>,
}

/// The start-time check of a registered schema version against the spec's fields: every
/// declared field is in it (for Protobuf, in the event's message type), with a type its checks
/// accept. One line per field that is not.
pub fn check_schema(
    input: &RegistrySpec,
    schema: &str,
    fields: &[FieldSpec],
) -> Result<(), Vec<String>> {
    match input.schema_type {
        SchemaType::Avro => avro::Reader::compile_strict(schema, fields).map(drop),
        SchemaType::Protobuf => {
            protobuf::Reader::compile_strict(schema, input.message.as_deref(), fields).map(drop)
        }
    }
}

/// A schema version compiled for the spec's fields, in its format.
#[derive(Debug)]
pub(super) enum BodyReader {
    Avro(avro::Reader),
    Protobuf(protobuf::Reader),
}

impl BodyReader {
    pub(super) fn compile(
        schema_type: SchemaType,
        text: &str,
        message: Option<&str>,
        fields: &[FieldSpec],
    ) -> Result<Self, String> {
        Ok(match schema_type {
            SchemaType::Avro => BodyReader::Avro(avro::Reader::compile(text, fields)?),
            SchemaType::Protobuf => {
                BodyReader::Protobuf(protobuf::Reader::compile(text, message, fields)?)
            }
        })
    }

    /// "an Avro", "a Protobuf": for a dead letter's detail.
    fn describe(&self) -> &'static str {
        match self {
            BodyReader::Avro(_) => "an Avro",
            BodyReader::Protobuf(_) => "a Protobuf",
        }
    }
}

impl Plan {
    /// Reads an Avro or Protobuf record's fields into the event: its header, its schema
    /// version, its body.
    pub(super) fn registry_fields(
        &self,
        memo: &mut KeyMemo,
        progress: &mut Progress,
        event: &mut Event,
        bytes: &[u8],
        input: &mut RegistryInput,
    ) -> Result<(), Rejection> {
        let framed = wire::parse(input.wire, bytes)
            .map_err(|e| Rejection::new(Reason::Malformed, e.to_string()))?;
        let id = framed.schema;
        let RegistryInput {
            wire: record_wire,
            schemas,
            last,
            scratch,
            ..
        } = input;
        let reader: &BodyReader = match last {
            Some((known, reader)) if *known == id => reader,
            _ => {
                let found = match schemas.get(&id) {
                    Some(Ok(reader)) => Arc::clone(reader),
                    Some(Err(why)) => {
                        return Err(Rejection::new(
                            Reason::UnknownSchema,
                            format!("schema version {id}: {why}"),
                        ));
                    }
                    None => {
                        return Err(Rejection::new(
                            Reason::UnknownSchema,
                            format!("schema version {id} was not looked up in the registry"),
                        ));
                    }
                };
                &last.insert((id, found)).1
            }
        };
        let (body, inflated) = match framed.body {
            wire::Body::Plain(body) => (body, false),
            wire::Body::Zlib(compressed) => {
                wire::inflate(compressed, self.max_bytes, scratch)
                    .map_err(|e| Rejection::new(Reason::Malformed, e))?;
                (scratch.as_slice(), true)
            }
        };
        let take = |i: usize, value| {
            progress.seen |= 1 << i;
            if progress.first_error.is_none() {
                self.take(memo, progress, event, bytes, i, value);
            }
        };
        let read = match reader {
            BodyReader::Avro(r) => r.read(body, inflated, take),
            BodyReader::Protobuf(r) => r.read(*record_wire, body, inflated, take),
        };
        read.map_err(|e| {
            Rejection::new(
                Reason::Malformed,
                format!(
                    "not {} record of schema version {id}: {e}",
                    reader.describe()
                ),
            )
        })
    }
}
