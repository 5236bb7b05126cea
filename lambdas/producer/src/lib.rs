//! Generates a minute of events per scheduled invocation, from the pipeline spec's field
//! declarations, and produces them to the spec's input topic.
//!
//! The generator is the one `processor local` and the benchmarks use: each field's values from
//! its declaration (ranges, `one_of` lists, patterns' sample values, a random walk per key for
//! a field whose `generate` asks for one), optionally with a share of deliberately broken events
//! for exercising the dead-letter path. It lives as long as the execution environment, so walks
//! continue from one invocation to the next instead of restarting. Event times are spread
//! evenly over the minute that ends at the schedule's time; records are keyed by the event's
//! key (its key fields joined); the producer is idempotent and the invocation waits until every
//! record is delivered or has failed.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use pipeline_aws::{Env, EnvError, KafkaEndpoint};
use pipeline_core::Spec;
use pipeline_core::framer::{Framer, SchemaEncoder};
use pipeline_core::generator::{EventGenerator, GeneratorConfig};
use pipeline_core::spec::InputFormat;
use pipeline_kafka::{Published, Publisher};
use pipeline_registry::{Client, LookupError, Options, Retry};
use serde::Serialize;

/// Read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub kafka: KafkaEndpoint,
    /// The pipeline whose events are generated.
    pub spec: Arc<Spec>,
    pub topic: String,
    /// Distinct keys to generate; `None` takes the key fields' listed values.
    pub keys: Option<usize>,
    pub events_per_invocation: u32,
    pub malformed_share: f64,
    pub delivery_timeout_secs: u64,
    /// The generator's seed; by default the cold start's time, so that two execution
    /// environments do not send the same walk.
    pub seed: Option<u64>,
    /// Avro input behind a Confluent-compatible registry: its URL instead of the spec's.
    pub registry_url: Option<String>,
    /// Avro input in the Glue wire format: zlib-compress the bodies.
    pub glue_zlib: bool,
    /// Avro input behind Glue: the registry's name as created, instead of the spec's.
    pub glue_registry: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Kafka as [`KafkaEndpoint`] reads it; `PIPELINE` (a spec built in, see
    /// [`Env::spec`]); `TOPIC` (default: the spec's input topic); `KEYS` (1–100,000 distinct
    /// keys, default: the key fields' listed values); `EVENTS_PER_INVOCATION` (1–100,000,
    /// default 600); `MALFORMED_SHARE` (0–1, default 0); `DELIVERY_TIMEOUT_SECONDS` (1–300,
    /// default 30); `SEED`; for an Avro spec, `SCHEMA_REGISTRY_URL` (a Confluent-compatible
    /// registry's URL instead of the spec's), `GLUE_REGISTRY_NAME` (the Glue registry's name as
    /// Terraform created it) and `GLUE_ZLIB` (`true` to compress Glue bodies).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let mut env = Env::new(lookup);
        let kafka = KafkaEndpoint::from_env(&mut env);
        let spec = env.spec();
        let topic = env.optional("TOPIC");
        let keys = env
            .optional("KEYS")
            .and_then(|text| match text.trim().parse::<usize>() {
                Ok(n) if (1..=100_000).contains(&n) => Some(n),
                _ => {
                    env.problem("KEYS", "a whole number from 1 to 100000", Some(text));
                    None
                }
            });
        let events_per_invocation = env.parsed(
            "EVENTS_PER_INVOCATION",
            600u32,
            "a whole number from 1 to 100000",
            |n| (1..=100_000).contains(n),
        );
        let malformed_share = env.parsed("MALFORMED_SHARE", 0.0f64, "a share from 0 to 1", |s| {
            (0.0..=1.0).contains(s)
        });
        let delivery_timeout_secs = env.parsed(
            "DELIVERY_TIMEOUT_SECONDS",
            30u64,
            "a whole number of seconds from 1 to 300",
            |s| (1..=300).contains(s),
        );
        let seed = env
            .optional("SEED")
            .and_then(|text| match text.trim().parse::<u64>() {
                Ok(seed) => Some(seed),
                Err(_) => {
                    env.problem("SEED", "a whole number", Some(text));
                    None
                }
            });
        let registry_url = env.optional("SCHEMA_REGISTRY_URL");
        let glue_zlib = env.parsed("GLUE_ZLIB", false, "true or false", |_| true);
        let glue_registry = env.optional("GLUE_REGISTRY_NAME");
        let config = spec.map(|spec| Self {
            kafka,
            topic: topic.unwrap_or_else(|| spec.topics.input.clone()),
            spec,
            keys,
            events_per_invocation,
            malformed_share,
            delivery_timeout_secs,
            seed,
            registry_url,
            glue_zlib,
            glue_registry,
        });
        env.finish_some(config)
    }

    /// The generator for this execution environment.
    pub fn generator(&self, cold_start: DateTime<Utc>) -> EventGenerator {
        let seed = self
            .seed
            .unwrap_or_else(|| cold_start.timestamp_nanos_opt().unwrap_or_default() as u64);
        EventGenerator::new(
            &self.spec,
            GeneratorConfig {
                keys: self.keys,
                seed,
                malformed_share: self.malformed_share,
                ..GeneratorConfig::default()
            },
        )
    }
}

/// Where the events go: the Kafka publisher in the Lambda.
pub trait EventSink {
    /// Sends every `(key, value)` to `topic`, returning when each is delivered or has failed.
    fn send(&mut self, topic: &str, records: &[(String, Vec<u8>)]) -> Published;
}

impl EventSink for Publisher {
    fn send(&mut self, topic: &str, records: &[(String, Vec<u8>)]) -> Published {
        self.publish(topic, records.iter().map(|(k, v)| (k, v)))
    }
}

/// What one invocation did: the Lambda's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub topic: String,
    pub sent: u64,
    pub failed: u64,
    /// Of those sent, how many were broken on purpose (for the dead-letter topic).
    pub malformed: u64,
    pub first_event_time: String,
    pub last_event_time: String,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "{failed} of {total} events were not delivered to `{topic}` ({sent} were); first error: {reason}"
)]
pub struct ProduceError {
    pub topic: String,
    pub total: u64,
    pub sent: u64,
    pub failed: u64,
    pub reason: String,
}

/// The end of the minute an invocation fills: the schedule's time, down to the minute (an
/// invocation at 14:31:00, or a retry at 14:31:07, fills 14:30:00–14:31:00).
pub fn minute_end(scheduled: DateTime<Utc>) -> DateTime<Utc> {
    let ms = scheduled.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(60_000)).unwrap_or(scheduled)
}

/// `count` events for the minute ending at `minute_end`, spread evenly across it.
pub fn generate(
    generator: &mut EventGenerator,
    count: u32,
    minute_end: DateTime<Utc>,
) -> (Vec<(String, Vec<u8>)>, u64) {
    let end = minute_end.timestamp_millis();
    let count = i64::from(count.max(1));
    let mut malformed = 0;
    let records = (0..count)
        .map(|i| {
            let time = end - 60_000 + i * 60_000 / count;
            let mut payload = Vec::new();
            let generated = generator.next_into(time, &mut payload);
            malformed += u64::from(generated.broken.is_some());
            (generator.key(generated.key).to_owned(), payload)
        })
        .collect();
    (records, malformed)
}

/// For an Avro or Protobuf spec, at cold start: the spec's schema registered in its registry
/// (found there when it is already), and the framer that writes events with it. `None` for
/// JSON.
pub async fn framer(config: &Config) -> Result<Option<Framer>, LookupError> {
    let InputFormat::Registry(input) = &config.spec.input else {
        return Ok(None);
    };
    let options = Options {
        confluent_url: config.registry_url.clone(),
        glue_registry: config.glue_registry.clone(),
        ..Options::default()
    };
    let client = Client::connect(&input.registry, input.schema_type, &options).await?;
    let encoder =
        SchemaEncoder::for_spec(&config.spec, input.schema_type).map_err(LookupError::Refused)?;
    let id = Retry::default()
        .run("registering the spec's schema", || {
            client.register(encoder.schema_text())
        })
        .await?;
    tracing::info!(registry = %client.describe(), %id, "schema registered");
    Ok(Some(Framer::new(encoder, id, config.glue_zlib)))
}

/// One invocation for the schedule's time: generate, send, wait, report. Fails if any event was
/// not delivered.
pub fn handle(
    config: &Config,
    generator: &mut EventGenerator,
    sink: &mut impl EventSink,
    scheduled: DateTime<Utc>,
) -> Result<Summary, ProduceError> {
    handle_framed(config, generator, None, sink, scheduled)
}

/// [`handle`], with each event written as Avro or Protobuf by `framer` when it is given.
pub fn handle_framed(
    config: &Config,
    generator: &mut EventGenerator,
    framer: Option<&Framer>,
    sink: &mut impl EventSink,
    scheduled: DateTime<Utc>,
) -> Result<Summary, ProduceError> {
    let scheduled = minute_end(scheduled);
    let (mut records, malformed) = generate(generator, config.events_per_invocation, scheduled);
    if let Some(framer) = framer {
        for (_, payload) in &mut records {
            *payload = framer.record(payload);
        }
    }
    let published = sink.send(&config.topic, &records);
    let total = records.len() as u64;
    let time = |ms: i64| {
        DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    };
    let end = scheduled.timestamp_millis();
    let summary = Summary {
        topic: config.topic.clone(),
        sent: published.delivered,
        failed: published.failed,
        malformed,
        first_event_time: time(end - 60_000),
        last_event_time: time(end - 60_000 + (total as i64 - 1) * 60_000 / total as i64),
    };
    if published.failed > 0 {
        tracing::error!(?summary, error = ?published.first_error, "events not delivered");
        return Err(ProduceError {
            topic: config.topic.clone(),
            total,
            sent: published.delivered,
            failed: published.failed,
            reason: published.first_error.unwrap_or_default(),
        });
    }
    tracing::info!(sent = summary.sent, malformed, topic = %summary.topic, "events produced");
    Ok(summary)
}
