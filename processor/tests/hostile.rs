//! The hostile-input corpus (`tests/corpus/hostile-ticks.json`) through the processor on the
//! embedded broker, between three minutes of valid ticks: every hostile record lands in the DLQ
//! with the reason the corpus names and its bytes untouched (a record past
//! `MAX_DEAD_LETTER_BYTES`: its first bytes and `dlq.truncated`), the valid neighbours aggregate
//! exactly as they would alone, and the counts add up (in = aggregated + dead-lettered).
//!
//! Corpus entries: `payload` is the record value as text (`null`: a record without a value),
//! with `{t}` replaced by the event time (the record's timestamp plus `event_offset_ms`) and
//! `"ID` by a unique event id; `payload_hex` is prepended as raw bytes, `payload_hex_inside`
//! replaces `@@`, and `pad_to_bytes` pads with spaces to that size.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{BASE_MS, Input, TICKERS, cluster, expected, read_all, spec};
use processor::records::MAX_DEAD_LETTER_BYTES;
use processor::{Delivery, Engine, EngineConfig};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use serde_json::Value;

struct Hostile {
    name: String,
    reason: String,
    partition: i32,
    timestamp_ms: i64,
    payload: Option<Vec<u8>>,
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn corpus() -> Vec<(String, String, Option<Vec<u8>>, i64)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/corpus/hostile-ticks.json"
    );
    let entries: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let name = e["name"].as_str().unwrap().to_owned();
            let reason = e["reason"].as_str().unwrap().to_owned();
            let offset = e["event_offset_ms"].as_i64().unwrap_or(0);
            let payload = e["payload"].as_str().map(|text| {
                let text = text.replace("\"ID", &format!("\"hostile-{i}"));
                let mut bytes = e["payload_hex"].as_str().map(hex).unwrap_or_default();
                match e["payload_hex_inside"].as_str() {
                    Some(inside) => {
                        let (before, after) = text.split_once("@@").unwrap();
                        bytes.extend_from_slice(before.as_bytes());
                        bytes.extend(hex(inside));
                        bytes.extend_from_slice(after.as_bytes());
                    }
                    None => bytes.extend_from_slice(text.as_bytes()),
                }
                if let Some(size) = e["pad_to_bytes"].as_u64() {
                    bytes.resize(size as usize, b' ');
                }
                bytes
            });
            (name, reason, payload, offset)
        })
        .collect()
}

/// `bytes` with each `from` replaced by `to`, byte for byte (payloads may be invalid UTF-8).
fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Three minutes of valid ticks (ticker i on partition i, one a second).
fn valid() -> Vec<Input> {
    let mut inputs = Vec::new();
    for step in 0..180i64 {
        for (p, ticker) in TICKERS.iter().enumerate() {
            let t = BASE_MS + step * 1_000 + p as i64;
            let payload = format!(
                r#"{{"event_id":"{ticker}-{step}","ticker":"{ticker}","price":{}.{:02},"volume":{},"event_time":{t}}}"#,
                100 + p * 10 + step as usize % 7,
                step % 100,
                1 + step % 50
            );
            inputs.push(Input {
                partition: p as i32,
                timestamp_ms: t,
                payload: payload.into_bytes(),
            });
        }
    }
    inputs
}

#[test]
fn every_hostile_record_is_dead_lettered_with_its_reason_and_the_valid_ones_aggregate() {
    let cluster = cluster();
    let settings = &cluster.settings;
    let valid = valid();
    let corpus = corpus();
    assert!(
        corpus.len() >= 40,
        "the corpus lost entries: {}",
        corpus.len()
    );

    // Entry i goes to partition i % 3 in the middle of the stream, half a second after a
    // valid tick there: (partition, timestamp, payload), valid ones as None for the reason.
    let producer: ThreadedProducer<DefaultProducerContext> = settings
        .producer_config()
        .unwrap()
        .set("message.max.bytes", "4000000")
        .create()
        .unwrap();
    let mut sent: BTreeMap<i32, Vec<Option<usize>>> = BTreeMap::new();
    let mut hostile = Vec::new();
    let send = |partition: i32, timestamp: i64, payload: Option<&[u8]>| {
        let mut record: BaseRecord<'_, str, [u8]> = BaseRecord::to("ticks")
            .partition(partition)
            .key(TICKERS[partition as usize])
            .timestamp(timestamp);
        if let Some(payload) = payload {
            record = record.payload(payload);
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
    };
    for (i, input) in valid.iter().enumerate() {
        send(input.partition, input.timestamp_ms, Some(&input.payload));
        sent.entry(input.partition).or_default().push(None);
        let step = i / 3;
        if (30..30 + corpus.len()).contains(&step) && i % 3 == (step - 30) % 3 {
            let (name, reason, payload, offset) = &corpus[step - 30];
            let timestamp = input.timestamp_ms + 500;
            let event_time = (timestamp + offset).to_string();
            let payload = payload
                .as_ref()
                .map(|p| replace(p, b"{t}", event_time.as_bytes()));
            send(input.partition, timestamp, payload.as_deref());
            sent.entry(input.partition)
                .or_default()
                .push(Some(hostile.len()));
            hostile.push(Hostile {
                name: name.clone(),
                reason: reason.clone(),
                partition: input.partition,
                timestamp_ms: timestamp,
                payload,
            });
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    assert_eq!(hostile.len(), corpus.len());

    let total = (valid.len() + hostile.len()) as u64;
    let mut engine = Engine::start(
        spec(),
        settings,
        None,
        EngineConfig::new("processor", Delivery::ExactlyOnce),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while engine.stats().records_in < total {
        assert!(Instant::now() < deadline, "stalled: {:?}", engine.stats());
        engine.run_batch().unwrap();
    }
    engine.close_all().unwrap();

    // Every hostile record is in the DLQ, with its reason and its bytes.
    let dead = read_all(settings, "ticks.dlq", 1, hostile.len());
    let mut got: BTreeMap<usize, (String, Vec<u8>, Option<String>)> = BTreeMap::new();
    for (_, payload, headers) in &dead {
        let partition: i32 = headers["dlq.source.partition"].parse().unwrap();
        let offset: usize = headers["dlq.source.offset"].parse().unwrap();
        let index = sent[&partition][offset]
            .unwrap_or_else(|| panic!("a valid tick was dead-lettered: {headers:?}"));
        got.insert(
            index,
            (
                headers["dlq.reason"].clone(),
                payload.clone(),
                headers.get("dlq.truncated").cloned(),
            ),
        );
    }
    let mismatches: Vec<String> = hostile
        .iter()
        .enumerate()
        .filter_map(|(i, h)| match got.get(&i) {
            None => Some(format!("{}: not dead-lettered", h.name)),
            Some((reason, _, _)) if *reason != h.reason => {
                Some(format!("{}: {reason}, expected {}", h.name, h.reason))
            }
            Some((_, bytes, truncated)) => {
                let original = h.payload.clone().unwrap_or_default();
                let kept = original.len().min(MAX_DEAD_LETTER_BYTES);
                let want_truncated = (original.len() > kept).then(|| original.len().to_string());
                (*bytes != original[..kept] || *truncated != want_truncated)
                    .then(|| format!("{}: the dead letter's bytes differ", h.name))
            }
        })
        .collect();
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    assert_eq!(
        dead.len(),
        hostile.len(),
        "one dead letter per hostile record"
    );
    assert!(
        hostile
            .iter()
            .all(|h| h.timestamp_ms > BASE_MS && h.partition < 3)
    );

    // The valid neighbours aggregate exactly as they do alone, and the counts add up.
    let (want, _) = expected(&spec(), &valid);
    let aggregates = read_all(settings, "aggregates", 3, want.len());
    let mut aggregates: Vec<String> = aggregates
        .iter()
        .map(|(_, payload, _)| String::from_utf8(payload.clone()).unwrap())
        .collect();
    aggregates.sort();
    assert_eq!(aggregates, want);
    let aggregated: u64 = aggregates
        .iter()
        .map(|a| {
            serde_json::from_str::<Value>(a).unwrap()["count"]
                .as_u64()
                .unwrap()
        })
        .sum();
    let stats = engine.stats();
    assert_eq!(stats.records_in, total);
    assert_eq!(aggregated, valid.len() as u64);
    assert_eq!(stats.dead_letters_total(), hostile.len() as u64);
    assert_eq!(stats.records_in, aggregated + stats.dead_letters_total());
}
