//! The Lambda Runtime API emulator of `cargo lambda watch`, for tests that invoke a built
//! function for real: the emulator runs with `--only-lambda-apis` on a free loopback port, the
//! test starts the function's binary against it (as Lambda starts `bootstrap`), and
//! `cargo lambda invoke` sends an event and returns the function's answer.
//!
//! `cargo-lambda` is found at `$CARGO_LAMBDA`, in the project's `.venv/bin/` (where
//! `scripts/test` installs it), or on the `PATH`; a test that cannot find it fails saying how
//! to install it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn cargo_lambda() -> PathBuf {
    if let Some(path) = std::env::var_os("CARGO_LAMBDA") {
        return path.into();
    }
    let venv = workspace().join(".venv/bin/cargo-lambda");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("cargo-lambda")
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().unwrap().port()
}

/// A child process killed when dropped.
#[derive(Debug)]
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cargo lambda watch --only-lambda-apis` on a free loopback port; stopped when dropped.
#[derive(Debug)]
pub struct RuntimeEmulator {
    _watch: Killed,
    port: u16,
    /// The crate whose function this serves; `cargo lambda` reads its metadata.
    crate_dir: PathBuf,
}

impl RuntimeEmulator {
    /// Starts the emulator for the crate at `crate_dir` and waits until it serves.
    pub fn start(crate_dir: impl AsRef<Path>) -> Self {
        let crate_dir = crate_dir.as_ref().to_path_buf();
        let binary = cargo_lambda();
        let port = free_port();
        let mut child = Command::new(&binary)
            .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1"])
            .args(["-P", &port.to_string(), "--timeout", "120"])
            .current_dir(&crate_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}. Install it with `scripts/test` (which puts it in \
                     .venv), or `.venv/bin/pip install cargo-lambda`, or set CARGO_LAMBDA to its \
                     path",
                    binary.display()
                )
            });
        // It logs to stdout or stderr depending on the version: watch both for the line that
        // says the runtime server is up, and keep draining both so that it never blocks.
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines_tx = lines_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = lines_tx.send(line);
                }
            });
        }
        drop(lines_tx);
        let watch = Killed(child);
        let mut seen = Vec::new();
        loop {
            match lines_rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.contains("starting Runtime server") => break,
                Ok(line) => seen.push(line),
                Err(_) => panic!(
                    "`cargo lambda watch` did not start its runtime server on port {port}; it \
                     said:\n{}",
                    seen.join("\n")
                ),
            }
        }
        std::thread::spawn(move || for _ in lines_rx {});
        Self {
            _watch: watch,
            port,
            crate_dir,
        }
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API` for the function `name`.
    pub fn runtime_api(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/.rt/{name}", self.port)
    }

    /// Starts `binary` as the function `name` with the variables Lambda sets and `env`; it is
    /// stopped when the returned handle is dropped. Its output is inherited (the test's log).
    pub fn start_function(&self, name: &str, binary: &Path, env: &[(&str, String)]) -> Function {
        let child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", self.runtime_api(name))
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Function(Killed(child))
    }

    /// `cargo lambda invoke name --data-file event`: the function's JSON answer, or the error
    /// it returned (as `cargo lambda` prints it).
    pub fn invoke(&self, name: &str, event: &Path) -> Result<serde_json::Value, String> {
        let Output {
            status,
            stdout,
            stderr,
        } = Command::new(cargo_lambda())
            .args(["lambda", "invoke", name, "-A", "127.0.0.1"])
            .args(["-P", &self.port.to_string(), "--output-format", "json"])
            .arg("--data-file")
            .arg(event)
            .current_dir(&self.crate_dir)
            .output()
            .expect("run `cargo lambda invoke`");
        if status.success() {
            serde_json::from_slice(&stdout).map_err(|e| {
                format!(
                    "the answer is not JSON ({e}): {}",
                    String::from_utf8_lossy(&stdout)
                )
            })
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            ))
        }
    }
}

/// A function process started by [`RuntimeEmulator::start_function`]; killed when dropped.
#[derive(Debug)]
pub struct Function(Killed);

impl Function {
    /// Whether the process is still running (a function that fails at start exits).
    pub fn running(&mut self) -> bool {
        matches!(self.0.0.try_wait(), Ok(None))
    }
}
