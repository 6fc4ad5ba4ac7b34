//! The `reconcile` record of a session: whether the reconcile function still asks Identomat's
//! `result/` about it, when next, and what the last answer was.
//!
//! A session is *open* from its first OTP or link sent, or its first non-final status, until a
//! final status (`APPROVED`, `REJECTED`, not regressed) is recorded, by a callback or by a
//! reconcile. While open, the record carries the two attributes of the sparse index
//! [`DUE_INDEX`] (`reconcileQueue`, `reconcileDueAt`), so a scheduled run finds the sessions due
//! with one Query and never scans the table; a closed or abandoned record drops them and leaves
//! the index. The schedule is fixed ages after opening ([`STEPS`] times the first delay); after
//! the last one a session still open is `abandoned`.
//!
//! Like the status record it is merged in Rust ([`opened`], [`closed`], [`attempted`], pure) and
//! written back on the version it was read at.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use super::attr::{Item, n, number, s, text, time};
use super::{MAX_ATTEMPTS, SessionsTable, StoreError, back_off};
use crate::aws::Classified;
use crate::timestamp::Timestamp;

pub const RECONCILE_RECORD: &str = "reconcile";
/// The sparse index of open sessions by when they are due (`KEYS_ONLY`).
pub const DUE_INDEX: &str = "reconcile-due";
pub const QUEUE_ATTRIBUTE: &str = "reconcileQueue";
pub const DUE_ATTRIBUTE: &str = "reconcileDueAt";
/// The one value of [`QUEUE_ATTRIBUTE`]: every open session in one index partition. A
/// partition takes 1,000 writes a second, far above the sessions a company opens.
pub const OPEN_QUEUE: &str = "open";
/// The ages after opening at which an open session is asked, in multiples of the first delay
/// (`ReconcileAfterMinutes`): with 60 minutes, 1 h, 6 h, 24 h, 3 d and 7 d.
pub const STEPS: [u32; 5] = [1, 6, 24, 72, 168];
/// The record of the one scheduled run allowed at a time.
pub const LEASE_SESSION: &str = "reconcile#lease";
const LEASE_RECORD: &str = "lease";

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum ReconcileState {
    /// Asked on the schedule until a final status or the last step.
    Open,
    /// A final status is recorded.
    Closed,
    /// Still open after the last step: no longer asked (an event and a metric say so).
    Abandoned,
}

/// What one question to `result/` found, as the record keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "kebab-case")]
pub enum AttemptOutcome {
    /// The platform's result is the record's current one.
    Same,
    /// It differed, and was merged as a callback would be.
    Changed,
    /// A value that is none of the four documented results (`in_progress`, `expired`, none,
    /// unknown): kept as received, never mapped.
    Observed,
    /// The platform answered 404 for the session.
    NotFound,
    /// No usable answer: the reason says why (timeout, 5xx, signature, size, ...).
    Error,
}

impl AttemptOutcome {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// One attempt, as [`attempted`] records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub outcome: AttemptOutcome,
    /// Why, for an error: a short tag, never the body.
    pub reason: Option<String>,
    /// The value kept for [`AttemptOutcome::Observed`].
    pub observed: Option<String>,
    /// Whether the session's status is final (and not regressed) after the attempt.
    pub final_status: bool,
    /// An attempt of the schedule (it moves the step), not one on demand or after a regression.
    pub scheduled: bool,
    /// The JSON type of the answer's `videoCallStatus`, when it had one: its shape is
    /// documented nowhere, so only that it is there, and what it is, is kept.
    pub video_call_status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileRecord {
    pub state: ReconcileState,
    pub opened_at: Timestamp,
    /// What opened it: `delivery` (an OTP or link sent), `status` (a non-final result),
    /// `regressed`, `on-demand`.
    pub opened_by: String,
    /// Scheduled attempts made since opening: the index of the next age in [`STEPS`].
    pub step: usize,
    pub due_at: Option<Timestamp>,
    pub reconciled_at: Option<Timestamp>,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub observed: Option<String>,
    pub observed_at: Option<Timestamp>,
    /// The JSON type of the last `videoCallStatus` seen ([`Attempt::video_call_status`]).
    pub video_call_status: Option<String>,
    pub attempts: u64,
    pub version: u64,
}

fn after(t: Timestamp, d: Duration) -> Timestamp {
    Timestamp::from_system_time(t.system_time() + d)
}

fn fresh(opened_by: &str, now: Timestamp, first: Duration) -> ReconcileRecord {
    ReconcileRecord {
        state: ReconcileState::Open,
        opened_at: now,
        opened_by: opened_by.to_owned(),
        step: 0,
        due_at: Some(after(now, first)),
        reconciled_at: None,
        outcome: None,
        reason: None,
        observed: None,
        observed_at: None,
        video_call_status: None,
        attempts: 0,
        version: 0,
    }
}

/// The record after something that opens a session (`opened_by`), or `None` when it is open
/// already: its schedule runs from the first opening. A closed or abandoned session is opened
/// again, its schedule from now: it is in progress once more.
pub fn opened(
    existing: Option<&ReconcileRecord>,
    opened_by: &str,
    now: Timestamp,
    first: Duration,
) -> Option<ReconcileRecord> {
    match existing {
        Some(r) if r.state == ReconcileState::Open => None,
        Some(r) => Some(ReconcileRecord {
            version: r.version,
            attempts: r.attempts,
            reconciled_at: r.reconciled_at,
            outcome: r.outcome.clone(),
            reason: r.reason.clone(),
            observed: r.observed.clone(),
            observed_at: r.observed_at,
            video_call_status: r.video_call_status.clone(),
            ..fresh(opened_by, now, first)
        }),
        None => Some(fresh(opened_by, now, first)),
    }
}

/// The record after a final status was recorded: closed, out of the index. `None` when there
/// is nothing to close.
pub fn closed(existing: Option<&ReconcileRecord>) -> Option<ReconcileRecord> {
    let r = existing.filter(|r| r.state != ReconcileState::Closed)?;
    Some(ReconcileRecord {
        state: ReconcileState::Closed,
        due_at: None,
        ..r.clone()
    })
}

/// The record after an attempt at `now`. A final status closes it. An error retries one first
/// delay later without moving the step: a platform that does not answer abandons nothing. A
/// scheduled answer moves to the next age, or abandons the session after the last.
pub fn attempted(
    existing: Option<&ReconcileRecord>,
    attempt: &Attempt,
    now: Timestamp,
    first: Duration,
) -> ReconcileRecord {
    let opened_by = if attempt.scheduled {
        "schedule"
    } else {
        "on-demand"
    };
    let mut r = match existing {
        Some(r) if r.state == ReconcileState::Open => r.clone(),
        Some(r) => ReconcileRecord {
            version: r.version,
            attempts: r.attempts,
            observed: r.observed.clone(),
            observed_at: r.observed_at,
            video_call_status: r.video_call_status.clone(),
            ..fresh(opened_by, now, first)
        },
        None => fresh(opened_by, now, first),
    };
    r.attempts += 1;
    r.reconciled_at = Some(now);
    r.outcome = Some(attempt.outcome.name().to_owned());
    r.reason = attempt.reason.clone();
    if let Some(observed) = &attempt.observed {
        r.observed = Some(observed.clone());
        r.observed_at = Some(now);
    }
    if attempt.video_call_status.is_some() {
        r.video_call_status.clone_from(&attempt.video_call_status);
    }
    if attempt.final_status {
        r.state = ReconcileState::Closed;
        r.due_at = None;
    } else if attempt.outcome == AttemptOutcome::Error {
        r.due_at = Some(after(now, first));
    } else if attempt.scheduled {
        r.step += 1;
        match STEPS.get(r.step) {
            Some(multiple) => {
                let age = after(r.opened_at, first * *multiple);
                r.due_at = Some(age.max(after(now, first)));
            }
            None => {
                r.state = ReconcileState::Abandoned;
                r.due_at = None;
            }
        }
    }
    r
}

impl ReconcileRecord {
    pub fn to_item(&self, session_id: &str) -> Item {
        let state: &'static str = self.state.into();
        let mut item = Item::from([
            ("sessionId".to_owned(), s(session_id)),
            ("record".to_owned(), s(RECONCILE_RECORD)),
            ("state".to_owned(), s(state)),
            ("openedAt".to_owned(), s(self.opened_at.to_string())),
            ("openedBy".to_owned(), s(&self.opened_by)),
            ("step".to_owned(), n(self.step as u64)),
            ("attempts".to_owned(), n(self.attempts)),
            ("version".to_owned(), n(self.version + 1)),
        ]);
        let optional = [
            ("reconciledAt", self.reconciled_at.map(|t| t.to_string())),
            ("outcome", self.outcome.clone()),
            ("reason", self.reason.clone()),
            ("observed", self.observed.clone()),
            ("observedAt", self.observed_at.map(|t| t.to_string())),
            ("videoCallStatus", self.video_call_status.clone()),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                item.insert(name.to_owned(), s(value));
            }
        }
        if let (ReconcileState::Open, Some(due)) = (self.state, self.due_at) {
            item.insert(QUEUE_ATTRIBUTE.to_owned(), s(OPEN_QUEUE));
            item.insert(DUE_ATTRIBUTE.to_owned(), s(due.to_string()));
        }
        item
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let optional_time = |name: &str| time(item, name).ok();
        Ok(Self {
            state: text(item, "state")?.parse().map_err(|_| {
                StoreError::Refused("the stored record has no valid `state`".into())
            })?,
            opened_at: time(item, "openedAt")?,
            opened_by: text(item, "openedBy")?,
            step: usize::try_from(number(item, "step")?).unwrap_or(usize::MAX),
            due_at: optional_time(DUE_ATTRIBUTE),
            reconciled_at: optional_time("reconciledAt"),
            outcome: text(item, "outcome").ok(),
            reason: text(item, "reason").ok(),
            observed: text(item, "observed").ok(),
            observed_at: optional_time("observedAt"),
            video_call_status: text(item, "videoCallStatus").ok(),
            attempts: number(item, "attempts")?,
            version: number(item, "version")?,
        })
    }
}

impl SessionsTable {
    pub async fn read_reconcile(
        &self,
        session_id: &str,
    ) -> Result<Option<ReconcileRecord>, StoreError> {
        self.read_item(session_id, RECONCILE_RECORD)
            .await?
            .as_ref()
            .map(ReconcileRecord::from_item)
            .transpose()
    }

    /// Reads the session's record, applies `change` and writes the result on the version read;
    /// a lost race reads again. The record written, or `None` when `change` left it alone.
    pub async fn update_reconcile(
        &self,
        session_id: &str,
        change: impl Fn(Option<&ReconcileRecord>) -> Option<ReconcileRecord>,
    ) -> Result<Option<ReconcileRecord>, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let existing = self.read_reconcile(session_id).await?;
            let Some(record) = change(existing.as_ref()) else {
                return Ok(None);
            };
            let read = existing.as_ref().map(|r| r.version);
            if self.put_versioned(record.to_item(session_id), read).await? {
                return Ok(Some(record));
            }
            back_off(attempt).await;
        }
        Err(StoreError::Unavailable(format!(
            "the reconcile record changed under {MAX_ATTEMPTS} attempts in a row"
        )))
    }

    /// Up to `limit` open sessions, those due first; with `due_by`, only those due by then.
    /// One Query of the sparse index per page, never a scan.
    pub async fn open_sessions(
        &self,
        due_by: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        while found.len() < limit {
            let mut query = self
                .client
                .query()
                .table_name(&self.name)
                .index_name(DUE_INDEX)
                .expression_attribute_names("#queue", QUEUE_ATTRIBUTE)
                .expression_attribute_values(":open", s(OPEN_QUEUE))
                .limit(i32::try_from(limit - found.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            query = match due_by {
                Some(by) => query
                    .key_condition_expression("#queue = :open AND #due <= :by")
                    .expression_attribute_names("#due", DUE_ATTRIBUTE)
                    .expression_attribute_values(":by", s(by.to_string())),
                None => query.key_condition_expression("#queue = :open"),
            };
            let out = query.send().await.map_err(|e| StoreError::from_sdk(&e))?;
            found.extend(out.items().iter().filter_map(|i| text(i, "sessionId").ok()));
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    /// Takes the run's lease for `holder` until `until`, if no other holder's lease is live.
    pub async fn take_lease(
        &self,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .item("sessionId", s(LEASE_SESSION))
            .item("record", s(LEASE_RECORD))
            .item("holder", s(holder))
            .item("until", s(until.to_string()))
            .item(
                "expiresAt",
                AttributeValue::N((until.unix_millis() / 1000 + 3600).to_string()),
            )
            .condition_expression("attribute_not_exists(#record) OR #until < :now")
            .expression_attribute_names("#record", "record")
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":now", s(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if super::is_condition_failure(&e) => Ok(false),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }

    /// Gives the lease back, if `holder` still holds it.
    pub async fn release_lease(&self, holder: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.name)
            .key("sessionId", s(LEASE_SESSION))
            .key("record", s(LEASE_RECORD))
            .condition_expression("#holder = :holder")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if super::is_condition_failure(&e) => Ok(()),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn at(hours: u64) -> Timestamp {
        Timestamp::from_unix_millis(1_800_000_000_000 + hours * 3_600_000)
    }

    fn answer(outcome: AttemptOutcome, scheduled: bool) -> Attempt {
        Attempt {
            outcome,
            reason: None,
            observed: None,
            final_status: false,
            scheduled,
            video_call_status: None,
        }
    }

    #[test]
    fn a_session_is_asked_at_1_6_24_72_and_168_hours_then_abandoned() {
        let mut r = opened(None, "delivery", at(0), HOUR).unwrap();
        let mut asked = Vec::new();
        while r.state == ReconcileState::Open {
            let due = r.due_at.unwrap();
            asked.push((due.unix_millis() - at(0).unix_millis()) / 3_600_000);
            r = attempted(Some(&r), &answer(AttemptOutcome::Same, true), due, HOUR);
        }
        assert_eq!(asked, [1, 6, 24, 72, 168]);
        assert_eq!(r.state, ReconcileState::Abandoned);
        assert_eq!((r.attempts, r.due_at), (5, None));
        assert!(!r.to_item("s").contains_key(QUEUE_ATTRIBUTE));
    }

    #[test]
    fn opening_an_open_session_keeps_its_schedule() {
        let r = opened(None, "delivery", at(0), HOUR).unwrap();
        assert_eq!(opened(Some(&r), "status", at(3), HOUR), None);
        let closed = closed(Some(&r)).unwrap();
        assert_eq!(closed.state, ReconcileState::Closed);
        assert!(!closed.to_item("s").contains_key(DUE_ATTRIBUTE));
        let again = opened(Some(&closed), "regressed", at(10), HOUR).unwrap();
        assert_eq!(
            (again.state, again.due_at, again.opened_by.as_str()),
            (ReconcileState::Open, Some(at(11)), "regressed")
        );
        assert_eq!(super::closed(Some(&closed)), None);
    }

    #[test]
    fn an_error_retries_without_moving_the_step_and_a_final_status_closes() {
        let r = opened(None, "delivery", at(0), HOUR).unwrap();
        let mut error = answer(AttemptOutcome::Error, true);
        error.reason = Some("http-503".into());
        let r = (0..50).fold(r, |r, i| attempted(Some(&r), &error, at(1 + i), HOUR));
        assert_eq!((r.state, r.step, r.attempts), (ReconcileState::Open, 0, 50));
        assert_eq!(r.due_at, Some(at(51)));
        assert_eq!(r.reason.as_deref(), Some("http-503"));
        let mut changed = answer(AttemptOutcome::Changed, true);
        changed.final_status = true;
        let r = attempted(Some(&r), &changed, at(52), HOUR);
        assert_eq!((r.state, r.due_at), (ReconcileState::Closed, None));
        assert_eq!(r.reason, None);
    }

    #[test]
    fn an_observed_value_is_kept_with_its_time_and_on_demand_does_not_move_the_step() {
        let r = opened(None, "status", at(0), HOUR).unwrap();
        let mut observed = answer(AttemptOutcome::Observed, false);
        observed.observed = Some("in_progress".into());
        let r = attempted(Some(&r), &observed, at(2), HOUR);
        assert_eq!(
            (r.observed.as_deref(), r.observed_at, r.step, r.due_at),
            (Some("in_progress"), Some(at(2)), 0, Some(at(1)))
        );
        // On demand for a session never opened: opened now, asked on the schedule from here.
        let r = attempted(None, &answer(AttemptOutcome::NotFound, false), at(5), HOUR);
        assert_eq!((r.state, r.due_at), (ReconcileState::Open, Some(at(6))));
    }

    #[test]
    fn item_round_trips_and_the_index_attributes_are_there_only_while_open() {
        let r = opened(None, "delivery", at(0), HOUR).unwrap();
        let mut observed = answer(AttemptOutcome::Observed, true);
        observed.observed = Some("expired".into());
        observed.video_call_status = Some("object".into());
        let r = attempted(Some(&r), &observed, at(1), HOUR);
        let item = r.to_item("s");
        assert_eq!(item.get(QUEUE_ATTRIBUTE), Some(&s(OPEN_QUEUE)));
        let back = ReconcileRecord::from_item(&item).unwrap();
        assert_eq!(back, ReconcileRecord { version: 1, ..r });
    }
}
