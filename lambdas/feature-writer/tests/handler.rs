//! The feature-writer's handler through its ports: the Feature Store runtime's HTTP double (the
//! real SDK client over HTTP), SQS on `moto_server`, and in-memory ports where a test needs to
//! watch the handler's concurrency or make the failure queue fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lambda_events::event::kafka::KafkaEvent;
use feature_writer::{Config, HandlerError, Report, handle};
use pipeline_aws::{
    AwsError, AwsSettings, FailedRecord, FailureSink, FeatureRecord, FeatureStore, SdkFeatureStore,
    SqsFailureSink,
};
use pipeline_core::{STOCK_TICKS_SPEC, Spec};
use pipeline_testkit::double::{Fault, FeatureStoreDouble};
use pipeline_testkit::moto::MotoServer;

const GROUP: &str = "stock-ticks-test";

fn event() -> KafkaEvent {
    serde_json::from_str(include_str!("fixtures/msk-aggregates-event.json")).unwrap()
}

fn config(concurrency: usize) -> Config {
    Config {
        feature_group: GROUP.into(),
        failure_queue_url: "unused".into(),
        concurrency,
        spec: Arc::new(Spec::from_toml(STOCK_TICKS_SPEC, "built-in").unwrap()),
    }
}

/// Keeps what it is sent; fails every send when `broken`.
#[derive(Default)]
struct MemoryFailures {
    sent: Mutex<Vec<FailedRecord>>,
    broken: bool,
}

impl FailureSink for MemoryFailures {
    async fn send(&self, record: &FailedRecord) -> Result<(), AwsError> {
        if self.broken {
            return Err(AwsError::Transient {
                operation: "SendMessage",
                code: "ServiceUnavailable".into(),
                message: "queue unavailable".into(),
            });
        }
        self.sent.lock().unwrap().push(record.clone());
        Ok(())
    }
}

/// The real SDK client against the double. Each test gets a retry partition of its own: the
/// SDK shares one retry token bucket per service across a process, so one test's throttling
/// storm would otherwise leave the next with no retries to spend.
async fn sdk_store(double: &FeatureStoreDouble) -> SdkFeatureStore {
    use aws_sdk_sagemakerfeaturestoreruntime::config::{Builder, retry::RetryPartition};
    let config = AwsSettings::emulator(double.url()).load().await;
    let client = aws_sdk_sagemakerfeaturestoreruntime::Client::from_conf(
        Builder::from(&config)
            .retry_partition(RetryPartition::new(format!("test-{}", double.url())))
            .build(),
    );
    SdkFeatureStore::from_client(client)
}

#[tokio::test]
async fn every_aggregate_is_written_and_the_bad_record_set_aside() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    let store = sdk_store(&double).await;
    let failures = MemoryFailures::default();

    let report = handle(event(), &config(8), &store, &failures)
        .await
        .unwrap();

    assert_eq!(
        report,
        Report {
            records: 5,
            written: 4,
            set_aside: 1,
            refused: 0,
        }
    );
    assert_eq!(double.requests().len(), 4);
    // The online store keeps the newest window of each ticker, whatever order the writes ran in.
    let amzn = double.online(GROUP, "AMZN").unwrap();
    assert_eq!(amzn["window_end"], "2026-11-21T14:32:00.000Z");
    assert_eq!(amzn["count"], "5");
    assert_eq!(amzn["high"], "188.0");
    assert_eq!(double.online(GROUP, "AAPL").unwrap()["volume"], "150");
    assert_eq!(double.online(GROUP, "MSFT").unwrap()["open"], "415.0");

    let sent = failures.sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    let bad = &sent[0];
    assert_eq!(
        (bad.topic.as_str(), bad.partition, bad.offset),
        ("aggregates", 1, 18)
    );
    assert_eq!(bad.source, "feature-writer");
    // aws_lambda_events reads the millisecond timestamp through an f64 and can lose its last
    // millisecond; the coordinates (topic, partition, offset) are exact.
    assert!(
        (bad.timestamp_ms - 1_795_271_460_126).abs() <= 1,
        "{}",
        bad.timestamp_ms
    );
    assert!(
        bad.reason
            .starts_with("not an aggregate: not a JSON object"),
        "{}",
        bad.reason
    );
    // The original bytes, untouched.
    let original = event().records["aggregates-1"][1].value.clone();
    assert_eq!(bad.value_base64, original);
}

#[tokio::test]
async fn throttled_writes_are_retried_and_the_batch_succeeds() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    double.fail_next([
        Fault::throttling(),
        Fault::unavailable(),
        Fault::throttling(),
    ]);
    let store = sdk_store(&double).await;

    let report = handle(event(), &config(1), &store, &MemoryFailures::default())
        .await
        .unwrap();

    assert_eq!(report.written, 4);
    assert_eq!(
        double.requests().len(),
        4 + 3,
        "three refused attempts were retried"
    );
    for ticker in ["AMZN", "AAPL", "MSFT"] {
        assert!(double.online(GROUP, ticker).is_some(), "{ticker}");
    }
}

#[tokio::test]
async fn writes_that_keep_failing_fail_the_invocation() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    double.fail_always(Some(Fault::unavailable()));
    let store = sdk_store(&double).await;

    let error = handle(event(), &config(4), &store, &MemoryFailures::default())
        .await
        .unwrap_err();

    let HandlerError::Writes {
        failed,
        total,
        first,
    } = &error
    else {
        panic!("expected a write failure, got {error}");
    };
    assert_eq!((*failed, *total), (4, 4));
    assert!(matches!(first, AwsError::Transient { .. }), "{first}");
    assert!(
        error.to_string().contains("the batch will be retried"),
        "{error}"
    );
}

#[tokio::test]
async fn a_refused_record_is_set_aside_with_its_coordinates_and_the_batch_goes_on() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    // The first write (aggregates-0 at offset 41, with one write at a time) is refused.
    double.fail_next([Fault::validation()]);
    let store = sdk_store(&double).await;
    let failures = MemoryFailures::default();

    let report = handle(event(), &config(1), &store, &failures)
        .await
        .unwrap();

    assert_eq!(
        report,
        Report {
            records: 5,
            written: 3,
            set_aside: 1,
            refused: 1,
        }
    );
    assert_eq!(double.requests().len(), 4, "a refusal is not retried");
    let sent = failures.sent.lock().unwrap();
    let refused: Vec<&FailedRecord> = sent
        .iter()
        .filter(|r| r.reason.contains("refused"))
        .collect();
    assert_eq!(refused.len(), 1, "{sent:?}");
    assert_eq!(
        (
            refused[0].topic.as_str(),
            refused[0].partition,
            refused[0].offset
        ),
        ("aggregates", 0, 41)
    );
    assert!(
        refused[0].reason.contains("ValidationError"),
        "{}",
        refused[0].reason
    );
    assert_eq!(
        refused[0].value_base64,
        event().records["aggregates-0"][0].value.clone()
    );
}

#[tokio::test]
async fn a_deployment_refusal_fails_the_invocation_and_sets_nothing_aside() {
    // No such feature group: every record would be refused alike, so the batch is retried
    // (and alarmed on) rather than emptied into the failure queue.
    let double = FeatureStoreDouble::start("ticker", "window_end");
    double.fail_always(Some(Fault {
        status: 400,
        code: "ResourceNotFound".into(),
    }));
    let store = sdk_store(&double).await;
    let failures = MemoryFailures::default();

    let error = handle(event(), &config(4), &store, &failures)
        .await
        .unwrap_err();

    let HandlerError::Writes { failed, first, .. } = &error else {
        panic!("expected a write failure, got {error}");
    };
    assert_eq!(*failed, 4);
    assert!(!feature_writer::is_poison(first), "{first}");
    assert!(
        failures
            .sent
            .lock()
            .unwrap()
            .iter()
            .all(|r| !r.reason.contains("refused")),
        "nothing refused is set aside"
    );
}

#[tokio::test]
async fn a_refusal_beside_a_throttled_write_waits_for_the_retried_batch() {
    // One record refused, another still throttled after the SDK's retries: the batch fails and
    // the refused record is not queued yet, so the retry cannot queue it twice.
    let double = FeatureStoreDouble::start("ticker", "window_end");
    let mut faults = vec![Fault::validation()];
    faults.extend(std::iter::repeat_n(Fault::throttling(), 5));
    double.fail_next(faults);
    let store = sdk_store(&double).await;
    let failures = MemoryFailures::default();

    let error = handle(event(), &config(1), &store, &failures)
        .await
        .unwrap_err();

    let HandlerError::Writes { failed, first, .. } = &error else {
        panic!("expected a write failure, got {error}");
    };
    assert_eq!(*failed, 1);
    assert!(first.is_transient(), "{first}");
    assert!(
        failures
            .sent
            .lock()
            .unwrap()
            .iter()
            .all(|r| !r.reason.contains("refused"))
    );
}

#[tokio::test]
async fn a_record_that_cannot_be_set_aside_fails_the_invocation_before_any_write() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    let store = sdk_store(&double).await;
    let failures = MemoryFailures {
        broken: true,
        ..MemoryFailures::default()
    };

    let error = handle(event(), &config(8), &store, &failures)
        .await
        .unwrap_err();

    assert!(
        matches!(
            &error,
            HandlerError::SetAside {
                partition: 1,
                offset: 18,
                ..
            }
        ),
        "{error}"
    );
    assert!(double.requests().is_empty());
}

/// Counts the writes in flight at once.
#[derive(Default)]
struct CountingStore {
    in_flight: AtomicUsize,
    most: AtomicUsize,
    written: Mutex<Vec<String>>,
}

impl FeatureStore for CountingStore {
    async fn put_record(&self, _group: &str, record: &FeatureRecord) -> Result<(), AwsError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        // Let every other ready write start before this one ends.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.written
            .lock()
            .unwrap()
            .push(record.get("aggregate_id").unwrap().to_owned());
        Ok(())
    }

    async fn get_records(
        &self,
        _group: &str,
        _identifiers: &[String],
    ) -> Result<Vec<(String, FeatureRecord)>, AwsError> {
        unreachable!("the writer only writes")
    }
}

#[tokio::test]
async fn concurrency_is_bounded_by_the_configuration() {
    for limit in [1, 2, 8] {
        let store = CountingStore::default();
        handle(event(), &config(limit), &store, &MemoryFailures::default())
            .await
            .unwrap();
        assert_eq!(
            store.most.load(Ordering::SeqCst),
            limit.min(4),
            "limit {limit}"
        );
        assert_eq!(store.written.lock().unwrap().len(), 4);
    }
}

#[tokio::test]
async fn the_bad_record_reaches_the_sqs_queue_with_its_coordinates() {
    let moto = MotoServer::start();
    let aws = AwsSettings::emulator(moto.url()).load().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue = sqs
        .create_queue()
        .queue_name("feature-writer-failures")
        .send()
        .await
        .unwrap();
    let queue_url = queue.queue_url().unwrap();
    let double = FeatureStoreDouble::start("ticker", "window_end");

    handle(
        event(),
        &config(8),
        &sdk_store(&double).await,
        &SqsFailureSink::new(&aws, queue_url),
    )
    .await
    .unwrap();

    let received = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let messages = received.messages();
    assert_eq!(messages.len(), 1);
    let body: serde_json::Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(body["topic"], "aggregates");
    assert_eq!(body["partition"], 1);
    assert_eq!(body["offset"], 18);
    assert_eq!(body["source"], "feature-writer");
    assert_eq!(
        body["value_base64"].as_str(),
        event().records["aggregates-1"][1].value.as_deref()
    );
}

#[test]
fn configuration_names_every_bad_variable() {
    let vars: HashMap<&str, &str> = [("WRITE_CONCURRENCY", "0"), ("PIPELINE", "ticks")].into();
    let error = Config::from_lookup(|name| vars.get(name).map(|v| v.to_string())).unwrap_err();
    let text = error.to_string();
    for expected in [
        "FEATURE_GROUP_NAME: not set",
        "FAILURE_QUEUE_URL: not set",
        "WRITE_CONCURRENCY: expected a whole number from 1 to 64, found `0`",
        "PIPELINE: expected the name of a spec in config/pipelines/ built into this function: \
         orders, page-views, sensor-readings, stock-ticks, found `ticks`",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
}

#[test]
fn configuration_reads_the_environment_with_defaults() {
    let vars: HashMap<&str, &str> = [
        ("FEATURE_GROUP_NAME", "stock-ticks-dev"),
        ("FAILURE_QUEUE_URL", "https://sqs.example/q"),
        ("PIPELINE", "stock-ticks"),
    ]
    .into();
    let config = Config::from_lookup(|name| vars.get(name).map(|v| v.to_string())).unwrap();
    assert_eq!(config.feature_group, "stock-ticks-dev");
    assert_eq!(config.concurrency, 8);
    assert_eq!(config.spec.name, "stock-ticks");
}

/// An event of `n` aggregates, one per ticker (`T000`, `T001`, ...), made from the fixture's
/// first: what a busy minute hands the Lambda.
fn busy_event(n: usize) -> (KafkaEvent, Vec<String>) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut event = event();
    let template = event.records["aggregates-0"][0].clone();
    let json: serde_json::Value =
        serde_json::from_slice(&b64.decode(template.value.as_deref().unwrap()).unwrap()).unwrap();
    let tickers: Vec<String> = (0..n).map(|i| format!("T{i:03}")).collect();
    let records = tickers
        .iter()
        .enumerate()
        .map(|(i, ticker)| {
            let mut aggregate = json.clone();
            aggregate["ticker"] = ticker.as_str().into();
            aggregate["aggregate_id"] = format!("{ticker}:2026-11-21T14:31:00.000Z").into();
            let mut record = template.clone();
            record.offset = i as i64;
            record.key = Some(b64.encode(ticker));
            record.value = Some(b64.encode(aggregate.to_string()));
            record
        })
        .collect();
    event.records = HashMap::from([("aggregates-0".to_owned(), records)]);
    (event, tickers)
}

/// A throttling storm: the first 300 PutRecord calls for a batch of 100 aggregates (8 in
/// flight) are throttled. The SDK retries each with backoff; writes that outlast their retries
/// fail the invocation, and the event source mapping delivers the whole batch again, as in AWS,
/// until an invocation succeeds. Then every aggregate is in the online store with its values,
/// nothing was set aside, and every throttled call was retried.
#[tokio::test]
async fn a_throttling_storm_is_ridden_out_by_retries_and_redelivery() {
    let double = FeatureStoreDouble::start("ticker", "window_end");
    let storm = 300;
    double.fail_next(std::iter::repeat_n(Fault::throttling(), storm));
    let store = sdk_store(&double).await;
    let failures = MemoryFailures::default();
    let (event, tickers) = busy_event(100);

    let mut failed_invocations = 0;
    let report = loop {
        match handle(event.clone(), &config(8), &store, &failures).await {
            Ok(report) => break report,
            Err(HandlerError::Writes { failed, total, .. }) => {
                assert!(failed > 0 && total == 100, "{failed} of {total}");
                failed_invocations += 1;
                assert!(failed_invocations < 10, "the storm never passed");
            }
            Err(other) => panic!("unexpected failure: {other}"),
        }
    };

    assert_eq!(report.written, 100);
    assert!(
        failed_invocations >= 1,
        "a storm longer than the retries fails an invocation"
    );
    assert!(
        failures.sent.lock().unwrap().is_empty(),
        "nothing set aside"
    );
    for ticker in &tickers {
        let online = double
            .online(GROUP, ticker)
            .unwrap_or_else(|| panic!("{ticker} lost"));
        assert_eq!(online["count"], "3");
        assert_eq!(online["window_end"], "2026-11-21T14:31:00.000Z");
    }
    assert!(
        double.requests().len() >= storm + 100,
        "{} requests for {storm} throttled and 100 written",
        double.requests().len()
    );
}
