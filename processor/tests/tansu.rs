//! The at-least-once suite against a real Kafka-compatible broker: tansu, started on a free
//! loopback port with in-memory storage. tansu has no transactions, which is what at-least-once
//! mode is for. `./scripts/test` installs tansu; run alone with
//! `cargo install tansu --features dynostore --locked` first.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    check_nothing_lost, check_outputs, engine, finish, inputs, kill_mid_run_and_restart, produce,
    spec,
};
use pipeline_kafka::KafkaSettings;
use processor::{Delivery, Engine, EngineConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};

/// A tansu broker for one test, stopped when dropped.
struct Tansu {
    child: Child,
    settings: KafkaSettings,
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tansu_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin"));
    on_path
        .into_iter()
        .chain(cargo_bin)
        .map(|dir| dir.join("tansu"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "tansu is not installed: run ./scripts/test, which installs it, or \
                 `cargo install tansu --features dynostore --locked` (or set TANSU=/path/to/tansu)"
            )
        })
}

fn start_tansu() -> Tansu {
    // A free port: the kernel's choice, released just before tansu binds it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(tansu_binary())
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "memory://tansu/",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting tansu");
    let tansu = Tansu {
        child,
        settings: KafkaSettings::local(format!("127.0.0.1:{port}")),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tansu did not listen on {port}");
        // Polling a condition, not waiting for time to pass.
        std::thread::sleep(Duration::from_millis(20));
    }
    processor::local::create_topics(&tansu.settings, &spec(), 3).unwrap();
    tansu
}

#[test]
fn at_least_once_on_tansu_delivers_exactly_the_expected_outputs() {
    let tansu = start_tansu();
    let inputs = inputs();
    produce(&tansu.settings, "ticks", &inputs);
    let mut engine = engine(&tansu.settings, "tansu-e2e");
    finish(&mut engine, &inputs);
    assert_eq!(engine.stats().dead_letters_total(), 15);
    check_outputs(&tansu.settings, &inputs, false);
    // What the group committed is what the engine handed over, metadata included.
    let consumer: BaseConsumer = tansu
        .settings
        .client_config()
        .unwrap()
        .set("group.id", "tansu-e2e")
        .create()
        .unwrap();
    let mut list = rdkafka::TopicPartitionList::new();
    for p in 0..3 {
        list.add_partition("ticks", p);
    }
    let stored = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .unwrap();
    for element in stored.elements() {
        let handed = &engine.handed_offsets()[&element.partition()];
        assert_eq!(element.offset(), rdkafka::Offset::Offset(handed.offset));
        // tansu 0.6 drops the metadata of offset commits.
        assert_eq!(element.metadata(), "");
        assert!(!handed.metadata.is_empty());
    }
}

/// The processor process is killed with SIGKILL in the middle of the input and restarted: no
/// window is lost, no dead letter either. tansu 0.6 keeps no offset-commit metadata (its
/// offset fetch answers the offset alone), so the restart cannot know which windows were
/// already emitted or the watermark: windows it reopens are emitted again, and one fed a
/// record the first run had refused as late differs from its first copy. On a broker that
/// keeps the metadata (Kafka, MSK, the embedded broker) every copy is identical; see
/// `tests/service.rs`.
#[test]
fn a_processor_killed_mid_run_and_restarted_loses_nothing() {
    let tansu = start_tansu();
    let inputs = inputs();
    kill_mid_run_and_restart(&tansu.settings, "tansu-kill", &inputs);
    check_nothing_lost(&tansu.settings, &inputs);
}

/// tansu has no transactions: in exactly-once mode the first batch fails, saying why and what
/// to use instead, rather than the processor running on without its guarantee.
#[test]
fn exactly_once_stops_on_a_broker_without_transactions() {
    let tansu = start_tansu();
    let inputs = inputs();
    produce(&tansu.settings, "ticks", &inputs);
    let mut config = EngineConfig::new("tansu-eos", Delivery::ExactlyOnce);
    config.request_timeout = Duration::from_secs(10);
    let mut engine = Engine::start(spec(), &tansu.settings, None, config).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let error = loop {
        assert!(Instant::now() < deadline, "no batch was attempted");
        if let Err(error) = engine.run_batch() {
            break error;
        }
    };
    let text = error.to_string();
    assert!(text.contains("does not support transactions"), "{text}");
    assert!(text.contains("--delivery at-least-once"), "{text}");
    assert_eq!(engine.stats().batches_committed, 0);
}
