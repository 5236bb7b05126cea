//! The local feature store keeps the Feature Store's semantics: the online view holds the latest
//! record per identifier by event time whatever order writes arrive in, the offline view keeps
//! every write, and a write the Feature Store would refuse stores nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use pipeline_core::features::{FeatureRecord, record_from_aggregate};
use pipeline_core::store::{FeatureStore, ServiceError as AwsError};
use pipeline_core::{STOCK_TICKS_SPEC, Spec};
use pipeline_local::{SqliteFeatureStore, StoreCounts};

const GROUP: &str = "stock-ticks-local";

fn spec() -> Spec {
    Spec::from_toml(STOCK_TICKS_SPEC, "built-in").unwrap()
}

fn temp_file(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("features-{name}-{}.sqlite", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

/// An aggregate of AMZN for the minute ending at `minute`, closing at `close`.
fn record(spec: &Spec, ticker: &str, minute: u32, close: &str) -> FeatureRecord {
    let start = minute - 1;
    let json = format!(
        r#"{{"aggregate_id":"{ticker}:{start}","ticker":"{ticker}","window_start":"2026-11-21T14:{start:02}:00.000Z","window_end":"2026-11-21T14:{minute:02}:00.000Z","session_date":"2026-11-21","count":3,"volume":300,"open":187.2500,"high":190.0000,"low":180.0000,"close":{close},"vwap":187.250000,"avg_price":187.250000,"notional":56175.0000}}"#
    );
    record_from_aggregate(spec, json.as_bytes()).unwrap()
}

async fn latest(store: &SqliteFeatureStore, ticker: &str) -> Option<FeatureRecord> {
    store
        .get_records(GROUP, &[ticker.to_owned()])
        .await
        .unwrap()
        .pop()
        .map(|(_, r)| r)
}

#[tokio::test]
async fn an_older_event_time_does_not_replace_a_newer_one_online_but_is_kept_offline() {
    let spec = spec();
    let path = temp_file("order");
    let store = SqliteFeatureStore::open(&path, &spec, GROUP).unwrap();
    // 14:31, then a late 14:30, then 14:32, then a second write of 14:32.
    for (minute, close) in [
        (31, "187.5000"),
        (30, "186.0000"),
        (32, "188.0000"),
        (32, "188.2500"),
    ] {
        store
            .put_record(GROUP, &record(&spec, "AMZN", minute, close))
            .await
            .unwrap();
    }
    store
        .put_record(GROUP, &record(&spec, "AAPL", 30, "230.0000"))
        .await
        .unwrap();
    let amzn = latest(&store, "AMZN").await.unwrap();
    assert_eq!(amzn.get("window_end"), Some("2026-11-21T14:32:00.000Z"));
    assert_eq!(
        amzn.get("close"),
        Some("188.25"),
        "the same event time: the last write wins"
    );
    assert_eq!(amzn.get("count"), Some("3"));
    assert_eq!(
        latest(&store, "AAPL").await.unwrap().get("close"),
        Some("230")
    );
    assert_eq!(latest(&store, "MSFT").await, None, "no record, no answer");
    assert_eq!(
        store.counts().unwrap(),
        StoreCounts {
            online: 2,
            offline: 5
        }
    );
    drop(store);

    // It is a file: reopened, it holds the same.
    let store = SqliteFeatureStore::open(&path, &spec, GROUP).unwrap();
    assert_eq!(store.counts().unwrap().offline, 5);
    let late = record(&spec, "AMZN", 29, "1.0000");
    store.put_record(GROUP, &late).await.unwrap();
    assert_eq!(
        latest(&store, "AMZN").await.unwrap().get("window_end"),
        Some("2026-11-21T14:32:00.000Z")
    );
}

#[tokio::test]
async fn writes_the_feature_store_would_refuse_store_nothing() {
    let spec = spec();
    let store = SqliteFeatureStore::open(&temp_file("refused"), &spec, GROUP).unwrap();
    let good = record(&spec, "AMZN", 31, "187.5000");
    let without = |name: &str| FeatureRecord {
        values: good
            .values
            .iter()
            .filter(|(n, _)| n != name)
            .cloned()
            .collect(),
    };
    let with = |name: &str, value: &str| FeatureRecord {
        values: good
            .values
            .iter()
            .map(|(n, v)| {
                (
                    n.clone(),
                    if n == name {
                        value.to_owned()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect(),
    };
    let mut unknown = good.clone();
    unknown.values.push(("colour".into(), "red".into()));
    let cases = [
        (without("ticker"), "record identifier `ticker`"),
        (without("window_end"), "event time `window_end`"),
        (with("window_end", "yesterday"), "not an ISO-8601 time"),
        (with("count", "3.5"), "`count` is Integral"),
        (with("vwap", "cheap"), "`vwap` is Fractional"),
        (unknown, "`colour` is not defined"),
    ];
    for (record, expected) in cases {
        match store.put_record(GROUP, &record).await {
            Err(AwsError::Refused { code, message, .. }) => {
                assert_eq!(code, "ValidationException");
                assert!(message.contains(expected), "{message}: expected {expected}");
            }
            other => panic!("expected a refusal containing {expected}, got {other:?}"),
        }
    }
    match store.put_record("another-group", &good).await {
        Err(AwsError::Refused { code, .. }) => assert_eq!(code, "ResourceNotFound"),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.counts().unwrap(), StoreCounts::default());
    store.put_record(GROUP, &good).await.unwrap();
    assert_eq!(
        store.counts().unwrap(),
        StoreCounts {
            online: 1,
            offline: 1
        }
    );
}
