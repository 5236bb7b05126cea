//! Watches the Feature Group from the outside, as a consumer of it would see it.
//!
//! Every run reads the latest record of each watched key (record identifier) with
//! `BatchGetRecord` and checks:
//! - freshness: how old the latest window end is, against a threshold, per key;
//! - completeness: which keys have no record at all;
//! - sanity: the spec's `[[checks]]` rules over the record's columns (`low <= open`,
//!   `readings > 0`), see [`pipeline_core::checks`].
//!
//! With session windows a key has a window only while it is active (a user, a device), so
//! freshness and completeness are judged over the watched keys together: the pipeline is fresh
//! when any of them has a session ending within the threshold; there is no metric per key, and
//! `MaxFeatureAgeSeconds` is the age of the newest session among them.
//!
//! The results go to CloudWatch with `PutMetricData` (the alarms' inputs) and come back as a
//! JSON report. The clock is an argument, so a check is a pure function of what it read.

use chrono::{DateTime, SecondsFormat, Utc};
use pipeline_aws::metrics::{Datum, Unit};
use pipeline_aws::{AwsError, Env, EnvError, FeatureRecord, FeatureStore, MetricsSink};
use pipeline_core::Spec;
use pipeline_core::checks::failed_checks;
use pipeline_core::generator::{EventGenerator, GeneratorConfig};
use pipeline_core::schema::WINDOW_END;
use serde::Serialize;
use std::sync::Arc;

/// Age in seconds of each key's latest window end. Dimensions: Environment, Pipeline, Key.
pub const FEATURE_AGE_SECONDS: &str = "FeatureAgeSeconds";
/// The oldest of the keys' ages. Dimensions: Environment, Pipeline.
pub const MAX_FEATURE_AGE_SECONDS: &str = "MaxFeatureAgeSeconds";
/// Keys with no record in the Feature Group. Dimensions: Environment, Pipeline.
pub const MISSING_KEYS: &str = "MissingKeys";
/// Keys whose latest record is older than the threshold. Dimensions: Environment, Pipeline.
pub const STALE_KEYS: &str = "StaleKeys";
/// Keys whose latest record fails a check. Dimensions: Environment, Pipeline.
pub const SANITY_FAILURES: &str = "SanityFailures";
/// Every metric this Lambda publishes, for the metrics catalogue.
pub const METRICS: [&str; 5] = [
    FEATURE_AGE_SECONDS,
    MAX_FEATURE_AGE_SECONDS,
    MISSING_KEYS,
    STALE_KEYS,
    SANITY_FAILURES,
];

/// At most this many keys are watched: a `BatchGetRecord` round per 100, and a metric each.
pub const MAX_WATCHED_KEYS: usize = 1_000;

/// Read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub environment: String,
    pub feature_group: String,
    /// The record identifiers watched.
    pub keys: Vec<String>,
    pub freshness_threshold_secs: u64,
    pub namespace: String,
    pub spec: Arc<Spec>,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// `ENVIRONMENT`, `PIPELINE` (a spec built in, see [`Env::spec`]), `FEATURE_GROUP_NAME`,
    /// the keys to watch: `WATCH_KEYS` (record identifiers, comma-separated) or else the keys
    /// the producer generates (`KEYS`, a count, as the producer reads it; default the key
    /// fields' listed values), `FRESHNESS_THRESHOLD_SECONDS` (default 300),
    /// `METRICS_NAMESPACE` (default `StreamingPipeline/<ENVIRONMENT>`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let mut env = Env::new(lookup);
        let environment = env.required("ENVIRONMENT", "the environment's name, e.g. dev");
        let spec = env.spec();
        let feature_group = env.required("FEATURE_GROUP_NAME", "the Feature Group's name");
        let listed = env.list("WATCH_KEYS", &[]);
        let generated = env
            .optional("KEYS")
            .and_then(|text| match text.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_WATCHED_KEYS).contains(&n) => Some(n),
                _ => {
                    let expected = format!("a whole number from 1 to {MAX_WATCHED_KEYS}");
                    env.problem("KEYS", &expected, Some(text));
                    None
                }
            });
        if listed.len() > MAX_WATCHED_KEYS {
            let expected = format!("at most {MAX_WATCHED_KEYS} keys");
            env.problem(
                "WATCH_KEYS",
                &expected,
                Some(format!("{} keys", listed.len())),
            );
        }
        let freshness_threshold_secs = env.parsed(
            "FRESHNESS_THRESHOLD_SECONDS",
            300u64,
            "a whole number of seconds from 1 to 86400",
            |s| (1..=86_400).contains(s),
        );
        let namespace = env
            .optional("METRICS_NAMESPACE")
            .unwrap_or_else(|| format!("StreamingPipeline/{environment}"));
        let config = spec.map(|spec| Self {
            keys: if listed.is_empty() {
                generated_keys(&spec, generated)
            } else {
                listed
            },
            environment,
            feature_group,
            freshness_threshold_secs,
            namespace,
            spec,
        });
        env.finish_some(config)
    }
}

/// The record identifiers of the keys the producer generates with `keys` (see
/// [`EventGenerator::keys`]): the key fields' listed values do not depend on the seed. At
/// most [`MAX_WATCHED_KEYS`] of them (the first), as each is read and may be a metric.
pub fn generated_keys(spec: &Spec, keys: Option<usize>) -> Vec<String> {
    let generator = EventGenerator::new(
        spec,
        GeneratorConfig {
            keys,
            ..GeneratorConfig::default()
        },
    );
    generator
        .keys()
        .into_iter()
        .take(MAX_WATCHED_KEYS)
        .map(str::to_owned)
        .collect()
}

/// One key's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyStatus {
    /// The record identifier.
    pub key: String,
    /// The latest window end, as stored; `None` when the key has no record.
    pub window_end: Option<String>,
    pub age_seconds: Option<f64>,
    pub fresh: bool,
    /// The spec's checks the record fails, in words.
    pub problems: Vec<String>,
}

/// What one run found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub environment: String,
    pub pipeline: String,
    pub checked_at: String,
    pub freshness_threshold_seconds: u64,
    pub healthy: bool,
    pub missing: Vec<String>,
    pub stale: Vec<String>,
    pub insane: Vec<String>,
    pub keys: Vec<KeyStatus>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("could not read the Feature Group `{group}`: {error}")]
    Read { group: String, error: AwsError },
    #[error("could not publish the check's metrics to `{namespace}`: {error}")]
    Publish { namespace: String, error: AwsError },
}

/// Reads, checks, publishes, reports.
pub async fn handle(
    config: &Config,
    now: DateTime<Utc>,
    store: &impl FeatureStore,
    metrics: &impl MetricsSink,
) -> Result<Report, CheckError> {
    let records = store
        .get_records(&config.feature_group, &config.keys)
        .await
        .map_err(|error| CheckError::Read {
            group: config.feature_group.clone(),
            error,
        })?;
    let report = assess(config, now, &records);
    metrics
        .put(&config.namespace, &data(config, now, &report))
        .await
        .map_err(|error| CheckError::Publish {
            namespace: config.namespace.clone(),
            error,
        })?;
    if report.healthy {
        tracing::info!(keys = report.keys.len(), "features fresh and sane");
    } else {
        tracing::warn!(
            missing = ?report.missing,
            stale = ?report.stale,
            insane = ?report.insane,
            "features unhealthy"
        );
    }
    Ok(report)
}

/// The verdict on `records` (identifier, latest record) at `now`.
pub fn assess(config: &Config, now: DateTime<Utc>, records: &[(String, FeatureRecord)]) -> Report {
    let threshold = config.freshness_threshold_secs as f64;
    let keys: Vec<KeyStatus> = config
        .keys
        .iter()
        .map(|key| {
            let Some((_, record)) = records.iter().find(|(id, _)| id == key) else {
                return KeyStatus {
                    key: key.clone(),
                    window_end: None,
                    age_seconds: None,
                    fresh: false,
                    problems: Vec::new(),
                };
            };
            let window_end = record.get(WINDOW_END).map(str::to_owned);
            let mut problems = failed_checks(&config.spec, record);
            let age_seconds = match window_end.as_deref().map(DateTime::parse_from_rfc3339) {
                Some(Ok(end)) => {
                    Some((now - end.with_timezone(&Utc)).num_milliseconds() as f64 / 1000.0)
                }
                Some(Err(_)) => {
                    problems.push(format!("{WINDOW_END} is not an RFC 3339 time"));
                    None
                }
                None => {
                    problems.push(format!("{WINDOW_END} is missing"));
                    None
                }
            };
            KeyStatus {
                key: key.clone(),
                fresh: age_seconds.is_some_and(|age| age <= threshold),
                window_end,
                age_seconds,
                problems,
            }
        })
        .collect();
    let names = |keep: fn(&KeyStatus) -> bool| -> Vec<String> {
        keys.iter()
            .filter(|s| keep(s))
            .map(|s| s.key.clone())
            .collect()
    };
    let mut missing = names(|s| s.window_end.is_none() && s.problems.is_empty());
    let mut stale = names(|s| s.window_end.is_some() && !s.fresh);
    let insane = names(|s| !s.problems.is_empty());
    // With session windows a key has a window only when it was active (a user who did not
    // come back is no fault): the pipeline is fresh when any watched key is.
    if is_sessions(config) && keys.iter().any(|s| s.fresh) {
        missing.clear();
        stale.clear();
    }
    Report {
        environment: config.environment.clone(),
        pipeline: config.spec.name.clone(),
        checked_at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
        freshness_threshold_seconds: config.freshness_threshold_secs,
        healthy: missing.is_empty() && stale.is_empty() && insane.is_empty(),
        missing,
        stale,
        insane,
        keys,
    }
}

fn is_sessions(config: &Config) -> bool {
    config.spec.window.session.is_some()
}

/// The data points of a report. With session windows there is no metric per key (keys are
/// users, devices, …: many, and each active only now and then), and the age reported is the
/// newest session's among the watched keys.
pub fn data(config: &Config, now: DateTime<Utc>, report: &Report) -> Vec<Datum> {
    let timestamp = now.into();
    let environment = ("Environment".to_owned(), config.environment.clone());
    let pipeline = ("Pipeline".to_owned(), config.spec.name.clone());
    let datum = |name: &str, dimensions: Vec<(String, String)>, value: f64, unit| Datum {
        name: name.to_owned(),
        dimensions,
        value,
        unit,
        timestamp,
    };
    let sessions = is_sessions(config);
    let mut data: Vec<Datum> = report
        .keys
        .iter()
        .filter(|_| !sessions)
        .filter_map(|s| {
            let age = s.age_seconds?;
            let key = ("Key".to_owned(), s.key.clone());
            Some(datum(
                FEATURE_AGE_SECONDS,
                vec![environment.clone(), pipeline.clone(), key],
                age,
                Unit::Seconds,
            ))
        })
        .collect();
    let oldest = report
        .keys
        .iter()
        .filter_map(|s| s.age_seconds)
        .reduce(if sessions { f64::min } else { f64::max });
    if let Some(oldest) = oldest {
        data.push(datum(
            MAX_FEATURE_AGE_SECONDS,
            vec![environment.clone(), pipeline.clone()],
            oldest,
            Unit::Seconds,
        ));
    }
    for (name, count) in [
        (MISSING_KEYS, report.missing.len()),
        (STALE_KEYS, report.stale.len()),
        (SANITY_FAILURES, report.insane.len()),
    ] {
        data.push(datum(
            name,
            vec![environment.clone(), pipeline.clone()],
            count as f64,
            Unit::Count,
        ));
    }
    data
}
