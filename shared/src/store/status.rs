//! The `status` record of a session: its current result and the history of every result
//! received, in `receivedAt` order.
//!
//! Callbacks carry no time of their own and may arrive late, twice or out of order. The record
//! is therefore merged in Rust (a pure function, [`merge`]) and written back with optimistic
//! locking: the write is conditional on the `version` it was read at, and a lost race reads
//! again. No update is ever lost and no duplicate is ever added, however many envelopes of one
//! session are processed at once.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use super::attr::{Item, list, map, n, number, s, text, time};
use super::{SessionsTable, StoreError, is_condition_failure};
use crate::aws::Classified;
use crate::callback::SessionChange;
use crate::timestamp::Timestamp;

pub const STATUS_RECORD: &str = "status";
/// The history keeps the newest entries only, so the item stays far below DynamoDB's 400 KB.
pub const HISTORY_LIMIT: usize = 100;
/// Attempts of read-merge-write before giving up and letting Lambda retry the envelope.
const MAX_ATTEMPTS: u32 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub result: String,
    pub received_at: Timestamp,
    pub request_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRecord {
    /// The result of the newest envelope received.
    pub result: String,
    pub session_type: String,
    pub received_at: Timestamp,
    pub request_id: String,
    pub updated_at: Timestamp,
    /// Newest [`HISTORY_LIMIT`] entries, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Every entry ever added, including those the limit dropped.
    pub history_count: u64,
    /// Incremented by every write; the condition of the next one.
    pub version: u64,
}

/// What a `session-change` did to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "lowercase")]
pub enum StatusOutcome {
    /// The envelope is the newest: the current result is its result.
    Updated,
    /// An older envelope than the one stored: history only.
    Stale,
    /// This request id is in the history already: nothing changed.
    Duplicate,
}

impl StatusOutcome {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// The record after `entry`, or `None` when the entry is a duplicate.
///
/// An entry older than every kept one while the history is full is a duplicate or a change so
/// late that it would be dropped at once: either way the record does not change.
pub fn merge(
    existing: Option<&StatusRecord>,
    entry: HistoryEntry,
    session_type: &str,
    now: Timestamp,
) -> Option<(StatusRecord, StatusOutcome)> {
    let Some(existing) = existing else {
        let record = StatusRecord {
            result: entry.result.clone(),
            session_type: session_type.to_owned(),
            received_at: entry.received_at,
            request_id: entry.request_id.clone(),
            updated_at: now,
            history: vec![entry],
            history_count: 1,
            version: 1,
        };
        return Some((record, StatusOutcome::Updated));
    };
    if existing
        .history
        .iter()
        .any(|e| e.request_id == entry.request_id)
    {
        return None;
    }
    let full = existing.history.len() >= HISTORY_LIMIT;
    if full
        && existing
            .history
            .first()
            .is_some_and(|oldest| entry.received_at < oldest.received_at)
    {
        return None;
    }
    let mut record = existing.clone();
    // After every entry received at the same time or earlier: receipt order, ties by arrival.
    let at = record
        .history
        .partition_point(|e| e.received_at <= entry.received_at);
    let newest = entry.received_at >= existing.received_at;
    if newest {
        record.result = entry.result.clone();
        record.received_at = entry.received_at;
        record.request_id = entry.request_id.clone();
        record.session_type = session_type.to_owned();
    }
    record.history.insert(at, entry);
    if record.history.len() > HISTORY_LIMIT {
        let excess = record.history.len() - HISTORY_LIMIT;
        record.history.drain(..excess);
    }
    record.history_count += 1;
    record.updated_at = now;
    record.version += 1;
    let outcome = if newest {
        StatusOutcome::Updated
    } else {
        StatusOutcome::Stale
    };
    Some((record, outcome))
}

impl StatusRecord {
    /// The `status` item of `session_id` holding this record (without `expiresAt`).
    pub fn to_item(&self, session_id: &str) -> Item {
        let history = self
            .history
            .iter()
            .map(|e| {
                AttributeValue::M(Item::from([
                    ("result".to_owned(), s(&e.result)),
                    ("receivedAt".to_owned(), s(e.received_at.to_string())),
                    ("requestId".to_owned(), s(&e.request_id)),
                ]))
            })
            .collect();
        Item::from([
            ("sessionId".to_owned(), s(session_id)),
            ("record".to_owned(), s(STATUS_RECORD)),
            ("result".to_owned(), s(&self.result)),
            ("sessionType".to_owned(), s(&self.session_type)),
            ("receivedAt".to_owned(), s(self.received_at.to_string())),
            ("requestId".to_owned(), s(&self.request_id)),
            ("updatedAt".to_owned(), s(self.updated_at.to_string())),
            ("history".to_owned(), AttributeValue::L(history)),
            ("historyCount".to_owned(), n(self.history_count)),
            ("version".to_owned(), n(self.version)),
        ])
    }

    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let history = list(item, "history")?
            .iter()
            .map(|e| {
                let m = map(e, "history")?;
                Ok(HistoryEntry {
                    result: text(m, "result")?,
                    received_at: time(m, "receivedAt")?,
                    request_id: text(m, "requestId")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Self {
            result: text(item, "result")?,
            session_type: text(item, "sessionType")?,
            received_at: time(item, "receivedAt")?,
            request_id: text(item, "requestId")?,
            updated_at: time(item, "updatedAt")?,
            history,
            history_count: number(item, "historyCount")?,
            version: number(item, "version")?,
        })
    }
}

/// A short pause that grows with the attempt and differs between concurrent writers.
async fn back_off(attempt: u32) {
    use std::hash::{BuildHasher, RandomState};
    let jitter = RandomState::new().hash_one(attempt) % 10;
    let millis = (u64::from(attempt.min(10)) * 5) + jitter;
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

impl SessionsTable {
    /// Records a `session-change` received at `received_at` by request `request_id`.
    pub async fn record_session_change(
        &self,
        change: &SessionChange,
        request_id: &str,
        received_at: Timestamp,
    ) -> Result<StatusOutcome, StoreError> {
        let session_id = change.session_id.as_str();
        let entry = HistoryEntry {
            result: change.result.as_str().to_owned(),
            received_at,
            request_id: request_id.to_owned(),
        };
        for attempt in 0..MAX_ATTEMPTS {
            let existing = self.read_status(session_id).await?;
            let merged = merge(
                existing.as_ref(),
                entry.clone(),
                change.session_type.as_str(),
                Timestamp::now(),
            );
            let Some((record, outcome)) = merged else {
                return Ok(StatusOutcome::Duplicate);
            };
            let put = self
                .client
                .put_item()
                .table_name(&self.name)
                .set_item(Some(record.to_item(session_id)))
                .item("expiresAt", self.expires_at());
            let put = match &existing {
                None => put
                    .condition_expression("attribute_not_exists(#record)")
                    .expression_attribute_names("#record", "record"),
                Some(old) => put
                    .condition_expression("#version = :version")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":version", n(old.version)),
            };
            match put.send().await {
                Ok(_) => return Ok(outcome),
                Err(e) if is_condition_failure(&e) => back_off(attempt).await,
                Err(e) => return Err(StoreError::from_sdk(&e)),
            }
        }
        Err(StoreError::Unavailable(format!(
            "the status record changed under {MAX_ATTEMPTS} attempts in a row"
        )))
    }

    async fn read_status(&self, session_id: &str) -> Result<Option<StatusRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("sessionId", s(session_id))
            .key("record", s(STATUS_RECORD))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk(&e))?;
        out.item().map(StatusRecord::from_item).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(result: &str, ms: u64, id: &str) -> HistoryEntry {
        HistoryEntry {
            result: result.into(),
            received_at: Timestamp::from_unix_millis(ms),
            request_id: id.into(),
        }
    }

    fn apply(record: Option<StatusRecord>, e: HistoryEntry) -> (StatusRecord, StatusOutcome) {
        merge(
            record.as_ref(),
            e,
            "kyc",
            Timestamp::from_unix_millis(9_999),
        )
        .expect("not a duplicate")
    }

    fn results(record: &StatusRecord) -> Vec<&str> {
        record.history.iter().map(|e| e.result.as_str()).collect()
    }

    #[test]
    fn late_older_change_goes_into_history_only() {
        let (r, o) = apply(None, entry("APPROVED", 2_000, "b"));
        assert_eq!(o, StatusOutcome::Updated);
        let (r, o) = apply(Some(r), entry("MANUAL_CHECK", 1_000, "a"));
        assert_eq!(o, StatusOutcome::Stale);
        assert_eq!(r.result, "APPROVED");
        assert_eq!(results(&r), ["MANUAL_CHECK", "APPROVED"]);
        assert_eq!((r.history_count, r.version), (2, 2));
    }

    #[test]
    fn newer_or_equal_moves_the_current_result() {
        let (r, _) = apply(None, entry("MANUAL_CHECK", 1_000, "a"));
        let (r, o) = apply(Some(r), entry("APPROVED", 1_000, "b"));
        assert_eq!(o, StatusOutcome::Updated);
        assert_eq!(r.result, "APPROVED");
        assert_eq!(r.request_id, "b");
    }

    #[test]
    fn same_request_twice_is_a_duplicate() {
        let (r, _) = apply(None, entry("APPROVED", 1_000, "a"));
        assert_eq!(
            merge(
                Some(&r),
                entry("APPROVED", 1_000, "a"),
                "kyc",
                Timestamp::now()
            ),
            None
        );
    }

    #[test]
    fn history_keeps_the_newest_hundred_and_counts_all() {
        let mut record = None;
        for i in 0..150u64 {
            record = Some(
                apply(
                    record,
                    entry(&format!("R{i}"), 1_000 + i, &format!("id{i}")),
                )
                .0,
            );
        }
        let r = record.unwrap();
        assert_eq!(r.history.len(), HISTORY_LIMIT);
        assert_eq!(r.history_count, 150);
        assert_eq!(r.history[0].result, "R50");
        assert_eq!(r.result, "R149");
        // Older than everything kept: it would be dropped at once, so nothing changes.
        assert_eq!(
            merge(
                Some(&r),
                entry("OLD", 1_001, "late"),
                "kyc",
                Timestamp::now()
            ),
            None
        );
    }

    #[test]
    fn item_round_trips() {
        let (r, _) = apply(None, entry("APPROVED", 1_000, "a"));
        let (r, _) = apply(Some(r), entry("REJECTED", 500, "b"));
        assert_eq!(StatusRecord::from_item(&r.to_item("abc")).unwrap(), r);
    }
}
