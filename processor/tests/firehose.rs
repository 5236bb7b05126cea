//! `processor run --firehose-stream` against the embedded broker and a Firehose stream on
//! `moto_server` delivering to S3: every aggregate committed to the output topic lands in the
//! bucket exactly once, newline-delimited, and the metrics count what the sink sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{cluster, inputs, json_lines, produce, read_all, signal, wait_for};
use pipeline_aws::AwsSettings;
use pipeline_aws::moto::MotoServer;
use serde_json::Value;

const STREAM: &str = "aggregates-to-lake";

fn create_stream(moto: &MotoServer) {
    moto.create_bucket("lake");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = AwsSettings::emulator(moto.url()).load().await;
        aws_sdk_firehose::Client::new(&config)
            .create_delivery_stream()
            .delivery_stream_name(STREAM)
            .extended_s3_destination_configuration(
                aws_sdk_firehose::types::ExtendedS3DestinationConfiguration::builder()
                    .role_arn("arn:aws:iam::123456789012:role/firehose")
                    .bucket_arn("arn:aws:s3:::lake")
                    .prefix("aggregates/")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    });
}

#[test]
fn committed_aggregates_land_in_the_lake_once_each() {
    let moto = MotoServer::start();
    create_stream(&moto);
    let cluster = cluster();
    let inputs = inputs();
    produce(&cluster.settings, "ticks", &inputs);

    let mut child = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args(["run", "--brokers", &cluster.kafka.bootstrap_servers()])
        .args(["--group", "lake", "--health-addr", "127.0.0.1:0"])
        .args(["--metrics-interval-secs", "1", "--firehose-stream", STREAM])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", moto.url())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = json_lines(child.stderr.take().unwrap());
    let metrics = json_lines(child.stdout.take().unwrap());
    let (mut seen_logs, mut seen_metrics) = (Vec::new(), Vec::new());
    wait_for(&logs, &mut seen_logs, "the Firehose sink", |l| {
        (l["message"] == "aggregates also go to Firehose").then_some(())
    });

    // Everything taken in and the sink caught up with the aggregates committed so far.
    let (mut records_in, mut sent) = (0, 0);
    wait_for(&metrics, &mut seen_metrics, "all input processed", |m| {
        records_in += m["RecordsIn"].as_u64().unwrap_or(0);
        sent += m["SinkRecordsSent"].as_u64().unwrap_or(0);
        (records_in >= inputs.len() as u64 && sent > 0).then_some(())
    });
    signal(&child, "TERM");
    let (exited, exit) = mpsc::channel();
    std::thread::spawn(move || exited.send(child.wait()));
    let status = exit
        .recv_timeout(Duration::from_secs(60))
        .expect("still running a minute after SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let rest: Vec<Value> = metrics.iter().collect();
    let (sent_total, failed_total) = seen_metrics.iter().chain(&rest).fold((0, 0), |(s, f), m| {
        (
            s + m["SinkRecordsSent"].as_u64().unwrap_or(0),
            f + m["SinkRecordsFailed"].as_u64().unwrap_or(0),
        )
    });

    // The output topic holds the committed aggregates (the last window of each partition is
    // still open: the service does not close windows when it stops).
    let committed: Vec<Value> = read_all(&cluster.settings, "aggregates", 3, 1)
        .into_iter()
        .map(|(_, payload, _)| serde_json::from_slice(&payload).unwrap())
        .collect();
    assert!(committed.len() >= 6, "{} aggregates", committed.len());
    let mut want: Vec<String> = committed
        .iter()
        .map(|a| a["aggregate_id"].as_str().unwrap().to_owned())
        .collect();
    want.sort();

    let mut got = Vec::new();
    for (key, body) in moto.objects("lake") {
        assert!(key.starts_with("aggregates/"), "{key}");
        let text = String::from_utf8(body).unwrap();
        assert!(text.ends_with('\n'), "{key}: not newline-delimited");
        for line in text.lines() {
            let aggregate: Value = serde_json::from_str(line).unwrap();
            // The lake holds exactly what the topic holds.
            assert!(committed.contains(&aggregate), "{line}");
            got.push(aggregate["aggregate_id"].as_str().unwrap().to_owned());
        }
    }
    got.sort();
    assert_eq!(
        got, want,
        "each committed aggregate in the lake exactly once"
    );
    assert_eq!((sent_total, failed_total), (want.len() as u64, 0));
}
