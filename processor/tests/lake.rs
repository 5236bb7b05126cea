//! `processor lake`, the consumer that fills the Parquet lake from the aggregates topic, as a
//! process against the embedded broker: killed with SIGKILL while aggregates it has read wait
//! in its buffers (read from Kafka, not yet in a file), then run again. Every aggregate is in
//! the lake afterwards; the ones written twice are identical rows; none is lost.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use common::{json_lines, signal, spec, wait_for};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use pipeline_core::{Partition, Record};
use pipeline_kafka::{EmbeddedKafka, KafkaSettings};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

const GROUP: &str = "lake-under-test";
const TICKERS: [&str; 4] = ["AMZN", "MSFT", "AAPL", "GOOGL"];

/// Real aggregates from the core: one tick a minute for each ticker for 4,000 minutes from
/// 2026-11-21T00:00Z, so that they fall on three days (lake partitions) and the first day holds
/// more than a MiB of them (5,760 of about 250 bytes).
fn aggregates() -> Vec<(usize, String)> {
    let spec = spec();
    let base_ms = 1_795_219_200_000;
    let mut out = Vec::new();
    for (k, ticker) in TICKERS.iter().enumerate() {
        let mut partition = Partition::new(&spec);
        let mut closed = Vec::new();
        for minute in 0..4_000_i64 {
            let t = base_ms + minute * 60_000 + 7_000;
            let payload = format!(
                r#"{{"event_id":"{ticker}-{minute}","ticker":"{ticker}","price":{}.25,"volume":{},"event_time":{t}}}"#,
                100 + minute % 17,
                1 + minute % 9
            );
            partition.process(
                Record {
                    offset: minute,
                    timestamp_ms: t,
                    payload: Some(payload.as_bytes()),
                },
                &mut closed,
            );
        }
        partition.close_all(&mut closed);
        out.extend(closed.iter().map(|a| (k, a.to_json(&spec))));
    }
    out
}

fn publish(settings: &KafkaSettings, aggregates: &[(usize, String)]) {
    let producer: ThreadedProducer<DefaultProducerContext> =
        settings.producer_config().unwrap().create().unwrap();
    for (k, json) in aggregates {
        producer
            .send(
                BaseRecord::to("aggregates")
                    .partition(*k as i32 % 3)
                    .key(TICKERS[*k])
                    .payload(json),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

fn lake(settings: &KafkaSettings, out: &Path, buffer_seconds: &str) -> (Child, Receiver<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args(["lake", "--brokers", &settings.brokers, "--group", GROUP])
        .args(["--buffer-mib", "1", "--buffer-seconds", buffer_seconds])
        // The killed member holds its partitions until its session times out.
        .args([
            "--consumer-config",
            "session.timeout.ms=6000,heartbeat.interval.ms=500",
        ])
        .arg("--out")
        .arg(out)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = json_lines(child.stderr.take().unwrap());
    (child, logs)
}

fn progress(line: &Value, key: &str) -> u64 {
    line[key].as_u64().unwrap_or(0)
}

/// Every row of every Parquet file of the lake: (aggregate_id, the whole row as text).
fn rows(table: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![table.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    let mut rows = Vec::new();
    for file in files {
        let reader = SerializedFileReader::new(File::open(&file).unwrap()).unwrap();
        for row in reader.get_row_iter(None).unwrap() {
            let row = row.unwrap();
            let id = row
                .get_column_iter()
                .find_map(|(name, field)| match (name.as_str(), field) {
                    ("aggregate_id", Field::Str(id)) => Some(id.clone()),
                    _ => None,
                })
                .unwrap();
            rows.push((id, row.to_string()));
        }
    }
    rows
}

/// Records of the topic not yet committed by the lake's group.
fn uncommitted(settings: &KafkaSettings) -> i64 {
    let consumer: BaseConsumer = settings
        .client_config()
        .unwrap()
        .set("group.id", GROUP)
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..3 {
        list.add_partition("aggregates", p);
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .unwrap();
    committed
        .elements()
        .iter()
        .map(|e| {
            let (low, high) = consumer
                .fetch_watermarks("aggregates", e.partition(), Duration::from_secs(10))
                .unwrap();
            let at = match e.offset() {
                Offset::Offset(o) => o,
                _ => low,
            };
            high - at
        })
        .sum()
}

fn wait_exit(mut child: Child) -> std::process::ExitStatus {
    let (exited, exit) = mpsc::channel();
    std::thread::spawn(move || exited.send(child.wait()));
    exit.recv_timeout(Duration::from_secs(60))
        .expect("still running a minute after the signal")
        .unwrap()
}

fn out_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lake-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn killed_with_aggregates_in_its_buffers_and_run_again_the_lake_holds_every_one() {
    let kafka = EmbeddedKafka::start(1).unwrap();
    kafka.create_topic("aggregates", 3).unwrap();
    let settings = KafkaSettings::local(kafka.bootstrap_servers());
    let aggregates = aggregates();
    let total = aggregates.len() as u64;
    let want: BTreeSet<String> = aggregates
        .iter()
        .map(|(_, json)| {
            serde_json::from_str::<Value>(json).unwrap()["aggregate_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(want.len() as u64, total);
    publish(&settings, &aggregates);
    let out = out_dir();
    let table = out.join("aggregates");

    // First run: files roll at 1 MiB, never by time; so once everything is read, one day's
    // file is written and the rest waits in memory.
    let (child, logs) = lake(&settings, &out, "3600");
    let mut seen = Vec::new();
    wait_for(
        &logs,
        &mut seen,
        "everything read, some of it buffered",
        |l| {
            (l["message"] == "lake progress"
                && progress(l, "consumed") == total
                && progress(l, "files") >= 1
                && progress(l, "buffered") > 0)
                .then_some(())
        },
    );
    signal(&child, "KILL");
    assert_eq!(wait_exit(child).code(), None, "killed by the signal");
    let before: BTreeSet<String> = rows(&table).into_iter().map(|(id, _)| id).collect();
    let pending = uncommitted(&settings);
    assert!(
        (before.len() as u64) < total && pending > 0,
        "the kill must leave aggregates out of the lake: {} of {total} in it, {pending} uncommitted",
        before.len()
    );
    assert!(
        pending as u64 >= total - before.len() as u64,
        "everything not in a file is uncommitted ({pending} uncommitted, {} in files)",
        before.len()
    );

    // Second run, in the same group: it reads from the last commit and writes by time.
    let (child, logs) = lake(&settings, &out, "1");
    let mut seen = Vec::new();
    wait_for(&logs, &mut seen, "the uncommitted part read again", |l| {
        (l["message"] == "lake progress" && progress(l, "consumed") >= pending as u64).then_some(())
    });
    signal(&child, "TERM");
    assert_eq!(wait_exit(child).code(), Some(0));
    assert_eq!(uncommitted(&settings), 0, "everything read is committed");

    let rows = rows(&table);
    let mut by_id: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, row) in &rows {
        by_id.entry(id).or_default().push(row);
    }
    let got: BTreeSet<String> = by_id.keys().map(|id| (*id).to_owned()).collect();
    let lost: Vec<&String> = want.difference(&got).collect();
    let duplicated = rows.len() - by_id.len();
    eprintln!(
        "aggregates expected {total}, in the lake {} (after the kill {}), rows {}, duplicated \
         {duplicated}, lost {}",
        got.len(),
        before.len(),
        rows.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert_eq!(got, want, "nothing but the aggregates");
    for (id, copies) in &by_id {
        assert!(
            copies.iter().all(|row| row == &copies[0]),
            "the copies of {id} differ: {copies:#?}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
