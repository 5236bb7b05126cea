//! The aggregates topic into the Parquet lake, the way Firehose's MSK source fills the S3 lake
//! in AWS: a consumer of the output topic (`read_committed`, so an aborted transaction's
//! records never reach it) that commits an offset only once every record before it is in a
//! whole, synced file. Nothing the lake needs is held only in memory past a commit: a crash,
//! an OOM kill or `kill -9` loses what was buffered from memory, not from the lake, because
//! the next run reads it again from the last commit. Records that were already in files
//! written after that commit appear twice, identical; queries de-duplicate by `aggregate_id`
//! (docs/local.md).
//!
//! `processor local` runs one on a thread of its own; `processor lake` runs one as a service.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pipeline_core::Spec;
use pipeline_kafka::{IamContext, KafkaSettings};
use pipeline_local::{LakeConfig, LakeError, LakeReport, ParquetLake, Source};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::context::{ConsumerCtx, RebalanceEvent};

#[derive(Debug, thiserror::Error)]
pub enum LakeDeliveryError {
    #[error(transparent)]
    Settings(#[from] pipeline_kafka::SettingsError),
    #[error("Kafka: {context}: {source}")]
    Kafka {
        context: &'static str,
        source: KafkaError,
    },
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(
        "consumer setting `{0}` cannot be overridden: the lake sets it for security or for its \
         delivery guarantee"
    )]
    ProtectedSetting(String),
}

fn kafka(context: &'static str) -> impl FnOnce(KafkaError) -> LakeDeliveryError {
    move |source| LakeDeliveryError::Kafka { context, source }
}

/// What the delivery has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LakeProgress {
    /// Records read from the topic.
    pub consumed: u64,
    /// Aggregates waiting in memory for their file.
    pub buffered: usize,
    /// Offset commits made (each after the files it covers were written).
    pub commits: u64,
}

/// A consumer of the aggregates topic feeding a [`ParquetLake`].
pub struct LakeDelivery {
    consumer: BaseConsumer<ConsumerCtx>,
    lake: ParquetLake,
    topic: String,
    /// One past the last record read, by partition held now.
    next: BTreeMap<i32, i64>,
    /// What was last committed, by partition.
    committed: BTreeMap<i32, i64>,
    progress: LakeProgress,
}

impl std::fmt::Debug for LakeDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LakeDelivery")
            .field("topic", &self.topic)
            .field("lake", &self.lake)
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

impl LakeDelivery {
    /// Joins `group` on the spec's output topic. A group with no committed offsets starts at
    /// the beginning of the topic, as a Firehose stream reading from the epoch does.
    pub fn start(
        spec: &Spec,
        settings: &KafkaSettings,
        iam: Option<IamContext>,
        group: &str,
        lake: LakeConfig,
        overrides: &[(String, String)],
    ) -> Result<Self, LakeDeliveryError> {
        let mut config = settings.client_config()?;
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            // A file written in one go takes well under a second; the default five minutes
            // would let a wedged writer hold its partitions far too long.
            .set("max.poll.interval.ms", "60000");
        for (key, value) in overrides {
            if crate::engine::is_protected(key) {
                return Err(LakeDeliveryError::ProtectedSetting(key.clone()));
            }
            config.set(key, value);
        }
        let consumer: BaseConsumer<ConsumerCtx> = config
            .create_with_context(ConsumerCtx::new(iam))
            .map_err(kafka("creating the lake's consumer"))?;
        consumer
            .subscribe(&[&spec.topics.output])
            .map_err(kafka("subscribing to the aggregates topic"))?;
        Ok(Self {
            consumer,
            lake: ParquetLake::new(spec, lake),
            topic: spec.topics.output.clone(),
            next: BTreeMap::new(),
            committed: BTreeMap::new(),
            progress: LakeProgress::default(),
        })
    }

    pub fn progress(&self) -> LakeProgress {
        LakeProgress {
            buffered: self.lake.buffered_rows(),
            ..self.progress.clone()
        }
    }

    pub fn report(&self) -> &LakeReport {
        self.lake.report()
    }

    /// The folder of the table's files.
    pub fn table_dir(&self) -> std::path::PathBuf {
        self.lake.table_dir()
    }

    /// Reads what the topic has for up to `wait`, writes the files whose time has come, and
    /// commits what the files now hold.
    pub fn pump(&mut self, wait: Duration) -> Result<(), LakeDeliveryError> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // A rebalance runs inside the poll; a record it returns is from a partition held
            // after it, so the record is taken before the rebalance is applied.
            let got = match self.consumer.poll(left) {
                Some(Ok(message)) => {
                    let source = Source {
                        partition: message.partition(),
                        offset: message.offset(),
                    };
                    let payload = message.payload().unwrap_or_default();
                    self.lake.push_from(payload, Some(source), Instant::now())?;
                    self.next.insert(source.partition, source.offset + 1);
                    self.progress.consumed += 1;
                    true
                }
                Some(Err(KafkaError::PartitionEOF(_))) | None => false,
                Some(Err(e)) if e.rdkafka_error_code().is_some_and(retriable) => {
                    tracing::warn!(error = %e, "lake consumer: lost the broker; reconnecting");
                    false
                }
                Some(Err(e)) => return Err(kafka("reading the aggregates topic")(e)),
            };
            self.apply_rebalances()?;
            if !got {
                break;
            }
            if left.is_zero() {
                break;
            }
        }
        self.lake.flush_due(Instant::now())?;
        self.commit_written(CommitMode::Sync)
    }

    /// Writes everything buffered, commits it, and returns what the lake holds.
    pub fn finish(mut self) -> Result<LakeReport, LakeDeliveryError> {
        self.lake.flush_all()?;
        self.commit_written(CommitMode::Sync)?;
        let report = self.lake.report().clone();
        Ok(report)
    }

    /// Partitions leaving this consumer: write what was read from them first, and commit it,
    /// so that their next owner starts where the files end.
    fn apply_rebalances(&mut self) -> Result<(), LakeDeliveryError> {
        for event in self.consumer.context().take_events() {
            match event {
                RebalanceEvent::Revoked(partitions) => {
                    self.lake.flush_all()?;
                    // The group may already refuse a commit for them; then their next owner
                    // re-reads from the previous commit (identical duplicates, nothing lost).
                    if let Err(error) = self.commit_written(CommitMode::Sync) {
                        tracing::warn!(%error, "lake consumer: commit on revocation refused");
                    }
                    for p in partitions {
                        self.next.remove(&p);
                        self.committed.remove(&p);
                    }
                }
                RebalanceEvent::Assigned(partitions) => {
                    tracing::info!(?partitions, "lake consumer: partitions assigned");
                }
            }
        }
        Ok(())
    }

    /// Commits, for each partition held, the first offset not yet in a written file.
    fn commit_written(&mut self, mode: CommitMode) -> Result<(), LakeDeliveryError> {
        let unwritten = self.lake.unwritten_from();
        let mut list = TopicPartitionList::new();
        let mut changed = Vec::new();
        for (partition, next) in &self.next {
            let safe = unwritten.get(partition).copied().unwrap_or(*next);
            if self.committed.get(partition) != Some(&safe) {
                list.add_partition_offset(&self.topic, *partition, Offset::Offset(safe))
                    .map_err(kafka("building the offsets to commit"))?;
                changed.push((*partition, safe));
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        self.consumer
            .commit(&list, mode)
            .map_err(kafka("committing the lake's offsets"))?;
        self.committed.extend(changed);
        self.progress.commits += 1;
        Ok(())
    }
}

fn retriable(code: rdkafka::types::RDKafkaErrorCode) -> bool {
    use rdkafka::types::RDKafkaErrorCode::{AllBrokersDown, BrokerTransportFailure, Resolve};
    matches!(code, BrokerTransportFailure | AllBrokersDown | Resolve)
}

/// Runs a delivery until `stop` is set, or (when `expected` is below `u64::MAX`) until that
/// many records have been read; then writes and commits everything. `consumed` follows the
/// count for a progress display.
pub fn run_until(
    mut delivery: LakeDelivery,
    stop: &AtomicBool,
    expected: &AtomicU64,
    consumed: &AtomicU64,
) -> Result<LakeReport, LakeDeliveryError> {
    while !stop.load(Ordering::Acquire)
        && delivery.progress.consumed < expected.load(Ordering::Acquire)
    {
        delivery.pump(Duration::from_millis(100))?;
        consumed.store(delivery.progress.consumed, Ordering::Release);
    }
    delivery.finish()
}
