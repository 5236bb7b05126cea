//! Bootstrap brokers from the cluster's ARN. `moto_server` has no GetBootstrapBrokers, so the
//! SDK client is given canned answers with `aws-smithy-mocks`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_kafka::Client;
use aws_sdk_kafka::operation::get_bootstrap_brokers::{
    GetBootstrapBrokersError, GetBootstrapBrokersOutput,
};
use aws_sdk_kafka::types::error::BadRequestException;
use aws_smithy_mocks::{mock, mock_client};
use pipeline_aws::MskClusters;

const ARN: &str = "arn:aws:kafka:eu-west-1:123456789012:cluster/stock-ticks-dev/abc-s1";

#[tokio::test]
async fn the_iam_brokers_of_the_cluster() {
    let rule = mock!(Client::get_bootstrap_brokers)
        .match_requests(|r| r.cluster_arn() == Some(ARN))
        .then_output(|| {
            GetBootstrapBrokersOutput::builder()
                .bootstrap_broker_string_sasl_iam(
                    "boot-abc.c1.kafka-serverless.eu-west-1.amazonaws.com:9098",
                )
                .build()
        });
    let clusters = MskClusters::from_client(mock_client!(aws_sdk_kafka, [&rule]));
    assert_eq!(
        clusters.iam_bootstrap_brokers(ARN).await.unwrap(),
        "boot-abc.c1.kafka-serverless.eu-west-1.amazonaws.com:9098"
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_cluster_without_iam_brokers_says_so() {
    let rule = mock!(Client::get_bootstrap_brokers).then_output(|| {
        GetBootstrapBrokersOutput::builder()
            .bootstrap_broker_string_tls("b-1:9094")
            .build()
    });
    let clusters = MskClusters::from_client(mock_client!(aws_sdk_kafka, [&rule]));
    let error = clusters.iam_bootstrap_brokers(ARN).await.unwrap_err();
    assert!(!error.is_transient());
    assert!(
        error.to_string().contains("is IAM authentication enabled"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unknown_cluster_is_a_refusal_naming_the_operation() {
    let rule = mock!(Client::get_bootstrap_brokers).then_error(|| {
        GetBootstrapBrokersError::BadRequestException(
            BadRequestException::builder()
                .message("cluster not found")
                .build(),
        )
    });
    let clusters = MskClusters::from_client(mock_client!(aws_sdk_kafka, [&rule]));
    let error = clusters.iam_bootstrap_brokers(ARN).await.unwrap_err();
    assert!(!error.is_transient());
    let text = error.to_string();
    assert!(text.contains("GetBootstrapBrokers"), "{text}");
    assert!(text.contains("cluster not found"), "{text}");
}
