//! What a producer sends when the spec's input is registered Avro or Protobuf: JSON events (as
//! the generator writes them) encoded with the schema the spec implies, framed for the
//! registry that holds it. For the producer Lambda, the local run and the tests; not on the
//! processor's path.

use crate::avro::Encoder;
use crate::protobuf::ProtoEncoder;
use crate::spec::{SchemaType, Spec};
use crate::wire::{self, SchemaId, Wire};

/// The spec's schema in its format, and a writer of bodies for it.
#[derive(Debug, Clone)]
pub enum SchemaEncoder {
    Avro(Encoder),
    Protobuf(ProtoEncoder),
}

impl SchemaEncoder {
    /// The schema the spec implies in `schema_type` (see [`Encoder::for_spec`] and
    /// [`ProtoEncoder::for_spec`]).
    pub fn for_spec(spec: &Spec, schema_type: SchemaType) -> Result<Self, String> {
        Ok(match schema_type {
            SchemaType::Avro => SchemaEncoder::Avro(Encoder::for_spec(spec)?),
            SchemaType::Protobuf => SchemaEncoder::Protobuf(ProtoEncoder::for_spec(spec)?),
        })
    }

    /// The schema text, as registered.
    pub fn schema_text(&self) -> &str {
        match self {
            SchemaEncoder::Avro(e) => e.schema_text(),
            SchemaEncoder::Protobuf(e) => e.schema_text(),
        }
    }

    /// One JSON event as a body framed for `wire` (Protobuf puts the message index first).
    pub fn encode_json(&self, json: &[u8], wire: Wire) -> Result<Vec<u8>, String> {
        match self {
            SchemaEncoder::Avro(e) => e.encode_json(json),
            SchemaEncoder::Protobuf(e) => e.encode_json(json, wire),
        }
    }
}

/// Encodes and frames events for one registered schema version.
#[derive(Debug, Clone)]
pub struct Framer {
    encoder: SchemaEncoder,
    id: SchemaId,
    zlib: bool,
}

impl Framer {
    /// Frames for schema version `id` (as the registry returned it for the encoder's schema);
    /// a Glue body is zlib-compressed when `zlib`.
    pub fn new(encoder: SchemaEncoder, id: SchemaId, zlib: bool) -> Self {
        Self { encoder, id, zlib }
    }

    pub fn id(&self) -> SchemaId {
        self.id
    }

    /// The record for one JSON event. An event the schema cannot carry (a deliberately broken
    /// one) goes as a body cut short, which the processor dead-letters `malformed`, as it
    /// would the broken JSON.
    pub fn record(&self, json: &[u8]) -> Vec<u8> {
        let wire = self.id.wire();
        match self.encoder.encode_json(json, wire) {
            Ok(body) => wire::frame(self.id, self.zlib, &body),
            Err(_) => wire::frame(self.id, self.zlib, CUT_SHORT),
        }
    }
}

/// A body that ends inside its first value: in Avro a string announced as one byte long; in
/// Protobuf a message index (Glue) or count (Confluent) whose varint never ends.
const CUT_SHORT: &[u8] = &[0x82];

#[cfg(test)]
mod tests;
