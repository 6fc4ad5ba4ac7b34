//! What every family function shares: its error (an `Err` makes Lambda retry the envelope, and
//! after the retries send it to the dead-letter queue, so nothing accepted is lost) and its one
//! log line per invocation.

use std::time::Instant;

use crate::envelope::Envelope;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum FamilyError {
    /// The ingress sent a callback to the wrong function: a deployment mistake. Dead-lettered,
    /// not dropped.
    #[error("a {0} callback reached the wrong function")]
    Misrouted(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The invocation's log line: request id, type, outcome, session fingerprint, duration.
pub fn log_invocation(envelope: &Envelope, outcome: Result<&str, &FamilyError>, started: Instant) {
    let session = envelope
        .callback
        .session_id()
        .map(|s| s.fingerprint().to_string())
        .unwrap_or_default();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok(outcome) => tracing::info!(
            requestId = %envelope.request_id,
            r#type = envelope.callback.type_name(),
            outcome,
            session,
            durationMs = duration_ms,
            "callback"
        ),
        Err(error) => tracing::error!(
            requestId = %envelope.request_id,
            r#type = envelope.callback.type_name(),
            outcome = "failed",
            error = %error,
            session,
            durationMs = duration_ms,
            "callback"
        ),
    }
}
