use std::borrow::Cow;

use apache_avro::Schema;
use apache_avro::types::Value;
use proptest::prelude::*;

use super::*;
use crate::wire::{self, SchemaId};
use crate::{Outcome, Partition, Reason, Record, STOCK_TICKS_SPEC, Spec};

const GLUE_INPUT: &str = "\n[input]\nformat = \"avro\"\n[input.glue]\nregistry = \"pipeline\"\nschema = \"stock-ticks\"\n";
const CONFLUENT_INPUT: &str = "\n[input]\nformat = \"avro\"\n[input.confluent]\nurl = \"http://localhost:8081\"\nsubject = \"ticks-value\"\n";
const V1: SchemaId = SchemaId::Glue([7; 16]);

fn spec_with(input: &str) -> Spec {
    Spec::from_toml(&format!("{STOCK_TICKS_SPEC}{input}"), "stock-ticks.toml").unwrap()
}

fn json_spec() -> Spec {
    Spec::from_toml(STOCK_TICKS_SPEC, "stock-ticks.toml").unwrap()
}

const TIME: i64 = 1_795_271_405_000;

/// A partition that has learnt `schema` as `id`.
fn partition(spec: &Spec, id: SchemaId, schema: &str) -> Partition {
    let mut p = Partition::new(spec);
    p.learn_schema(id, Ok(schema));
    p
}

fn outcome(p: &mut Partition, offset: i64, payload: &[u8]) -> Outcome {
    let mut closed = Vec::new();
    p.process(
        Record {
            offset,
            timestamp_ms: TIME,
            payload: Some(payload),
        },
        &mut closed,
    )
}

fn rejected(outcome: Outcome) -> (Reason, String) {
    match outcome {
        Outcome::Rejected(r) => (r.reason, r.detail),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

const TICK: &[u8] = br#"{"event_id":"e1","ticker":"AMZN","price":187.25,"volume":100,"event_time":"2026-11-21T14:30:05Z"}"#;

#[test]
fn every_wire_format_fault_is_dead_lettered_with_its_reason() {
    let spec = spec_with(GLUE_INPUT);
    let encoder = Encoder::for_spec(&spec).unwrap();
    let body = encoder.encode_json(TICK).unwrap();
    let mut p = partition(&spec, V1, encoder.schema_text());

    let good = wire::frame(V1, false, &body);
    assert_eq!(
        outcome(&mut p, 0, &good),
        Outcome::Accepted { missed_windows: 0 }
    );
    let zlib = wire::frame(V1, true, &body);
    assert_eq!(
        outcome(&mut p, 1, &zlib),
        Outcome::Accepted { missed_windows: 0 }
    );

    let (reason, detail) = rejected(outcome(&mut p, 2, &good[..10]));
    assert_eq!(reason, Reason::Malformed);
    assert!(
        detail.contains("10 bytes") && detail.contains("18"),
        "{detail}"
    );

    let mut bad = good.clone();
    bad[0] = 9;
    let (reason, detail) = rejected(outcome(&mut p, 3, &bad));
    assert_eq!(reason, Reason::Malformed);
    assert!(detail.contains("version byte 0x09"), "{detail}");

    let mut bad = good.clone();
    bad[1] = 2;
    assert_eq!(rejected(outcome(&mut p, 4, &bad)).0, Reason::Malformed);

    let unknown = wire::frame(SchemaId::Glue([9; 16]), false, &body);
    assert_eq!(
        p.schema_to_learn(Some(&unknown)),
        Some(SchemaId::Glue([9; 16]))
    );
    assert_eq!(p.schema_to_learn(Some(&good)), None);
    let (reason, detail) = rejected(outcome(&mut p, 5, &unknown));
    assert_eq!(reason, Reason::UnknownSchema);
    assert!(detail.contains("09090909-0909"), "{detail}");
    p.learn_schema(
        SchemaId::Glue([9; 16]),
        Err("EntityNotFoundException: no such version".into()),
    );
    let (reason, detail) = rejected(outcome(&mut p, 6, &unknown));
    assert_eq!(reason, Reason::UnknownSchema);
    assert!(detail.contains("EntityNotFoundException"), "{detail}");

    // A corrupt body: cut short, trailing bytes, a zlib body that is not zlib.
    let (reason, detail) = rejected(outcome(&mut p, 7, &good[..good.len() - 3]));
    assert_eq!(reason, Reason::Malformed);
    assert!(detail.contains("ends inside"), "{detail}");
    let mut long = good.clone();
    long.push(0);
    let (reason, detail) = rejected(outcome(&mut p, 8, &long));
    assert_eq!(reason, Reason::Malformed);
    assert!(detail.contains("1 bytes follow"), "{detail}");
    let mut not_zlib = good.clone();
    not_zlib[1] = wire::GLUE_ZLIB;
    assert_eq!(rejected(outcome(&mut p, 9, &not_zlib)).0, Reason::Malformed);

    // A schema the registry returned that is not Avro.
    let other = SchemaId::Glue([10; 16]);
    p.learn_schema(other, Ok("{\"type\": \"nonsense\"}"));
    let (reason, detail) = rejected(outcome(&mut p, 10, &wire::frame(other, false, &body)));
    assert_eq!(reason, Reason::UnknownSchema);
    assert!(detail.contains("cannot be read"), "{detail}");
}

#[test]
fn confluent_faults_are_dead_lettered() {
    let spec = spec_with(CONFLUENT_INPUT);
    let encoder = Encoder::for_spec(&spec).unwrap();
    let body = encoder.encode_json(TICK).unwrap();
    let id = SchemaId::Confluent(42);
    let mut p = partition(&spec, id, encoder.schema_text());
    let good = wire::frame(id, false, &body);
    assert_eq!(
        outcome(&mut p, 0, &good),
        Outcome::Accepted { missed_windows: 0 }
    );
    let (reason, detail) = rejected(outcome(&mut p, 1, &good[..4]));
    assert_eq!(reason, Reason::Malformed);
    assert!(detail.contains("confluent"), "{detail}");
    let mut bad = good.clone();
    bad[0] = 1;
    assert_eq!(rejected(outcome(&mut p, 2, &bad)).0, Reason::Malformed);
    // A JSON event on an Avro topic.
    assert_eq!(rejected(outcome(&mut p, 3, TICK)).0, Reason::Malformed);
    let (reason, _) = rejected(outcome(
        &mut p,
        4,
        &wire::frame(SchemaId::Confluent(43), false, &body),
    ));
    assert_eq!(reason, Reason::UnknownSchema);
}

/// A writer's schema from Avro field declarations.
fn writer(fields: &str) -> (String, Schema) {
    let text = format!(r#"{{"type":"record","name":"Tick","fields":[{fields}]}}"#);
    let schema = Schema::parse_str(&text).unwrap();
    (text, schema)
}

fn encode(schema: &Schema, fields: Vec<(&str, Value)>) -> Vec<u8> {
    let record = fields.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
    apache_avro::to_avro_datum(schema, Value::Record(record)).unwrap()
}

#[test]
fn records_of_evolved_schemas_decode_by_field_name() {
    let spec = spec_with(GLUE_INPUT);
    // A newer writer: fields reordered, one added, price as a double, time in micros.
    let (newer, newer_schema) = writer(
        r#"{"name":"ticker","type":"string"},{"name":"venues","type":{"type":"array","items":"string"}},
           {"name":"price","type":"double"},{"name":"volume","type":["null","long"]},
           {"name":"event_time","type":{"type":"long","logicalType":"timestamp-micros"}},
           {"name":"event_id","type":"string"}"#,
    );
    // An older writer without volume.
    let (older, older_schema) = writer(
        r#"{"name":"event_id","type":"string"},{"name":"ticker","type":"string"},
           {"name":"price","type":"double"},{"name":"event_time","type":"long"}"#,
    );
    let (new_id, old_id) = (SchemaId::Glue([2; 16]), SchemaId::Glue([1; 16]));
    let mut p = partition(&spec, new_id, &newer);
    p.learn_schema(old_id, Ok(&older));
    let new_body = encode(
        &newer_schema,
        vec![
            ("ticker", Value::String("AMZN".into())),
            ("venues", Value::Array(vec![Value::String("XNAS".into())])),
            ("price", Value::Double(187.25)),
            ("volume", Value::Union(1, Box::new(Value::Long(100)))),
            ("event_time", Value::TimestampMicros(TIME * 1_000 + 999)),
            ("event_id", Value::String("e1".into())),
        ],
    );
    assert_eq!(
        outcome(&mut p, 0, &wire::frame(new_id, false, &new_body)),
        Outcome::Accepted { missed_windows: 0 }
    );
    let old_body = encode(
        &older_schema,
        vec![
            ("event_id", Value::String("e2".into())),
            ("ticker", Value::String("AMZN".into())),
            ("price", Value::Double(188.0)),
            ("event_time", Value::Long(TIME)),
        ],
    );
    let (reason, detail) = rejected(outcome(&mut p, 1, &wire::frame(old_id, false, &old_body)));
    assert_eq!(
        (reason, detail.as_str()),
        (Reason::MissingField, "volume is required")
    );
    let mut closed = Vec::new();
    p.close_all(&mut closed);
    let row = closed[0].to_json(&spec);
    assert!(
        row.contains(r#""open":187.2500"#) && row.contains(r#""volume":100"#),
        "{row}"
    );

    // A double with more decimals than the spec's scale is refused as JSON's text would be.
    let body = encode(
        &newer_schema,
        vec![
            ("ticker", Value::String("AMZN".into())),
            ("venues", Value::Array(vec![])),
            ("price", Value::Double(0.1 + 0.2)),
            ("volume", Value::Union(0, Box::new(Value::Null))),
            ("event_time", Value::TimestampMicros(TIME * 1_000)),
            ("event_id", Value::String("e3".into())),
        ],
    );
    let (reason, detail) = rejected(outcome(&mut p, 2, &wire::frame(new_id, false, &body)));
    assert_eq!(reason, Reason::InvalidValue);
    assert!(detail.contains("0.30000000000000004"), "{detail}");
}

#[test]
fn the_start_check_names_every_field_the_schema_does_not_serve() {
    let spec = spec_with(GLUE_INPUT);
    let (text, _) = writer(
        r#"{"name":"event_id","type":"string"},{"name":"ticker","type":"long"},
           {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":6}},
           {"name":"volume","type":["null","long"]},{"name":"event_time","type":"string"},
           {"name":"exchange","type":["null","string"]}"#,
    );
    let problems = Reader::compile_strict(&text, &spec.event.fields).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("ticker: the schema has long"),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("price: the schema has decimal (scale 6)"),
        "{problems:?}"
    );

    let (text, _) = writer(r#"{"name":"event_id","type":"string"}"#);
    let problems = Reader::compile_strict(&text, &spec.event.fields).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p == "volume: the spec declares it; the schema has no such field"),
        "{problems:?}"
    );

    let encoder = Encoder::for_spec(&spec).unwrap();
    assert!(Reader::compile_strict(encoder.schema_text(), &spec.event.fields).is_ok());
    assert!(
        Reader::compile("\"string\"", &spec.event.fields)
            .unwrap_err()
            .contains("not a record")
    );
    let recursive =
        r#"{"type":"record","name":"N","fields":[{"name":"next","type":["null","N"]}]}"#;
    assert!(
        Reader::compile(recursive, &spec.event.fields)
            .unwrap_err()
            .contains("deeper")
    );
}

/// A schema that exercises every type the reader steps over or reads.
const EVERY_TYPE: &str = r#"{"type":"record","name":"All","fields":[
    {"name":"event_id","type":"int"},
    {"name":"ticker","type":"string"},
    {"name":"b","type":"boolean"},
    {"name":"l","type":["null","long","string"]},
    {"name":"f","type":"float"},
    {"name":"d","type":"double"},
    {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y","Z"]}},
    {"name":"x","type":{"type":"fixed","name":"F","size":3}},
    {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
    {"name":"a","type":{"type":"array","items":"long"}},
    {"name":"m","type":{"type":"map","values":"string"}},
    {"name":"r","type":{"type":"record","name":"Inner","fields":[{"name":"i","type":"int"}]}}
]}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    /// On any bytes, this reader and apache-avro's agree on whether they are one record of the
    /// schema, and on the values of the fields read.
    #[test]
    fn the_reader_agrees_with_apache_avro(bytes in prop::collection::vec(any::<u8>(), 0..48)) {
        let spec = json_spec();
        let reader = Reader::compile(EVERY_TYPE, &spec.event.fields).unwrap();
        let schema = Schema::parse_str(EVERY_TYPE).unwrap();
        let mut ours = Vec::new();
        let verdict = reader.read(&bytes, false, |i, v| ours.push((i, format!("{v:?}"))));
        let mut rest: &[u8] = &bytes;
        let theirs = apache_avro::from_avro_datum(&schema, &mut rest, None);
        let theirs_ok = theirs.is_ok() && rest.is_empty();
        prop_assert_eq!(verdict.is_ok(), theirs_ok, "ours {:?}, theirs {:?} with {} left", verdict, theirs, rest.len());
        if let Ok(Value::Record(fields)) = theirs && theirs_ok {
            let expected = vec![
                (0, format!("{:?}", match &fields[0].1 { Value::Int(v) => Json::Int(i64::from(*v)), v => panic!("{v:?}") })),
                (1, format!("{:?}", match &fields[1].1 { Value::String(s) => Json::Str(Cow::Borrowed(s.as_str())), v => panic!("{v:?}") })),
            ];
            prop_assert_eq!(ours, expected);
        }
    }

    /// Records apache-avro writes read back with the values written.
    #[test]
    fn records_apache_avro_writes_read_back(id in any::<i32>(), ticker in ".{0,12}", l in any::<i64>(), a in prop::collection::vec(any::<i64>(), 0..5)) {
        let schema = Schema::parse_str(EVERY_TYPE).unwrap();
        let record = Value::Record(vec![
            ("event_id".into(), Value::Int(id)),
            ("ticker".into(), Value::String(ticker.clone())),
            ("b".into(), Value::Boolean(true)),
            ("l".into(), Value::Union(1, Box::new(Value::Long(l)))),
            ("f".into(), Value::Float(1.5)),
            ("d".into(), Value::Double(-2.25)),
            ("e".into(), Value::Enum(2, "Z".into())),
            ("x".into(), Value::Fixed(3, vec![1, 2, 3])),
            ("dec".into(), Value::Decimal(apache_avro::Decimal::from(vec![0xff, 0x38]))),
            ("a".into(), Value::Array(a.into_iter().map(Value::Long).collect())),
            ("m".into(), Value::Map([("k".to_owned(), Value::String("v".into()))].into())),
            ("r".into(), Value::Record(vec![("i".into(), Value::Int(3))])),
        ]);
        let bytes = apache_avro::to_avro_datum(&schema, record).unwrap();
        let spec = json_spec();
        let reader = Reader::compile(EVERY_TYPE, &spec.event.fields).unwrap();
        let mut ours = Vec::new();
        reader.read(&bytes, false, |i, v| ours.push((i, v.clone().into_owned_debug()))).unwrap();
        prop_assert_eq!(ours, vec![(0, format!("{:?}", Json::Int(i64::from(id)))), (1, format!("{:?}", Json::Str(Cow::Borrowed(ticker.as_str()))))]);
    }
}

trait DebugText {
    fn into_owned_debug(self) -> String;
}

impl DebugText for Json<'_> {
    fn into_owned_debug(self) -> String {
        format!("{self:?}")
    }
}

#[test]
fn every_type_reads_as_the_checks_expect() {
    let (text, schema) = writer(
        r#"{"name":"s","type":{"type":"enum","name":"E","symbols":["A","B"]}},
           {"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
           {"name":"t","type":{"type":"int","logicalType":"date"}},
           {"name":"n","type":{"type":"long","logicalType":"timestamp-nanos"}},
           {"name":"f","type":"float"}"#,
    );
    let spec = json_spec();
    let reader = Reader::compile(&text, &spec.event.fields).unwrap();
    let body = encode(
        &schema,
        vec![
            ("s", Value::Enum(1, "B".into())),
            (
                "d",
                Value::Decimal(apache_avro::Decimal::from(vec![0xff, 0x38])),
            ),
            ("t", Value::Date(2)),
            ("n", Value::TimestampNanos(3_999_999)),
            ("f", Value::Float(0.5)),
        ],
    );
    let mut seen = Vec::new();
    reader
        .read(&body, false, |i, v| seen.push((i, format!("{v:?}"))))
        .unwrap();
    assert!(
        seen.is_empty(),
        "no field of the schema is declared: {seen:?}"
    );
    let mut all = Vec::new();
    let fields: Vec<_> = ["s", "d", "t", "n", "f"]
        .iter()
        .map(|n| {
            let mut f = spec.event.fields[0].clone();
            f.name = (*n).to_owned();
            f
        })
        .collect();
    Reader::compile(&text, &fields)
        .unwrap()
        .read(&body, true, |i, v| all.push((i, v)))
        .unwrap();
    assert_eq!(all[2].1, Json::Time(2 * 86_400_000));
    assert_eq!(all[3].1, Json::Time(3));
    assert_eq!(all[4].1, Json::Float(0.5));
    assert!(matches!(&all[0].1, Json::Str(Cow::Owned(s)) if s == "B"));
}

#[test]
fn an_avro_spec_reads_back_its_input_table() {
    let spec = spec_with(GLUE_INPUT);
    match &spec.input {
        crate::spec::InputFormat::Registry(r) => {
            assert_eq!(r.version, crate::spec::SchemaVersion::Latest);
            assert_eq!(r.registry.wire(), wire::Wire::Glue);
        }
        other => panic!("{other:?}"),
    }
    for (input, key) in [
        ("\n[input]\nformat = \"avro\"\n", "input"),
        ("\n[input]\nformat = \"xml\"\n", "input.format"),
        (
            "\n[input]\nformat = \"avro\"\nschema_version = 0\n[input.glue]\nregistry = \"r\"\nschema = \"s\"\n",
            "input.schema_version",
        ),
        (
            "\n[input]\nformat = \"avro\"\n[input.confluent]\nurl = \"localhost:8081\"\nsubject = \"s\"\n",
            "input.confluent.url",
        ),
        (
            "\n[input]\nformat = \"avro\"\n[input.glue]\nregistry = \"a b\"\nschema = \"s\"\n",
            "input.glue.registry",
        ),
        (
            "\n[input]\nformat = \"json\"\n[input.glue]\nregistry = \"r\"\nschema = \"s\"\n",
            "input.format",
        ),
        ("\n[input]\nformats = \"avro\"\n", "input.formats"),
    ] {
        let err = Spec::from_toml(&format!("{STOCK_TICKS_SPEC}{input}"), "f.toml").unwrap_err();
        assert!(err.problems.iter().any(|p| p.key == key), "{input}: {err}");
    }
    let pinned = spec_with(
        "\n[input]\nformat = \"avro\"\nschema_version = 3\n[input.glue]\nregistry = \"r\"\nschema = \"s\"\n",
    );
    assert!(
        matches!(&pinned.input, crate::spec::InputFormat::Registry(r) if r.version == crate::spec::SchemaVersion::Number(3))
    );
}
