//! How the AWS clients are built: the standard credential and region chain, the SDK's standard
//! retry mode (exponential backoff with full jitter) with our bounds, and an optional endpoint
//! override for emulators (`moto_server`) and local doubles.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// The region; `None` takes it from the environment (`AWS_REGION`, as Lambda sets it).
    pub region: Option<String>,
    /// Send every call here instead of AWS (an emulator on loopback). `AWS_ENDPOINT_URL` works
    /// too, as in every AWS SDK.
    pub endpoint_url: Option<String>,
    /// Attempts per call, the first included: throttling, 5xx and network errors are retried.
    pub max_attempts: u32,
    /// The first retry waits up to this long; each later one up to twice the previous.
    pub initial_backoff: Duration,
    /// No retry waits longer than this.
    pub max_backoff: Duration,
    /// Fixed credentials instead of the chain (tests against emulators).
    pub static_credentials: Option<(String, String)>,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            static_credentials: None,
        }
    }
}

impl AwsSettings {
    /// Settings for an emulator or double at `endpoint_url`, with fixed fake credentials and
    /// short backoffs.
    pub fn emulator(endpoint_url: impl Into<String>) -> Self {
        Self {
            region: Some("us-east-1".into()),
            endpoint_url: Some(endpoint_url.into()),
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            static_credentials: Some(("testing".into(), "testing".into())),
            ..Self::default()
        }
    }

    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts.max(1))
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }

    /// Loads the shared SDK configuration.
    pub async fn load(&self) -> SdkConfig {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).retry_config(self.retry_config());
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some((key, secret)) = &self.static_credentials {
            loader =
                loader.credentials_provider(Credentials::new(key, secret, None, None, "static"));
        }
        loader.load().await
    }
}
