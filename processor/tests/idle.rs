//! A partition that goes quiet still closes its windows: after the spec's `idle_timeout` with
//! no record (and nothing left to read), the engine moves the partition's watermark by the
//! clock and delivers what that closes, with the advanced watermark in the committed
//! checkpoint; a record for a window closed that way is `late`, before and after a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::read_all;
use pipeline_core::{STOCK_TICKS_SPEC, Spec};
use pipeline_kafka::{EmbeddedKafka, KafkaSettings};
use processor::{Delivery, Engine, EngineConfig};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

const WINDOW_MS: i64 = 2_000;
const LATENESS_MS: i64 = 1_000;
const IDLE_MS: i64 = 1_000;

/// Stock ticks in two-second windows, one second of lateness, idle after one second.
fn spec() -> Arc<Spec> {
    let text = STOCK_TICKS_SPEC
        .replace("size = \"1m\"", "size = \"2s\"")
        .replace("allowed_lateness = \"10s\"", "allowed_lateness = \"1s\"")
        .replace("idle_timeout = \"1m\"", "idle_timeout = \"1s\"");
    let spec = Spec::from_toml(&text, "idle test").unwrap();
    assert_eq!(spec.window.idle_timeout_ms, Some(IDLE_MS));
    Arc::new(spec)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn tick(i: usize, event_time_ms: i64) -> String {
    format!(
        r#"{{"event_id":"t-{i}","ticker":"AMZN","price":187.25,"volume":10,"event_time":{event_time_ms}}}"#
    )
}

fn produce(settings: &KafkaSettings, records: &[(i64, String)]) {
    let producer: ThreadedProducer<DefaultProducerContext> =
        settings.producer_config().unwrap().create().unwrap();
    for (timestamp, payload) in records {
        producer
            .send(
                BaseRecord::to("ticks")
                    .partition(0)
                    .key("AMZN")
                    .payload(payload)
                    .timestamp(*timestamp),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

fn engine(settings: &KafkaSettings, delivery: Delivery) -> Engine {
    let mut config = EngineConfig::new("idle", delivery);
    config.transactional_id = "idle-tx".into();
    config.consumer_overrides = vec![
        ("session.timeout.ms".into(), "6000".into()),
        ("heartbeat.interval.ms".into(), "500".into()),
    ];
    Engine::start(spec(), settings, None, config).unwrap()
}

/// Runs batches until `done` holds, failing after `limit`.
fn run_until(engine: &mut Engine, limit: Duration, done: impl Fn(&Engine) -> bool) {
    let deadline = Instant::now() + limit;
    while !done(engine) {
        assert!(
            Instant::now() < deadline,
            "not within {limit:?}: {:?}",
            engine.stats()
        );
        engine.run_batch().unwrap();
    }
}

fn cluster() -> (EmbeddedKafka, KafkaSettings) {
    let kafka = EmbeddedKafka::start(1).unwrap();
    kafka.create_topic("ticks", 1).unwrap();
    kafka.create_topic("aggregates", 1).unwrap();
    kafka.create_topic("ticks.dlq", 1).unwrap();
    let settings = KafkaSettings::local(kafka.bootstrap_servers());
    (kafka, settings)
}

/// Ten ticks over the last second, then nothing: returns the end of the last one's window.
fn a_burst_then_quiet(settings: &KafkaSettings) -> i64 {
    let now = now_ms();
    let records: Vec<(i64, String)> = (0..10)
        .map(|i| {
            let t = now - 1_000 + i as i64 * 100;
            (t, tick(i, t))
        })
        .collect();
    produce(settings, &records);
    let last = records.last().unwrap().0;
    last - last.rem_euclid(WINDOW_MS) + WINDOW_MS
}

#[test]
fn a_quiet_partition_closes_its_last_window_on_time_and_a_later_record_for_it_is_late() {
    let (kafka, settings) = cluster();
    let mut engine = engine(&settings, Delivery::ExactlyOnce);
    let window_end = a_burst_then_quiet(&settings);
    run_until(&mut engine, Duration::from_secs(30), |e| {
        e.stats().records_in == 10
    });
    // The partition is quiet from here (the group's join took some of the time above).
    let quiet_since = Instant::now();

    // The window closes once the partition has been quiet for the idle timeout and the clock
    // has passed the window's end by the allowed lateness: never later than the later of the
    // two and one batch (100 ms), here with a second of slack for this shared machine.
    let wait_for_window = (window_end + LATENESS_MS - now_ms()).max(0) as u64;
    let bound = Duration::from_millis(wait_for_window.max(IDLE_MS as u64) + 100 + 1_000);
    run_until(&mut engine, bound + Duration::from_secs(5), |e| {
        e.stats().aggregates_out > 0
    });
    let closed_after = quiet_since.elapsed();
    assert!(
        closed_after <= bound,
        "closed {closed_after:?} after the last record was taken in; the bound is {bound:?}"
    );
    assert!(engine.stats().idle_advances >= 1);
    let aggregates = read_all(&settings, "aggregates", 1, 1);
    let json: serde_json::Value = serde_json::from_slice(&aggregates.last().unwrap().1).unwrap();
    assert_eq!(json["ticker"], "AMZN");
    let counted: u64 = aggregates
        .iter()
        .map(|(_, a, _)| {
            serde_json::from_slice::<serde_json::Value>(a).unwrap()["count"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(
        counted, 10,
        "every tick of the quiet partition is aggregated"
    );

    // A record for the window that closed by the clock is late, as for any closed window.
    let t = window_end - 500;
    produce(&settings, &[(now_ms(), tick(99, t))]);
    run_until(&mut engine, Duration::from_secs(30), |e| {
        e.stats().records_in == 11
    });
    assert_eq!(engine.stats().dead_letters.get("late"), Some(&1));
    drop(kafka);
}

/// At-least-once: the mock cluster does not store offsets sent inside a transaction, and the
/// checkpoint logic is the same in both modes.
#[test]
fn the_watermark_moved_by_the_clock_survives_a_restart() {
    let (kafka, settings) = cluster();
    let mut first = engine(&settings, Delivery::AtLeastOnce);
    let window_end = a_burst_then_quiet(&settings);
    run_until(&mut first, Duration::from_secs(30), |e| {
        e.stats().records_in == 10
    });
    run_until(&mut first, Duration::from_secs(30), |e| {
        e.stats().aggregates_out > 0 && e.stats().batches_committed > 0
    });
    assert!(first.stats().idle_advances >= 1);
    drop(first);

    // The next instance resumes from the committed checkpoint, watermark included: the closed
    // window stays closed, and its aggregate is not emitted again.
    let mut second = engine(&settings, Delivery::AtLeastOnce);
    produce(&settings, &[(now_ms(), tick(99, window_end - 500))]);
    run_until(&mut second, Duration::from_secs(30), |e| {
        e.stats().records_in >= 1
    });
    assert_eq!(second.stats().dead_letters.get("late"), Some(&1));
    assert_eq!(second.stats().aggregates_out, 0, "{:?}", second.stats());
    drop(kafka);
}
