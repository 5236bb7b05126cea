//! The Feature Store adapter over HTTP, against the runtime's double: the requests it sends,
//! retries of throttling and 5xx with backoff, and errors surfaced once retries run out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pipeline_aws::{AwsSettings, FeatureRecord, FeatureStore, SdkFeatureStore};
use pipeline_testkit::double::{Fault, FeatureStoreDouble};

const GROUP: &str = "stock-ticks-dev";

fn record(ticker: &str, window_end: &str, count: &str) -> FeatureRecord {
    FeatureRecord {
        values: vec![
            ("ticker".into(), ticker.into()),
            ("window_end".into(), window_end.into()),
            ("count".into(), count.into()),
        ],
    }
}

async fn store(double: &FeatureStoreDouble) -> SdkFeatureStore {
    SdkFeatureStore::new(&AwsSettings::emulator(double.url()).load().await)
}

#[tokio::test]
async fn put_record_sends_the_features_to_the_group() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    let store = store(&double).await;
    store
        .put_record(GROUP, &record("AMZN", "2026-11-21T14:31:00.000Z", "3"))
        .await
        .unwrap();

    let requests = double.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "PUT");
    assert_eq!(requests[0].path, format!("/FeatureGroup/{GROUP}"));
    assert_eq!(
        requests[0].body["Record"][2],
        serde_json::json!({"FeatureName": "count", "ValueAsString": "3"})
    );
    assert_eq!(double.online(GROUP, "AMZN").unwrap()["count"], "3");
}

#[tokio::test]
async fn throttling_and_5xx_are_retried_until_they_pass() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    double.fail_next([
        Fault::throttling(),
        Fault::unavailable(),
        Fault::throttling(),
    ]);
    let store = store(&double).await;
    store
        .put_record(GROUP, &record("AMZN", "2026-11-21T14:31:00.000Z", "3"))
        .await
        .unwrap();
    assert_eq!(double.requests().len(), 4, "three failures, then success");
    assert!(double.online(GROUP, "AMZN").is_some());
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_surfaced_as_transient() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    double.fail_always(Some(Fault::throttling()));
    let store = store(&double).await;
    let error = store
        .put_record(GROUP, &record("AMZN", "2026-11-21T14:31:00.000Z", "3"))
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.to_string().contains("ThrottlingException"), "{error}");
    assert_eq!(
        double.requests().len() as u32,
        AwsSettings::default().max_attempts
    );
}

#[tokio::test]
async fn a_refused_request_is_not_retried() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    double.fail_next([Fault::validation()]);
    let store = store(&double).await;
    let error = store
        .put_record(GROUP, &record("AMZN", "2026-11-21T14:31:00.000Z", "3"))
        .await
        .unwrap_err();
    assert!(!error.is_transient(), "{error}");
    assert!(error.to_string().contains("ValidationError"), "{error}");
    assert_eq!(double.requests().len(), 1);
}

#[tokio::test]
async fn get_records_reads_the_latest_record_of_each_identifier() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    let store = store(&double).await;
    store
        .put_record(GROUP, &record("AMZN", "2026-11-21T14:32:00.000Z", "5"))
        .await
        .unwrap();
    // An older window arriving late does not replace the newer one online.
    store
        .put_record(GROUP, &record("AMZN", "2026-11-21T14:31:00.000Z", "3"))
        .await
        .unwrap();
    store
        .put_record(GROUP, &record("MSFT", "2026-11-21T14:32:00.000Z", "7"))
        .await
        .unwrap();

    let ids: Vec<String> = ["AMZN", "MSFT", "GOOGL"].map(String::from).to_vec();
    let mut found = store.get_records(GROUP, &ids).await.unwrap();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(found.len(), 2, "GOOGL has no record");
    assert_eq!(found[0].0, "AMZN");
    assert_eq!(found[0].1.get("count"), Some("5"));
    assert_eq!(
        found[1].1.get("window_end"),
        Some("2026-11-21T14:32:00.000Z")
    );
    let request = double.requests().pop().unwrap();
    assert_eq!(request.path, "/BatchGetRecord");
    assert_eq!(
        request.body["Identifiers"][0]["RecordIdentifiersValueAsString"],
        serde_json::json!(["AMZN", "MSFT", "GOOGL"])
    );
}
