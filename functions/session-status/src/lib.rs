//! The session-status family: each `session-change` becomes the session's `status` record.

use shared::family::{FamilyError, Handler, record};
use shared::store::StatusOutcome;
use shared::{Callback, Envelope, Family, SessionsTable};

/// Records the envelope's `session-change`. Stale and duplicate envelopes succeed; a store
/// failure is an error, so Lambda retries.
pub async fn handle(
    table: &SessionsTable,
    envelope: &Envelope,
) -> Result<StatusOutcome, FamilyError> {
    let digest = envelope.callback.digest();
    let write = match &envelope.callback {
        Callback::SessionChange(change) => Some(table.record_session_change(
            change,
            &envelope.request_id,
            &digest,
            envelope.received_at,
        )),
        _ => None,
    };
    record(Family::SessionStatus, envelope, write).await
}

/// The function's handler: [`handle`] on its table.
pub struct SessionStatusFamily(pub SessionsTable);

impl Handler for SessionStatusFamily {
    const FAMILY: Family = Family::SessionStatus;

    async fn invoke(&self, envelope: &Envelope) -> Result<&'static str, FamilyError> {
        handle(&self.0, envelope).await.map(StatusOutcome::name)
    }
}
