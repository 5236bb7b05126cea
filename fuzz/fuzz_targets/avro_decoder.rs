//! The Avro path on arbitrary records: the wire-format header, the schema lookup and the body
//! reader must never panic; a record is accepted only if `apache-avro` also reads its body as
//! one record of the writer's schema, with nothing left over; and a record is judged alike
//! twice. The input's layout: `shared/registered.rs`.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use pipeline_core::avro::Encoder;

#[path = "shared/registered.rs"]
mod registered;

static SETUPS: LazyLock<[registered::Setup<apache_avro::Schema>; 2]> = LazyLock::new(|| {
    registered::setups("avro", |spec| {
        let text = Encoder::for_spec(spec).expect("schema").schema_text().to_owned();
        let avro = apache_avro::Schema::parse_str(&text).expect("parses");
        (text, avro)
    })
});

fuzz_target!(|data: &[u8]| {
    if let Some((setup, body)) = registered::run(&SETUPS, data) {
        let mut rest: &[u8] = &body;
        apache_avro::from_avro_datum(&setup.oracle, &mut rest, None)
            .expect("apache-avro reads what the reader accepted");
        assert!(rest.is_empty(), "apache-avro leaves {} bytes", rest.len());
    }
});
