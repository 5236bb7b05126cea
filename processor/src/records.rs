//! What the processor writes: aggregates keyed by their key, and dead letters that carry the
//! original bytes untouched with headers saying why and where they came from.

use base64::Engine as _;
use pipeline_core::Rejection;
use rdkafka::Message;
use rdkafka::message::{Header, Headers, OwnedHeaders};

/// Dead-letter header names.
pub const REASON: &str = "dlq.reason";
pub const DETAIL: &str = "dlq.detail";
pub const SOURCE_TOPIC: &str = "dlq.source.topic";
pub const SOURCE_PARTITION: &str = "dlq.source.partition";
pub const SOURCE_OFFSET: &str = "dlq.source.offset";
/// When the processor refused the record (RFC 3339, UTC).
pub const TIME: &str = "dlq.time";
/// On a dead letter of Avro input whose header could be read: the schema version it names
/// (a Glue version id, or a Confluent schema id).
pub const SCHEMA_VERSION: &str = "dlq.schema_version";
/// On a dead letter that carries only the first [`MAX_DEAD_LETTER_BYTES`] of its record: the
/// record's full length. The whole record stays in the source topic at the source offset.
pub const TRUNCATED: &str = "dlq.truncated";

/// The most of a refused record's value a dead letter carries: under Kafka's default 1 MB
/// `max.message.bytes` of the dead-letter topic with room for the headers. A larger record
/// would fail to produce and stop the processor on every restart.
pub const MAX_DEAD_LETTER_BYTES: usize = 900 * 1024;

/// The headers of a dead letter for the record at `topic`/`partition`/`offset`.
pub fn dead_letter_headers(
    rejection: &Rejection,
    topic: &str,
    partition: i32,
    offset: i64,
    now_ms: i64,
) -> OwnedHeaders {
    let partition = partition.to_string();
    let offset = offset.to_string();
    let time = pipeline_core::time::format_rfc3339_millis(now_ms);
    [
        (REASON, rejection.reason.code()),
        (DETAIL, rejection.detail.as_str()),
        (SOURCE_TOPIC, topic),
        (SOURCE_PARTITION, partition.as_str()),
        (SOURCE_OFFSET, offset.as_str()),
        (TIME, time.as_str()),
    ]
    .into_iter()
    .fold(
        OwnedHeaders::new_with_capacity(6),
        |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value),
            })
        },
    )
}

/// A dead letter as one JSON object: its headers without the `dlq.` prefix (`reason`,
/// `detail`, `source_topic`, `source_partition` and `source_offset` as numbers, `time`) and
/// the original bytes.
pub fn dead_letter_json(message: &impl Message) -> String {
    let mut object = serde_json::Map::new();
    if let Some(headers) = message.headers() {
        for header in headers.iter() {
            let name = header.key.trim_start_matches("dlq.").replace('.', "_");
            let value = String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned();
            // The source's partition and offset are numbers (headers carry them as text).
            let number = matches!(header.key, SOURCE_PARTITION | SOURCE_OFFSET)
                .then(|| value.parse::<i64>().ok())
                .flatten();
            object.insert(name, number.map_or_else(|| value.into(), Into::into));
        }
    }
    insert_payload(&mut object, message.payload().unwrap_or_default());
    serde_json::Value::Object(object).to_string()
}

/// Puts a record's bytes into `object`: as text (`payload`) when they are UTF-8, else as
/// base64 (`payload_base64`).
pub fn insert_payload(object: &mut serde_json::Map<String, serde_json::Value>, payload: &[u8]) {
    match std::str::from_utf8(payload) {
        Ok(text) => object.insert("payload".into(), text.into()),
        Err(_) => object.insert(
            "payload_base64".into(),
            base64::engine::general_purpose::STANDARD
                .encode(payload)
                .into(),
        ),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_core::Reason;
    use rdkafka::message::Headers;

    #[test]
    fn dead_letter_headers_name_reason_detail_and_source() {
        let rejection = Rejection::new(Reason::OutOfRange, "price: -1 is outside the range");
        let headers = dead_letter_headers(&rejection, "ticks", 2, 41, 1_795_271_400_000);
        let pairs: Vec<(String, String)> = headers
            .iter()
            .map(|h| {
                (
                    h.key.to_owned(),
                    String::from_utf8(h.value.unwrap().to_vec()).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            [
                ("dlq.reason", "out_of_range"),
                ("dlq.detail", "price: -1 is outside the range"),
                ("dlq.source.topic", "ticks"),
                ("dlq.source.partition", "2"),
                ("dlq.source.offset", "41"),
                ("dlq.time", "2026-11-21T14:30:00.000Z"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }
}
