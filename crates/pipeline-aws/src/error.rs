//! What a failed AWS call means for the caller: retried enough and still failing (transient:
//! throttling, 5xx, network), or refused (fix the request, the permissions or the resource).

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// Throttling, a 5xx answer, a timeout or a network failure that outlasted the retries.
    /// Worth trying again later (e.g. by failing the Lambda invocation so its batch is retried).
    #[error("{operation} still failing after retries ({code}): {message}")]
    Transient {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// The service refused the request: bad input, missing permission, missing resource.
    /// Retrying the same request will not help.
    #[error("{operation} refused ({code}): {message}")]
    Refused {
        operation: &'static str,
        code: String,
        message: String,
    },
}

/// Error codes that mean "slow down" or "try again", whatever the HTTP status.
const TRANSIENT_CODES: [&str; 10] = [
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServerError",
    "InternalError",
];

impl AwsError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    /// Classifies an SDK error that the SDK's own retries did not overcome.
    pub fn from_sdk<E>(operation: &'static str, error: SdkError<E, Response>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let message = DisplayErrorContext(&error).to_string();
        match &error {
            SdkError::ServiceError(service) => {
                let code = service.err().code().unwrap_or("Unknown").to_owned();
                let status = service.raw().status().as_u16();
                if status >= 500 || status == 429 || TRANSIENT_CODES.contains(&code.as_str()) {
                    Self::Transient {
                        operation,
                        code,
                        message,
                    }
                } else {
                    Self::Refused {
                        operation,
                        code,
                        message,
                    }
                }
            }
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => Self::Transient {
                operation,
                code: "Network".into(),
                message,
            },
            _ => Self::Refused {
                operation,
                code: "Request".into(),
                message,
            },
        }
    }

    /// A refusal made here, before anything was sent (e.g. a record the API cannot take).
    pub fn refused(operation: &'static str, message: impl Into<String>) -> Self {
        Self::Refused {
            operation,
            code: "Invalid".into(),
            message: message.into(),
        }
    }
}
