//! Watches the Feature Group from the outside, as a consumer of it would see it.
//!
//! Every run reads the latest record of each configured ticker with `BatchGetRecord` and checks:
//! - freshness: how old the latest window end is, against a threshold;
//! - completeness: which tickers have no record at all;
//! - sanity: low ≤ open ≤ high, low ≤ close ≤ high, count > 0, VWAP within [low, high].
//!
//! The results go to CloudWatch with `PutMetricData` (the alarms' inputs) and come back as a
//! JSON report. The clock is an argument, so a check is a pure function of what it read.

use chrono::{DateTime, SecondsFormat, Utc};
use pipeline_aws::metrics::{Datum, Unit};
use pipeline_aws::{AwsError, Env, EnvError, FeatureRecord, FeatureStore, MetricsSink};
use pipeline_core::Spec;
use pipeline_core::generator::DEFAULT_TICKERS;
use pipeline_core::schema::WINDOW_END;
use pipeline_core::spec::AggregateFn;
use serde::Serialize;
use std::sync::Arc;

/// Age in seconds of each ticker's latest window end. Dimensions: Environment, Ticker.
pub const FEATURE_AGE_SECONDS: &str = "FeatureAgeSeconds";
/// The oldest of the tickers' ages. Dimension: Environment.
pub const MAX_FEATURE_AGE_SECONDS: &str = "MaxFeatureAgeSeconds";
/// Tickers with no record in the Feature Group. Dimension: Environment.
pub const MISSING_TICKERS: &str = "MissingTickers";
/// Tickers whose latest record is older than the threshold. Dimension: Environment.
pub const STALE_TICKERS: &str = "StaleTickers";
/// Tickers whose latest record fails a sanity check. Dimension: Environment.
pub const SANITY_FAILURES: &str = "SanityFailures";
/// Every metric this Lambda publishes, for the metrics catalogue.
pub const METRICS: [&str; 5] = [
    FEATURE_AGE_SECONDS,
    MAX_FEATURE_AGE_SECONDS,
    MISSING_TICKERS,
    STALE_TICKERS,
    SANITY_FAILURES,
];

/// Read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub environment: String,
    pub feature_group: String,
    pub tickers: Vec<String>,
    pub freshness_threshold_secs: u64,
    pub namespace: String,
    pub spec: Arc<Spec>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error(transparent)]
    Spec(#[from] pipeline_core::SpecError),
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// `ENVIRONMENT`, `FEATURE_GROUP_NAME`, `TICKERS` (comma-separated, default the
    /// generator's), `FRESHNESS_THRESHOLD_SECONDS` (default 300), `METRICS_NAMESPACE` (default
    /// `StreamingPipeline/<ENVIRONMENT>`), `PIPELINE_SPEC`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Env::new(lookup);
        let environment = env.required("ENVIRONMENT", "the environment's name, e.g. dev");
        let feature_group = env.required("FEATURE_GROUP_NAME", "the Feature Group's name");
        let tickers = env.list("TICKERS", &DEFAULT_TICKERS);
        if tickers.is_empty() {
            env.problem("TICKERS", "at least one ticker", Some(String::new()));
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
        let spec_path = env.optional("PIPELINE_SPEC");
        env.finish(())?;
        Ok(Self {
            environment,
            feature_group,
            tickers,
            freshness_threshold_secs,
            namespace,
            spec: pipeline_aws::lambda::load_spec(spec_path.as_deref())?,
        })
    }
}

/// One ticker's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TickerStatus {
    pub ticker: String,
    /// The latest window end, as stored; `None` when the ticker has no record.
    pub window_end: Option<String>,
    pub age_seconds: Option<f64>,
    pub fresh: bool,
    /// Sanity checks the record fails, in words.
    pub problems: Vec<String>,
}

/// What one run found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub environment: String,
    pub checked_at: String,
    pub freshness_threshold_seconds: u64,
    pub healthy: bool,
    pub missing: Vec<String>,
    pub stale: Vec<String>,
    pub insane: Vec<String>,
    pub tickers: Vec<TickerStatus>,
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
        .get_records(&config.feature_group, &config.tickers)
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
        tracing::info!(tickers = report.tickers.len(), "features fresh and sane");
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
    let tickers: Vec<TickerStatus> = config
        .tickers
        .iter()
        .map(|ticker| {
            let Some((_, record)) = records.iter().find(|(id, _)| id == ticker) else {
                return TickerStatus {
                    ticker: ticker.clone(),
                    window_end: None,
                    age_seconds: None,
                    fresh: false,
                    problems: Vec::new(),
                };
            };
            let window_end = record.get(WINDOW_END).map(str::to_owned);
            let mut problems = sanity(&config.spec, record);
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
            TickerStatus {
                ticker: ticker.clone(),
                fresh: age_seconds.is_some_and(|age| age <= threshold),
                window_end,
                age_seconds,
                problems,
            }
        })
        .collect();
    let names = |keep: fn(&TickerStatus) -> bool| -> Vec<String> {
        tickers
            .iter()
            .filter(|s| keep(s))
            .map(|s| s.ticker.clone())
            .collect()
    };
    let missing = names(|s| s.window_end.is_none() && s.problems.is_empty());
    let stale = names(|s| s.window_end.is_some() && !s.fresh);
    let insane = names(|s| !s.problems.is_empty());
    Report {
        environment: config.environment.clone(),
        checked_at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
        freshness_threshold_seconds: config.freshness_threshold_secs,
        healthy: missing.is_empty() && stale.is_empty() && insane.is_empty(),
        missing,
        stale,
        insane,
        tickers,
    }
}

/// The sanity checks a record fails. A check whose columns the spec does not have is skipped.
fn sanity(spec: &Spec, record: &FeatureRecord) -> Vec<String> {
    let mut problems = Vec::new();
    let mut value = |function: AggregateFn| -> Option<(String, f64)> {
        let column = spec.column_for(function)?;
        let Some(text) = record.get(column) else {
            // Only a ratio (e.g. VWAP over zero volume) may be absent.
            if !matches!(function, AggregateFn::Vwap | AggregateFn::AvgPrice) {
                problems.push(format!("{column} is missing"));
            }
            return None;
        };
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Some((column.to_owned(), v)),
            _ => {
                problems.push(format!("{column} is not a number: `{text}`"));
                None
            }
        }
    };
    let low = value(AggregateFn::MinPrice);
    let high = value(AggregateFn::MaxPrice);
    let open = value(AggregateFn::FirstPrice);
    let close = value(AggregateFn::LastPrice);
    let vwap = value(AggregateFn::Vwap);
    let count = value(AggregateFn::Count);
    if let (Some((low_name, low)), Some((high_name, high))) = (&low, &high) {
        if low > high {
            problems.push(format!("{low_name} {low} is above {high_name} {high}"));
        }
        for (name, v) in [&open, &close, &vwap].into_iter().flatten() {
            if v < low || v > high {
                problems.push(format!(
                    "{name} {v} is outside [{low_name} {low}, {high_name} {high}]"
                ));
            }
        }
    }
    if let Some((name, count)) = count
        && count <= 0.0
    {
        problems.push(format!("{name} {count} is not positive"));
    }
    problems
}

/// The data points of a report.
pub fn data(config: &Config, now: DateTime<Utc>, report: &Report) -> Vec<Datum> {
    let timestamp = now.into();
    let environment = ("Environment".to_owned(), config.environment.clone());
    let datum = |name: &str, dimensions: Vec<(String, String)>, value: f64, unit| Datum {
        name: name.to_owned(),
        dimensions,
        value,
        unit,
        timestamp,
    };
    let mut data: Vec<Datum> = report
        .tickers
        .iter()
        .filter_map(|s| {
            let age = s.age_seconds?;
            let ticker = ("Ticker".to_owned(), s.ticker.clone());
            Some(datum(
                FEATURE_AGE_SECONDS,
                vec![environment.clone(), ticker],
                age,
                Unit::Seconds,
            ))
        })
        .collect();
    let oldest = report
        .tickers
        .iter()
        .filter_map(|s| s.age_seconds)
        .reduce(f64::max);
    if let Some(oldest) = oldest {
        data.push(datum(
            MAX_FEATURE_AGE_SECONDS,
            vec![environment.clone()],
            oldest,
            Unit::Seconds,
        ));
    }
    for (name, count) in [
        (MISSING_TICKERS, report.missing.len()),
        (STALE_TICKERS, report.stale.len()),
        (SANITY_FAILURES, report.insane.len()),
    ] {
        data.push(datum(
            name,
            vec![environment.clone()],
            count as f64,
            Unit::Count,
        ));
    }
    data
}
