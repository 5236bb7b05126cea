//! The at-least-once suite against a real Kafka-compatible broker: tansu, started on a free
//! loopback port with in-memory storage. tansu has no transactions, which is what at-least-once
//! mode is for. `./scripts/test` installs tansu; run alone with
//! `cargo install tansu --features dynostore --locked` first.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{
    check_nothing_lost, check_outputs, engine, finish, inputs, kill_mid_run_and_restart, produce,
    spec,
};
use pipeline_testkit::moto::MotoServer;
use pipeline_testkit::tansu::Tansu;
use processor::{Delivery, Engine, EngineConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};

fn start_tansu() -> Tansu {
    let tansu = Tansu::start();
    processor::local::create_topics(&tansu.settings, &spec(), 3).unwrap();
    tansu
}

#[test]
fn at_least_once_on_tansu_delivers_exactly_the_expected_outputs() {
    let tansu = start_tansu();
    let inputs = inputs();
    produce(&tansu.settings, "ticks", &inputs);
    let mut engine = engine(&tansu.settings, "tansu-e2e");
    finish(&mut engine, &inputs);
    assert_eq!(engine.stats().dead_letters_total(), 15);
    check_outputs(&tansu.settings, &inputs, false);
    // What the group committed is what the engine handed over, metadata included.
    let consumer: BaseConsumer = tansu
        .settings
        .client_config()
        .unwrap()
        .set("group.id", "tansu-e2e")
        .create()
        .unwrap();
    let mut list = rdkafka::TopicPartitionList::new();
    for p in 0..3 {
        list.add_partition("ticks", p);
    }
    let stored = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .unwrap();
    for element in stored.elements() {
        let handed = &engine.handed_offsets()[&element.partition()];
        assert_eq!(element.offset(), rdkafka::Offset::Offset(handed.offset));
        // tansu 0.6 drops the metadata of offset commits.
        assert_eq!(element.metadata(), "");
        assert!(!handed.metadata.is_empty());
    }
}

/// The processor process is killed with SIGKILL in the middle of the input and restarted: no
/// window is lost, no dead letter either. tansu 0.6 keeps no offset-commit metadata (its
/// offset fetch answers the offset alone), so the restart cannot know which windows were
/// already emitted or the watermark: windows it reopens are emitted again, and one fed a
/// record the first run had refused as late differs from its first copy. On a broker that
/// keeps the metadata (Kafka, MSK, the embedded broker) every copy is identical; see
/// `tests/service.rs`.
#[test]
fn a_processor_killed_mid_run_and_restarted_loses_nothing() {
    let tansu = start_tansu();
    let inputs = inputs();
    kill_mid_run_and_restart(&tansu.settings, "tansu-kill", &inputs);
    check_nothing_lost(&tansu.settings, &inputs);
}

/// tansu has no transactions: in exactly-once mode the first batch fails, saying why and what
/// to use instead, rather than the processor running on without its guarantee.
#[test]
fn exactly_once_stops_on_a_broker_without_transactions() {
    let tansu = start_tansu();
    let inputs = inputs();
    produce(&tansu.settings, "ticks", &inputs);
    let mut config = EngineConfig::new("tansu-eos", Delivery::ExactlyOnce);
    config.request_timeout = Duration::from_secs(10);
    let mut engine = Engine::start(spec(), &tansu.settings, None, config).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let error = loop {
        assert!(Instant::now() < deadline, "no batch was attempted");
        if let Err(error) = engine.run_batch() {
            break error;
        }
    };
    let text = error.to_string();
    assert!(text.contains("does not support transactions"), "{text}");
    assert!(text.contains("--delivery at-least-once"), "{text}");
    assert_eq!(engine.stats().batches_committed, 0);
}

/// tansu is killed mid-stream and started again on the same port and store (an S3 bucket on
/// moto_server: its in-memory store would not survive): the engine rides the outage out without
/// a restart of its own, and every aggregate and dead letter is delivered (at-least-once:
/// identical repeats allowed).
#[test]
fn a_broker_restart_mid_stream_is_ridden_out_and_loses_nothing() {
    let moto = MotoServer::start();
    moto.create_bucket("tansu");
    let mut tansu = Tansu::start_on_s3(moto.url(), "tansu");
    processor::local::create_topics(&tansu.settings, &spec(), 3).unwrap();
    let inputs = inputs();
    let (first, second) = inputs.split_at(inputs.len() / 2);
    produce(&tansu.settings, "ticks", first);
    let mut engine = engine(&tansu.settings, "tansu-restart");
    let deadline = Instant::now() + Duration::from_secs(60);
    while engine.stats().records_in < first.len() as u64 {
        assert!(Instant::now() < deadline, "stalled: {:?}", engine.stats());
        engine.run_batch().unwrap();
    }
    tansu.restart();
    produce(&tansu.settings, "ticks", second);
    finish(&mut engine, &inputs);
    check_nothing_lost(&tansu.settings, &inputs);
}
