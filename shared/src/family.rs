//! What every family function shares: its main loop ([`run`]), the reading of its envelope
//! ([`decode`]), its error (an `Err` makes Lambda retry the envelope, and after the retries send
//! it to the dead-letter queue, so nothing accepted is lost) and its one log line per
//! invocation.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

use crate::callback::Family;
use crate::config::{ConfigError, process_env};
use crate::envelope::Envelope;
use crate::metrics::TARGET;
use crate::store::{SessionsTable, StoreError};

/// A family function's handler, as [`run`] serves it.
pub trait Handler {
    const FAMILY: Family;

    /// Acts on an envelope of [`Self::FAMILY`]; the outcome's name is the invocation's answer.
    fn invoke(
        &self,
        envelope: &Envelope,
    ) -> impl Future<Output = Result<&'static str, FamilyError>>;
}

#[derive(Debug, thiserror::Error)]
pub enum FamilyError {
    /// The ingress sent a callback to the wrong function: a deployment mistake. Dead-lettered,
    /// not dropped.
    #[error("a {0} callback reached the wrong function")]
    Misrouted(String),
    /// The payload is not an envelope the ingress could have produced (edited by hand, or from
    /// another version): dead-lettered for a person to look at, never acted on.
    #[error("the envelope is invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// SNS or SES failed in a way worth retrying.
    #[error("sending failed, will retry: {0}")]
    Send(String),
    /// SNS or SES refused the send for the deployment's sake: fixed by the operator, then
    /// redriven from the dead-letter queue.
    #[error("the deployment cannot send: {0}")]
    Configuration(String),
    /// An earlier attempt of this envelope still holds its delivery claim.
    #[error("an earlier attempt of this envelope holds its delivery; will retry")]
    ClaimHeld,
}

impl FamilyError {
    /// A short tag for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            FamilyError::Misrouted(_) => "misrouted",
            FamilyError::Invalid(_) => "invalid",
            FamilyError::Store(_) => "store",
            FamilyError::Send(_) => "send",
            FamilyError::Configuration(_) => "configuration",
            FamilyError::ClaimHeld => "claim-held",
        }
    }
}

/// A family function's start: JSON logs, and the SDK configuration its clients are built from.
pub async fn start() -> aws_config::SdkConfig {
    crate::logging::init();
    crate::aws::load_config().await
}

/// The sessions table as the environment names it (`SESSIONS_TABLE`, `RECORD_RETENTION_DAYS`).
pub fn sessions_table(aws: &aws_config::SdkConfig) -> Result<SessionsTable, ConfigError> {
    SessionsTable::from_lookup(aws_sdk_dynamodb::Client::new(aws), &process_env)
}

/// Serves the family's invocations until the runtime stops: each payload is [`decode`]d, handed
/// to `handler`, and answered with the outcome's name. The mains build their clients and call
/// this.
pub async fn run<H: Handler>(handler: H) -> Result<(), lambda_runtime::Error> {
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let envelope = decode(H::FAMILY, event.payload)?;
        // Boxed as a trait object: the SDK's send futures nest deep enough that the compiler
        // cannot lay out this block with the handler's future inline.
        let invocation: Pin<Box<dyn Future<Output = _> + '_>> = Box::pin(handler.invoke(&envelope));
        let outcome = invocation.await?;
        Ok::<Value, lambda_runtime::Error>(json!({ "outcome": outcome }))
    }))
    .await
}

/// A table family's whole handling: `write` records the envelope's callback (`None` when the
/// callback is another family's); its outcome, or its error, is the invocation's log line.
pub async fn record<O, W>(
    family: Family,
    envelope: &Envelope,
    write: Option<W>,
) -> Result<O, FamilyError>
where
    O: Into<&'static str> + Copy,
    W: Future<Output = Result<O, StoreError>>,
{
    let started = Instant::now();
    let Some(write) = write else {
        return Err(misrouted(family, envelope, started));
    };
    let result = write.await.map_err(FamilyError::from);
    let outcome = result.as_ref().map(|o| (*o).into());
    log_invocation(family, envelope, outcome, Detail::default(), started);
    result
}

/// The envelope in `payload`, read with the ingress's rules, if it is `family`'s. Anything else
/// is logged and refused: `invalid` or `misrouted`.
pub fn decode(family: Family, payload: Value) -> Result<Envelope, FamilyError> {
    let started = Instant::now();
    let request_id = payload
        .get("requestId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let envelope = match serde_json::from_value::<Envelope>(payload) {
        Ok(envelope) => envelope,
        Err(e) => {
            let error = FamilyError::Invalid(e.to_string());
            log_refused(family, &request_id, &error, started);
            return Err(error);
        }
    };
    if envelope.callback.family() != Some(family) {
        return Err(misrouted(family, &envelope, started));
    }
    Ok(envelope)
}

/// The error, and its log line, for an envelope of another family.
pub fn misrouted(family: Family, envelope: &Envelope, started: Instant) -> FamilyError {
    let error = FamilyError::Misrouted(envelope.callback.type_name().to_owned());
    log_invocation(family, envelope, Err(&error), Detail::default(), started);
    error
}

/// What a log line says about a message beyond its outcome: never the recipient unmasked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Detail<'a> {
    pub recipient: Option<&'a str>,
    pub reason: Option<&'a str>,
    /// What a message sent or suppressed is billed as: SMS parts, e-mail recipients. The line's
    /// metric counts this many ([`crate::metrics`]).
    pub billed: Option<u32>,
}

/// The invocation's log line and metric: function, request id, type, outcome (`error` when
/// Lambda will retry), session fingerprint, duration, and for messages the masked recipient
/// and the reason it was not sent.
pub fn log_invocation(
    family: Family,
    envelope: &Envelope,
    outcome: Result<&str, &FamilyError>,
    detail: Detail<'_>,
    started: Instant,
) {
    let recipient = detail.recipient.unwrap_or_default();
    let reason = detail.reason.unwrap_or_default();
    let session = envelope
        .callback
        .session_id()
        .map(|s| s.fingerprint().to_string())
        .unwrap_or_default();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok(outcome) => tracing::info!(
            target: TARGET,
            function = family.name(),
            requestId = %envelope.request_id,
            r#type = envelope.callback.type_name(),
            outcome,
            recipient,
            reason,
            billed = detail.billed,
            session,
            durationMs = duration_ms,
            "callback"
        ),
        Err(error) => tracing::error!(
            target: TARGET,
            function = family.name(),
            requestId = %envelope.request_id,
            r#type = envelope.callback.type_name(),
            outcome = "error",
            reason = error.kind(),
            error = %error,
            recipient,
            session,
            durationMs = duration_ms,
            "callback"
        ),
    }
}

/// The log line of a payload that is no envelope: what [`log_invocation`] says of an error,
/// without what only an envelope could tell.
fn log_refused(family: Family, request_id: &str, error: &FamilyError, started: Instant) {
    tracing::error!(
        target: TARGET,
        function = family.name(),
        requestId = request_id,
        outcome = "error",
        reason = error.kind(),
        error = %error,
        durationMs = started.elapsed().as_secs_f64() * 1000.0,
        "callback"
    );
}
