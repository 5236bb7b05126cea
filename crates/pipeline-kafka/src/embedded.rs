//! The embedded broker: librdkafka's in-process mock cluster, listening on loopback. It backs
//! `processor local` (nothing to install) and the fast tests. It keeps data in memory only,
//! has no SASL, and does not store offsets sent inside a transaction.

use rdkafka::error::KafkaResult;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// A running in-process Kafka cluster; stopped when dropped.
pub struct EmbeddedKafka {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl std::fmt::Debug for EmbeddedKafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedKafka")
            .field("bootstrap_servers", &self.bootstrap_servers())
            .finish()
    }
}

impl EmbeddedKafka {
    /// Starts a cluster of `brokers` brokers on loopback ports.
    pub fn start(brokers: i32) -> KafkaResult<Self> {
        Ok(Self {
            cluster: MockCluster::new(brokers)?,
        })
    }

    /// `host:port,…` to give clients.
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// Creates a topic (the mock cluster has no CreateTopics API; this is its own way).
    pub fn create_topic(&self, name: &str, partitions: i32) -> KafkaResult<()> {
        self.cluster.create_topic(name, partitions, 1)
    }

    /// The underlying mock cluster, for tests that inject errors or take brokers down.
    pub fn mock(&self) -> &MockCluster<'static, DefaultProducerContext> {
        &self.cluster
    }
}
