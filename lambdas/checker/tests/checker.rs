//! The checker end to end through its ports: records read back from the Feature Store runtime's
//! double with the real SDK client, metrics published to CloudWatch on `moto_server`; and the
//! verdicts themselves on hand-made records, at a fixed clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use checker::{Config, Report, assess, handle};
use chrono::{DateTime, Utc};
use pipeline_aws::{
    AwsError, AwsSettings, CloudWatchMetrics, Datum, FeatureRecord, MetricsSink, SdkFeatureStore,
};
use pipeline_core::{STOCK_TICKS_SPEC, Spec};
use pipeline_testkit::double::{Fault, FeatureStoreDouble};
use pipeline_testkit::moto::MotoServer;

const GROUP: &str = "stock-ticks-test";

fn config() -> Config {
    Config {
        environment: "test".into(),
        feature_group: GROUP.into(),
        keys: ["AMZN", "AAPL", "MSFT", "GOOGL"].map(String::from).to_vec(),
        freshness_threshold_secs: 300,
        namespace: "StreamingPipeline/test".into(),
        spec: Arc::new(Spec::from_toml(STOCK_TICKS_SPEC, "built-in").unwrap()),
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-21T14:40:00Z".parse().unwrap()
}

/// A sane record of `ticker` for the window ending at `window_end`.
fn features(ticker: &str, window_end: &str) -> BTreeMap<String, String> {
    [
        ("aggregate_id", format!("{ticker}:{window_end}")),
        ("ticker", ticker.into()),
        ("window_start", "2026-11-21T14:30:00.000Z".into()),
        ("window_end", window_end.into()),
        ("session_date", "2026-11-21".into()),
        ("count", "3".into()),
        ("volume", "300".into()),
        ("open", "187.25".into()),
        ("high", "187.5".into()),
        ("low", "187.0".into()),
        ("close", "187.5".into()),
        ("vwap", "187.3".into()),
        ("avg_price", "187.25".into()),
        ("notional", "56190.0".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn record(map: BTreeMap<String, String>) -> (String, FeatureRecord) {
    (
        map["ticker"].clone(),
        FeatureRecord {
            values: map.into_iter().collect(),
        },
    )
}

/// Keeps what it is asked to publish.
#[derive(Default)]
struct MemoryMetrics(Mutex<Vec<(String, Datum)>>);

impl MetricsSink for MemoryMetrics {
    async fn put(&self, namespace: &str, data: &[Datum]) -> Result<(), AwsError> {
        let mut kept = self.0.lock().unwrap();
        kept.extend(data.iter().map(|d| (namespace.to_owned(), d.clone())));
        Ok(())
    }
}

fn value(metrics: &MemoryMetrics, name: &str, key: Option<&str>) -> Option<f64> {
    let kept = metrics.0.lock().unwrap();
    let found: Vec<f64> = kept
        .iter()
        .filter(|(_, d)| d.name == name)
        .filter(|(_, d)| {
            let has = |k: &str, v: &str| d.dimensions.iter().any(|(dk, dv)| dk == k && dv == v);
            has("Environment", "test")
                && has("Pipeline", "stock-ticks")
                && key.is_none_or(|k| has("Key", k))
        })
        .map(|(_, d)| d.value)
        .collect();
    assert!(found.len() <= 1, "{name} {key:?} published twice");
    found.first().copied()
}

#[tokio::test]
async fn a_healthy_group_reads_back_fresh_and_publishes_every_age() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    for ticker in ["AMZN", "AAPL", "MSFT", "GOOGL"] {
        double.seed(GROUP, features(ticker, "2026-11-21T14:38:00.000Z"));
    }
    let store = SdkFeatureStore::new(&AwsSettings::emulator(double.url()).load().await);
    let metrics = MemoryMetrics::default();

    let report = handle(&config(), now(), &store, &metrics).await.unwrap();

    assert!(report.healthy, "{report:#?}");
    assert_eq!(report.keys.len(), 4);
    assert!(report.keys.iter().all(|t| t.age_seconds == Some(120.0)));
    for ticker in ["AMZN", "AAPL", "MSFT", "GOOGL"] {
        assert_eq!(
            value(&metrics, "FeatureAgeSeconds", Some(ticker)),
            Some(120.0)
        );
    }
    assert_eq!(value(&metrics, "MaxFeatureAgeSeconds", None), Some(120.0));
    assert_eq!(value(&metrics, "MissingKeys", None), Some(0.0));
    assert_eq!(value(&metrics, "StaleKeys", None), Some(0.0));
    assert_eq!(value(&metrics, "SanityFailures", None), Some(0.0));
    assert!(
        metrics
            .0
            .lock()
            .unwrap()
            .iter()
            .all(|(ns, _)| ns == "StreamingPipeline/test")
    );
}

#[tokio::test]
async fn stale_missing_and_insane_keys_are_each_reported() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    double.seed(GROUP, features("AMZN", "2026-11-21T14:38:00.000Z"));
    // Ten minutes old: stale at a 300 s threshold.
    double.seed(GROUP, features("AAPL", "2026-11-21T14:30:00.000Z"));
    let mut insane = features("MSFT", "2026-11-21T14:39:00.000Z");
    insane.insert("close".into(), "190.0".into());
    double.seed(GROUP, insane);
    // GOOGL has no record.
    let store = SdkFeatureStore::new(&AwsSettings::emulator(double.url()).load().await);
    let metrics = MemoryMetrics::default();

    let report = handle(&config(), now(), &store, &metrics).await.unwrap();

    assert!(!report.healthy);
    assert_eq!(report.missing, ["GOOGL"]);
    assert_eq!(report.stale, ["AAPL"]);
    assert_eq!(report.insane, ["MSFT"]);
    let msft = report.keys.iter().find(|t| t.key == "MSFT").unwrap();
    assert_eq!(msft.problems, ["fails `low <= close and close <= high`"]);
    assert_eq!(
        value(&metrics, "FeatureAgeSeconds", Some("AAPL")),
        Some(600.0)
    );
    assert_eq!(value(&metrics, "FeatureAgeSeconds", Some("GOOGL")), None);
    assert_eq!(value(&metrics, "MaxFeatureAgeSeconds", None), Some(600.0));
    assert_eq!(value(&metrics, "MissingKeys", None), Some(1.0));
    assert_eq!(value(&metrics, "StaleKeys", None), Some(1.0));
    assert_eq!(value(&metrics, "SanityFailures", None), Some(1.0));

    // The report is the Lambda's JSON answer.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["healthy"], false);
    assert_eq!(json["checked_at"], "2026-11-21T14:40:00.000Z");
    assert_eq!(json["missing"][0], "GOOGL");
    assert_eq!(json["pipeline"], "stock-ticks");
}

#[test]
fn every_rule_of_the_spec_can_fail() {
    let rules: Vec<String> = config()
        .spec
        .checks
        .iter()
        .map(|c| c.rule.clone())
        .collect();
    let fails = |rule: &str| format!("fails `{rule}`");
    type Case = (&'static [(&'static str, &'static str)], Vec<String>);
    let cases: [Case; 5] = [
        (&[("open", "186.0")], vec![fails(&rules[0])]),
        (&[("close", "188.0")], vec![fails(&rules[1])]),
        (&[("count", "0")], vec![fails(&rules[2])]),
        (&[("vwap", "187.6")], vec![fails(&rules[3])]),
        (
            &[("window_end", "yesterday")],
            vec![
                "window_end is not an RFC 3339 time: `yesterday`".to_owned(),
                "window_end is not an RFC 3339 time".to_owned(),
            ],
        ),
    ];
    assert_eq!(rules.len(), 4, "{rules:?}");
    for (changes, expected) in cases {
        let mut map = features("AMZN", "2026-11-21T14:38:00.000Z");
        for (k, v) in changes {
            map.insert((*k).into(), (*v).into());
        }
        let report = assess(&config(), now(), &[record(map)]);
        let amzn = &report.keys[0];
        assert_eq!(amzn.problems, expected, "{changes:?}");
        assert_eq!(report.insane, ["AMZN"], "{changes:?}");
        assert!(!report.missing.contains(&"AMZN".to_owned()));
    }
}

#[test]
fn a_rule_over_a_value_the_record_lacks_is_undecided() {
    let mut no_vwap = features("AMZN", "2026-11-21T14:38:00.000Z");
    no_vwap.remove("vwap");
    let report: Report = assess(&config(), now(), &[record(no_vwap)]);
    assert!(report.keys[0].problems.is_empty(), "{report:#?}");
    assert!(report.insane.is_empty());
}

#[test]
fn a_composite_key_is_watched_by_its_joined_identifier() {
    let text = pipeline_core::shipped_spec("sensor-readings").unwrap();
    let spec = Arc::new(Spec::from_toml(text, "sensor-readings").unwrap());
    let keys = checker::generated_keys(&spec, None);
    assert_eq!(keys.len(), 18, "3 sites × 6 devices: {keys:?}");
    assert!(keys.iter().all(|k| k.contains('|')), "{keys:?}");
    let config = Config {
        keys: keys.clone(),
        spec,
        ..config()
    };
    let (site, device) = keys[0].split_once('|').unwrap();
    let reading = |min_battery: &str| -> (String, FeatureRecord) {
        let values = [
            ("aggregate_id", format!("{}:1795271400000", keys[0])),
            ("aggregate_key", keys[0].clone()),
            ("site", site.to_owned()),
            ("device_id", device.to_owned()),
            ("window_start", "2026-11-21T14:33:00.000Z".into()),
            ("window_end", "2026-11-21T14:38:00.000Z".into()),
            ("readings", "5".into()),
            ("min_temperature", "19.5".into()),
            ("max_temperature", "21.25".into()),
            ("avg_temperature", "20.1".into()),
            ("avg_humidity", "41.5".into()),
            ("last_temperature", "20.0".into()),
            ("last_reading_at", "2026-11-21T14:37:59.000Z".into()),
            ("min_battery", min_battery.into()),
        ];
        (
            keys[0].clone(),
            FeatureRecord {
                values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            },
        )
    };
    let report = assess(&config, now(), &[reading("40")]);
    assert_eq!(report.pipeline, "sensor-readings");
    assert!(report.insane.is_empty(), "{report:#?}");
    assert_eq!(report.missing.len(), 17);
    let report = assess(&config, now(), &[reading("0")]);
    assert_eq!(report.insane, [keys[0].clone()]);
    assert_eq!(
        report.keys[0].problems,
        ["fails `readings > 0 and min_battery > 0`"]
    );
}

#[test]
fn freshness_is_measured_against_the_threshold_inclusively() {
    let at = |end: &str| {
        let report = assess(&config(), now(), &[record(features("AMZN", end))]);
        (report.keys[0].fresh, report.stale.len())
    };
    assert_eq!(at("2026-11-21T14:35:00.000Z"), (true, 0), "exactly 300 s");
    assert_eq!(at("2026-11-21T14:34:59.999Z"), (false, 1), "300.001 s");
}

#[tokio::test]
async fn a_feature_store_that_keeps_failing_fails_the_run_and_publishes_nothing() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    double.fail_always(Some(Fault::unavailable()));
    let store = SdkFeatureStore::new(&AwsSettings::emulator(double.url()).load().await);
    let metrics = MemoryMetrics::default();

    let error = handle(&config(), now(), &store, &metrics)
        .await
        .unwrap_err();

    assert!(
        error
            .to_string()
            .contains("could not read the Feature Group `stock-ticks-test`"),
        "{error}"
    );
    assert!(double.requests().len() > 1, "retried before giving up");
    assert!(metrics.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn metrics_reach_cloudwatch() {
    let moto = MotoServer::start();
    let aws = AwsSettings::emulator(moto.url()).load().await;
    let double = FeatureStoreDouble::start("ticker", "window_end");
    double.seed(GROUP, features("AMZN", "2026-11-21T14:38:00.000Z"));
    let store = SdkFeatureStore::new(&AwsSettings::emulator(double.url()).load().await);

    handle(&config(), now(), &store, &CloudWatchMetrics::new(&aws))
        .await
        .unwrap();

    let cloudwatch = aws_sdk_cloudwatch::Client::new(&aws);
    let listed = cloudwatch
        .list_metrics()
        .namespace("StreamingPipeline/test")
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = listed
        .metrics()
        .iter()
        .filter_map(|m| m.metric_name())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "FeatureAgeSeconds",
            "MaxFeatureAgeSeconds",
            "MissingKeys",
            "SanityFailures",
            "StaleKeys"
        ]
    );
}

#[test]
fn configuration_names_every_bad_variable_and_defaults_the_rest() {
    let bad: HashMap<&str, &str> = [
        ("FRESHNESS_THRESHOLD_SECONDS", "soon"),
        ("KEYS", "0"),
        ("PIPELINE", "payments"),
    ]
    .into();
    let text = Config::from_lookup(|n| bad.get(n).map(|v| v.to_string()))
        .unwrap_err()
        .to_string();
    for expected in [
        "ENVIRONMENT: not set",
        "FEATURE_GROUP_NAME: not set",
        "KEYS: expected a whole number from 1 to 1000, found `0`",
        "PIPELINE: expected the name of a spec in config/pipelines/",
        "FRESHNESS_THRESHOLD_SECONDS: expected a whole number of seconds from 1 to 86400, found `soon`",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }

    let good: HashMap<&str, &str> = [
        ("ENVIRONMENT", "prod"),
        ("FEATURE_GROUP_NAME", "g"),
        ("PIPELINE", "orders"),
        ("KEYS", "5"),
    ]
    .into();
    let config = Config::from_lookup(|n| good.get(n).map(|v| v.to_string())).unwrap();
    assert_eq!(config.namespace, "StreamingPipeline/prod");
    assert_eq!(config.spec.name, "orders");
    assert_eq!(config.keys, checker::generated_keys(&config.spec, Some(5)));
    assert_eq!(config.keys.len(), 5);

    let listed: HashMap<&str, &str> = [
        ("ENVIRONMENT", "prod"),
        ("FEATURE_GROUP_NAME", "g"),
        ("PIPELINE", "stock-ticks"),
        ("WATCH_KEYS", "AMZN, MSFT"),
    ]
    .into();
    let config = Config::from_lookup(|n| listed.get(n).map(|v| v.to_string())).unwrap();
    assert_eq!(config.keys, ["AMZN", "MSFT"]);
    assert_eq!(config.freshness_threshold_secs, 300);
}

#[test]
fn a_session_pipeline_is_fresh_when_any_watched_key_is() {
    let text = pipeline_core::shipped_spec("page-views").unwrap();
    let spec = Arc::new(Spec::from_toml(text, "page-views").unwrap());
    // 20,000 users declared; the checker watches at most a thousand of them.
    let keys = checker::generated_keys(&spec, None);
    assert_eq!(keys.len(), checker::MAX_WATCHED_KEYS);
    let config = Config {
        keys: keys.clone(),
        spec,
        ..config()
    };
    let session = |user: &str, end: &str| -> (String, FeatureRecord) {
        let values = [
            ("aggregate_id", format!("{user}:1795271400000")),
            ("user_id", user.to_owned()),
            ("window_start", "2026-11-21T14:30:00.000Z".into()),
            ("window_end", end.into()),
            ("visit_date", "2026-11-21".into()),
            ("views", "4".into()),
            ("distinct_pages", "3".into()),
            ("landing_page", "home".into()),
            ("exit_page", "cart".into()),
            ("dwell_ms", "41000".into()),
            ("avg_dwell_ms", "10250.0".into()),
            ("last_view_at", "2026-11-21T14:31:00.000Z".into()),
        ];
        (
            user.to_owned(),
            FeatureRecord {
                values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            },
        )
    };
    // One user active a minute ago, one an hour ago, the rest never: healthy.
    let records = [
        session(&keys[0], "2026-11-21T13:40:00.000Z"),
        session(&keys[1], "2026-11-21T14:39:00.000Z"),
    ];
    let report = assess(&config, now(), &records);
    assert!(report.healthy, "{report:#?}");
    assert!(report.missing.is_empty() && report.stale.is_empty());
    let points = checker::data(&config, now(), &report);
    assert!(
        points
            .iter()
            .all(|d| d.name != checker::FEATURE_AGE_SECONDS),
        "no metric per user"
    );
    let age = points
        .iter()
        .find(|d| d.name == checker::MAX_FEATURE_AGE_SECONDS)
        .unwrap();
    assert_eq!(age.value, 60.0, "the newest session's age");
    // Nobody active within the threshold: stale.
    let report = assess(&config, now(), &records[..1]);
    assert!(!report.healthy);
    assert_eq!(report.stale, [keys[0].clone()]);
    assert_eq!(report.missing.len(), keys.len() - 1);
}
