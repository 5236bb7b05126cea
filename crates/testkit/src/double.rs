//! A small HTTP double of the SageMaker Feature Store runtime, for tests (no emulator of it
//! exists): it answers `PutRecord` and `BatchGetRecord` on loopback like the service, keeps an
//! online store (the latest record per identifier by event time), records every request for the
//! test to check, and can be told to answer the next requests with errors (e.g. throttling).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// One request as the double saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub body: Value,
}

/// An error answer to give instead of serving a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub status: u16,
    /// The error code, sent in `x-amzn-ErrorType` as the service does.
    pub code: String,
}

impl Fault {
    pub fn throttling() -> Self {
        Self {
            status: 400,
            code: "ThrottlingException".into(),
        }
    }

    pub fn unavailable() -> Self {
        Self {
            status: 503,
            code: "ServiceUnavailable".into(),
        }
    }

    pub fn validation() -> Self {
        Self {
            status: 400,
            code: "ValidationError".into(),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    requests: Vec<SeenRequest>,
    faults: VecDeque<Fault>,
    /// Fail every request with this, after the queued faults.
    always: Option<Fault>,
    /// group → identifier → record (feature name → value)
    online: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
}

/// The running double; stops serving when dropped (its thread ends with the process).
#[derive(Debug, Clone)]
pub struct FeatureStoreDouble {
    url: String,
    state: Arc<Mutex<State>>,
    identifier: String,
    event_time: String,
}

impl FeatureStoreDouble {
    /// Starts on a free loopback port. `identifier` and `event_time` are the feature group's
    /// record identifier and event time feature names.
    pub fn start(identifier: &str, event_time: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let double = Self {
            url: format!("http://{}", listener.local_addr().expect("local address")),
            state: Arc::default(),
            identifier: identifier.into(),
            event_time: event_time.into(),
        };
        let serving = double.clone();
        serve_each(listener, move |stream| serving.serve(stream));
        double
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Answers the next `faults.len()` requests with these errors, in order.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().unwrap().faults.extend(faults);
    }

    /// Answers every request with `fault` from now on (`None` to stop).
    pub fn fail_always(&self, fault: Option<Fault>) {
        self.state.lock().unwrap().always = fault;
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The online record of `id` in `group`.
    pub fn online(&self, group: &str, id: &str) -> Option<BTreeMap<String, String>> {
        let state = self.state.lock().unwrap();
        state.online.get(group)?.get(id).cloned()
    }

    /// Stores a record directly, as if written earlier.
    pub fn seed(&self, group: &str, record: BTreeMap<String, String>) {
        let id = record[&self.identifier].clone();
        let mut state = self.state.lock().unwrap();
        state
            .online
            .entry(group.into())
            .or_default()
            .insert(id, record);
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
        let mut stream = stream;
        while let Some((method, path, body)) = read_request(&mut reader) {
            let (status, code, answer) = self.answer(&method, &path, body);
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                answer.len()
            );
            if let Some(code) = code {
                head.push_str(&format!("x-amzn-errortype: {code}\r\n"));
            }
            head.push_str("\r\n");
            if stream.write_all(head.as_bytes()).is_err()
                || stream.write_all(answer.as_bytes()).is_err()
            {
                return;
            }
        }
    }

    fn answer(&self, method: &str, path: &str, body: Value) -> (u16, Option<String>, String) {
        let mut state = self.state.lock().unwrap();
        state.requests.push(SeenRequest {
            method: method.into(),
            path: path.into(),
            body: body.clone(),
        });
        let fault = state.faults.pop_front().or_else(|| state.always.clone());
        if let Some(fault) = fault {
            let message = json!({"message": format!("{} (injected)", fault.code)}).to_string();
            return (fault.status, Some(fault.code), message);
        }
        let bad = |message: &str| {
            (
                400,
                Some("ValidationError".to_owned()),
                json!({ "message": message }).to_string(),
            )
        };
        if method == "PUT" && path.starts_with("/FeatureGroup/") {
            let group = path.trim_start_matches("/FeatureGroup/").to_owned();
            let Some(values) = body["Record"].as_array() else {
                return bad("Record is required");
            };
            let mut record = BTreeMap::new();
            for value in values {
                let (Some(name), Some(text)) = (
                    value["FeatureName"].as_str(),
                    value["ValueAsString"].as_str(),
                ) else {
                    return bad("each feature needs FeatureName and ValueAsString");
                };
                record.insert(name.to_owned(), text.to_owned());
            }
            let (Some(id), Some(time)) = (
                record.get(&self.identifier).cloned(),
                record.get(&self.event_time).cloned(),
            ) else {
                return bad("the record identifier and event time features are required");
            };
            let group = state.online.entry(group).or_default();
            // The online store keeps the record with the latest event time.
            let newer = group
                .get(&id)
                .is_none_or(|old| old.get(&self.event_time).is_none_or(|t| *t <= time));
            if newer {
                group.insert(id, record);
            }
            return (200, None, String::new());
        }
        if method == "POST" && path == "/BatchGetRecord" {
            let mut records = Vec::new();
            for identifier in body["Identifiers"].as_array().into_iter().flatten() {
                let group = identifier["FeatureGroupName"].as_str().unwrap_or_default();
                for id in identifier["RecordIdentifiersValueAsString"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if let Some(record) = state.online.get(group).and_then(|g| g.get(id)) {
                        records.push(json!({
                            "FeatureGroupName": group,
                            "RecordIdentifierValueAsString": id,
                            "Record": record.iter().map(|(k, v)| json!({"FeatureName": k, "ValueAsString": v})).collect::<Vec<_>>(),
                        }));
                    }
                }
            }
            let answer = json!({"Records": records, "Errors": [], "UnprocessedIdentifiers": []});
            return (200, None, answer.to_string());
        }
        bad(&format!("the double does not serve {method} {path}"))
    }
}

/// Answers every connection to `listener` on a thread of its own, with `serve`.
pub(crate) fn serve_each(
    listener: TcpListener,
    serve: impl Fn(TcpStream) + Clone + Send + 'static,
) {
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let serve = serve.clone();
            std::thread::spawn(move || serve(stream));
        }
    });
}

pub(crate) fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Value)> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Some((method, path, body))
}
