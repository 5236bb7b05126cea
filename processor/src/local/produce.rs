//! The local run's event producer: the generator the producer Lambda uses, into the input topic,
//! as fast as the processor takes the events in, and never so far ahead of it that the embedded
//! broker drops what the processor has not read.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use pipeline_core::framer::Framer;
use pipeline_core::generator::EventGenerator;
use pipeline_kafka::{EmbeddedKafka, KafkaSettings};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;

use super::{LocalOptions, Waited, wait_until};

/// What one record may take in the embedded broker's log beyond its key and value, counted
/// generously: the record's own framing (about 20 bytes) and, if it went alone, a whole batch
/// header (61 bytes).
pub(super) const RECORD_OVERHEAD: u64 = 96;

/// How far ahead of the processor the producer may be on one partition of the embedded
/// broker: half of what a partition keeps, counting each record with [`RECORD_OVERHEAD`], so
/// that no record is dropped before the processor has read it.
pub(super) const EMBEDDED_BUDGET: u64 = EmbeddedKafka::PARTITION_RETENTION_BYTES / 2;

/// What the processor has read so far, by partition of the input topic: one past the last
/// offset it handled. The run's loop writes it after each batch; the producer reads it.
#[derive(Debug)]
pub(super) struct ReadPositions {
    next: Vec<AtomicI64>,
    /// The producer waiting for room, woken when positions move.
    waiting: std::sync::Mutex<Option<std::thread::Thread>>,
}

impl ReadPositions {
    pub(super) fn new(partitions: usize) -> Self {
        Self {
            next: (0..partitions).map(|_| AtomicI64::new(0)).collect(),
            waiting: std::sync::Mutex::new(None),
        }
    }

    pub(super) fn set(&self, positions: impl IntoIterator<Item = (i32, i64)>) {
        for (partition, next) in positions {
            if let Some(slot) = usize::try_from(partition)
                .ok()
                .and_then(|p| self.next.get(p))
            {
                slot.fetch_max(next, Ordering::AcqRel);
            }
        }
        if let Ok(waiting) = self.waiting.lock()
            && let Some(thread) = waiting.as_ref()
        {
            thread.unpark();
        }
    }

    fn get(&self, partition: usize) -> i64 {
        self.next[partition].load(Ordering::Acquire)
    }

    /// Whether the producer has had to wait for room.
    #[cfg(test)]
    fn has_waited(&self) -> bool {
        self.waiting.lock().is_ok_and(|w| w.is_some())
    }

    /// Waits until positions move (or a short while, to check for a stall).
    fn wait(&self) {
        if let Ok(mut waiting) = self.waiting.lock() {
            *waiting = Some(std::thread::current());
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

/// The bytes each partition has in flight: sent, and not yet read by the processor. A record
/// goes to a partition only while that partition's bytes stay within the budget (or when it
/// has nothing in flight, so that one record larger than the budget still goes).
#[derive(Debug)]
pub(super) struct Pacing {
    budget: u64,
    partitions: Vec<InFlight>,
}

#[derive(Debug, Default)]
struct InFlight {
    /// The offset of `sizes[0]` (a fresh topic's offsets start at 0).
    first: i64,
    /// The counted size of each record from `first` on.
    sizes: VecDeque<u32>,
    bytes: u64,
}

impl Pacing {
    pub(super) fn new(partitions: usize, budget: u64) -> Self {
        Self {
            budget,
            partitions: (0..partitions).map(|_| InFlight::default()).collect(),
        }
    }

    /// A record's size as counted against the budget.
    pub(super) fn counted(key: &[u8], payload: &[u8]) -> u32 {
        u32::try_from(key.len() as u64 + payload.len() as u64 + RECORD_OVERHEAD).unwrap_or(u32::MAX)
    }

    /// Forgets the records of `partition` below offset `next`: the processor has read them.
    pub(super) fn read_up_to(&mut self, partition: usize, next: i64) {
        let flight = &mut self.partitions[partition];
        while flight.first < next
            && let Some(size) = flight.sizes.pop_front()
        {
            flight.bytes -= u64::from(size);
            flight.first += 1;
        }
    }

    /// Whether a record of `size` may go to `partition` now.
    pub(super) fn fits(&self, partition: usize, size: u32) -> bool {
        let flight = &self.partitions[partition];
        flight.sizes.is_empty() || flight.bytes + u64::from(size) <= self.budget
    }

    pub(super) fn sent(&mut self, partition: usize, size: u32) {
        let flight = &mut self.partitions[partition];
        flight.sizes.push_back(size);
        flight.bytes += u64::from(size);
    }

    /// The bytes `partition` has in flight.
    pub(super) fn in_flight(&self, partition: usize) -> u64 {
        self.partitions[partition].bytes
    }
}

/// The partition librdkafka's default partitioner gives a key (CRC-32 of the key, modulo the
/// partition count), so that the local run places keys as the producer Lambda does.
pub(super) fn partition_of(key: &[u8], partitions: usize) -> usize {
    (crc32fast::hash(key) as usize) % partitions.max(1)
}

/// The producer of the generated events. Created before the rest of the run: an idempotent
/// producer that starts before its broker connection is up waits a fixed 500 ms for its
/// producer id, which then passes while the processor joins its group.
pub(super) fn event_producer(
    settings: &KafkaSettings,
) -> anyhow::Result<ThreadedProducer<DefaultProducerContext>> {
    settings
        .producer_config()?
        .set("linger.ms", "5")
        .create()
        .context("creating the event producer")
}

/// Where generated events go: a topic, as JSON or (with a framer) as Avro framed for the
/// registry.
#[derive(Debug, Clone, Copy)]
pub(super) struct Destination<'a> {
    pub(super) topic: &'a str,
    pub(super) framer: Option<&'a Framer>,
}

/// Produces `options.events` generated events to `to`. With `pacing` (the embedded
/// broker), each event waits for room on its partition; a processor that reads nothing for
/// the stall limit fails the run.
pub(super) fn produce_events(
    producer: &ThreadedProducer<DefaultProducerContext>,
    to: Destination<'_>,
    options: &LocalOptions,
    produced: &AtomicU64,
    positions: &ReadPositions,
    mut pacing: Option<Pacing>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let Destination { topic, framer } = to;
    let mut generator = EventGenerator::new(&options.spec, options.generator.clone());
    let mut payload = Vec::new();
    let rate = options.rate.max(1);
    let partitions = usize::try_from(options.partitions).unwrap_or(1).max(1);
    // The simulated stream ends now.
    let start_ms = chrono::Utc::now().timestamp_millis() - (options.events * 1_000 / rate) as i64;
    for i in 0..options.events {
        let nominal = start_ms + (i * 1_000 / rate) as i64;
        let generated = generator.next_into(nominal, &mut payload);
        if let Some(framer) = framer {
            payload = framer.record(&payload);
        }
        let key = generator.key(generated.key);
        let mut record = BaseRecord::to(topic)
            .key(key)
            .payload(&payload)
            .timestamp(nominal);
        if let Some(pacing) = &mut pacing {
            let partition = partition_of(key.as_bytes(), partitions);
            let size = Pacing::counted(key.as_bytes(), &payload);
            let waiting = std::cell::Cell::new(0);
            let waited = wait_until(
                || {
                    pacing.read_up_to(partition, positions.get(partition));
                    waiting.set(pacing.in_flight(partition));
                    pacing.fits(partition, size)
                },
                || stop.load(Ordering::Acquire),
                || positions.wait(),
                || {
                    format!(
                        "the processor stopped reading partition {partition} ({} bytes waiting, \
                         {i} events produced)",
                        waiting.get()
                    )
                },
            )?;
            if waited == Waited::Stopped {
                return Ok(());
            }
            pacing.sent(partition, size);
            record = record.partition(partition as i32);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((
                    rdkafka::error::KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
                    back,
                )) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e).context("producing an event"),
            }
        }
        produced.fetch_add(1, Ordering::Release);
    }
    producer
        .flush(Duration::from_secs(60))
        .context("flushing events")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_partition_takes_records_until_its_budget_and_more_as_they_are_read() {
        let mut pacing = Pacing::new(2, 1_000);
        // 300-byte records: three fit in 1,000 bytes, the fourth waits.
        for _ in 0..3 {
            assert!(pacing.fits(0, 300));
            pacing.sent(0, 300);
        }
        assert!(!pacing.fits(0, 300));
        // The other partition has its own budget.
        assert!(pacing.fits(1, 300));
        // Reading offset 0 frees its 300 bytes; reading nothing new frees nothing.
        pacing.read_up_to(0, 1);
        assert_eq!(pacing.in_flight(0), 600);
        pacing.read_up_to(0, 1);
        assert_eq!(pacing.in_flight(0), 600);
        assert!(pacing.fits(0, 300));
        pacing.sent(0, 300);
        // Reading past what was sent empties the partition and no more.
        pacing.read_up_to(0, 10);
        assert_eq!(pacing.in_flight(0), 0);
        pacing.sent(0, 300);
        // Offsets continue from 4 (three, one read, one more, then the new one).
        pacing.read_up_to(0, 4);
        assert_eq!(pacing.in_flight(0), 300);
        pacing.read_up_to(0, 5);
        assert_eq!(pacing.in_flight(0), 0);
    }

    #[test]
    fn a_record_larger_than_the_budget_goes_alone() {
        let mut pacing = Pacing::new(1, 100);
        assert!(pacing.fits(0, 500));
        pacing.sent(0, 500);
        assert!(!pacing.fits(0, 1));
    }

    /// Against the embedded broker itself: a reader that starts only once the producer is
    /// stuck (or has produced twice the broker's retention, as it would without pacing) still
    /// finds every record from offset 0 on.
    #[test]
    fn the_producer_waits_for_its_reader_and_the_broker_drops_nothing() {
        use std::sync::Arc;

        use pipeline_core::generator::GeneratorConfig;
        use pipeline_core::{STOCK_TICKS_SPEC, Spec};
        use rdkafka::Message as _;
        use rdkafka::consumer::{BaseConsumer, Consumer as _};

        const EVENTS: u64 = 100_000;
        let kafka = EmbeddedKafka::start(1).unwrap();
        kafka.create_topic("ticks", 1).unwrap();
        let settings = KafkaSettings::local(kafka.bootstrap_servers());
        let options = LocalOptions {
            spec: Arc::new(Spec::from_toml(STOCK_TICKS_SPEC, "stock-ticks").unwrap()),
            brokers: None,
            delivery: crate::Delivery::AtLeastOnce,
            events: EVENTS,
            rate: 1_000,
            generator: GeneratorConfig::default(),
            partitions: 1,
            out_dir: std::env::temp_dir(),
            lake_buffer_bytes: 1,
            lake_buffer_interval: Duration::from_secs(60),
            progress: false,
        };
        let producer = event_producer(&settings).unwrap();
        let (produced, positions) = (AtomicU64::new(0), ReadPositions::new(1));
        let stop = AtomicBool::new(false);
        let consumer: BaseConsumer = settings
            .client_config()
            .unwrap()
            .set("group.id", "pacing")
            .create()
            .unwrap();
        let mut list = rdkafka::TopicPartitionList::new();
        list.add_partition_offset("ticks", 0, rdkafka::Offset::Beginning)
            .unwrap();
        consumer.assign(&list).unwrap();
        std::thread::scope(|s| {
            let pacing = Some(Pacing::new(1, EMBEDDED_BUDGET));
            let producing = s.spawn(|| {
                produce_events(
                    &producer,
                    Destination {
                        topic: "ticks",
                        framer: None,
                    },
                    &options,
                    &produced,
                    &positions,
                    pacing,
                    &stop,
                )
            });
            let twice_retention =
                2 * EmbeddedKafka::PARTITION_RETENTION_BYTES / u64::from(Pacing::counted(b"", b""));
            while !positions.has_waited()
                && produced.load(Ordering::Acquire) < twice_retention.min(EVENTS)
            {
                std::thread::yield_now();
            }
            assert!(
                positions.has_waited(),
                "the producer never waited for its reader"
            );
            let mut next = 0;
            let deadline = Instant::now() + Duration::from_secs(60);
            while next < EVENTS as i64 && Instant::now() < deadline {
                if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                    assert_eq!(message.unwrap().offset(), next, "a record was dropped");
                    next += 1;
                    if next % 1_000 == 0 {
                        positions.set([(0, next)]);
                    }
                }
            }
            positions.set([(0, next)]);
            producing.join().unwrap().unwrap();
            assert_eq!(next, EVENTS as i64);
        });
    }

    /// The run places keys itself (to know each partition's bytes); it must place them where
    /// librdkafka's default partitioner does, as the producer Lambda's records are placed.
    #[test]
    fn keys_are_placed_where_librdkafka_places_them() {
        use rdkafka::Message as _;
        use rdkafka::consumer::{BaseConsumer, Consumer as _};

        let kafka = EmbeddedKafka::start(1).unwrap();
        kafka.create_topic("placed", 7).unwrap();
        let settings = KafkaSettings::local(kafka.bootstrap_servers());
        let producer: ThreadedProducer<DefaultProducerContext> =
            settings.producer_config().unwrap().create().unwrap();
        let keys: Vec<String> = (0..40).map(|i| format!("key-{i}")).collect();
        for key in &keys {
            producer
                .send(BaseRecord::to("placed").key(key).payload("x"))
                .map_err(|(e, _)| e)
                .unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();
        let consumer: BaseConsumer = settings
            .client_config()
            .unwrap()
            .set("group.id", "placed")
            .create()
            .unwrap();
        let mut list = rdkafka::TopicPartitionList::new();
        for p in 0..7 {
            list.add_partition_offset("placed", p, rdkafka::Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&list).unwrap();
        let mut seen = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        while seen < keys.len() && Instant::now() < deadline {
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                let message = message.unwrap();
                let key = message.key().unwrap();
                assert_eq!(
                    partition_of(key, 7),
                    message.partition() as usize,
                    "{}",
                    String::from_utf8_lossy(key)
                );
                seen += 1;
            }
        }
        assert_eq!(seen, keys.len());
    }
}
