//! The embedded broker: librdkafka's in-process mock cluster, listening on loopback. It backs
//! `processor local` (nothing to install) and the fast tests. It keeps data in memory only,
//! has no SASL, and does not store offsets sent inside a transaction.
//!
//! It keeps about 5 MiB (or 100,000 record batches) per partition and drops the oldest past
//! that, without telling a consumer that has not read them yet: a writer must stay within
//! [`EmbeddedKafka::PARTITION_RETENTION_BYTES`] of its slowest reader.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::client::Client;
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, DefaultProducerContext, Producer as _};
use rdkafka::types::RDKafkaErrorCode;

/// A running in-process Kafka cluster; stopped when dropped.
pub struct EmbeddedKafka {
    /// The client that owns the cluster (librdkafka's `test.mock.num.brokers`): its handle is
    /// the one through which the cluster's broker defaults can be set.
    owner: BaseProducer,
}

impl std::fmt::Debug for EmbeddedKafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedKafka")
            .field("bootstrap_servers", &self.bootstrap_servers())
            .finish()
    }
}

impl EmbeddedKafka {
    /// How many bytes of records a partition keeps before it drops the oldest (librdkafka's
    /// mock partition limit, `rdkafka_mock.c`).
    pub const PARTITION_RETENTION_BYTES: u64 = 5 * 1024 * 1024;

    /// Starts a cluster of `brokers` brokers on loopback ports.
    pub fn start(brokers: i32) -> KafkaResult<Self> {
        let owner: BaseProducer = ClientConfig::new()
            .set("test.mock.num.brokers", brokers.to_string())
            .create()?;
        let kafka = Self { owner };
        // The handle must have a cluster: fail here, not on first use.
        kafka.cluster()?;
        Ok(kafka)
    }

    fn cluster(&self) -> KafkaResult<MockCluster<'_, DefaultProducerContext>> {
        self.owner
            .client()
            .mock_cluster()
            .ok_or(KafkaError::MockCluster(RDKafkaErrorCode::Fail))
    }

    /// `host:port,…` to give clients.
    pub fn bootstrap_servers(&self) -> String {
        self.cluster()
            .map(|c| c.bootstrap_servers())
            .unwrap_or_default()
    }

    /// Creates a topic (the mock cluster has no CreateTopics API; this is its own way).
    pub fn create_topic(&self, name: &str, partitions: i32) -> KafkaResult<()> {
        self.cluster()?.create_topic(name, partitions, 1)
    }

    /// Sets the brokers' `group.initial.rebalance.delay.ms` (3 s by default, as on a real
    /// broker): how long a new consumer group waits for more members before its first
    /// assignment. A run that knows it has one consumer per group sets it to zero.
    pub fn set_initial_rebalance_delay(&self, delay: Duration) -> KafkaResult<()> {
        let client: &Client<DefaultProducerContext> = self.owner.client();
        let millis = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX);
        // rdkafka wraps neither this setter nor a way to reach a `MockCluster`'s pointer; the
        // handle's own cluster is reachable through the C API.
        #[allow(unsafe_code)]
        // SAFETY: `client` is alive for the whole block (owned by `self`), so its handle and
        // the cluster it owns are valid; the cluster pointer is checked for null; the setter
        // takes the cluster's lock, so it may run beside the cluster's own thread.
        unsafe {
            let cluster = rdkafka::bindings::rd_kafka_handle_mock_cluster(client.native_ptr());
            if cluster.is_null() {
                return Err(KafkaError::MockCluster(RDKafkaErrorCode::Fail));
            }
            rdkafka::bindings::rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, millis);
        }
        Ok(())
    }

    /// The underlying mock cluster, for tests that inject errors or take brokers down.
    ///
    /// # Panics
    /// Never in practice: [`EmbeddedKafka::start`] checked that the cluster exists.
    #[allow(clippy::expect_used)]
    pub fn mock(&self) -> MockCluster<'_, DefaultProducerContext> {
        self.cluster().expect("checked at start")
    }
}
