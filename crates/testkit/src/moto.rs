//! `moto_server` (PyPI `moto[server]`) on a free loopback port, for tests of the AWS adapters
//! against a real HTTP API. Found at `$MOTO_SERVER`, in the project's `.venv/bin/`, or on the
//! `PATH`; a test that needs it and cannot find it fails saying how to install it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running `moto_server`; killed when dropped.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    url: String,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return path.into();
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = workspace.join(".venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("moto_server")
}

impl MotoServer {
    /// Starts `moto_server` and waits until it says it is serving.
    pub fn start() -> Self {
        let binary = binary();
        let mut child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}. Install it with `scripts/test` (which makes .venv), or \
                     `python3 -m venv .venv && .venv/bin/pip install 'moto[server]'`, or set \
                     MOTO_SERVER to its path",
                    binary.display()
                )
            });
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("moto_server exited before serving");
            };
            if let Some(at) = line.find("Running on http://") {
                break line[at + "Running on ".len()..].trim().to_owned();
            }
        };
        // Keep draining its log so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, url }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// One plain HTTP request to S3 on the server, as the test account (moto reads the
    /// service and account from the credential scope and does not check the signature): the
    /// status and the body.
    pub fn http(&self, method: &str, path: &str) -> (u16, Vec<u8>) {
        self.request(method, path, "s3", "", b"")
    }

    /// One request to `service` (its credential scope), with extra header lines and a body.
    fn request(
        &self,
        method: &str,
        path: &str,
        service: &str,
        headers: &str,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        use std::io::{Read as _, Write as _};
        let host = self.url.trim_start_matches("http://").trim_end_matches('/');
        let mut stream = std::net::TcpStream::connect(host).expect("connect to moto_server");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: AWS4-HMAC-SHA256 \
             Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, \
             Signature=0\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(body).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP answer");
        let head = String::from_utf8_lossy(&answer[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let body = answer[split + 4..].to_vec();
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        (status, if chunked { dechunk(&body) } else { body })
    }

    /// One call of Glue's JSON API (`AWSGlue.<operation>`); panics unless it succeeds.
    pub fn glue(&self, operation: &str, input: serde_json::Value) -> serde_json::Value {
        let headers = format!(
            "X-Amz-Target: AWSGlue.{operation}\r\nContent-Type: application/x-amz-json-1.1\r\n"
        );
        let (status, body) =
            self.request("POST", "/", "glue", &headers, input.to_string().as_bytes());
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "Glue {operation}: {text}");
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null)
    }

    /// A Glue registry with one Avro schema (BACKWARD compatibility) whose first version is
    /// `definition`, as Terraform creates them for an Avro spec.
    pub fn create_glue_schema(&self, registry: &str, schema: &str, definition: &str) {
        self.create_glue_schema_of(registry, schema, "AVRO", definition);
    }

    /// [`MotoServer::create_glue_schema`] of `data_format` (`AVRO`, `PROTOBUF`).
    pub fn create_glue_schema_of(
        &self,
        registry: &str,
        schema: &str,
        data_format: &str,
        definition: &str,
    ) {
        self.glue(
            "CreateRegistry",
            serde_json::json!({"RegistryName": registry}),
        );
        self.glue(
            "CreateSchema",
            serde_json::json!({
                "RegistryId": {"RegistryName": registry},
                "SchemaName": schema,
                "DataFormat": data_format,
                "Compatibility": "BACKWARD",
                "SchemaDefinition": definition,
            }),
        );
    }

    /// Creates an S3 bucket.
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = self.http("PUT", &format!("/{bucket}"));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }

    /// Every object in `bucket`, by key, with its bytes.
    pub fn objects(&self, bucket: &str) -> Vec<(String, Vec<u8>)> {
        let (status, listing) = self.http("GET", &format!("/{bucket}?list-type=2&max-keys=1000"));
        let listing = String::from_utf8_lossy(&listing).into_owned();
        assert_eq!(status, 200, "{listing}");
        assert!(
            !listing.contains("<IsTruncated>true"),
            "more than 1,000 objects"
        );
        listing
            .split("<Key>")
            .skip(1)
            .map(|rest| rest[..rest.find("</Key>").unwrap()].to_owned())
            .map(|key| {
                let (status, body) = self.http("GET", &format!("/{bucket}/{key}"));
                assert_eq!(status, 200, "GET {key}");
                (key, body)
            })
            .collect()
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..line_end]).trim(), 16)
            .expect("a chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[line_end + 2..line_end + 2 + size]);
        body = &body[line_end + 2 + size + 2..];
    }
}
