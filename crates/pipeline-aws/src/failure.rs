//! Where a record that cannot be used goes, with its coordinates, instead of blocking its
//! partition: an SQS queue (the same queue that receives the event source mapping's failed
//! batches).

use std::future::Future;

use aws_sdk_sqs::Client;

use crate::error::AwsError;

/// A record set aside: where it came from, why, and its bytes (base64, as Lambda gave them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecord {
    pub source: String,
    pub topic: String,
    pub partition: i64,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub reason: String,
    pub value_base64: Option<String>,
}

impl FailedRecord {
    /// The message body: one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "source": self.source,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "reason": self.reason,
            "value_base64": self.value_base64,
        })
        .to_string()
    }
}

pub trait FailureSink: Send + Sync {
    /// Stores `record` durably, or fails (and then the caller must not acknowledge it).
    fn send(&self, record: &FailedRecord) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// An SQS queue.
#[derive(Debug, Clone)]
pub struct SqsFailureSink {
    client: Client,
    queue_url: String,
}

impl SqsFailureSink {
    pub fn new(config: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            queue_url: queue_url.into(),
        }
    }
}

impl FailureSink for SqsFailureSink {
    async fn send(&self, record: &FailedRecord) -> Result<(), AwsError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(record.to_json())
            .send()
            .await
            .map_err(|e| crate::error::from_sdk("SendMessage", e))?;
        Ok(())
    }
}
