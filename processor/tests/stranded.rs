//! An instance that joins its group and is given no partitions while the group's input waits
//! must not look healthy while it does nothing. On the embedded broker a member that holds the
//! only partition and never commits (as a killed member the broker keeps would) strands a
//! `processor run`: it warns, reports `StrandedBacklog` and stops answering ready. On tansu,
//! where a member killed with SIGKILL under load has been seen to keep its partitions for
//! minutes, a processor killed and restarted under load either resumes or says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::{json_lines, signal, spec};
use pipeline_kafka::{EmbeddedKafka, KafkaSettings};
use pipeline_testkit::tansu::Tansu;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, ThreadedProducer};
use serde_json::Value;

const GROUP: &str = "stranded";

fn processor(brokers: &str) -> (Child, Receiver<Value>, Receiver<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args(["run", "--brokers", brokers, "--group", GROUP])
        .args([
            "--delivery",
            "at-least-once",
            "--health-addr",
            "127.0.0.1:0",
        ])
        .args(["--metrics-interval-secs", "1", "--stranded-secs", "3"])
        .args([
            "--consumer-config",
            "session.timeout.ms=6000,heartbeat.interval.ms=500",
        ])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = json_lines(child.stderr.take().unwrap());
    let metrics = json_lines(child.stdout.take().unwrap());
    (child, logs, metrics)
}

/// Ticks to `topic` from a thread of its own, about 2,000 a second, until `stop`.
fn load(settings: &KafkaSettings, topic: &'static str, stop: Arc<AtomicBool>) {
    let producer: ThreadedProducer<DefaultProducerContext> =
        settings.producer_config().unwrap().create().unwrap();
    std::thread::spawn(move || {
        let start = chrono::Utc::now().timestamp_millis();
        let mut i = 0_i64;
        while !stop.load(Ordering::Acquire) {
            for _ in 0..20 {
                let t = start + i;
                let payload = format!(
                    r#"{{"event_id":"e-{i}","ticker":"T{}","price":10.5,"volume":1,"event_time":{t}}}"#,
                    i % 7
                );
                let key = format!("T{}", i % 7);
                let _ = producer.send(
                    BaseRecord::to(topic)
                        .key(&key)
                        .payload(&payload)
                        .timestamp(t),
                );
                i += 1;
            }
            // Pacing of the load generator, not synchronisation: ~2,000 ticks a second.
            std::thread::sleep(Duration::from_millis(10));
        }
    });
}

fn wait_exit(mut child: Child) {
    let (exited, exit) = mpsc::channel();
    std::thread::spawn(move || exited.send(child.wait()));
    exit.recv_timeout(Duration::from_secs(60)).unwrap().unwrap();
}

/// Reads lines until `pick` accepts one or `limit` passes; `None` if it never did.
fn first<T>(
    lines: &Receiver<Value>,
    limit: Duration,
    mut pick: impl FnMut(&Value) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left).ok()?;
        if let Some(found) = pick(&line) {
            return Some(found);
        }
    }
}

#[test]
fn an_instance_given_no_partitions_while_the_group_waits_reports_itself_stranded() {
    let kafka = EmbeddedKafka::start(1).unwrap();
    let spec = spec();
    kafka.create_topic(&spec.topics.input, 1).unwrap();
    kafka.create_topic(&spec.topics.output, 1).unwrap();
    kafka.create_topic(&spec.topics.dead_letter, 1).unwrap();
    let settings = KafkaSettings::local(kafka.bootstrap_servers());
    let stop = Arc::new(AtomicBool::new(false));
    load(&settings, "ticks", Arc::clone(&stop));

    // A member that holds the only partition, heartbeats, and never reads or commits.
    let zombie: BaseConsumer = settings
        .client_config()
        .unwrap()
        .set("group.id", GROUP)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    zombie.subscribe(&["ticks"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while zombie.assignment().unwrap().count() == 0 {
        assert!(Instant::now() < deadline, "the zombie was never assigned");
        let _ = zombie.poll(Duration::from_millis(100));
    }
    zombie.pause(&zombie.assignment().unwrap()).unwrap();
    let zombie_stop = Arc::new(AtomicBool::new(false));
    let heartbeat = {
        let stop = Arc::clone(&zombie_stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                let _ = zombie.poll(Duration::from_millis(100));
            }
        })
    };

    let (child, logs, metrics) = processor(&settings.brokers);
    let addr = first(&logs, Duration::from_secs(30), |l| {
        (l["message"] == "health endpoint listening")
            .then(|| l["addr"].as_str().unwrap().to_owned())
    })
    .expect("the health endpoint's address");
    let warning = first(&logs, Duration::from_secs(60), |l| {
        (l["level"] == "WARN" && l["message"].as_str().unwrap_or("").starts_with("stranded"))
            .then(|| l.clone())
    })
    .expect("a stranded warning");
    assert!(warning["behind"].as_i64().unwrap() > 0, "{warning}");
    let backlog = first(&metrics, Duration::from_secs(30), |m| {
        m["StrandedBacklog"].as_i64().filter(|b| *b > 0)
    })
    .expect("StrandedBacklog reported above 0");
    assert!(backlog > 0);
    let status = processor::health::probe(&addr, "/health/ready", Duration::from_secs(2)).unwrap();
    assert_eq!(status, 503, "a stranded instance is not ready");
    assert_eq!(
        processor::health::probe(&addr, "/health/live", Duration::from_secs(2)).unwrap(),
        200,
        "but live: restarting it would not free the partition"
    );

    // The zombie leaves: the partition moves to the processor, which is ready again.
    zombie_stop.store(true, Ordering::Release);
    heartbeat.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while processor::health::probe(&addr, "/health/ready", Duration::from_secs(2)).unwrap() != 200 {
        assert!(
            Instant::now() < deadline,
            "never ready after the partition came"
        );
        std::thread::park_timeout(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Release);
    signal(&child, "TERM");
    wait_exit(child);
}

/// `processor run` on tansu under load, killed with SIGKILL and started again in its group:
/// within two minutes the new instance either takes partitions and processes again, or reports
/// itself stranded (warning, `StrandedBacklog`, not ready). Silence is the failure.
#[test]
fn on_tansu_a_processor_killed_under_load_and_restarted_resumes_or_reports() {
    let tansu = Tansu::start();
    processor::local::create_topics(&tansu.settings, &spec(), 3).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    load(&tansu.settings, "ticks", Arc::clone(&stop));

    let (child, _logs, metrics) = processor(&tansu.settings.brokers);
    first(&metrics, Duration::from_secs(60), |m| {
        (m["RecordsIn"].as_u64().unwrap_or(0) > 0).then_some(())
    })
    .expect("the first instance processes");
    signal(&child, "KILL");
    wait_exit(child);

    let (child, logs, metrics) = processor(&tansu.settings.brokers);
    let (tx, outcome) = mpsc::channel();
    let resumed = tx.clone();
    std::thread::spawn(move || {
        let seen = first(&metrics, Duration::from_secs(120), |m| {
            (m["AssignedPartitions"].as_u64().unwrap_or(0) > 0
                && m["RecordsIn"].as_u64().unwrap_or(0) > 0)
                .then_some("resumed")
        });
        let _ = resumed.send(seen);
    });
    std::thread::spawn(move || {
        let seen = first(&logs, Duration::from_secs(120), |l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("stranded"))
                .then_some("reported itself stranded")
        });
        let _ = tx.send(seen);
    });
    // Whichever comes first; if the first watcher gave up, the other's answer.
    let what = match outcome.recv().unwrap() {
        Some(what) => Some(what),
        None => outcome.recv().unwrap(),
    };
    eprintln!("after the kill, the restarted processor {what:?}");
    assert!(
        what.is_some(),
        "the restarted processor neither resumed nor reported itself stranded in 2 minutes"
    );
    stop.store(true, Ordering::Release);
    signal(&child, "TERM");
    wait_exit(child);
}
