//! `processor replay`: re-publishes chosen records after a fix. It reads the dead-letter topic
//! (or a time range of any topic, the input included), picks records by time and dead-letter
//! reason, checks each against the spec loaded now (the fixed one) and sends what it accepts to
//! a target topic in one transaction, keeping each record's key, bytes, timestamp and partition.
//! A dry run reads and checks the same way and sends nothing.
//!
//! Windows close `allowed_lateness` after their end, so events re-published to the live input
//! would come back `late`. The replay therefore goes to a backfill topic that a processor with
//! a fresh group reads; the plan also says, per source partition, where to reset the live group
//! to reprocess the whole range instead (which re-emits complete windows).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pipeline_core::{Decoder, Reason, Spec};
use pipeline_kafka::{AuthContext, IamContext, KafkaSettings};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, Timestamp, TopicPartitionList};
use serde_json::json;

use crate::context::{ProducerCtx, send_waiting};
use crate::records;

/// Header on every re-published record: `topic/partition/offset` of the record it copies.
pub const REPLAY_SOURCE: &str = "replay.source";

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The topic to read: the spec's dead-letter topic, or any other for a plain time range.
    pub source: String,
    /// Where to send the chosen records.
    pub target: String,
    /// Only records whose Kafka timestamp is at or after this (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Only records whose Kafka timestamp is before this.
    pub until_ms: Option<i64>,
    /// Only dead letters with one of these reasons (empty: every reason). Dead-letter source only.
    pub reasons: Vec<Reason>,
    /// Also send records the current spec still refuses (by default they are left out).
    pub include_refused: bool,
    /// Read and check, send nothing.
    pub dry_run: bool,
    /// Bound on each broker request, and on waiting for the next record while reading.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Options(String),
    #[error("{context}: {source}")]
    Kafka { context: String, source: KafkaError },
    #[error(transparent)]
    Settings(#[from] pipeline_kafka::SettingsError),
}

fn kafka(context: impl Into<String>) -> impl FnOnce(KafkaError) -> ReplayError {
    move |source| ReplayError::Kafka {
        context: context.into(),
        source,
    }
}

/// One record the replay would send (or, with its verdict, leaves out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    /// Why it was dead-lettered (`dlq.reason`, `dlq.detail`), for a dead-letter source.
    pub dead_letter: Option<(String, String)>,
    /// Where the record first came from: the dead letter's `dlq.source.*`, else itself.
    pub origin: (String, i32, i64),
    /// The current spec's verdict: `None` if it accepts the event, else the reason it refuses.
    pub refused: Option<(Reason, String)>,
    /// The accepted event's time, for the reprocessing plan.
    pub event_time_ms: Option<i64>,
}

impl Chosen {
    /// The record as one JSON line of the dry run's listing.
    pub fn to_json(&self) -> String {
        let text = |bytes: &Option<Vec<u8>>| {
            bytes
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        json!({
            "source": format!("{}/{}", self.partition, self.offset),
            "origin": format!("{}/{}/{}", self.origin.0, self.origin.1, self.origin.2),
            "timestamp": self.timestamp_ms.map(pipeline_core::time::format_rfc3339_millis),
            "key": text(&self.key),
            "dlq_reason": self.dead_letter.as_ref().map(|(r, _)| r),
            "dlq_detail": self.dead_letter.as_ref().map(|(_, d)| d),
            "now": match &self.refused {
                None => "accepted".to_owned(),
                Some((reason, detail)) => format!("refused: {reason}: {detail}"),
            },
            "payload": text(&self.payload),
        })
        .to_string()
    }
}

/// What a replay read, chose and (unless a dry run) sent.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// Records read in the time range.
    pub read: u64,
    /// Dead letters left out by the reason filter.
    pub other_reasons: u64,
    /// Records the current spec still refuses, by its reason now.
    pub still_refused: BTreeMap<&'static str, u64>,
    /// The records chosen (sent, unless a dry run), in source order per partition.
    pub chosen: Vec<Chosen>,
    /// Records sent (0 on a dry run).
    pub sent: u64,
    /// Per partition of the origin topic, where to reset the live group to reprocess the whole
    /// range instead of replaying: the start of the earliest window a chosen event falls in,
    /// less the allowed lateness (ms), and the first offset at or after that time where the
    /// broker can look it up.
    pub reprocess_from: BTreeMap<i32, (i64, Option<i64>)>,
}

impl ReplayReport {
    /// A human summary for stderr.
    pub fn summary(&self, options: &ReplayOptions) -> String {
        let mut out = format!("read {} record(s) from {}", self.read, options.source);
        if self.other_reasons > 0 {
            out.push_str(&format!(
                "; {} dead letter(s) with other reasons left out",
                self.other_reasons
            ));
        }
        for (reason, n) in &self.still_refused {
            out.push_str(&format!(
                "; {n} still refused by the current spec ({reason}){}",
                if options.include_refused {
                    ", sent anyway (--include-refused)"
                } else {
                    ", left out"
                }
            ));
        }
        out.push('\n');
        if options.dry_run {
            out.push_str(&format!(
                "dry run: would send {} record(s) to {}; nothing sent\n",
                self.chosen.len(),
                options.target
            ));
        } else {
            out.push_str(&format!(
                "sent {} record(s) to {} in one transaction\n",
                self.sent, options.target
            ));
        }
        // The origin topic of the chosen records (the spec's input, for dead letters).
        if let Some(topic) = self.chosen.first().map(|c| &c.origin.0)
            && !self.reprocess_from.is_empty()
        {
            out.push_str(
                "to reprocess the range in the live group instead, reset it, per partition:\n",
            );
            for (p, (time, offset)) in &self.reprocess_from {
                let time = pipeline_core::time::format_rfc3339_millis(*time);
                match offset {
                    Some(o) => out.push_str(&format!(
                        "  {topic}:{p} to offset {o} (the first record at or after {time})\n"
                    )),
                    None => out.push_str(&format!("  {topic}:{p} to {time} (--to-datetime)\n")),
                }
            }
        }
        out
    }
}

/// Reads, chooses and (unless `options.dry_run`) re-publishes. Errors leave nothing visible in
/// the target: the records go out in one transaction, aborted on failure.
pub fn replay(
    spec: &Spec,
    settings: &KafkaSettings,
    iam: Option<IamContext>,
    options: &ReplayOptions,
) -> Result<ReplayReport, ReplayError> {
    replay_with(spec, settings, iam, options, None)
}

/// [`replay`] for an Avro spec: each record's schema version is looked up in `registry`
/// (once each) before the current spec judges it. A version the registry cannot give is
/// judged `unknown_schema`, with the registry's answer as the detail.
pub fn replay_with(
    spec: &Spec,
    settings: &KafkaSettings,
    iam: Option<IamContext>,
    options: &ReplayOptions,
    mut registry: Option<&mut pipeline_registry::Resolver>,
) -> Result<ReplayReport, ReplayError> {
    check_options(spec, options)?;
    let dead_letters = options.source == spec.topics.dead_letter;
    let consumer: BaseConsumer<AuthContext> = settings
        .client_config()?
        .set("group.id", "processor-replay")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create_with_context(AuthContext { iam: iam.clone() })
        .map_err(kafka("creating the consumer"))?;
    let source_partitions = partitions(&consumer, &options.source, options.timeout)?;
    let target_partitions = partitions(&consumer, &options.target, options.timeout)?;

    let mut report = ReplayReport::default();
    let mut decoder = Decoder::new(spec);
    read_range(&consumer, options, source_partitions, |message| {
        report.read += 1;
        if let Some(id) = decoder.schema_to_learn(message.payload()) {
            let schema = match registry.as_deref_mut() {
                Some(registry) => match registry.resolve(id) {
                    Ok(found) => found.map(str::to_owned),
                    Err(e) => Err(format!("the registry did not answer: {e}")),
                },
                None => Err("no schema registry was given".to_owned()),
            };
            decoder.learn_schema(id, schema.as_deref().map_err(Clone::clone));
        }
        let chosen = choose(message, dead_letters, &mut decoder);
        if dead_letters && !options.reasons.is_empty() {
            let reason = chosen.dead_letter.as_ref().map(|(r, _)| r.as_str());
            if !options.reasons.iter().any(|r| Some(r.code()) == reason) {
                report.other_reasons += 1;
                return;
            }
        }
        if let Some((reason, _)) = &chosen.refused {
            *report.still_refused.entry(reason.code()).or_default() += 1;
            if !options.include_refused {
                return;
            }
        }
        report.chosen.push(chosen);
    })?;

    report.reprocess_from = reprocess_plan(spec, &consumer, &report.chosen, options.timeout)?;
    if !options.dry_run && !report.chosen.is_empty() {
        report.sent = publish(settings, iam, options, target_partitions, &report.chosen)?;
    }
    Ok(report)
}

fn check_options(spec: &Spec, options: &ReplayOptions) -> Result<(), ReplayError> {
    let refuse = |why: String| Err(ReplayError::Options(why));
    if options.target == options.source {
        return refuse(format!(
            "--to {0} is the topic being read: the replay would read its own output",
            options.target
        ));
    }
    if options.target == spec.topics.dead_letter {
        return refuse(format!(
            "--to {} is the dead-letter topic; replay into a topic a processor reads",
            options.target
        ));
    }
    if !options.reasons.is_empty() && options.source != spec.topics.dead_letter {
        return refuse(format!(
            "--reason picks dead letters, but --from-topic {} is not the dead-letter topic ({})",
            options.source, spec.topics.dead_letter
        ));
    }
    if let (Some(since), Some(until)) = (options.since_ms, options.until_ms)
        && since >= until
    {
        return refuse("--since must be before --until".to_owned());
    }
    Ok(())
}

fn partitions(
    consumer: &BaseConsumer<AuthContext>,
    topic: &str,
    timeout: Duration,
) -> Result<i32, ReplayError> {
    let count = pipeline_kafka::partition_count(consumer, topic, timeout)
        .map_err(kafka(format!("reading the metadata of {topic}")))?;
    if count == 0 {
        return Err(ReplayError::Options(format!(
            "topic {topic} does not exist (create it first, with as many partitions as the \
             input topic to keep each key's order)"
        )));
    }
    Ok(count)
}

/// Calls `each` for every committed record of `topic` with a timestamp in the range, reading
/// each partition up to its end as it was when the replay started.
fn read_range(
    consumer: &BaseConsumer<AuthContext>,
    options: &ReplayOptions,
    partitions: i32,
    mut each: impl FnMut(&BorrowedMessage<'_>),
) -> Result<(), ReplayError> {
    let topic = options.source.as_str();
    let mut ends = BTreeMap::new();
    for p in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, options.timeout)
            .map_err(kafka(format!("reading the end offsets of {topic}")))?;
        if high > low {
            ends.insert(p, high);
        }
    }
    let mut starts: BTreeMap<i32, Offset> = ends.keys().map(|p| (*p, Offset::Beginning)).collect();
    if let Some(since) = options.since_ms {
        let mut list = TopicPartitionList::new();
        for p in ends.keys() {
            list.add_partition_offset(topic, *p, Offset::Offset(since))
                .map_err(kafka("building the time query"))?;
        }
        let found = consumer
            .offsets_for_times(list, options.timeout)
            .map_err(kafka(format!("finding the offsets of --since in {topic}")))?;
        for element in found.elements() {
            match element.offset() {
                offset @ Offset::Offset(_) => {
                    starts.insert(element.partition(), offset);
                }
                // "No record at or after that time", or a broker that cannot look it up (the
                // embedded one): read the partition from its start, keeping the range by
                // timestamp, rather than trust an answer that could skip records.
                _ => tracing::warn!(
                    topic,
                    partition = element.partition(),
                    "the broker found no offset for --since; reading the partition from its start"
                ),
            }
        }
    }
    let mut assignment = TopicPartitionList::new();
    for (p, start) in &starts {
        assignment
            .add_partition_offset(topic, *p, *start)
            .map_err(kafka("building the assignment"))?;
    }
    if ends.is_empty() {
        return Ok(());
    }
    consumer
        .assign(&assignment)
        .map_err(kafka(format!("assigning {topic}")))?;
    let mut last_progress = Instant::now();
    while !ends.is_empty() {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                last_progress = Instant::now();
                let p = message.partition();
                let Some(end) = ends.get(&p).copied() else {
                    continue;
                };
                let time = timestamp(&message);
                let in_range = options
                    .since_ms
                    .is_none_or(|s| time.is_some_and(|t| t >= s))
                    && options.until_ms.is_none_or(|u| time.is_none_or(|t| t < u));
                if in_range {
                    each(&message);
                }
                if message.offset() + 1 >= end {
                    ends.remove(&p);
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                last_progress = Instant::now();
                ends.remove(&p);
            }
            Some(Err(e)) => return Err(kafka(format!("reading {topic}"))(e)),
            None if last_progress.elapsed() > options.timeout => {
                return Err(ReplayError::Options(format!(
                    "reading {topic}: nothing arrived for {:?} with partitions {:?} not read \
                     to their end",
                    options.timeout,
                    ends.keys().collect::<Vec<_>>()
                )));
            }
            None => {}
        }
    }
    Ok(())
}

fn timestamp(message: &BorrowedMessage<'_>) -> Option<i64> {
    match message.timestamp() {
        Timestamp::CreateTime(t) | Timestamp::LogAppendTime(t) if t >= 0 => Some(t),
        _ => None,
    }
}

fn choose(message: &BorrowedMessage<'_>, dead_letter: bool, decoder: &mut Decoder) -> Chosen {
    let header = |name: &str| {
        message.headers().and_then(|headers| {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        })
    };
    let mut origin = (
        message.topic().to_owned(),
        message.partition(),
        message.offset(),
    );
    let mut reason = None;
    if dead_letter {
        if let (Some(topic), Some(partition), Some(offset)) = (
            header(records::SOURCE_TOPIC),
            header(records::SOURCE_PARTITION).and_then(|p| p.parse().ok()),
            header(records::SOURCE_OFFSET).and_then(|o| o.parse().ok()),
        ) {
            origin = (topic, partition, offset);
        }
        reason = Some((
            header(records::REASON).unwrap_or_default(),
            header(records::DETAIL).unwrap_or_default(),
        ));
    }
    let time = timestamp(message);
    // The skew check compares with the record timestamp, which the replay keeps.
    let verdict = match header(records::TRUNCATED) {
        // Only the record's first bytes are here; the whole one is at its origin.
        Some(length) if dead_letter => Err(pipeline_core::Rejection::new(
            Reason::TooLarge,
            format!(
                "the dead letter holds a truncated copy of {length} bytes; replay the origin range"
            ),
        )),
        _ => decoder.decode(message.payload(), time.unwrap_or(i64::MIN)),
    };
    Chosen {
        partition: message.partition(),
        offset: message.offset(),
        timestamp_ms: time,
        key: message.key().map(<[u8]>::to_vec),
        payload: message.payload().map(<[u8]>::to_vec),
        dead_letter: reason,
        origin,
        event_time_ms: verdict.as_ref().ok().map(|t| t.event_time_ms),
        refused: verdict.err().map(|r| (r.reason, r.detail)),
    }
}

/// Per origin partition, the offset to reset the live group to: the first record at or after
/// the start of the earliest window holding a chosen event, less the allowed lateness.
fn reprocess_plan(
    spec: &Spec,
    consumer: &BaseConsumer<AuthContext>,
    chosen: &[Chosen],
    timeout: Duration,
) -> Result<BTreeMap<i32, (i64, Option<i64>)>, ReplayError> {
    let window = &spec.window;
    let Some(topic) = chosen.first().map(|c| c.origin.0.as_str()) else {
        return Ok(BTreeMap::new());
    };
    let mut earliest: BTreeMap<i32, i64> = BTreeMap::new();
    for c in chosen.iter().filter(|c| c.origin.0 == topic) {
        if let Some(t) = c.event_time_ms {
            // The earliest window holding t starts at the last slide boundary at or before
            // t - size + slide.
            let first_start = (t - window.size_ms + window.slide_ms).div_euclid(window.slide_ms)
                * window.slide_ms;
            let from = first_start - window.allowed_lateness_ms;
            let slot = earliest.entry(c.origin.1).or_insert(from);
            *slot = (*slot).min(from);
        }
    }
    if earliest.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut list = TopicPartitionList::new();
    for (p, from) in &earliest {
        list.add_partition_offset(topic, *p, Offset::Offset(*from))
            .map_err(kafka("building the time query"))?;
    }
    let found = consumer
        .offsets_for_times(list, timeout)
        .map_err(kafka("finding the offsets to reprocess from"))?;
    let offsets: BTreeMap<i32, i64> = found
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect();
    Ok(earliest
        .into_iter()
        .map(|(p, time)| (p, (time, offsets.get(&p).copied())))
        .collect())
}

/// Sends `chosen` to the target in one transaction; returns how many were sent.
fn publish(
    settings: &KafkaSettings,
    iam: Option<IamContext>,
    options: &ReplayOptions,
    target_partitions: i32,
    chosen: &[Chosen],
) -> Result<u64, ReplayError> {
    let producer: BaseProducer<ProducerCtx> = settings
        .producer_config()?
        .set(
            "transactional.id",
            format!("processor-replay-{}", options.target),
        )
        .set("transaction.timeout.ms", "60000")
        .create_with_context(ProducerCtx::new(iam))
        .map_err(kafka("creating the producer"))?;
    producer
        .init_transactions(options.timeout)
        .map_err(kafka("initialising transactions"))?;
    producer
        .begin_transaction()
        .map_err(kafka("beginning the transaction"))?;
    let sent = (|| {
        for c in chosen {
            let source = format!("{}/{}/{}", options.source, c.partition, c.offset);
            let headers = OwnedHeaders::new().insert(Header {
                key: REPLAY_SOURCE,
                value: Some(source.as_str()),
            });
            let mut record: BaseRecord<'_, [u8], [u8]> =
                BaseRecord::to(&options.target).headers(headers);
            if let Some(key) = &c.key {
                record = record.key(key.as_slice());
            }
            if let Some(payload) = &c.payload {
                record = record.payload(payload.as_slice());
            }
            if let Some(t) = c.timestamp_ms {
                record = record.timestamp(t);
            }
            // The origin partition keeps each key's order, where the target has it.
            if c.origin.1 < target_partitions {
                record = record.partition(c.origin.1);
            }
            // Each send may wait up to the timeout for room, not for ever.
            send_waiting(&producer, record, Instant::now() + options.timeout)
                .map_err(kafka("sending a record"))?;
        }
        producer
            .commit_transaction(options.timeout)
            .map_err(kafka("committing the transaction"))?;
        if let Some(e) = producer.context().take_delivery_error() {
            return Err(kafka("delivering a record")(e));
        }
        Ok(chosen.len() as u64)
    })();
    if sent.is_err() {
        let _ = producer.abort_transaction(options.timeout);
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ReplayOptions {
        ReplayOptions {
            source: "ticks.dlq".into(),
            target: "ticks.replay".into(),
            since_ms: None,
            until_ms: None,
            reasons: vec![],
            include_refused: false,
            dry_run: true,
            timeout: Duration::from_secs(1),
        }
    }

    fn spec() -> Spec {
        Spec::from_toml(
            pipeline_core::STOCK_TICKS_SPEC,
            "config/pipelines/stock-ticks.toml",
        )
        .unwrap()
    }

    #[test]
    fn refuses_loops_into_the_source_or_the_dead_letter_topic() {
        let spec = spec();
        let mut same = options();
        same.target = "ticks.dlq".into();
        let err = check_options(&spec, &same).unwrap_err().to_string();
        assert!(err.contains("the topic being read"), "{err}");

        let mut into_dlq = options();
        into_dlq.source = "ticks".into();
        into_dlq.target = "ticks.dlq".into();
        let err = check_options(&spec, &into_dlq).unwrap_err().to_string();
        assert!(err.contains("dead-letter topic"), "{err}");
    }

    #[test]
    fn a_reason_filter_needs_the_dead_letter_topic_and_a_range_must_be_ordered() {
        let spec = spec();
        let mut reasons = options();
        reasons.source = "ticks".into();
        reasons.reasons = vec![Reason::Late];
        let err = check_options(&spec, &reasons).unwrap_err().to_string();
        assert!(
            err.contains("not the dead-letter topic (ticks.dlq)"),
            "{err}"
        );

        let mut range = options();
        range.since_ms = Some(10);
        range.until_ms = Some(10);
        assert!(check_options(&spec, &range).is_err());
        range.until_ms = Some(11);
        assert!(check_options(&spec, &range).is_ok());
    }
}
