//! The `video#<roomId>` record of a session: what is known of one video room, merged field by
//! field from every update received, and the history of those updates.
//!
//! Updates carry no time of their own and may arrive late, twice or out of order, and a late
//! retry of an early update says `null` where a later one said `available`. So what was learnt
//! is never unlearnt ([`merge`], a pure function, written back with optimistic locking as the
//! `status` record is):
//! - `roomStatus` is the newest update's;
//! - `compositionStatus` and `videoFileStatus`: null never replaces a value, and `available`,
//!   once recorded, is replaced by nothing else; otherwise the newest value wins;
//! - `videoFileId`: null never replaces an id; a newer different id replaces it and the one it
//!   replaced joins `previousVideoFileIds` (as does a different id arriving late);
//! - a repeat (the same request id and the same update, [`crate::Callback::digest`]) changes
//!   nothing.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attr::{Item, list, map, n, number, s, s_or_null, text, time};
use super::{MAX_ATTEMPTS, SessionsTable, StoreError, back_off};
use crate::callback::{FileStatus, VideoCallStatus};
use crate::timestamp::Timestamp;

pub const VIDEO_RECORD_PREFIX: &str = "video#";
/// The newest updates a record keeps: a room has a handful.
pub const VIDEO_HISTORY_LIMIT: usize = 50;
/// The previous file ids a record keeps, newest last.
pub const PREVIOUS_IDS_LIMIT: usize = 20;
/// A file status that is final: a recording that can be fetched.
const AVAILABLE: &str = "available";

/// What a `video-call-status-update` did to its room's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "lowercase")]
pub enum VideoOutcome {
    /// What the record says of the room changed.
    Updated,
    /// Nothing the record says changed: the update only joined the history.
    Stale,
    /// This update was received already: nothing changed.
    Duplicate,
}

impl VideoOutcome {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// One update as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoEntry {
    pub received_at: Timestamp,
    pub request_id: String,
    pub digest: Option<String>,
    pub room_status: String,
    pub composition_status: Option<String>,
    pub video_file_status: Option<String>,
    pub video_file_id: Option<String>,
}

impl VideoEntry {
    pub fn of(update: &VideoCallStatus, request_id: &str, digest: &str, at: Timestamp) -> Self {
        Self {
            received_at: at,
            request_id: request_id.to_owned(),
            digest: Some(digest.to_owned()),
            room_status: update.room_status.as_str().to_owned(),
            composition_status: update.composition_status.as_ref().map(status),
            video_file_status: update.video_file_status.as_ref().map(status),
            video_file_id: update
                .video_file_id
                .as_ref()
                .map(|id| id.as_str().to_owned()),
        }
    }
}

fn status(s: &FileStatus) -> String {
    s.as_str().to_owned()
}

/// A room's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoRecord {
    pub room_id: String,
    pub room_status: String,
    pub composition_status: Option<String>,
    pub video_file_status: Option<String>,
    pub video_file_id: Option<String>,
    /// File ids recorded before the current one, oldest first.
    pub previous_video_file_ids: Vec<String>,
    /// The newest update's time: what "newest" is measured against.
    pub received_at: Timestamp,
    /// The request of the update that last changed the record, and that update's digest:
    /// an event's id.
    pub request_id: String,
    pub digest: Option<String>,
    pub updated_at: Timestamp,
    /// The newest [`VIDEO_HISTORY_LIMIT`] updates, in `receivedAt` order.
    pub history: Vec<VideoEntry>,
    /// Incremented by every write; the condition of the next one (0: a record of 0.2).
    pub version: u64,
}

/// The record after `entry`, and what it did; `None` for a repeat.
pub fn merge(
    room_id: &str,
    existing: Option<&VideoRecord>,
    entry: VideoEntry,
    now: Timestamp,
) -> Option<(VideoRecord, VideoOutcome)> {
    let Some(existing) = existing else {
        let record = VideoRecord {
            room_id: room_id.to_owned(),
            room_status: entry.room_status.clone(),
            composition_status: entry.composition_status.clone(),
            video_file_status: entry.video_file_status.clone(),
            video_file_id: entry.video_file_id.clone(),
            previous_video_file_ids: Vec::new(),
            received_at: entry.received_at,
            request_id: entry.request_id.clone(),
            digest: entry.digest.clone(),
            updated_at: now,
            history: vec![entry],
            version: 1,
        };
        return Some((record, VideoOutcome::Updated));
    };
    let repeat = |e: &VideoEntry| {
        e.request_id == entry.request_id && e.digest.is_some() && e.digest == entry.digest
    };
    if existing.history.iter().any(repeat) {
        return None;
    }
    let newest = entry.received_at >= existing.received_at;
    let mut record = existing.clone();
    if newest {
        record.room_status = entry.room_status.clone();
        record.received_at = entry.received_at;
    }
    record.composition_status = file_status(
        &existing.composition_status,
        &entry.composition_status,
        newest,
    );
    record.video_file_status = file_status(
        &existing.video_file_status,
        &entry.video_file_status,
        newest,
    );
    match (&existing.video_file_id, &entry.video_file_id) {
        (_, None) => {}
        (Some(current), Some(id)) if current == id => {}
        (None, Some(id)) => record.video_file_id = Some(id.clone()),
        (Some(current), Some(id)) => {
            let previous = match newest {
                true => {
                    record.video_file_id = Some(id.clone());
                    current.clone()
                }
                false => id.clone(),
            };
            if !record.previous_video_file_ids.contains(&previous) {
                record.previous_video_file_ids.push(previous);
            }
            let ids = &mut record.previous_video_file_ids;
            ids.drain(..ids.len().saturating_sub(PREVIOUS_IDS_LIMIT));
        }
    }
    let changed = record.room_status != existing.room_status
        || record.composition_status != existing.composition_status
        || record.video_file_status != existing.video_file_status
        || record.video_file_id != existing.video_file_id;
    if changed {
        record.request_id = entry.request_id.clone();
        record.digest = entry.digest.clone();
    }
    let at = record
        .history
        .partition_point(|e| e.received_at <= entry.received_at);
    record.history.insert(at, entry);
    if record.history.len() > VIDEO_HISTORY_LIMIT {
        let excess = record.history.len() - VIDEO_HISTORY_LIMIT;
        record.history.drain(..excess);
    }
    record.updated_at = now;
    record.version += 1;
    let outcome = match changed {
        true => VideoOutcome::Updated,
        false => VideoOutcome::Stale,
    };
    Some((record, outcome))
}

/// A file status after an update: null never replaces a value, `available` is replaced by
/// nothing else, and otherwise the newest value wins.
fn file_status(current: &Option<String>, update: &Option<String>, newest: bool) -> Option<String> {
    match (current.as_deref(), update.as_deref()) {
        (_, None) => current.clone(),
        (Some(AVAILABLE), Some(_)) => current.clone(),
        (_, Some(AVAILABLE)) | (None, Some(_)) => update.clone(),
        (Some(_), Some(_)) => match newest {
            true => update.clone(),
            false => current.clone(),
        },
    }
}

impl VideoRecord {
    /// The `video#<roomId>` item of `session_id` holding this record (without `expiresAt`).
    pub fn to_item(&self, session_id: &str) -> Item {
        let history = self
            .history
            .iter()
            .map(|e| {
                let mut m = Item::from([
                    ("receivedAt".to_owned(), s(e.received_at.to_string())),
                    ("requestId".to_owned(), s(&e.request_id)),
                    ("roomStatus".to_owned(), s(&e.room_status)),
                    (
                        "compositionStatus".to_owned(),
                        s_or_null(e.composition_status.as_deref()),
                    ),
                    (
                        "videoFileStatus".to_owned(),
                        s_or_null(e.video_file_status.as_deref()),
                    ),
                    (
                        "videoFileId".to_owned(),
                        s_or_null(e.video_file_id.as_deref()),
                    ),
                ]);
                if let Some(digest) = &e.digest {
                    m.insert("digest".to_owned(), s(digest));
                }
                AttributeValue::M(m)
            })
            .collect();
        let mut item = Item::from([
            ("sessionId".to_owned(), s(session_id)),
            (
                "record".to_owned(),
                s(format!("{VIDEO_RECORD_PREFIX}{}", self.room_id)),
            ),
            ("roomId".to_owned(), s(&self.room_id)),
            ("roomStatus".to_owned(), s(&self.room_status)),
            (
                "compositionStatus".to_owned(),
                s_or_null(self.composition_status.as_deref()),
            ),
            (
                "videoFileStatus".to_owned(),
                s_or_null(self.video_file_status.as_deref()),
            ),
            (
                "videoFileId".to_owned(),
                s_or_null(self.video_file_id.as_deref()),
            ),
            ("receivedAt".to_owned(), s(self.received_at.to_string())),
            ("requestId".to_owned(), s(&self.request_id)),
            ("updatedAt".to_owned(), s(self.updated_at.to_string())),
            ("history".to_owned(), AttributeValue::L(history)),
            ("version".to_owned(), n(self.version)),
        ]);
        if !self.previous_video_file_ids.is_empty() {
            let ids = self.previous_video_file_ids.iter().map(s).collect();
            item.insert("previousVideoFileIds".to_owned(), AttributeValue::L(ids));
        }
        if let Some(digest) = &self.digest {
            item.insert("digest".to_owned(), s(digest));
        }
        item
    }

    /// A stored record; one written by 0.2 (no history, no version) reads as version 0.
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let nullable = |m: &Item, name: &str| text(m, name).ok();
        let history = match item.get("history") {
            None => Vec::new(),
            Some(_) => list(item, "history")?
                .iter()
                .map(|e| {
                    let m = map(e, "history")?;
                    Ok(VideoEntry {
                        received_at: time(m, "receivedAt")?,
                        request_id: text(m, "requestId")?,
                        digest: nullable(m, "digest"),
                        room_status: text(m, "roomStatus")?,
                        composition_status: nullable(m, "compositionStatus"),
                        video_file_status: nullable(m, "videoFileStatus"),
                        video_file_id: nullable(m, "videoFileId"),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?,
        };
        let previous = match item.get("previousVideoFileIds") {
            None => Vec::new(),
            Some(_) => list(item, "previousVideoFileIds")?
                .iter()
                .filter_map(|v| v.as_s().ok().cloned())
                .collect(),
        };
        let received_at = time(item, "receivedAt")?;
        Ok(Self {
            room_id: text(item, "roomId")?,
            room_status: text(item, "roomStatus")?,
            composition_status: nullable(item, "compositionStatus"),
            video_file_status: nullable(item, "videoFileStatus"),
            video_file_id: nullable(item, "videoFileId"),
            previous_video_file_ids: previous,
            received_at,
            request_id: text(item, "requestId")?,
            digest: nullable(item, "digest"),
            updated_at: time(item, "updatedAt").unwrap_or(received_at),
            history,
            version: number(item, "version").unwrap_or(0),
        })
    }
}

/// The item of a room's first update (without `expiresAt`).
pub fn item(update: &VideoCallStatus, request_id: &str, received_at: Timestamp) -> Item {
    let digest = crate::Callback::VideoCallStatus(update.clone()).digest();
    let entry = VideoEntry::of(update, request_id, &digest, received_at);
    let room = update.room_id.as_str();
    match merge(room, None, entry, Timestamp::now()) {
        Some((record, _)) => record.to_item(update.session_id.as_str()),
        None => Item::new(),
    }
}

impl SessionsTable {
    /// Merges a room's update into its record; `digest` is the callback's.
    pub async fn record_video_status(
        &self,
        update: &VideoCallStatus,
        request_id: &str,
        digest: &str,
        received_at: Timestamp,
    ) -> Result<VideoOutcome, StoreError> {
        let session_id = update.session_id.as_str();
        let record_key = format!("{VIDEO_RECORD_PREFIX}{}", update.room_id.as_str());
        let entry = VideoEntry::of(update, request_id, digest, received_at);
        for attempt in 0..MAX_ATTEMPTS {
            let existing = self
                .read_item(session_id, &record_key)
                .await?
                .as_ref()
                .map(VideoRecord::from_item)
                .transpose()?;
            let merged = merge(
                update.room_id.as_str(),
                existing.as_ref(),
                entry.clone(),
                Timestamp::now(),
            );
            let Some((record, outcome)) = merged else {
                return Ok(VideoOutcome::Duplicate);
            };
            let read = existing.as_ref().map(|old| old.version);
            if self.put_versioned(record.to_item(session_id), read).await? {
                return Ok(outcome);
            }
            back_off(attempt).await;
        }
        Err(StoreError::Unavailable(format!(
            "the video record changed under {MAX_ATTEMPTS} attempts in a row"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        ms: u64,
        id: &str,
        room: &str,
        file: Option<&str>,
        file_id: Option<&str>,
    ) -> VideoEntry {
        VideoEntry {
            received_at: Timestamp::from_unix_millis(ms),
            request_id: id.into(),
            digest: Some(format!("{room}{file:?}{file_id:?}")),
            room_status: room.into(),
            composition_status: file.map(str::to_owned),
            video_file_status: file.map(str::to_owned),
            video_file_id: file_id.map(str::to_owned),
        }
    }

    fn apply(record: Option<VideoRecord>, e: VideoEntry) -> (VideoRecord, VideoOutcome) {
        merge(
            "RM1",
            record.as_ref(),
            e,
            Timestamp::from_unix_millis(9_999),
        )
        .expect("no repeat")
    }

    #[test]
    fn a_late_retry_of_an_early_update_erases_nothing() {
        let (r, _) = apply(None, entry(1_000, "a", "ended", None, None));
        let (r, o) = apply(
            Some(r),
            entry(2_000, "b", "ended", Some("available"), Some("F1")),
        );
        assert_eq!(o, VideoOutcome::Updated);
        // The first update's retry, received last: nulls everywhere.
        let (r, o) = apply(Some(r), entry(3_000, "c", "ended", None, None));
        assert_eq!(o, VideoOutcome::Stale);
        assert_eq!(r.video_file_id.as_deref(), Some("F1"));
        assert_eq!(r.video_file_status.as_deref(), Some("available"));
        assert_eq!(r.request_id, "b");
        assert_eq!(r.history.len(), 3);
        // An earlier state after `available` does not replace it either.
        let (r, _) = apply(
            Some(r),
            entry(4_000, "d", "ended", Some("processing"), None),
        );
        assert_eq!(r.composition_status.as_deref(), Some("available"));
    }

    #[test]
    fn a_newer_file_id_replaces_the_current_one_which_is_kept() {
        let (r, _) = apply(
            None,
            entry(1_000, "a", "ended", Some("available"), Some("F1")),
        );
        let (r, o) = apply(
            Some(r),
            entry(2_000, "b", "ended", Some("available"), Some("F2")),
        );
        assert_eq!(o, VideoOutcome::Updated);
        assert_eq!(r.video_file_id.as_deref(), Some("F2"));
        assert_eq!(r.previous_video_file_ids, ["F1"]);
        // A different id arriving late is kept as a previous one, not made current.
        let (r, o) = apply(
            Some(r),
            entry(500, "c", "ended", Some("available"), Some("F0")),
        );
        assert_eq!(o, VideoOutcome::Stale);
        assert_eq!(r.video_file_id.as_deref(), Some("F2"));
        assert_eq!(r.previous_video_file_ids, ["F1", "F0"]);
    }

    #[test]
    fn room_status_is_the_newest_and_a_repeat_changes_nothing() {
        let (r, _) = apply(None, entry(2_000, "b", "ended", None, None));
        let (r, o) = apply(Some(r), entry(1_000, "a", "empty", None, None));
        assert_eq!((o, r.room_status.as_str()), (VideoOutcome::Stale, "ended"));
        let repeat = merge(
            "RM1",
            Some(&r),
            entry(1_000, "a", "empty", None, None),
            Timestamp::now(),
        );
        assert_eq!(repeat, None);
        // The same request id with another update (a front reusing ids) is no repeat.
        let (r, o) = apply(
            Some(r),
            entry(3_000, "a", "ended", Some("available"), Some("F1")),
        );
        assert_eq!(
            (o, r.video_file_id.as_deref()),
            (VideoOutcome::Updated, Some("F1"))
        );
    }

    #[test]
    fn item_round_trips_and_a_record_of_0_2_reads_as_version_0() {
        let (r, _) = apply(
            None,
            entry(1_000, "a", "ended", Some("available"), Some("F1")),
        );
        let (r, _) = apply(
            Some(r),
            entry(2_000, "b", "ended", Some("available"), Some("F2")),
        );
        assert_eq!(VideoRecord::from_item(&r.to_item("s1")).unwrap(), r);
        let mut old = r.to_item("s1");
        for name in ["history", "version", "digest", "previousVideoFileIds"] {
            old.remove(name);
        }
        let read = VideoRecord::from_item(&old).unwrap();
        assert_eq!((read.version, read.history.len()), (0, 0));
        assert_eq!(read.video_file_id.as_deref(), Some("F2"));
    }
}
