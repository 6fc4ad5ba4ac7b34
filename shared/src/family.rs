//! What every family function shares: its error (an `Err` makes Lambda retry the envelope, and
//! after the retries send it to the dead-letter queue, so nothing accepted is lost) and its one
//! log line per invocation.

use std::time::Instant;

use crate::callback::Family;
use crate::envelope::Envelope;
use crate::metrics::TARGET;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum FamilyError {
    /// The ingress sent a callback to the wrong function: a deployment mistake. Dead-lettered,
    /// not dropped.
    #[error("a {0} callback reached the wrong function")]
    Misrouted(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// SNS or SES failed in a way worth retrying.
    #[error("sending failed, will retry: {0}")]
    Send(String),
}

impl FamilyError {
    /// A short tag for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            FamilyError::Misrouted(_) => "misrouted",
            FamilyError::Store(_) => "store",
            FamilyError::Send(_) => "send",
        }
    }
}

/// What a log line says about a message beyond its outcome: never the recipient unmasked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Detail<'a> {
    pub recipient: Option<&'a str>,
    pub reason: Option<&'a str>,
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
