//! The built feature-writer invoked for real through the Lambda Runtime API emulator
//! (`cargo lambda watch` + `cargo lambda invoke`) with the MSK event fixture, configured only by
//! environment variables as in AWS: the Feature Store runtime is the HTTP double, the failure
//! queue is SQS on `moto_server`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use pipeline_aws::AwsSettings;
use pipeline_testkit::double::{Fault, FeatureStoreDouble};
use pipeline_testkit::emulator::{Function, RuntimeEmulator};
use pipeline_testkit::moto::MotoServer;

const GROUP: &str = "stock-ticks-it";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/msk-aggregates-event.json")
}

struct Setup {
    moto: MotoServer,
    double: FeatureStoreDouble,
    queue_url: String,
    emulator: RuntimeEmulator,
    function: Function,
}

async fn setup() -> Setup {
    let moto = MotoServer::start();
    let aws = AwsSettings::emulator(moto.url()).load().await;
    let queue_url = aws_sdk_sqs::Client::new(&aws)
        .create_queue()
        .queue_name("feature-writer-failures")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let double = FeatureStoreDouble::start("ticker", "window_end");
    let emulator = RuntimeEmulator::start(env!("CARGO_MANIFEST_DIR"));
    let function = emulator.start_function(
        "feature-writer",
        Path::new(env!("CARGO_BIN_EXE_feature-writer")),
        &[
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_ENDPOINT_URL", moto.url().into()),
            (
                "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME",
                double.url().into(),
            ),
            ("PIPELINE", "stock-ticks".into()),
            ("FEATURE_GROUP_NAME", GROUP.into()),
            ("FAILURE_QUEUE_URL", queue_url.clone()),
        ],
    );
    Setup {
        moto,
        double,
        queue_url,
        emulator,
        function,
    }
}

#[tokio::test]
async fn the_built_function_writes_the_batch_and_sets_the_bad_record_aside() {
    let mut it = setup().await;

    let report = it.emulator.invoke("feature-writer", &fixture()).unwrap();

    assert_eq!(
        report,
        serde_json::json!({"records": 5, "written": 4, "set_aside": 1, "refused": 0})
    );
    assert!(it.function.running());
    assert_eq!(
        it.double.online(GROUP, "AMZN").unwrap()["window_end"],
        "2026-11-21T14:32:00.000Z"
    );
    for ticker in ["AAPL", "MSFT"] {
        assert!(it.double.online(GROUP, ticker).is_some(), "{ticker}");
    }
    let aws = AwsSettings::emulator(it.moto.url()).load().await;
    let received = aws_sdk_sqs::Client::new(&aws)
        .receive_message()
        .queue_url(&it.queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    assert_eq!(received.messages().len(), 1);
}

#[tokio::test]
async fn a_store_that_keeps_refusing_fails_the_invocation_so_the_batch_is_retried() {
    let it = setup().await;
    it.double.fail_always(Some(Fault::throttling()));

    let error = it
        .emulator
        .invoke("feature-writer", &fixture())
        .unwrap_err();

    assert!(
        error.contains("were not written; the batch will be retried"),
        "{error}"
    );
    assert!(it.double.online(GROUP, "AMZN").is_none());
}
