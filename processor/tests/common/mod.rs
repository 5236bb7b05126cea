//! What the processor's integration tests share: a known input (three minutes of ticks on three
//! partitions, with bad and late records), the outputs the core alone says it must produce, and
//! helpers to produce it to and read the outputs back from any broker.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use pipeline_core::{Outcome, Partition, Record, STOCK_TICKS_SPEC, Spec};
use pipeline_kafka::{EmbeddedKafka, KafkaSettings};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Headers;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::Value;

pub const BASE_MS: i64 = 1_795_271_400_000; // 2026-11-21T14:30:00Z
pub const TICKERS: [&str; 3] = ["AMZN", "AAPL", "MSFT"];

pub fn spec() -> Arc<Spec> {
    Arc::new(Spec::from_toml(STOCK_TICKS_SPEC, "config/pipelines/stock-ticks.toml").unwrap())
}

/// One input record: its partition, timestamp and payload.
pub struct Input {
    pub partition: i32,
    pub timestamp_ms: i64,
    pub payload: Vec<u8>,
}

/// Three minutes of ticks for three tickers (ticker i on partition i), with on each partition:
/// a malformed record, a record missing its volume and a late event in the first half (the
/// last two where a restart at the half re-reads them), an out-of-range price and another late
/// event in the second.
pub fn inputs() -> Vec<Input> {
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
pub fn expected(spec: &Spec, inputs: &[Input]) -> (Vec<String>, Vec<(i32, i64, String)>) {
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

/// The embedded broker with the spec's topics: three input and output partitions, one DLQ.
pub struct Cluster {
    pub kafka: EmbeddedKafka,
    pub settings: KafkaSettings,
}

pub fn cluster() -> Cluster {
    let kafka = EmbeddedKafka::start(1).unwrap();
    let spec = spec();
    kafka.create_topic(&spec.topics.input, 3).unwrap();
    kafka.create_topic(&spec.topics.output, 3).unwrap();
    kafka.create_topic(&spec.topics.dead_letter, 1).unwrap();
    let settings = KafkaSettings::local(kafka.bootstrap_servers());
    Cluster { kafka, settings }
}

/// Produces `inputs` to `topic`, one record per batch: tansu 0.6 answers a fetch from an offset
/// inside a record batch with the batches after it, skipping the rest of that batch, so a
/// restart from a committed offset must find a batch starting there.
pub fn produce(settings: &KafkaSettings, topic: &str, inputs: &[Input]) {
    let producer: ThreadedProducer<DefaultProducerContext> = settings
        .producer_config()
        .unwrap()
        .set("batch.num.messages", "1")
        .create()
        .unwrap();
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

/// Everything committed on a topic, read to its end: (partition, payload, headers). Waits
/// for at least `expect` records.
pub fn read_all(
    settings: &KafkaSettings,
    topic: &str,
    partitions: i32,
    expect: usize,
) -> Vec<(i32, Vec<u8>, BTreeMap<String, String>)> {
    read_to_end(settings, topic, partitions, expect, "read_committed")
}

/// [`read_all`] at an isolation level: `read_committed` stops at the first open transaction,
/// `read_uncommitted` reads what it holds too.
pub fn read_to_end(
    settings: &KafkaSettings,
    topic: &str,
    partitions: i32,
    expect: usize,
    isolation: &str,
) -> Vec<(i32, Vec<u8>, BTreeMap<String, String>)> {
    let consumer: BaseConsumer = settings
        .client_config()
        .unwrap()
        .set("group.id", format!("reader-{topic}"))
        .set("isolation.level", isolation)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Read to the end of every partition (the last stable offset: nothing committed lies past it).
    let mut at_end = vec![false; partitions as usize];
    while at_end.contains(&false) || out.len() < expect {
        assert!(
            Instant::now() < deadline,
            "{topic}: read {} of at least {expect}",
            out.len()
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                at_end[m.partition() as usize] = false;
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
            Some(Err(KafkaError::PartitionEOF(p))) => at_end[p as usize] = true,
            Some(Err(e)) => panic!("{e}"),
            None => {}
        }
    }
    out
}

/// Checks the committed outputs against the core run alone; with `duplicates`, an output may
/// appear more than once (at-least-once after a failure) but every copy must be identical.
pub fn check_outputs(settings: &KafkaSettings, inputs: &[Input], duplicates: bool) {
    let spec = spec();
    let (want_aggregates, want_dead) = expected(&spec, inputs);
    let aggregates = read_all(settings, &spec.topics.output, 3, want_aggregates.len());
    let mut got: Vec<String> = aggregates
        .iter()
        .map(|(_, payload, _)| String::from_utf8(payload.clone()).unwrap())
        .collect();
    got.sort();
    if duplicates {
        got.dedup();
        let ids: std::collections::BTreeSet<String> = got
            .iter()
            .map(|a| serde_json::from_str::<Value>(a).unwrap()["aggregate_id"].to_string())
            .collect();
        assert_eq!(ids.len(), got.len(), "copies of one aggregate differ");
    }
    assert_eq!(got, want_aggregates, "aggregates");

    let dead = read_all(settings, &spec.topics.dead_letter, 1, want_dead.len());
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

/// The lines a child writes to one of its streams, parsed as JSON, as they come.
pub fn json_lines(stream: impl std::io::Read + Send + 'static) -> Receiver<Value> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            if tx.send(value).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for the first line that `pick` accepts, keeping every line seen in `seen`.
pub fn wait_for<T>(
    lines: &Receiver<Value>,
    seen: &mut Vec<Value>,
    what: &str,
    mut pick: impl FnMut(&Value) -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {what}; saw {seen:#?}"));
        let found = pick(&line);
        seen.push(line);
        if let Some(found) = found {
            return found;
        }
    }
}

/// Sends `signal` (TERM, KILL…) to a child process.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs `engine` until it has read every input record, then closes the last windows.
pub fn finish(engine: &mut processor::Engine, inputs: &[Input]) {
    let end = |p: i32| inputs.iter().filter(|i| i.partition == p).count() as i64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while engine.high_waters().len() < 3 || engine.high_waters().iter().any(|(p, hw)| *hw < end(*p))
    {
        assert!(Instant::now() < deadline, "stalled: {:?}", engine.stats());
        engine.run_batch().unwrap();
    }
    engine.close_all().unwrap();
}

/// An at-least-once engine in `group` with short group timeouts and small batches.
pub fn engine(settings: &KafkaSettings, group: &str) -> processor::Engine {
    let mut config = processor::EngineConfig::new(group, processor::Delivery::AtLeastOnce);
    config.max_batch = 64;
    config.consumer_overrides = vec![
        ("session.timeout.ms".into(), "6000".into()),
        ("heartbeat.interval.ms".into(), "500".into()),
    ];
    processor::Engine::start(spec(), settings, None, config).unwrap()
}

/// `processor run` (at-least-once) in `group` is fed the first half of `inputs` and killed with
/// SIGKILL once it has taken that in, as the second half arrives: no final commit, no leaving
/// the group. A processor restarted in the same group then finishes the input.
pub fn kill_mid_run_and_restart(settings: &KafkaSettings, group: &str, inputs: &[Input]) {
    let (first, second) = inputs.split_at(inputs.len() / 2);
    produce(settings, "ticks", first);
    let mut child = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args([
            "run",
            "--brokers",
            &settings.brokers,
            "--group",
            group,
            "--delivery",
            "at-least-once",
            "--health-addr",
            "127.0.0.1:0",
            "--metrics-interval-secs",
            "1",
            "--consumer-config",
            "session.timeout.ms=6000,heartbeat.interval.ms=500",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let metrics = json_lines(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    let mut records_in = 0;
    wait_for(&metrics, &mut seen, "the first half taken in", |m| {
        records_in += m["RecordsIn"].as_u64().unwrap_or(0);
        (records_in >= first.len() as u64).then_some(())
    });
    produce(settings, "ticks", second);
    child.kill().unwrap(); // SIGKILL
    let (exited, exit) = mpsc::channel();
    std::thread::spawn(move || exited.send(child.wait()));
    let status = exit.recv_timeout(Duration::from_secs(30)).unwrap().unwrap();
    assert_eq!(status.code(), None, "killed by a signal");

    let mut restarted = engine(settings, group);
    finish(&mut restarted, inputs);
}

/// Every expected aggregate and dead letter is among the committed outputs, whatever else is
/// there: the no-loss half of [`check_outputs`], for a broker that cannot offer the other.
pub fn check_nothing_lost(settings: &KafkaSettings, inputs: &[Input]) {
    let spec = spec();
    let (want_aggregates, want_dead) = expected(&spec, inputs);
    let got: std::collections::BTreeSet<String> =
        read_all(settings, &spec.topics.output, 3, want_aggregates.len())
            .into_iter()
            .map(|(_, payload, _)| String::from_utf8(payload).unwrap())
            .collect();
    let missing: Vec<&String> = want_aggregates
        .iter()
        .filter(|a| !got.contains(*a))
        .collect();
    assert!(missing.is_empty(), "aggregates lost: {missing:#?}");
    let dead: std::collections::BTreeSet<(i32, i64, String)> =
        read_all(settings, &spec.topics.dead_letter, 1, want_dead.len())
            .into_iter()
            .map(|(_, _, h)| {
                (
                    h["dlq.source.partition"].parse().unwrap(),
                    h["dlq.source.offset"].parse().unwrap(),
                    h["dlq.reason"].clone(),
                )
            })
            .collect();
    let missing: Vec<_> = want_dead.iter().filter(|d| !dead.contains(*d)).collect();
    assert!(missing.is_empty(), "dead letters lost: {missing:#?}");
}
