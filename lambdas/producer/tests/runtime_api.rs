//! The built producer invoked for real through the Lambda Runtime API emulator
//! (`cargo lambda watch` + `cargo lambda invoke`) with the EventBridge schedule fixture,
//! configured only by environment variables as in AWS, producing to the embedded broker.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pipeline_kafka::{EmbeddedKafka, KafkaSettings};
use pipeline_testkit::emulator::RuntimeEmulator;
use rdkafka::consumer::{BaseConsumer, Consumer};

const BINARY: &str = env!("CARGO_BIN_EXE_producer");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eventbridge-schedule.json")
}

fn env(brokers: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_REGION", "us-east-1".into()),
        ("BOOTSTRAP_BROKERS", brokers.into()),
        ("KAFKA_AUTH", "plaintext".into()),
        ("PIPELINE", "orders".into()),
        ("EVENTS_PER_INVOCATION", "120".into()),
        ("DELIVERY_TIMEOUT_SECONDS", "3".into()),
    ]
}

/// Records in `topic` across its partitions, from the high watermarks.
fn records_in(settings: &KafkaSettings, topic: &str, partitions: i32) -> i64 {
    let consumer: BaseConsumer = settings.client_config().unwrap().create().unwrap();
    (0..partitions)
        .map(|p| {
            let (low, high) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .unwrap();
            high - low
        })
        .sum()
}

#[test]
fn the_built_function_produces_a_minute_of_events_per_scheduled_event() {
    let kafka = EmbeddedKafka::start(1).unwrap();
    kafka.create_topic("orders", 3).unwrap();
    let settings = KafkaSettings::local(kafka.bootstrap_servers());
    let emulator = RuntimeEmulator::start(env!("CARGO_MANIFEST_DIR"));
    let mut function =
        emulator.start_function("producer", Path::new(BINARY), &env(&settings.brokers));

    let summary = emulator.invoke("producer", &fixture()).unwrap();

    assert_eq!(summary["topic"], "orders", "the spec's input topic");
    assert_eq!(
        (summary["sent"].as_u64(), summary["failed"].as_u64()),
        (Some(120), Some(0))
    );
    assert_eq!(summary["first_event_time"], "2026-11-21T14:30:00.000Z");
    assert_eq!(records_in(&settings, "orders", 3), 120);

    // The warm process serves the next schedule too.
    let again = emulator.invoke("producer", &fixture()).unwrap();
    assert_eq!(again["sent"].as_u64(), Some(120));
    assert!(function.running());
    assert_eq!(records_in(&settings, "orders", 3), 240);
}

#[test]
fn undelivered_events_fail_the_invocation() {
    // Nothing listens on port 1: no event can be delivered within the timeout.
    let emulator = RuntimeEmulator::start(env!("CARGO_MANIFEST_DIR"));
    let _function = emulator.start_function("producer", Path::new(BINARY), &env("127.0.0.1:1"));

    let error = emulator.invoke("producer", &fixture()).unwrap_err();

    assert!(
        error.contains("120 of 120 events were not delivered to `orders`"),
        "{error}"
    );
}

#[test]
fn a_bad_variable_stops_the_function_at_start_naming_it() {
    let output = Command::new(BINARY)
        .env_clear()
        .envs(env("127.0.0.1:1"))
        .env("EVENTS_PER_INVOCATION", "lots")
        .env("MALFORMED_SHARE", "2")
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in ["EVENTS_PER_INVOCATION", "`lots`", "MALFORMED_SHARE", "`2`"] {
        assert!(
            stderr.contains(expected),
            "missing {expected} in:\n{stderr}"
        );
    }
}
