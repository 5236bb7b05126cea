//! What can stop the engine, and how a Kafka error is read: a lost connection librdkafka
//! retries, a commit refused during a rebalance, a request the broker does not implement, a
//! fenced producer.

use std::time::Duration;

use pipeline_kafka::SettingsError;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// Exactly-once mode on a broker without transactions (tansu, for one).
    #[error(
        "Kafka: {context}: the broker does not support transactions ({source}); use \
         --delivery at-least-once with this broker"
    )]
    NoTransactions {
        context: &'static str,
        source: KafkaError,
    },
    /// A consumer override would change what the engine's correctness or security rests on.
    #[error(
        "consumer setting `{0}` cannot be overridden: the processor sets it for security or \
         for its delivery guarantees"
    )]
    ProtectedSetting(String),
    /// The broker or client failed: a batch could not be delivered, or this instance was fenced
    /// by another with the same transactional id. Nothing past the last commit counts; restart
    /// to resume from it.
    #[error("Kafka: {context}: {source}")]
    Kafka {
        context: &'static str,
        source: KafkaError,
    },
    /// The schema registry could not say what a record's schema version is (transient failures
    /// past the retries, or a refusal): nothing past the last commit counts; restart.
    #[error("schema registry: {0}")]
    Registry(#[from] pipeline_registry::LookupError),
    /// An Avro spec, and no registry was given to the engine.
    #[error("the spec's input is Avro, and the engine has no schema registry")]
    NoRegistry,
    /// The timeouts contradict each other (see [`EngineConfig::check`]).
    #[error(
        "the {what} ({value:?}) must be longer than the longest batch cycle ({longest:?}: the \
         batch timeout plus four request timeouts)"
    )]
    Timeouts {
        what: &'static str,
        value: Duration,
        longest: Duration,
    },
}

pub(super) fn kafka(context: &'static str) -> impl FnOnce(KafkaError) -> EngineError {
    move |source| EngineError::Kafka { context, source }
}

/// Whether a consumer error only reports a lost connection, which librdkafka retries.
pub(super) fn connection_lost(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::NetworkException
        )
    )
}

/// Whether a commit was refused because the group is rebalancing or has moved on.
pub(super) fn during_rebalance(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::RebalanceInProgress
                | RDKafkaErrorCode::IllegalGeneration
                | RDKafkaErrorCode::UnknownMemberId
        )
    )
}

/// Whether the broker refused a request it does not implement.
pub(super) fn unsupported(error: &KafkaError) -> bool {
    let code = match error {
        KafkaError::Transaction(e) => Some(e.code()),
        other => other.rdkafka_error_code(),
    };
    matches!(
        code,
        Some(RDKafkaErrorCode::UnsupportedFeature | RDKafkaErrorCode::UnsupportedVersion)
    )
}

/// Whether the producer has been fenced (or failed fatally) and can do nothing more.
pub(super) fn is_fenced(error: &EngineError) -> bool {
    match error {
        EngineError::Settings(_)
        | EngineError::ProtectedSetting(_)
        | EngineError::NoTransactions { .. }
        | EngineError::Registry(_)
        | EngineError::NoRegistry
        | EngineError::Timeouts { .. } => false,
        EngineError::Kafka { source, .. } => {
            let fenced = matches!(
                source.rdkafka_error_code(),
                Some(
                    RDKafkaErrorCode::Fenced
                        | RDKafkaErrorCode::ProducerFenced
                        | RDKafkaErrorCode::Fatal
                        | RDKafkaErrorCode::InvalidProducerEpoch
                )
            );
            let fatal_transaction = matches!(source, KafkaError::Transaction(e) if e.is_fatal());
            fenced || fatal_transaction
        }
    }
}
