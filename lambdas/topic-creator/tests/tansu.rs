//! The topic creator against a real Kafka-compatible broker (tansu on loopback): create, run
//! again to no effect, delete only what is named, and a change the broker refuses reported by
//! topic with the broker's reason. (tansu 0.6 has neither CreatePartitions nor AlterConfigs; the
//! plan for those is tested in `plan.rs`.) `./scripts/test` installs tansu.

#![allow(clippy::unwrap_used)]

use pipeline_testkit::tansu::Tansu;
use topic_creator::admin::KafkaAdmin;
use topic_creator::{Request, TopicAdmin, apply};

fn request(json: &str) -> Request {
    serde_json::from_str(json).unwrap()
}

#[tokio::test]
async fn topics_are_reconciled_on_a_real_broker() {
    let tansu = Tansu::start();
    let admin = KafkaAdmin::new(&tansu.settings, None).unwrap();
    let names = [
        "ticks".to_owned(),
        "aggregates".to_owned(),
        "ticks.dlq".to_owned(),
    ];

    let first = request(
        r#"{"topics": [
            {"name": "ticks", "partitions": 3},
            {"name": "aggregates", "partitions": 2},
            {"name": "ticks.dlq", "partitions": 1}
        ]}"#,
    );
    let report = apply(&first, &admin).await.unwrap();
    let results: Vec<&str> = report.topics.iter().map(|o| o.result).collect();
    assert_eq!(results, ["created", "created", "created"]);
    let existing = admin.describe(&names).await.unwrap();
    assert_eq!(existing["ticks"].partitions, 3);
    assert_eq!(existing["aggregates"].partitions, 2);

    // The same request again: nothing to do.
    let again = apply(&first, &admin).await.unwrap();
    assert!(
        again.topics.iter().all(|o| o.result == "unchanged"),
        "{again:?}"
    );

    // More partitions for one topic, and one topic deleted by name. tansu 0.6 has no
    // CreatePartitions: the raise fails with the broker's answer, named by topic, and the
    // other topics are still handled.
    let second = request(
        r#"{"topics": [
            {"name": "ticks", "partitions": 6},
            {"name": "aggregates", "partitions": 2}
        ], "delete": ["ticks.dlq"]}"#,
    );
    let error = apply(&second, &admin).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(
            "1 of 3 topics failed:\n  topic `ticks`: partitions raised from 3 to 6: failed:"
        ),
        "{text}"
    );
    assert!(text.contains("not supported by broker"), "{text}");
    let existing = admin.describe(&names).await.unwrap();
    assert_eq!(existing["ticks"].partitions, 3);
    assert!(!existing.contains_key("ticks.dlq"), "deleted, as named");
    assert!(existing.contains_key("aggregates"));
}
