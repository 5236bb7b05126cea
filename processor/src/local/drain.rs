//! The local run's readers of its output topics: each reads one topic `read_committed` into a
//! JSON-lines file beside the processor, as the feature-writer Lambda and an operator's consumer
//! read them in AWS.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use pipeline_kafka::KafkaSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::produce::RECORD_OVERHEAD;
use super::{QUICK_FETCH, STALL_LIMIT};

/// A reader of one output topic into a JSON-lines file.
pub(super) struct Drain {
    pub(super) settings: KafkaSettings,
    pub(super) topic: String,
    pub(super) partitions: i32,
    /// How many records to read; `u64::MAX` until the processor is done.
    pub(super) expected: Arc<AtomicU64>,
    /// Set when the run ends early.
    pub(super) stop: Arc<AtomicBool>,
    pub(super) path: PathBuf,
    /// What has been read so far, for the processor's pacing.
    pub(super) progress: Arc<ReadProgress>,
}

/// How far a reader has got: records, and the bytes of their keys and values.
#[derive(Debug, Default)]
pub(super) struct ReadProgress {
    pub(super) records: AtomicU64,
    pub(super) bytes: AtomicU64,
}

impl ReadProgress {
    /// The bytes of `written` records that are not read yet, counting each as twice the
    /// average read so far (4 KiB before anything is read) plus the broker's framing.
    /// `also_read` is another reader's count of the same topic: the slower one counts.
    pub(super) fn unread_bytes(&self, written: u64, also_read: u64) -> u64 {
        let records = self.records.load(Ordering::Acquire);
        let bytes = self.bytes.load(Ordering::Relaxed);
        let per_record = (2 * bytes).checked_div(records).unwrap_or(4_096) + RECORD_OVERHEAD;
        written.saturating_sub(records.min(also_read)) * per_record
    }
}

pub(super) type DrainThread<T> = std::thread::JoinHandle<anyhow::Result<(u64, T)>>;

pub(super) fn spawn_drain<T: Send + 'static>(
    what: &str,
    run: impl FnOnce() -> anyhow::Result<(u64, T)> + Send + 'static,
) -> anyhow::Result<DrainThread<T>> {
    std::thread::Builder::new()
        .name(what.into())
        .spawn(run)
        .with_context(|| format!("starting the {what} reader's thread"))
}

pub(super) fn join_drain<T>(thread: DrainThread<T>, what: &str) -> anyhow::Result<(u64, T)> {
    thread
        .join()
        .map_err(|_| anyhow::anyhow!("the {what} reader panicked"))?
}

impl Drain {
    /// Reads committed records, one line each, until it has the expected number; gives up
    /// only when the topic stops yielding records once that number is known.
    pub(super) fn run(
        self,
        mut line: impl FnMut(&[u8], &rdkafka::message::BorrowedMessage<'_>) -> anyhow::Result<String>,
    ) -> anyhow::Result<u64> {
        let topic = &self.topic;
        let consumer: BaseConsumer = self
            .settings
            .client_config()?
            .set("group.id", format!("local-sink-{topic}"))
            .set("isolation.level", "read_committed")
            .set("enable.auto.commit", "false")
            .set(QUICK_FETCH.0, QUICK_FETCH.1)
            .create()?;
        let mut list = TopicPartitionList::new();
        for p in 0..self.partitions {
            list.add_partition_offset(topic, p, Offset::Beginning)?;
        }
        consumer.assign(&list)?;
        let mut out = BufWriter::new(
            File::create(&self.path)
                .with_context(|| format!("creating {}", self.path.display()))?,
        );
        let mut written = 0;
        let mut last_read = Instant::now();
        loop {
            let expected = self.expected.load(Ordering::Acquire);
            if written >= expected || self.stop.load(Ordering::Acquire) {
                break;
            }
            if expected == u64::MAX {
                last_read = Instant::now();
            } else if last_read.elapsed() > STALL_LIMIT {
                bail!(
                    "read {written} of {expected} records of {topic}, then nothing for {} s",
                    STALL_LIMIT.as_secs()
                );
            }
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                let message = message?;
                let payload = message.payload().unwrap_or_default();
                writeln!(out, "{}", line(payload, &message)?)?;
                written += 1;
                let size = payload.len() + message.key().map_or(0, <[u8]>::len);
                self.progress
                    .bytes
                    .fetch_add(size as u64, Ordering::Relaxed);
                self.progress.records.store(written, Ordering::Release);
                last_read = Instant::now();
            }
        }
        out.flush()?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unread_bytes_count_the_slower_reader_at_twice_the_average_size() {
        let progress = ReadProgress::default();
        // Nothing read yet: 4 KiB a record, plus framing.
        assert_eq!(
            progress.unread_bytes(10, u64::MAX),
            10 * (4_096 + RECORD_OVERHEAD)
        );
        progress.records.store(100, Ordering::Release);
        progress.bytes.store(100 * 150, Ordering::Release);
        // 300 B a record (twice 150) plus framing, for the 50 this reader has not read...
        assert_eq!(
            progress.unread_bytes(150, u64::MAX),
            50 * (300 + RECORD_OVERHEAD)
        );
        // ...or the 140 the slower reader (the lake, at 10) has not.
        assert_eq!(
            progress.unread_bytes(150, 10),
            140 * (300 + RECORD_OVERHEAD)
        );
        assert_eq!(progress.unread_bytes(90, u64::MAX), 0);
    }
}
