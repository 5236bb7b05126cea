//! A tansu broker (a Kafka-compatible broker with in-memory storage) on a free loopback port,
//! for the broker suites. `./scripts/test` installs it; a test that needs it and cannot find it
//! fails saying how to install it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::KafkaSettings;

/// A running tansu broker, stopped when dropped.
#[derive(Debug)]
pub struct Tansu {
    child: Child,
    pub settings: KafkaSettings,
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `$TANSU`, else `tansu` on the `PATH` or in Cargo's `bin` folder.
fn binary() -> PathBuf {
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
                 `cargo install tansu --version 0.6.0 --features dynostore --locked` (or set \
                 TANSU=/path/to/tansu)"
            )
        })
}

impl Tansu {
    /// Starts a broker and waits until it accepts connections.
    pub fn start() -> Self {
        // A free port: the kernel's choice, released just before tansu binds it.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(binary())
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
        let tansu = Self {
            child,
            settings: KafkaSettings::local(format!("127.0.0.1:{port}")),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {port}");
            // Polling a condition, not waiting for time to pass.
            std::thread::sleep(Duration::from_millis(20));
        }
        tansu
    }
}
