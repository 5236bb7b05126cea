//! Client settings. In AWS the client speaks SASL_SSL with MSK IAM tokens and nothing else;
//! plaintext is only for a broker on this machine, or when explicitly allowed.

use rdkafka::ClientConfig;

/// How the client authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// No TLS, no authentication: for a broker on loopback (the embedded broker, tansu).
    Plaintext,
    /// SASL_SSL with OAUTHBEARER tokens signed for MSK IAM in `region`. The client's context
    /// must be an [`crate::IamContext`].
    MskIam { region: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    /// `host:port[,host:port…]`
    pub brokers: String,
    pub security: Security,
    /// Allow plaintext to a broker that is not on loopback. Off unless asked for explicitly.
    pub allow_remote_plaintext: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("no Kafka brokers given; expected host:port[,host:port…]")]
    NoBrokers,
    #[error(
        "refusing plaintext Kafka to `{broker}`, which is not on this machine; use MSK IAM \
         (SASL_SSL), or allow remote plaintext explicitly"
    )]
    RemotePlaintext { broker: String },
    #[error("MSK IAM needs an AWS region; none was given")]
    NoRegion,
}

/// Whether `broker` (`host:port`) names this machine.
fn is_loopback(broker: &str) -> bool {
    let host = match broker.rsplit_once(':') {
        Some((host, _port)) => host,
        None => broker,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// One TCP connection to `broker` (`host:port`).
fn reach(broker: &str, timeout: std::time::Duration) -> Result<(), String> {
    use std::net::ToSocketAddrs as _;
    let addresses = broker
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve it ({e}); expected host:port"))?;
    let mut last = String::from("it resolves to no address");
    for address in addresses {
        match std::net::TcpStream::connect_timeout(&address, timeout) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = format!(
                    "no answer from {address} within {} s",
                    timeout.as_secs_f64()
                );
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

impl KafkaSettings {
    /// Plaintext to a broker on this machine.
    pub fn local(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            security: Security::Plaintext,
            allow_remote_plaintext: false,
        }
    }

    /// SASL_SSL with MSK IAM tokens.
    pub fn msk_iam(brokers: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            security: Security::MskIam {
                region: region.into(),
            },
            allow_remote_plaintext: false,
        }
    }

    /// The librdkafka settings every client of this project starts from.
    pub fn client_config(&self) -> Result<ClientConfig, SettingsError> {
        let brokers: Vec<&str> = self
            .brokers
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .collect();
        if brokers.is_empty() {
            return Err(SettingsError::NoBrokers);
        }
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", brokers.join(","));
        match &self.security {
            Security::Plaintext => {
                if !self.allow_remote_plaintext
                    && let Some(remote) = brokers.iter().find(|b| !is_loopback(b))
                {
                    return Err(SettingsError::RemotePlaintext {
                        broker: (*remote).to_owned(),
                    });
                }
                config.set("security.protocol", "plaintext");
            }
            Security::MskIam { region } => {
                if region.trim().is_empty() {
                    return Err(SettingsError::NoRegion);
                }
                config
                    .set("security.protocol", "SASL_SSL")
                    .set("sasl.mechanism", "OAUTHBEARER");
            }
        }
        Ok(config)
    }
}

/// How a client authenticates, as configured by name: `msk-iam` in AWS, `plaintext` for a broker
/// on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    MskIam,
    Plaintext,
}

impl std::str::FromStr for Auth {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "msk-iam" => Ok(Self::MskIam),
            "plaintext" => Ok(Self::Plaintext),
            other => Err(format!("unknown Kafka authentication `{other}`")),
        }
    }
}

impl KafkaSettings {
    /// Settings and, for MSK IAM, the token-signing context over the standard AWS credential
    /// chain for `region`.
    pub fn with_auth(
        brokers: impl Into<String>,
        auth: Auth,
        region: &str,
    ) -> Result<(Self, Option<crate::IamContext>), crate::iam::IamError> {
        Ok(match auth {
            Auth::Plaintext => (Self::local(brokers), None),
            Auth::MskIam => {
                let credentials = crate::default_credentials(region)?;
                let iam =
                    crate::IamContext::new(region, credentials, std::time::Duration::from_secs(10));
                (Self::msk_iam(brokers, region), Some(iam))
            }
        })
    }
}

impl KafkaSettings {
    /// How long a start-up check waits for each broker to accept a connection.
    pub const REACH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

    /// Connects to each bootstrap broker over TCP, within `timeout` each, and says which could
    /// not be reached and why: librdkafka itself retries a dead address quietly until a request
    /// times out, naming neither. `Ok` when at least one answers.
    pub fn check_reachable(&self, timeout: std::time::Duration) -> Result<(), String> {
        let mut problems = Vec::new();
        for broker in self
            .brokers
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
        {
            match reach(broker, timeout) {
                Ok(()) => return Ok(()),
                Err(why) => problems.push(format!("{broker}: {why}")),
            }
        }
        if problems.is_empty() {
            return Err(SettingsError::NoBrokers.to_string());
        }
        Err(format!(
            "no Kafka broker could be reached ({})",
            problems.join("; ")
        ))
    }

    /// Settings for a producer: [`Self::client_config`] with idempotence on, as every producer
    /// of this project uses (no duplicates or reordering from its own retries).
    pub fn producer_config(&self) -> Result<ClientConfig, SettingsError> {
        let mut config = self.client_config()?;
        config.set("enable.idempotence", "true");
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_broker_is_named_with_the_reason() {
        // A port that was just listening and is now closed: nothing answers there.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let settings = KafkaSettings::local(format!("127.0.0.1:{port}"));
        let error = settings
            .check_reachable(std::time::Duration::from_secs(2))
            .unwrap_err();
        assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
        assert!(error.to_lowercase().contains("refused"), "{error}");
        let listening = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let both = KafkaSettings::local(format!(
            "127.0.0.1:{port},{}",
            listening.local_addr().unwrap()
        ));
        assert_eq!(
            both.check_reachable(std::time::Duration::from_secs(2)),
            Ok(())
        );
        let unresolvable = KafkaSettings::local("no-such-host.invalid:9092");
        assert!(
            unresolvable
                .check_reachable(std::time::Duration::from_secs(2))
                .unwrap_err()
                .contains("cannot resolve"),
        );
    }

    #[test]
    fn plaintext_only_to_this_machine() {
        for ok in [
            "127.0.0.1:9092",
            "localhost:9092",
            "[::1]:9092",
            "127.0.0.1:1, localhost:2",
        ] {
            let config = KafkaSettings::local(ok).client_config().unwrap();
            assert_eq!(config.get("security.protocol"), Some("plaintext"), "{ok}");
        }
        for remote in [
            "b-1.msk.amazonaws.com:9098",
            "10.0.0.5:9092",
            "127.0.0.1:9092,kafka:9092",
        ] {
            let err = KafkaSettings::local(remote).client_config().unwrap_err();
            assert!(
                matches!(err, SettingsError::RemotePlaintext { .. }),
                "{remote}"
            );
            assert!(err.to_string().contains("not on this machine"), "{err}");
        }
        let allowed = KafkaSettings {
            allow_remote_plaintext: true,
            ..KafkaSettings::local("kafka:9092")
        };
        assert!(allowed.client_config().is_ok());
        assert_eq!(
            KafkaSettings::local(" , ").client_config().unwrap_err(),
            SettingsError::NoBrokers
        );
    }

    #[test]
    fn msk_iam_is_sasl_ssl_with_oauthbearer() {
        let config = KafkaSettings::msk_iam(
            "b-1.example.kafka-serverless.eu-west-1.amazonaws.com:9098",
            "eu-west-1",
        )
        .client_config()
        .unwrap();
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("sasl.mechanism"), Some("OAUTHBEARER"));
        assert_eq!(
            KafkaSettings::msk_iam("b:9098", " ")
                .client_config()
                .unwrap_err(),
            SettingsError::NoRegion
        );
    }

    #[test]
    fn producers_are_idempotent_and_keep_the_security_rules() {
        let config = KafkaSettings::local("127.0.0.1:9092")
            .producer_config()
            .unwrap();
        assert_eq!(config.get("enable.idempotence"), Some("true"));
        assert_eq!(config.get("security.protocol"), Some("plaintext"));
        assert!(
            KafkaSettings::local("kafka:9092")
                .producer_config()
                .is_err()
        );
    }
}
