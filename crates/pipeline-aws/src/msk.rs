//! The MSK control plane: the cluster's bootstrap brokers for IAM clients, from its ARN.

use aws_sdk_kafka::Client;

use crate::error::AwsError;

/// Resolves bootstrap brokers with `GetBootstrapBrokers`.
#[derive(Debug, Clone)]
pub struct MskClusters {
    client: Client,
}

impl MskClusters {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

    pub fn from_client(client: Client) -> Self {
        Self { client }
    }

    /// The `host:port,…` string for SASL/IAM clients of `cluster_arn`.
    pub async fn iam_bootstrap_brokers(&self, cluster_arn: &str) -> Result<String, AwsError> {
        let output = self
            .client
            .get_bootstrap_brokers()
            .cluster_arn(cluster_arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetBootstrapBrokers", e))?;
        output
            .bootstrap_broker_string_sasl_iam()
            .filter(|brokers| !brokers.trim().is_empty())
            .map(str::to_owned)
            .ok_or_else(|| AwsError::Refused {
                operation: "GetBootstrapBrokers",
                code: "NoIamBrokers".into(),
                message: format!(
                    "cluster {cluster_arn} has no bootstrap brokers for IAM clients; is IAM \
                     authentication enabled on it?"
                ),
            })
    }
}
