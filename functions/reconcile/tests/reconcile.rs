//! The reconcile function against moto (the sessions table and its stream) and the local
//! Identomat (`scripts/local/identomat_api.py`): each mapping, each fault, the signature both
//! ways, the schedule's bound and lease, regressions asked through the stream, and a `person`
//! that leaves no trace.

use std::time::Duration;

use aws_lambda_events::dynamodb;
use reconcile::identomat::{ApiConfig, IdentomatClient};
use reconcile::{ReconcileConfig, Reconciler, Trigger};
use serde_json::{Value, json};
use shared::callback::{SessionChange, SessionResult, SessionType};
use shared::fields::SessionId;
use shared::store::reconcile::{ReconcileRecord, ReconcileState, STEPS, opened};
use shared::{SessionsTable, Timestamp};
use testkit::identomat::IdentomatApi;
use testkit::logs::Captured;
use testkit::stream::{lambda_event, stream_records};
use testkit::{Moto, create_sessions_table, query_session, scan_table, text};

const TABLE: &str = "sessions";
const COMPANY_KEY: &str = "company-key-local";
const HOUR: Duration = Duration::from_secs(3600);

struct Setup {
    moto: Moto,
    config: aws_config::SdkConfig,
    table: SessionsTable,
    platform: IdentomatApi,
}

async fn setup(secret: Option<&str>) -> Setup {
    let moto = Moto::start().await;
    let config = moto.sdk_config().await;
    create_sessions_table(&config, TABLE).await;
    let table = SessionsTable::new(aws_sdk_dynamodb::Client::new(&config), TABLE);
    let platform = IdentomatApi::start(COMPANY_KEY, secret).await;
    Setup {
        moto,
        config,
        table,
        platform,
    }
}

impl Setup {
    fn reconciler(&self, key: &str, secret: Option<&str>) -> Reconciler<IdentomatClient> {
        self.reconciler_with(key, secret, 100)
    }

    fn reconciler_with(
        &self,
        key: &str,
        secret: Option<&str>,
        max_per_run: usize,
    ) -> Reconciler<IdentomatClient> {
        let api = ApiConfig::new(
            &self.platform.api_url(),
            key.to_owned(),
            secret.map(str::to_owned),
        )
        .expect("a loopback URL")
        .with_timeout(Duration::from_secs(1));
        Reconciler {
            table: self.table.clone(),
            api: IdentomatClient::new(api).expect("a client"),
            config: ReconcileConfig {
                first_delay: HOUR,
                max_per_run,
            },
        }
    }

    async fn status(&self, session: &str) -> Option<Value> {
        query_session(&self.config, TABLE, session)
            .await
            .into_iter()
            .find(|i| text(i, "record") == "status")
            .map(|i| json!({"result": text(&i, "result"), "source": text(&i, "source")}))
    }

    async fn reconcile_record(&self, session: &str) -> ReconcileRecord {
        self.table
            .read_reconcile(session)
            .await
            .expect("read")
            .expect("a reconcile record")
    }
}

fn id(raw: &str) -> SessionId {
    SessionId::parse(raw).expect("a session id")
}

#[tokio::test]
async fn the_four_results_map_by_case_and_every_other_value_is_observed_unmapped() {
    let s = setup(None).await;
    s.platform
        .set_sessions(json!({
            "s-approved": {"result": "approved", "videoCallStatus": {"roomStatus": "ended"}},
            "s-rejected": {"result": "REJECTED"},
            "s-manual": {"result": "Manual_Check"},
            "s-info": {"result": "additional_information_requested"},
            "s-progress": {"result": "in_progress"},
            "s-expired": {"result": "expired"},
            "s-null": {"result": null},
            "s-absent": {"similarity": 0.9},
            "s-object": {"result": {"value": "approved"}},
        }))
        .await;
    let r = s.reconciler(COMPANY_KEY, None);
    for (session, result) in [
        ("s-approved", "APPROVED"),
        ("s-rejected", "REJECTED"),
        ("s-manual", "MANUAL_CHECK"),
        ("s-info", "ADDITIONAL_INFORMATION_REQUESTED"),
    ] {
        let report = r.reconcile(&id(session), Trigger::OnDemand).await.unwrap();
        assert_eq!(
            (report.outcome, report.result.as_deref()),
            ("changed", Some(result))
        );
        assert_eq!(
            s.status(session).await,
            Some(json!({"result": result, "source": "reconcile"}))
        );
        // Asked again, the platform says the same: nothing more is written to the status.
        let again = r.reconcile(&id(session), Trigger::OnDemand).await.unwrap();
        assert_eq!(again.outcome, "same");
        let record = s.reconcile_record(session).await;
        assert_eq!(
            (record.attempts, record.outcome.as_deref()),
            (2, Some("same"))
        );
        // Of videoCallStatus, whose shape no page documents, only its type is kept.
        let video = (session == "s-approved").then(|| "object".to_owned());
        assert_eq!(record.video_call_status, video, "{session}");
        let finished = ["APPROVED", "REJECTED"].contains(&result);
        assert_eq!(
            record.state == ReconcileState::Closed,
            finished,
            "{session}"
        );
    }
    // The way reconcile.py and the schedule come in: the function's own answer.
    let plenty = || Duration::from_secs(600);
    let answer = r
        .invoke(
            json!({"action": "session", "sessionId": "s-approved"}),
            "h1",
            plenty,
        )
        .await
        .unwrap();
    assert_eq!(answer["asked"], 1);
    assert_eq!(answer["sessions"][0]["outcome"], "same");
    assert_eq!(answer["sessions"][0]["state"], "closed");
    let scheduled = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let answer = r.invoke(scheduled, "h2", plenty).await.unwrap();
    assert_eq!(
        (answer["asked"].clone(), answer.get("skipped")),
        (json!(0), None)
    );
    assert!(
        r.invoke(json!({"action": "erase"}), "h3", plenty)
            .await
            .is_err()
    );
    for (session, observed) in [
        ("s-progress", "in_progress"),
        ("s-expired", "expired"),
        ("s-null", "(null)"),
        ("s-absent", "(absent)"),
        ("s-object", "(object)"),
    ] {
        let report = r.reconcile(&id(session), Trigger::OnDemand).await.unwrap();
        assert_eq!(
            (report.outcome, report.observed.as_deref()),
            ("observed", Some(observed))
        );
        assert_eq!(s.status(session).await, None, "never mapped by guess");
        let record = s.reconcile_record(session).await;
        assert_eq!(record.observed.as_deref(), Some(observed));
        assert!(record.observed_at.is_some());
        assert_eq!(record.state, ReconcileState::Open);
    }
}

#[tokio::test]
async fn every_fault_is_an_error_with_its_reason_and_changes_no_status() {
    let s = setup(None).await;
    s.platform
        .set_sessions(json!({
            "f-5xx": {"result": "approved", "fault": "5xx"},
            "f-slow": {"result": "approved", "fault": "slow", "seconds": 3},
            "f-oversize": {"result": "approved", "fault": "oversize"},
            "f-html": {"result": "approved", "fault": "not-json"},
        }))
        .await;
    let r = s.reconciler(COMPANY_KEY, None);
    for (session, outcome, reason) in [
        ("f-5xx", "error", Some("http-5xx")),
        ("f-slow", "error", Some("timeout")),
        ("f-oversize", "error", Some("oversize")),
        ("f-html", "error", Some("not-json")),
        ("f-unknown", "not-found", None),
    ] {
        let report = r.reconcile(&id(session), Trigger::OnDemand).await.unwrap();
        assert_eq!(
            (report.outcome, report.reason.as_deref()),
            (outcome, reason),
            "{session}"
        );
        assert_eq!(s.status(session).await, None);
        let record = s.reconcile_record(session).await;
        assert_eq!(record.reason.as_deref(), reason);
        assert_eq!(record.state, ReconcileState::Open);
    }
    // A wrong company key is the platform's refusal.
    let wrong = s.reconciler("not-the-key", None);
    let report = wrong
        .reconcile(&id("f-5xx"), Trigger::OnDemand)
        .await
        .unwrap();
    assert_eq!(report.reason.as_deref(), Some("http-401"));
    // Nothing listening: a connection error.
    let closed = Reconciler {
        api: IdentomatClient::new(
            ApiConfig::new("http://127.0.0.1:9/external-api/", COMPANY_KEY.into(), None).unwrap(),
        )
        .unwrap(),
        ..s.reconciler(COMPANY_KEY, None)
    };
    let report = closed
        .reconcile(&id("f-5xx"), Trigger::OnDemand)
        .await
        .unwrap();
    assert_eq!(report.reason.as_deref(), Some("connect"));
}

#[tokio::test]
async fn requests_are_signed_and_answers_without_a_valid_signature_refused() {
    const SECRET: &str = "hmac-secret-local";
    let s = setup(Some(SECRET)).await;
    s.platform
        .set_sessions(json!({
            "h-good": {"result": "approved"},
            "h-bad": {"result": "approved", "fault": "bad-signature"},
            "h-none": {"result": "approved", "fault": "no-signature"},
        }))
        .await;
    let signed = s.reconciler(COMPANY_KEY, Some(SECRET));
    let report = signed
        .reconcile(&id("h-good"), Trigger::OnDemand)
        .await
        .unwrap();
    assert_eq!(report.outcome, "changed");
    for (session, reason) in [
        ("h-bad", "signature-wrong"),
        ("h-none", "signature-missing"),
    ] {
        let report = signed
            .reconcile(&id(session), Trigger::OnDemand)
            .await
            .unwrap();
        assert_eq!(report.reason.as_deref(), Some(reason));
        assert_eq!(
            s.status(session).await,
            None,
            "an unsigned answer is not believed"
        );
    }
    // Unsigned, or signed with another secret: the platform refuses the request.
    for secret in [None, Some("another-secret")] {
        let r = s.reconciler(COMPANY_KEY, secret);
        let report = r.reconcile(&id("h-bad"), Trigger::OnDemand).await.unwrap();
        assert_eq!(report.reason.as_deref(), Some("http-401"), "{secret:?}");
    }
    let requests = s.platform.requests().await;
    assert_eq!(requests.len(), 5);
    assert!(requests.iter().all(|r| r["body"] == "form"));
    assert_eq!(
        requests.iter().filter(|r| r["signed"] == true).count(),
        4,
        "{requests:?}"
    );
}

#[tokio::test]
async fn a_run_asks_at_most_its_bound_one_run_at_a_time_on_the_schedule() {
    let s = setup(None).await;
    let sessions: Vec<String> = (0..150).map(|i| format!("open-{i:03}")).collect();
    let entries: serde_json::Map<String, Value> = sessions
        .iter()
        .map(|s| (s.clone(), json!({"result": "in_progress"})))
        .collect();
    s.platform.set_sessions(Value::Object(entries)).await;
    // Opened two hours ago: each is due (its first ask was at one hour).
    let past = Timestamp::from_system_time(std::time::SystemTime::now() - 2 * HOUR);
    for session in &sessions {
        s.table
            .update_reconcile(session, |r| opened(r, "delivery", past, HOUR))
            .await
            .unwrap();
    }
    let r = s.reconciler_with(COMPANY_KEY, None, 100);
    let plenty = || Duration::from_secs(600);
    // Another run holds the lease: this one asks nothing.
    let now = Timestamp::now();
    let later = Timestamp::from_system_time(now.system_time() + Duration::from_secs(60));
    assert!(s.table.take_lease("other-run", now, later).await.unwrap());
    assert!(r.run("this-run", true, plenty).await.unwrap().skipped);
    s.table.release_lease("other-run").await.unwrap();

    let first = r.run("run-1", true, plenty).await.unwrap();
    assert_eq!(first.asked, 100);
    let second = r.run("run-2", true, plenty).await.unwrap();
    assert_eq!(second.asked, 50);
    // Each was asked once, and is next due at six hours after opening: nothing is due now.
    let third = r.run("run-3", true, plenty).await.unwrap();
    assert_eq!(third.asked, 0);
    let asked = s.platform.requests().await;
    assert_eq!(asked.len(), 150);
    let mut tokens: Vec<&str> = asked
        .iter()
        .filter_map(|r| r["session_token"].as_str())
        .collect();
    tokens.sort_unstable();
    tokens.dedup();
    assert_eq!(tokens.len(), 150);
    let record = s.reconcile_record("open-007").await;
    assert_eq!(record.step, 1);
    assert_eq!(
        record.due_at.map(|d| d.unix_millis()),
        Some(past.unix_millis() + 6 * 3_600_000)
    );
    // With too little time left for one more question, a run stops.
    let none = r
        .run("run-4", false, || Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(none.asked, 0);
    // The last step: the session is abandoned, out of the index.
    let long_ago = Timestamp::from_system_time(std::time::SystemTime::now() - 200 * HOUR);
    s.table
        .update_reconcile("open-000", |r| {
            let mut record = opened(None, "delivery", long_ago, HOUR)?;
            record.step = STEPS.len() - 1;
            record.version = r.map_or(0, |r| r.version);
            Some(record)
        })
        .await
        .unwrap();
    let last = r.run("run-5", true, plenty).await.unwrap();
    assert_eq!(last.asked, 1);
    assert_eq!(last.sessions[0].state, "abandoned");
    let open = s.table.open_sessions(None, 1000).await.unwrap();
    assert_eq!(open.len(), 149);
    assert!(!open.contains(&"open-000".to_owned()));
}

fn change(session: &str, result: &str) -> SessionChange {
    SessionChange {
        session_id: id(session),
        result: SessionResult::parse(result).expect("a result"),
        session_type: SessionType::Kyc,
    }
}

async fn stream_batch(s: &Setup, from: usize) -> (dynamodb::Event, usize) {
    let records = stream_records(&s.config, TABLE).await;
    let count = records.len();
    let event = serde_json::from_value(lambda_event(&records[from..])).expect("a batch");
    (event, count)
}

#[tokio::test]
async fn the_stream_opens_closes_and_asks_about_a_regression_at_once() {
    let s = setup(None).await;
    s.platform
        .set_sessions(json!({"regressed-1": {"result": "approved"}}))
        .await;
    let r = s.reconciler(COMPANY_KEY, None);
    // Callbacks received a minute ago: the reconcile's answer, read now, is newer.
    let start = Timestamp::now().unix_millis() - 60_000;
    let t = |ms| Timestamp::from_unix_millis(start + ms);
    // A non-final result opens the session; a final one closes it.
    s.table
        .record_session_change(&change("session-a", "MANUAL_CHECK"), "r1", "d1", t(0))
        .await
        .unwrap();
    let (batch, seen) = stream_batch(&s, 0).await;
    r.track(&batch).await;
    assert_eq!(
        s.reconcile_record("session-a").await.state,
        ReconcileState::Open
    );
    s.table
        .record_session_change(&change("session-a", "APPROVED"), "r2", "d2", t(1))
        .await
        .unwrap();
    let (batch, seen) = {
        let (b, n) = stream_batch(&s, seen).await;
        (b, n.max(seen))
    };
    r.track(&batch).await;
    assert_eq!(
        s.reconcile_record("session-a").await.state,
        ReconcileState::Closed
    );
    assert!(s.table.open_sessions(None, 10).await.unwrap().is_empty());
    // A message sent after the final result (its stream record late, or an OTP resent) does not
    // reopen the session; one of a session without a status opens it.
    let sent = |session: &str| {
        let image = json!({"sessionId": {"S": session}, "record": {"S": "delivery#k"}});
        let mut old = image.clone();
        old["state"] = json!({"S": "pending"});
        let mut new = image.clone();
        new["state"] = json!({"S": "sent"});
        json!({"eventName": "MODIFY", "dynamodb": {
            "Keys": {"sessionId": {"S": session}, "record": {"S": "delivery#k"}},
            "OldImage": old, "NewImage": new,
            "SequenceNumber": "1", "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            "eventID": "1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "eventVersion": "1.1"})
    };
    let late: dynamodb::Event =
        serde_json::from_value(lambda_event(&[sent("session-a"), sent("session-b")])).unwrap();
    r.track(&late).await;
    assert_eq!(
        s.reconcile_record("session-a").await.state,
        ReconcileState::Closed
    );
    assert_eq!(
        s.table.open_sessions(None, 10).await.unwrap(),
        ["session-b"]
    );
    let records_before = stream_records(&s.config, TABLE).await.len();

    // APPROVED, then a late MANUAL_CHECK: regressed, asked at once; the platform says approved.
    for (i, result) in ["APPROVED", "MANUAL_CHECK"].into_iter().enumerate() {
        s.table
            .record_session_change(
                &change("regressed-1", result),
                &format!("q{i}"),
                result,
                t(10 + i as u64),
            )
            .await
            .unwrap();
    }
    let (batch, seen) = stream_batch(&s, seen.max(records_before)).await;
    let response = r.track(&batch).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        s.status("regressed-1").await,
        Some(json!({"result": "APPROVED", "source": "reconcile"}))
    );
    let items = query_session(&s.config, TABLE, "regressed-1").await;
    let status = items
        .iter()
        .find(|i| text(i, "record") == "status")
        .unwrap();
    assert!(matches!(
        status.get("regressed"),
        Some(aws_sdk_dynamodb::types::AttributeValue::Bool(false))
    ));
    assert_eq!(s.platform.requests().await.len(), 1);

    // notify turns the reconciled change into both events.
    let records = stream_records(&s.config, TABLE).await;
    let events: Vec<_> = records[seen..]
        .iter()
        .flat_map(|record| {
            let record: dynamodb::EventRecord =
                serde_json::from_value(record.clone()).expect("a stream record");
            notify::events::of_record(&record)
        })
        .map(|n| {
            (
                n.detail_type.name(),
                serde_json::to_value(&n.detail).unwrap(),
            )
        })
        .collect();
    let reconciled = events
        .iter()
        .find(|(t, _)| *t == "Session Status Reconciled")
        .expect("a Session Status Reconciled event");
    assert_eq!(reconciled.1["result"], "APPROVED");
    assert_eq!(reconciled.1["previousResult"], "MANUAL_CHECK");
    assert!(
        events
            .iter()
            .any(|(t, d)| *t == "Session Status Changed" && d["source"] == "reconcile")
    );
}

#[tokio::test]
async fn an_answer_full_of_personal_data_leaves_no_trace_in_logs_or_the_table() {
    let s = setup(None).await;
    let session = "pii-session-7c1f2e";
    s.platform
        .set_sessions(json!({session: {
            "result": "approved",
            "similarity": 0.97,
            "person": {"first_name": "Tamar", "last_name": "Beridze",
                       "personal_number": "01019045678", "birthday": "1990-04-01",
                       "address": "12 Rustaveli Avenue"},
            "technicalDetails": {"remoteAddress": "203.0.113.77", "userAgent": "Mozilla/5.0"},
            "result_comment": "matched passport P1234567",
        }}))
        .await;
    let r = s.reconciler(COMPANY_KEY, None);
    let logs = Captured::default();
    {
        let _guard = logs.install();
        let report = r.reconcile(&id(session), Trigger::OnDemand).await.unwrap();
        assert_eq!(report.outcome, "changed");
    }
    let stored = format!("{:?}", scan_table(&s.config, TABLE).await);
    let logged = logs.text();
    assert!(logged.contains("\"function\":\"reconcile\""), "{logged}");
    for secret in [
        "Tamar",
        "Beridze",
        "01019045678",
        "1990-04-01",
        "Rustaveli",
        "203.0.113.77",
        "Mozilla",
        "P1234567",
        "0.97",
    ] {
        assert!(!stored.contains(secret), "{secret} stored");
        assert!(!logged.contains(secret), "{secret} logged");
    }
    assert!(
        !logged.contains(session),
        "the session id is the link's token"
    );
    assert!(!logged.contains(COMPANY_KEY));
    drop(s.moto);
}
