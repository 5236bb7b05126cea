//! `processor tail`, run as a user would (the built binary) against the embedded broker and
//! against tansu: readable rows and JSON lines for aggregates and dead letters, the key
//! filter, starting at the beginning, an offset, a time or the end, and following new records.
//! (That it reads committed records only cannot be shown here: neither broker hides an aborted
//! transaction's records from a `read_committed` reader.)

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_core::{Reason, Rejection, STOCK_TICKS_SPEC, Spec};
use pipeline_kafka::{EmbeddedKafka, KafkaSettings};
use pipeline_testkit::tansu::Tansu;
use processor::records::dead_letter_headers;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

fn spec() -> Arc<Spec> {
    Arc::new(Spec::from_toml(STOCK_TICKS_SPEC, "stock-ticks").unwrap())
}

/// 10:00 on 2026-12-01 (UTC), the first aggregate's window start.
const BASE_MS: i64 = 1_796_119_200_000;

fn aggregate(ticker: &str, minute: i64, count: u64) -> String {
    let start = pipeline_core::time::format_rfc3339_millis(BASE_MS + minute * 60_000);
    let end = pipeline_core::time::format_rfc3339_millis(BASE_MS + (minute + 1) * 60_000);
    format!(
        r#"{{"aggregate_id":"{ticker}:{start}","ticker":"{ticker}","window_start":"{start}","window_end":"{end}","session_date":"2026-12-01","count":{count},"volume":100,"open":"1.5","high":"2","low":"1","close":"1.75","vwap":"1.6","avg_price":"1.6","notional":"160"}}"#
    )
}

struct Broker {
    settings: KafkaSettings,
    _embedded: Option<EmbeddedKafka>,
    _tansu: Option<Tansu>,
}

fn embedded() -> Broker {
    let embedded = EmbeddedKafka::start(1).unwrap();
    let spec = spec();
    for (topic, partitions) in [
        (&spec.topics.input, 2),
        (&spec.topics.output, 2),
        (&spec.topics.dead_letter, 1),
    ] {
        embedded.create_topic(topic, partitions).unwrap();
    }
    Broker {
        settings: KafkaSettings::local(embedded.bootstrap_servers()),
        _embedded: Some(embedded),
        _tansu: None,
    }
}

fn tansu() -> Broker {
    let tansu = Tansu::start();
    processor::local::create_topics(&tansu.settings, &spec(), 2).unwrap();
    Broker {
        settings: tansu.settings.clone(),
        _embedded: None,
        _tansu: Some(tansu),
    }
}

fn producer(settings: &KafkaSettings) -> ThreadedProducer<DefaultProducerContext> {
    settings.producer_config().unwrap().create().unwrap()
}

/// Aggregates: AMZN minutes 0–2 on partition 0, MSFT minutes 0–1 on partition 1, timestamps
/// at each window's end; and three dead letters from input partition 1, offsets 7–9.
fn fill(settings: &KafkaSettings) {
    let producer = producer(settings);
    for (ticker, partition, minutes) in [("AMZN", 0, 3), ("MSFT", 1, 2)] {
        for minute in 0..minutes {
            let payload = aggregate(ticker, minute, 10 + minute as u64);
            producer
                .send(
                    BaseRecord::to("aggregates")
                        .key(ticker)
                        .payload(&payload)
                        .partition(partition)
                        .timestamp(BASE_MS + (minute + 1) * 60_000),
                )
                .map_err(|(e, _)| e)
                .unwrap();
        }
    }
    for (i, reason) in [Reason::Malformed, Reason::OutOfRange, Reason::Late]
        .into_iter()
        .enumerate()
    {
        let rejection = Rejection {
            reason,
            detail: format!("detail {i}"),
        };
        let headers = dead_letter_headers(&rejection, "ticks", 1, 7 + i as i64, BASE_MS);
        producer
            .send(
                BaseRecord::to("ticks.dlq")
                    .key("AMZN")
                    .payload(&format!("{{\"broken\":{i}}}\n"))
                    .headers(headers),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

fn processor(broker: &Broker, args: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args(["tail", "--brokers", &broker.settings.brokers])
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "processor tail {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn lines(output: &Output) -> Vec<String> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What both brokers must do: read to the end, filter by key, show dead letters with their
/// headers decoded, as rows and as JSON, and follow new records from the end.
fn reads_rows_json_and_follows(broker: &Broker) {
    fill(&broker.settings);

    let rows = lines(&processor(broker, &["--from", "beginning", "--no-follow"]));
    assert_eq!(rows.len(), 5, "{rows:#?}");
    let amzn = lines(&processor(
        broker,
        &["--from", "beginning", "--no-follow", "--key", "AMZN"],
    ));
    assert_eq!(amzn.len(), 3, "{amzn:#?}");
    assert!(
        amzn[0].starts_with("2026-12-01T10:00:00.000Z → 2026-12-01T10:01:00.000Z  AMZN"),
        "{}",
        amzn[0]
    );
    assert!(
        amzn[0].contains("session_date=2026-12-01")
            && amzn[0].contains("count=10")
            && amzn[0].contains("vwap=1.6"),
        "{}",
        amzn[0]
    );
    assert!(amzn[2].contains("count=12"), "{}", amzn[2]);

    let dead = lines(&processor(
        broker,
        &[
            "--topic",
            "dead-letters",
            "--from",
            "beginning",
            "--no-follow",
        ],
    ));
    assert_eq!(dead.len(), 3, "{dead:#?}");
    assert!(
        dead[1].contains("out_of_range")
            && dead[1].contains("ticks/1@8")
            && dead[1].contains("detail 1")
            && dead[1].contains("key=AMZN")
            && dead[1].contains(r#"{"broken":1}\n"#),
        "{}",
        dead[1]
    );
    let json = lines(&processor(
        broker,
        &[
            "--topic",
            "ticks.dlq",
            "--from",
            "beginning",
            "--no-follow",
            "--json",
        ],
    ));
    let first: serde_json::Value = serde_json::from_str(&json[0]).unwrap();
    assert_eq!(first["reason"], "malformed");
    assert_eq!(first["source_partition"], 1);
    assert_eq!(first["source_offset"], 7);
    assert_eq!(first["payload"], "{\"broken\":0}\n");
    let aggregates = lines(&processor(
        broker,
        &[
            "--from",
            "beginning",
            "--no-follow",
            "--json",
            "--key",
            "MSFT",
        ],
    ));
    let parsed: Vec<serde_json::Value> = aggregates
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed.len(), 2);
    assert!(parsed.iter().all(|a| a["ticker"] == "MSFT"));

    // From the end: only what arrives after the tail has started.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args([
            "tail",
            "--brokers",
            &broker.settings.brokers,
            "--count",
            "2",
        ])
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RUST_LOG")
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    stderr.read_line(&mut said).unwrap();
    assert!(
        said.starts_with("processor tail: aggregates (partitions 0–1) from the end, following"),
        "{said}"
    );
    let producer = producer(&broker.settings);
    for ticker in ["NVDA", "META"] {
        producer
            .send(
                BaseRecord::to("aggregates")
                    .key(ticker)
                    .payload(&aggregate(ticker, 5, 99)),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the tail did not print the two new aggregates within 60 s");
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let followed = lines(&output);
    assert_eq!(followed.len(), 2, "{followed:#?}");
    let mut tickers: Vec<&str> = followed
        .iter()
        .map(|l| l.split("  ").nth(1).unwrap())
        .collect();
    tickers.sort_unstable();
    assert_eq!(tickers, ["META", "NVDA"]);
}

#[test]
fn on_the_embedded_broker_it_reads_rows_json_and_follows() {
    reads_rows_json_and_follows(&embedded());
}

#[test]
fn on_tansu_it_reads_rows_json_and_follows() {
    reads_rows_json_and_follows(&tansu());
}

#[test]
fn it_starts_at_an_offset_or_a_time_and_refuses_a_partition_that_is_not_there() {
    let broker = embedded();
    fill(&broker.settings);
    let from_offset = lines(&processor(
        &broker,
        &["--from", "1", "--partition", "0", "--no-follow"],
    ));
    assert_eq!(from_offset.len(), 2, "{from_offset:#?}");
    assert!(from_offset[0].contains("count=11"), "{}", from_offset[0]);

    // Records stamped at or after 10:02: AMZN's minute 1 (ends 10:02) and 2, MSFT's minute 1.
    let from_time = lines(&processor(
        &broker,
        &["--from", "2026-12-01T10:02:00Z", "--no-follow"],
    ));
    assert_eq!(from_time.len(), 3, "{from_time:#?}");

    let refused = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args(["tail", "--brokers", &broker.settings.brokers])
        .args(["--partition", "5", "--no-follow"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("--partition 5: aggregates has partitions 0 to 1"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
