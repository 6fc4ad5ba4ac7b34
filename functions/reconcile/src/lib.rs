//! The reconcile function: what the callbacks missed, asked of Identomat's `result/`.
//!
//! Three ways in, one invocation each:
//! - the sessions table's stream (filtered in the template to status records and deliveries
//!   sent): a session is *opened* by its first OTP or link sent or a non-final result, *closed*
//!   by a final one, and asked at once when its status *regressed* (a final result followed by
//!   a non-final one, see `shared::store::status`);
//! - the schedule (`ReconcileEveryMinutes`): the open sessions due, found in the sparse index,
//!   at most `RECONCILE_MAX_PER_RUN` of them one after another, one run at a time (a lease);
//! - on demand (`scripts/tools/reconcile.py`): `{"action": "session", "sessionId": ...}` or
//!   `{"action": "open"}`.
//!
//! A documented result (`approved`, `rejected`, `manual_check`,
//! `additional_information_requested`, in any case) that differs from the record's is merged as
//! a callback would be, with `source: reconcile`; notify then publishes `Session Status
//! Changed` and `Session Status Reconciled`. Anything else is kept as `observed` and counted.

pub mod identomat;
pub mod signature;

use std::time::{Duration, Instant};

use aws_lambda_events::dynamodb;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Serialize;
use serde_dynamo::{AttributeValue, Item};
use serde_json::Value;
use shared::SessionsTable;
use shared::Timestamp;
use shared::config::{ConfigError, optional};
use shared::fields::SessionId;
use shared::metrics::TARGET;
use shared::store::StoreError;
use shared::store::delivery::DELIVERY_RECORD_PREFIX;
use shared::store::reconcile::{
    Attempt, AttemptOutcome, ReconcileRecord, ReconcileState, attempted, closed, opened,
};
use shared::store::status::{SOURCE_RECONCILE, STATUS_RECORD};

use crate::identomat::{ApiError, RawResult, ResultApi};

/// The callback's four documented results; `result/`'s lower-case ones map onto them by case.
pub const DOCUMENTED: [&str; 4] = [
    "APPROVED",
    "REJECTED",
    "MANUAL_CHECK",
    "ADDITIONAL_INFORMATION_REQUESTED",
];
/// The results that end a session.
pub const FINAL: [&str; 2] = ["APPROVED", "REJECTED"];
/// The longest observed value kept; longer ones are kept as their length.
const OBSERVED_MAX: usize = 64;

/// The callback's value for a `result/` answer, when it is one of the four documented ones.
pub fn documented(raw: &str) -> Option<&'static str> {
    DOCUMENTED
        .iter()
        .find(|known| known.eq_ignore_ascii_case(raw.trim()))
        .copied()
}

/// An undocumented `result` as the record keeps it: short printable ASCII as received,
/// anything else described (`(null)`, `(absent)`, `(object)`, `(text of 300 bytes)`).
pub fn observed_value(result: &RawResult) -> String {
    match result {
        RawResult::Text(t)
            if !t.is_empty()
                && t.len() <= OBSERVED_MAX
                && t.bytes().all(|b| b.is_ascii_graphic() || b == b' ') =>
        {
            t.clone()
        }
        RawResult::Text(t) => format!("(text of {} bytes)", t.len()),
        RawResult::Null => "(null)".into(),
        RawResult::Absent => "(absent)".into(),
        RawResult::Other(kind) => format!("({kind})"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileConfig {
    /// The first ask after a session opens, and the unit of the later ones.
    pub first_delay: Duration,
    /// Requests to `result/` in one scheduled or `--open` run.
    pub max_per_run: usize,
}

pub const DEFAULT_AFTER_MINUTES: u64 = 60;
pub const DEFAULT_MAX_PER_RUN: usize = 100;

impl ReconcileConfig {
    /// `RECONCILE_AFTER_SECONDS` (local runs) or `RECONCILE_AFTER_MINUTES` (60), and
    /// `RECONCILE_MAX_PER_RUN` (100, 1 to 1,000).
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let first_delay = match optional(lookup, "RECONCILE_AFTER_SECONDS") {
            Some(_) => Duration::from_secs(shared::config::within(
                lookup,
                "RECONCILE_AFTER_SECONDS",
                60,
                1..=604_800,
            )?),
            None => Duration::from_secs(
                60 * shared::config::within(
                    lookup,
                    "RECONCILE_AFTER_MINUTES",
                    DEFAULT_AFTER_MINUTES,
                    1..=10_080,
                )?,
            ),
        };
        let max_per_run = shared::config::within(
            lookup,
            "RECONCILE_MAX_PER_RUN",
            DEFAULT_MAX_PER_RUN,
            1..=1000,
        )?;
        Ok(Self {
            first_delay,
            max_per_run,
        })
    }
}

/// Why a session is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum Trigger {
    Schedule,
    Regressed,
    OnDemand,
}

/// One session asked, as the on-demand tool prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub session_id: String,
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    pub state: &'static str,
}

/// A run's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Another run held the lease: nothing was asked.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
    pub asked: usize,
    pub sessions: Vec<Report>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the invocation is not one the reconcile function takes: {0}")]
    Invalid(String),
}

pub struct Reconciler<A> {
    pub table: SessionsTable,
    pub api: A,
    pub config: ReconcileConfig,
}

/// What to do with one stream record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracked {
    Open(&'static str),
    Close,
    /// A regression a callback caused: ask now.
    AskNow,
    Nothing,
}

/// Reads a stream record's images: what it means for the session's reconcile record.
pub fn tracked(event_name: &str, old: &Item, new: &Item) -> (Option<String>, Tracked) {
    let text = |item: &Item, name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    let flag = |item: &Item, name: &str| matches!(item.get(name), Some(AttributeValue::Bool(true)));
    let session = text(new, "sessionId");
    if !matches!(event_name, "INSERT" | "MODIFY") {
        return (session, Tracked::Nothing);
    }
    let record = text(new, "record").unwrap_or_default();
    let what = if record == STATUS_RECORD {
        let result = text(new, "result").unwrap_or_default();
        let regressed_now = flag(new, "regressed") && !flag(old, "regressed");
        let by_reconcile = text(new, "source").as_deref() == Some(SOURCE_RECONCILE);
        if text(old, "result") == Some(result.clone()) && !regressed_now {
            Tracked::Nothing
        } else if regressed_now && !by_reconcile {
            Tracked::AskNow
        } else if FINAL.contains(&result.as_str()) {
            Tracked::Close
        } else {
            Tracked::Open("status")
        }
    } else if record.starts_with(DELIVERY_RECORD_PREFIX)
        && text(new, "state").as_deref() == Some("sent")
        && text(old, "state").as_deref() != Some("sent")
    {
        Tracked::Open("delivery")
    } else {
        Tracked::Nothing
    };
    (session, what)
}

impl<A: ResultApi> Reconciler<A> {
    /// Asks `result/` about one session and records the answer: the status merged when it
    /// changed, the reconcile record always. A store failure is an error (retried by Lambda);
    /// the platform's failures are outcomes, recorded.
    pub async fn reconcile(
        &self,
        session: &SessionId,
        trigger: Trigger,
    ) -> Result<Report, StoreError> {
        let started = Instant::now();
        let reply = self.api.result(session).await;
        let now = Timestamp::now();
        let mut report = Report {
            session_id: session.as_str().to_owned(),
            outcome: AttemptOutcome::Error.name(),
            reason: None,
            previous_result: None,
            result: None,
            observed: None,
            state: "open",
        };
        // What the answer says: the outcome, its reason, an undocumented value, and whether
        // the session's status is final after it.
        let mut video_call_status = None;
        let (outcome, reason, observed, final_status) = match reply {
            Ok(reply) => {
                video_call_status = reply.video_call_status.map(str::to_owned);
                let mapped = match &reply.result {
                    RawResult::Text(t) => documented(t),
                    _ => None,
                };
                match mapped {
                    Some(result) => {
                        // One read: the record is written only when the result differs.
                        let request_id = format!("reconcile-{}", uuid::Uuid::new_v4());
                        let (previous, written) = self
                            .table
                            .record_reconciled_result(session.as_str(), result, &request_id, now)
                            .await?;
                        report.previous_result = previous;
                        report.result = Some(result.to_owned());
                        let outcome = match written {
                            None => AttemptOutcome::Same,
                            Some(_) => AttemptOutcome::Changed,
                        };
                        (outcome, None, None, FINAL.contains(&result))
                    }
                    None => {
                        let value = observed_value(&reply.result);
                        report.observed = Some(value.clone());
                        (AttemptOutcome::Observed, None, Some(value), false)
                    }
                }
            }
            Err(ApiError::NotFound) => (AttemptOutcome::NotFound, None, None, false),
            Err(e) => (AttemptOutcome::Error, Some(e.reason()), None, false),
        };
        let attempt = Attempt {
            outcome,
            reason,
            observed,
            final_status,
            scheduled: trigger == Trigger::Schedule,
            video_call_status,
        };
        let first = self.config.first_delay;
        let record = self
            .table
            .update_reconcile(session.as_str(), |r| {
                Some(attempted(r, &attempt, now, first))
            })
            .await?;
        let state = record.as_ref().map_or(ReconcileState::Open, |r| r.state);
        report.outcome = attempt.outcome.name();
        report.reason.clone_from(&attempt.reason);
        report.state = state.into();
        log_attempt(session, trigger, &report, started);
        if state == ReconcileState::Abandoned {
            log_abandoned(session, record.as_ref());
        }
        Ok(report)
    }

    /// The open sessions due now (or all open ones, `due: false`), asked one after another
    /// while `time_left` leaves room for one more, under the run's lease.
    pub async fn run(
        &self,
        holder: &str,
        due: bool,
        time_left: impl Fn() -> Duration,
    ) -> Result<RunSummary, StoreError> {
        let started = Instant::now();
        let now = Timestamp::now();
        let lease = Timestamp::from_system_time(now.system_time() + time_left());
        if !self.table.take_lease(holder, now, lease).await? {
            log_run(true, 0, started);
            return Ok(RunSummary {
                skipped: true,
                ..RunSummary::default()
            });
        }
        let result = self.run_leased(due, now, &time_left).await;
        self.table.release_lease(holder).await?;
        let summary = result?;
        log_run(false, summary.asked, started);
        Ok(summary)
    }

    async fn run_leased(
        &self,
        due: bool,
        now: Timestamp,
        time_left: &impl Fn() -> Duration,
    ) -> Result<RunSummary, StoreError> {
        let sessions = self
            .table
            .open_sessions(due.then_some(now), self.config.max_per_run)
            .await?;
        let trigger = if due {
            Trigger::Schedule
        } else {
            Trigger::OnDemand
        };
        let mut summary = RunSummary::default();
        for raw in sessions {
            // One question takes at most REQUEST_TIMEOUT; leave as much again for the writes.
            if time_left() < identomat::REQUEST_TIMEOUT * 2 {
                break;
            }
            let Ok(session) = SessionId::parse(&raw) else {
                continue;
            };
            summary
                .sessions
                .push(self.reconcile(&session, trigger).await?);
            summary.asked += 1;
        }
        Ok(summary)
    }

    /// A batch of the table's stream: each record opens, closes or asks about its session. The
    /// answer names the first record whose write failed, so Lambda retries from there.
    pub async fn track(&self, event: &dynamodb::Event) -> DynamoDbEventResponse {
        for record in &event.records {
            let (session, what) = tracked(
                &record.event_name,
                &record.change.old_image,
                &record.change.new_image,
            );
            let Some(session) = session.and_then(|s| SessionId::parse(&s).ok()) else {
                continue;
            };
            let now = Timestamp::now();
            let done: Result<(), StoreError> = match what {
                Tracked::Nothing => Ok(()),
                Tracked::Open(by) => self.open(&session, by, now).await,
                Tracked::Close => self
                    .table
                    .update_reconcile(session.as_str(), closed)
                    .await
                    .map(|written| log_tracked(&session, "final", written.as_ref())),
                Tracked::AskNow => self.reconcile(&session, Trigger::Regressed).await.map(drop),
            };
            if let Err(e) = done {
                tracing::error!(
                    target: TARGET,
                    function = "reconcile",
                    outcome = "error",
                    reason = "store",
                    error = %e,
                    session = %session.fingerprint(),
                    "stream"
                );
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                let mut response = DynamoDbEventResponse::default();
                response.batch_item_failures = vec![failure];
                return response;
            }
        }
        DynamoDbEventResponse::default()
    }

    /// Opens the session's record for `by`. A message sent does not reopen a session whose
    /// final result is recorded (stream records of two items arrive in any order), nor open one
    /// whose status is final already; a non-final result reopens it.
    async fn open(&self, session: &SessionId, by: &str, now: Timestamp) -> Result<(), StoreError> {
        if by == "delivery" {
            let current = self.table.current_result(session.as_str()).await?;
            if current.is_some_and(|r| FINAL.contains(&r.as_str())) {
                return Ok(());
            }
        }
        let written = self
            .table
            .update_reconcile(session.as_str(), |r| {
                if by == "delivery" && r.is_some_and(|r| r.state == ReconcileState::Closed) {
                    return None;
                }
                opened(r, by, now, self.config.first_delay)
            })
            .await?;
        log_tracked(session, by, written.as_ref());
        Ok(())
    }

    /// One invocation, whichever way it came in.
    pub async fn invoke(
        &self,
        payload: Value,
        holder: &str,
        time_left: impl Fn() -> Duration,
    ) -> Result<Value, ReconcileError> {
        match Invocation::read(payload)? {
            Invocation::Stream(event) => Ok(answer(&self.track(&event).await)),
            Invocation::Due => Ok(answer(&self.run(holder, true, time_left).await?)),
            Invocation::Open => Ok(answer(&self.run(holder, false, time_left).await?)),
            Invocation::Session(session) => {
                let report = self.reconcile(&session, Trigger::OnDemand).await?;
                Ok(answer(&RunSummary {
                    skipped: false,
                    asked: 1,
                    sessions: vec![report],
                }))
            }
        }
    }
}

/// An answer as the JSON Lambda returns. Plain structs of strings, numbers and lists:
/// serializing them cannot fail.
fn answer<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// The ways in.
#[derive(Debug)]
pub enum Invocation {
    Stream(dynamodb::Event),
    /// The schedule's event (EventBridge's `Scheduled Event`), or `{"action": "due"}`.
    Due,
    Open,
    Session(SessionId),
}

impl Invocation {
    pub fn read(payload: Value) -> Result<Self, ReconcileError> {
        let invalid = |why: &str| ReconcileError::Invalid(why.to_owned());
        if payload.get("Records").is_some() {
            return serde_json::from_value(payload)
                .map(Invocation::Stream)
                .map_err(|_| invalid("not a DynamoDB stream batch"));
        }
        if payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
            return Ok(Invocation::Due);
        }
        match payload.get("action").and_then(Value::as_str) {
            Some("due") => Ok(Invocation::Due),
            Some("open") => Ok(Invocation::Open),
            Some("session") => {
                let raw = payload
                    .get("sessionId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("`session` needs a sessionId"))?;
                SessionId::parse(raw)
                    .map(Invocation::Session)
                    .map_err(|_| invalid("sessionId is not a valid session id"))
            }
            _ => Err(invalid(
                "expected a stream batch, a scheduled event or an action (due, open, session)",
            )),
        }
    }
}

fn log_attempt(session: &SessionId, trigger: Trigger, report: &Report, started: Instant) {
    let trigger: &'static str = trigger.into();
    tracing::info!(
        target: TARGET,
        function = "reconcile",
        outcome = report.outcome,
        reason = report.reason.as_deref().unwrap_or_default(),
        trigger,
        state = report.state,
        session = %session.fingerprint(),
        durationMs = started.elapsed().as_secs_f64() * 1000.0,
        "reconcile"
    );
}

fn log_abandoned(session: &SessionId, record: Option<&ReconcileRecord>) {
    tracing::warn!(
        target: TARGET,
        function = "reconcile",
        outcome = "abandoned",
        attempts = record.map_or(0, |r| r.attempts),
        session = %session.fingerprint(),
        "reconcile"
    );
}

fn log_tracked(session: &SessionId, by: &str, written: Option<&ReconcileRecord>) {
    let Some(record) = written else {
        return;
    };
    let outcome = match record.state {
        ReconcileState::Open => "opened",
        _ => "closed",
    };
    tracing::info!(
        target: TARGET,
        function = "reconcile",
        outcome,
        reason = by,
        session = %session.fingerprint(),
        "stream"
    );
}

fn log_run(skipped: bool, asked: usize, started: Instant) {
    tracing::info!(
        target: TARGET,
        function = "reconcile",
        outcome = if skipped { "skipped" } else { "ran" },
        reason = if skipped { "run-in-progress" } else { "" },
        asked,
        durationMs = started.elapsed().as_secs_f64() * 1000.0,
        "run"
    );
}

/// The company key and HMAC secret: from the secret `IDENTOMAT_SECRET_ARN` names
/// (`{"companyKey", "hmacSecret"}`), else (local runs) `IDENTOMAT_COMPANY_KEY` and
/// `IDENTOMAT_HMAC_SECRET`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub company_key: String,
    #[serde(default)]
    pub hmac_secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(..)")
    }
}

pub async fn credentials(
    aws: &aws_config::SdkConfig,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Credentials, ConfigError> {
    if let Some(arn) = optional(lookup, "IDENTOMAT_SECRET_ARN") {
        let client = aws_sdk_secretsmanager::Client::new(aws);
        let out = client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| ConfigError::new("IDENTOMAT_SECRET_ARN", shared::aws::describe(&e)))?;
        let text = out.secret_string().unwrap_or_default();
        return serde_json::from_str(text).map_err(|_| {
            ConfigError::new(
                "IDENTOMAT_SECRET_ARN",
                "the secret is not {\"companyKey\", \"hmacSecret\"}",
            )
        });
    }
    Ok(Credentials {
        company_key: optional(lookup, "IDENTOMAT_COMPANY_KEY").ok_or_else(|| {
            ConfigError::new(
                "IDENTOMAT_COMPANY_KEY",
                "is unset (or set IDENTOMAT_SECRET_ARN)",
            )
        })?,
        hmac_secret: optional(lookup, "IDENTOMAT_HMAC_SECRET").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        let map: std::collections::HashMap<String, AttributeValue> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        map.into()
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    #[test]
    fn the_four_documented_results_map_by_case_and_nothing_else_does() {
        for (raw, value) in [
            ("approved", "APPROVED"),
            ("Rejected", "REJECTED"),
            ("manual_check", "MANUAL_CHECK"),
            (
                "additional_information_requested",
                "ADDITIONAL_INFORMATION_REQUESTED",
            ),
            (" APPROVED ", "APPROVED"),
        ] {
            assert_eq!(documented(raw), Some(value), "{raw}");
        }
        for raw in [
            "in_progress",
            "expired",
            "",
            "approve",
            "approved!",
            "APPROVED_",
        ] {
            assert_eq!(documented(raw), None, "{raw}");
        }
        assert_eq!(
            observed_value(&RawResult::Text("in_progress".into())),
            "in_progress"
        );
        assert_eq!(
            observed_value(&RawResult::Text("x\ny".into())),
            "(text of 3 bytes)"
        );
        assert_eq!(
            observed_value(&RawResult::Text("a".repeat(65))),
            "(text of 65 bytes)"
        );
        assert_eq!(observed_value(&RawResult::Null), "(null)");
        assert_eq!(observed_value(&RawResult::Other("object")), "(object)");
    }

    #[test]
    fn stream_records_open_close_or_ask() {
        let status = |result: &str| {
            item(&[
                ("sessionId", s("abc")),
                ("record", s("status")),
                ("result", s(result)),
            ])
        };
        let empty = Item::from(std::collections::HashMap::new());
        assert_eq!(
            tracked("INSERT", &empty, &status("MANUAL_CHECK")).1,
            Tracked::Open("status")
        );
        assert_eq!(
            tracked("MODIFY", &status("MANUAL_CHECK"), &status("APPROVED")).1,
            Tracked::Close
        );
        assert_eq!(
            tracked("MODIFY", &status("APPROVED"), &status("APPROVED")).1,
            Tracked::Nothing
        );
        assert_eq!(
            tracked("INSERT", &empty, &status("ON_HOLD")).1,
            Tracked::Open("status")
        );
        let mut regressed = status("MANUAL_CHECK");
        regressed.insert("regressed".into(), AttributeValue::Bool(true));
        assert_eq!(
            tracked("MODIFY", &status("APPROVED"), &regressed).1,
            Tracked::AskNow
        );
        regressed.insert("source".into(), s(SOURCE_RECONCILE));
        assert_eq!(
            tracked("MODIFY", &status("APPROVED"), &regressed).1,
            Tracked::Open("status")
        );
        let delivery = |state: &str| {
            item(&[
                ("sessionId", s("abc")),
                ("record", s("delivery#k")),
                ("state", s(state)),
            ])
        };
        assert_eq!(
            tracked("MODIFY", &delivery("pending"), &delivery("sent")).1,
            Tracked::Open("delivery")
        );
        assert_eq!(
            tracked("MODIFY", &delivery("sent"), &delivery("sent")).1,
            Tracked::Nothing
        );
        assert_eq!(
            tracked("REMOVE", &empty, &status("MANUAL_CHECK")).1,
            Tracked::Nothing
        );
    }

    #[test]
    fn invocations_are_read_by_shape() {
        use serde_json::json;
        assert!(matches!(
            Invocation::read(json!({"detail-type": "Scheduled Event", "source": "aws.events"})),
            Ok(Invocation::Due)
        ));
        assert!(matches!(
            Invocation::read(json!({"action": "open"})),
            Ok(Invocation::Open)
        ));
        assert!(matches!(
            Invocation::read(json!({"action": "session", "sessionId": "abc_123"})),
            Ok(Invocation::Session(_))
        ));
        assert!(matches!(
            Invocation::read(json!({"Records": []})),
            Ok(Invocation::Stream(_))
        ));
        for bad in [
            json!({}),
            json!({"action": "session"}),
            json!({"action": "session", "sessionId": "a b"}),
            json!({"action": "delete"}),
            json!({"Records": 5}),
        ] {
            assert!(Invocation::read(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn configuration_defaults_and_local_seconds() {
        let none = |_: &str| None;
        let config = ReconcileConfig::from_lookup(&none).unwrap();
        assert_eq!(
            config,
            ReconcileConfig {
                first_delay: Duration::from_secs(3600),
                max_per_run: 100
            }
        );
        let local = |name: &str| (name == "RECONCILE_AFTER_SECONDS").then(|| "2".to_owned());
        assert_eq!(
            ReconcileConfig::from_lookup(&local).unwrap().first_delay,
            Duration::from_secs(2)
        );
        let zero = |name: &str| (name == "RECONCILE_MAX_PER_RUN").then(|| "0".to_owned());
        assert!(ReconcileConfig::from_lookup(&zero).is_err());
    }
}
