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

/// Whether a failed call may still have been carried out: the request went out and its answer
/// timed out or was lost. A connection that was never made, a throttle or a 5xx answer means
/// it was not. Deciding whether to send an SMS again rests on this.
pub fn may_have_been_processed<E>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(failure) => {
            let never_connected = failure.is_timeout()
                || failure.is_user()
                || failure
                    .as_connector_error()
                    .is_some_and(|e| failed_to_connect(e));
            !never_connected
        }
        _ => false,
    }
}

/// The connection was refused or could not be opened (DNS, routing): nothing was sent.
fn failed_to_connect(error: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::AddrNotAvailable
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
            )
        {
            return true;
        }
        // hyper-util's client error for a connection that was never made (DNS included):
        // its type says so, where its message is only words.
        if let Some(client) = e.downcast_ref::<hyper_util::client::legacy::Error>()
            && client.is_connect()
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Who refused a message: SNS and SES say what they refused in different ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Sns,
    Ses,
}

/// The provider refused the message because of its recipient, not the deployment: decided by
/// what it refused, never by words in its message (an `InvalidParameter` about the deployment's
/// origination number reads "number" too).
///
/// - SNS names the parameter it refuses, `Invalid parameter: PhoneNumber Reason: ...`. Only
///   `PhoneNumber` is the recipient's; any other (`MessageAttributes`, which carry the sender id,
///   origination number and maximum price; `Message`) is the deployment's. An opted-out number
///   is the recipient's.
/// - SES's refusals at send time name no parameter, and they are the sender's (an unverified
///   identity, the sandbox, paused sending, a missing configuration set) or an address SES
///   cannot read, which the ingress never lets through for a recipient (`EmailAddress`) but may
///   be the configured `From`. So none is a recipient's: each is dead-lettered for the operator.
pub fn is_recipient_error<E: ProvideErrorMetadata>(
    provider: Provider,
    err: &SdkError<E, HttpResponse>,
) -> bool {
    let Some(service) = err.as_service_error() else {
        return false;
    };
    match (provider, service.code().unwrap_or_default()) {
        (Provider::Sns, "OptedOut" | "OptedOutException") => true,
        (Provider::Sns, "InvalidParameter" | "InvalidParameterValue") => {
            refused_parameter(service.message().unwrap_or_default()) == Some("PhoneNumber")
        }
        _ => false,
    }
}

/// The parameter an SNS `InvalidParameter` message names: `Invalid parameter: <Name> Reason:`.
fn refused_parameter(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("Invalid parameter:")?;
    rest.split_whitespace().next()
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

/// An error type that sorts every AWS failure the same way: worth retrying, or not. The store's
/// and the senders' errors are built from an SDK error through this one shape.
pub trait Classified: Sized {
    fn transient(reason: String) -> Self;
    fn permanent(reason: String) -> Self;

    /// [`is_transient`] decides which, [`describe`] says what happened.
    fn from_sdk<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Self {
        let reason = describe(err);
        if is_transient(err) {
            Self::transient(reason)
        } else {
            Self::permanent(reason)
        }
    }
}

/// Implements [`Classified`] for an error enum whose transient and permanent variants each hold
/// the reason: `classified!(StoreError: Unavailable, Refused)`.
macro_rules! classified {
    ($error:ident: $transient:ident, $permanent:ident) => {
        impl $crate::aws::Classified for $error {
            fn transient(reason: String) -> Self {
                Self::$transient(reason)
            }

            fn permanent(reason: String) -> Self {
                Self::$permanent(reason)
            }
        }
    };
}

pub(crate) use classified;

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

/// `config` for the clients that send SMS and e-mail: one attempt per call. An attempt that
/// timed out may have been delivered, and a retry inside the SDK would send it again without
/// anyone counting; the delivery rules decide on a resend instead (see `crate::delivery`).
pub fn for_sending(config: &aws_config::SdkConfig) -> aws_config::SdkConfig {
    config
        .to_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build()
}

/// The five roots Amazon Trust Services recommends for custom trust stores (Amazon Root CA 1-4,
/// Starfield Services Root G2): every AWS endpoint these functions call chains to one of them.
/// Five certificates decode in microseconds, where the system bundle's 150 took a good part of
/// a cold start at 128 MB.
pub const AMAZON_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// The variables that replace [`AMAZON_ROOTS`] with a bundle of the operator's: a TLS-inspecting
/// proxy, a corporate CA, the local bench's loopback endpoint.
pub const TRUST_OVERRIDES: [&str; 2] = ["SSL_CERT_FILE", "AWS_CA_BUNDLE"];

/// The certificates the HTTPS client trusts, as PEM: the first of [`TRUST_OVERRIDES`] that
/// names a [`usable_bundle`], else [`AMAZON_ROOTS`].
pub fn trusted_pem(lookup: &impl Fn(&str) -> Option<String>) -> std::borrow::Cow<'static, [u8]> {
    let named: Vec<std::path::PathBuf> = TRUST_OVERRIDES
        .iter()
        .filter_map(|name| lookup(name))
        .filter(|path| !path.trim().is_empty())
        .map(std::path::PathBuf::from)
        .collect();
    if named.is_empty() {
        return AMAZON_ROOTS.into();
    }
    match find_bundle(named) {
        Some(pem) => pem.into(),
        None => {
            tracing::warn!(
                "SSL_CERT_FILE / AWS_CA_BUNDLE name no usable CA bundle: trusting the Amazon roots"
            );
            AMAZON_ROOTS.into()
        }
    }
}

/// The first of `candidates` that can be read and is a [`usable_bundle`].
pub fn find_bundle(candidates: impl IntoIterator<Item = std::path::PathBuf>) -> Option<Vec<u8>> {
    candidates
        .into_iter()
        .filter_map(|path| std::fs::read(path).ok())
        .find(|pem| usable_bundle(pem))
}

/// Every PEM block decodes and every certificate is a trust anchor, so that the HTTP client's
/// own parsing of the bundle cannot fail.
pub fn usable_bundle(pem: &[u8]) -> bool {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        match cert {
            Ok(cert) if webpki::anchor_from_trusted_cert(&cert).is_ok() => count += 1,
            _ => return false,
        }
    }
    count > 0
}

/// The SDK's HTTPS client (rustls with aws-lc, proxy from the environment, TCP_NODELAY as the
/// SDK's own connector sets it), trusting [`trusted_pem`]. One per process: every SDK client
/// shares it, so the trust store is read once and each connector is built once per timeout
/// setting.
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    static CLIENT: std::sync::OnceLock<aws_smithy_runtime_api::client::http::SharedHttpClient> =
        std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let pem = trusted_pem(&|name| std::env::var(name).ok());
            build_https_client(&pem)
        })
        .clone()
}

fn build_https_client(pem: &[u8]) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    use aws_smithy_http_client::{Builder, Connector, proxy::ProxyConfig};
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(pem.to_vec()))
        .build()
        .unwrap_or_default();
    let proxy = ProxyConfig::from_env();
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = Connector::builder()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(proxy.clone()));
        connector.build()
    })
}

/// What every AWS call's `User-Agent` names the caller (`app/identomat-callbacks-<version>`),
/// so CloudTrail and the service's logs tell which version of the receiver made it.
pub fn app_name() -> Option<aws_config::AppName> {
    aws_config::AppName::new(format!("identomat-callbacks-{}", crate::VERSION)).ok()
}

/// The SDK configuration every function uses: region, credentials and `AWS_ENDPOINT_URL` from
/// the environment, with [`timeouts`], [`retries`], [`https_client`] and [`app_name`].
pub async fn load_config() -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(name) = app_name() {
        loader = loader.app_name(name);
    }
    loader
        .http_client(https_client())
        .timeout_config(timeouts())
        .retry_config(retries())
        .load()
        .await
}
