//! A tansu broker (a Kafka-compatible broker) on a free loopback port, for the broker suites:
//! with in-memory storage, or with its store in an S3 bucket (moto_server's, in the tests),
//! which survives restarting it. `./scripts/test` installs it; a test that needs it and cannot find it
//! fails saying how to install it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pipeline_kafka::KafkaSettings;

/// A running tansu broker, stopped when dropped.
#[derive(Debug)]
pub struct Tansu {
    child: Child,
    pub settings: KafkaSettings,
    port: u16,
    storage: String,
    env: Vec<(String, String)>,
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
    /// Starts a broker with in-memory storage and waits until it accepts connections.
    pub fn start() -> Self {
        Self::start_with("memory://tansu/", Vec::new())
    }

    /// Starts a broker whose store is `bucket` on the S3 endpoint `endpoint` (plain HTTP, e.g.
    /// moto_server on loopback), so that what it holds survives [`Tansu::restart`].
    pub fn start_on_s3(endpoint: &str, bucket: &str) -> Self {
        let env = [
            ("AWS_ENDPOINT", endpoint),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ];
        let env = env.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec();
        Self::start_with(&format!("s3://{bucket}/"), env)
    }

    fn start_with(storage: &str, env: Vec<(String, String)>) -> Self {
        // A free port: the kernel's choice, released just before tansu binds it.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = spawn(port, storage, &env);
        let tansu = Self {
            child,
            settings: KafkaSettings::local(format!("127.0.0.1:{port}")),
            port,
            storage: storage.to_owned(),
            env,
        };
        tansu.wait_until_listening();
        tansu
    }

    /// Stops the broker (SIGKILL: no chance to tidy up) and starts it again on the same port
    /// with the same store; returns once it accepts connections again.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(self.port, &self.storage, &self.env);
        self.wait_until_listening();
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {}",
                self.port
            );
            // Polling a condition, not waiting for time to pass.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn spawn(port: u16, storage: &str, env: &[(String, String)]) -> Child {
    let url = format!("tcp://127.0.0.1:{port}");
    Command::new(binary())
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            storage,
        ])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting tansu")
}
