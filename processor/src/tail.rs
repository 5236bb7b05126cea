//! `processor tail`: the debugging consumer. Follows one of the spec's topics (the aggregates,
//! the dead letters, the input, the replay topic, or any topic by name) from its end, a time or
//! an offset, and prints each committed record as a readable row or a JSON line. It joins no
//! group and commits nothing, so it never disturbs the processor or the lake.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pipeline_core::Spec;
use pipeline_kafka::{AuthContext, IamContext, KafkaSettings};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::records;

/// Where reading starts on each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// After the last record there when the tail starts: only what arrives from then on.
    End,
    Beginning,
    /// The first record with a Kafka timestamp at or after this time (epoch ms).
    Time(i64),
    /// This offset on each partition (from the beginning where it holds no such offset).
    Offset(i64),
}

impl Start {
    /// `end`, `beginning`, an RFC 3339 time, or an offset.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        match text {
            "end" => Ok(Self::End),
            "beginning" => Ok(Self::Beginning),
            _ if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text
                .parse()
                .map(Self::Offset)
                .map_err(|_| format!("offset {text} is too large")),
            _ => pipeline_core::time::parse_rfc3339_millis(text)
                .map(Self::Time)
                .map_err(|_| {
                    "expected end, beginning, an offset (a whole number) or an RFC 3339 time \
                     like 2026-12-01T09:00:00Z"
                        .to_owned()
                }),
        }
    }
}

/// How a topic's records are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The spec's aggregates (JSON objects).
    Aggregates,
    /// Dead letters: the original bytes with `dlq.*` headers.
    DeadLetters,
    /// Anything else (events): key and bytes.
    Records,
}

/// The topic `name` stands for: `aggregates`, `dead-letters`, `input` and `replay` name the
/// spec's topics; anything else is a topic's own name.
pub fn resolve_topic(spec: &Spec, name: &str) -> (String, Shape) {
    let topic = match name {
        "aggregates" => spec.topics.output.clone(),
        "dead-letters" => spec.topics.dead_letter.clone(),
        "input" => spec.topics.input.clone(),
        "replay" => spec.replay_topic(),
        other => other.to_owned(),
    };
    let shape = if topic == spec.topics.output {
        Shape::Aggregates
    } else if topic == spec.topics.dead_letter {
        Shape::DeadLetters
    } else {
        Shape::Records
    };
    (topic, shape)
}

#[derive(Debug, Clone)]
pub struct TailOptions {
    pub topic: String,
    pub shape: Shape,
    pub start: Start,
    /// Only this partition.
    pub partition: Option<i32>,
    /// Only records with this Kafka key (an aggregate's and a dead letter's key is the
    /// event's key: the key fields' values joined by `|`).
    pub key: Option<String>,
    /// JSON lines instead of readable rows.
    pub json: bool,
    /// Stop after this many records.
    pub count: Option<u64>,
    /// Keep waiting for new records; else stop once each partition is read to its end.
    pub follow: bool,
    /// Bound on each broker request.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error(transparent)]
    Settings(#[from] pipeline_kafka::SettingsError),
    #[error("Kafka: {context}: {source}")]
    Kafka { context: String, source: KafkaError },
    #[error("{0}")]
    Options(String),
    #[error("writing the output: {0}")]
    Output(#[from] std::io::Error),
}

fn kafka(context: impl Into<String>) -> impl FnOnce(KafkaError) -> TailError {
    move |source| TailError::Kafka {
        context: context.into(),
        source,
    }
}

/// Reads `options.topic` and writes a line per record to `out` until `stop` is set, `count`
/// records are written, or (without `follow`) every partition is read to its end. `ready` is called once reading is set up, with a sentence saying what is
/// read from where. Returns the records written.
pub fn tail(
    spec: &Spec,
    settings: &KafkaSettings,
    iam: Option<IamContext>,
    options: &TailOptions,
    out: &mut impl Write,
    stop: &AtomicBool,
    ready: impl FnOnce(&str),
) -> Result<u64, TailError> {
    let topic = options.topic.as_str();
    let consumer: BaseConsumer<AuthContext> = settings
        .client_config()?
        // Needed to create a consumer; nothing is committed and no group is joined.
        .set("group.id", "processor-tail")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .create_with_context(AuthContext { iam })
        .map_err(kafka("creating the consumer"))?;
    let partitions = chosen_partitions(&consumer, topic, options)?;
    let mut assignment = TopicPartitionList::new();
    for p in &partitions {
        let start = match options.start {
            // The end as the broker states it now, so that every record after this call is
            // shown (an unresolved `Offset::End` would be looked up only at the first fetch).
            Start::End => Offset::Offset(
                consumer
                    .fetch_watermarks(topic, *p, options.timeout)
                    .map_err(kafka(format!("reading the offsets of {topic}")))?
                    .1,
            ),
            Start::Beginning | Start::Time(_) => Offset::Beginning,
            // Past either end, librdkafka starts at the beginning (auto.offset.reset).
            Start::Offset(n) => Offset::Offset(n),
        };
        assignment
            .add_partition_offset(topic, *p, start)
            .map_err(kafka("building the assignment"))?;
    }
    if let Start::Time(since) = options.start {
        seek_to_time(&consumer, topic, since, &mut assignment, options.timeout)?;
    }
    consumer
        .assign(&assignment)
        .map_err(kafka(format!("assigning {topic}")))?;
    ready(&describe(options, &partitions));

    // Without `follow`, a partition is done once the reader has caught up with it (librdkafka's
    // end-of-partition event; for `read_committed`, up to the first open transaction).
    let mut reading: std::collections::BTreeSet<i32> = partitions.iter().copied().collect();
    let mut written = 0u64;
    let mut last_record = Instant::now();
    while !stop.load(Ordering::Acquire)
        && (options.follow || !reading.is_empty())
        && options.count.is_none_or(|c| written < c)
    {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                last_record = Instant::now();
                if !wanted(&message, options) {
                    continue;
                }
                let line = if options.json {
                    json_line(&message, options.shape)
                } else {
                    readable_line(spec, &message, options.shape)
                };
                writeln!(out, "{line}")?;
                written += 1;
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                reading.remove(&p);
                out.flush()?;
            }
            Some(Err(e)) => return Err(kafka(format!("reading {topic}"))(e)),
            None => {
                out.flush()?;
                if !options.follow && last_record.elapsed() > options.timeout {
                    return Err(TailError::Options(format!(
                        "reading {topic}: nothing arrived for {:?} with partitions {:?} not read \
                         to their end",
                        options.timeout, reading
                    )));
                }
            }
        }
    }
    out.flush()?;
    Ok(written)
}

/// The topic's partitions, or the one asked for (checked to exist).
fn chosen_partitions(
    consumer: &BaseConsumer<AuthContext>,
    topic: &str,
    options: &TailOptions,
) -> Result<Vec<i32>, TailError> {
    let count = pipeline_kafka::partition_count(consumer, topic, options.timeout)
        .map_err(kafka(format!("reading the metadata of {topic}")))?;
    if count == 0 {
        return Err(TailError::Options(format!(
            "topic {topic} does not exist (aggregates, dead-letters, input and replay name the \
             spec's topics)"
        )));
    }
    match options.partition {
        Some(p) if !(0..count).contains(&p) => Err(TailError::Options(format!(
            "--partition {p}: {topic} has partitions 0 to {}",
            count - 1
        ))),
        Some(p) => Ok(vec![p]),
        None => Ok((0..count).collect()),
    }
}

/// Moves each partition's start to its first record at or after `since`, where the broker
/// can say; elsewhere reading starts at the beginning and [`wanted`] keeps the time range.
fn seek_to_time(
    consumer: &BaseConsumer<AuthContext>,
    topic: &str,
    since: i64,
    assignment: &mut TopicPartitionList,
    timeout: Duration,
) -> Result<(), TailError> {
    let mut query = TopicPartitionList::new();
    for element in assignment.elements() {
        query
            .add_partition_offset(topic, element.partition(), Offset::Offset(since))
            .map_err(kafka("building the time query"))?;
    }
    // A broker that cannot look times up (the embedded one) answers with an error: read from
    // the beginning then, rather than risk skipping records.
    let Ok(found) = consumer.offsets_for_times(query, timeout) else {
        return Ok(());
    };
    for element in found.elements() {
        // "No record at or after that time" is also how the embedded broker answers every
        // query: keep reading from the beginning there, filtered by time, rather than skip.
        if let offset @ Offset::Offset(_) = element.offset() {
            assignment
                .set_partition_offset(topic, element.partition(), offset)
                .map_err(kafka("building the assignment"))?;
        }
    }
    Ok(())
}

fn describe(options: &TailOptions, partitions: &[i32]) -> String {
    let from = match options.start {
        Start::End => "from the end".to_owned(),
        Start::Beginning => "from the beginning".to_owned(),
        Start::Time(ms) => format!("from {}", pipeline_core::time::format_rfc3339_millis(ms)),
        Start::Offset(n) => format!("from offset {n}"),
    };
    let partitions = match partitions {
        [one] => format!("partition {one}"),
        [first, .., last] => format!("partitions {first}–{last}"),
        [] => "no partitions".to_owned(),
    };
    let key = options
        .key
        .as_ref()
        .map_or(String::new(), |k| format!(", key {k}"));
    let until = if options.follow {
        "following"
    } else {
        "up to the end"
    };
    format!("{} ({partitions}{key}) {from}, {until}", options.topic)
}

fn timestamp(message: &BorrowedMessage<'_>) -> Option<i64> {
    message.timestamp().to_millis()
}

/// The record passes the key filter and, from a time, the time range.
fn wanted(message: &BorrowedMessage<'_>, options: &TailOptions) -> bool {
    let key_ok = options
        .key
        .as_ref()
        .is_none_or(|k| message.key() == Some(k.as_bytes()));
    let time_ok = match options.start {
        Start::Time(since) => timestamp(message).is_some_and(|t| t >= since),
        _ => true,
    };
    key_ok && time_ok
}

fn header<'a>(message: &'a BorrowedMessage<'_>, name: &str) -> Option<&'a str> {
    message
        .headers()?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| std::str::from_utf8(h.value?).ok())
}

/// At most `limit` characters of `bytes`, as text with control characters escaped.
fn preview(bytes: &[u8], limit: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut shown = String::new();
    for c in text.chars().take(limit) {
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    if text.chars().count() > limit {
        shown.push('…');
    }
    shown
}

fn readable_line(spec: &Spec, message: &BorrowedMessage<'_>, shape: Shape) -> String {
    let key = message
        .key()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let payload = message.payload().unwrap_or_default();
    match shape {
        Shape::Aggregates => match serde_json::from_slice::<serde_json::Value>(payload) {
            Ok(serde_json::Value::Object(object)) => {
                let get = |name: &str| object.get(name).map_or("-".into(), show);
                let mut line = format!("{} → {}  {key}", get("window_start"), get("window_end"));
                let names = spec
                    .window_columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .chain(spec.aggregates.iter().map(|a| a.name.as_str()));
                for name in names {
                    line.push_str(&format!("  {name}={}", get(name)));
                }
                line
            }
            _ => format!(
                "{}@{}  {key}  (not an aggregate) {}",
                message.partition(),
                message.offset(),
                preview(payload, 200)
            ),
        },
        Shape::DeadLetters => format!(
            "{}  {:<14} {}/{}@{}  {}  key={key}  {}",
            header(message, records::TIME).unwrap_or("-"),
            header(message, records::REASON).unwrap_or("-"),
            header(message, records::SOURCE_TOPIC).unwrap_or("-"),
            header(message, records::SOURCE_PARTITION).unwrap_or("-"),
            header(message, records::SOURCE_OFFSET).unwrap_or("-"),
            header(message, records::DETAIL).unwrap_or("-"),
            preview(payload, 120)
        ),
        Shape::Records => format!(
            "{}  {}@{}  {key}  {}",
            timestamp(message).map_or("-".into(), pipeline_core::time::format_rfc3339_millis),
            message.partition(),
            message.offset(),
            preview(payload, 200)
        ),
    }
}

/// A JSON value as a row shows it: strings without quotes.
fn show(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn json_line(message: &BorrowedMessage<'_>, shape: Shape) -> String {
    let payload = message.payload().unwrap_or_default();
    match shape {
        // An aggregate is a JSON object already: as it is, for jq.
        Shape::Aggregates if serde_json::from_slice::<serde_json::Value>(payload).is_ok() => {
            String::from_utf8_lossy(payload).into_owned()
        }
        Shape::DeadLetters => records::dead_letter_json(message),
        _ => {
            let mut object = serde_json::Map::new();
            object.insert("partition".into(), message.partition().into());
            object.insert("offset".into(), message.offset().into());
            object.insert("timestamp".into(), timestamp(message).into());
            object.insert(
                "key".into(),
                message
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .into(),
            );
            records::insert_payload(&mut object, payload);
            serde_json::Value::Object(object).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_is_an_end_a_beginning_an_offset_or_a_time() {
        assert_eq!(Start::parse("end"), Ok(Start::End));
        assert_eq!(Start::parse("beginning"), Ok(Start::Beginning));
        assert_eq!(Start::parse("42"), Ok(Start::Offset(42)));
        assert_eq!(
            Start::parse("2026-12-01T09:00:00Z"),
            Ok(Start::Time(1_796_115_600_000))
        );
        for bad in ["", "-3", "yesterday", "99999999999999999999"] {
            assert!(Start::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn topic_names_stand_for_the_spec_s_topics() {
        let spec = Spec::from_toml(pipeline_core::STOCK_TICKS_SPEC, "stock-ticks").unwrap();
        assert_eq!(
            resolve_topic(&spec, "aggregates"),
            ("aggregates".into(), Shape::Aggregates)
        );
        assert_eq!(
            resolve_topic(&spec, "dead-letters"),
            ("ticks.dlq".into(), Shape::DeadLetters)
        );
        assert_eq!(
            resolve_topic(&spec, "ticks.dlq"),
            ("ticks.dlq".into(), Shape::DeadLetters)
        );
        assert_eq!(
            resolve_topic(&spec, "input"),
            ("ticks".into(), Shape::Records)
        );
        assert_eq!(
            resolve_topic(&spec, "replay"),
            ("ticks.replay".into(), Shape::Records)
        );
        assert_eq!(
            resolve_topic(&spec, "elsewhere"),
            ("elsewhere".into(), Shape::Records)
        );
    }

    #[test]
    fn a_preview_is_cut_and_escaped() {
        assert_eq!(preview(b"{\"a\":1}\n", 10), "{\"a\":1}\\n");
        assert_eq!(preview(b"abcdef", 3), "abc…");
    }
}
