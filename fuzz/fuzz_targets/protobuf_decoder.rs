//! The Protobuf path on arbitrary records: the wire-format header, the message index, the
//! schema lookup and the message reader must never panic; a record is accepted only if
//! `prost-reflect` also decodes its message as the spec's message type; and a record is judged
//! alike twice. The input's layout: `shared/registered.rs`.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use pipeline_core::protobuf::{ProtoEncoder, descriptor_pool};
use prost_reflect::{DynamicMessage, MessageDescriptor};

#[path = "shared/registered.rs"]
mod registered;

static SETUPS: LazyLock<[registered::Setup<MessageDescriptor>; 2]> = LazyLock::new(|| {
    registered::setups("protobuf", |spec| {
        let encoder = ProtoEncoder::for_spec(spec).expect("schema");
        let message = descriptor_pool(encoder.schema_text())
            .expect("compiles")
            .get_message_by_name(encoder.message_name())
            .expect("the message");
        (encoder.schema_text().to_owned(), message)
    })
});

fuzz_target!(|data: &[u8]| {
    if let Some((setup, body)) = registered::run(&SETUPS, data) {
        // The spec's schema has one message type: its index is one byte, 0, in both framings.
        assert_eq!(body.first(), Some(&0), "an accepted body names message 0");
        DynamicMessage::decode(setup.oracle.clone(), &body[1..])
            .expect("prost-reflect decodes what the reader accepted");
    }
});
