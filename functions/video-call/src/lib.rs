//! The video-call family: each `video-call-status-update` becomes its room's `video#<roomId>`
//! record.

use std::time::Instant;

use identomat::family::{Detail, FamilyError, log_invocation};
use identomat::store::VideoOutcome;
use identomat::{Callback, Envelope, Family, SessionsTable};

/// Records the envelope's room status. A stale envelope succeeds; a store failure is an error,
/// so Lambda retries.
pub async fn handle(
    table: &SessionsTable,
    envelope: &Envelope,
) -> Result<VideoOutcome, FamilyError> {
    let started = Instant::now();
    let result = match &envelope.callback {
        Callback::VideoCallStatus(update) => table
            .record_video_status(update, &envelope.request_id, envelope.received_at)
            .await
            .map_err(FamilyError::from),
        other => Err(FamilyError::Misrouted(other.type_name().to_owned())),
    };
    log_invocation(
        Family::VideoCall,
        envelope,
        result.as_ref().map(|o| o.name()),
        Detail::default(),
        started,
    );
    result
}
