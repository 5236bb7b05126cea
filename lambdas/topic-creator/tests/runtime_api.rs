//! The built topic-creator invoked for real through the Lambda Runtime API emulator
//! (`cargo lambda watch` + `cargo lambda invoke`) with the request Terraform sends on apply,
//! configured only by environment variables as in AWS, against tansu on loopback.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use pipeline_testkit::emulator::RuntimeEmulator;
use pipeline_testkit::tansu::Tansu;
use topic_creator::TopicAdmin;
use topic_creator::admin::KafkaAdmin;

#[tokio::test]
async fn the_built_function_creates_the_requested_topics_and_reports_each() {
    let tansu = Tansu::start();
    let emulator = RuntimeEmulator::start(env!("CARGO_MANIFEST_DIR"));
    let mut function = emulator.start_function(
        "topic-creator",
        Path::new(env!("CARGO_BIN_EXE_topic-creator")),
        &[
            ("AWS_REGION", "us-east-1".into()),
            ("BOOTSTRAP_BROKERS", tansu.settings.brokers.clone()),
            ("KAFKA_AUTH", "plaintext".into()),
        ],
    );
    let request =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/terraform-topics.json");

    let report = emulator.invoke("topic-creator", &request).unwrap();

    let outcomes: Vec<(&str, &str)> = report["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["topic"].as_str().unwrap(), o["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("ticks", "created"),
            ("aggregates", "created"),
            ("ticks.dlq", "created")
        ]
    );
    assert!(function.running());
    let admin = KafkaAdmin::new(&tansu.settings, None).unwrap();
    let names = ["ticks", "aggregates", "ticks.dlq"].map(String::from);
    let existing = admin.describe(&names).await.unwrap();
    assert_eq!(existing["ticks"].partitions, 3);
    assert_eq!(existing["ticks.dlq"].partitions, 1);
}

#[test]
fn a_request_with_an_unknown_field_is_refused_by_name() {
    let emulator = RuntimeEmulator::start(env!("CARGO_MANIFEST_DIR"));
    let _function = emulator.start_function(
        "topic-creator",
        Path::new(env!("CARGO_BIN_EXE_topic-creator")),
        &[
            ("AWS_REGION", "us-east-1".into()),
            // Refused before any broker is asked.
            ("BOOTSTRAP_BROKERS", "127.0.0.1:1".into()),
            ("KAFKA_AUTH", "plaintext".into()),
        ],
    );
    let dir = std::env::temp_dir().join(format!("topic-creator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let request = dir.join("typo.json");
    std::fs::write(
        &request,
        r#"{"topics": [{"name": "ticks", "partition": 3}]}"#,
    )
    .unwrap();

    let error = emulator.invoke("topic-creator", &request).unwrap_err();

    assert!(error.contains("unknown field `partition`"), "{error}");
}
