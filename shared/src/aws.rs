//! Telling a passing AWS failure from a permanent one, the same way for every service: the
//! first is retried (by Lambda, or the sender after a 503), the second is recorded and dropped.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Error codes that mean "slow down" or "try again" across SNS, SES, DynamoDB and Lambda.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KMSThrottlingException",
    "EC2ThrottledException",
    "ResourceConflictException",
];

/// Timeouts, connection failures, unreadable responses, 5xx and throttling are transient.
pub fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status();
            status.is_server_error()
                || status.as_u16() == 429
                || service
                    .err()
                    .code()
                    .is_some_and(|code| TRANSIENT_CODES.contains(&code))
        }
        _ => false,
    }
}

/// A short description for logs: the service's error code when there is one. Never the
/// request, which may hold a phone number or a text.
pub fn describe<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> String {
    match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("unknown");
            format!("{code} (HTTP {})", service.raw().status().as_u16())
        }
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => "connection failed".to_owned(),
        SdkError::ResponseError(_) => "unreadable response".to_owned(),
        SdkError::ConstructionFailure(_) => "request could not be built".to_owned(),
        _ => "unknown".to_owned(),
    }
}

/// Connect, per-attempt and whole-operation limits for every AWS call. A callback's sender
/// waits on the ingress, and an OTP is useless after a minute: a stuck call must fail fast so
/// the sender (after a 503) or Lambda (for a family) retries it.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
pub const OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// One retry inside the SDK for a transient error; further retries are Lambda's or the sender's.
pub const MAX_ATTEMPTS: u32 = 2;

/// [`CONNECT_TIMEOUT`], [`ATTEMPT_TIMEOUT`] and [`OPERATION_TIMEOUT`].
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// Standard retries, at most [`MAX_ATTEMPTS`] attempts.
pub fn retries() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

/// The SDK configuration every function uses: region, credentials and `AWS_ENDPOINT_URL` from
/// the environment, with [`timeouts`] and [`retries`].
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts())
        .retry_config(retries())
        .load()
        .await
}
