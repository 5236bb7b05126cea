//! What the Avro and Protobuf targets share: a spec per wire format with its schema version
//! learnt, the input's first byte choosing the wire format and the framing, and the decoder
//! run twice on the record. The caller holds an accepted body to its format's crate.

use pipeline_core::wire::{self, SchemaId, Wire};
use pipeline_core::{Decoder, STOCK_TICKS_SPEC, Spec};

const TIME_MS: i64 = 1_795_271_405_000;

/// One wire format's spec, schema version and schema text.
pub struct Setup<T> {
    pub spec: Spec,
    pub id: SchemaId,
    pub schema: String,
    /// What the format's crate needs to read a body.
    pub oracle: T,
}

/// The stock ticks spec in `format` (`avro`, `protobuf`), in the Glue then the Confluent wire
/// format; `schema` gives the spec's schema text and the oracle.
pub fn setups<T>(format: &str, schema: impl Fn(&Spec) -> (String, T)) -> [Setup<T>; 2] {
    let inputs = [
        (
            "[input.glue]\nregistry = \"r\"\nschema = \"s\"\n",
            SchemaId::Glue([7; 16]),
        ),
        (
            "[input.confluent]\nurl = \"http://localhost\"\nsubject = \"s\"\n",
            SchemaId::Confluent(7),
        ),
    ];
    inputs.map(|(registry, id)| {
        let text = format!("{STOCK_TICKS_SPEC}\n[input]\nformat = \"{format}\"\n{registry}");
        let spec = Spec::from_toml(&text, "fuzz").expect("spec");
        let (schema, oracle) = schema(&spec);
        Setup {
            spec,
            id,
            schema,
            oracle,
        }
    })
}

/// Input: one byte choosing the wire format (even: Glue, odd: Confluent) and whether the rest
/// is framed here (bit 1: a body framed with the known schema version; bit 2 on Glue: zlib)
/// or taken as it is (header and all). The decoder must never panic and must judge the record
/// alike twice. Returns the setup and the (inflated) body of an accepted record.
pub fn run<'s, T>(setups: &'s [Setup<T>; 2], data: &[u8]) -> Option<(&'s Setup<T>, Vec<u8>)> {
    let (&choice, rest) = data.split_first()?;
    let setup = &setups[usize::from(choice & 1)];
    let glue = setup.id.wire() == Wire::Glue;
    let record = if choice & 2 != 0 {
        wire::frame(setup.id, choice & 4 != 0 && glue, rest)
    } else {
        rest.to_vec()
    };
    let mut decoder = Decoder::new(&setup.spec);
    decoder.learn_schema(setup.id, Ok(&setup.schema));
    let first = decoder.decode(Some(&record), TIME_MS);
    let again = decoder.decode(Some(&record), TIME_MS);
    assert_eq!(first.as_ref().err(), again.as_ref().err());
    first.ok()?;
    let framed = wire::parse(setup.id.wire(), &record).expect("an accepted header parses");
    Some((
        setup,
        match framed.body {
            wire::Body::Plain(b) => b.to_vec(),
            wire::Body::Zlib(z) => {
                let mut out = Vec::new();
                wire::inflate(z, 1 << 20, &mut out).expect("an accepted body inflates");
                out
            }
        },
    ))
}
