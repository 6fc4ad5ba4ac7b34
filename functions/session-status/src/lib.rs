//! The session-status family: each `session-change` becomes the session's `status` record.

use std::time::Instant;

use identomat::family::{Detail, FamilyError, log_invocation};
use identomat::store::StatusOutcome;
use identomat::{Callback, Envelope, Family, SessionsTable};

/// Records the envelope's `session-change`. Stale and duplicate envelopes succeed; a store
/// failure is an error, so Lambda retries.
pub async fn handle(
    table: &SessionsTable,
    envelope: &Envelope,
) -> Result<StatusOutcome, FamilyError> {
    let started = Instant::now();
    let result = match &envelope.callback {
        Callback::SessionChange(change) => table
            .record_session_change(change, &envelope.request_id, envelope.received_at)
            .await
            .map_err(FamilyError::from),
        other => Err(FamilyError::Misrouted(other.type_name().to_owned())),
    };
    log_invocation(
        Family::SessionStatus,
        envelope,
        result.as_ref().map(|o| o.name()),
        Detail::default(),
        started,
    );
    result
}
