//! What the processor's integration tests share: a known input (three minutes of ticks on three
//! partitions, with bad and late records), the outputs the core alone says it must produce, and
//! helpers to produce it to and read the outputs back from any broker.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_core::{Outcome, Partition, Record, STOCK_TICKS_SPEC, Spec};
use pipeline_kafka::{EmbeddedKafka, KafkaSettings};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Headers;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};

pub const BASE_MS: i64 = 1_795_271_400_000; // 2026-11-21T14:30:00Z
pub const TICKERS: [&str; 3] = ["AMZN", "AAPL", "MSFT"];

pub fn spec() -> Arc<Spec> {
    Arc::new(Spec::from_toml(STOCK_TICKS_SPEC, "config/pipeline.toml").unwrap())
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

pub fn produce(settings: &KafkaSettings, topic: &str, inputs: &[Input]) {
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
            .map(|a| {
                serde_json::from_str::<serde_json::Value>(a).unwrap()["aggregate_id"].to_string()
            })
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
