//! The video-call family: each `video-call-status-update` becomes its room's `video#<roomId>`
//! record.

use shared::family::{FamilyError, Handler, record};
use shared::store::VideoOutcome;
use shared::{Callback, Envelope, Family, SessionsTable};

/// Records the envelope's room status. A stale or repeated envelope succeeds; a store failure is an error,
/// so Lambda retries.
pub async fn handle(
    table: &SessionsTable,
    envelope: &Envelope,
) -> Result<VideoOutcome, FamilyError> {
    let digest = envelope.callback.digest();
    let write = match &envelope.callback {
        Callback::VideoCallStatus(update) => Some(table.record_video_status(
            update,
            &envelope.request_id,
            &digest,
            envelope.received_at,
        )),
        _ => None,
    };
    record(Family::VideoCall, envelope, write).await
}

/// The function's handler: [`handle`] on its table.
pub struct VideoCallFamily(pub SessionsTable);

impl Handler for VideoCallFamily {
    const FAMILY: Family = Family::VideoCall;

    async fn invoke(&self, envelope: &Envelope) -> Result<&'static str, FamilyError> {
        handle(&self.0, envelope).await.map(VideoOutcome::name)
    }
}
