//! What the pipeline needs of a feature store, whatever holds it: the SageMaker Feature Store
//! (`pipeline-aws`) or the local SQLite twin (`pipeline-local`). Here, in the core, so that the
//! local twin does not link the AWS SDK for one trait and one error type.

use std::future::Future;

use crate::features::FeatureRecord;

/// What a failed call to a service means for the caller: retried enough and still failing
/// (transient: throttling, 5xx, network), or refused (fix the request, the permissions or the
/// resource).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// Throttling, a 5xx answer, a timeout or a network failure that outlasted the retries.
    /// Worth trying again later (e.g. by failing the Lambda invocation so its batch is retried).
    #[error("{operation} still failing after retries ({code}): {message}")]
    Transient {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// The service refused the request: bad input, missing permission, missing resource.
    /// Retrying the same request will not help.
    #[error("{operation} refused ({code}): {message}")]
    Refused {
        operation: &'static str,
        code: String,
        message: String,
    },
}

impl ServiceError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

/// What the pipeline needs of a feature store.
pub trait FeatureStore: Send + Sync {
    /// Writes `record` to `group` (an upsert by identifier and event time), retried on
    /// throttling and 5xx.
    fn put_record(
        &self,
        group: &str,
        record: &FeatureRecord,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;

    /// The latest record of each identifier that has one (identifiers without a record are
    /// simply absent from the answer).
    fn get_records(
        &self,
        group: &str,
        identifiers: &[String],
    ) -> impl Future<Output = Result<Vec<(String, FeatureRecord)>, ServiceError>> + Send;
}
