//! The processing loop: poll a batch, run each record through its partition's core state,
//! deliver aggregates and dead letters, and commit each partition's checkpoint — in one Kafka
//! transaction (exactly-once) or after the outputs are flushed (at-least-once).
//!
//! Rebalance callbacks only run inside `poll`, and a batch is collected before any of it is
//! processed, so a revoked partition's records are dropped from the batch unprocessed and no
//! rebalance ever happens in the middle of a transaction.
//!
//! A batch that cannot be delivered is aborted and the engine stops with an error: nothing past
//! the last commit counts, and a restarted process resumes from the committed checkpoints (the
//! recovery path every restart takes). Rewinding in place would need the consumer to seek back,
//! and librdkafka ignores a seek to the offset of its previous seek, which would lose records.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_core::spec::InputFormat;
use pipeline_core::wire;
use pipeline_core::{Aggregate, Checkpoint, Outcome, Partition, Record, Spec};
use pipeline_kafka::{IamContext, KafkaSettings};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, Timestamp, TopicPartitionList};

use crate::context::{ConsumerCtx, ProducerCtx, RebalanceEvent, send_waiting};
use crate::records::{self, MAX_DEAD_LETTER_BYTES, dead_letter_headers};

mod config;
mod errors;
mod stats;

pub(crate) use config::is_protected;
pub use config::{Delivery, EngineConfig};
pub use errors::EngineError;
use errors::{connection_lost, during_rebalance, is_fenced, kafka, unsupported};
pub use stats::{EngineStats, GroupBacklog, HandedOffset, dead_letters_by_reason};

/// How long the engine asks the broker for a quiet partition's end before it leaves the
/// partition as it is until the next cycle.
const IDLE_QUERY_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Engine {
    spec: Arc<Spec>,
    config: EngineConfig,
    /// Shared so that a batch can hold the consumer's messages (borrowed, not copied out of
    /// librdkafka) while the engine processes them.
    consumer: Arc<BaseConsumer<ConsumerCtx>>,
    producer: BaseProducer<ProducerCtx>,
    /// The core state of each assigned partition of the input topic.
    partitions: HashMap<i32, Partition>,
    /// When each assigned partition last had a record (or was assigned): its idleness.
    last_record: HashMap<i32, Instant>,
    stats: EngineStats,
    closed: Vec<Aggregate>,
    /// How long each commit (transaction commit, or flush and offset commit) took, since the
    /// last [`Engine::take_commit_latencies`].
    commit_latencies: Vec<Duration>,
    handed: BTreeMap<i32, HandedOffset>,
    first_assigned_at: Option<Instant>,
    /// Records handed to the producer since start; each gets one delivery report.
    sent: u64,
    /// Until when the batch being delivered may wait for room in the producer's queue.
    send_deadline: Instant,
    /// Avro input: where schema versions new to a partition are looked up.
    registry: Option<pipeline_registry::Resolver>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("partitions", &self.partitions.keys().collect::<Vec<_>>())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Engine {
    /// Connects, joins the group and subscribes to the spec's input topic.
    pub fn start(
        spec: Arc<Spec>,
        settings: &KafkaSettings,
        iam: Option<IamContext>,
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        config.check()?;
        let mut consumer_config = settings.client_config()?;
        consumer_config
            .set("group.id", &config.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("isolation.level", "read_committed")
            .set(
                "max.poll.interval.ms",
                config.max_poll_interval.as_millis().to_string(),
            );
        let mut producer_config = settings.producer_config()?;
        // Every commit waits for the outputs sent before it, so lingering would only delay the
        // commit; librdkafka still batches what accumulates while a request is in flight.
        producer_config.set("linger.ms", "0");
        if config.delivery == Delivery::ExactlyOnce {
            producer_config
                .set("transactional.id", &config.transactional_id)
                .set(
                    "transaction.timeout.ms",
                    config.transaction_timeout.as_millis().to_string(),
                );
        }
        for (key, value) in &config.consumer_overrides {
            if is_protected(key) {
                return Err(EngineError::ProtectedSetting(key.clone()));
            }
            consumer_config.set(key, value);
        }
        let consumer: BaseConsumer<ConsumerCtx> = consumer_config
            .create_with_context(ConsumerCtx::new(iam.clone()))
            .map_err(kafka("creating the consumer"))?;
        let producer: BaseProducer<ProducerCtx> = producer_config
            .create_with_context(ProducerCtx::new(iam))
            .map_err(kafka("creating the producer"))?;
        if config.delivery == Delivery::ExactlyOnce {
            producer
                .init_transactions(config.request_timeout)
                .map_err(kafka("initialising transactions"))?;
        }
        // Learn where the outputs' partitions live before the first batch rather than inside
        // its commit (on tansu that first lookup took over half a second).
        for topic in [&spec.topics.output, &spec.topics.dead_letter] {
            producer
                .client()
                .fetch_metadata(Some(topic), config.request_timeout)
                .map_err(kafka("reading the output topics' metadata"))?;
        }
        consumer
            .subscribe(&[&spec.topics.input])
            .map_err(kafka("subscribing to the input topic"))?;
        Ok(Self {
            spec,
            config,
            consumer: Arc::new(consumer),
            producer,
            partitions: HashMap::new(),
            last_record: HashMap::new(),
            stats: EngineStats::default(),
            closed: Vec::new(),
            commit_latencies: Vec::new(),
            handed: BTreeMap::new(),
            first_assigned_at: None,
            sent: 0,
            send_deadline: Instant::now(),
            registry: None,
        })
    }

    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Partitions currently assigned to this instance.
    pub fn assigned(&self) -> Vec<i32> {
        let mut p: Vec<i32> = self.partitions.keys().copied().collect();
        p.sort_unstable();
        p
    }

    /// Each assigned partition's high-water mark: one past the last record it has handled.
    pub fn high_waters(&self) -> BTreeMap<i32, i64> {
        self.partitions
            .iter()
            .filter_map(|(p, state)| state.checkpoint().map(|cp| (*p, cp.high_water)))
            .collect()
    }

    /// Open windows across the assigned partitions.
    pub fn open_windows(&self) -> usize {
        self.partitions.values().map(|p| p.open_windows()).sum()
    }

    /// When this engine was first assigned partitions (the group join done).
    pub fn first_assigned_at(&self) -> Option<Instant> {
        self.first_assigned_at
    }

    /// The commit latencies measured since the last call.
    pub fn take_commit_latencies(&mut self) -> Vec<Duration> {
        std::mem::take(&mut self.commit_latencies)
    }

    /// The offsets (with checkpoint metadata) last handed to the broker with a batch that
    /// committed, by partition of the input topic.
    pub fn handed_offsets(&self) -> &BTreeMap<i32, HandedOffset> {
        &self.handed
    }

    /// Records behind the end of each assigned partition: its high watermark (asked of the
    /// broker, each call bounded by `timeout`) less the offset after the last record handled.
    /// `timeout` bounds the whole call: partitions not asked once it has passed are left out.
    pub fn lag(&self, timeout: Duration) -> BTreeMap<i32, i64> {
        let topic = &self.spec.topics.input;
        let deadline = Instant::now() + timeout;
        let mut lag = BTreeMap::new();
        for (partition, state) in &self.partitions {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let Ok((low, high)) = self.consumer.fetch_watermarks(topic, *partition, left) else {
                continue;
            };
            let next = state.checkpoint().map_or(low, |cp| cp.high_water.max(low));
            lag.insert(*partition, (high - next).max(0));
        }
        lag
    }

    /// The consumer group's position on the whole input topic, assigned here or not: the sum
    /// of its committed offsets and how many records lie beyond them. `None` if the broker
    /// did not answer within `timeout`. An instance with no partitions uses it to tell "the
    /// group has nothing for me" from "the group's work is stuck while I hold none".
    pub fn group_backlog(&self, timeout: Duration) -> Option<GroupBacklog> {
        let topic = &self.spec.topics.input;
        let deadline = Instant::now() + timeout;
        let metadata = self.consumer.fetch_metadata(Some(topic), timeout).ok()?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        let mut list = TopicPartitionList::new();
        for p in &partitions {
            list.add_partition(topic, *p);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let committed = self.consumer.committed_offsets(list, left).ok()?;
        let mut backlog = GroupBacklog::default();
        for element in committed.elements() {
            let left = deadline.saturating_duration_since(Instant::now());
            let (low, high) = self
                .consumer
                .fetch_watermarks(topic, element.partition(), left)
                .ok()?;
            let position = match element.offset() {
                Offset::Offset(offset) => offset.max(low),
                _ => low,
            };
            backlog.committed += position;
            backlog.behind += (high - position).max(0);
        }
        Some(backlog)
    }

    /// The schema registry of an Avro spec (see `crate::registry::open`): each schema version
    /// a partition has not met is looked up there (once per process) before its record is
    /// decoded.
    pub fn set_registry(&mut self, registry: Option<pipeline_registry::Resolver>) {
        self.registry = registry;
    }

    /// How many schema versions were looked up in the registry since start.
    pub fn schema_lookups(&self) -> u64 {
        self.registry.as_ref().map_or(0, |r| r.lookups())
    }

    /// One cycle: collect a batch, process it, deliver and commit. Returns the number of
    /// records processed.
    ///
    /// After an error the engine's state is past the last commit: drop it and start a new one
    /// (in AWS, let the task restart), which resumes from the committed checkpoints.
    pub fn run_batch(&mut self) -> Result<usize, EngineError> {
        let consumer = Arc::clone(&self.consumer);
        let batch = self.collect_batch(&consumer)?;
        let now = Instant::now();
        let mut last = None;
        for message in &batch {
            let partition = message.partition();
            if last != Some(partition) {
                self.last_record.insert(partition, now);
                last = Some(partition);
            }
        }
        let idle = self.idle_partitions(now);
        if batch.is_empty() && idle.is_empty() {
            return Ok(0);
        }
        let n = batch.len();
        self.deliver(|engine| {
            for message in &batch {
                engine.process(message)?;
            }
            engine.advance_idle(&idle)
        })?;
        Ok(n)
    }

    /// The partitions whose watermark the clock should move now: no record for the spec's
    /// `idle_timeout`, nothing left to read (the position is at the partition's end, as the
    /// consumer last heard it), and an open window the clock would close. Processing time
    /// stands in for event time only then, so a partition with a backlog is never moved past
    /// records it has not read.
    fn idle_partitions(&self, now: Instant) -> Vec<i32> {
        let Some(timeout) = self.spec.window.idle_timeout_ms else {
            return Vec::new();
        };
        let timeout = Duration::from_millis(timeout.unsigned_abs());
        let clock_watermark = self.clock_watermark();
        let topic = &self.spec.topics.input;
        self.partitions
            .iter()
            .filter(|(p, state)| {
                let quiet = self
                    .last_record
                    .get(p)
                    .is_some_and(|at| now.saturating_duration_since(*at) >= timeout);
                let closable = state
                    .idle_close_ms()
                    .is_some_and(|end| end <= clock_watermark);
                quiet && closable && {
                    let next = state.checkpoint().map(|cp| cp.high_water);
                    // Asked of the broker, but only for a partition quiet for the whole timeout
                    // with a window to close: rare, and bounded.
                    let asked = self
                        .consumer
                        .fetch_watermarks(topic, **p, IDLE_QUERY_TIMEOUT);
                    match (asked, next) {
                        (Ok((_, high)), Some(next)) => next >= high,
                        _ => false,
                    }
                }
            })
            .map(|(p, _)| *p)
            .collect()
    }

    /// The watermark the clock gives an idle partition: now, less the allowed lateness, as if
    /// an event had arrived now.
    fn clock_watermark(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() - self.spec.window.allowed_lateness_ms
    }

    /// Moves the watermark of each of `idle` by the clock and sends what that closes, in the
    /// batch's transaction: the advanced watermark is in the checkpoints committed with it.
    fn advance_idle(&mut self, idle: &[i32]) -> Result<(), EngineError> {
        if idle.is_empty() {
            return Ok(());
        }
        let to = self.clock_watermark();
        let mut closed = std::mem::take(&mut self.closed);
        for p in idle {
            if let Some(state) = self.partitions.get_mut(p) {
                let before = closed.len();
                state.advance_watermark(to, &mut closed);
                tracing::info!(
                    partition = p,
                    watermark = to,
                    windows = closed.len() - before,
                    "partition idle: watermark moved by the clock"
                );
                self.stats.idle_advances += 1;
            }
        }
        for aggregate in closed.drain(..) {
            self.send_aggregate(&aggregate)?;
        }
        self.closed = closed;
        Ok(())
    }

    /// Closes every open window on every assigned partition and delivers the aggregates, as at
    /// the end of a bounded input.
    pub fn close_all(&mut self) -> Result<(), EngineError> {
        self.deliver(|engine| {
            let mut closed = std::mem::take(&mut engine.closed);
            for state in engine.partitions.values_mut() {
                state.close_all(&mut closed);
            }
            for aggregate in closed.drain(..) {
                engine.send_aggregate(&aggregate)?;
            }
            engine.closed = closed;
            Ok(())
        })
    }

    /// Polls up to a batch of records from `consumer` (the engine's own), applying rebalances
    /// as they come. The records stay in librdkafka's buffers until the batch is dropped.
    fn collect_batch<'c>(
        &mut self,
        consumer: &'c BaseConsumer<ConsumerCtx>,
    ) -> Result<Vec<BorrowedMessage<'c>>, EngineError> {
        let deadline = Instant::now() + self.config.batch_timeout;
        let mut batch: Vec<BorrowedMessage<'c>> = Vec::new();
        let mut remaining = self.config.batch_timeout;
        let mut polls = 0u32;
        while batch.len() < self.config.max_batch {
            polls = polls.wrapping_add(1);
            // Take what the consumer has queued without waiting or reading the clock (both
            // showed in the profile once per record); wait only when the queue is empty.
            let mut polled = consumer.poll(Duration::ZERO);
            if polled.is_none() || polls.is_multiple_of(1024) {
                remaining = deadline.saturating_duration_since(Instant::now());
            }
            if polled.is_none() && !remaining.is_zero() {
                polled = consumer.poll(remaining);
            }
            // Rebalances happen inside poll: apply them before anything is processed.
            for event in consumer.context().take_events() {
                let (RebalanceEvent::Assigned(changed) | RebalanceEvent::Revoked(changed)) = &event;
                batch.retain(|m| !changed.contains(&m.partition()));
                match event {
                    RebalanceEvent::Revoked(partitions) => {
                        tracing::info!(?partitions, "partitions revoked");
                        for p in partitions {
                            self.partitions.remove(&p);
                            self.handed.remove(&p);
                            self.last_record.remove(&p);
                        }
                    }
                    RebalanceEvent::Assigned(partitions) => {
                        tracing::info!(?partitions, "partitions assigned");
                        self.first_assigned_at.get_or_insert_with(Instant::now);
                        self.resume(&partitions)?;
                    }
                }
            }
            match polled {
                Some(Ok(message)) if self.partitions.contains_key(&message.partition()) => {
                    batch.push(message);
                }
                Some(Ok(_)) => {}
                Some(Err(KafkaError::PartitionEOF(_))) => {}
                // librdkafka reconnects by itself; a batch in hand, if any, is committed once
                // the broker is back (or fails its commit, which stops the engine).
                Some(Err(e)) if connection_lost(&e) => {
                    tracing::warn!(error = %e, "lost the broker connection; reconnecting");
                }
                Some(Err(e)) => {
                    return Err(EngineError::Kafka {
                        context: "polling",
                        source: e,
                    });
                }
                None => {}
            }
            if remaining.is_zero() {
                break;
            }
        }
        Ok(batch)
    }

    /// Creates the core state of newly assigned partitions from their committed checkpoints.
    fn resume(&mut self, partitions: &[i32]) -> Result<(), EngineError> {
        let topic = &self.spec.topics.input;
        let mut list = TopicPartitionList::new();
        for p in partitions {
            list.add_partition(topic, *p);
        }
        let committed = self
            .consumer
            .committed_offsets(list, self.config.request_timeout)
            .map_err(kafka("reading committed offsets"))?;
        for element in committed.elements() {
            let checkpoint = match element.offset() {
                Offset::Offset(offset) => {
                    match Checkpoint::from_metadata(offset, element.metadata()) {
                        Ok(cp) => Some(cp),
                        // An offset reset by an operator's tool carries no metadata; so does
                        // every commit on a broker that drops it (tansu 0.6). Start afresh there.
                        Err(problem) => {
                            tracing::warn!(
                                partition = element.partition(),
                                offset,
                                %problem,
                                "committed offset without a checkpoint: starting fresh state \
                                 there; windows it reopens are emitted again and may differ"
                            );
                            None
                        }
                    }
                }
                _ => None,
            };
            let core = match checkpoint {
                Some(cp) => {
                    tracing::info!(
                        partition = element.partition(),
                        offset = cp.offset,
                        watermark = ?cp.watermark_ms,
                        high_water = cp.high_water,
                        "resuming from the committed checkpoint"
                    );
                    Partition::resume(&self.spec, cp)
                }
                None => Partition::new(&self.spec),
            };
            self.partitions.insert(element.partition(), core);
            self.last_record.insert(element.partition(), Instant::now());
        }
        Ok(())
    }

    fn process(&mut self, message: &impl Message) -> Result<(), EngineError> {
        // The clock is read only when needed: once a record, it showed in the profile.
        let now_ms = || chrono::Utc::now().timestamp_millis();
        let timestamp_ms = match message.timestamp() {
            Timestamp::CreateTime(t) | Timestamp::LogAppendTime(t) => t,
            Timestamp::NotAvailable => now_ms(),
        };
        let Some(state) = self.partitions.get_mut(&message.partition()) else {
            return Ok(());
        };
        let record = Record {
            offset: message.offset(),
            timestamp_ms,
            payload: message.payload(),
        };
        if let Some(id) = state.schema_to_learn(record.payload) {
            let registry = self.registry.as_mut().ok_or(EngineError::NoRegistry)?;
            state.learn_schema(id, registry.resolve(id)?.map_err(|why| why.to_owned()));
        }
        let mut closed = std::mem::take(&mut self.closed);
        let outcome = state.process(record, &mut closed);
        self.stats.records_in += 1;
        if outcome == Outcome::Filtered {
            self.stats.filtered += 1;
        }
        if let Outcome::Rejected(rejection) = &outcome {
            let headers = dead_letter_headers(
                rejection,
                message.topic(),
                message.partition(),
                message.offset(),
                now_ms(),
            );
            let payload = message.payload();
            let headers = match (&self.spec.input, payload) {
                (InputFormat::Registry(input), Some(p)) => {
                    match wire::parse(input.registry.wire(), p) {
                        Ok(framed) => headers.insert(Header {
                            key: records::SCHEMA_VERSION,
                            value: Some(framed.schema.to_string().as_str()),
                        }),
                        Err(_) => headers,
                    }
                }
                _ => headers,
            };
            let headers = match payload {
                Some(p) if p.len() > MAX_DEAD_LETTER_BYTES => headers.insert(Header {
                    key: records::TRUNCATED,
                    value: Some(p.len().to_string().as_str()),
                }),
                _ => headers,
            };
            let spec = Arc::clone(&self.spec);
            let mut out = BaseRecord::to(&spec.topics.dead_letter).headers(headers);
            if let Some(key) = message.key() {
                out = out.key(key);
            }
            if let Some(payload) = payload {
                out = out.payload(&payload[..payload.len().min(MAX_DEAD_LETTER_BYTES)]);
            }
            if timestamp_ms >= 0 {
                out = out.timestamp(timestamp_ms);
            }
            self.send(out)?;
            *self
                .stats
                .dead_letters
                .entry(rejection.reason.code())
                .or_default() += 1;
        }
        for aggregate in closed.drain(..) {
            self.send_aggregate(&aggregate)?;
        }
        self.closed = closed;
        Ok(())
    }

    fn send_aggregate(&mut self, aggregate: &Aggregate) -> Result<(), EngineError> {
        let json = aggregate.to_json(&self.spec);
        let spec = Arc::clone(&self.spec);
        let record = BaseRecord::to(&spec.topics.output)
            .key(aggregate.key.as_bytes())
            .payload(json.as_bytes())
            .timestamp(aggregate.window_end_ms);
        self.send(record)?;
        self.stats.aggregates_out += 1;
        Ok(())
    }

    /// Sends one record, waiting while the producer's queue is full (backpressure), at most
    /// until the batch's send deadline.
    fn send(&mut self, record: BaseRecord<'_, [u8], [u8]>) -> Result<(), EngineError> {
        send_waiting(&self.producer, record, self.send_deadline)
            .map_err(kafka("producing an output"))?;
        self.sent += 1;
        Ok(())
    }

    /// Runs `produce` and makes its outputs and the partitions' checkpoints durable together;
    /// on failure, aborts (exactly-once) and returns the error: the engine must be dropped.
    fn deliver(
        &mut self,
        produce: impl FnOnce(&mut Self) -> Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        let exactly_once = self.config.delivery == Delivery::ExactlyOnce;
        if exactly_once {
            self.producer
                .begin_transaction()
                .map_err(kafka("beginning a transaction"))?;
        }
        // A failure reported before this batch belongs to an earlier one, already handled.
        let _ = self.producer.context().take_delivery_error();
        self.send_deadline = Instant::now() + self.config.request_timeout;
        let mut committing = Instant::now();
        let result = produce(self).and_then(|()| {
            committing = Instant::now();
            self.await_deliveries()?;
            let offsets = self.offsets()?;
            if exactly_once {
                if offsets.count() > 0 {
                    let group = self.consumer.group_metadata().ok_or(EngineError::Kafka {
                        context: "reading the consumer group metadata",
                        source: KafkaError::Global(RDKafkaErrorCode::Fail),
                    })?;
                    self.producer
                        .send_offsets_to_transaction(&offsets, &group, self.config.request_timeout)
                        .map_err(kafka("sending offsets to the transaction"))?;
                }
                self.producer
                    .commit_transaction(self.config.request_timeout)
                    .map_err(kafka("committing the transaction"))?;
            } else {
                self.producer
                    .flush(self.config.request_timeout)
                    .map_err(kafka("flushing outputs"))?;
                if let Some(source) = self.producer.context().take_delivery_error() {
                    return Err(EngineError::Kafka {
                        context: "delivering outputs",
                        source,
                    });
                }
                if offsets.count() > 0 {
                    match self.consumer.commit(&offsets, CommitMode::Sync) {
                        Ok(()) => {}
                        // The outputs are durable and offsets are cumulative: the next commit
                        // covers this one. A partition that moves meanwhile is re-read by its
                        // new owner from the last commit (identical duplicates).
                        Err(e) if during_rebalance(&e) => {
                            tracing::warn!(error = %e, "offset commit deferred by a rebalance");
                            self.stats.commits_deferred += 1;
                        }
                        Err(e) => return Err(kafka("committing offsets")(e)),
                    }
                }
            }
            Ok(offsets)
        });
        match result {
            Ok(offsets) => {
                self.commit_latencies.push(committing.elapsed());
                self.stats.batches_committed += 1;
                for element in offsets.elements() {
                    if let Offset::Offset(offset) = element.offset() {
                        let metadata = element.metadata().to_owned();
                        self.handed
                            .insert(element.partition(), HandedOffset { offset, metadata });
                    }
                }
                Ok(())
            }
            Err(error) => {
                // Abort so that read_committed readers never see this batch's outputs; a fenced
                // producer cannot abort, and has nothing visible to undo.
                let error = match error {
                    EngineError::Kafka { context, source }
                        if exactly_once && unsupported(&source) =>
                    {
                        EngineError::NoTransactions { context, source }
                    }
                    other => other,
                };
                tracing::error!(%error, pipeline = %self.spec.name, "batch not delivered; stopping");
                if exactly_once && !is_fenced(&error) {
                    let _ = self.producer.abort_transaction(self.config.request_timeout);
                }
                Err(error)
            }
        }
    }

    /// Waits until every output sent so far has its delivery report (acknowledged or failed),
    /// serving reports as they come. It counts the reports, not librdkafka's in-flight count,
    /// which also counts requests that are not records (transaction and metadata requests) and
    /// can stay above zero after every record has been reported. rdkafka's `flush` sleeps in
    /// steps of up to 100 ms between checks, which made every batch wait most of that.
    fn await_deliveries(&self) -> Result<(), EngineError> {
        let deadline = Instant::now() + self.config.request_timeout;
        while self.producer.context().reports() < self.sent {
            if Instant::now() >= deadline {
                return Err(EngineError::Kafka {
                    context: "waiting for outputs to be acknowledged",
                    source: KafkaError::Flush(RDKafkaErrorCode::MessageTimedOut),
                });
            }
            self.producer.poll(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Each assigned partition's checkpoint, with its metadata, for the input topic.
    fn offsets(&self) -> Result<TopicPartitionList, EngineError> {
        let mut list = TopicPartitionList::new();
        for (partition, state) in &self.partitions {
            if let Some(cp) = state.checkpoint() {
                let topic = &self.spec.topics.input;
                list.add_partition_offset(topic, *partition, Offset::Offset(cp.offset))
                    .map_err(kafka("building the offsets to commit"))?;
                if let Some(mut element) = list.find_partition(topic, *partition) {
                    element.set_metadata(cp.metadata());
                }
            }
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_default_timeouts_outlast_the_longest_batch() {
        let config = EngineConfig::new("g", Delivery::ExactlyOnce);
        config.check().unwrap();
        // A crashed instance's open transaction holds read_committed readers back at most this
        // long; kept to a minute (docs/processor.md).
        assert_eq!(config.transaction_timeout, Duration::from_secs(60));
        assert!(config.longest_batch() < config.transaction_timeout);
        assert!(config.longest_batch() < config.max_poll_interval);
    }

    #[test]
    fn a_transaction_or_poll_interval_shorter_than_a_batch_is_refused() {
        let mut config = EngineConfig::new("g", Delivery::ExactlyOnce);
        config.transaction_timeout = config.longest_batch();
        let error = config.check().unwrap_err().to_string();
        assert!(error.contains("transaction timeout"), "{error}");
        let mut config = EngineConfig::new("g", Delivery::AtLeastOnce);
        config.request_timeout = Duration::from_secs(40);
        let error = config.check().unwrap_err().to_string();
        assert!(error.contains("longest batch cycle"), "{error}");
    }

    #[test]
    fn the_poll_interval_is_not_an_override() {
        assert!(is_protected("max.poll.interval.ms"));
        assert!(is_protected(" isolation.level"));
        assert!(!is_protected("session.timeout.ms"));
    }
}
