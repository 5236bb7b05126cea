//! AWS adapters of the pipeline, each behind a small trait so that handlers are tested without
//! AWS: the SageMaker Feature Store ([`FeatureStore`]), CloudWatch metrics ([`MetricsSink`]) and
//! a failure queue for records that cannot be used ([`FailureSink`]). Also the spec's feature
//! definitions and the mapping from an aggregate to a feature record ([`features`], re-exported
//! from the core). The lake and Feature Group schema generated from the spec is the core's
//! [`pipeline_core::catalog`].
//!
//! Every AWS call retries throttling, 5xx and network errors with exponential backoff and jitter
//! (the SDK's standard retry mode, bounded by [`AwsSettings::max_attempts`]); what still fails is
//! returned as an [`AwsError`] that says whether it was transient or a refusal.

pub mod env;
pub mod error;
pub mod failure;
pub mod feature_store;
/// The Feature Group's shape and the aggregate-to-feature-record mapping, pure, in the core
/// (the feature-writer's decoding is fuzzed without the AWS SDK).
pub use pipeline_core::features;
pub mod lambda;
pub mod metrics;
pub mod msk;
pub mod settings;

pub use env::{Env, EnvError};
pub use error::AwsError;
pub use failure::{FailedRecord, FailureSink, SqsFailureSink};
pub use feature_store::{FeatureStore, SdkFeatureStore};
pub use features::{FeatureDefinition, FeatureRecord, FeatureType};
pub use metrics::{CloudWatchMetrics, Datum, MetricsSink, Unit};
pub use msk::{BrokerSource, KafkaEndpoint, MskClusters};
pub use settings::AwsSettings;
