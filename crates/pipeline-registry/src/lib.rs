//! The schema registries Avro and Protobuf input is framed for: the AWS Glue Schema Registry ([`Glue`]) and
//! Confluent-compatible registries ([`Confluent`]). Three calls: a schema by the id a record's
//! header names, a subject's (or Glue schema's) version by number or the latest, and
//! registering a producer's schema.
//!
//! Failures are classified ([`LookupError`]): a version the registry does not have is
//! permanent (its records become dead letters `unknown_schema`); throttling, 5xx and network
//! failures are retried with backoff a bounded number of times ([`Retry`]); anything else
//! (permissions, a bad request) is a configuration error that stops the caller.
//!
//! [`Resolver`] is the processor's blocking face: it looks each id up once and caches the
//! answer, found or not.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use pipeline_core::spec::{Registry, SchemaType, SchemaVersion};
use pipeline_core::wire::SchemaId;

mod confluent;
mod glue;
mod memory;

pub use confluent::Confluent;
pub use glue::Glue;
pub use memory::Memory;

/// Why a registry call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The registry does not have it, or it is not a schema of the spec's format: permanent.
    #[error("{0}")]
    Unknown(String),
    /// Worth retrying: throttling, a 5xx, the network.
    #[error("{0}")]
    Transient(String),
    /// Refused for a reason a retry will not fix: permissions, a bad request or URL.
    #[error("{0}")]
    Refused(String),
}

/// A schema version as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub id: SchemaId,
    /// Its number within the subject or Glue schema.
    pub number: u32,
    pub schema: String,
}

/// Where to reach the registry, beyond what the spec says.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Send Glue calls here with fixed test credentials (an emulator on loopback).
    pub aws_emulator: Option<String>,
    /// Overrides the spec's Confluent registry URL (per environment).
    pub confluent_url: Option<String>,
    /// Overrides the spec's Glue registry name (Terraform prefixes it with the environment's
    /// name).
    pub glue_registry: Option<String>,
    /// Use this registry in memory instead of the spec's (the local run).
    pub memory: Option<Memory>,
}

/// A registry client.
#[derive(Debug, Clone)]
pub enum Client {
    Glue(Glue),
    Confluent(Box<Confluent>),
    Memory(Memory),
}

impl Client {
    /// A client of `registry`, whose schemas must be of `schema_type` (a version of another
    /// format is `Unknown`).
    pub async fn connect(
        registry: &Registry,
        schema_type: SchemaType,
        options: &Options,
    ) -> Result<Self, LookupError> {
        if let Some(memory) = &options.memory {
            return Ok(Client::Memory(memory.clone()));
        }
        Ok(match registry {
            Registry::Glue { registry, schema } => Client::Glue(
                Glue::connect(
                    options.glue_registry.as_deref().unwrap_or(registry),
                    schema,
                    schema_type,
                    options.aws_emulator.as_deref(),
                )
                .await,
            ),
            Registry::Confluent { url, subject } => Client::Confluent(Box::new(Confluent::new(
                options.confluent_url.as_deref().unwrap_or(url),
                subject,
                schema_type,
            )?)),
        })
    }

    /// The schema text of version `id`: one attempt.
    pub async fn schema(&self, id: SchemaId) -> Result<String, LookupError> {
        match (self, id) {
            (Client::Glue(g), SchemaId::Glue(uuid)) => g.schema(uuid).await,
            (Client::Confluent(c), SchemaId::Confluent(n)) => c.schema(n).await,
            (Client::Memory(m), id) => m.schema(id),
            _ => Err(LookupError::Unknown(format!(
                "{id} is not an id of {}",
                self.describe()
            ))),
        }
    }

    /// A version of the spec's schema (subject): one attempt.
    pub async fn version(&self, version: SchemaVersion) -> Result<Version, LookupError> {
        match self {
            Client::Glue(g) => g.version(version).await,
            Client::Confluent(c) => c.version(version).await,
            Client::Memory(m) => m.version(version),
        }
    }

    /// Registers `schema` as a version of the spec's schema (subject), or finds it registered
    /// already: its id. One attempt.
    pub async fn register(&self, schema: &str) -> Result<SchemaId, LookupError> {
        match self {
            Client::Glue(g) => g.register(schema).await,
            Client::Confluent(c) => c.register(schema).await,
            Client::Memory(m) => Ok(m.register(schema)),
        }
    }

    /// Which registry and schema, for messages.
    pub fn describe(&self) -> String {
        match self {
            Client::Glue(g) => g.describe(),
            Client::Confluent(c) => c.describe(),
            Client::Memory(m) => m.describe(),
        }
    }
}

/// How often, and how patiently, transient failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_backoff: Duration,
}

impl Default for Retry {
    /// Five attempts, 200 ms doubling: about 3 s in all.
    fn default() -> Self {
        Self {
            attempts: 5,
            first_backoff: Duration::from_millis(200),
        }
    }
}

impl Retry {
    /// Runs `call` until it succeeds, fails for good, or fails transiently `attempts` times.
    pub async fn run<T, F: Future<Output = Result<T, LookupError>>>(
        &self,
        what: &str,
        mut call: impl FnMut() -> F,
    ) -> Result<T, LookupError> {
        let mut backoff = self.first_backoff;
        let mut attempt = 1;
        loop {
            match call().await {
                Err(LookupError::Transient(why)) if attempt < self.attempts => {
                    tracing::warn!(attempt, %why, "{what}: retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Err(LookupError::Transient(why)) => {
                    return Err(LookupError::Transient(format!(
                        "{what}: still failing after {attempt} attempts: {why}"
                    )));
                }
                other => return other,
            }
        }
    }
}

/// The processor's registry: blocking calls, each schema id looked up once.
#[derive(Debug)]
pub struct Resolver {
    runtime: tokio::runtime::Runtime,
    client: Client,
    retry: Retry,
    /// Each id's schema, or why the registry does not have it.
    known: HashMap<SchemaId, Result<String, String>>,
    lookups: u64,
}

impl Resolver {
    pub fn connect(
        registry: &Registry,
        schema_type: SchemaType,
        options: &Options,
        retry: Retry,
    ) -> Result<Self, LookupError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LookupError::Refused(format!("cannot start a runtime: {e}")))?;
        let client = runtime.block_on(Client::connect(registry, schema_type, options))?;
        Ok(Self {
            runtime,
            client,
            retry,
            known: HashMap::new(),
            lookups: 0,
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A version of the spec's schema, retried while transient.
    pub fn version(&self, version: SchemaVersion) -> Result<Version, LookupError> {
        let what = format!("{} version {version}", self.client.describe());
        self.runtime
            .block_on(self.retry.run(&what, || self.client.version(version)))
    }

    /// Schema `id`'s text, or why the registry does not have it (`Ok(Err(..))`: permanent,
    /// for a dead letter). `Err` when the registry cannot answer (transient failures past the
    /// retries, or a refusal): the caller stops and restarts from its last commit.
    pub fn resolve(&mut self, id: SchemaId) -> Result<Result<&str, String>, LookupError> {
        if !self.known.contains_key(&id) {
            let what = format!("schema version {id} from {}", self.client.describe());
            self.lookups += 1;
            let found = self
                .runtime
                .block_on(self.retry.run(&what, || self.client.schema(id)));
            let entry = match found {
                Ok(text) => Ok(text),
                Err(LookupError::Unknown(why)) => Err(why),
                Err(other) => return Err(other),
            };
            self.known.insert(id, entry);
        }
        Ok(self.known[&id].as_deref().map_err(Clone::clone))
    }

    /// Registers `schema` (or finds it registered), retried while transient: its id.
    pub fn register(&self, schema: &str) -> Result<SchemaId, LookupError> {
        let what = format!("registering a schema in {}", self.client.describe());
        self.runtime
            .block_on(self.retry.run(&what, || self.client.register(schema)))
    }

    /// Remembers a version already fetched (the one checked at start).
    pub fn remember(&mut self, version: &Version) {
        self.known.insert(version.id, Ok(version.schema.clone()));
    }

    /// How many ids were looked up in the registry (each at most once).
    pub fn lookups(&self) -> u64 {
        self.lookups
    }
}
