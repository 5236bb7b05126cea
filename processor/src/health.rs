//! The health endpoint for the ECS (or load balancer) health check: a minimal HTTP/1.1 server
//! on its own thread, and a probe client for a container health check in an image with no curl.
//!
//! - `GET /health/live`: 200 while the processing loop keeps turning (a batch finished within
//!   the stall limit), else 503: restart me.
//! - `GET /health/ready` (and `/health`): 200 once the engine has joined the group and while it
//!   is live, not shutting down and not stranded (holding no partitions while its group's work
//!   is stuck; see `service::Stranded`), else 503.
//!
//! Both answer a small JSON body with the state.
//! - `GET /metrics`: the catalogue's metrics in the Prometheus text format, once
//!   [`Health::expose_metrics`] has been given the recorder's handle (else 404).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The longest request line and headers read from a client.
const MAX_REQUEST: u64 = 8 * 1024;
/// How long a client may take to send its request.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The processor's health, updated by the processing loop and read by the endpoint.
#[derive(Debug)]
pub struct Health {
    origin: Instant,
    /// Milliseconds after `origin` of the last heartbeat.
    last_beat_ms: AtomicU64,
    started: AtomicBool,
    stopping: AtomicBool,
    stranded: AtomicBool,
    partitions: AtomicUsize,
    stall_limit: Duration,
    metrics: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle>,
}

/// What the endpoint reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub live: bool,
    pub ready: bool,
    pub stopping: bool,
    pub stranded: bool,
    pub partitions: usize,
    pub since_last_batch: Duration,
}

impl Health {
    /// Live until `stall_limit` passes without a heartbeat.
    pub fn new(stall_limit: Duration) -> Self {
        Self {
            origin: Instant::now(),
            last_beat_ms: AtomicU64::new(0),
            started: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            stranded: AtomicBool::new(false),
            partitions: AtomicUsize::new(0),
            stall_limit,
            metrics: std::sync::OnceLock::new(),
        }
    }

    /// Serves `GET /metrics` from this Prometheus recorder's handle.
    pub fn expose_metrics(&self, handle: metrics_exporter_prometheus::PrometheusHandle) {
        let _ = self.metrics.set(handle);
    }

    /// The engine has connected and subscribed.
    pub fn set_started(&self) {
        self.beat(0);
        self.started.store(true, Ordering::Release);
    }

    /// A batch cycle finished; `partitions` are assigned now.
    pub fn beat(&self, partitions: usize) {
        let now = self.origin.elapsed().as_millis() as u64;
        self.last_beat_ms.store(now, Ordering::Release);
        self.partitions.store(partitions, Ordering::Release);
    }

    /// Shutting down: no longer ready, so that the load balancer stops counting on this task.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// Holding no partitions while the group's work is stuck: not ready.
    pub fn set_stranded(&self, stranded: bool) {
        self.stranded.store(stranded, Ordering::Release);
    }

    pub fn status(&self) -> Status {
        let now = self.origin.elapsed();
        let last = Duration::from_millis(self.last_beat_ms.load(Ordering::Acquire));
        let since_last_batch = now.saturating_sub(last);
        let live = since_last_batch <= self.stall_limit;
        let stopping = self.stopping.load(Ordering::Acquire);
        let stranded = self.stranded.load(Ordering::Acquire);
        Status {
            live,
            ready: live && !stopping && !stranded && self.started.load(Ordering::Acquire),
            stopping,
            stranded,
            partitions: self.partitions.load(Ordering::Acquire),
            since_last_batch,
        }
    }
}

/// Serves the health endpoint on `listener` from a thread of its own, for the life of the
/// process.
pub fn serve(listener: TcpListener, health: Arc<Health>) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("health".into())
        .spawn(move || {
            for stream in listener.incoming() {
                match stream {
                    Ok(stream) => {
                        if let Err(error) = answer(stream, &health) {
                            tracing::debug!(%error, "health check connection failed");
                        }
                    }
                    Err(error) => tracing::warn!(%error, "health endpoint accept failed"),
                }
            }
        })?;
    Ok(addr)
}

/// Reads one request and answers it; the connection closes after.
fn answer(stream: TcpStream, health: &Health) -> std::io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut reader = BufReader::new((&stream).take(MAX_REQUEST));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the headers, so that the client sees its request read before the answer.
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if matches!(method, "GET" | "HEAD")
        && path == "/metrics"
        && let Some(handle) = health.metrics.get()
    {
        handle.run_upkeep();
        let page = handle.render();
        return respond_with(&stream, 200, PROMETHEUS_TEXT, &page, method);
    }
    let status = health.status();
    let (code, body) = match (method, path) {
        ("GET" | "HEAD", "/health/live") => (if status.live { 200 } else { 503 }, status),
        ("GET" | "HEAD", "/health/ready" | "/health") => {
            (if status.ready { 200 } else { 503 }, status)
        }
        ("GET" | "HEAD", _) => return respond(&stream, 404, "{\"error\":\"not found\"}", method),
        _ => {
            return respond(&stream, 405, "{\"error\":\"only GET and HEAD\"}", method);
        }
    };
    let body = format!(
        "{{\"live\":{},\"ready\":{},\"stopping\":{},\"stranded\":{},\"partitions\":{},\"ms_since_last_batch\":{}}}",
        body.live,
        body.ready,
        body.stopping,
        body.stranded,
        body.partitions,
        body.since_last_batch.as_millis()
    );
    respond(&stream, code, &body, method)
}

/// The Prometheus text exposition format's content type.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

fn respond(stream: &TcpStream, code: u16, body: &str, method: &str) -> std::io::Result<()> {
    respond_with(stream, code, "application/json", body, method)
}

fn respond_with(
    mut stream: &TcpStream,
    code: u16,
    content_type: &str,
    body: &str,
    method: &str,
) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let mut response = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response.push_str(body);
    }
    stream.write_all(response.as_bytes())?;
    stream.flush()
}

/// Asks a health endpoint (`host:port`, `path`) and returns the HTTP status code: for a
/// container health check (`processor probe`).
pub fn probe(addr: &str, path: &str, timeout: Duration) -> std::io::Result<u16> {
    let target = addr.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no address for {addr}"),
        )
    })?;
    let mut stream = TcpStream::connect_timeout(&target, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut status_line = String::new();
    BufReader::new(stream.take(MAX_REQUEST)).read_line(&mut status_line)?;
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not an HTTP status line: {status_line:?}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(health: Arc<Health>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        serve(listener, health).unwrap().to_string()
    }

    fn get(addr: &str, request: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    #[test]
    fn ready_after_start_until_stopping_live_while_batches_turn() {
        let health = Arc::new(Health::new(Duration::from_secs(60)));
        let addr = server(Arc::clone(&health));
        let t = Duration::from_secs(2);
        assert_eq!(probe(&addr, "/health/live", t).unwrap(), 200);
        assert_eq!(
            probe(&addr, "/health/ready", t).unwrap(),
            503,
            "not started"
        );
        health.set_started();
        health.beat(3);
        assert_eq!(probe(&addr, "/health/ready", t).unwrap(), 200);
        assert_eq!(probe(&addr, "/health", t).unwrap(), 200);
        let body = get(&addr, "GET /health/ready HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(body.starts_with("HTTP/1.1 200 OK\r\n"), "{body}");
        let json: serde_json::Value =
            serde_json::from_str(body.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(json["ready"], true);
        assert_eq!(json["live"], true);
        assert_eq!(json["partitions"], 3);
        health.set_stranded(true);
        assert_eq!(probe(&addr, "/health/ready", t).unwrap(), 503, "stranded");
        assert_eq!(probe(&addr, "/health/live", t).unwrap(), 200);
        health.set_stranded(false);
        assert_eq!(probe(&addr, "/health/ready", t).unwrap(), 200);
        health.set_stopping();
        assert_eq!(probe(&addr, "/health/ready", t).unwrap(), 503);
        assert_eq!(probe(&addr, "/health/live", t).unwrap(), 200);
    }

    #[test]
    fn a_loop_that_stops_turning_is_not_live() {
        let health = Arc::new(Health::new(Duration::ZERO));
        health.set_started();
        // Any time at all since the last beat exceeds a zero stall limit.
        while health.status().since_last_batch.is_zero() {
            std::thread::yield_now();
        }
        let addr = server(Arc::clone(&health));
        let t = Duration::from_secs(2);
        assert_eq!(probe(&addr, "/health/live", t).unwrap(), 503);
        assert_eq!(probe(&addr, "/health/ready", t).unwrap(), 503);
    }

    #[test]
    fn metrics_are_served_in_the_prometheus_text_format_once_exposed() {
        let health = Arc::new(Health::new(Duration::from_secs(60)));
        let recorder = crate::prometheus::builder("p", "processor")
            .unwrap()
            .build_recorder();
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("processor_records_in_total").absolute(7);
        });
        health.expose_metrics(recorder.handle());
        let addr = server(health);
        let response = get(&addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
        assert!(
            response.contains("Content-Type: text/plain; version=0.0.4"),
            "{response}"
        );
        assert!(
            response.contains(r#"processor_records_in_total{pipeline="p",service="processor"} 7"#),
            "{response}"
        );
    }

    #[test]
    fn unknown_paths_and_methods_are_refused() {
        let addr = server(Arc::new(Health::new(Duration::from_secs(60))));
        assert_eq!(
            probe(&addr, "/metrics", Duration::from_secs(2)).unwrap(),
            404
        );
        let response = get(&addr, "POST /health HTTP/1.1\r\n\r\n");
        assert!(response.starts_with("HTTP/1.1 405 "), "{response}");
        let head = get(&addr, "HEAD /health/live HTTP/1.1\r\n\r\n");
        assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");
        // A client that sends nothing is dropped after the timeout, and the server goes on.
        let _silent = TcpStream::connect(&addr).unwrap();
        assert_eq!(
            probe(&addr, "/health/live", Duration::from_secs(5)).unwrap(),
            200
        );
    }
}
