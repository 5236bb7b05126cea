//! The producer Lambda: configuration, brokers and the generator at cold start, then one minute
//! of events per scheduled event.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use pipeline_aws::{AwsSettings, MskClusters};
use pipeline_kafka::{Auth, KafkaSettings, Publisher};

#[tokio::main]
async fn main() -> Result<(), pipeline_aws::lambda::StartError> {
    pipeline_aws::lambda::init_logging();
    let config = Arc::new(producer::Config::from_env()?);
    let aws = AwsSettings::default().load().await;
    let brokers = config
        .kafka
        .brokers
        .resolve(&MskClusters::new(&aws))
        .await?;
    let auth = if config.kafka.msk_iam {
        Auth::MskIam
    } else {
        Auth::Plaintext
    };
    let (settings, iam) = KafkaSettings::with_auth(brokers, auth, &config.kafka.region)?;
    let timeout = Duration::from_secs(config.delivery_timeout_secs);
    let publisher = Publisher::new(&settings, iam, timeout)?;
    let framer = Arc::new(producer::framer(&config).await?);
    // Kept for the life of the execution environment: the walk continues across invocations.
    let state = Arc::new(Mutex::new((
        config.generator(chrono::Utc::now()),
        publisher,
    )));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent>| {
        let (config, state) = (Arc::clone(&config), Arc::clone(&state));
        let framer = Arc::clone(&framer);
        async move {
            let scheduled = event.payload.time.unwrap_or_else(chrono::Utc::now);
            // Producing blocks while it waits for deliveries.
            tokio::task::spawn_blocking(move || {
                let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                let (generator, publisher) = &mut *state;
                producer::handle_framed(
                    &config,
                    generator,
                    framer.as_ref().as_ref(),
                    publisher,
                    scheduled,
                )
            })
            .await?
            .map_err(lambda_runtime::Error::from)
        }
    }))
    .await?;
    Ok(())
}
