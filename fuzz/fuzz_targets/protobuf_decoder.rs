//! The Protobuf path on arbitrary records: the wire-format header, the message index, the
//! schema lookup and the message reader must never panic; a record is accepted only if
//! `prost-reflect` also decodes its message as the spec's message type; and an accepted record
//! decodes the same twice.
//!
//! Input: one byte choosing the wire format (even: Glue, odd: Confluent) and whether the
//! record is framed here (bit 1: the rest is a body, message index included, framed with the
//! known schema version; bit 2 on Glue: zlib) or taken as it is (header and all).

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use pipeline_core::protobuf::ProtoEncoder;
use pipeline_core::wire::{self, SchemaId};
use pipeline_core::{Decoder, STOCK_TICKS_SPEC, Spec};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};

const GLUE: &str =
    "\n[input]\nformat = \"protobuf\"\n[input.glue]\nregistry = \"r\"\nschema = \"s\"\n";
const CONFLUENT: &str = "\n[input]\nformat = \"protobuf\"\n[input.confluent]\nurl = \"http://localhost\"\nsubject = \"s\"\n";
const GLUE_ID: SchemaId = SchemaId::Glue([7; 16]);
const CONFLUENT_ID: SchemaId = SchemaId::Confluent(7);
const TIME_MS: i64 = 1_795_271_405_000;

struct Setup {
    spec: Spec,
    wire: wire::Wire,
    id: SchemaId,
    schema: String,
    message: MessageDescriptor,
}

static SETUPS: LazyLock<[Setup; 2]> = LazyLock::new(|| {
    [
        (GLUE, wire::Wire::Glue, GLUE_ID),
        (CONFLUENT, wire::Wire::Confluent, CONFLUENT_ID),
    ]
    .map(|(input, wire, id)| {
        let spec = Spec::from_toml(&format!("{STOCK_TICKS_SPEC}{input}"), "fuzz").expect("spec");
        let encoder = ProtoEncoder::for_spec(&spec).expect("schema");
        let pool = pool(encoder.schema_text());
        let message = pool
            .get_message_by_name(encoder.message_name())
            .expect("the message");
        Setup {
            schema: encoder.schema_text().to_owned(),
            spec,
            wire,
            id,
            message,
        }
    })
});

/// The schema's descriptors, compiled the way the processor compiles them.
fn pool(schema: &str) -> DescriptorPool {
    pipeline_core::protobuf::descriptor_pool(schema).expect("compiles")
}

fn decoder(setup: &Setup) -> Decoder {
    let mut decoder = Decoder::new(&setup.spec);
    decoder.learn_schema(setup.id, Ok(&setup.schema));
    decoder
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let setup = &SETUPS[usize::from(choice & 1)];
    let record = if choice & 2 != 0 {
        wire::frame(setup.id, choice & 4 != 0 && setup.id == GLUE_ID, rest)
    } else {
        rest.to_vec()
    };
    let mut warm = decoder(setup);
    let first = warm.decode(Some(&record), TIME_MS);
    let again = warm.decode(Some(&record), TIME_MS);
    assert_eq!(first.as_ref().err(), again.as_ref().err());
    if first.is_ok() {
        let framed = wire::parse(setup.wire, &record).expect("an accepted header parses");
        let body = match framed.body {
            wire::Body::Plain(b) => b.to_vec(),
            wire::Body::Zlib(z) => {
                let mut out = Vec::new();
                wire::inflate(z, 1 << 20, &mut out).expect("an accepted body inflates");
                out
            }
        };
        // The spec's schema has one message type: its index is one byte, 0, in both framings.
        assert_eq!(body.first(), Some(&0), "an accepted body names message 0");
        DynamicMessage::decode(setup.message.clone(), &body[1..])
            .expect("prost-reflect decodes what the reader accepted");
    }
});
