//! What the engine is told: how outputs reach Kafka, its timings and consumer overrides, and
//! which settings an override may not touch.

use std::time::Duration;

use super::EngineError;

/// How outputs reach Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Delivery {
    /// Outputs and offsets in one Kafka transaction: each aggregate and dead letter appears
    /// exactly once to `read_committed` readers.
    ExactlyOnce,
    /// Outputs flushed, then offsets committed: for brokers without transactions. After a
    /// crash, some outputs may appear again, identical.
    AtLeastOnce,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub group_id: String,
    pub delivery: Delivery,
    /// Identifies this instance's transactions; a second producer with the same id fences it.
    pub transactional_id: String,
    /// The most records in one batch (one transaction, one offset commit).
    pub max_batch: usize,
    /// How long to wait while filling a batch.
    pub batch_timeout: Duration,
    /// Bound on each call to the broker (commit, flush, offsets), and on the wait for room in
    /// the producer's queue while a batch's outputs are sent.
    pub request_timeout: Duration,
    /// The consumer's `max.poll.interval.ms`: the longest this instance may go between polls
    /// before the group counts it gone. Must exceed [`EngineConfig::longest_batch`] plus the
    /// time the service spends between batches (metrics, the lag it asks for).
    pub max_poll_interval: Duration,
    /// The producer's `transaction.timeout.ms` (exactly-once): how long the broker keeps a
    /// transaction open before aborting it. It bounds how long a crashed instance's open
    /// transaction holds back `read_committed` readers of the outputs, so it is kept short,
    /// but it must exceed [`EngineConfig::longest_batch`].
    pub transaction_timeout: Duration,
    /// Extra librdkafka settings for the consumer (tests shorten group timeouts with these).
    pub consumer_overrides: Vec<(String, String)>,
}

impl EngineConfig {
    pub fn new(group_id: impl Into<String>, delivery: Delivery) -> Self {
        let group_id = group_id.into();
        Self {
            transactional_id: format!("{group_id}-{}", instance_id()),
            group_id,
            delivery,
            max_batch: 5_000,
            batch_timeout: Duration::from_millis(100),
            request_timeout: Duration::from_secs(10),
            max_poll_interval: Duration::from_secs(120),
            transaction_timeout: Duration::from_secs(60),
            consumer_overrides: Vec::new(),
        }
    }

    /// The longest one batch cycle can take before it either commits or fails: filling the
    /// batch, then four broker waits each bounded by the request timeout (room in the producer's
    /// queue, the outputs' acknowledgements, the offsets sent to the transaction, its commit).
    /// Processing itself is bounded by the batch size (microseconds a record).
    pub fn longest_batch(&self) -> Duration {
        self.batch_timeout + self.request_timeout * 4
    }

    /// Refuses timeouts that contradict each other: a transaction or poll interval shorter
    /// than a batch would abort healthy batches or have the group evict a working instance.
    pub fn check(&self) -> Result<(), EngineError> {
        let longest = self.longest_batch();
        let too_short = |what: &'static str, value: Duration| EngineError::Timeouts {
            what,
            value,
            longest,
        };
        if self.transaction_timeout <= longest {
            return Err(too_short("transaction timeout", self.transaction_timeout));
        }
        if self.max_poll_interval <= longest {
            return Err(too_short("max poll interval", self.max_poll_interval));
        }
        Ok(())
    }
}

/// Names this process among the group's instances: the host name (a container's is its task's)
/// with the process id and start time, since every container's main process is pid 1.
/// Instances need distinct transactional ids; fencing a stale instance is the consumer group's
/// work (its generation travels with the offsets in each transaction).
fn instance_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_default();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{host}-{}-{started:x}", std::process::id())
}

/// Consumer settings an override may not touch: where and how to connect, and what the delivery
/// guarantees rest on (manual commits of safe offsets, reading committed outputs only).
pub(crate) fn is_protected(key: &str) -> bool {
    let key = key.trim();
    key.starts_with("security.")
        || key.starts_with("sasl.")
        || key.starts_with("ssl.")
        || matches!(
            key,
            "bootstrap.servers"
                | "metadata.broker.list"
                | "group.id"
                | "enable.auto.commit"
                | "enable.auto.offset.store"
                | "isolation.level"
                | "partition.assignment.strategy"
                | "max.poll.interval.ms"
        )
}
