//! MSK IAM authentication: an OAUTHBEARER token that is a SigV4-presigned
//! `kafka-cluster:Connect` request, base64url-encoded, and the rdkafka context that signs a
//! fresh one from the AWS credential chain whenever librdkafka asks (before each expiry).

use std::error::Error;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rdkafka::client::OAuthToken;
use rdkafka::{ClientContext, consumer::ConsumerContext};

/// How long a signed token is valid (`X-Amz-Expires`), as the MSK signers use.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);
/// The signing name of MSK's data plane.
const SERVICE: &str = "kafka-cluster";
/// Sent as the token's `User-Agent` parameter (not signed), so brokers' logs name the client.
const USER_AGENT: &str = concat!("streaming-pipeline/", env!("CARGO_PKG_VERSION"));
/// RFC 3986 unreserved characters stay; everything else is percent-encoded, as SigV4 does.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A signed token and when it stops being valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MskToken {
    /// base64url (no padding) of the presigned URL.
    pub token: String,
    /// The earlier of the signature's expiry and the credentials' own.
    pub expires_at: SystemTime,
}

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("could not sign the MSK IAM token: {0}")]
    Signing(String),
    #[error("could not get AWS credentials for MSK IAM: {0}")]
    Credentials(String),
    #[error("getting AWS credentials for MSK IAM took longer than {0:?}")]
    Timeout(Duration),
}

/// Signs an MSK IAM token for `region` with `credentials` at `now`.
pub fn sign_token(
    credentials: &Credentials,
    region: &str,
    now: SystemTime,
) -> Result<MskToken, IamError> {
    let signing = |e: &dyn std::fmt::Display| IamError::Signing(e.to_string());
    let base = format!("https://kafka.{region}.amazonaws.com/?Action=kafka-cluster%3AConnect");
    let identity: Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| signing(&e))?
        .into();
    let request = SignableRequest::new("GET", &base, std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|e| signing(&e))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| signing(&e))?
        .into_parts();
    let (_headers, query) = instructions.into_parts();
    let mut url = base;
    for (name, value) in query
        .iter()
        .map(|(n, v)| (*n, v.as_ref()))
        .chain([("User-Agent", USER_AGENT)])
    {
        url.push('&');
        url.push_str(name);
        url.push('=');
        url.extend(utf8_percent_encode(value, QUERY_VALUE));
    }
    let signature_expiry = now + TOKEN_LIFETIME;
    let expires_at = credentials
        .expiry()
        .map_or(signature_expiry, |e| e.min(signature_expiry));
    Ok(MskToken {
        token: URL_SAFE_NO_PAD.encode(url),
        expires_at,
    })
}

/// The rdkafka context for clients of an MSK Serverless cluster: librdkafka calls
/// [`ClientContext::generate_oauth_token`] for the first token and again before each expiry.
#[derive(Debug, Clone)]
pub struct IamContext {
    region: String,
    credentials: SharedCredentialsProvider,
    /// How long to wait for the credential chain (instance metadata, STS) before failing.
    timeout: Duration,
}

impl IamContext {
    pub fn new(
        region: impl Into<String>,
        credentials: SharedCredentialsProvider,
        timeout: Duration,
    ) -> Self {
        Self {
            region: region.into(),
            credentials,
            timeout,
        }
    }

    /// Fetches credentials and signs a token now.
    pub fn token(&self) -> Result<MskToken, IamError> {
        let credentials = self.fetch_credentials()?;
        sign_token(&credentials, &self.region, SystemTime::now())
    }

    /// Fetches credentials with the provider. The provider is async and librdkafka's hook is
    /// not: the future runs on the process's credential runtime, waited for from a thread of
    /// its own so that this works whatever thread librdkafka calls from (including one already
    /// inside a Tokio runtime).
    fn fetch_credentials(&self) -> Result<Credentials, IamError> {
        let runtime = credential_runtime()?;
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    runtime.block_on(async {
                        tokio::time::timeout(self.timeout, self.credentials.provide_credentials())
                            .await
                            .map_err(|_| IamError::Timeout(self.timeout))?
                            .map_err(|e| IamError::Credentials(e.to_string()))
                    })
                })
                .join()
                .unwrap_or_else(|_| {
                    Err(IamError::Credentials(
                        "the credential fetch panicked".into(),
                    ))
                })
        })
    }
}

/// One runtime for the whole process, never dropped, on which credential providers run: their
/// HTTP clients (container credentials, instance metadata, STS) keep pooled connections whose
/// tasks must outlive any one fetch.
fn credential_runtime() -> Result<&'static tokio::runtime::Runtime, IamError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("aws-credentials")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| IamError::Credentials(format!("could not start the credential runtime: {e}")))
}

/// The standard AWS credential chain for `region`: environment, profile files, web identity,
/// ECS container credentials, instance metadata. Call from synchronous code (it blocks while
/// the chain is built).
pub fn default_credentials(region: &str) -> Result<SharedCredentialsProvider, IamError> {
    let runtime = credential_runtime()?;
    let region = aws_config::Region::new(region.to_owned());
    let chain = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                runtime.block_on(
                    aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                        .region(region)
                        .build(),
                )
            })
            .join()
            .map_err(|_| IamError::Credentials("building the credential chain panicked".into()))
    })?;
    Ok(SharedCredentialsProvider::new(chain))
}

impl ClientContext for IamContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, _config: Option<&str>) -> Result<OAuthToken, Box<dyn Error>> {
        let token = self.token()?;
        let lifetime_ms = token
            .expires_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Ok(OAuthToken {
            token: token.token,
            principal_name: "aws-msk-iam".into(),
            lifetime_ms,
        })
    }
}

impl ConsumerContext for IamContext {}

/// The context of a client that needs nothing but authentication (an admin client, a plain
/// consumer): MSK IAM tokens when `iam` is given, plaintext otherwise.
#[derive(Debug, Clone, Default)]
pub struct AuthContext {
    pub iam: Option<IamContext>,
}

impl ClientContext for AuthContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, config: Option<&str>) -> Result<OAuthToken, Box<dyn Error>> {
        match &self.iam {
            Some(iam) => iam.generate_oauth_token(config),
            None => Err("this client is not configured for MSK IAM".into()),
        }
    }
}

impl ConsumerContext for AuthContext {}

#[cfg(test)]
mod tests;
