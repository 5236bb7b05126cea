//! The command line refuses what it cannot do, at once, naming the flag (or spec key) and what
//! it accepts; every error is printed once, without colour codes when stderr is not a
//! terminal. Each case runs the built binary as a user would.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the processor with `args` from the repository's root; returns its output and how long
/// it took.
fn processor(args: &[&str]) -> (Output, Duration) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (output, started.elapsed())
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A loopback port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn out_of_range_local_flags_are_refused_before_anything_starts() {
    for (flag, value, expected) in [
        ("--rate", "0", "expected a whole number from 1 to 10000000"),
        (
            "--events",
            "-5",
            "expected a whole number from 1 to 1000000000",
        ),
        (
            "--events",
            "0",
            "expected a whole number from 1 to 1000000000",
        ),
        ("--keys", "0", "expected a whole number from 1 to"),
        (
            "--partitions",
            "0",
            "expected a whole number from 1 to 1000",
        ),
        (
            "--partitions",
            "-2",
            "expected a whole number from 1 to 1000",
        ),
        ("--malformed", "2", "expected a share from 0 to 1"),
        ("--disorder", "-0.1", "expected a share from 0 to 1"),
        (
            "--rate",
            "fast",
            "expected a whole number from 1 to 10000000",
        ),
    ] {
        let out_dir = tempfile_dir();
        let (output, _) = processor(&["local", flag, value, "--out", &out_dir]);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {text}");
        assert!(
            text.contains(&format!("'{value}' for '{flag} <")),
            "{flag} {value} is named: {text}"
        );
        assert!(text.contains(expected), "{flag} {value}: {text}");
        assert!(
            !text.contains("unexpected argument"),
            "{flag} {value} is read as a value: {text}"
        );
        // Refused before the run made its outputs.
        assert!(
            !Path::new(&out_dir).join("aggregates.jsonl").exists(),
            "{flag} {value} started a run"
        );
    }
}

#[test]
fn a_broker_that_cannot_be_reached_is_named_with_the_reason_at_once() {
    let port = closed_port();
    let broker = format!("127.0.0.1:{port}");
    let out_dir = tempfile_dir();
    let local = ["local", "--brokers", &broker, "--out", &out_dir];
    let replay = [
        "replay",
        "--brokers",
        &broker,
        "--dry-run",
        "--timeout-secs",
        "30",
    ];
    for args in [&local[..], &replay[..]] {
        let (output, took) = processor(args);
        let text = stderr(&output);
        assert!(!output.status.success(), "{args:?}: {text}");
        assert!(
            text.contains(&broker) && text.to_lowercase().contains("refused"),
            "{args:?}: {text}"
        );
        // Not a request timeout a minute later.
        assert!(
            took < Duration::from_secs(20),
            "{args:?} took {took:?}: {text}"
        );
    }
}

/// `run` keeps starting when no broker answers (in ECS the cluster may come up later), but says
/// which broker and why at once, and its final error says its cause once, not three times.
#[test]
fn run_names_an_unreachable_broker_first_and_its_error_once() {
    let broker = format!("127.0.0.1:{}", closed_port());
    let (output, _) = processor(&["run", "--brokers", &broker, "--health-addr", "127.0.0.1:0"]);
    assert!(!output.status.success());
    let text = stderr(&output);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["level"], "WARN", "{text}");
    let warning = lines[0]["message"].as_str().unwrap();
    assert!(
        warning.contains(&broker) && warning.contains("refused"),
        "{warning}"
    );
    let error = lines.last().unwrap();
    assert_eq!(error["level"], "ERROR", "{text}");
    let message = error["message"].as_str().unwrap();
    assert_eq!(
        message.matches("Timed out").count(),
        1,
        "the cause is said once: {message}"
    );
}

#[test]
fn an_error_is_printed_once_and_without_colour_codes_when_redirected() {
    let port = closed_port();
    let out_dir = tempfile_dir();
    let (output, _) = processor(&[
        "local",
        "--brokers",
        &format!("127.0.0.1:{port}"),
        "--out",
        &out_dir,
    ]);
    let text = stderr(&output);
    assert!(!output.status.success());
    assert_eq!(
        text.matches("could be reached").count(),
        1,
        "the error once: {text}"
    );
    assert!(text.starts_with("processor: "), "{text}");
    assert!(!text.contains('\u{1b}'), "no escape codes: {text:?}");
    assert!(!text.contains("ERROR"), "no second, logged copy: {text}");

    let (output, _) = processor(&["--spec", "/nonexistent/spec.toml", "schema"]);
    let text = stderr(&output);
    assert!(!output.status.success());
    assert!(text.starts_with("processor: "), "{text}");
    assert_eq!(text.matches("cannot read the file").count(), 1, "{text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
}

#[test]
fn a_spec_reports_every_problem_against_the_key_that_has_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("config/pipelines/stock-ticks.toml")).unwrap();
    // An unknown key beside an impossible value: both are reported.
    let broken = text
        .replacen("max = \"1000000\"", "max = \"-1\"", 1)
        .replacen("[window]", "[window]\nsise = \"1m\"", 1);
    assert_ne!(broken, text);
    let dir = tempfile_dir();
    let path = Path::new(&dir).join("broken.toml");
    std::fs::write(&path, broken).unwrap();
    let (output, _) = processor(&["--spec", path.to_str().unwrap(), "schema"]);
    let text = stderr(&output);
    assert!(!output.status.success());
    assert!(text.contains("window.sise: unknown key"), "{text}");
    assert!(
        text.contains("(price).max: no value is allowed: exclusive_min = \"0\" and max = \"-1\""),
        "{text}"
    );
    assert!(text.contains("broken.toml"), "the file is named: {text}");
}

/// A fresh folder under the system's temporary folder.
fn tempfile_dir() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("processor-cli-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.to_string_lossy().into_owned()
}
