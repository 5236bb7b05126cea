//! The checker Lambda: configuration at cold start, then one check per scheduled event.

use lambda_runtime::{LambdaEvent, service_fn};
use pipeline_aws::{AwsSettings, CloudWatchMetrics, SdkFeatureStore};

#[tokio::main]
async fn main() -> Result<(), pipeline_aws::lambda::StartError> {
    pipeline_aws::lambda::init_logging();
    let config = checker::Config::from_env()?;
    let aws = AwsSettings::default().load().await;
    let store = SdkFeatureStore::new(&aws);
    let metrics = CloudWatchMetrics::new(&aws);
    lambda_runtime::run(service_fn(|_event: LambdaEvent<serde_json::Value>| async {
        checker::handle(&config, chrono::Utc::now(), &store, &metrics)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await?;
    Ok(())
}
