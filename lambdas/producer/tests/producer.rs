//! The producer's handler with the real publisher against the embedded broker, for each shipped
//! spec: every event lands keyed by its key fields, with event times across the invocation's
//! minute, and the events broken on purpose are exactly those the core rejects. Failures fail
//! the invocation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use pipeline_aws::{BrokerSource, KafkaEndpoint};
use pipeline_core::{Decoder, SHIPPED_SPECS, Spec};
use pipeline_kafka::{EmbeddedKafka, KafkaSettings, Published, Publisher};
use producer::{Config, EventSink, handle, minute_end};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{Message, Offset, TopicPartitionList};

fn scheduled() -> DateTime<Utc> {
    let event: EventBridgeEvent =
        serde_json::from_str(include_str!("fixtures/eventbridge-schedule.json")).unwrap();
    event.time.unwrap()
}

fn spec(name: &str) -> Arc<Spec> {
    let text = pipeline_core::shipped_spec(name).unwrap();
    Arc::new(Spec::from_toml(text, name).unwrap())
}

fn config(brokers: &str, count: u32, malformed_share: f64) -> Config {
    Config {
        spec: spec("stock-ticks"),
        kafka: KafkaEndpoint {
            brokers: BrokerSource::Given(brokers.into()),
            msk_iam: false,
            region: String::new(),
        },
        topic: "ticks".into(),
        keys: Some(4),
        events_per_invocation: count,
        malformed_share,
        delivery_timeout_secs: 10,
        seed: Some(11),
        registry_url: None,
        glue_zlib: false,
        glue_registry: None,
    }
}

/// Every record of `topic`: key, value, record timestamp.
fn read_all(
    settings: &KafkaSettings,
    topic: &str,
    partitions: i32,
    n: usize,
) -> Vec<(String, Vec<u8>, i64)> {
    let consumer: BaseConsumer = settings
        .client_config()
        .unwrap()
        .set("group.id", format!("producer-test-{topic}"))
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
            seen.push((
                String::from_utf8(message.key().unwrap().to_vec()).unwrap(),
                message.payload().unwrap().to_vec(),
                message.timestamp().to_millis().unwrap(),
            ));
        }
    }
    seen
}

#[test]
fn a_minute_of_events_lands_keyed_by_the_key_fields_for_every_spec() {
    let kafka = EmbeddedKafka::start(1).unwrap();
    for (name, _) in SHIPPED_SPECS {
        let spec = spec(name);
        kafka.create_topic(&spec.topics.input, 3).unwrap();
        let settings = KafkaSettings::local(kafka.bootstrap_servers());
        let config = Config {
            topic: spec.topics.input.clone(),
            spec,
            ..config(&settings.brokers, 600, 0.05)
        };
        a_minute_lands(&settings, &config);
    }
}

fn a_minute_lands(settings: &KafkaSettings, config: &Config) {
    let spec = &config.spec;
    let mut generator = config.generator(Utc::now());
    let mut publisher = Publisher::new(settings, None, Duration::from_secs(10)).unwrap();

    let summary = handle(config, &mut generator, &mut publisher, scheduled()).unwrap();

    assert_eq!((summary.sent, summary.failed), (600, 0));
    assert_eq!(summary.topic, spec.topics.input);
    assert_eq!(summary.first_event_time, "2026-11-21T14:30:00.000Z");
    assert_eq!(summary.last_event_time, "2026-11-21T14:30:59.900Z");
    assert!(summary.malformed > 0, "5 % of 600 broken on purpose");

    let records = read_all(settings, &spec.topics.input, 3, 600);
    assert_eq!(records.len(), 600);
    let mut decoder = Decoder::new(spec);
    let (start, end) = (1_795_271_400_000, 1_795_271_460_000);
    let mut rejected = 0;
    let mut per_key: HashMap<String, usize> = HashMap::new();
    // The records' timestamps are today; judge the events' skew from the schedule's time.
    for (key, value, _timestamp) in &records {
        match decoder.decode(Some(value), end) {
            Ok(event) => {
                assert_eq!(
                    event.key.as_str(),
                    key,
                    "{}: keyed by the key fields",
                    spec.name
                );
                assert!(
                    (start..end).contains(&event.event_time_ms),
                    "event time {} outside the minute",
                    event.event_time_ms
                );
                *per_key.entry(key.clone()).or_default() += 1;
            }
            Err(_) => rejected += 1,
        }
    }
    assert_eq!(
        rejected, summary.malformed,
        "{}: the broken events are the rejected ones",
        spec.name
    );
    assert_eq!(per_key.len(), 4, "{}: {per_key:?}", spec.name);
}

/// Records what it is given; delivers all.
#[derive(Default)]
struct Recording(Vec<Vec<(String, Vec<u8>)>>);

impl EventSink for Recording {
    fn send(&mut self, _topic: &str, records: &[(String, Vec<u8>)]) -> Published {
        self.0.push(records.to_vec());
        Published {
            delivered: records.len() as u64,
            ..Published::default()
        }
    }
}

#[test]
fn the_walk_continues_across_invocations_of_one_environment() {
    let config = config("127.0.0.1:1", 40, 0.0);
    let mut warm = config.generator(Utc::now());
    let mut sink = Recording::default();
    handle(&config, &mut warm, &mut sink, scheduled()).unwrap();
    let next = scheduled() + chrono::Duration::minutes(1);
    handle(&config, &mut warm, &mut sink, next).unwrap();

    // A cold generator with the same seed would send the first minute's walk again.
    let mut cold = Recording::default();
    handle(&config, &mut config.generator(Utc::now()), &mut cold, next).unwrap();
    assert_eq!(
        cold.0[0].iter().map(|(k, _)| k).collect::<Vec<_>>(),
        sink.0[0].iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    assert_ne!(
        sink.0[1], cold.0[0],
        "the second minute continues the first"
    );
}

#[test]
fn the_minute_is_the_one_before_the_schedule() {
    let at = |t: &str| minute_end(t.parse().unwrap()).to_rfc3339();
    assert_eq!(at("2026-11-21T14:31:00Z"), "2026-11-21T14:31:00+00:00");
    // A retry some seconds late fills the same minute.
    assert_eq!(at("2026-11-21T14:31:07.250Z"), "2026-11-21T14:31:00+00:00");
}

#[test]
fn undelivered_events_fail_the_invocation_with_the_brokers_reason() {
    let kafka = EmbeddedKafka::start(1).unwrap();
    kafka.create_topic("ticks", 1).unwrap();
    let settings = KafkaSettings::local(kafka.bootstrap_servers());
    let config = config(&settings.brokers, 50, 0.0);
    let mut publisher = Publisher::new(&settings, None, Duration::from_secs(5)).unwrap();
    assert_eq!(publisher.publish("ticks", [("K", "warm")]).delivered, 1);
    kafka.mock().request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 100],
    );

    let error = handle(
        &config,
        &mut config.generator(Utc::now()),
        &mut publisher,
        scheduled(),
    )
    .unwrap_err();

    assert_eq!(error.total, 50);
    assert!(error.failed > 0);
    assert_eq!(error.sent + error.failed, 50);
    let text = error.to_string();
    assert!(text.contains("were not delivered to `ticks`"), "{text}");
    assert!(text.to_lowercase().contains("authoriz"), "{text}");
}

#[test]
fn configuration_names_every_bad_variable_and_defaults_the_rest() {
    let bad: HashMap<&str, &str> = [
        ("KAFKA_AUTH", "kerberos"),
        ("EVENTS_PER_INVOCATION", "0"),
        ("PIPELINE", "payments"),
        ("KEYS", "0"),
        ("MALFORMED_SHARE", "1.5"),
        ("SEED", "x"),
    ]
    .into();
    let text = Config::from_lookup(|n| bad.get(n).map(|v| v.to_string()))
        .unwrap_err()
        .to_string();
    for expected in [
        "CLUSTER_ARN: not set; expected the MSK cluster's ARN (or BOOTSTRAP_BROKERS",
        "KAFKA_AUTH: expected msk-iam or plaintext, found `kerberos`",
        "EVENTS_PER_INVOCATION: expected a whole number from 1 to 100000, found `0`",
        "PIPELINE: expected the name of a spec in config/pipelines/ built into this function",
        "KEYS: expected a whole number from 1 to 100000, found `0`",
        "MALFORMED_SHARE: expected a share from 0 to 1, found `1.5`",
        "SEED: expected a whole number, found `x`",
        "AWS_REGION: not set",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }

    let good: HashMap<&str, &str> = [
        ("CLUSTER_ARN", "arn:aws:kafka:eu-west-1:1:cluster/c/x"),
        ("AWS_REGION", "eu-west-1"),
        ("PIPELINE", "orders"),
    ]
    .into();
    let config = Config::from_lookup(|n| good.get(n).map(|v| v.to_string())).unwrap();
    assert_eq!(config.spec.name, "orders");
    assert_eq!(config.keys, None);
    assert_eq!(
        config.kafka.brokers,
        BrokerSource::Cluster("arn:aws:kafka:eu-west-1:1:cluster/c/x".into())
    );
    assert!(config.kafka.msk_iam);
    assert_eq!(config.topic, "orders", "the spec's input topic");
    assert_eq!(config.events_per_invocation, 600);
    assert_eq!(config.malformed_share, 0.0);
}

/// An Avro or Protobuf spec: at cold start the producer registers the spec's schema, of its
/// type, in the Confluent registry (the double; the Glue path is the same `register` call,
/// tested against moto_server in pipeline-registry), then every event goes framed with that
/// schema's id, and the core reads back what it sent, broken events included.
#[test]
fn a_registry_spec_registers_its_schema_and_sends_framed_events() {
    use pipeline_core::framer::SchemaEncoder;
    use pipeline_core::spec::{InputFormat, Registry, RegistrySpec, SchemaType, SchemaVersion};
    use pipeline_core::wire::{self, SchemaId};
    use pipeline_core::{Outcome, Partition, Record};
    for schema_type in [SchemaType::Avro, SchemaType::Protobuf] {
        let double = pipeline_testkit::confluent::ConfluentDouble::start();
        let mut config = config("127.0.0.1:1", 400, 0.05);
        let mut spec = (*config.spec).clone();
        let registry = Registry::Confluent {
            url: "http://127.0.0.1:9".into(),
            subject: "ticks-value".into(),
        };
        spec.input = InputFormat::Registry(RegistrySpec {
            schema_type,
            message: None,
            registry: registry.clone(),
            version: SchemaVersion::Latest,
        });
        config.spec = Arc::new(spec);
        config.registry_url = Some(double.url().to_owned());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let framer = rt.block_on(producer::framer(&config)).unwrap().unwrap();
        assert_eq!(framer.id(), SchemaId::Confluent(1));
        // A second cold start finds the schema registered.
        let again = rt.block_on(producer::framer(&config)).unwrap().unwrap();
        assert_eq!(again.id(), framer.id());
        assert_eq!(
            double.requests(),
            [
                "POST /subjects/ticks-value/versions",
                "POST /subjects/ticks-value/versions"
            ]
        );
        // Registered as its type: a reader of that type finds it.
        let schema = SchemaEncoder::for_spec(&config.spec, schema_type).unwrap();
        let options = pipeline_registry::Options {
            confluent_url: Some(double.url().to_owned()),
            ..Default::default()
        };
        let registered = rt.block_on(async {
            pipeline_registry::Client::connect(&registry, schema_type, &options)
                .await
                .unwrap()
                .schema(framer.id())
                .await
        });
        assert_eq!(registered.as_deref(), Ok(schema.schema_text()));

        let mut sink = Recording::default();
        let mut generator = config.generator(Utc::now());
        let summary = producer::handle_framed(
            &config,
            &mut generator,
            Some(&framer),
            &mut sink,
            scheduled(),
        )
        .unwrap();
        let mut partition = Partition::new(&config.spec);
        partition.learn_schema(framer.id(), Ok(schema.schema_text()));
        let mut rejected = 0;
        for (offset, (_, payload)) in sink.0[0].iter().enumerate() {
            let framed = wire::parse(wire::Wire::Confluent, payload).unwrap();
            assert_eq!(framed.schema, framer.id());
            let record = Record {
                offset: offset as i64,
                timestamp_ms: scheduled().timestamp_millis(),
                payload: Some(payload),
            };
            rejected += u64::from(matches!(
                partition.process(record, &mut Vec::new()),
                Outcome::Rejected(_)
            ));
        }
        assert!(summary.malformed > 0);
        assert_eq!(
            rejected, summary.malformed,
            "{schema_type:?}: the broken events are the rejected ones"
        );
    }
}
