//! A real Prometheus server (Debian's `prometheus`, which `./scripts/test` installs) scrapes
//! `processor run` on loopback while it processes events on the embedded broker; its HTTP API
//! then has every metric of the catalogue, with the pipeline's label, and the records counted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{cluster, inputs, json_lines, produce, wait_for};
use processor::metrics::{CATALOGUE, Kind};
use serde_json::Value;

/// Kills a child process when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `data.result` of an instant query, or `None` if the server does not answer yet.
fn query(port: u16, expression: &str) -> Option<Vec<Value>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let encoded: String = expression
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    write!(
        stream,
        "GET /api/v1/query?query={encoded} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let body = response.split_once("\r\n\r\n")?.1;
    let answer: Value = serde_json::from_str(body).ok()?;
    (answer["status"] == "success").then(|| answer["data"]["result"].as_array().cloned())?
}

#[test]
fn a_prometheus_server_scrapes_every_catalogued_metric() {
    let cluster = cluster();
    let inputs = inputs();
    produce(&cluster.settings, "ticks", &inputs);

    let mut processor = Running(
        Command::new(env!("CARGO_BIN_EXE_processor"))
            .args([
                "run",
                "--brokers",
                &cluster.kafka.bootstrap_servers(),
                "--group",
                "prometheus",
                "--delivery",
                "at-least-once",
                "--health-addr",
                "127.0.0.1:0",
                "--metrics-interval-secs",
                "1",
            ])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let logs = json_lines(processor.0.stderr.take().unwrap());
    let mut seen = Vec::new();
    let target = wait_for(&logs, &mut seen, "health endpoint log", |l| {
        (l["message"] == "health endpoint listening")
            .then(|| l["addr"].as_str().unwrap().to_owned())
    });

    let dir = std::env::temp_dir().join(format!("processor-prometheus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  \
             - job_name: processor\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let _prometheus = Running(
        Command::new(pipeline_testkit::debian::tool("prometheus", "PROMETHEUS"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Every catalogued metric, as Prometheus names it (a histogram by its count), with the
    // pipeline's label; and every input record counted.
    let names: Vec<String> = CATALOGUE
        .iter()
        .map(|m| match m.kind {
            Kind::Latency => format!("{}_count", m.prometheus),
            _ => m.prometheus.to_owned(),
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut missing = names.clone();
    let mut records_in = 0.0;
    while (!missing.is_empty() || records_in < inputs.len() as f64) && Instant::now() < deadline {
        missing.retain(|name| {
            let expression = format!("{name}{{pipeline=\"stock-ticks\",service=\"processor\"}}");
            query(port, &expression).is_none_or(|result| result.is_empty())
        });
        records_in = query(port, "processor_records_in_total")
            .and_then(|r| r.first().cloned())
            .and_then(|s| s["value"][1].as_str().and_then(|v| v.parse().ok()))
            .unwrap_or(0.0);
        std::thread::park_timeout(Duration::from_millis(500));
    }
    // The Grafana dashboard's queries (infra/grafana/processor.json) are valid PromQL, and each
    // has data once Prometheus holds two scrapes (a rate needs two), with the pipeline picked.
    let dashboard = processor::dashboard::grafana();
    let mut empty: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|panel| {
            panel["targets"][0]["expr"]
                .as_str()
                .unwrap()
                .replace("$pipeline", "stock-ticks")
                .replace("$__rate_interval", "1m")
        })
        .collect();
    while !empty.is_empty() && Instant::now() < deadline {
        empty.retain(|expression| {
            let answer = query(port, expression);
            assert!(answer.is_some(), "Prometheus refused {expression}");
            answer.is_some_and(|r| r.is_empty())
        });
        std::thread::park_timeout(Duration::from_millis(500));
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(empty.is_empty(), "no data for {empty:#?}");
    assert!(
        missing.is_empty(),
        "Prometheus never had {missing:?} (processor logs: {seen:#?})"
    );
    assert_eq!(records_in, inputs.len() as f64);
    let reasons = query(port, "processor_dead_letters_total").unwrap();
    assert_eq!(reasons.len(), pipeline_core::Reason::ALL.len());
}
