//! What the processor lets out and in: its logs and metrics carry no credentials, tokens or
//! record payloads, even at debug level with bad records whose details quote their values; and
//! it refuses plaintext Kafka to a broker that is not on this machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BASE_MS, Input, cluster, produce};

const SECRET_KEY: &str = "SecretKeyMarker0123456789abcdefghijklmno";
const SESSION_TOKEN: &str = "SessionTokenMarkerZZZ9876";
const ACCESS_KEY: &str = "AKIAMARKER0000000042";
const PAYLOAD: &str = "PayloadMarkerQ7";

#[test]
fn logs_and_metrics_carry_no_credentials_tokens_or_payloads() {
    let cluster = cluster();
    // Valid and refused records, each holding the payload marker where a detail could quote it.
    let inputs: Vec<Input> = (0..300i64)
        .map(|i| {
            let t = BASE_MS + i * 1_000;
            let payload = match i % 3 {
                0 => format!(
                    r#"{{"event_id":"{PAYLOAD}-{i}","ticker":"AMZN","price":10.5,"volume":1,"event_time":{t}}}"#
                ),
                1 => format!(
                    r#"{{"event_id":"e{i}","ticker":"{PAYLOAD}","price":"{PAYLOAD}","volume":1,"event_time":{t}}}"#
                ),
                _ => format!(r#"{{"event_id":"{PAYLOAD}{i}","ticker":"AMZN","price":1"#),
            };
            Input {
                partition: (i % 3) as i32,
                timestamp_ms: t,
                payload: payload.into_bytes(),
            }
        })
        .collect();
    produce(&cluster.settings, "ticks", &inputs);

    let mut child = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args([
            "run",
            "--brokers",
            &cluster.settings.brokers,
            "--group",
            "secrets",
        ])
        .args([
            "--health-addr",
            "127.0.0.1:0",
            "--metrics-interval-secs",
            "1",
        ])
        .env("RUST_LOG", "debug")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::BufReader::new(stderr)
            .read_to_string(&mut text)
            .unwrap();
        text
    });
    // Read the metrics until every record is counted in, then stop the processor.
    let mut metrics = String::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = stdout.read(&mut buffer).unwrap();
        assert!(
            n > 0 && Instant::now() < deadline,
            "stopped early:\n{metrics}"
        );
        metrics.push_str(&String::from_utf8_lossy(&buffer[..n]));
        let records_in: u64 = metrics
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|m| m["RecordsIn"].as_u64())
            .sum();
        if records_in >= inputs.len() as u64 {
            break;
        }
    }
    common::signal(&child, "TERM");
    stdout.read_to_string(&mut metrics).unwrap();
    assert!(child.wait().unwrap().success());
    let logs = logs.join().unwrap();

    assert!(
        logs.contains("processor started") && logs.contains("processor stopped"),
        "the debug logs are there to scan:\n{logs}"
    );
    assert!(metrics.contains("\"DeadLetters\""), "{metrics}");
    for (what, text) in [("logs", &logs), ("metrics", &metrics)] {
        for marker in [SECRET_KEY, SESSION_TOKEN, ACCESS_KEY, PAYLOAD] {
            let leak = text.lines().find(|l| l.contains(marker));
            assert!(leak.is_none(), "{what} leak {marker}: {leak:?}");
        }
    }
}

#[test]
fn plaintext_to_a_broker_off_this_machine_is_refused_at_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args([
            "run",
            "--brokers",
            "10.0.0.5:9092",
            "--health-addr",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing plaintext Kafka to `10.0.0.5:9092`"),
        "{stderr}"
    );
}
