//! Producing a batch of records and waiting until every one is delivered or has failed: what
//! the producer Lambda (and any tool that re-publishes records) needs. Idempotent, so the
//! client's own retries neither duplicate nor reorder.

use std::error::Error;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::client::OAuthToken;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};

use crate::iam::{AuthContext, IamContext};
use crate::settings::{KafkaSettings, SettingsError};

/// What one [`Publisher::publish`] achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    pub delivered: u64,
    pub failed: u64,
    /// The first failure's reason, as the client gave it.
    pub first_error: Option<String>,
}

impl Published {
    fn fail(&mut self, reason: String) {
        self.failed += 1;
        self.first_error.get_or_insert(reason);
    }
}

/// The producer's context: MSK IAM tokens when configured, and delivery reports.
#[derive(Debug, Default)]
pub struct PublishContext {
    auth: AuthContext,
    outcome: Mutex<Published>,
}

impl ClientContext for PublishContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, config: Option<&str>) -> Result<OAuthToken, Box<dyn Error>> {
        self.auth.generate_oauth_token(config)
    }
}

impl ProducerContext for PublishContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let mut outcome = self
            .outcome
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok(_) => outcome.delivered += 1,
            Err((error, _)) => outcome.fail(error.to_string()),
        }
    }
}

/// An idempotent producer that publishes batches and waits for them.
pub struct Publisher {
    producer: BaseProducer<PublishContext>,
    delivery_timeout: Duration,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("delivery_timeout", &self.delivery_timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublisherError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("could not create the Kafka producer: {0}")]
    Create(#[source] KafkaError),
}

impl Publisher {
    /// A producer for `settings`; `iam` must be given for MSK IAM settings. A record not
    /// delivered within `delivery_timeout` (retries included) counts as failed.
    pub fn new(
        settings: &KafkaSettings,
        iam: Option<IamContext>,
        delivery_timeout: Duration,
    ) -> Result<Self, PublisherError> {
        let producer = settings
            .producer_config()?
            .set(
                "message.timeout.ms",
                delivery_timeout.as_millis().max(1).to_string(),
            )
            .set("linger.ms", "5")
            .create_with_context(PublishContext {
                auth: AuthContext { iam },
                outcome: Mutex::default(),
            })
            .map_err(PublisherError::Create)?;
        Ok(Self {
            producer,
            delivery_timeout,
        })
    }

    /// Sends every `(key, value)` to `topic` and waits until each is delivered or has failed.
    pub fn publish<K, V>(
        &mut self,
        topic: &str,
        records: impl IntoIterator<Item = (K, V)>,
    ) -> Published
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        *self.outcome() = Published::default();
        let mut refused = Published::default();
        let mut queued = 0u64;
        for (key, value) in records {
            let mut record = BaseRecord::to(topic)
                .key(key.as_ref())
                .payload(value.as_ref());
            loop {
                match self.producer.send(record) {
                    Ok(()) => {
                        queued += 1;
                        break;
                    }
                    // The local queue is full: serve delivery reports, then try again.
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        self.producer.poll(Duration::from_millis(50));
                        record = back;
                    }
                    Err((error, _)) => {
                        refused.fail(format!("not queued: {error}"));
                        break;
                    }
                }
            }
        }
        // Every queued record gets its delivery report within the delivery timeout. Count the
        // reports rather than the client's in-flight count, which also counts requests that
        // are not records (with the broker down it stayed above zero after every record had
        // failed, and those were counted as failed records too).
        let deadline = Instant::now() + self.delivery_timeout + Duration::from_secs(5);
        while self.reported() < queued && Instant::now() < deadline {
            self.producer.poll(Duration::from_millis(100));
        }
        let mut outcome = std::mem::take(&mut *self.outcome());
        let stuck = queued.saturating_sub(outcome.delivered + outcome.failed);
        for _ in 0..stuck {
            outcome.fail("no delivery report before the deadline".into());
        }
        outcome.failed += refused.failed;
        if outcome.first_error.is_none() {
            outcome.first_error = refused.first_error;
        }
        outcome
    }

    /// Delivery reports served so far, delivered or failed.
    fn reported(&self) -> u64 {
        let outcome = self.outcome();
        outcome.delivered + outcome.failed
    }

    fn outcome(&self) -> std::sync::MutexGuard<'_, Published> {
        self.producer
            .context()
            .outcome
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
