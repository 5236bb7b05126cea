//! A valid event on the hot path allocates nothing: decoding borrows from the payload, keys are
//! inline, accumulators sit in a window's reused blocks. Counted per thread, so the test
//! harness's own allocations on other threads do not interfere. Checked on the stock-ticks spec
//! and on the sensor-readings spec (a composite key, hopping windows, a filter).

#![allow(unsafe_code, clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use pipeline_core::generator::{EventGenerator, GeneratorConfig};
use pipeline_core::{Outcome, Partition, Record, STOCK_TICKS_SPEC, Spec};

struct PerThreadCounting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for PerThreadCounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: PerThreadCounting = PerThreadCounting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn valid_events_in_open_windows_allocate_nothing() {
    let spec = Spec::from_toml(STOCK_TICKS_SPEC, "stock-ticks").unwrap();
    let mut partition = Partition::new(&spec);
    let mut closed = Vec::with_capacity(16);
    let base = 1_795_271_400_000i64; // 2026-11-21T14:30:00Z
    let tickers = ["AMZN", "AAPL", "MSFT", "GOOGL"];
    let payloads: Vec<Vec<u8>> = (0..4_000)
        .map(|i| {
            format!(
                r#"{{"event_id":"e-{i}","ticker":"{}","price":{}.{:04},"volume":{},"event_time":"2026-11-21T14:30:{:02}.{:03}Z","exchange":"NASDAQ"}}"#,
                tickers[i % 4],
                100 + i % 7,
                i % 10_000,
                1 + i % 500,
                (i / 1_000) * 10 + 5,
                i % 1_000
            )
            .into_bytes()
        })
        .collect();
    let feed = |partition: &mut Partition, closed: &mut Vec<_>, range: std::ops::Range<usize>| {
        for i in range {
            let record = Record {
                offset: i as i64,
                timestamp_ms: base + 30_000,
                payload: Some(&payloads[i]),
            };
            let outcome = partition.process(record, closed);
            assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
        }
    };
    // Warm up: the window and its key map exist once every ticker has been seen.
    feed(&mut partition, &mut closed, 0..8);
    let before = allocations();
    feed(&mut partition, &mut closed, 8..payloads.len());
    assert_eq!(
        allocations() - before,
        0,
        "allocations while processing valid events"
    );
    assert!(closed.is_empty());
    partition.close_all(&mut closed);
    assert_eq!(
        closed
            .iter()
            .map(|a| match a.value(&spec, "count") {
                Some(pipeline_core::Cell::Integer(n)) => *n as u64,
                other => panic!("{other:?}"),
            })
            .sum::<u64>(),
        payloads.len() as u64
    );
}

#[test]
fn a_composite_key_hopping_windows_and_a_filter_allocate_nothing_either() {
    let text = pipeline_core::shipped_spec("sensor-readings").unwrap();
    let spec = Spec::from_toml(text, "sensor-readings").unwrap();
    let mut generator = EventGenerator::new(&spec, GeneratorConfig::default());
    let base = 1_795_271_400_000i64;
    let mut payloads = Vec::new();
    let mut buf = Vec::new();
    // 20 seconds of readings: within one set of open windows.
    for i in 0..4_000 {
        generator.next_into(base + i * 5, &mut buf);
        payloads.push(buf.clone());
    }
    let mut partition = Partition::new(&spec);
    let mut closed = Vec::with_capacity(64);
    let feed = |partition: &mut Partition, closed: &mut Vec<_>, range: std::ops::Range<usize>| {
        for i in range {
            let record = Record {
                offset: i as i64,
                timestamp_ms: base + 20_000,
                payload: Some(&payloads[i]),
            };
            let outcome = partition.process(record, closed);
            assert!(
                matches!(outcome, Outcome::Accepted { .. } | Outcome::Filtered),
                "{outcome:?}"
            );
        }
    };
    // Warm up until every key has its block in every open window.
    feed(&mut partition, &mut closed, 0..2_000);
    let before = allocations();
    feed(&mut partition, &mut closed, 2_000..payloads.len());
    assert_eq!(
        allocations() - before,
        0,
        "allocations while processing valid events"
    );
    assert!(closed.is_empty());
}

#[test]
fn avro_and_protobuf_events_in_either_wire_format_allocate_nothing_either() {
    use pipeline_core::wire::SchemaId;
    let glue = "[input.glue]\nregistry = \"r\"\nschema = \"s\"\n";
    let confluent = "[input.confluent]\nurl = \"http://localhost\"\nsubject = \"s\"\n";
    for format in ["avro", "protobuf"] {
        registered_events_allocate_nothing(format, glue, SchemaId::Glue([3; 16]));
        registered_events_allocate_nothing(format, confluent, SchemaId::Confluent(3));
    }
}

fn registered_events_allocate_nothing(
    format: &str,
    registry: &str,
    id: pipeline_core::wire::SchemaId,
) {
    use pipeline_core::framer::SchemaEncoder;
    use pipeline_core::wire;
    let text = format!("{STOCK_TICKS_SPEC}\n[input]\nformat = \"{format}\"\n{registry}");
    let spec = Spec::from_toml(&text, "stock-ticks-registered").unwrap();
    let schema_type = spec.input.registry().unwrap().schema_type;
    let encoder = SchemaEncoder::for_spec(&spec, schema_type).unwrap();
    let mut generator = EventGenerator::new(&spec, GeneratorConfig::default());
    let base = 1_795_271_400_000i64;
    let mut buf = Vec::new();
    let payloads: Vec<Vec<u8>> = (0..4_000)
        .map(|i| {
            generator.next_into(base + i * 5, &mut buf);
            wire::frame(id, false, &encoder.encode_json(&buf, id.wire()).unwrap())
        })
        .collect();
    let mut partition = Partition::new(&spec);
    partition.learn_schema(id, Ok(encoder.schema_text()));
    let mut closed = Vec::with_capacity(16);
    let feed = |partition: &mut Partition, closed: &mut Vec<_>, range: std::ops::Range<usize>| {
        for (i, payload) in payloads
            .iter()
            .enumerate()
            .take(range.end)
            .skip(range.start)
        {
            let record = Record {
                offset: i as i64,
                timestamp_ms: base + 20_000,
                payload: Some(payload),
            };
            let outcome = partition.process(record, closed);
            assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
        }
    };
    feed(&mut partition, &mut closed, 0..400);
    let before = allocations();
    feed(&mut partition, &mut closed, 400..payloads.len());
    assert_eq!(
        allocations() - before,
        0,
        "allocations while processing {format} events framed as {id:?}"
    );
}
