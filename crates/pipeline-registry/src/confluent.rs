//! A Confluent-compatible schema registry's REST API (Confluent Schema Registry, Karapace,
//! Redpanda's, Apicurio's compatibility API): `GET /schemas/ids/{id}`,
//! `GET /subjects/{subject}/versions/{version}`, `POST /subjects/{subject}` (look a schema up)
//! and `POST /subjects/{subject}/versions` (register it). A `user:password@` in the URL is
//! sent as HTTP basic authentication (Confluent Cloud's API key and secret).

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use pipeline_core::spec::{SchemaType, SchemaVersion};
use pipeline_core::wire::SchemaId;
use serde_json::{Value, json};

use crate::{LookupError, Version};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
/// Each request's limit.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Confluent {
    http: HttpClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// The URL without credentials or a trailing slash.
    base: String,
    authorization: Option<String>,
    subject: String,
    schema_type: SchemaType,
}

impl Confluent {
    pub fn new(url: &str, subject: &str, schema_type: SchemaType) -> Result<Self, LookupError> {
        let refused = |why: &str| LookupError::Refused(format!("registry URL `{url}`: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .filter(|(s, _)| matches!(*s, "http" | "https"))
            .ok_or_else(|| refused("expected http:// or https://"))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (authorization, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(userinfo)
                )),
                host,
            ),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(refused("no host"));
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| refused(&format!("no TLS root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            http: HttpClient::builder(TokioExecutor::new()).build(connector),
            base: format!("{scheme}://{host}{}", path.trim_end_matches('/')),
            authorization,
            subject: subject.to_owned(),
            schema_type,
        })
    }

    pub fn describe(&self) -> String {
        format!("registry {}, subject {}", self.base, self.subject)
    }

    /// One request; the JSON body of a 2xx answer. A 404 is `Unknown`, a 5xx, 429, timeout
    /// or connection failure `Transient`, anything else `Refused`.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, LookupError> {
        let url = format!("{}{path}", self.base);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(&url)
            .header("accept", format!("{CONTENT_TYPE}, application/json"));
        if let Some(auth) = &self.authorization {
            request = request.header("authorization", auth);
        }
        let body = match body {
            Some(b) => {
                request = request.header("content-type", CONTENT_TYPE);
                Full::new(Bytes::from(b.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request
            .body(body)
            .map_err(|e| LookupError::Refused(format!("{method} {url}: {e}")))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| LookupError::Transient(format!("{method} {url}: {e}")))?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| LookupError::Transient(format!("{method} {url}: {e}")))?
                .to_bytes();
            Ok::<_, LookupError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| {
                LookupError::Transient(format!("{method} {url}: no answer in {TIMEOUT:?}"))
            })??;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let why = || {
            let message = value.get("message").and_then(Value::as_str).unwrap_or("");
            let code = value
                .get("error_code")
                .map(Value::to_string)
                .unwrap_or_default();
            format!("{method} {url}: HTTP {status} {code} {message}")
                .trim_end()
                .to_owned()
        };
        match status {
            200..=299 => Ok(value),
            404 => Err(LookupError::Unknown(why())),
            429 | 500..=599 => Err(LookupError::Transient(why())),
            _ => Err(LookupError::Refused(why())),
        }
    }

    pub async fn schema(&self, id: u32) -> Result<String, LookupError> {
        let answer = self
            .call("GET", &format!("/schemas/ids/{id}"), None)
            .await?;
        self.schema_of(&answer, &format!("schema id {id}"))
    }

    pub async fn version(&self, version: SchemaVersion) -> Result<Version, LookupError> {
        let path = format!("/subjects/{}/versions/{version}", self.subject);
        let answer = self.call("GET", &path, None).await?;
        let what = format!("{} version {version}", self.describe());
        let number = |key: &str| {
            answer
                .get(key)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| LookupError::Refused(format!("{what}: the answer has no `{key}`")))
        };
        Ok(Version {
            id: SchemaId::Confluent(number("id")?),
            number: number("version")?,
            schema: self.schema_of(&answer, &what)?,
        })
    }

    pub async fn register(&self, schema: &str) -> Result<SchemaId, LookupError> {
        let path = format!("/subjects/{}/versions", self.subject);
        // `schemaType` absent means Avro, and older registries know no other.
        let body = match self.schema_type {
            SchemaType::Avro => json!({"schema": schema}),
            other => json!({"schema": schema, "schemaType": other.registry_name()}),
        };
        let answer = self.call("POST", &path, Some(body)).await?;
        answer
            .get("id")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .map(SchemaId::Confluent)
            .ok_or_else(|| LookupError::Refused(format!("POST {path}: the answer has no `id`")))
    }
}

impl Confluent {
    /// The schema text of an answer, if its `schemaType` (absent: `AVRO`) is the spec's.
    fn schema_of(&self, answer: &Value, what: &str) -> Result<String, LookupError> {
        let found = answer
            .get("schemaType")
            .and_then(Value::as_str)
            .unwrap_or("AVRO");
        if found != self.schema_type.registry_name() {
            return Err(LookupError::Unknown(format!(
                "{what}: its format is {found}; the spec reads {}",
                self.schema_type.registry_name()
            )));
        }
        answer
            .get("schema")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| LookupError::Refused(format!("{what}: the answer has no `schema`")))
    }
}
