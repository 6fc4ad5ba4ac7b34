//! The `video#<roomId>` record of a session: the newest status of one video room. One
//! conditional put, newest `receivedAt` wins; a null from the platform is stored as NULL.

use super::attr::{Item, s, s_or_null};
use super::{SessionsTable, StoreError, is_condition_failure};
use crate::aws::Classified;
use crate::callback::{FileStatus, VideoCallStatus};
use crate::timestamp::Timestamp;

pub const VIDEO_RECORD_PREFIX: &str = "video#";

/// What a `video-call-status-update` did to its room's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "lowercase")]
pub enum VideoOutcome {
    Updated,
    /// A newer status of the room is stored already: nothing changed.
    Stale,
}

impl VideoOutcome {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// The `video#<roomId>` item an update writes (without `expiresAt`).
pub fn item(update: &VideoCallStatus, request_id: &str, received_at: Timestamp) -> Item {
    Item::from([
        ("sessionId".to_owned(), s(update.session_id.as_str())),
        (
            "record".to_owned(),
            s(format!("{VIDEO_RECORD_PREFIX}{}", update.room_id.as_str())),
        ),
        ("roomId".to_owned(), s(update.room_id.as_str())),
        ("roomStatus".to_owned(), s(update.room_status.as_str())),
        (
            "compositionStatus".to_owned(),
            s_or_null(update.composition_status.as_ref().map(FileStatus::as_str)),
        ),
        (
            "videoFileStatus".to_owned(),
            s_or_null(update.video_file_status.as_ref().map(FileStatus::as_str)),
        ),
        (
            "videoFileId".to_owned(),
            s_or_null(update.video_file_id.as_ref().map(|id| id.as_str())),
        ),
        ("receivedAt".to_owned(), s(received_at.to_string())),
        ("requestId".to_owned(), s(request_id)),
        ("updatedAt".to_owned(), s(Timestamp::now().to_string())),
    ])
}

impl SessionsTable {
    pub async fn record_video_status(
        &self,
        update: &VideoCallStatus,
        request_id: &str,
        received_at: Timestamp,
    ) -> Result<VideoOutcome, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item(update, request_id, received_at)))
            .item("expiresAt", self.expires_at())
            // The RFC 3339 text with fixed millisecond digits sorts as the time does.
            .condition_expression("attribute_not_exists(#record) OR #receivedAt <= :receivedAt")
            .expression_attribute_names("#record", "record")
            .expression_attribute_names("#receivedAt", "receivedAt")
            .expression_attribute_values(":receivedAt", s(received_at.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(VideoOutcome::Updated),
            Err(e) if is_condition_failure(&e) => Ok(VideoOutcome::Stale),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }
}
