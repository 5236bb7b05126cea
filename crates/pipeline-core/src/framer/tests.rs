use super::*;
use crate::generator::{EventGenerator, GeneratorConfig};
use crate::{Outcome, Partition, Reason, Record, STOCK_TICKS_SPEC};

const TIME: i64 = 1_795_271_405_000;

/// The same generated events as JSON and as Avro or Protobuf, in both wire formats, two
/// schema versions alternating and (for Glue) every third body compressed: the same outcome
/// for each event and the same aggregates.
#[test]
fn the_same_events_as_json_and_as_avro_or_protobuf_give_identical_aggregates() {
    let json = Spec::from_toml(STOCK_TICKS_SPEC, "stock-ticks.toml").unwrap();
    let config = GeneratorConfig {
        malformed_share: 0.05,
        disorder_share: 0.05,
        max_disorder_ms: 30_000,
        ..GeneratorConfig::default()
    };
    let glue = "[input.glue]\nregistry = \"pipeline\"\nschema = \"stock-ticks\"\n";
    let confluent =
        "[input.confluent]\nurl = \"http://localhost:8081\"\nsubject = \"ticks-value\"\n";
    for schema_type in [SchemaType::Avro, SchemaType::Protobuf] {
        for (registry, ids) in [
            (glue, [SchemaId::Glue([7; 16]), SchemaId::Glue([8; 16])]),
            (confluent, [SchemaId::Confluent(1), SchemaId::Confluent(2)]),
        ] {
            let input = format!(
                "{STOCK_TICKS_SPEC}\n[input]\nformat = \"{}\"\n{registry}",
                schema_type.name()
            );
            let spec = Spec::from_toml(&input, "stock-ticks.toml").unwrap();
            let encoder = SchemaEncoder::for_spec(&spec, schema_type).unwrap();
            let mut generator = EventGenerator::new(&json, config.clone());
            let mut by_json = Partition::new(&json);
            let mut by_schema = Partition::new(&spec);
            for id in ids {
                by_schema.learn_schema(id, Ok(encoder.schema_text()));
            }
            let (mut out_json, mut out_schema) = (Vec::new(), Vec::new());
            let mut payload = Vec::new();
            let mut compared = 0;
            for i in 0..20_000i64 {
                let generated = generator.next_into(TIME + i * 100, &mut payload);
                let id = ids[(i % 2) as usize];
                let Ok(body) = encoder.encode_json(&payload, id.wire()) else {
                    assert!(generated.broken.is_some(), "a valid event must encode");
                    continue;
                };
                let framed = wire::frame(id, i % 3 == 0, &body);
                let record = |payload| Record {
                    offset: compared,
                    timestamp_ms: TIME + i * 100,
                    payload: Some(payload),
                };
                let a = by_json.process(record(&payload), &mut out_json);
                let b = by_schema.process(record(&framed), &mut out_schema);
                match (&a, &b) {
                    (Outcome::Rejected(x), Outcome::Rejected(y)) => {
                        assert_eq!(x.reason, y.reason, "event {i}")
                    }
                    _ => assert_eq!(a, b, "event {i}"),
                }
                compared += 1;
            }
            by_json.close_all(&mut out_json);
            by_schema.close_all(&mut out_schema);
            assert!(out_json.len() > 100, "{} aggregates", out_json.len());
            let rows = |out: &[crate::Aggregate], spec| {
                out.iter().map(|a| a.to_json(spec)).collect::<Vec<_>>()
            };
            assert_eq!(rows(&out_json, &json), rows(&out_schema, &spec));
            assert!(
                by_schema.stats().rejected(Reason::InvalidValue) > 0,
                "broken events that encode are judged alike"
            );
            if schema_type == SchemaType::Protobuf {
                assert!(
                    by_schema.stats().rejected(Reason::MissingField) > 0,
                    "optional fields keep an absent value absent"
                );
            }
        }
    }
}
