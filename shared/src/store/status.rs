//! The `status` record of a session: its current result and the history of every result
//! received, in `receivedAt` order.
//!
//! Callbacks carry no time of their own and may arrive late, twice or out of order. The record
//! is therefore merged in Rust (a pure function, [`merge`]) and written back with optimistic
//! locking: the write is conditional on the `version` it was read at, and a lost race reads
//! again. No update is ever lost and no duplicate is ever added, however many envelopes of one
//! session are processed at once.
//!
//! A duplicate is the same request id *and* the same callback ([`crate::Callback::digest`]):
//! two different changes that share a request id (a front that reuses ids) are both kept. A
//! current result that moves from a final one (`APPROVED`, `REJECTED`) to one that is not
//! (`MANUAL_CHECK`, `ADDITIONAL_INFORMATION_REQUESTED`) is stored as received but marked
//! `regressed`, with the final result it left: a retry of an older callback, or a session the
//! platform reopened; the operator checks which at Identomat. A value this version does not
//! know is not judged either way.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attr::{Item, list, map, n, number, s, text, time};
use super::{MAX_ATTEMPTS, SessionsTable, StoreError, back_off};
use crate::callback::SessionChange;
use crate::timestamp::Timestamp;

pub const STATUS_RECORD: &str = "status";
/// The history keeps the newest entries only, so the item stays far below DynamoDB's 400 KB.
pub const HISTORY_LIMIT: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub result: String,
    pub received_at: Timestamp,
    pub request_id: String,
    /// The callback's digest; `None` in entries written before 0.3.
    pub digest: Option<String>,
    /// Where the result came from: `None` for a callback, `Some("reconcile")` for Identomat's
    /// `result/` asked by the reconcile function.
    pub source: Option<String>,
}

/// A history entry's `source` when the result was read from Identomat's `result/`.
pub const SOURCE_RECONCILE: &str = "reconcile";

impl HistoryEntry {
    /// Whether `other` is this entry received again: the same request and the same callback
    /// (an entry of 0.2 has no digest: its result stands in).
    fn is_repeat_of(&self, other: &HistoryEntry) -> bool {
        self.request_id == other.request_id
            && match (&self.digest, &other.digest) {
                (Some(a), Some(b)) => a == b,
                _ => self.result == other.result,
            }
    }
}

/// `APPROVED` and `REJECTED` end a session.
const FINAL: [&str; 2] = ["APPROVED", "REJECTED"];
/// The documented results that do not: a session that moves to one of these from a final one
/// has regressed.
const NOT_FINAL: [&str; 2] = ["MANUAL_CHECK", "ADDITIONAL_INFORMATION_REQUESTED"];

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
    /// The final result the current one regressed from, while the current result is a
    /// non-final one that followed a final one.
    pub regressed_from: Option<String>,
    /// Incremented by every write; the condition of the next one.
    pub version: u64,
}

/// What a `session-change` did to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "lowercase")]
pub enum StatusOutcome {
    /// The envelope is the newest: the current result is its result.
    Updated,
    /// Updated, from a final result to a non-final one: marked `regressed`.
    Regressed,
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
            regressed_from: None,
            version: 1,
        };
        return Some((record, StatusOutcome::Updated));
    };
    if existing.history.iter().any(|e| e.is_repeat_of(&entry)) {
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
    let mut regressed = false;
    if newest {
        let (from, to) = (existing.result.as_str(), entry.result.as_str());
        if FINAL.contains(&to) {
            record.regressed_from = None;
        } else if NOT_FINAL.contains(&to) && FINAL.contains(&from) {
            record.regressed_from = Some(from.to_owned());
            regressed = true;
        }
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
    let outcome = match (newest, regressed) {
        (true, true) => StatusOutcome::Regressed,
        (true, false) => StatusOutcome::Updated,
        (false, _) => StatusOutcome::Stale,
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
                let mut entry = Item::from([
                    ("result".to_owned(), s(&e.result)),
                    ("receivedAt".to_owned(), s(e.received_at.to_string())),
                    ("requestId".to_owned(), s(&e.request_id)),
                ]);
                if let Some(digest) = &e.digest {
                    entry.insert("digest".to_owned(), s(digest));
                }
                if let Some(source) = &e.source {
                    entry.insert("source".to_owned(), s(source));
                }
                AttributeValue::M(entry)
            })
            .collect();
        let mut item = Item::from([
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
            (
                "regressed".to_owned(),
                AttributeValue::Bool(self.regressed_from.is_some()),
            ),
        ]);
        if let Some(from) = &self.regressed_from {
            item.insert("regressedFrom".to_owned(), s(from));
        }
        // The newest entry's digest, so an event's id tells two changes of one request apart,
        // and its source, so notify tells a reconciled result from a callback's.
        let current = self
            .history
            .iter()
            .rev()
            .find(|e| e.request_id == self.request_id && e.result == self.result);
        if let Some(digest) = current.and_then(|e| e.digest.as_ref()) {
            item.insert("digest".to_owned(), s(digest));
        }
        if let Some(source) = current.and_then(|e| e.source.as_ref()) {
            item.insert("source".to_owned(), s(source));
        }
        item
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
                    digest: text(m, "digest").ok(),
                    source: text(m, "source").ok(),
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
            regressed_from: text(item, "regressedFrom").ok(),
            version: number(item, "version")?,
        })
    }
}

impl SessionsTable {
    /// Records a `session-change` received at `received_at` by request `request_id`.
    /// `digest` is the callback's ([`crate::Callback::digest`]).
    pub async fn record_session_change(
        &self,
        change: &SessionChange,
        request_id: &str,
        digest: &str,
        received_at: Timestamp,
    ) -> Result<StatusOutcome, StoreError> {
        let session_id = change.session_id.as_str();
        let entry = HistoryEntry {
            result: change.result.as_str().to_owned(),
            received_at,
            request_id: request_id.to_owned(),
            digest: Some(digest.to_owned()),
            source: None,
        };
        let (_, outcome) = self
            .merge_entry(session_id, entry, Some(change.session_type.as_str()), false)
            .await?;
        Ok(outcome.unwrap_or(StatusOutcome::Duplicate))
    }

    /// Records a result read from Identomat's `result/` (already one of the callback's values)
    /// as a callback of `request_id` received `at` would be, with `source: reconcile`, unless
    /// it is the record's current result already. Its session type is the record's, or `kyc`
    /// for a session no `session-change` reached. The result the record held before, and what
    /// was done (`None` when it was the same).
    pub async fn record_reconciled_result(
        &self,
        session_id: &str,
        result: &str,
        request_id: &str,
        at: Timestamp,
    ) -> Result<(Option<String>, Option<StatusOutcome>), StoreError> {
        let digest = {
            use sha2::{Digest, Sha256};
            let bytes = Sha256::digest(format!("{SOURCE_RECONCILE}\0{result}").as_bytes());
            bytes[..16].iter().map(|b| format!("{b:02x}")).collect()
        };
        let entry = HistoryEntry {
            result: result.to_owned(),
            received_at: at,
            request_id: request_id.to_owned(),
            digest: Some(digest),
            source: Some(SOURCE_RECONCILE.to_owned()),
        };
        self.merge_entry(session_id, entry, None, true).await
    }

    /// The status record's current result, if the session has one.
    pub async fn current_result(&self, session_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.read_status(session_id).await?.map(|r| r.result))
    }

    /// Merges `entry` into the session's record; `session_type` `None` keeps the record's.
    /// With `unless_current`, an entry whose result is the current one writes nothing. The
    /// current result read before the write, and the outcome (`None`: nothing written).
    async fn merge_entry(
        &self,
        session_id: &str,
        entry: HistoryEntry,
        session_type: Option<&str>,
        unless_current: bool,
    ) -> Result<(Option<String>, Option<StatusOutcome>), StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let existing = self.read_status(session_id).await?;
            let previous = existing.as_ref().map(|r| r.result.clone());
            if unless_current && previous.as_deref() == Some(entry.result.as_str()) {
                return Ok((previous, None));
            }
            let session_type = session_type
                .map(str::to_owned)
                .or_else(|| existing.as_ref().map(|r| r.session_type.clone()))
                .unwrap_or_else(|| "kyc".to_owned());
            let merged = merge(
                existing.as_ref(),
                entry.clone(),
                &session_type,
                Timestamp::now(),
            );
            let Some((record, outcome)) = merged else {
                return Ok((previous, Some(StatusOutcome::Duplicate)));
            };
            let read = existing.as_ref().map(|old| old.version);
            if self.put_versioned(record.to_item(session_id), read).await? {
                return Ok((previous, Some(outcome)));
            }
            back_off(attempt).await;
        }
        Err(StoreError::Unavailable(format!(
            "the status record changed under {MAX_ATTEMPTS} attempts in a row"
        )))
    }

    async fn read_status(&self, session_id: &str) -> Result<Option<StatusRecord>, StoreError> {
        self.read_item(session_id, STATUS_RECORD)
            .await?
            .as_ref()
            .map(StatusRecord::from_item)
            .transpose()
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
            digest: Some(format!("d-{result}")),
            source: None,
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
    fn two_different_changes_under_one_request_id_are_both_kept() {
        // `sam local start-api` gives every request the same id.
        let (r, _) = apply(None, entry("MANUAL_CHECK", 1_000, "same"));
        let (r, o) = apply(Some(r), entry("APPROVED", 2_000, "same"));
        assert_eq!(o, StatusOutcome::Updated);
        assert_eq!(results(&r), ["MANUAL_CHECK", "APPROVED"]);
        // The same change again is still a repeat.
        let again = merge(
            Some(&r),
            entry("APPROVED", 3_000, "same"),
            "kyc",
            Timestamp::now(),
        );
        assert_eq!(again, None);
    }

    #[test]
    fn an_entry_of_0_2_without_a_digest_is_matched_by_its_result() {
        let mut old = entry("APPROVED", 1_000, "a");
        old.digest = None;
        let (r, _) = apply(None, old);
        assert_eq!(
            merge(
                Some(&r),
                entry("APPROVED", 1_000, "a"),
                "kyc",
                Timestamp::now()
            ),
            None
        );
        let (_, o) = apply(Some(r), entry("REJECTED", 2_000, "a"));
        assert_eq!(o, StatusOutcome::Updated);
    }

    #[test]
    fn a_final_result_followed_by_a_non_final_one_is_marked_regressed() {
        let (r, _) = apply(None, entry("MANUAL_CHECK", 1_000, "a"));
        assert_eq!(r.regressed_from, None);
        let (r, _) = apply(Some(r), entry("APPROVED", 2_000, "b"));
        // A late retry of the older MANUAL_CHECK, received after APPROVED.
        let (r, o) = apply(Some(r), entry("MANUAL_CHECK", 3_000, "c"));
        assert_eq!(o, StatusOutcome::Regressed);
        assert_eq!(
            (r.result.as_str(), r.regressed_from.as_deref()),
            ("MANUAL_CHECK", Some("APPROVED"))
        );
        // Still regressed while it stays non-final; a final result clears the mark.
        let (r, o) = apply(
            Some(r),
            entry("ADDITIONAL_INFORMATION_REQUESTED", 4_000, "d"),
        );
        assert_eq!(
            (o, r.regressed_from.as_deref()),
            (StatusOutcome::Updated, Some("APPROVED"))
        );
        let (r, _) = apply(Some(r), entry("REJECTED", 5_000, "e"));
        assert_eq!(r.regressed_from, None);
        // Final to final, and a value this version does not know, are not regressions.
        let (r, o) = apply(Some(r), entry("APPROVED", 6_000, "f"));
        assert_eq!(
            (o, r.regressed_from.as_deref()),
            (StatusOutcome::Updated, None)
        );
        let (r, o) = apply(Some(r), entry("ON_HOLD", 7_000, "g"));
        assert_eq!(
            (o, r.regressed_from.as_deref()),
            (StatusOutcome::Updated, None)
        );
        // An older non-final one arriving late only joins the history.
        let (r, o) = apply(Some(r), entry("MANUAL_CHECK", 500, "h"));
        assert_eq!((o, r.result.as_str()), (StatusOutcome::Stale, "ON_HOLD"));
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
        let (r, _) = apply(Some(r), entry("MANUAL_CHECK", 1_500, "c"));
        assert!(r.regressed_from.is_some());
        assert_eq!(StatusRecord::from_item(&r.to_item("abc")).unwrap(), r);
        let mut reconciled = entry("APPROVED", 2_000, "reconcile-1");
        reconciled.source = Some(SOURCE_RECONCILE.into());
        let (r, o) = apply(Some(r), reconciled);
        assert_eq!(
            (o, r.regressed_from.as_deref()),
            (StatusOutcome::Updated, None)
        );
        let item = r.to_item("abc");
        assert_eq!(item.get("source"), Some(&s(SOURCE_RECONCILE)));
        assert_eq!(StatusRecord::from_item(&item).unwrap(), r);
    }
}
