//! Paths the double does not model, with `aws-smithy-mocks`: identifiers the service leaves
//! unprocessed are asked for again; per-record errors are surfaced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_sagemakerfeaturestoreruntime::Client;
use aws_sdk_sagemakerfeaturestoreruntime::operation::batch_get_record::BatchGetRecordOutput;
use aws_sdk_sagemakerfeaturestoreruntime::types::{
    BatchGetRecordError, BatchGetRecordIdentifier, BatchGetRecordResultDetail, FeatureValue,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use pipeline_aws::{FeatureStore, SdkFeatureStore};

fn detail(id: &str) -> BatchGetRecordResultDetail {
    BatchGetRecordResultDetail::builder()
        .feature_group_name("g")
        .record_identifier_value_as_string(id)
        .record(
            FeatureValue::builder()
                .feature_name("ticker")
                .value_as_string(id)
                .build(),
        )
        .expires_at("")
        .build()
}

#[tokio::test]
async fn unprocessed_identifiers_are_asked_for_again() {
    let first = mock!(Client::batch_get_record)
        .match_requests(|r| {
            r.identifiers()[0]
                .record_identifiers_value_as_string()
                .len()
                == 2
        })
        .then_output(|| {
            BatchGetRecordOutput::builder()
                .records(detail("AMZN"))
                .set_errors(Some(vec![]))
                .unprocessed_identifiers(
                    BatchGetRecordIdentifier::builder()
                        .feature_group_name("g")
                        .record_identifiers_value_as_string("MSFT")
                        .build(),
                )
                .build()
        });
    let second = mock!(Client::batch_get_record)
        .match_requests(|r| {
            r.identifiers()[0].record_identifiers_value_as_string() == ["MSFT".to_owned()]
        })
        .then_output(|| {
            BatchGetRecordOutput::builder()
                .records(detail("MSFT"))
                .set_errors(Some(vec![]))
                .set_unprocessed_identifiers(Some(vec![]))
                .build()
        });
    let client = mock_client!(
        aws_sdk_sagemakerfeaturestoreruntime,
        RuleMode::Sequential,
        [&first, &second]
    );
    let store = SdkFeatureStore::from_client(client);
    let found = store
        .get_records("g", &["AMZN".into(), "MSFT".into()])
        .await
        .unwrap();
    let ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["AMZN", "MSFT"]);
    assert_eq!(first.num_calls(), 1);
    assert_eq!(second.num_calls(), 1);
}

#[tokio::test]
async fn a_record_error_is_surfaced_with_its_identifier() {
    let rule = mock!(Client::batch_get_record).then_output(|| {
        BatchGetRecordOutput::builder()
            .set_records(Some(vec![]))
            .errors(
                BatchGetRecordError::builder()
                    .feature_group_name("g")
                    .record_identifier_value_as_string("AMZN")
                    .error_code("AccessDenied")
                    .error_message("not allowed")
                    .build(),
            )
            .set_unprocessed_identifiers(Some(vec![]))
            .build()
    });
    let client = mock_client!(aws_sdk_sagemakerfeaturestoreruntime, [&rule]);
    let error = SdkFeatureStore::from_client(client)
        .get_records("g", &["AMZN".into()])
        .await
        .unwrap_err();
    assert!(!error.is_transient());
    assert!(error.to_string().contains("AccessDenied"), "{error}");
    assert!(error.to_string().contains("`AMZN`"), "{error}");
}
