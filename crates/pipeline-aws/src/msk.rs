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
            .map_err(|e| crate::error::from_sdk("GetBootstrapBrokers", e))?;
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

/// Where a Lambda finds its brokers: given outright, or resolved from the cluster at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerSource {
    Given(String),
    Cluster(String),
}

impl BrokerSource {
    /// `BOOTSTRAP_BROKERS` (`host:port,…`), else `CLUSTER_ARN`; one of them must be set.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &mut crate::Env<F>) -> Self {
        if let Some(brokers) = env.optional("BOOTSTRAP_BROKERS") {
            return Self::Given(brokers);
        }
        match env.optional("CLUSTER_ARN") {
            Some(arn) => Self::Cluster(arn),
            None => {
                env.problem(
                    "CLUSTER_ARN",
                    "the MSK cluster's ARN (or BOOTSTRAP_BROKERS as host:port,…)",
                    None,
                );
                Self::Given(String::new())
            }
        }
    }

    /// The brokers, asking the cluster for them if need be.
    pub async fn resolve(&self, clusters: &MskClusters) -> Result<String, AwsError> {
        match self {
            Self::Given(brokers) => Ok(brokers.clone()),
            Self::Cluster(arn) => clusters.iam_bootstrap_brokers(arn).await,
        }
    }
}

/// How a Lambda reaches Kafka, read at cold start: `BOOTSTRAP_BROKERS` or `CLUSTER_ARN`;
/// `KAFKA_AUTH` (`msk-iam`, the default, or `plaintext` for a broker on this machine);
/// `AWS_REGION` (needed for MSK IAM tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaEndpoint {
    pub brokers: BrokerSource,
    pub msk_iam: bool,
    pub region: String,
}

impl KafkaEndpoint {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &mut crate::Env<F>) -> Self {
        let brokers = BrokerSource::from_env(env);
        let auth = env.parsed(
            "KAFKA_AUTH",
            "msk-iam".to_owned(),
            "msk-iam or plaintext",
            |a| a == "msk-iam" || a == "plaintext",
        );
        let msk_iam = auth == "msk-iam";
        let region = env.optional("AWS_REGION").unwrap_or_default();
        if msk_iam && region.is_empty() {
            env.problem("AWS_REGION", "the region, for MSK IAM tokens", None);
        }
        Self {
            brokers,
            msk_iam,
            region,
        }
    }
}
