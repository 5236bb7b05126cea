//! Makes the cluster's topics match a list, idempotently, for Terraform to call on every apply.
//!
//! For each topic in the request: create it if it is missing; raise its partition count if it
//! is lower than asked (Kafka cannot lower one: a higher count is reported and left alone);
//! update the configs whose effective value differs. Topics are deleted only when the request
//! names them under `delete`. The answer says per topic what was done; if anything failed, the
//! invocation fails (so does the apply) with each failed topic and the broker's reason.

pub mod admin;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use pipeline_aws::{Env, EnvError, KafkaEndpoint};
use serde::{Deserialize, Serialize};

/// The invocation's payload, e.g.
/// `{"topics": [{"name": "orders", "partitions": 6, "configs": {"retention.ms": "604800000"}}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub topics: Vec<TopicSpec>,
    /// Topics to delete; nothing is deleted that is not named here.
    #[serde(default)]
    pub delete: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    /// Left to the cluster when absent (MSK Serverless allows nothing else).
    #[serde(default)]
    pub replication_factor: Option<i32>,
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

/// A topic as the cluster has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Existing {
    pub partitions: i32,
    /// Effective values of every config the broker reports.
    pub configs: BTreeMap<String, String>,
    /// The configs set on the topic itself (not defaults): what a full AlterConfigs must keep.
    pub overrides: BTreeMap<String, String>,
}

/// What to do to one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Create(TopicSpec),
    AddPartitions {
        from: i32,
        to: i32,
    },
    /// `changed` are the keys that differ; `full` is every override after the change.
    SetConfigs {
        changed: Vec<String>,
        full: BTreeMap<String, String>,
    },
    Delete,
}

/// The plan for one topic, and what cannot be done for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPlan {
    pub name: String,
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
}

/// Compares the request with the cluster. Pure: the adapter reads `existing` and runs the steps.
pub fn plan(request: &Request, existing: &BTreeMap<String, Existing>) -> Vec<TopicPlan> {
    let mut plans: Vec<TopicPlan> = request
        .topics
        .iter()
        .map(|spec| {
            let mut plan = TopicPlan {
                name: spec.name.clone(),
                steps: Vec::new(),
                notes: Vec::new(),
            };
            let Some(have) = existing.get(&spec.name) else {
                plan.steps.push(Step::Create(spec.clone()));
                return plan;
            };
            if have.partitions < spec.partitions {
                plan.steps.push(Step::AddPartitions {
                    from: have.partitions,
                    to: spec.partitions,
                });
            } else if have.partitions > spec.partitions {
                plan.notes.push(format!(
                    "has {} partitions, more than the {} asked for; Kafka cannot remove partitions, so it keeps {}",
                    have.partitions, spec.partitions, have.partitions
                ));
            }
            let changed: Vec<String> = spec
                .configs
                .iter()
                .filter(|(key, value)| have.configs.get(*key) != Some(value))
                .map(|(key, _)| key.clone())
                .collect();
            if !changed.is_empty() {
                let mut full = have.overrides.clone();
                full.extend(spec.configs.clone());
                plan.steps.push(Step::SetConfigs { changed, full });
            }
            plan
        })
        .collect();
    plans.extend(request.delete.iter().map(|name| TopicPlan {
        name: name.clone(),
        steps: if existing.contains_key(name) {
            vec![Step::Delete]
        } else {
            Vec::new()
        },
        notes: Vec::new(),
    }));
    plans
}

/// Why a request cannot be carried out at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad topic request:{}", .0.iter().map(|p| format!("\n  {p}")).collect::<String>())]
pub struct RequestError(pub Vec<String>);

/// Checks names, counts and overlaps before anything touches the cluster.
pub fn validate(request: &Request) -> Result<(), RequestError> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let names = request
        .topics
        .iter()
        .map(|t| &t.name)
        .chain(&request.delete);
    for name in names {
        let legal = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if name.is_empty() || name.len() > 249 || !legal || name == "." || name == ".." {
            problems.push(format!(
                "topic `{name}`: a name is 1 to 249 of a-z, A-Z, 0-9, '.', '_', '-'"
            ));
        }
        if !seen.insert(name) {
            problems.push(format!(
                "topic `{name}`: named twice (a topic is either kept or deleted, once)"
            ));
        }
    }
    for topic in &request.topics {
        if topic.partitions < 1 {
            problems.push(format!(
                "topic `{}`: partitions must be at least 1, found {}",
                topic.name, topic.partitions
            ));
        }
        if topic.replication_factor.is_some_and(|r| r < 1) {
            problems.push(format!(
                "topic `{}`: replication_factor must be at least 1",
                topic.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RequestError(problems))
    }
}

/// What the cluster must offer: reading topics and the four changes.
pub trait TopicAdmin: Send + Sync {
    /// The topics among `names` that exist, with their partitions and configs.
    fn describe(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, Existing>, String>> + Send;
    fn create(&self, spec: &TopicSpec) -> impl Future<Output = Result<(), String>> + Send;
    fn add_partitions(
        &self,
        name: &str,
        to: i32,
    ) -> impl Future<Output = Result<(), String>> + Send;
    fn set_configs(
        &self,
        name: &str,
        full: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), String>> + Send;
    fn delete(&self, name: &str) -> impl Future<Output = Result<(), String>> + Send;
}

/// What was done to one topic: the Lambda's answer lists one per topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub topic: String,
    /// `created`, `updated`, `unchanged`, `deleted`, `absent` (asked to delete, not there) or
    /// `failed`.
    pub result: &'static str,
    pub done: Vec<String>,
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub topics: Vec<Outcome>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("could not read the cluster's topics: {0}")]
    Describe(String),
    #[error("{}", failures(.0))]
    Failed(Report),
}

fn failures(report: &Report) -> String {
    let failed: Vec<String> = report
        .topics
        .iter()
        .filter_map(|o| Some(format!("\n  topic `{}`: {}", o.topic, o.error.as_ref()?)))
        .collect();
    format!(
        "{} of {} topics failed:{}",
        failed.len(),
        report.topics.len(),
        failed.concat()
    )
}

/// Validates, reads the cluster, plans and carries out the plan, topic by topic.
pub async fn apply(request: &Request, admin: &impl TopicAdmin) -> Result<Report, ApplyError> {
    validate(request)?;
    let names: Vec<String> = request
        .topics
        .iter()
        .map(|t| t.name.clone())
        .chain(request.delete.iter().cloned())
        .collect();
    let existing = admin.describe(&names).await.map_err(ApplyError::Describe)?;
    let mut report = Report { topics: Vec::new() };
    for plan in plan(request, &existing) {
        let mut outcome = Outcome {
            topic: plan.name.clone(),
            result: if plan.steps.is_empty() {
                if request.delete.contains(&plan.name) {
                    "absent"
                } else {
                    "unchanged"
                }
            } else {
                "updated"
            },
            done: Vec::new(),
            notes: plan.notes,
            error: None,
        };
        for step in &plan.steps {
            let (done, result) = match step {
                Step::Create(spec) => (
                    format!("created with {} partitions", spec.partitions),
                    admin.create(spec).await.map(|()| "created"),
                ),
                Step::AddPartitions { from, to } => (
                    format!("partitions raised from {from} to {to}"),
                    admin
                        .add_partitions(&plan.name, *to)
                        .await
                        .map(|()| "updated"),
                ),
                Step::SetConfigs { changed, full } => (
                    format!("configs set: {}", changed.join(", ")),
                    admin
                        .set_configs(&plan.name, full)
                        .await
                        .map(|()| "updated"),
                ),
                Step::Delete => (
                    "deleted".to_owned(),
                    admin.delete(&plan.name).await.map(|()| "deleted"),
                ),
            };
            match result {
                Ok(result) => {
                    outcome.result = result;
                    outcome.done.push(done);
                }
                Err(reason) => {
                    outcome.result = "failed";
                    outcome.error = Some(format!("{done}: failed: {reason}"));
                    break;
                }
            }
        }
        tracing::info!(topic = %outcome.topic, result = outcome.result, done = ?outcome.done, error = ?outcome.error, "topic");
        report.topics.push(outcome);
    }
    if report.topics.iter().any(|o| o.error.is_some()) {
        return Err(ApplyError::Failed(report));
    }
    Ok(report)
}

/// Read once at cold start: where the cluster is and how to authenticate (see
/// [`KafkaEndpoint`]).
pub fn config_from_env() -> Result<KafkaEndpoint, EnvError> {
    config_from_lookup(|name| std::env::var(name).ok())
}

pub fn config_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<KafkaEndpoint, EnvError> {
    let mut env = Env::new(lookup);
    let endpoint = KafkaEndpoint::from_env(&mut env);
    env.finish(endpoint)
}
