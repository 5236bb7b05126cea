use std::borrow::Cow;

use proptest::prelude::*;
use prost::Message as _;
use prost_reflect::{DynamicMessage, Value};

use super::*;
use crate::framer::{Framer, SchemaEncoder};
use crate::spec::{InputFormat, SchemaType};
use crate::wire::{self, SchemaId};
use crate::{Outcome, Partition, Reason, Record, STOCK_TICKS_SPEC, Spec};

const GLUE_INPUT: &str = "\n[input]\nformat = \"protobuf\"\n[input.glue]\nregistry = \"pipeline\"\nschema = \"stock-ticks\"\n";
const CONFLUENT_INPUT: &str = "\n[input]\nformat = \"protobuf\"\n[input.confluent]\nurl = \"http://localhost:8081\"\nsubject = \"ticks-value\"\n";
const V1: SchemaId = SchemaId::Glue([7; 16]);
const TIME: i64 = 1_795_271_405_000;
const TICK: &[u8] = br#"{"event_id":"e1","ticker":"AMZN","price":187.25,"volume":100,"event_time":"2026-11-21T14:30:05Z"}"#;

fn spec_with(input: &str) -> Spec {
    Spec::from_toml(&format!("{STOCK_TICKS_SPEC}{input}"), "stock-ticks.toml").unwrap()
}

fn json_spec() -> Spec {
    Spec::from_toml(STOCK_TICKS_SPEC, "stock-ticks.toml").unwrap()
}

fn outcome(p: &mut Partition, offset: i64, payload: &[u8]) -> Outcome {
    p.process(
        Record {
            offset,
            timestamp_ms: TIME,
            payload: Some(payload),
        },
        &mut Vec::new(),
    )
}

fn rejected(outcome: Outcome) -> (Reason, String) {
    match outcome {
        Outcome::Rejected(r) => (r.reason, r.detail),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn every_message_fault_is_dead_lettered_with_its_reason() {
    for (input, id) in [(GLUE_INPUT, V1), (CONFLUENT_INPUT, SchemaId::Confluent(4))] {
        let spec = spec_with(input);
        let encoder = ProtoEncoder::for_spec(&spec).unwrap();
        let body = encoder.encode_json(TICK, id.wire()).unwrap();
        let mut p = Partition::new(&spec);
        p.learn_schema(id, Ok(encoder.schema_text()));
        let good = wire::frame(id, false, &body);
        assert_eq!(
            outcome(&mut p, 0, &good),
            Outcome::Accepted { missed_windows: 0 }
        );
        // Both framings name the only message type in one byte.
        let message = &body[1..];
        let other_type: &[u8] = match id.wire() {
            Wire::Glue => &[3],
            Wire::Confluent => &[2, 2],
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            // Another message type of the schema.
            ([other_type, message].concat(), "message type"),
            // Cut inside the message.
            (body[..body.len() - 3].to_vec(), "ends inside"),
            // A tag with wire type 7.
            ([&body[..], &[0x0f, 0x00][..]].concat(), "wire type 7"),
            // Field 0.
            ([&body[..], &[0x00][..]].concat(), "field 0"),
            // The ticker (field 2) as a varint.
            ([&body[..], &[0x10, 0x01][..]].concat(), "wire type 0"),
            // A string that is not UTF-8.
            ([&body[..], &[0x12, 0x01, 0xff][..]].concat(), "UTF-8"),
            // A length past the end.
            ([&body[..], &[0x12, 0x7f][..]].concat(), "bytes long"),
            // A varint of 11 bytes.
            ([&body[..], &[0x20][..], &[0xff; 10][..]].concat(), "varint"),
        ];
        for (i, (body, expected)) in cases.into_iter().enumerate() {
            let (reason, detail) = rejected(outcome(
                &mut p,
                i as i64 + 1,
                &wire::frame(id, false, &body),
            ));
            assert_eq!(reason, Reason::Malformed, "{detail}");
            assert!(
                detail.contains(expected) && detail.contains("not a Protobuf record"),
                "{input}: expected `{expected}` in {detail}"
            );
        }
        // Undeclared fields of every wire type, a group included, are skipped.
        let extra = [
            &body[..],
            &[0xa8, 0x1f, 0x05][..],                   // field 501, varint
            &[0xb1, 0x1f][..],                         // field 502, 64-bit
            &[1, 2, 3, 4, 5, 6, 7, 8][..],             //
            &[0xbd, 0x1f, 1, 2, 3, 4][..],             // field 503, 32-bit
            &[0xc2, 0x1f, 0x02, 0x08, 0x01][..],       // field 504, bytes
            &[0xcb, 0x1f, 0x08, 0x01, 0xcc, 0x1f][..], // field 505, a group
        ]
        .concat();
        assert_eq!(
            outcome(&mut p, 20, &wire::frame(id, false, &extra)),
            Outcome::Accepted { missed_windows: 0 },
            "{input}"
        );
        let unknown = match id.wire() {
            Wire::Glue => SchemaId::Glue([9; 16]),
            Wire::Confluent => SchemaId::Confluent(99),
        };
        let (reason, _) = rejected(outcome(&mut p, 21, &wire::frame(unknown, false, &body)));
        assert_eq!(reason, Reason::UnknownSchema);
    }
}

/// A schema with nesting, in the shape of the example in AWS's `MessageIndexFinder`.
const NESTED: &str = r#"
syntax = "proto3";
package shop;
message B {
  message C { int32 c = 1; }
  message A {
    message D { string ticker = 1; int64 volume = 2; }
  }
}
message Z { string ticker = 1; }
"#;

#[test]
fn message_types_are_named_by_glue_index_and_confluent_path() {
    let spec = json_spec();
    let fields = &spec.event.fields;
    let expect = [
        ("shop.B", 0, vec![0]),
        ("shop.B.A", 1, vec![0, 1]),
        ("shop.B.A.D", 2, vec![0, 1, 0]),
        ("shop.B.C", 3, vec![0, 0]),
        ("shop.Z", 4, vec![1]),
    ];
    for (name, index, path) in expect {
        let reader = Reader::compile(NESTED, Some(name), fields).unwrap();
        assert_eq!(reader.message(), name);
        assert_eq!(reader.glue_index, index, "{name}");
        assert_eq!(reader.confluent_path, path, "{name}");
    }
    // A record of shop.B.A.D reads in both framings; one of shop.Z does not.
    let d = Reader::compile(NESTED, Some("shop.B.A.D"), fields).unwrap();
    let message = [0x0a, 0x02, b'I', b'B', 0x10, 0x07];
    for (wire, prefix) in [(Wire::Glue, vec![2u8]), (Wire::Confluent, vec![6, 0, 2, 0])] {
        let body = [&prefix[..], &message].concat();
        let mut seen = Vec::new();
        d.read(wire, &body, false, |i, v| seen.push((i, v)))
            .unwrap();
        assert_eq!(
            seen,
            vec![(1, Json::Str(Cow::Borrowed("IB"))), (3, Json::Int(7))]
        );
    }
    let err = d
        .read(
            Wire::Confluent,
            &[&[0u8][..], &message].concat(),
            false,
            |_, _| {},
        )
        .unwrap_err();
    assert!(
        err.contains("another message type") && err.contains("shop.B.A.D (path [0, 1, 0])"),
        "{err}"
    );
    let err = Reader::compile(NESTED, None, fields).unwrap_err();
    assert!(
        err.contains("shop.B, shop.Z") && err.contains("input.message"),
        "{err}"
    );
    let err = Reader::compile(NESTED, Some("shop.Y"), fields).unwrap_err();
    assert!(err.contains("no message type shop.Y"), "{err}");
    assert!(
        Reader::compile("syntax = \"proto3\"; message {", None, fields)
            .unwrap_err()
            .contains("not a valid Protobuf schema")
    );
}

/// Version 2 of the ticks: fields renumbered and retyped compatibly, new fields of every kind,
/// and the well-known types.
const EVOLVED: &str = r#"
syntax = "proto3";
package pipeline;
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
message stock_ticks {
  map<string, string> tags = 1;
  google.protobuf.Timestamp event_time = 2;
  repeated int64 history = 3;
  Venue venue = 4;
  google.protobuf.StringValue event_id = 5;
  string ticker = 6;
  double price = 7;
  sint32 volume = 8;
  Side side = 9;
  optional string exchange = 10;
  message Venue { string mic = 1; }
  enum Side { BUY = 0; SELL = 1; }
}
"#;

#[test]
fn records_of_evolved_schemas_decode_by_field_name() {
    let spec = spec_with(GLUE_INPUT);
    let v2 = SchemaId::Glue([2; 16]);
    let mut p = Partition::new(&spec);
    p.learn_schema(v2, Ok(EVOLVED));
    let pool = descriptor_pool(EVOLVED).unwrap();
    let desc = pool.get_message_by_name("pipeline.stock_ticks").unwrap();
    let mut m = DynamicMessage::new(desc.clone());
    let ts_desc = pool
        .get_message_by_name("google.protobuf.Timestamp")
        .unwrap();
    let mut ts = DynamicMessage::new(ts_desc);
    ts.set_field_by_name("seconds", Value::I64(TIME / 1000));
    ts.set_field_by_name("nanos", Value::I32(250_000_000));
    m.set_field_by_name("event_time", Value::Message(ts));
    let sv = pool
        .get_message_by_name("google.protobuf.StringValue")
        .unwrap();
    let mut id = DynamicMessage::new(sv);
    id.set_field_by_name("value", Value::String("e-77".into()));
    m.set_field_by_name("event_id", Value::Message(id));
    m.set_field_by_name("ticker", Value::String("NVDA".into()));
    m.set_field_by_name("price", Value::F64(101.5));
    m.set_field_by_name("volume", Value::I32(12));
    m.set_field_by_name("history", Value::List(vec![Value::I64(1), Value::I64(2)]));
    m.set_field_by_name("side", Value::EnumNumber(1));
    let body = {
        let index = glue_index(&pool.get_file_by_name(SCHEMA_FILE).unwrap(), &desc);
        let mut out = encode::index_prefix(Wire::Glue, index, &[]);
        m.encode(&mut out).unwrap();
        out
    };
    match outcome(&mut p, 0, &wire::frame(v2, true, &body)) {
        Outcome::Accepted { .. } => {}
        other => panic!("{other:?}"),
    }
    // Reading the fields directly: the timestamp in ms, the wrapper's value.
    let reader = Reader::compile(EVOLVED, None, &spec.event.fields).unwrap();
    let mut seen = Vec::new();
    reader
        .read(Wire::Glue, &body, false, |i, v| seen.push((i, v)))
        .unwrap();
    seen.sort_by_key(|(i, _)| *i);
    assert_eq!(
        seen,
        vec![
            (0, Json::Str(Cow::Borrowed("e-77"))),
            (1, Json::Str(Cow::Borrowed("NVDA"))),
            (2, Json::Float(101.5)),
            (3, Json::Int(12)),
            (4, Json::Time(TIME + 250)),
        ],
        "exchange is optional and absent"
    );
    // Without presence, an absent volume reads as 0, which the spec's range refuses.
    m.clear_field_by_name("volume");
    let mut body = encode::index_prefix(Wire::Glue, reader.glue_index, &[]);
    m.encode(&mut body).unwrap();
    let (reason, detail) = rejected(outcome(&mut p, 1, &wire::frame(v2, false, &body)));
    assert_eq!(reason, Reason::OutOfRange, "{detail}");
    // The event id's wrapper has presence: absent, it is missing.
    m.set_field_by_name("volume", Value::I32(12));
    m.clear_field_by_name("event_id");
    let mut body = encode::index_prefix(Wire::Glue, reader.glue_index, &[]);
    m.encode(&mut body).unwrap();
    let (reason, _) = rejected(outcome(&mut p, 2, &wire::frame(v2, false, &body)));
    assert_eq!(reason, Reason::MissingField);
}

#[test]
fn the_start_check_names_every_field_the_schema_does_not_serve() {
    let spec = json_spec();
    let schema = r#"
syntax = "proto3";
message T {
  bytes event_id = 1;
  string ticker = 2;
  repeated double price = 3;
  float event_time = 4;
  string exchange = 5;
}
"#;
    let problems = Reader::compile_strict(schema, None, &spec.event.fields).unwrap_err();
    let expected = [
        "event_id: the schema has bytes; the spec's string needs string or an enum",
        "price: the schema has a repeated field; the spec's decimal needs an integer type, float or double",
        "volume: the spec declares it; message T has no such field",
        "event_time: the schema has float; the spec's timestamp needs google.protobuf.Timestamp, an integer type (epoch ms) or string (RFC 3339)",
    ];
    assert_eq!(problems, expected);
    let encoder = ProtoEncoder::for_spec(&spec).unwrap();
    assert!(Reader::compile_strict(encoder.schema_text(), None, &spec.event.fields).is_ok());
    assert!(Reader::compile_strict(EVOLVED, None, &spec.event.fields).is_ok());
}

#[test]
fn a_protobuf_spec_reads_back_its_input_table() {
    let spec = spec_with(
        "\n[input]\nformat = \"protobuf\"\nmessage = \"shop.Order\"\n[input.glue]\nregistry = \"r\"\nschema = \"s\"\n",
    );
    match &spec.input {
        InputFormat::Registry(r) => {
            assert_eq!(r.schema_type, SchemaType::Protobuf);
            assert_eq!(r.message.as_deref(), Some("shop.Order"));
        }
        other => panic!("{other:?}"),
    }
    for (input, key) in [
        (
            "\n[input]\nformat = \"avro\"\nmessage = \"a.B\"\n[input.glue]\nregistry = \"r\"\nschema = \"s\"\n",
            "input.message",
        ),
        (
            "\n[input]\nformat = \"protobuf\"\nmessage = \"a..B\"\n[input.glue]\nregistry = \"r\"\nschema = \"s\"\n",
            "input.message",
        ),
        ("\n[input]\nformat = \"protobuf\"\n", "input"),
        ("\n[input]\nmessage = \"a.B\"\n", "input.format"),
    ] {
        let err = Spec::from_toml(&format!("{STOCK_TICKS_SPEC}{input}"), "f.toml").unwrap_err();
        assert!(err.problems.iter().any(|p| p.key == key), "{input}: {err}");
    }
}

#[test]
fn a_framer_writes_what_the_decoder_reads_in_both_wire_formats() {
    for (input, id) in [(GLUE_INPUT, V1), (CONFLUENT_INPUT, SchemaId::Confluent(1))] {
        let spec = spec_with(input);
        let encoder = SchemaEncoder::for_spec(&spec, SchemaType::Protobuf).unwrap();
        let text = encoder.schema_text().to_owned();
        let framer = Framer::new(encoder, id, true);
        let mut p = Partition::new(&spec);
        p.learn_schema(id, Ok(&text));
        assert_eq!(
            outcome(&mut p, 0, &framer.record(TICK)),
            Outcome::Accepted { missed_windows: 0 }
        );
        let (reason, _) = rejected(outcome(&mut p, 1, &framer.record(br#"{"price":"x"}"#)));
        assert_eq!(reason, Reason::Malformed);
    }
}

/// Every kind of field the reader steps over or reads, under the stock ticks' names.
const EVERY_TYPE: &str = r#"
syntax = "proto3";
package t;
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
message All {
  string ticker = 1;
  sint64 volume = 2;
  double price = 3;
  google.protobuf.Timestamp event_time = 4;
  google.protobuf.StringValue event_id = 5;
  repeated int64 a = 6;
  map<string, string> m = 7;
  Inner r = 8;
  E exchange = 9;
  bytes x = 10;
  fixed32 f = 11;
  message Inner { int32 i = 1; }
  enum E { NASDAQ = 0; NYSE = 1; }
}
"#;

/// What the checks should see of each declared field, by prost-reflect's decoding.
fn expected(message: &DynamicMessage) -> Vec<(usize, String)> {
    let get = |name: &str| message.get_field_by_name(name).unwrap().into_owned();
    let mut out = Vec::new();
    if message.has_field_by_name("event_id") {
        let Value::Message(w) = get("event_id") else {
            unreachable!()
        };
        let Value::String(s) = w.get_field_by_name("value").unwrap().into_owned() else {
            unreachable!()
        };
        out.push((0, format!("{:?}", Json::Str(Cow::Owned(s)))));
    }
    let Value::String(ticker) = get("ticker") else {
        unreachable!()
    };
    out.push((1, format!("{:?}", Json::Str(Cow::Owned(ticker)))));
    let Value::F64(price) = get("price") else {
        unreachable!()
    };
    out.push((2, format!("{:?}", Json::Float(price))));
    let Value::I64(volume) = get("volume") else {
        unreachable!()
    };
    out.push((3, format!("{:?}", Json::Int(volume))));
    if message.has_field_by_name("event_time") {
        let Value::Message(t) = get("event_time") else {
            unreachable!()
        };
        let seconds = t.get_field_by_name("seconds").unwrap().as_i64().unwrap();
        let nanos = t.get_field_by_name("nanos").unwrap().as_i32().unwrap();
        let ms = seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(nanos).div_euclid(1_000_000));
        out.push((4, format!("{:?}", Json::Time(ms))));
    }
    let Value::EnumNumber(n) = get("exchange") else {
        unreachable!()
    };
    let exchange = match n {
        0 => Json::Str(Cow::Borrowed("NASDAQ")),
        1 => Json::Str(Cow::Borrowed("NYSE")),
        n => Json::Int(i64::from(n)),
    };
    out.push((5, format!("{exchange:?}")));
    out
}

fn ours(reader: &Reader, body: &[u8]) -> Result<Vec<(usize, String)>, String> {
    let mut out = Vec::new();
    reader.read(Wire::Glue, body, false, |i, v| {
        out.push((i, format!("{:?}", v.into_owned_text())))
    })?;
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}

trait OwnedText {
    fn into_owned_text(self) -> Json<'static>;
}

impl OwnedText for Json<'_> {
    fn into_owned_text(self) -> Json<'static> {
        match self {
            Json::Str(s) => Json::Str(Cow::Owned(s.into_owned())),
            Json::Int(v) => Json::Int(v),
            Json::Float(f) => Json::Float(f),
            Json::Time(t) => Json::Time(t),
            Json::Bool(b) => Json::Bool(b),
            Json::Units(u, s) => Json::Units(u, s),
            Json::Bytes => Json::Bytes,
            Json::Object => Json::Object,
            Json::Array => Json::Array,
            Json::Null | Json::Num(_) => Json::Null,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    /// On any bytes that prost-reflect decodes as the message, this reader accepts them too
    /// and reads the same values. (It may accept more: it does not look inside the fields the
    /// spec does not declare.)
    #[test]
    fn the_reader_agrees_with_prost_reflect(bytes in prop::collection::vec(any::<u8>(), 0..48)) {
        let spec = json_spec();
        let reader = Reader::compile(EVERY_TYPE, None, &spec.event.fields).unwrap();
        let pool = descriptor_pool(EVERY_TYPE).unwrap();
        let desc = pool.get_message_by_name("t.All").unwrap();
        let framed = [&[0u8][..], &bytes].concat();
        if let Ok(message) = DynamicMessage::decode(desc, bytes.as_slice()) {
            prop_assert_eq!(ours(&reader, &framed), Ok(expected(&message)));
        } else {
            // Whatever the verdict, no panic.
            let _ = ours(&reader, &framed);
        }
    }

    /// Messages prost-reflect writes read back with the values written.
    #[test]
    fn messages_prost_reflect_writes_read_back(
        ticker in ".{0,12}",
        volume in any::<i64>(),
        price in any::<f64>(),
        seconds in any::<i64>(),
        nanos in any::<i32>(),
        exchange in 0i32..4,
        a in prop::collection::vec(any::<i64>(), 0..5),
        event_id in prop::option::of(".{0,8}"),
    ) {
        let pool = descriptor_pool(EVERY_TYPE).unwrap();
        let desc = pool.get_message_by_name("t.All").unwrap();
        let mut m = DynamicMessage::new(desc.clone());
        m.set_field_by_name("ticker", Value::String(ticker));
        m.set_field_by_name("volume", Value::I64(volume));
        m.set_field_by_name("price", Value::F64(price));
        let mut t = DynamicMessage::new(pool.get_message_by_name("google.protobuf.Timestamp").unwrap());
        t.set_field_by_name("seconds", Value::I64(seconds));
        t.set_field_by_name("nanos", Value::I32(nanos));
        m.set_field_by_name("event_time", Value::Message(t));
        if let Some(id) = event_id {
            let mut w = DynamicMessage::new(pool.get_message_by_name("google.protobuf.StringValue").unwrap());
            w.set_field_by_name("value", Value::String(id));
            m.set_field_by_name("event_id", Value::Message(w));
        }
        m.set_field_by_name("exchange", Value::EnumNumber(exchange));
        m.set_field_by_name("a", Value::List(a.into_iter().map(Value::I64).collect()));
        m.set_field_by_name("x", Value::Bytes(vec![1, 2, 3].into()));
        m.set_field_by_name("f", Value::U32(9));
        let mut r = DynamicMessage::new(pool.get_message_by_name("t.All.Inner").unwrap());
        r.set_field_by_name("i", Value::I32(-3));
        m.set_field_by_name("r", Value::Message(r));
        let body = m.encode_to_vec();
        let reader = Reader::compile(EVERY_TYPE, None, &json_spec().event.fields).unwrap();
        let decoded = DynamicMessage::decode(desc, body.as_slice()).unwrap();
        prop_assert_eq!(ours(&reader, &[&[0u8][..], &body].concat()), Ok(expected(&decoded)));
    }
}
