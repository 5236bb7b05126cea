//! Upserts aggregates from the `aggregates` topic into the Feature Group.
//!
//! The MSK event source mapping hands the Lambda batches of records (base64 values). Each is
//! decoded and checked against the spec's columns; one that cannot be used goes to the failure
//! queue with its coordinates, so that it never blocks its partition. The rest are written with
//! `PutRecord`, a bounded number at a time; throttling and 5xx are retried with backoff.
//!
//! What a failed write means decides what happens to it:
//! - a refusal of the record itself (`ValidationError`: an unknown feature, a value the group's
//!   type refuses) will fail every time: the record goes to the failure queue with its
//!   coordinates and the refusal, and the batch goes on, so one poison pill never stalls its
//!   partition;
//! - throttling, 5xx and network errors that outlast the retries, and refusals that are about
//!   the deployment rather than the record (no such feature group, access denied, bad
//!   credentials), fail the invocation: the mapping retries the whole batch, and nothing is
//!   acknowledged that was not written or set aside (rewriting a record is harmless: the
//!   Feature Store upsert is idempotent by identifier and event time). Until then refused
//!   records are not set aside either, so a retried batch never queues one twice.

use std::sync::Arc;

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use futures::StreamExt as _;
use pipeline_aws::{AwsError, Env, EnvError, FailedRecord, FailureSink, FeatureStore};
use pipeline_core::Spec;
use serde::Serialize;

// The decoding has no AWS dependency of its own: the fuzz target `feature_event` (fuzz/)
// compiles this same file without the SDK.
mod decode;
pub use decode::decode;

/// Read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub feature_group: String,
    pub failure_queue_url: String,
    /// PutRecord calls in flight at once.
    pub concurrency: usize,
    pub spec: Arc<Spec>,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// `PIPELINE` (a spec built in, see [`Env::spec`]), `FEATURE_GROUP_NAME`,
    /// `FAILURE_QUEUE_URL`, `WRITE_CONCURRENCY` (1–64, default 8).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let mut env = Env::new(lookup);
        let spec = env.spec();
        let feature_group = env.required("FEATURE_GROUP_NAME", "the Feature Group's name");
        let failure_queue_url = env.required(
            "FAILURE_QUEUE_URL",
            "the URL of the SQS queue for records that cannot be written",
        );
        let concurrency = env.parsed(
            "WRITE_CONCURRENCY",
            8usize,
            "a whole number from 1 to 64",
            |n| (1..=64).contains(n),
        );
        let config = spec.map(|spec| Self {
            feature_group,
            failure_queue_url,
            concurrency,
            spec,
        });
        env.finish_some(config)
    }
}

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub records: usize,
    pub written: usize,
    /// Records sent to the failure queue because they could not be decoded.
    pub set_aside: usize,
    /// Records sent to the failure queue because the Feature Store refused them.
    pub refused: usize,
}

/// Refusal codes that are about the deployment (the group, the role, the credentials), not
/// the record: every record would be refused the same way, so the batch is retried instead of
/// setting them all aside.
const DEPLOYMENT_REFUSALS: [&str; 8] = [
    "ResourceNotFound",
    "ResourceNotFoundException",
    "AccessForbidden",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "MissingAuthenticationTokenException",
];

/// Whether a failed write is the record's own fault, so retrying it can never succeed.
pub fn is_poison(error: &AwsError) -> bool {
    match error {
        AwsError::Refused { code, .. } => !DEPLOYMENT_REFUSALS.contains(&code.as_str()),
        AwsError::Transient { .. } => false,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(
        "{failed} of {total} feature records were not written; the batch will be retried. First: {first}"
    )]
    Writes {
        failed: usize,
        total: usize,
        first: AwsError,
    },
    #[error(
        "a record that cannot be written could not be set aside ({topic}/{partition}@{offset}): {error}"
    )]
    SetAside {
        topic: String,
        partition: i64,
        offset: i64,
        error: AwsError,
    },
}

fn failed(record: &KafkaRecord, reason: String) -> FailedRecord {
    FailedRecord {
        source: "feature-writer".into(),
        topic: record.topic.clone().unwrap_or_default(),
        partition: record.partition,
        offset: record.offset,
        timestamp_ms: record.timestamp.0.timestamp_millis(),
        reason,
        value_base64: record.value.clone(),
    }
}

/// Handles one batch from the event source mapping.
pub async fn handle(
    event: KafkaEvent,
    config: &Config,
    store: &impl FeatureStore,
    failures: &impl FailureSink,
) -> Result<Report, HandlerError> {
    let mut report = Report::default();
    let mut writes = Vec::new();
    // Partitions in a stable order, records in offset order within each.
    let mut partitions: Vec<_> = event.records.iter().collect();
    partitions.sort_by(|a, b| a.0.cmp(b.0));
    for record in partitions.into_iter().flat_map(|(_, records)| records) {
        report.records += 1;
        match decode(&config.spec, record) {
            Ok(features) => writes.push((record, features)),
            Err(reason) => {
                tracing::warn!(
                    topic = record.topic.as_deref().unwrap_or_default(),
                    partition = record.partition,
                    offset = record.offset,
                    %reason,
                    "record set aside"
                );
                failures
                    .send(&failed(record, reason))
                    .await
                    .map_err(|error| HandlerError::SetAside {
                        topic: record.topic.clone().unwrap_or_default(),
                        partition: record.partition,
                        offset: record.offset,
                        error,
                    })?;
                report.set_aside += 1;
            }
        }
    }
    let group = config.feature_group.as_str();
    let results: Vec<(&KafkaRecord, Result<(), AwsError>)> = futures::stream::iter(&writes)
        .map(|(record, features)| async move { (*record, store.put_record(group, features).await) })
        .buffer_unordered(config.concurrency)
        .collect()
        .await;
    let total = results.len();
    let (poison, retry): (Vec<_>, Vec<_>) = results
        .into_iter()
        .filter_map(|(record, result)| result.err().map(|e| (record, e)))
        .partition(|(_, error)| is_poison(error));
    if let Some((_, first)) = retry.first() {
        let failed = retry.len();
        tracing::error!(failed, total, error = %first, "feature writes failed");
        return Err(HandlerError::Writes {
            failed,
            total,
            first: first.clone(),
        });
    }
    for (record, error) in &poison {
        tracing::warn!(
            topic = record.topic.as_deref().unwrap_or_default(),
            partition = record.partition,
            offset = record.offset,
            %error,
            "write refused; record set aside"
        );
        failures
            .send(&failed(
                record,
                format!("the Feature Store refused the record: {error}"),
            ))
            .await
            .map_err(|error| HandlerError::SetAside {
                topic: record.topic.clone().unwrap_or_default(),
                partition: record.partition,
                offset: record.offset,
                error,
            })?;
    }
    report.refused = poison.len();
    report.written = total - poison.len();
    tracing::info!(
        records = report.records,
        written = report.written,
        set_aside = report.set_aside,
        refused = report.refused,
        "batch written"
    );
    Ok(report)
}
