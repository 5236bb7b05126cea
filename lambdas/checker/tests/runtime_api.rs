//! The built checker invoked for real through the Lambda Runtime API emulator
//! (`cargo lambda watch` + `cargo lambda invoke`), configured only by environment variables as
//! in AWS: the Feature Store runtime is the HTTP double, CloudWatch is `moto_server`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DurationRound, TimeDelta, Utc};
use pipeline_aws::AwsSettings;
use pipeline_testkit::double::FeatureStoreDouble;
use pipeline_testkit::emulator::RuntimeEmulator;
use pipeline_testkit::moto::MotoServer;

const GROUP: &str = "stock-ticks-it";

fn features(ticker: &str, window_end: &str) -> BTreeMap<String, String> {
    [
        ("aggregate_id", format!("{ticker}:{window_end}")),
        ("ticker", ticker.into()),
        ("window_start", window_end.into()),
        ("window_end", window_end.into()),
        ("session_date", window_end[..10].into()),
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

#[tokio::test]
async fn the_built_function_reports_and_publishes_on_a_scheduled_event() {
    let moto = MotoServer::start();
    let double = FeatureStoreDouble::start("ticker", "window_end");
    let minute = Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap();
    let fresh = minute.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let old = (minute - TimeDelta::hours(1))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    double.seed(GROUP, features("AMZN", &fresh));
    double.seed(GROUP, features("GOOGL", &fresh));
    double.seed(GROUP, features("AAPL", &old));

    let emulator = RuntimeEmulator::start(env!("CARGO_MANIFEST_DIR"));
    let mut function = emulator.start_function(
        "checker",
        Path::new(env!("CARGO_BIN_EXE_checker")),
        &[
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_ENDPOINT_URL", moto.url().into()),
            (
                "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME",
                double.url().into(),
            ),
            ("ENVIRONMENT", "it".into()),
            ("FEATURE_GROUP_NAME", GROUP.into()),
            ("PIPELINE", "stock-ticks".into()),
            ("WATCH_KEYS", "AMZN,AAPL,MSFT,GOOGL".into()),
        ],
    );
    let event = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../producer/tests/fixtures/eventbridge-schedule.json");

    let report = emulator.invoke("checker", &event).unwrap();

    assert!(
        function.running(),
        "the function serves more than one event"
    );
    assert_eq!(report["environment"], "it");
    assert_eq!(report["healthy"], false);
    assert_eq!(report["missing"], serde_json::json!(["MSFT"]));
    assert_eq!(report["stale"], serde_json::json!(["AAPL"]));
    assert_eq!(report["insane"], serde_json::json!([]));
    assert_eq!(report["keys"].as_array().unwrap().len(), 4);
    assert_eq!(report["pipeline"], "stock-ticks");
    // It read through the double, and published to CloudWatch in its environment's namespace.
    assert!(
        double
            .requests()
            .iter()
            .any(|r| r.path.contains("BatchGetRecord"))
    );
    let aws = AwsSettings::emulator(moto.url()).load().await;
    let listed = aws_sdk_cloudwatch::Client::new(&aws)
        .list_metrics()
        .namespace("StreamingPipeline/it")
        .metric_name("StaleKeys")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.metrics().len(), 1);

    // A second event is served by the same warm process.
    let again = emulator.invoke("checker", &event).unwrap();
    assert_eq!(again["stale"], serde_json::json!(["AAPL"]));
}
