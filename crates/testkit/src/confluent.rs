//! A small HTTP double of a Confluent-compatible schema registry, for tests: no such registry
//! installs here (Karapace is not on PyPI's index as this machine sees it, and Confluent's own
//! needs a JVM distribution). It serves the four calls the pipeline makes, with the registry's
//! paths, bodies and error codes (Confluent's REST API reference):
//! - `GET /schemas/ids/{id}` → `{"schema": …}` (and `"schemaType"` when not `AVRO`), or 404
//!   with `error_code` 40403;
//! - `GET /subjects/{subject}/versions/{version|latest}` → `{"subject", "id", "version",
//!   "schema"}`, or 404 with 40401 (no subject) or 40402 (no version);
//! - `POST /subjects/{subject}/versions` `{"schema": …, "schemaType": …}` → `{"id": …}` (the
//!   existing id when the subject already has that schema; `schemaType` absent is `AVRO`);
//! - `POST /subjects/{subject}` `{"schema": …}` → the version of the subject holding it, or 404
//!   with 40403.
//!
//! Schemas are compared as text; ids are global across subjects, from 1, as the registry does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

#[derive(Debug, Default)]
struct State {
    /// id → schema text and type (`AVRO`, `PROTOBUF`).
    schemas: Vec<(String, String)>,
    /// subject → ids of its versions, in order.
    subjects: BTreeMap<String, Vec<u32>>,
    /// Statuses to answer the next requests with (a 5xx to test retries).
    faults: VecDeque<u16>,
    /// Every request's method and path, in order.
    seen: Vec<String>,
}

/// The running double; its thread ends with the process.
#[derive(Debug, Clone)]
pub struct ConfluentDouble {
    url: String,
    state: Arc<Mutex<State>>,
}

impl ConfluentDouble {
    /// Starts on a free loopback port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let double = Self {
            url: format!("http://{}", listener.local_addr().expect("local address")),
            state: Arc::default(),
        };
        let serving = double.clone();
        crate::double::serve_each(listener, move |stream| serving.serve(stream));
        double
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Registers Avro `schema` under `subject` directly; its id.
    pub fn register(&self, subject: &str, schema: &str) -> u32 {
        self.register_typed(subject, schema, "AVRO")
    }

    /// Registers `schema` of `schema_type` under `subject` directly; its id.
    pub fn register_typed(&self, subject: &str, schema: &str, schema_type: &str) -> u32 {
        register(
            &mut self.state.lock().unwrap(),
            subject,
            schema,
            schema_type,
        )
    }

    /// Answers the next requests with these HTTP statuses, in order.
    pub fn fail_next(&self, statuses: impl IntoIterator<Item = u16>) {
        self.state.lock().unwrap().faults.extend(statuses);
    }

    /// `METHOD /path` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().seen.clone()
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
        let mut stream = stream;
        while let Some((method, path, body)) = crate::double::read_request(&mut reader) {
            let (status, answer) = self.answer(&method, &path, &body);
            let answer = answer.to_string();
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/vnd.schemaregistry.v1+json\r\ncontent-length: {}\r\n\r\n",
                answer.len()
            );
            if stream.write_all(head.as_bytes()).is_err()
                || stream.write_all(answer.as_bytes()).is_err()
            {
                return;
            }
        }
    }

    fn answer(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let mut state = self.state.lock().unwrap();
        state.seen.push(format!("{method} {path}"));
        if let Some(status) = state.faults.pop_front() {
            return (
                status,
                json!({"error_code": status * 100, "message": "injected"}),
            );
        }
        let not_found =
            |code: u32, message: &str| (404, json!({"error_code": code, "message": message}));
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method, parts.as_slice()) {
            ("GET", ["schemas", "ids", id]) => {
                match id
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| state.schemas.get(i.checked_sub(1)?))
                {
                    Some(schema) => (200, described(schema, json!({}))),
                    None => not_found(40403, "Schema not found"),
                }
            }
            ("GET", ["subjects", subject, "versions", version]) => {
                let Some(ids) = state.subjects.get(*subject) else {
                    return not_found(40401, "Subject not found");
                };
                let index = match *version {
                    "latest" => ids.len().checked_sub(1),
                    n => n.parse::<usize>().ok().and_then(|n| n.checked_sub(1)),
                };
                match index.and_then(|i| Some((i, *ids.get(i)?))) {
                    Some((i, id)) => (
                        200,
                        described(
                            &state.schemas[id as usize - 1],
                            json!({"subject": subject, "id": id, "version": i + 1}),
                        ),
                    ),
                    None => not_found(40402, "Version not found"),
                }
            }
            ("POST", ["subjects", subject, "versions"]) => {
                let Some(schema) = body.get("schema").and_then(Value::as_str) else {
                    return (
                        422,
                        json!({"error_code": 42201, "message": "Invalid schema"}),
                    );
                };
                let schema_type = body
                    .get("schemaType")
                    .and_then(Value::as_str)
                    .unwrap_or("AVRO");
                let id = register(&mut state, subject, schema, schema_type);
                (200, json!({"id": id}))
            }
            ("POST", ["subjects", subject]) => {
                let schema = body
                    .get("schema")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let found = state.subjects.get(*subject).and_then(|ids| {
                    ids.iter()
                        .enumerate()
                        .find(|(_, id)| state.schemas[**id as usize - 1].0 == schema)
                        .map(|(i, id)| (i, *id))
                });
                match found {
                    Some((i, id)) => (
                        200,
                        json!({"subject": subject, "id": id, "version": i + 1, "schema": schema}),
                    ),
                    None => not_found(40403, "Schema not found"),
                }
            }
            _ => (
                404,
                json!({"error_code": 404, "message": format!("the double does not serve {method} {path}")}),
            ),
        }
    }
}

/// `answer` with the schema's text and, unless Avro, its type.
fn described((text, schema_type): &(String, String), mut answer: Value) -> Value {
    answer["schema"] = json!(text);
    if schema_type != "AVRO" {
        answer["schemaType"] = json!(schema_type);
    }
    answer
}

fn register(state: &mut State, subject: &str, schema: &str, schema_type: &str) -> u32 {
    let entry = (schema.to_owned(), schema_type.to_owned());
    let existing = state.subjects.get(subject).and_then(|ids| {
        ids.iter()
            .find(|id| state.schemas[**id as usize - 1] == entry)
            .copied()
    });
    if let Some(id) = existing {
        return id;
    }
    let id = match state.schemas.iter().position(|s| *s == entry) {
        Some(i) => i as u32 + 1,
        None => {
            state.schemas.push(entry);
            state.schemas.len() as u32
        }
    };
    state
        .subjects
        .entry(subject.to_owned())
        .or_default()
        .push(id);
    id
}
