//! The embedded broker carries records end to end for clients configured through
//! `KafkaSettings`, the way `processor local` uses it.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pipeline_kafka::{EmbeddedKafka, KafkaSettings};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};

#[test]
fn records_round_trip_through_the_embedded_broker_with_keys_kept_together() {
    let kafka = EmbeddedKafka::start(1).unwrap();
    kafka.create_topic("ticks", 3).unwrap();
    let settings = KafkaSettings::local(kafka.bootstrap_servers());
    assert!(
        settings.brokers.starts_with("127.0.0.1:") || settings.brokers.starts_with("localhost:"),
        "{}",
        settings.brokers
    );

    let producer: ThreadedProducer<DefaultProducerContext> =
        settings.producer_config().unwrap().create().unwrap();
    let tickers = ["AMZN", "AAPL", "MSFT", "GOOGL"];
    for i in 0..40 {
        let payload = format!("tick {i}");
        producer
            .send(
                BaseRecord::to("ticks")
                    .key(tickers[i % 4])
                    .payload(&payload),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let consumer: BaseConsumer = settings
        .client_config()
        .unwrap()
        .set("group.id", "embedded-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..3 {
        assignment
            .add_partition_offset("ticks", partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();

    let mut partitions_of_key: BTreeMap<String, std::collections::BTreeSet<i32>> = BTreeMap::new();
    let mut received = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while received < 40 && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
            partitions_of_key
                .entry(key)
                .or_default()
                .insert(message.partition());
            received += 1;
        }
    }
    assert_eq!(received, 40, "every record produced is consumed");
    assert_eq!(partitions_of_key.len(), 4);
    assert!(
        partitions_of_key.values().all(|p| p.len() == 1),
        "each key stays on one partition: {partitions_of_key:?}"
    );
}
