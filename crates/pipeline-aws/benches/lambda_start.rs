//! Lambda cold start on this machine: how long each built function takes from `exec` to its
//! first `GET /2018-06-01/runtime/invocation/next` (the moment Lambda counts it ready), and its
//! resident memory then, next to starting `/bin/true` (the floor of starting any process here),
//! plus the sizes of the arm64 `bootstrap.zip`s that are deployed.
//!
//! ```sh
//! ./scripts/build-lambdas      # the arm64 zips (sizes)
//! cargo build --profile lambda-release -p producer -p topic-creator -p feature-writer -p checker
//! cargo bench -p pipeline-aws --bench lambda_start
//! ```
//!
//! Each function gets a loopback listener as its Runtime API and the configuration it needs to
//! start without reaching anything (brokers given, not looked up from a cluster ARN; fake
//! credentials), so what is timed is the process itself: loading, reading the configuration,
//! building clients. Run without `--bench` (as `cargo test --all-targets` does) it times the
//! debug builds twice each, as a smoke test that every function reaches the Runtime API.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const FUNCTIONS: [&str; 4] = ["producer", "topic-creator", "feature-writer", "checker"];
const READY_LIMIT: Duration = Duration::from_secs(20);

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    )
}

/// The configuration each function needs to start; nothing in it is contacted at start.
fn configuration(name: &str) -> Vec<(&'static str, &'static str)> {
    let mut env = vec![
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        // The pipeline the producer, feature-writer and checker serve (the topic-creator
        // ignores it).
        ("PIPELINE", "sensor-readings"),
    ];
    match name {
        "producer" | "topic-creator" => {
            env.extend([
                ("BOOTSTRAP_BROKERS", "127.0.0.1:9"),
                ("KAFKA_AUTH", "plaintext"),
            ]);
        }
        "feature-writer" => env.extend([
            ("FEATURE_GROUP_NAME", "bench"),
            (
                "FAILURE_QUEUE_URL",
                "https://sqs.eu-west-1.amazonaws.com/123456789012/bench",
            ),
        ]),
        "checker" => env.extend([("ENVIRONMENT", "bench"), ("FEATURE_GROUP_NAME", "bench")]),
        other => panic!("no configuration for {other}"),
    }
    env
}

struct Start {
    ready: Duration,
    rss_kib: u64,
}

/// Starts `binary` against a fresh loopback Runtime API and times it to its first request.
fn start_once(name: &str, binary: &Path) -> Start {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let api = listener.local_addr().unwrap().to_string();
    let (first_request, requested) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept the function's connection");
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        let at = Instant::now();
        // Keep the connection open until the measurement is read: the function waits on it.
        let _ = first_request.send((at, line, stream));
    });

    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("RUST_LOG", "warn")
        .envs(configuration(name))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let outcome = requested.recv_timeout(READY_LIMIT);
    let rss_kib = resident_kib(child.id());
    let exited = child.try_wait().ok().flatten();
    let _ = child.kill();
    let _ = child.wait();
    let (at, line, _stream) = outcome.unwrap_or_else(|_| {
        panic!(
            "{name} did not ask for an invocation within {READY_LIMIT:?} (exited: {exited:?}); \
             its log is above"
        )
    });
    assert!(
        line.starts_with("GET /2018-06-01/runtime/invocation/next "),
        "{name}'s first request is not the Runtime API's `next`: {line:?}"
    );
    Start {
        ready: at - started,
        rss_kib,
    }
}

/// `VmRSS` of a running process, from `/proc`.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn floor_once() -> Duration {
    let started = Instant::now();
    let status = Command::new("/bin/true").status().expect("run /bin/true");
    assert!(status.success());
    started.elapsed()
}

fn median_min_max(mut values: Vec<Duration>) -> (Duration, Duration, Duration) {
    values.sort();
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

fn main() {
    let bench = std::env::args().any(|arg| arg == "--bench");
    let (profile, runs) = if bench {
        ("lambda-release", 21)
    } else {
        ("debug", 2)
    };
    let target = target_dir();
    let binaries: Vec<(&str, PathBuf)> = FUNCTIONS
        .iter()
        .map(|name| (*name, target.join(profile).join(name)))
        .collect();
    let missing: Vec<String> = binaries
        .iter()
        .filter(|(_, path)| !path.exists())
        .map(|(_, path)| path.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "not built: {}; build them with `cargo build --profile {profile} -p producer -p \
         topic-creator -p feature-writer -p checker`",
        missing.join(", ")
    );

    println!("Lambda start to ready ({profile} builds for this machine, {runs} starts each)");
    println!(
        "| function | start to ready, ms, median (min–max) | /bin/true, ms | × /bin/true | \
         RSS at ready, MiB | arm64 bootstrap.zip, MiB | arm64 bootstrap, MiB |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, binary) in &binaries {
        // Starts and floors interleaved, so drift on this shared machine hits both alike.
        let mut ready = Vec::with_capacity(runs);
        let mut floor = Vec::with_capacity(runs);
        let mut rss = Vec::with_capacity(runs);
        // One untimed start warms the page cache, as a Lambda's image is warm on its host.
        start_once(name, binary);
        for _ in 0..runs {
            floor.push(floor_once());
            let start = start_once(name, binary);
            ready.push(start.ready);
            rss.push(start.rss_kib);
        }
        rss.sort_unstable();
        let (median, min, max) = median_min_max(ready);
        let (floor_median, _, _) = median_min_max(floor);
        let zip = target.join("lambda").join(name).join("bootstrap.zip");
        let arm64 = target
            .join("aarch64-unknown-linux-gnu/lambda-release")
            .join(name);
        let size = |path: &Path| {
            std::fs::metadata(path).map_or_else(|_| "not built".to_owned(), |m| mib(m.len()))
        };
        println!(
            "| {name} | {} ({}–{}) | {} | {:.1} | {:.1} | {} | {} |",
            ms(median),
            ms(min),
            ms(max),
            ms(floor_median),
            median.as_secs_f64() / floor_median.as_secs_f64(),
            rss[rss.len() / 2] as f64 / 1024.0,
            size(&zip),
            size(&arm64),
        );
    }
}
