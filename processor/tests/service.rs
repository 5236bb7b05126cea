//! `processor run` as ECS runs it, a process of its own against the embedded broker: it becomes
//! ready on its health endpoint, logs JSON, reports EMF metrics on stdout, and on SIGTERM stops
//! within its bound having lost nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{
    check_outputs, cluster, inputs, json_lines, kill_mid_run_and_restart, produce, signal, spec,
    wait_for,
};
use processor::{Delivery, Engine, EngineConfig};
use serde_json::Value;

#[test]
fn sigterm_mid_run_stops_within_the_bound_and_loses_nothing() {
    let cluster = cluster();
    let inputs = inputs();
    let (first, second) = inputs.split_at(inputs.len() / 2);
    produce(&cluster.settings, "ticks", first);

    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args([
            "run",
            "--brokers",
            &cluster.kafka.bootstrap_servers(),
            "--group",
            "service",
            "--delivery",
            "at-least-once",
            "--health-addr",
            "127.0.0.1:0",
            "--metrics-interval-secs",
            "1",
            "--shutdown-timeout-secs",
            "20",
            // The embedded broker holds a group for the session timeout of its last member
            // even after it leaves; keep that short for the successor below.
            "--consumer-config",
            "session.timeout.ms=6000",
        ])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = json_lines(child.stderr.take().unwrap());
    let metrics = json_lines(child.stdout.take().unwrap());
    let mut seen_logs = Vec::new();
    let mut seen_metrics = Vec::new();

    // JSON logs, with the health endpoint's address.
    let addr = wait_for(&logs, &mut seen_logs, "health endpoint log", |l| {
        (l["message"] == "health endpoint listening")
            .then(|| l["addr"].as_str().unwrap().to_owned())
    });
    assert_eq!(seen_logs[0]["level"], "INFO");
    wait_for(&logs, &mut seen_logs, "assignment", |l| {
        (l["message"] == "partitions assigned").then_some(())
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while processor::health::probe(&addr, "/health/ready", Duration::from_secs(2)).unwrap() != 200 {
        assert!(Instant::now() < deadline, "never ready");
    }

    // Metrics: EMF documents; wait until the first half has been taken in.
    let mut records_in = 0;
    wait_for(&metrics, &mut seen_metrics, "metrics", |m| {
        records_in += m["RecordsIn"].as_u64().unwrap_or(0);
        (records_in >= first.len() as u64).then_some(())
    });
    let main = seen_metrics
        .iter()
        .find(|m| m.get("RecordsIn").is_some())
        .unwrap();
    assert_eq!(
        main["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "StreamingPipeline"
    );

    // More input arrives; stop the processor while it works on it.
    produce(&cluster.settings, "ticks", second);
    signal(&child, "TERM");
    let (exited, exit) = mpsc::channel();
    std::thread::spawn(move || exited.send(child.wait()));
    let status = exit
        .recv_timeout(Duration::from_secs(60))
        .expect("still running a minute after SIGTERM")
        .unwrap();
    // Status 0, not the watchdog's 2: it stopped within its 20 s bound, having left the group.
    assert_eq!(status.code(), Some(0), "logs: {seen_logs:#?}");
    let rest: Vec<Value> = logs.iter().collect();
    let messages: Vec<&str> = rest.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(
        messages.iter().any(|m| m.starts_with("stopping:")),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"processor stopped; left the group"),
        "{messages:?}"
    );
    let final_report: Vec<Value> = metrics.iter().collect();
    assert!(
        final_report.iter().any(|m| m.get("RecordsIn").is_some()),
        "a last report on the way out"
    );

    // Nothing lost: a successor in the same group finishes the input from the commits, and
    // the outputs are exactly the expected ones (a graceful stop repeats nothing either).
    let mut config = EngineConfig::new("service", Delivery::AtLeastOnce);
    config.consumer_overrides = vec![("session.timeout.ms".into(), "6000".into())];
    let mut successor = Engine::start(spec(), &cluster.settings, None, config).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let end = |p: i32| inputs.iter().filter(|i| i.partition == p).count() as i64;
    while successor.high_waters().len() < 3
        || successor.high_waters().iter().any(|(p, hw)| *hw < end(*p))
    {
        assert!(
            Instant::now() < deadline,
            "stalled: {:?}",
            successor.stats()
        );
        successor.run_batch().unwrap();
    }
    successor.close_all().unwrap();
    check_outputs(&cluster.settings, &inputs, false);
}

/// `processor run` killed with SIGKILL mid-run (no final commit, no leaving the group) and a
/// processor restarted in the same group: every window and dead letter arrives, and any that
/// arrives twice is identical, since the restart resumes from the checkpoint in the commit.
#[test]
fn a_processor_killed_mid_run_and_restarted_loses_and_changes_nothing() {
    let cluster = cluster();
    let inputs = inputs();
    kill_mid_run_and_restart(&cluster.settings, "killed", &inputs);
    check_outputs(&cluster.settings, &inputs, true);
}
