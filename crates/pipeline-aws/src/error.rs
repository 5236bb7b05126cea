//! What a failed AWS call means for the caller: retried enough and still failing (transient:
//! throttling, 5xx, network), or refused (fix the request, the permissions or the resource).

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The core's service error, under the name the AWS adapters use.
pub use pipeline_core::store::ServiceError as AwsError;

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

/// Classifies an SDK error that the SDK's own retries did not overcome.
pub fn from_sdk<E>(operation: &'static str, error: SdkError<E, Response>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = DisplayErrorContext(&error).to_string();
    match &error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown").to_owned();
            let status = service.raw().status().as_u16();
            if status >= 500 || status == 429 || TRANSIENT_CODES.contains(&code.as_str()) {
                AwsError::Transient {
                    operation,
                    code,
                    message,
                }
            } else {
                AwsError::Refused {
                    operation,
                    code,
                    message,
                }
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            AwsError::Transient {
                operation,
                code: "Network".into(),
                message,
            }
        }
        _ => AwsError::Refused {
            operation,
            code: "Request".into(),
            message,
        },
    }
}
