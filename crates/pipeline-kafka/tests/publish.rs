//! The publisher against the embedded broker: every record delivered and counted, and
//! failures counted with the broker's reason instead of being lost.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use pipeline_kafka::{EmbeddedKafka, KafkaSettings, Publisher};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{Message, Offset, TopicPartitionList};

fn read_all(
    settings: &KafkaSettings,
    topic: &str,
    partitions: i32,
    n: usize,
) -> Vec<(String, String)> {
    let consumer: BaseConsumer = settings
        .client_config()
        .unwrap()
        .set("group.id", "publish-test")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < n && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            let text = |b: Option<&[u8]>| String::from_utf8(b.unwrap().to_vec()).unwrap();
            seen.push((text(message.key()), text(message.payload())));
        }
    }
    seen
}

#[test]
fn every_record_is_delivered_and_counted() {
    let kafka = EmbeddedKafka::start(1).unwrap();
    kafka.create_topic("ticks", 3).unwrap();
    let settings = KafkaSettings::local(kafka.bootstrap_servers());
    let mut publisher = Publisher::new(&settings, None, Duration::from_secs(10)).unwrap();

    let records: Vec<(String, String)> = (0..2_000)
        .map(|i| (format!("K{}", i % 7), format!("value {i}")))
        .collect();
    let published = publisher.publish("ticks", records.iter().map(|(k, v)| (k, v)));
    assert_eq!(published.delivered, 2_000);
    assert_eq!(published.failed, 0);
    assert_eq!(published.first_error, None);

    // A second batch on the same publisher is counted on its own.
    let again = publisher.publish("ticks", [("K0", "one more")]);
    assert_eq!((again.delivered, again.failed), (1, 0));

    let mut seen = read_all(&settings, "ticks", 3, 2_001);
    seen.sort();
    let mut expected = records;
    expected.push(("K0".into(), "one more".into()));
    expected.sort();
    assert_eq!(seen, expected);
}

#[test]
fn refused_records_are_counted_with_the_brokers_reason() {
    let kafka = EmbeddedKafka::start(1).unwrap();
    kafka.create_topic("ticks", 1).unwrap();
    let settings = KafkaSettings::local(kafka.bootstrap_servers());
    let mut publisher = Publisher::new(&settings, None, Duration::from_secs(5)).unwrap();
    // Warm up the connection so that the injected errors meet the batch below.
    assert_eq!(publisher.publish("ticks", [("K", "warm")]).delivered, 1);
    kafka.mock().request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 50],
    );

    let published = publisher.publish("ticks", (0..20).map(|i| ("K", format!("v{i}"))));

    assert_eq!(published.delivered + published.failed, 20);
    assert!(published.failed > 0, "{published:?}");
    let reason = published.first_error.unwrap();
    assert!(reason.to_lowercase().contains("authoriz"), "{reason}");
}

#[test]
fn retriable_errors_are_retried_without_duplicates() {
    let kafka = EmbeddedKafka::start(1).unwrap();
    kafka.create_topic("ticks", 1).unwrap();
    let settings = KafkaSettings::local(kafka.bootstrap_servers());
    let mut publisher = Publisher::new(&settings, None, Duration::from_secs(20)).unwrap();
    assert_eq!(publisher.publish("ticks", [("K", "warm")]).delivered, 1);
    kafka.mock().request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; 3],
    );

    let published = publisher.publish("ticks", (0..100).map(|i| ("K", format!("v{i}"))));

    assert_eq!(
        (published.delivered, published.failed),
        (100, 0),
        "{published:?}"
    );
    let seen = read_all(&settings, "ticks", 1, 101);
    let values: Vec<&str> = seen.iter().map(|(_, v)| v.as_str()).collect();
    let expected: Vec<String> = std::iter::once("warm".to_owned())
        .chain((0..100).map(|i| format!("v{i}")))
        .collect();
    assert_eq!(values, expected, "each once, in order");
}
