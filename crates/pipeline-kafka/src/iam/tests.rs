use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::provider::{error::CredentialsError, future};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::*;

/// 2026-11-21T14:30:00Z
fn fixed_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_271_400)
}

fn credentials(session: Option<&str>) -> Credentials {
    Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session.map(str::to_owned),
        None,
        "test",
    )
}

/// The token's URL: host and path, and its query parameters decoded.
fn decode(token: &str) -> (String, BTreeMap<String, String>) {
    let url = String::from_utf8(URL_SAFE_NO_PAD.decode(token).unwrap()).unwrap();
    let (base, query) = url.split_once('?').unwrap();
    let params = query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .unwrap();
            (k.to_owned(), v.into_owned())
        })
        .collect();
    (base.to_owned(), params)
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// SigV4 for a presigned GET of `https://kafka.<region>.amazonaws.com/`, computed by hand from
/// the decoded parameters (all but the signature and the unsigned User-Agent).
fn expected_signature(params: &BTreeMap<String, String>, secret: &str, region: &str) -> String {
    let encode = |s: &str| utf8_percent_encode(s, QUERY_VALUE).to_string();
    let canonical_query: Vec<String> = params
        .iter()
        .filter(|(k, _)| *k != "X-Amz-Signature" && *k != "User-Agent")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let host = format!("kafka.{region}.amazonaws.com");
    let empty_payload = hex::encode(Sha256::digest(b""));
    let canonical_request = format!(
        "GET\n/\n{}\nhost:{host}\n\nhost\n{empty_payload}",
        canonical_query.join("&")
    );
    let date_time = &params["X-Amz-Date"];
    let date = &date_time[..8];
    let scope = format!("{date}/{region}/kafka-cluster/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date_time}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = [date, region, "kafka-cluster", "aws4_request"]
        .iter()
        .fold(format!("AWS4{secret}").into_bytes(), |key, part| {
            hmac(&key, part)
        });
    hex::encode(hmac(&key, &string_to_sign))
}

#[test]
fn the_token_is_a_presigned_connect_request_for_the_region() {
    let token = sign_token(&credentials(None), "us-east-1", fixed_now()).unwrap();
    assert!(
        !token.token.contains(['+', '/', '=']),
        "base64url without padding"
    );
    let (base, params) = decode(&token.token);
    assert_eq!(base, "https://kafka.us-east-1.amazonaws.com/");
    assert_eq!(params["Action"], "kafka-cluster:Connect");
    assert_eq!(params["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
    assert_eq!(
        params["X-Amz-Credential"],
        "AKIDEXAMPLE/20261121/us-east-1/kafka-cluster/aws4_request"
    );
    assert_eq!(params["X-Amz-Date"], "20261121T143000Z");
    assert_eq!(params["X-Amz-Expires"], "900");
    assert_eq!(params["X-Amz-SignedHeaders"], "host");
    assert!(params["User-Agent"].starts_with("streaming-pipeline/"));
    assert!(!params.contains_key("X-Amz-Security-Token"));
    assert_eq!(token.expires_at, fixed_now() + Duration::from_secs(900));
    assert_eq!(
        params["X-Amz-Signature"],
        expected_signature(
            &params,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "us-east-1"
        )
    );
}

#[test]
fn a_session_token_is_signed_into_the_query() {
    let token = sign_token(
        &credentials(Some("FwoG/session+token==")),
        "eu-west-1",
        fixed_now(),
    )
    .unwrap();
    let (base, params) = decode(&token.token);
    assert_eq!(base, "https://kafka.eu-west-1.amazonaws.com/");
    assert_eq!(params["X-Amz-Security-Token"], "FwoG/session+token==");
    assert_eq!(
        params["X-Amz-Signature"],
        expected_signature(
            &params,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "eu-west-1"
        )
    );
}

#[test]
fn signing_is_deterministic_and_depends_on_every_input() {
    let sign = |creds: &Credentials, region: &str, at: SystemTime| {
        decode(&sign_token(creds, region, at).unwrap().token).1["X-Amz-Signature"].clone()
    };
    let base = sign(&credentials(None), "us-east-1", fixed_now());
    assert_eq!(base, sign(&credentials(None), "us-east-1", fixed_now()));
    let other_secret = Credentials::new("AKIDEXAMPLE", "other", None, None, "test");
    assert_ne!(base, sign(&other_secret, "us-east-1", fixed_now()));
    assert_ne!(base, sign(&credentials(None), "us-west-2", fixed_now()));
    assert_ne!(
        base,
        sign(
            &credentials(None),
            "us-east-1",
            fixed_now() + Duration::from_secs(1)
        )
    );
}

#[test]
fn the_token_expires_no_later_than_its_credentials() {
    let soon = fixed_now() + Duration::from_secs(60);
    let creds = Credentials::new(
        "AKIDEXAMPLE",
        "secret",
        Some("s".into()),
        Some(soon),
        "test",
    );
    assert_eq!(
        sign_token(&creds, "us-east-1", fixed_now())
            .unwrap()
            .expires_at,
        soon
    );
}

/// A credential provider for the context tests.
#[derive(Debug)]
enum Provider {
    Fixed,
    Failing,
    Hanging,
}

impl ProvideCredentials for Provider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            match self {
                Provider::Fixed => Ok(credentials(Some("session"))),
                Provider::Failing => {
                    Err(CredentialsError::not_loaded("no credentials in the chain"))
                }
                Provider::Hanging => {
                    tokio::time::sleep(Duration::from_secs(3_600)).await;
                    Ok(credentials(None))
                }
            }
        })
    }
}

fn context(provider: Provider) -> IamContext {
    IamContext::new(
        "us-east-1",
        SharedCredentialsProvider::new(provider),
        Duration::from_millis(200),
    )
}

#[test]
fn the_context_hands_librdkafka_a_fresh_token_with_its_lifetime() {
    let before = SystemTime::now();
    let token = context(Provider::Fixed).generate_oauth_token(None).unwrap();
    let (_, params) = decode(&token.token);
    assert_eq!(params["X-Amz-Security-Token"], "session");
    let lifetime = UNIX_EPOCH + Duration::from_millis(token.lifetime_ms as u64);
    assert!(lifetime >= before + TOKEN_LIFETIME - Duration::from_secs(1));
    assert!(lifetime <= SystemTime::now() + TOKEN_LIFETIME);
    assert!(!token.principal_name.is_empty());
}

#[test]
fn credential_failures_surface_as_errors_not_hangs() {
    let Err(err) = context(Provider::Failing).generate_oauth_token(None) else {
        panic!("a failing credential chain must not give a token");
    };
    assert!(
        err.to_string().contains("could not get AWS credentials"),
        "{err}"
    );
    let started = std::time::Instant::now();
    let Err(err) = context(Provider::Hanging).generate_oauth_token(None) else {
        panic!("a hanging credential chain must not give a token");
    };
    assert!(err.to_string().contains("took longer than"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the timeout bounds the wait"
    );
}

#[test]
fn the_context_works_when_called_inside_a_tokio_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let token = runtime
        .block_on(async { context(Provider::Fixed).token() })
        .unwrap();
    assert!(!token.token.is_empty());
}

/// The SDK's own providers run on the credential runtime: here the shared-credentials-file
/// provider, one link of the default chain, reading a profile written for the test.
#[test]
fn tokens_are_signed_with_credentials_from_an_sdk_provider() {
    use aws_config::profile::ProfileFileCredentialsProvider;
    use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
    let dir = std::env::temp_dir().join(format!("msk-iam-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("credentials");
    std::fs::write(
        &file,
        "[pipeline]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n",
    )
    .unwrap();
    let provider = ProfileFileCredentialsProvider::builder()
        .profile_files(
            EnvConfigFiles::builder()
                .with_file(EnvConfigFileKind::Credentials, &file)
                .build(),
        )
        .profile_name("pipeline")
        .build();
    let context = IamContext::new(
        "eu-west-1",
        SharedCredentialsProvider::new(provider),
        Duration::from_secs(10),
    );
    for _ in 0..2 {
        // Twice: the provider and its runtime outlive one fetch.
        let token = context.token().unwrap();
        let (url, params) = decode(&token.token);
        assert_eq!(url, "https://kafka.eu-west-1.amazonaws.com/");
        assert!(params["X-Amz-Credential"].starts_with("AKIDPROFILE/"));
        assert_eq!(
            params["X-Amz-Signature"],
            expected_signature(&params, "profile-secret", "eu-west-1")
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_default_chain_builds_for_a_region() {
    let chain = default_credentials("eu-west-1").unwrap();
    let _context = IamContext::new("eu-west-1", chain, Duration::from_secs(1));
}
