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

/// The broker's initial rebalance delay (3 s, as on a real broker) holds a new group's first
/// assignment back; with it set to zero, a lone consumer gets its partitions at its first join.
#[test]
fn a_zero_initial_rebalance_delay_assigns_a_new_group_at_once() {
    let kafka = EmbeddedKafka::start(1).unwrap();
    kafka.create_topic("ticks", 3).unwrap();
    kafka.set_initial_rebalance_delay(Duration::ZERO).unwrap();
    let settings = KafkaSettings::local(kafka.bootstrap_servers());
    let consumer: BaseConsumer = settings
        .client_config()
        .unwrap()
        .set("group.id", "no-delay")
        .create()
        .unwrap();
    let started = Instant::now();
    consumer.subscribe(&["ticks"]).unwrap();
    while consumer.assignment().unwrap().count() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never assigned"
        );
        consumer.poll(Duration::from_millis(10));
    }
    // Well under the default delay of 3 s, which a join without the setting always waits out.
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "assigned after {:?}",
        started.elapsed()
    );
}

/// The retention the local run's producer paces itself against: a partition keeps what fits in
/// `PARTITION_RETENTION_BYTES`, and past it drops its oldest records, read or not.
#[test]
fn a_partition_keeps_its_retention_and_drops_the_oldest_past_it() {
    let kafka = EmbeddedKafka::start(1).unwrap();
    kafka.create_topic("kept", 1).unwrap();
    let settings = KafkaSettings::local(kafka.bootstrap_servers());
    let producer: ThreadedProducer<DefaultProducerContext> = settings
        .producer_config()
        .unwrap()
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let consumer: BaseConsumer = settings.client_config().unwrap().create().unwrap();
    let payload = vec![b'x'; 1_000];
    let low = || {
        consumer
            .fetch_watermarks("kept", 0, Duration::from_secs(10))
            .unwrap()
    };
    let produce = |records: u64| {
        for _ in 0..records {
            producer
                .send(BaseRecord::to("kept").key("k").payload(&payload))
                .map_err(|(e, _)| e)
                .unwrap();
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    };
    // Half the retention, as the local run allows at most: all of it is kept.
    let half = EmbeddedKafka::PARTITION_RETENTION_BYTES / 2 / 1_000;
    produce(half);
    assert_eq!(low(), (0, half as i64));
    // Twice the retention: the oldest are gone.
    produce(3 * half);
    let (first, next) = low();
    assert_eq!(next, 4 * half as i64);
    assert!(
        first > 0,
        "nothing dropped: the retention is larger than stated"
    );
    assert!(
        ((next - first) as u64) * 1_000 <= EmbeddedKafka::PARTITION_RETENTION_BYTES,
        "kept {} records of 1,000 bytes",
        next - first
    );
}
