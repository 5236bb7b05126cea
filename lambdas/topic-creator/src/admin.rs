//! [`TopicAdmin`] over librdkafka's admin client.

use std::collections::BTreeMap;
use std::time::Duration;

use pipeline_kafka::{AuthContext, IamContext, KafkaSettings, PublisherError};
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::error::RDKafkaErrorCode;

use crate::{Existing, TopicAdmin, TopicSpec};

const TIMEOUT: Duration = Duration::from_secs(30);

pub struct KafkaAdmin {
    client: AdminClient<AuthContext>,
}

impl std::fmt::Debug for KafkaAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaAdmin").finish_non_exhaustive()
    }
}

impl KafkaAdmin {
    /// An admin client for `settings`; `iam` must be given for MSK IAM settings.
    pub fn new(settings: &KafkaSettings, iam: Option<IamContext>) -> Result<Self, PublisherError> {
        let client = settings
            .client_config()?
            .create_with_context(AuthContext { iam })
            .map_err(PublisherError::Create)?;
        Ok(Self { client })
    }

    fn options() -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(TIMEOUT))
            .operation_timeout(Some(TIMEOUT))
    }
}

/// One result of an admin call: the broker's reason when it failed.
fn single<T, E>(
    results: rdkafka::error::KafkaResult<Vec<Result<T, (E, RDKafkaErrorCode)>>>,
    ok_too: &[RDKafkaErrorCode],
) -> Result<(), String> {
    let results = results.map_err(|e| e.to_string())?;
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(()),
        Some(Err((_, code))) if ok_too.contains(&code) => Ok(()),
        Some(Err((_, code))) => Err(code.to_string()),
        None => Err("the broker gave no result".into()),
    }
}

impl TopicAdmin for KafkaAdmin {
    async fn describe(&self, names: &[String]) -> Result<BTreeMap<String, Existing>, String> {
        let metadata = self
            .client
            .inner()
            .fetch_metadata(None, TIMEOUT)
            .map_err(|e| format!("metadata: {e}"))?;
        let mut existing = BTreeMap::new();
        for topic in metadata.topics() {
            if topic.error().is_none() && names.iter().any(|n| n == topic.name()) {
                existing.insert(
                    topic.name().to_owned(),
                    Existing {
                        partitions: topic.partitions().len() as i32,
                        ..Existing::default()
                    },
                );
            }
        }
        if existing.is_empty() {
            return Ok(existing);
        }
        let specifiers: Vec<ResourceSpecifier<'_>> = existing
            .keys()
            .map(|name| ResourceSpecifier::Topic(name))
            .collect();
        let described = self
            .client
            .describe_configs(&specifiers, &Self::options())
            .await
            .map_err(|e| format!("configs: {e}"))?;
        let names: Vec<String> = existing.keys().cloned().collect();
        for (name, result) in names.iter().zip(described) {
            let resource = result.map_err(|code| format!("configs of topic `{name}`: {code}"))?;
            let topic = existing.get_mut(name).ok_or("a topic went missing")?;
            for entry in resource.entries {
                let Some(value) = entry.value else { continue };
                if entry.source == ConfigSource::DynamicTopic {
                    topic.overrides.insert(entry.name.clone(), value.clone());
                }
                topic.configs.insert(entry.name, value);
            }
        }
        Ok(existing)
    }

    async fn create(&self, spec: &TopicSpec) -> Result<(), String> {
        // -1: the cluster's default replication (KIP-464).
        let replication = TopicReplication::Fixed(spec.replication_factor.unwrap_or(-1));
        let mut topic = NewTopic::new(&spec.name, spec.partitions, replication);
        for (key, value) in &spec.configs {
            topic = topic.set(key, value);
        }
        single(
            self.client.create_topics([&topic], &Self::options()).await,
            // Created meanwhile by someone else: what was asked for is there.
            &[RDKafkaErrorCode::TopicAlreadyExists],
        )
    }

    async fn add_partitions(&self, name: &str, to: i32) -> Result<(), String> {
        let partitions = NewPartitions::new(name, to.max(0) as usize);
        single(
            self.client
                .create_partitions([&partitions], &Self::options())
                .await,
            &[],
        )
    }

    async fn set_configs(&self, name: &str, full: &BTreeMap<String, String>) -> Result<(), String> {
        let mut alter = AlterConfig::new(ResourceSpecifier::Topic(name));
        for (key, value) in full {
            alter = alter.set(key, value);
        }
        single(
            self.client.alter_configs([&alter], &Self::options()).await,
            &[],
        )
    }

    async fn delete(&self, name: &str) -> Result<(), String> {
        single(
            self.client.delete_topics(&[name], &Self::options()).await,
            &[RDKafkaErrorCode::UnknownTopicOrPartition],
        )
    }
}
