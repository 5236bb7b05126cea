//! CloudWatch metrics against `moto_server`: every datum arrives, with its dimensions, in as
//! many calls as the API's limit needs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::SystemTime;

use pipeline_aws::{AwsSettings, CloudWatchMetrics, Datum, MetricsSink, Unit};
use pipeline_testkit::moto::MotoServer;

#[tokio::test]
async fn metrics_land_in_cloudwatch_with_their_dimensions() {
    let moto = MotoServer::start();
    let config = AwsSettings::emulator(moto.url()).load().await;
    let sink = CloudWatchMetrics::new(&config);
    // More than one call's worth: 1,000 per PutMetricData.
    let data: Vec<Datum> = (0..1_203)
        .map(|i| Datum {
            name: "FeatureAgeSeconds".into(),
            dimensions: vec![
                ("Environment".into(), "test".into()),
                ("Ticker".into(), format!("T{i}")),
            ],
            value: i as f64,
            unit: Unit::Seconds,
            timestamp: SystemTime::now(),
        })
        .collect();
    sink.put("StreamingPipeline/Checker", &data).await.unwrap();

    let client = aws_sdk_cloudwatch::Client::new(&config);
    let mut names = Vec::new();
    let mut pages = client
        .list_metrics()
        .namespace("StreamingPipeline/Checker")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for metric in page.unwrap().metrics() {
            assert_eq!(metric.metric_name(), Some("FeatureAgeSeconds"));
            let ticker = metric
                .dimensions()
                .iter()
                .find(|d| d.name() == Some("Ticker"))
                .and_then(|d| d.value())
                .unwrap()
                .to_owned();
            names.push(ticker);
        }
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 1_203);
}
