//! The topic-creator Lambda: brokers and credentials at cold start, then one reconciliation per
//! invocation (Terraform's `aws_lambda_invocation` on apply).

use lambda_runtime::{LambdaEvent, service_fn};
use pipeline_aws::{AwsSettings, MskClusters};
use pipeline_kafka::{Auth, KafkaSettings};
use topic_creator::Request;
use topic_creator::admin::KafkaAdmin;

#[tokio::main]
async fn main() -> Result<(), pipeline_aws::lambda::StartError> {
    pipeline_aws::lambda::init_logging();
    let endpoint = topic_creator::config_from_env()?;
    let aws = AwsSettings::default().load().await;
    let brokers = endpoint.brokers.resolve(&MskClusters::new(&aws)).await?;
    let auth = if endpoint.msk_iam {
        Auth::MskIam
    } else {
        Auth::Plaintext
    };
    let (settings, iam) = KafkaSettings::with_auth(brokers, auth, &endpoint.region)?;
    let admin = KafkaAdmin::new(&settings, iam)?;
    let admin = &admin;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Request>| async move {
        topic_creator::apply(&event.payload, admin)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await?;
    Ok(())
}
