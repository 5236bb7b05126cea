//! The stock-ticks pipeline's output for a fixed input, kept byte for byte: the input records
//! (`golden/stock-ticks.input.jsonl`: offset, record timestamp, payload), the aggregates the core
//! emitted for them (`.aggregates.jsonl`) and the dead letters (`.dead-letters.txt`: offset and
//! reason), recorded before the spec became general. Any change to what the shipped stock-ticks
//! spec computes fails here.
//!
//! To record them again on purpose (a deliberate change of output), run with
//! `PIPELINE_GOLDEN_WRITE=1` and review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::PathBuf;

use pipeline_core::{Outcome, Partition, Record, STOCK_TICKS_SPEC, Spec};
use serde_json::Value;

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Runs the core over the input; returns (aggregates, dead letters) as the files hold them.
fn run(spec: &Spec, input: &str) -> (String, String) {
    let mut partition = Partition::new(spec);
    let mut closed = Vec::new();
    let mut dead = String::new();
    for line in input.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        let offset = record["offset"].as_i64().unwrap();
        let payload = record["payload"].as_str().unwrap().as_bytes();
        let outcome = partition.process(
            Record {
                offset,
                timestamp_ms: record["timestamp_ms"].as_i64().unwrap(),
                payload: Some(payload),
            },
            &mut closed,
        );
        if let Outcome::Rejected(rejection) = outcome {
            writeln!(dead, "{offset} {}", rejection.reason.code()).unwrap();
        }
    }
    partition.close_all(&mut closed);
    let mut aggregates = String::new();
    for aggregate in &closed {
        aggregates.push_str(&aggregate.to_json(spec));
        aggregates.push('\n');
    }
    (aggregates, dead)
}

#[test]
fn the_stock_ticks_spec_gives_the_recorded_output_byte_for_byte() {
    let spec = Spec::from_toml(STOCK_TICKS_SPEC, "stock-ticks").unwrap();
    let input = std::fs::read_to_string(path("stock-ticks.input.jsonl")).unwrap();
    let (aggregates, dead) = run(&spec, &input);
    if std::env::var_os("PIPELINE_GOLDEN_WRITE").is_some() {
        std::fs::write(path("stock-ticks.aggregates.jsonl"), &aggregates).unwrap();
        std::fs::write(path("stock-ticks.dead-letters.txt"), &dead).unwrap();
    }
    let want = std::fs::read_to_string(path("stock-ticks.aggregates.jsonl")).unwrap();
    let want_dead = std::fs::read_to_string(path("stock-ticks.dead-letters.txt")).unwrap();
    assert!(
        want.lines().count() > 50,
        "the fixture holds the aggregates"
    );
    for (i, (got, want)) in aggregates.lines().zip(want.lines()).enumerate() {
        assert_eq!(got, want, "aggregate {i}");
    }
    assert_eq!(aggregates, want, "the same aggregates, in the same order");
    assert_eq!(dead, want_dead, "the same dead letters");
}
