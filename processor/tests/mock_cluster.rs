//! The processor end to end on the embedded broker (librdkafka's mock cluster): known input in,
//! exactly the expected aggregates and dead letters out, in both delivery modes, and across a
//! crash and restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Cluster, Input, check_outputs, cluster, expected, inputs, produce, read_all, spec};
use processor::{Delivery, Engine, EngineConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

fn engine(cluster: &Cluster, group: &str, delivery: Delivery) -> Engine {
    let mut config = EngineConfig::new(group, delivery);
    config.transactional_id = format!("{group}-tx");
    // Small batches: many transactions per test, and room to inject faults between them.
    config.max_batch = 64;
    config.consumer_overrides = vec![
        ("session.timeout.ms".into(), "6000".into()),
        ("heartbeat.interval.ms".into(), "500".into()),
    ];
    Engine::start(spec(), &cluster.settings, None, config).unwrap()
}

/// Runs batches until the engine has taken in `records` records (or a deadline passes).
fn run_until(engine: &mut Engine, records: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while engine.stats().records_in < records {
        assert!(Instant::now() < deadline, "stalled: {:?}", engine.stats());
        engine.run_batch().unwrap();
    }
}

/// Runs batches until one fails, and returns its error (or panics after a deadline).
fn run_until_error(engine: &mut Engine) -> processor::EngineError {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "the failure went unnoticed: {:?}",
            engine.stats()
        );
        if let Err(error) = engine.run_batch() {
            return error;
        }
    }
}

fn end_to_end(delivery: Delivery) {
    let cluster = cluster();
    let inputs = inputs();
    produce(&cluster.settings, "ticks", &inputs);
    let mut engine = engine(&cluster, &format!("e2e-{delivery:?}"), delivery);
    run_until(&mut engine, inputs.len() as u64);
    engine.close_all().unwrap();
    assert_eq!(engine.stats().dead_letters_total(), 15);
    check_outputs(&cluster.settings, &inputs, false);
    drop(cluster.kafka);
}

#[test]
fn exactly_once_delivers_exactly_the_expected_outputs() {
    end_to_end(Delivery::ExactlyOnce);
}

#[test]
fn at_least_once_delivers_the_same_outputs() {
    end_to_end(Delivery::AtLeastOnce);
}

/// A processor abandoned mid-stream (no final commit, no close) and another started in the same
/// group: the second resumes from the committed checkpoints, and every window arrives exactly
/// once. At-least-once mode, because the mock cluster does not store offsets sent inside a
/// transaction; the recovery logic is the same code in both modes.
#[test]
fn a_restarted_processor_resumes_from_the_checkpoints_without_loss_or_repeats() {
    let cluster = cluster();
    let inputs = inputs();
    let (first, second) = inputs.split_at(inputs.len() / 2);
    produce(&cluster.settings, "ticks", first);
    {
        let mut crashed = engine(&cluster, "restart", Delivery::AtLeastOnce);
        run_until(&mut crashed, first.len() as u64);
        // Dropped here: its open windows are lost with it, only the commits remain.
    }
    produce(&cluster.settings, "ticks", second);
    let mut resumed = engine(&cluster, "restart", Delivery::AtLeastOnce);
    let deadline = Instant::now() + Duration::from_secs(60);
    // The second instance re-reads from the safe offsets: more than the second half.
    while resumed.assigned().len() < 3
        || resumed.stats().records_in < second.len() as u64
        || !caught_up(&resumed, &cluster)
    {
        assert!(Instant::now() < deadline, "stalled: {:?}", resumed.stats());
        resumed.run_batch().unwrap();
    }
    resumed.close_all().unwrap();
    check_outputs(&cluster.settings, &inputs, false);
}

/// Whether the engine's consumer group has committed the end of every input partition.
fn caught_up(_engine: &Engine, cluster: &Cluster) -> bool {
    let consumer: BaseConsumer = cluster
        .settings
        .client_config()
        .unwrap()
        .set("group.id", "restart")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..3 {
        list.add_partition("ticks", p);
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(5))
        .unwrap();
    committed.elements().iter().all(|e| {
        let (_, high) = consumer
            .fetch_watermarks("ticks", e.partition(), Duration::from_secs(5))
            .unwrap();
        // Committed offsets trail open windows; the high-water mark in the metadata does not.
        pipeline_core::Checkpoint::from_metadata(
            match e.offset() {
                Offset::Offset(o) => o,
                _ => return false,
            },
            e.metadata(),
        )
        .is_ok_and(|cp| cp.high_water == high)
    })
}

/// A batch that cannot be delivered stops the engine; a processor restarted in the same group
/// resumes from the last commit and nothing is lost (at-least-once: some outputs may repeat,
/// identical). At-least-once, because the embedded broker stores no offsets sent inside a
/// transaction.
#[test]
fn a_failed_delivery_stops_the_engine_and_a_restart_loses_nothing() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let cluster = cluster();
    let inputs = inputs();
    produce(&cluster.settings, "ticks", &inputs);
    {
        let mut engine = engine(&cluster, "fail", Delivery::AtLeastOnce);
        run_until(&mut engine, 135);
        // The next produce requests (the engine's outputs) are refused.
        cluster.kafka.mock().request_errors(
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 3],
        );
        let error = run_until_error(&mut engine);
        assert!(error.to_string().contains("authorization"), "{error}");
    }
    // Restart as a supervisor (ECS) would, until a run gets through: the remaining injected
    // errors stop a restarted engine too.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut restarts = 0;
    'restart: loop {
        restarts += 1;
        assert!(restarts <= 5, "still failing after {restarts} restarts");
        let mut restarted = engine(&cluster, "fail", Delivery::AtLeastOnce);
        while !all_read(&restarted, &inputs) {
            assert!(
                Instant::now() < deadline,
                "stalled: {:?}",
                restarted.stats()
            );
            if restarted.run_batch().is_err() {
                continue 'restart;
            }
        }
        if restarted.close_all().is_ok() {
            break;
        }
    }
    check_outputs(&cluster.settings, &inputs, true);
}

/// In exactly-once mode a batch whose outputs the broker refuses is aborted and stops the
/// engine: readers see exactly what was committed before it, nothing of it, nothing repeated.
/// (The embedded broker does not isolate transactions — its fetch answers give the high
/// watermark as the last stable offset and list no aborted transactions — so outputs that
/// reached it inside an open or aborted transaction would be visible to any reader; that half
/// of exactly-once needs a broker with transactions, and none runs here.)
#[test]
fn a_failed_transaction_is_aborted_and_nothing_of_it_is_visible() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let cluster = cluster();
    let inputs = inputs();
    produce(&cluster.settings, "ticks", &inputs);
    let mut engine = engine(&cluster, "abort", Delivery::ExactlyOnce);
    run_until(&mut engine, 135);
    let committed = (
        engine.stats().aggregates_out,
        engine.stats().dead_letters_total(),
    );
    cluster.kafka.mock().request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 3],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last_committed = committed;
    while engine.run_batch().is_ok() {
        assert!(
            Instant::now() < deadline,
            "the failure went unnoticed: {:?}",
            engine.stats()
        );
        last_committed = (
            engine.stats().aggregates_out,
            engine.stats().dead_letters_total(),
        );
    }
    let spec = spec();
    let aggregates = read_all(
        &cluster.settings,
        &spec.topics.output,
        3,
        last_committed.0 as usize,
    );
    let dead = read_all(
        &cluster.settings,
        &spec.topics.dead_letter,
        1,
        last_committed.1 as usize,
    );
    assert_eq!(
        (aggregates.len() as u64, dead.len() as u64),
        last_committed,
        "exactly what was committed is visible, nothing of the aborted batch"
    );
    let (want_aggregates, _) = expected(&spec, &inputs);
    for (_, payload, _) in &aggregates {
        assert!(want_aggregates.contains(&String::from_utf8(payload.clone()).unwrap()));
    }
}

/// Whether the engine has read every input record, judged by each partition's checkpoint
/// high-water mark against the end of the partition.
fn all_read(engine: &Engine, inputs: &[Input]) -> bool {
    engine
        .high_waters()
        .iter()
        .all(|(p, hw)| *hw == inputs.iter().filter(|i| i.partition == *p).count() as i64)
        && engine.high_waters().len() == 3
}

/// When the broker answers that this producer has been fenced (another instance started with
/// the same transactional id), the engine stops with an error instead of writing on. The
/// embedded broker does not fence by itself (a second producer with the same transactional id
/// gets a producer id of its own), so the broker's answer is injected; a broker that fences is
/// needed to show the whole exchange, and none with transactions runs here.
#[test]
fn a_fenced_producer_stops_the_engine() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let cluster = cluster();
    let inputs = inputs();
    produce(&cluster.settings, "ticks", &inputs);
    let mut engine = engine(&cluster, "fence", Delivery::ExactlyOnce);
    run_until(&mut engine, 90);
    let committed_before = engine.stats().batches_committed;
    cluster.kafka.mock().request_errors(
        RDKafkaApiKey::AddPartitionsToTxn,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_PRODUCER_FENCED; 5],
    );
    let error = run_until_error(&mut engine);
    let text = error.to_string().to_lowercase();
    assert!(text.contains("fenced"), "{text}");
    assert!(engine.stats().batches_committed >= committed_before);
}

/// A second processor joins the group mid-stream: partitions move to it (cooperative-sticky),
/// the first drops their state, the second resumes them from the committed checkpoints, and
/// every window still arrives exactly once. At-least-once mode, for the offsets the embedded
/// broker stores.
#[test]
fn a_rebalance_between_two_processors_loses_and_repeats_nothing() {
    let cluster = cluster();
    let inputs = inputs();
    produce(&cluster.settings, "ticks", &inputs);
    let mut first = engine(&cluster, "rebalance", Delivery::AtLeastOnce);
    run_until(&mut first, 100);
    assert_eq!(first.assigned(), vec![0, 1, 2]);
    let mut second = engine(&cluster, "rebalance", Delivery::AtLeastOnce);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut moved = false;
    loop {
        assert!(
            Instant::now() < deadline,
            "stalled: {:?} / {:?}",
            first.stats(),
            second.stats()
        );
        first.run_batch().unwrap();
        second.run_batch().unwrap();
        moved |= !second.assigned().is_empty();
        let mut owned = first.assigned();
        owned.extend(second.assigned());
        owned.sort_unstable();
        let done = owned == vec![0, 1, 2] && all_read_by(&[&first, &second], &inputs);
        if moved && done {
            break;
        }
    }
    assert!(
        !second.assigned().is_empty() && first.assigned().len() < 3,
        "partitions moved"
    );
    first.close_all().unwrap();
    second.close_all().unwrap();
    // A commit refused while the group rebalanced leaves a moved partition to be re-read by its
    // new owner from the commit before: at-least-once allows identical repeats, never loss.
    let deferred = first.stats().commits_deferred + second.stats().commits_deferred;
    check_outputs(&cluster.settings, &inputs, deferred > 0);
}

/// Whether, between them, the engines have read every input record of every partition.
fn all_read_by(engines: &[&Engine], inputs: &[Input]) -> bool {
    (0..3).all(|p| {
        let total = inputs.iter().filter(|i| i.partition == p).count() as i64;
        engines
            .iter()
            .any(|e| e.high_waters().get(&p) == Some(&total))
    })
}

/// The offsets (and checkpoint metadata) a processor hands the broker depend on the records it
/// has processed, not on the delivery mode: both modes share one recovery path. Each offset
/// stops at the first record of an open window, and at-least-once's are what the broker holds.
#[test]
fn both_modes_hand_the_broker_the_same_offsets() {
    let cluster = cluster();
    let inputs = inputs();
    produce(&cluster.settings, "ticks", &inputs);
    let mut handed = Vec::new();
    for delivery in [Delivery::ExactlyOnce, Delivery::AtLeastOnce] {
        let group = format!("offsets-{delivery:?}");
        let mut engine = engine(&cluster, &group, delivery);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !all_read(&engine, &inputs) {
            assert!(Instant::now() < deadline, "stalled: {:?}", engine.stats());
            engine.run_batch().unwrap();
        }
        handed.push((group, engine.handed_offsets().clone()));
    }
    let (_, exactly_once) = &handed[0];
    let (alo_group, at_least_once) = &handed[1];
    assert_eq!(exactly_once, at_least_once);
    assert_eq!(exactly_once.len(), 3);
    for (partition, handed) in exactly_once {
        let end = inputs.iter().filter(|i| i.partition == *partition).count() as i64;
        let checkpoint =
            pipeline_core::Checkpoint::from_metadata(handed.offset, &handed.metadata).unwrap();
        assert_eq!(checkpoint.high_water, end);
        assert!(
            handed.offset < end,
            "the last minute's window is still open"
        );
    }
    let consumer: BaseConsumer = cluster
        .settings
        .client_config()
        .unwrap()
        .set("group.id", alo_group)
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..3 {
        list.add_partition("ticks", p);
    }
    let stored = consumer
        .committed_offsets(list, Duration::from_secs(5))
        .unwrap();
    for element in stored.elements() {
        let handed = &at_least_once[&element.partition()];
        assert_eq!(element.offset(), Offset::Offset(handed.offset));
        assert_eq!(element.metadata(), handed.metadata);
    }
}

#[test]
fn overrides_cannot_touch_security_or_the_delivery_guarantees() {
    let settings = pipeline_kafka::KafkaSettings::local("127.0.0.1:9");
    for key in [
        "security.protocol",
        "sasl.mechanism",
        "enable.auto.commit",
        "isolation.level",
    ] {
        let mut config = EngineConfig::new("protected", Delivery::AtLeastOnce);
        config.consumer_overrides = vec![(key.into(), "x".into())];
        let error = Engine::start(spec(), &settings, None, config).unwrap_err();
        assert!(error.to_string().contains(key), "{error}");
    }
}

/// The broker goes away for 30 s mid-stream and comes back: the engine rides it out, with no
/// error to restart on, and loses nothing. At-least-once: the embedded broker keeps no offsets
/// sent in a transaction, so after the group expires the member during the outage an
/// exactly-once engine would resume from nothing there (MSK keeps them).
#[test]
fn a_broker_outage_of_30_seconds_is_ridden_out_without_a_restart() {
    let cluster = cluster();
    let inputs = inputs();
    let (first, second) = inputs.split_at(inputs.len() / 2);
    produce(&cluster.settings, "ticks", first);
    let mut engine = engine(&cluster, "outage", Delivery::AtLeastOnce);
    run_until(&mut engine, first.len() as u64);

    cluster.kafka.mock().broker_down(1).unwrap();
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(30) {
        if let Err(error) = engine.run_batch() {
            panic!("{:?} into the outage: {error}", down.elapsed());
        }
    }
    cluster.kafka.mock().broker_up(1).unwrap();

    produce(&cluster.settings, "ticks", second);
    common::finish(&mut engine, &inputs);
    check_outputs(&cluster.settings, &inputs, true);
}
