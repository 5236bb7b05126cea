//! The Avro path on arbitrary records: the wire-format header, the schema lookup and the body
//! reader must never panic; a record is accepted only if `apache-avro` also reads its body as
//! one record of the writer's schema, with nothing left over; and an accepted record decodes
//! the same with a fresh decoder as with a warm one.
//!
//! Input: one byte choosing the wire format (even: Glue, odd: Confluent) and whether the
//! record is framed here (bit 1: the rest is a body framed with the known schema version, so
//! that the reader itself is exercised) or taken as it is (header and all).

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use pipeline_core::avro::Encoder;
use pipeline_core::wire::{self, SchemaId};
use pipeline_core::{Decoder, STOCK_TICKS_SPEC, Spec};

const GLUE: &str = "\n[input]\nformat = \"avro\"\n[input.glue]\nregistry = \"r\"\nschema = \"s\"\n";
const CONFLUENT: &str =
    "\n[input]\nformat = \"avro\"\n[input.confluent]\nurl = \"http://localhost\"\nsubject = \"s\"\n";
const GLUE_ID: SchemaId = SchemaId::Glue([7; 16]);
const CONFLUENT_ID: SchemaId = SchemaId::Confluent(7);
const TIME_MS: i64 = 1_795_271_405_000;

struct Setup {
    spec: Spec,
    wire: wire::Wire,
    id: SchemaId,
    schema: String,
    avro: apache_avro::Schema,
}

static SETUPS: LazyLock<[Setup; 2]> = LazyLock::new(|| {
    [
        (GLUE, wire::Wire::Glue, GLUE_ID),
        (CONFLUENT, wire::Wire::Confluent, CONFLUENT_ID),
    ]
    .map(|(input, wire, id)| {
        let spec = Spec::from_toml(&format!("{STOCK_TICKS_SPEC}{input}"), "fuzz").expect("spec");
        let schema = Encoder::for_spec(&spec).expect("schema").schema_text().to_owned();
        let avro = apache_avro::Schema::parse_str(&schema).expect("parses");
        Setup {
            spec,
            wire,
            id,
            schema,
            avro,
        }
    })
});

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
        let mut rest: &[u8] = &body;
        apache_avro::from_avro_datum(&setup.avro, &mut rest, None)
            .expect("apache-avro reads what the reader accepted");
        assert!(rest.is_empty(), "apache-avro leaves {} bytes", rest.len());
    }
});
