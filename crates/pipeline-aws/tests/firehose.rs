//! The Firehose sink: against `moto_server` (records land in S3, each exactly once,
//! newline-delimited and decodable) and with `aws-smithy-mocks` (partial failures, throttling,
//! permanent failures, oversized records).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_firehose::Client;
use aws_sdk_firehose::operation::put_record_batch::PutRecordBatchOutput;
use aws_sdk_firehose::types::{
    BufferingHints, ExtendedS3DestinationConfiguration, PutRecordBatchResponseEntry,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use pipeline_aws::AwsSettings;
use pipeline_aws::firehose;
use pipeline_aws::firehose::{EntryRetry, FirehoseSink, MAX_RECORD_BYTES};
use pipeline_aws::moto::MotoServer;

const STREAM: &str = "stock-ticks-test-aggregates";

fn aggregate(i: usize) -> String {
    format!(
        r#"{{"aggregate_id":"T{}:{}","ticker":"T{}","window_end":"2026-11-21T14:31:00.000Z","count":{i}}}"#,
        i % 7,
        i,
        i % 7
    )
}

fn quick() -> EntryRetry {
    EntryRetry {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    }
}

#[tokio::test]
async fn every_aggregate_lands_in_s3_once_as_newline_delimited_json() {
    let moto = MotoServer::start();
    moto.create_bucket("lake");
    let config = AwsSettings::emulator(moto.url()).load().await;
    Client::new(&config)
        .create_delivery_stream()
        .delivery_stream_name(STREAM)
        .extended_s3_destination_configuration(
            ExtendedS3DestinationConfiguration::builder()
                .role_arn("arn:aws:iam::123456789012:role/firehose")
                .bucket_arn("arn:aws:s3:::lake")
                .prefix("aggregates/")
                .buffering_hints(BufferingHints::builder().size_in_mbs(1).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let sink = FirehoseSink::new(&config, STREAM);
    // Two calls' worth, sent in two sends, as two transactions would.
    let lines: Vec<String> = (0..1_234).map(aggregate).collect();
    let first = sink.send(&lines[..700]).await;
    let second = sink.send(&lines[700..]).await;
    assert!(
        first.complete() && second.complete(),
        "{first:?} {second:?}"
    );
    assert_eq!((first.sent, first.calls), (700, 2));
    assert_eq!((second.sent, second.calls), (534, 2));

    let objects = moto.objects("lake");
    assert!(!objects.is_empty());
    let mut ids = Vec::new();
    for (key, body) in &objects {
        assert!(key.starts_with("aggregates/"), "{key}");
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.ends_with('\n'), "{key} does not end in a newline");
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{key}: not one JSON document per line ({e}): {line}"));
            ids.push(value["aggregate_id"].as_str().unwrap().to_owned());
        }
    }
    let mut expected: Vec<String> = (0..1_234).map(|i| format!("T{}:{}", i % 7, i)).collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected, "every aggregate exactly once");
}

fn entry_ok(i: usize) -> PutRecordBatchResponseEntry {
    PutRecordBatchResponseEntry::builder()
        .record_id(format!("r{i}"))
        .build()
}

fn entry_failed(code: &str) -> PutRecordBatchResponseEntry {
    PutRecordBatchResponseEntry::builder()
        .error_code(code)
        .error_message(format!("{code} (injected)"))
        .build()
}

/// The data of every record of every `PutRecordBatch` the client sent, call by call.
type Sent = Arc<Mutex<Vec<Vec<String>>>>;

fn recorder() -> Sent {
    Arc::new(Mutex::new(Vec::new()))
}

fn record(sent: &Sent, input: &aws_sdk_firehose::operation::put_record_batch::PutRecordBatchInput) {
    sent.lock().unwrap().push(
        input
            .records()
            .iter()
            .map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap())
            .collect(),
    );
}

#[tokio::test]
async fn only_the_failed_entries_of_a_partial_failure_are_resent() {
    let sent = recorder();
    let (a, b) = (sent.clone(), sent.clone());
    // First answer: entries 1 and 3 of 5 throttled; second: all of the resend accepted.
    let partial = mock!(Client::put_record_batch)
        .match_requests(move |input| {
            record(&a, input);
            true
        })
        .then_output(|| {
            PutRecordBatchOutput::builder()
                .failed_put_count(2)
                .set_request_responses(Some(vec![
                    entry_ok(0),
                    entry_failed("ServiceUnavailableException"),
                    entry_ok(2),
                    entry_failed("InternalFailure"),
                    entry_ok(4),
                ]))
                .build()
                .unwrap()
        });
    let rest = mock!(Client::put_record_batch)
        .match_requests(move |input| {
            record(&b, input);
            true
        })
        .then_output(|| {
            PutRecordBatchOutput::builder()
                .failed_put_count(0)
                .set_request_responses(Some(vec![entry_ok(1), entry_ok(3)]))
                .build()
                .unwrap()
        });
    let client = mock_client!(aws_sdk_firehose, RuleMode::Sequential, [&partial, &rest]);
    let sink = FirehoseSink::from_client(client, STREAM).with_entry_retry(quick());
    let lines: Vec<String> = (0..5).map(aggregate).collect();

    let delivery = sink.send(&lines).await;

    assert!(delivery.complete(), "{delivery:?}");
    assert_eq!((delivery.sent, delivery.retried, delivery.calls), (5, 2, 2));
    let calls = sent.lock().unwrap().clone();
    assert_eq!(calls[0].len(), 5);
    assert_eq!(
        calls[1],
        vec![format!("{}\n", aggregate(1)), format!("{}\n", aggregate(3))]
    );
}

#[tokio::test]
async fn a_record_that_keeps_failing_is_reported_with_its_error_not_dropped() {
    let sent = recorder();
    let seen = sent.clone();
    // Entry 0 is accepted; entry 1 fails on every attempt.
    let first = mock!(Client::put_record_batch).then_output(|| {
        PutRecordBatchOutput::builder()
            .failed_put_count(1)
            .set_request_responses(Some(vec![
                entry_ok(0),
                entry_failed("ServiceUnavailableException"),
            ]))
            .build()
            .unwrap()
    });
    let always = mock!(Client::put_record_batch)
        .match_requests(move |input| {
            record(&seen, input);
            true
        })
        .sequence()
        .output(|| {
            PutRecordBatchOutput::builder()
                .failed_put_count(1)
                .set_request_responses(Some(vec![entry_failed("ServiceUnavailableException")]))
                .build()
                .unwrap()
        })
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_firehose, RuleMode::Sequential, [&first, &always]);
    let sink = FirehoseSink::from_client(client, STREAM).with_entry_retry(quick());

    let delivery = sink.send(&[aggregate(0), aggregate(1)]).await;

    assert!(!delivery.complete());
    assert_eq!(delivery.sent, 1);
    assert_eq!(
        delivery.calls, 4,
        "one call and three resends of the failing entry"
    );
    assert_eq!(delivery.retried, 3);
    assert_eq!(delivery.failed.len(), 1);
    let failed = &delivery.failed[0];
    assert_eq!(
        (failed.index, failed.code.as_str()),
        (1, "ServiceUnavailableException")
    );
    assert!(failed.message.contains("injected"), "{failed:?}");
    // Every resend carried only the failing record.
    assert!(
        sent.lock()
            .unwrap()
            .iter()
            .all(|call| call == &vec![format!("{}\n", aggregate(1))])
    );
}

/// A sink over `rule` whose SDK client retries a whole call 3 times, with a 1 ms backoff.
fn sdk_retrying_sink(rule: &aws_smithy_mocks::Rule) -> FirehoseSink {
    let client = mock_client!(aws_sdk_firehose, RuleMode::Sequential, [rule], |config| {
        config.retry_config(
            aws_sdk_firehose::config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        )
    });
    FirehoseSink::from_client(client, STREAM).with_entry_retry(quick())
}

#[tokio::test]
async fn a_throttled_call_is_retried_whole_by_the_sdk_then_reported() {
    const THROTTLED: &str =
        r#"{"__type":"ThrottlingException","message":"Rate exceeded (injected)"}"#;
    let throttled_then_accepted = mock!(Client::put_record_batch)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .times(2)
        .output(|| {
            PutRecordBatchOutput::builder()
                .failed_put_count(0)
                .set_request_responses(Some(vec![entry_ok(0), entry_ok(1)]))
                .build()
                .unwrap()
        })
        .build();
    let always_throttled = mock!(Client::put_record_batch)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .repeatedly()
        .build();
    // Throttled twice, then accepted: the SDK's standard retries absorb it.
    let sink = sdk_retrying_sink(&throttled_then_accepted);
    let delivery = sink.send(&[aggregate(0), aggregate(1)]).await;
    assert!(delivery.complete(), "{delivery:?}");
    assert_eq!(delivery.sent, 2);

    // Throttled on every attempt: the records are reported failed with the code, not lost.
    let sink = sdk_retrying_sink(&always_throttled);
    let delivery = sink.send(&[aggregate(0), aggregate(1)]).await;
    assert_eq!(delivery.sent, 0);
    assert_eq!(
        delivery
            .failed
            .iter()
            .map(|f| (f.index, f.code.as_str()))
            .collect::<Vec<_>>(),
        vec![(0, "ThrottlingException"), (1, "ThrottlingException")]
    );
}

#[tokio::test]
async fn an_oversized_record_is_refused_counted_and_not_sent() {
    let sent = recorder();
    let seen = sent.clone();
    let accepted = mock!(Client::put_record_batch)
        .match_requests(move |input| {
            record(&seen, input);
            true
        })
        .then_output(|| {
            PutRecordBatchOutput::builder()
                .failed_put_count(0)
                .set_request_responses(Some(vec![entry_ok(0), entry_ok(2)]))
                .build()
                .unwrap()
        });
    let client = mock_client!(aws_sdk_firehose, [&accepted]);
    let sink = FirehoseSink::from_client(client, STREAM).with_entry_retry(quick());
    // With its newline, exactly one byte over the limit.
    let huge = "x".repeat(MAX_RECORD_BYTES);

    let delivery = sink.send(&[aggregate(0), huge, aggregate(2)]).await;

    assert_eq!(delivery.sent, 2);
    assert_eq!(delivery.refused.len(), 1);
    assert_eq!(delivery.refused[0].index, 1);
    assert_eq!(delivery.refused[0].code, "RecordTooLarge");
    assert!(
        delivery.refused[0].message.contains("1024001 bytes"),
        "{:?}",
        delivery.refused
    );
    assert_eq!(sent.lock().unwrap().len(), 1);
    assert_eq!(sent.lock().unwrap()[0].len(), 2);
}

#[test]
fn the_limits_are_the_documented_ones() {
    assert_eq!(firehose::MAX_RECORDS_PER_CALL, 500);
    assert_eq!(firehose::MAX_BYTES_PER_CALL, 4_194_304);
    assert_eq!(MAX_RECORD_BYTES, 1_024_000);
}
