//! The feature-writer Lambda: configuration at cold start, then the handler per batch.

use lambda_runtime::{LambdaEvent, service_fn};
use pipeline_aws::{AwsSettings, SdkFeatureStore, SqsFailureSink};

#[tokio::main]
async fn main() -> Result<(), pipeline_aws::lambda::StartError> {
    pipeline_aws::lambda::init_logging();
    let config = feature_writer::Config::from_env()?;
    let aws = AwsSettings::default().load().await;
    let store = SdkFeatureStore::new(&aws);
    let failures = SqsFailureSink::new(&aws, &config.failure_queue_url);
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| async {
        feature_writer::handle(event.payload, &config, &store, &failures)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await?;
    Ok(())
}
