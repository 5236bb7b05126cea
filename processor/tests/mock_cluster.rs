//! The processor end to end on the embedded broker (librdkafka's mock cluster): known input in,
//! exactly the expected aggregates and dead letters out, in both delivery modes, and across a
//! crash and restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_core::{Outcome, Partition, Record, STOCK_TICKS_SPEC, Spec};
use pipeline_kafka::{EmbeddedKafka, KafkaSettings};
use processor::{Delivery, Engine, EngineConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};

const BASE_MS: i64 = 1_795_271_400_000; // 2026-11-21T14:30:00Z
const TICKERS: [&str; 3] = ["AMZN", "AAPL", "MSFT"];

fn spec() -> Arc<Spec> {
    Arc::new(Spec::from_toml(STOCK_TICKS_SPEC, "config/pipeline.toml").unwrap())
}

/// One input record: its partition, timestamp and payload.
struct Input {
    partition: i32,
    timestamp_ms: i64,
    payload: Vec<u8>,
}

/// Three minutes of ticks for three tickers (ticker i on partition i), with on each partition:
/// a malformed record, a record missing its volume and a late event in the first half (the
/// last two where a restart at the half re-reads them), an out-of-range price and another late
/// event in the second.
fn inputs() -> Vec<Input> {
    let mut inputs = Vec::new();
    for step in 0..180 {
        for (p, ticker) in TICKERS.iter().enumerate() {
            let t = BASE_MS + step * 1_000 + p as i64;
            let price = format!(
                "{}.{:04}",
                100 + p * 10 + (step as usize % 7),
                step * 13 % 10_000
            );
            let payload = match step {
                50 => format!(r#"{{"event_id":"{ticker}-{step}","ticker":"{ticker}","price":"#),
                75 => format!(
                    r#"{{"event_id":"{ticker}-{step}","ticker":"{ticker}","price":{price},"event_time":{t}}}"#
                ),
                // Event time 75 s back: the minute before the first, long closed.
                70 => format!(
                    r#"{{"event_id":"{ticker}-{step}","ticker":"{ticker}","price":{price},"volume":5,"event_time":{}}}"#,
                    t - 75_000
                ),
                90 => format!(
                    r#"{{"event_id":"{ticker}-{step}","ticker":"{ticker}","price":-1,"volume":5,"event_time":{t}}}"#
                ),
                // Event time two minutes back: its window closed long ago.
                150 => format!(
                    r#"{{"event_id":"{ticker}-{step}","ticker":"{ticker}","price":{price},"volume":5,"event_time":{}}}"#,
                    t - 120_000
                ),
                _ => format!(
                    r#"{{"event_id":"{ticker}-{step}","ticker":"{ticker}","price":{price},"volume":{},"event_time":{t}}}"#,
                    1 + step % 50
                ),
            };
            inputs.push(Input {
                partition: p as i32,
                timestamp_ms: t,
                payload: payload.into_bytes(),
            });
        }
    }
    inputs
}

/// What the core alone says each partition's records produce: aggregate JSON, and the dead
/// letters as (partition, offset, reason).
fn expected(spec: &Spec, inputs: &[Input]) -> (Vec<String>, Vec<(i32, i64, String)>) {
    let mut aggregates = Vec::new();
    let mut dead = Vec::new();
    for p in 0..TICKERS.len() as i32 {
        let mut partition = Partition::new(spec);
        let mut closed = Vec::new();
        for (offset, input) in inputs.iter().filter(|i| i.partition == p).enumerate() {
            let record = Record {
                offset: offset as i64,
                timestamp_ms: input.timestamp_ms,
                payload: Some(&input.payload),
            };
            if let Outcome::Rejected(r) = partition.process(record, &mut closed) {
                dead.push((p, offset as i64, r.reason.code().to_owned()));
            }
        }
        partition.close_all(&mut closed);
        aggregates.extend(closed.iter().map(|a| a.to_json(spec)));
    }
    aggregates.sort();
    dead.sort();
    (aggregates, dead)
}

struct Cluster {
    kafka: EmbeddedKafka,
    settings: KafkaSettings,
}

fn cluster() -> Cluster {
    let kafka = EmbeddedKafka::start(1).unwrap();
    let spec = spec();
    kafka.create_topic(&spec.topics.input, 3).unwrap();
    kafka.create_topic(&spec.topics.output, 3).unwrap();
    kafka.create_topic(&spec.topics.dead_letter, 1).unwrap();
    let settings = KafkaSettings::local(kafka.bootstrap_servers());
    Cluster { kafka, settings }
}

fn produce(settings: &KafkaSettings, topic: &str, inputs: &[Input]) {
    let producer: ThreadedProducer<DefaultProducerContext> =
        settings.producer_config().unwrap().create().unwrap();
    for (i, input) in inputs.iter().enumerate() {
        producer
            .send(
                BaseRecord::to(topic)
                    .partition(input.partition)
                    .key(TICKERS[input.partition as usize])
                    .payload(&input.payload)
                    .timestamp(input.timestamp_ms),
            )
            .map_err(|(e, _)| e)
            .unwrap_or_else(|e| panic!("record {i}: {e}"));
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

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

/// Everything committed on a topic: (partition, offset, key, payload, headers).
fn read_all(
    settings: &KafkaSettings,
    topic: &str,
    partitions: i32,
    expect: usize,
) -> Vec<(i32, Vec<u8>, BTreeMap<String, String>)> {
    let consumer: BaseConsumer = settings
        .client_config()
        .unwrap()
        .set("group.id", format!("reader-{topic}"))
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    // Read until the expected count, then a little longer to catch any extra (duplicates).
    let mut quiet_until = None;
    loop {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| {
                                (
                                    h.key.to_owned(),
                                    String::from_utf8_lossy(h.value.unwrap_or_default())
                                        .into_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((
                    m.partition(),
                    m.payload().unwrap_or_default().to_vec(),
                    headers,
                ));
            }
            Some(Err(e)) => panic!("{e}"),
            None => {}
        }
        if out.len() >= expect && quiet_until.is_none() {
            quiet_until = Some(Instant::now() + Duration::from_millis(500));
        }
        if quiet_until.is_some_and(|q| Instant::now() > q) || Instant::now() > deadline {
            break;
        }
    }
    out
}

fn check_outputs(cluster: &Cluster, inputs: &[Input]) {
    check_outputs_with(cluster, inputs, false);
}

/// Checks the committed outputs against the core run alone; with `duplicates`, an output may
/// appear more than once (at-least-once after a failure) but every copy must be identical.
fn check_outputs_with(cluster: &Cluster, inputs: &[Input], duplicates: bool) {
    let spec = spec();
    let (want_aggregates, want_dead) = expected(&spec, inputs);
    let aggregates = read_all(
        &cluster.settings,
        &spec.topics.output,
        3,
        want_aggregates.len(),
    );
    let mut got: Vec<String> = aggregates
        .iter()
        .map(|(_, payload, _)| String::from_utf8(payload.clone()).unwrap())
        .collect();
    got.sort();
    if duplicates {
        got.dedup();
        let ids: std::collections::BTreeSet<String> = got
            .iter()
            .map(|a| {
                serde_json::from_str::<serde_json::Value>(a).unwrap()["aggregate_id"].to_string()
            })
            .collect();
        assert_eq!(ids.len(), got.len(), "copies of one aggregate differ");
    }
    assert_eq!(got, want_aggregates, "aggregates");

    let dead = read_all(
        &cluster.settings,
        &spec.topics.dead_letter,
        1,
        want_dead.len(),
    );
    let mut got_dead: Vec<(i32, i64, String)> = dead
        .iter()
        .map(|(_, payload, headers)| {
            let partition: i32 = headers["dlq.source.partition"].parse().unwrap();
            let offset: i64 = headers["dlq.source.offset"].parse().unwrap();
            let original = inputs
                .iter()
                .filter(|i| i.partition == partition)
                .nth(offset as usize)
                .unwrap();
            assert_eq!(
                payload, &original.payload,
                "a dead letter carries the original bytes"
            );
            assert_eq!(headers["dlq.source.topic"], "ticks");
            assert!(!headers["dlq.detail"].is_empty());
            (partition, offset, headers["dlq.reason"].clone())
        })
        .collect();
    got_dead.sort();
    if duplicates {
        got_dead.dedup();
    }
    assert_eq!(got_dead, want_dead, "dead letters");
    assert_eq!(
        want_dead.len(),
        15,
        "five bad records on each of three partitions"
    );
}

fn end_to_end(delivery: Delivery) {
    let cluster = cluster();
    let inputs = inputs();
    produce(&cluster.settings, "ticks", &inputs);
    let mut engine = engine(&cluster, &format!("e2e-{delivery:?}"), delivery);
    run_until(&mut engine, inputs.len() as u64);
    engine.close_all().unwrap();
    assert_eq!(engine.stats().dead_letters_total(), 15);
    check_outputs(&cluster, &inputs);
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
    check_outputs(&cluster, &inputs);
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
    check_outputs_with(&cluster, &inputs, true);
}

/// In exactly-once mode the batch that failed is aborted: none of its outputs ever becomes
/// visible to a read_committed reader, and nothing visible is repeated.
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
    check_outputs_with(&cluster, &inputs, deferred > 0);
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
