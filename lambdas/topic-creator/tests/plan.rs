//! The plan and the request checks, without a cluster, and the reporting of a failed step
//! through an in-memory admin.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use topic_creator::{
    ApplyError, Existing, Request, Step, TopicAdmin, TopicSpec, apply, config_from_lookup, plan,
    validate,
};

fn request(json: &str) -> Request {
    serde_json::from_str(json).unwrap()
}

fn configs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn missing_topics_are_created_and_present_ones_compared() {
    let request = request(
        r#"{"topics": [
            {"name": "ticks", "partitions": 6, "configs": {"retention.ms": "604800000", "cleanup.policy": "delete"}},
            {"name": "aggregates", "partitions": 3},
            {"name": "ticks.dlq", "partitions": 1, "configs": {"retention.ms": "1209600000"}}
        ]}"#,
    );
    let existing: BTreeMap<String, Existing> = [
        (
            "ticks".to_owned(),
            Existing {
                partitions: 3,
                // cleanup.policy is already `delete` by default: not a change.
                configs: configs(&[("retention.ms", "86400000"), ("cleanup.policy", "delete")]),
                overrides: configs(&[
                    ("retention.ms", "86400000"),
                    ("max.message.bytes", "2097152"),
                ]),
            },
        ),
        (
            "aggregates".to_owned(),
            Existing {
                partitions: 6,
                ..Existing::default()
            },
        ),
    ]
    .into();

    let plans = plan(&request, &existing);

    assert_eq!(plans[0].name, "ticks");
    assert_eq!(
        plans[0].steps,
        [
            Step::AddPartitions { from: 3, to: 6 },
            Step::SetConfigs {
                changed: vec!["retention.ms".into()],
                // The topic's other override is kept: AlterConfigs replaces the whole set.
                full: configs(&[
                    ("retention.ms", "604800000"),
                    ("max.message.bytes", "2097152"),
                    ("cleanup.policy", "delete")
                ]),
            }
        ]
    );
    assert!(
        plans[1].steps.is_empty(),
        "more partitions than asked: left"
    );
    assert!(
        plans[1].notes[0].contains("cannot remove partitions"),
        "{:?}",
        plans[1].notes
    );
    assert!(matches!(&plans[2].steps[..], [Step::Create(spec)] if spec.name == "ticks.dlq"));
}

#[test]
fn nothing_is_deleted_unless_named() {
    let existing: BTreeMap<String, Existing> = [(
        "old".to_owned(),
        Existing {
            partitions: 1,
            ..Existing::default()
        },
    )]
    .into();
    let keep = plan(&request(r#"{"topics": []}"#), &existing);
    assert!(keep.is_empty());
    let delete = plan(
        &request(r#"{"topics": [], "delete": ["old", "never-was"]}"#),
        &existing,
    );
    assert_eq!(delete[0].steps, [Step::Delete]);
    assert!(delete[1].steps.is_empty());
}

#[test]
fn a_bad_request_names_every_problem() {
    let bad = request(
        r#"{"topics": [
            {"name": "ticks", "partitions": 0},
            {"name": "bad name!", "partitions": 1},
            {"name": "ticks", "partitions": 2, "replication_factor": 0}
        ], "delete": ["bad name!"]}"#,
    );
    let text = validate(&bad).unwrap_err().to_string();
    for expected in [
        "topic `ticks`: partitions must be at least 1, found 0",
        "topic `bad name!`: a name is 1 to 249 of",
        "topic `ticks`: named twice",
        "topic `bad name!`: named twice",
        "topic `ticks`: replication_factor must be at least 1",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    let unknown = serde_json::from_str::<Request>(r#"{"topics": [], "delete_all": true}"#);
    assert!(
        unknown
            .unwrap_err()
            .to_string()
            .contains("unknown field `delete_all`")
    );
}

/// Topics in memory; fails the calls it is told to.
#[derive(Default)]
struct MemoryAdmin {
    topics: Mutex<BTreeMap<String, Existing>>,
    refuse: HashMap<&'static str, &'static str>,
}

impl MemoryAdmin {
    fn check(&self, call: &str) -> Result<(), String> {
        self.refuse
            .get(call)
            .map_or(Ok(()), |r| Err((*r).to_owned()))
    }
}

impl TopicAdmin for MemoryAdmin {
    async fn describe(&self, names: &[String]) -> Result<BTreeMap<String, Existing>, String> {
        let topics = self.topics.lock().unwrap();
        Ok(topics
            .iter()
            .filter(|(n, _)| names.contains(n))
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect())
    }
    async fn create(&self, spec: &TopicSpec) -> Result<(), String> {
        self.check("create")?;
        self.topics.lock().unwrap().insert(
            spec.name.clone(),
            Existing {
                partitions: spec.partitions,
                configs: spec.configs.clone(),
                overrides: spec.configs.clone(),
            },
        );
        Ok(())
    }
    async fn add_partitions(&self, name: &str, to: i32) -> Result<(), String> {
        self.check("add_partitions")?;
        self.topics
            .lock()
            .unwrap()
            .get_mut(name)
            .unwrap()
            .partitions = to;
        Ok(())
    }
    async fn set_configs(&self, name: &str, full: &BTreeMap<String, String>) -> Result<(), String> {
        self.check("set_configs")?;
        let mut topics = self.topics.lock().unwrap();
        let topic = topics.get_mut(name).unwrap();
        topic.configs.extend(full.clone());
        topic.overrides = full.clone();
        Ok(())
    }
    async fn delete(&self, name: &str) -> Result<(), String> {
        self.check("delete")?;
        self.topics.lock().unwrap().remove(name);
        Ok(())
    }
}

#[tokio::test]
async fn a_failed_step_fails_the_invocation_naming_the_topic_and_the_reason() {
    let admin = MemoryAdmin {
        refuse: [("create", "Broker: Policy violation")].into(),
        ..MemoryAdmin::default()
    };
    admin.topics.lock().unwrap().insert(
        "ticks".into(),
        Existing {
            partitions: 1,
            ..Existing::default()
        },
    );
    let request = request(
        r#"{"topics": [{"name": "ticks", "partitions": 2}, {"name": "aggregates", "partitions": 2}]}"#,
    );

    let error = apply(&request, &admin).await.unwrap_err();

    let ApplyError::Failed(report) = &error else {
        panic!("{error}");
    };
    // The other topic was still brought up to date.
    assert_eq!(report.topics[0].result, "updated");
    assert_eq!(admin.topics.lock().unwrap()["ticks"].partitions, 2);
    assert_eq!(report.topics[1].result, "failed");
    assert_eq!(
        error.to_string(),
        "1 of 2 topics failed:\n  topic `aggregates`: created with 2 partitions: failed: Broker: Policy violation"
    );
}

#[tokio::test]
async fn a_second_apply_changes_nothing() {
    let admin = MemoryAdmin::default();
    let request = request(
        r#"{"topics": [{"name": "ticks", "partitions": 2, "configs": {"retention.ms": "1000"}}]}"#,
    );
    let first = apply(&request, &admin).await.unwrap();
    assert_eq!(first.topics[0].result, "created");
    let second = apply(&request, &admin).await.unwrap();
    assert_eq!(second.topics[0].result, "unchanged");
    assert!(second.topics[0].done.is_empty());
}

#[test]
fn configuration_needs_brokers_or_a_cluster() {
    let none = config_from_lookup(|_| None).unwrap_err().to_string();
    assert!(none.contains("CLUSTER_ARN: not set"), "{none}");
    assert!(none.contains("AWS_REGION: not set"), "{none}");
    let vars: HashMap<&str, &str> = [
        ("BOOTSTRAP_BROKERS", "127.0.0.1:9092"),
        ("KAFKA_AUTH", "plaintext"),
    ]
    .into();
    let endpoint = config_from_lookup(|n| vars.get(n).map(|v| v.to_string())).unwrap();
    assert!(!endpoint.msk_iam);
}
