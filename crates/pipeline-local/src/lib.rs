//! The local twins of the pipeline's AWS destinations, for `processor local` (the embedded
//! default): what Firehose writes to the S3 lake and what the SageMaker Feature Group holds,
//! on disk, with no server.
//!
//! - [`ParquetLake`]: aggregates as Parquet files with the Glue table's columns and types,
//!   partitioned `year=/month=/day=/` by event date and rolled by size or time, as the Firehose
//!   stream is configured; records it cannot convert go to an error folder, as Firehose's do.
//! - [`SqliteFeatureStore`]: the Feature Store's online view (the latest record per identifier
//!   by event time) and offline history in one SQLite file, behind the same
//!   [`pipeline_core::store::FeatureStore`] trait as the AWS client.
//!
//! Both take their columns from the spec through [`pipeline_core::catalog`] and
//! [`pipeline_core::features`], the same code that generates the schema Terraform reads. Neither
//! links the AWS SDK.

pub mod feature_store;
pub mod lake;

pub use feature_store::{SqliteFeatureStore, StoreCounts};
pub use lake::{LakeConfig, LakeError, LakeReport, ParquetLake, Source};
