//! Kafka plumbing shared by the processor and the Lambdas: client settings (plaintext to a
//! local broker, or SASL_SSL + OAUTHBEARER with MSK IAM tokens in AWS), the MSK IAM token
//! itself, a publisher that waits for every delivery, and the embedded broker behind local runs
//! and tests. No domain logic.

pub mod embedded;
pub mod iam;
pub mod publish;
pub mod settings;
pub mod topics;

pub use embedded::EmbeddedKafka;
pub use iam::{AuthContext, IamContext, MskToken, default_credentials, sign_token};
pub use publish::{Published, Publisher, PublisherError};
pub use settings::{Auth, KafkaSettings, Security, SettingsError};
pub use topics::partition_count;
