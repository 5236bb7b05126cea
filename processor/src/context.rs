//! The rdkafka contexts of the processor's clients. Both sign MSK IAM tokens when running in
//! AWS; the consumer's also records rebalances for the engine to act on between batches.

use std::error::Error;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use pipeline_kafka::IamContext;
use rdkafka::ClientContext;
use rdkafka::client::OAuthToken;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::ProducerContext;

fn token(iam: &Option<IamContext>, config: Option<&str>) -> Result<OAuthToken, Box<dyn Error>> {
    match iam {
        Some(iam) => iam.generate_oauth_token(config),
        None => Err("this client is not configured for MSK IAM".into()),
    }
}

/// A change of assignment seen during a poll: partitions of the input topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebalanceEvent {
    Assigned(Vec<i32>),
    Revoked(Vec<i32>),
}

#[derive(Debug, Default)]
pub struct ConsumerCtx {
    pub iam: Option<IamContext>,
    events: Mutex<Vec<RebalanceEvent>>,
}

impl ConsumerCtx {
    pub fn new(iam: Option<IamContext>) -> Self {
        Self {
            iam,
            events: Mutex::default(),
        }
    }

    /// The rebalances since the last call, in order.
    pub fn take_events(&self) -> Vec<RebalanceEvent> {
        self.events
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }

    fn push(&self, event: RebalanceEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}

impl ClientContext for ConsumerCtx {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, config: Option<&str>) -> Result<OAuthToken, Box<dyn Error>> {
        token(&self.iam, config)
    }
}

impl ConsumerContext for ConsumerCtx {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            self.push(RebalanceEvent::Revoked(
                list.elements().iter().map(|e| e.partition()).collect(),
            ));
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            self.push(RebalanceEvent::Assigned(
                list.elements().iter().map(|e| e.partition()).collect(),
            ));
        }
    }
}

/// The producer's context: counts delivery reports and keeps the reason of a failed delivery,
/// so that a batch is never committed past an output that did not arrive.
#[derive(Debug, Default)]
pub struct ProducerCtx {
    pub iam: Option<IamContext>,
    delivery_error: Mutex<Option<rdkafka::error::KafkaError>>,
    /// Delivery reports served since the producer was created, delivered or failed.
    reports: AtomicU64,
}

/// Sends one record, waiting while the producer's queue is full (backpressure): serving
/// delivery reports frees room. Gives up with `QueueFull` once `deadline` has passed, so that a
/// broker that takes nothing never holds the caller (and its consumer's poll) forever.
pub fn send_waiting(
    producer: &rdkafka::producer::BaseProducer<ProducerCtx>,
    mut record: rdkafka::producer::BaseRecord<'_, [u8], [u8]>,
    deadline: Instant,
) -> Result<(), rdkafka::error::KafkaError> {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                if Instant::now() >= deadline {
                    return Err(KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull));
                }
                record = back;
                producer.poll(std::time::Duration::from_millis(10));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

impl ProducerCtx {
    pub fn new(iam: Option<IamContext>) -> Self {
        Self {
            iam,
            delivery_error: Mutex::default(),
            reports: AtomicU64::new(0),
        }
    }

    /// Delivery reports served so far (each record sent gets exactly one).
    pub fn reports(&self) -> u64 {
        self.reports.load(Ordering::Acquire)
    }

    /// The latest delivery failure since the last call, if any; clears it.
    pub fn take_delivery_error(&self) -> Option<rdkafka::error::KafkaError> {
        self.delivery_error.lock().ok().and_then(|mut e| e.take())
    }
}

impl ClientContext for ProducerCtx {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, config: Option<&str>) -> Result<OAuthToken, Box<dyn Error>> {
        token(&self.iam, config)
    }
}

impl ProducerContext for ProducerCtx {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: ()) {
        if let Err((error, _)) = result
            && let Ok(mut slot) = self.delivery_error.lock()
        {
            *slot = Some(error.clone());
        }
        self.reports.fetch_add(1, Ordering::AcqRel);
    }
}
