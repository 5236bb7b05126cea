//! `processor replay` against the embedded broker: a spec that wrongly refuses a ticker sends
//! its ticks to the DLQ; after the fix, the replay re-publishes them to a backfill topic and a
//! processor reading it produces the aggregates the first run should have; the dry run sends
//! nothing and lists the same records.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{BASE_MS, Input, cluster, expected, finish, inputs, produce, read_all, spec};
use pipeline_core::{Decoder, Reason, STOCK_TICKS_SPEC, Spec};
use pipeline_kafka::KafkaSettings;
use processor::replay::{REPLAY_SOURCE, ReplayOptions, replay};
use processor::{Delivery, Engine, EngineConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value;

const BACKFILL: &str = "ticks.replay";

/// The shipped spec with another pattern for the ticker and, optionally, another input topic.
fn spec_with(pattern: &str, input: &str) -> Spec {
    // The generator's listed tickers would not all match a narrower pattern (the test makes its
    // own events): list two that match both.
    let listed = STOCK_TICKS_SPEC
        .lines()
        .find(|l| l.starts_with("generate = { values = [\"AMZN\""))
        .unwrap();
    let toml = STOCK_TICKS_SPEC
        .replace(listed, r#"generate = { values = ["AMZN", "AAPL"] }"#)
        .replace(r#"pattern = "^[A-Z][A-Z0-9.]*$""#, pattern)
        .replace(r#"input = "ticks""#, &format!(r#"input = "{input}""#));
    Spec::from_toml(&toml, "test spec").unwrap()
}

/// The broken spec: only tickers starting with A, so every MSFT tick (partition 2) is refused.
fn broken() -> Spec {
    spec_with(r#"pattern = "^A[A-Z0-9.]*$""#, "ticks")
}

fn options(dry_run: bool) -> ReplayOptions {
    ReplayOptions {
        source: "ticks.dlq".into(),
        target: BACKFILL.into(),
        since_ms: None,
        until_ms: None,
        reasons: vec![Reason::InvalidValue],
        include_refused: false,
        dry_run,
        timeout: Duration::from_secs(30),
    }
}

fn high_waters(settings: &KafkaSettings, topic: &str) -> Vec<i64> {
    let consumer: BaseConsumer = settings.client_config().unwrap().create().unwrap();
    (0..3)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .unwrap()
                .1
        })
        .collect()
}

/// What the broken spec refuses as `invalid_value`, split by the fixed spec's verdict:
/// (offsets on partition 2 it now accepts, reason → count of those it still refuses).
fn verdicts(inputs: &[Input]) -> (Vec<i64>, BTreeMap<&'static str, u64>) {
    let (broken, fixed) = (broken(), spec());
    let (mut before, mut after) = (Decoder::new(&broken), Decoder::new(&fixed));
    let mut accepted = Vec::new();
    let mut still = BTreeMap::new();
    for (offset, input) in inputs.iter().filter(|i| i.partition == 2).enumerate() {
        let payload = Some(input.payload.as_slice());
        match before.decode(payload, input.timestamp_ms) {
            Err(r) if r.reason == Reason::InvalidValue => {
                match after.decode(payload, input.timestamp_ms) {
                    Ok(_) => accepted.push(offset as i64),
                    Err(r) => *still.entry(r.reason.code()).or_default() += 1,
                }
            }
            _ => {}
        }
    }
    (accepted, still)
}

#[test]
fn dead_letters_replayed_after_a_fix_become_the_missing_aggregates() {
    let cluster = cluster();
    cluster.kafka.create_topic(BACKFILL, 3).unwrap();
    let settings = &cluster.settings;
    let inputs = inputs();
    produce(settings, "ticks", &inputs);

    // The broken processor: MSFT ticks all go to the DLQ.
    let mut first = Engine::start(
        Arc::new(broken()),
        settings,
        None,
        EngineConfig::new("processor", Delivery::ExactlyOnce),
    )
    .unwrap();
    finish(&mut first, &inputs);
    assert!(first.stats().dead_letters["invalid_value"] >= 170);
    let first_aggregates = first.stats().aggregates_out as usize;
    drop(first);

    let (accepted, still) = verdicts(&inputs);
    assert!(
        accepted.len() >= 170,
        "most MSFT ticks are fine: {accepted:?}"
    );

    // The dry run lists exactly those the fixed spec accepts and sends nothing.
    let fixed = spec();
    let plan = replay(&fixed, settings, None, &options(true)).unwrap();
    let origins: Vec<i64> = plan
        .chosen
        .iter()
        .map(|c| {
            assert_eq!((c.origin.0.as_str(), c.origin.1), ("ticks", 2));
            assert_eq!(c.dead_letter.as_ref().unwrap().0, "invalid_value");
            assert_eq!(c.refused, None);
            c.origin.2
        })
        .collect();
    assert_eq!(origins, accepted);
    assert_eq!(plan.still_refused, still);
    assert!(plan.other_reasons > 0, "the other partitions' bad ticks");
    assert_eq!(plan.sent, 0);
    assert_eq!(
        high_waters(settings, BACKFILL),
        [0, 0, 0],
        "a dry run sends nothing"
    );
    // MSFT's earliest event (the late one, 14:29:55) is in the 14:29 window: reprocess
    // partition 2 from 10 s before its start (the embedded broker cannot look up offsets by
    // time; MSK can).
    assert_eq!(
        plan.reprocess_from,
        BTreeMap::from([(2, (BASE_MS - 70_000, None))])
    );
    let summary = plan.summary(&options(true));
    assert!(
        summary.contains(&format!("would send {} record(s)", accepted.len())),
        "{summary}"
    );
    assert!(
        summary.contains("ticks:2 to 2026-11-21T14:28:50.000Z"),
        "{summary}"
    );

    // The same through the command line: one JSON line per record to send.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_processor"))
        .args(["replay", "--brokers", &settings.brokers, "--to", BACKFILL])
        .args(["--reason", "invalid_value", "--dry-run"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), accepted.len());
    assert_eq!(lines[0]["origin"], format!("ticks/2/{}", accepted[0]));
    assert_eq!(lines[0]["now"], "accepted");
    assert_eq!(lines[0]["dlq_reason"], "invalid_value");
    assert_eq!(high_waters(settings, BACKFILL), [0, 0, 0]);

    // The replay itself: the same records, in order, on their partition, bytes untouched.
    let report = replay(&fixed, settings, None, &options(false)).unwrap();
    assert_eq!(report.sent, accepted.len() as u64);
    let copies = read_all(settings, BACKFILL, 3, accepted.len());
    let msft: Vec<&Input> = inputs.iter().filter(|i| i.partition == 2).collect();
    assert_eq!(copies.len(), accepted.len());
    for ((partition, payload, headers), offset) in copies.iter().zip(&accepted) {
        assert_eq!(*partition, 2);
        assert_eq!(payload, &msft[*offset as usize].payload);
        assert!(headers[REPLAY_SOURCE].starts_with("ticks.dlq/0/"));
    }

    // A processor in its own group reads the backfill topic and emits MSFT's aggregates.
    let config = EngineConfig::new("processor-backfill", Delivery::ExactlyOnce);
    let backfill_spec = Arc::new(spec_with(r#"pattern = "^[A-Z][A-Z0-9.]*$""#, BACKFILL));
    let mut backfill = Engine::start(backfill_spec, settings, None, config).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while backfill.high_waters().get(&2).copied().unwrap_or(0) < accepted.len() as i64 {
        assert!(Instant::now() < deadline, "stalled: {:?}", backfill.stats());
        backfill.run_batch().unwrap();
    }
    backfill.close_all().unwrap();
    let total = first_aggregates + backfill.stats().aggregates_out as usize;
    let mut got: Vec<String> = read_all(settings, "aggregates", 3, total)
        .into_iter()
        .map(|(_, payload, _)| String::from_utf8(payload).unwrap())
        .filter(|a| a.contains(r#""ticker":"MSFT""#))
        .collect();
    got.sort();
    let (all, _) = expected(&fixed, &inputs);
    let want: Vec<String> = all
        .into_iter()
        .filter(|a| a.contains(r#""ticker":"MSFT""#))
        .collect();
    assert_eq!(want.len(), 3, "three minutes of MSFT");
    assert_eq!(got, want);
}

#[test]
fn a_time_range_of_the_input_topic_is_copied_and_only_that() {
    let cluster = cluster();
    cluster.kafka.create_topic(BACKFILL, 3).unwrap();
    let settings = &cluster.settings;
    let inputs = inputs();
    produce(settings, "ticks", &inputs);

    let (since, until) = (BASE_MS + 60_000, BASE_MS + 120_000);
    let in_range: Vec<&Input> = inputs
        .iter()
        .filter(|i| (since..until).contains(&i.timestamp_ms))
        .collect();
    let mut range = ReplayOptions {
        source: "ticks".into(),
        since_ms: Some(since),
        until_ms: Some(until),
        reasons: vec![],
        include_refused: true,
        ..options(true)
    };
    let plan = replay(&spec(), settings, None, &range).unwrap();
    assert_eq!(plan.read, in_range.len() as u64);
    assert_eq!(plan.chosen.len(), in_range.len(), "refused ones included");
    assert!(plan.still_refused.values().sum::<u64>() > 0);

    range.dry_run = false;
    range.include_refused = false;
    let report = replay(&spec(), settings, None, &range).unwrap();
    let refused: u64 = report.still_refused.values().sum();
    assert_eq!(report.sent + refused, in_range.len() as u64);
    let copies = read_all(settings, BACKFILL, 3, report.sent as usize);
    assert_eq!(copies.len() as u64, report.sent);
    let mut want: Vec<(i32, Vec<u8>)> = in_range
        .iter()
        .filter(|i| {
            Decoder::new(&spec())
                .decode(Some(&i.payload), i.timestamp_ms)
                .is_ok()
        })
        .map(|i| (i.partition, i.payload.clone()))
        .collect();
    let mut got: Vec<(i32, Vec<u8>)> = copies.into_iter().map(|(p, b, _)| (p, b)).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn a_missing_target_is_refused_before_anything_is_read() {
    let cluster = cluster();
    let err = replay(&spec(), &cluster.settings, None, &options(false))
        .unwrap_err()
        .to_string();
    assert!(err.contains("topic ticks.replay does not exist"), "{err}");
}
