//! The SageMaker Feature Store runtime: write one record, read the latest records back.

use aws_sdk_sagemakerfeaturestoreruntime::Client;
use aws_sdk_sagemakerfeaturestoreruntime::types::{BatchGetRecordIdentifier, FeatureValue};

use crate::error::AwsError;
use crate::features::FeatureRecord;
pub use pipeline_core::store::FeatureStore;

/// BatchGetRecord takes at most this many identifiers per call.
pub const BATCH_GET_LIMIT: usize = 100;
/// How many times identifiers the service left unprocessed are asked for again.
const UNPROCESSED_ROUNDS: usize = 3;

/// The AWS SDK's Feature Store runtime client.
#[derive(Debug, Clone)]
pub struct SdkFeatureStore {
    client: Client,
}

impl SdkFeatureStore {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

    pub fn from_client(client: Client) -> Self {
        Self { client }
    }
}

impl FeatureStore for SdkFeatureStore {
    async fn put_record(&self, group: &str, record: &FeatureRecord) -> Result<(), AwsError> {
        let values = record
            .values
            .iter()
            .map(|(name, value)| {
                FeatureValue::builder()
                    .feature_name(name)
                    .value_as_string(value)
                    .build()
            })
            .collect();
        self.client
            .put_record()
            .feature_group_name(group)
            .set_record(Some(values))
            .send()
            .await
            .map_err(|e| crate::error::from_sdk("PutRecord", e))?;
        Ok(())
    }

    async fn get_records(
        &self,
        group: &str,
        identifiers: &[String],
    ) -> Result<Vec<(String, FeatureRecord)>, AwsError> {
        let mut found = Vec::new();
        for chunk in identifiers.chunks(BATCH_GET_LIMIT) {
            let mut pending = chunk.to_vec();
            for round in 0..=UNPROCESSED_ROUNDS {
                if pending.is_empty() {
                    break;
                }
                if round == UNPROCESSED_ROUNDS {
                    return Err(AwsError::Transient {
                        operation: "BatchGetRecord",
                        code: "Unprocessed".into(),
                        message: format!(
                            "identifiers still unprocessed after {UNPROCESSED_ROUNDS} rounds: {}",
                            pending.join(", ")
                        ),
                    });
                }
                let output = self
                    .client
                    .batch_get_record()
                    .identifiers(
                        BatchGetRecordIdentifier::builder()
                            .feature_group_name(group)
                            .set_record_identifiers_value_as_string(Some(pending.clone()))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| crate::error::from_sdk("BatchGetRecord", e))?;
                if let Some(error) = output.errors().first() {
                    return Err(AwsError::Refused {
                        operation: "BatchGetRecord",
                        code: error.error_code().unwrap_or("Unknown").to_owned(),
                        message: format!(
                            "record `{}`: {}",
                            error.record_identifier_value_as_string().unwrap_or("?"),
                            error.error_message().unwrap_or("no message")
                        ),
                    });
                }
                for detail in output.records() {
                    let id = detail
                        .record_identifier_value_as_string()
                        .unwrap_or_default()
                        .to_owned();
                    let values = detail
                        .record()
                        .iter()
                        .filter_map(|v| {
                            Some((
                                v.feature_name()?.to_owned(),
                                v.value_as_string()?.to_owned(),
                            ))
                        })
                        .collect();
                    found.push((id, FeatureRecord { values }));
                }
                pending = output
                    .unprocessed_identifiers()
                    .iter()
                    .flat_map(|u| u.record_identifiers_value_as_string().iter().cloned())
                    .collect();
            }
        }
        Ok(found)
    }
}
