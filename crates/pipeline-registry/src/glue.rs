//! The AWS Glue Schema Registry through `aws-sdk-glue`: `GetSchemaVersion` (by version id, or
//! by registry, schema and number or latest), `GetSchemaByDefinition` and
//! `RegisterSchemaVersion`. The IAM actions these need are granted in `infra/` (the
//! processor's task role reads, the producer's role registers).

use aws_sdk_glue::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_glue::types::{
    DataFormat, SchemaId as GlueSchemaId, SchemaVersionNumber, SchemaVersionStatus,
};
use aws_smithy_types::error::display::DisplayErrorContext;
use pipeline_core::spec::{SchemaType, SchemaVersion};
use pipeline_core::wire::SchemaId;

use crate::{LookupError, Version};

#[derive(Debug, Clone)]
pub struct Glue {
    client: aws_sdk_glue::Client,
    registry: String,
    schema: String,
    schema_type: SchemaType,
}

/// Error codes Glue answers with that a retry may overcome.
const TRANSIENT: [&str; 4] = [
    "ThrottlingException",
    "InternalServiceException",
    "ConcurrentModificationException",
    "ResourceNumberLimitExceededException",
];

/// How long a newly registered version may stay `PENDING` (Glue checks its compatibility)
/// before registering fails as transient.
const PENDING_POLLS: u32 = 20;

fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    operation: &str,
    error: SdkError<E, aws_sdk_glue::config::http::HttpResponse>,
) -> LookupError {
    match &error {
        SdkError::ServiceError(service) => {
            // The code and Glue's message: what a dead letter's detail and a log line need
            // (the error's full chain would carry the raw response).
            let code = service.err().code().unwrap_or_default();
            let status = service.raw().status().as_u16();
            let message = format!(
                "Glue {operation}: {code}: {}",
                service.err().message().unwrap_or("no message")
            );
            if code == "EntityNotFoundException" {
                LookupError::Unknown(message)
            } else if status >= 500 || status == 429 || TRANSIENT.contains(&code) {
                LookupError::Transient(message)
            } else {
                LookupError::Refused(message)
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            LookupError::Transient(format!("Glue {operation}: {}", DisplayErrorContext(&error)))
        }
        _ => LookupError::Refused(format!("Glue {operation}: {}", DisplayErrorContext(&error))),
    }
}

fn uuid_text(id: [u8; 16]) -> String {
    SchemaId::Glue(id).to_string()
}

fn parse_id(text: Option<&str>) -> Result<[u8; 16], LookupError> {
    match text.and_then(SchemaId::parse_uuid) {
        Some(SchemaId::Glue(id)) => Ok(id),
        _ => Err(LookupError::Refused(format!(
            "Glue answered a schema version id that is not a UUID: {text:?}"
        ))),
    }
}

/// A version of another data format than the spec's cannot be read: `Unknown` (its records
/// become dead letters; at start, the check fails).
fn expect_format(
    format: Option<&DataFormat>,
    expected: SchemaType,
    what: &str,
) -> Result<(), LookupError> {
    match format {
        Some(f) if f.as_str() != expected.registry_name() => Err(LookupError::Unknown(format!(
            "{what}: its format is {}; the spec reads {}",
            f.as_str(),
            expected.registry_name()
        ))),
        _ => Ok(()),
    }
}

impl Glue {
    /// A client of `registry`'s `schema`, with the default AWS configuration (the task's or
    /// function's role), or fixed test credentials against `emulator`.
    pub async fn connect(
        registry: &str,
        schema: &str,
        schema_type: SchemaType,
        emulator: Option<&str>,
    ) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(url) = emulator {
            loader = loader
                .endpoint_url(url)
                .region(aws_config::Region::new("us-east-1"))
                .credentials_provider(aws_credential_types::Credentials::new(
                    "test", "test", None, None, "emulator",
                ));
        }
        let config = loader.load().await;
        Self {
            client: aws_sdk_glue::Client::new(&config),
            registry: registry.to_owned(),
            schema: schema.to_owned(),
            schema_type,
        }
    }

    pub fn describe(&self) -> String {
        format!("Glue registry {}, schema {}", self.registry, self.schema)
    }

    fn schema_id(&self) -> GlueSchemaId {
        GlueSchemaId::builder()
            .registry_name(&self.registry)
            .schema_name(&self.schema)
            .build()
    }

    /// `GetSchemaVersion` of version `id`.
    async fn by_id(
        &self,
        id: [u8; 16],
    ) -> Result<aws_sdk_glue::operation::get_schema_version::GetSchemaVersionOutput, LookupError>
    {
        self.client
            .get_schema_version()
            .schema_version_id(uuid_text(id))
            .send()
            .await
            .map_err(|e| classify("GetSchemaVersion", e))
    }

    pub async fn schema(&self, id: [u8; 16]) -> Result<String, LookupError> {
        let text = uuid_text(id);
        let out = self.by_id(id).await?;
        expect_format(
            out.data_format(),
            self.schema_type,
            &format!("schema version {text}"),
        )?;
        out.schema_definition
            .ok_or_else(|| LookupError::Unknown(format!("schema version {text} has no definition")))
    }

    pub async fn version(&self, version: SchemaVersion) -> Result<Version, LookupError> {
        let number = match version {
            SchemaVersion::Latest => SchemaVersionNumber::builder().latest_version(true).build(),
            SchemaVersion::Number(n) => SchemaVersionNumber::builder()
                .version_number(i64::from(n))
                .build(),
        };
        let out = self
            .client
            .get_schema_version()
            .schema_id(self.schema_id())
            .schema_version_number(number)
            .send()
            .await
            .map_err(|e| classify("GetSchemaVersion", e))?;
        let what = format!("{} version {version}", self.describe());
        expect_format(out.data_format(), self.schema_type, &what)?;
        Ok(Version {
            id: SchemaId::Glue(parse_id(out.schema_version_id())?),
            number: out
                .version_number
                .unwrap_or_default()
                .try_into()
                .unwrap_or_default(),
            schema: out
                .schema_definition
                .ok_or_else(|| LookupError::Unknown(format!("{what} has no definition")))?,
        })
    }

    /// `GetSchemaByDefinition` first (a producer's schema is usually registered already), then
    /// `RegisterSchemaVersion`, waiting while Glue checks the new version's compatibility.
    pub async fn register(&self, schema: &str) -> Result<SchemaId, LookupError> {
        let found = self
            .client
            .get_schema_by_definition()
            .schema_id(self.schema_id())
            .schema_definition(schema)
            .send()
            .await;
        let id = match found {
            Ok(out) if out.status() != Some(&SchemaVersionStatus::Failure) => {
                parse_id(out.schema_version_id())?
            }
            Ok(_) => {
                return Err(LookupError::Refused(format!(
                    "{}: this schema's version failed Glue's compatibility check",
                    self.describe()
                )));
            }
            Err(e) => match classify("GetSchemaByDefinition", e) {
                LookupError::Unknown(_) => {
                    let out = self
                        .client
                        .register_schema_version()
                        .schema_id(self.schema_id())
                        .schema_definition(schema)
                        .send()
                        .await
                        .map_err(|e| classify("RegisterSchemaVersion", e))?;
                    parse_id(out.schema_version_id())?
                }
                other => return Err(other),
            },
        };
        for _ in 0..PENDING_POLLS {
            let out = self.by_id(id).await?;
            match out.status() {
                Some(SchemaVersionStatus::Available) | None => return Ok(SchemaId::Glue(id)),
                Some(SchemaVersionStatus::Pending) => {
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
                Some(other) => {
                    return Err(LookupError::Refused(format!(
                        "{}: the registered version {} is {}",
                        self.describe(),
                        uuid_text(id),
                        other.as_str()
                    )));
                }
            }
        }
        Err(LookupError::Transient(format!(
            "{}: version {} is still PENDING",
            self.describe(),
            uuid_text(id)
        )))
    }
}
