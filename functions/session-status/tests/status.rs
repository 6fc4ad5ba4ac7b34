//! The status record in moto: reference samples, late and duplicate delivery, and a thousand
//! envelopes at once.

use std::collections::HashMap;

use shared::callback::{SessionChange, SessionResult, SessionType};
use shared::family::FamilyError;
use shared::fields::SessionId;
use shared::store::StatusOutcome;
use shared::{Callback, Envelope, SessionsTable, Timestamp};
use testkit::Moto;
use testkit::samples::callback as sample;
use testkit::{Item, text as s};

const TABLE: &str = "sessions";

async fn table(moto: &Moto) -> SessionsTable {
    let aws = moto.sdk_config().await;
    testkit::create_sessions_table(&aws, TABLE).await;
    SessionsTable::new(aws_sdk_dynamodb::Client::new(&aws), TABLE)
}

fn envelope(session: &str, result: &str, ms: u64, request_id: &str) -> Envelope {
    Envelope {
        request_id: request_id.into(),
        received_at: Timestamp::from_unix_millis(ms),
        callback: Callback::SessionChange(SessionChange {
            session_id: SessionId::parse(session).unwrap(),
            result: SessionResult::parse(result).unwrap(),
            session_type: SessionType::Kyc,
        }),
    }
}

async fn status_item(moto: &Moto, session: &str) -> Item {
    let items = testkit::query_session(&moto.sdk_config().await, TABLE, session).await;
    assert_eq!(items.len(), 1, "{items:?}");
    items.into_iter().next().unwrap()
}

fn history(item: &Item) -> Vec<(String, String, String)> {
    item["history"]
        .as_l()
        .unwrap()
        .iter()
        .map(|e| {
            let m = e.as_m().unwrap();
            (s(m, "result"), s(m, "receivedAt"), s(m, "requestId"))
        })
        .collect()
}

#[tokio::test]
async fn reference_samples_create_the_expected_items() {
    let moto = Moto::start().await;
    let table = table(&moto).await;
    for (name, session, session_type) in [
        (
            "session-change",
            "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp",
            "kyc",
        ),
        (
            "session-change-kyb",
            "65lfvkv1t2o25ozimqu3nh797umb1ydvkpltl3ib",
            "kyb",
        ),
    ] {
        let envelope = Envelope {
            request_id: format!("req-{name}"),
            received_at: Timestamp::from_unix_millis(1_795_000_000_123),
            callback: sample(name),
        };
        let outcome = session_status::handle(&table, &envelope).await.unwrap();
        assert_eq!(outcome, StatusOutcome::Updated);
        let item = status_item(&moto, session).await;
        assert_eq!(s(&item, "record"), "status");
        assert_eq!(s(&item, "result"), "APPROVED");
        assert_eq!(s(&item, "sessionType"), session_type);
        assert_eq!(s(&item, "receivedAt"), "2026-11-18T11:06:40.123Z");
        assert_eq!(s(&item, "requestId"), format!("req-{name}"));
        assert!(item["updatedAt"].as_s().unwrap().starts_with("20"));
        assert_eq!(
            history(&item),
            [(
                "APPROVED".into(),
                "2026-11-18T11:06:40.123Z".into(),
                format!("req-{name}")
            )]
        );
        assert_eq!(item["historyCount"].as_n().unwrap(), "1");
    }
}

#[tokio::test]
async fn late_delivery_keeps_the_newest_result_and_receipt_order() {
    let moto = Moto::start().await;
    let table = table(&moto).await;
    // MANUAL_CHECK was received first, APPROVED later, but APPROVED is delivered first.
    let approved = envelope("s1", "APPROVED", 2_000, "req-2");
    let manual = envelope("s1", "MANUAL_CHECK", 1_000, "req-1");
    assert_eq!(
        session_status::handle(&table, &approved).await.unwrap(),
        StatusOutcome::Updated
    );
    assert_eq!(
        session_status::handle(&table, &manual).await.unwrap(),
        StatusOutcome::Stale
    );
    let item = status_item(&moto, "s1").await;
    assert_eq!(s(&item, "result"), "APPROVED");
    let results: Vec<String> = history(&item).into_iter().map(|h| h.0).collect();
    assert_eq!(results, ["MANUAL_CHECK", "APPROVED"]);
}

#[tokio::test]
async fn the_same_envelope_twice_is_one_history_entry() {
    let moto = Moto::start().await;
    let table = table(&moto).await;
    let e = envelope("s1", "REJECTED", 1_000, "req-1");
    assert_eq!(
        session_status::handle(&table, &e).await.unwrap(),
        StatusOutcome::Updated
    );
    assert_eq!(
        session_status::handle(&table, &e).await.unwrap(),
        StatusOutcome::Duplicate
    );
    let item = status_item(&moto, "s1").await;
    assert_eq!(history(&item).len(), 1);
    assert_eq!(item["historyCount"].as_n().unwrap(), "1");
}

#[tokio::test]
async fn kyb_flag_default_kyc_and_unknown_results() {
    let moto = Moto::start().await;
    let table = table(&moto).await;
    let mut kyb = envelope("kyb-session", "APPROVED", 1_000, "r1");
    if let Callback::SessionChange(c) = &mut kyb.callback {
        c.session_type = SessionType::Kyb;
    }
    session_status::handle(&table, &kyb).await.unwrap();
    assert_eq!(
        s(&status_item(&moto, "kyb-session").await, "sessionType"),
        "kyb"
    );

    session_status::handle(
        &table,
        &envelope("kyc-session", "ESCALATED_TO_COMPLIANCE", 1_000, "r2"),
    )
    .await
    .unwrap();
    let item = status_item(&moto, "kyc-session").await;
    assert_eq!(s(&item, "sessionType"), "kyc");
    assert_eq!(s(&item, "result"), "ESCALATED_TO_COMPLIANCE");
}

/// The same rules at a size that runs in seconds: `make test`.
#[tokio::test]
async fn three_hundred_concurrent_shuffled_envelopes_lose_nothing() {
    concurrent_shuffled_envelopes_lose_nothing(15).await;
}

/// 1,000 envelopes: `make test-scale`, which CI runs.
#[tokio::test]
#[ignore = "long: make test-scale runs it, and CI runs make test-scale"]
async fn a_thousand_concurrent_shuffled_envelopes_lose_nothing() {
    concurrent_shuffled_envelopes_lose_nothing(50).await;
}

/// `sessions` sessions of 20 envelopes each, shuffled, 32 written at once.
async fn concurrent_shuffled_envelopes_lose_nothing(sessions: u64) {
    const PER_SESSION: u64 = 20;
    const RESULTS: [&str; 4] = [
        "APPROVED",
        "REJECTED",
        "MANUAL_CHECK",
        "ADDITIONAL_INFORMATION_REQUESTED",
    ];
    let moto = Moto::start().await;
    let table = table(&moto).await;

    let mut envelopes: Vec<Envelope> = (0..sessions)
        .flat_map(|s| {
            (0..PER_SESSION).map(move |i| {
                let result = RESULTS[((s * 7 + i * 3) % 4) as usize];
                envelope(
                    &format!("session-{s}"),
                    result,
                    1_000 + i * 10,
                    &format!("req-{s}-{i}"),
                )
            })
        })
        .collect();
    testkit::shuffle(&mut envelopes, 0x5eed);

    // Bounded concurrency: moto is one Python process.
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = tokio::task::JoinSet::new();
    for e in envelopes {
        let (table, permits) = (table.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            session_status::handle(&table, &e).await
        });
    }
    let mut counts = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        let outcome = done.unwrap().expect("every envelope is recorded");
        *counts.entry(outcome).or_insert(0u64) += 1;
    }
    assert_eq!(counts.values().sum::<u64>(), sessions * PER_SESSION);
    assert_eq!(counts.get(&StatusOutcome::Duplicate), None);

    let aws = moto.sdk_config().await;
    let mut entries = 0;
    for s in 0..sessions {
        let session = format!("session-{s}");
        let items = testkit::query_session(&aws, TABLE, &session).await;
        let item = &items[0];
        let newest = RESULTS[((s * 7 + (PER_SESSION - 1) * 3) % 4) as usize];
        assert_eq!(self::s(item, "result"), newest, "{session}");
        let h = history(item);
        let expected: Vec<String> = (0..PER_SESSION).map(|i| format!("req-{s}-{i}")).collect();
        let ids: Vec<String> = h.iter().map(|e| e.2.clone()).collect();
        assert_eq!(
            ids, expected,
            "{session}: history complete and in receipt order"
        );
        assert_eq!(
            item["historyCount"].as_n().unwrap(),
            &PER_SESSION.to_string()
        );
        entries += h.len() as u64;
    }
    assert_eq!(entries, sessions * PER_SESSION);
}

#[tokio::test]
async fn store_failures_are_errors_so_lambda_retries() {
    let moto = Moto::start().await;
    let aws = moto.sdk_config().await;
    // No table at all.
    let missing = SessionsTable::new(aws_sdk_dynamodb::Client::new(&aws), "no-such-table");
    let err = session_status::handle(&missing, &envelope("s1", "APPROVED", 1, "r"))
        .await
        .unwrap_err();
    assert!(matches!(err, FamilyError::Store(_)), "{err}");
    // DynamoDB unreachable.
    let down = aws_sdk_dynamodb::config::Builder::from(&aws)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let down = SessionsTable::new(aws_sdk_dynamodb::Client::from_conf(down), TABLE);
    let err = session_status::handle(&down, &envelope("s1", "APPROVED", 1, "r"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FamilyError::Store(ref e) if e.is_retryable()),
        "{err}"
    );
}

#[tokio::test]
async fn a_misrouted_callback_is_an_error() {
    let moto = Moto::start().await;
    let table = table(&moto).await;
    let e = Envelope {
        request_id: "r".into(),
        received_at: Timestamp::from_unix_millis(1),
        callback: sample("video-call-status-update-empty"),
    };
    assert!(matches!(
        session_status::handle(&table, &e).await,
        Err(FamilyError::Misrouted(_))
    ));
}

#[tokio::test]
async fn status_and_video_records_expire_after_the_retention_chosen() {
    let moto = Moto::start().await;
    let week = std::time::Duration::from_secs(7 * 24 * 3600);
    let table = table(&moto).await.with_retention(week);
    let now = Timestamp::now().unix_millis() / 1000;
    let e = envelope(
        "kept-a-week",
        "APPROVED",
        Timestamp::now().unix_millis(),
        "r1",
    );
    session_status::handle(&table, &e).await.unwrap();
    let Callback::VideoCallStatus(video) = sample("video-call-status-update-available") else {
        panic!("a video sample");
    };
    table
        .record_video_status(&video, "r2", "digest", Timestamp::now())
        .await
        .unwrap();
    let aws = moto.sdk_config().await;
    let mut items = testkit::query_session(&aws, TABLE, "kept-a-week").await;
    items.extend(testkit::query_session(&aws, TABLE, video.session_id.as_str()).await);
    assert_eq!(items.len(), 2);
    for item in items {
        let expires: u64 = item["expiresAt"].as_n().unwrap().parse().unwrap();
        assert!(
            expires.abs_diff(now + week.as_secs()) < 120,
            "{}: {expires}",
            s(&item, "record")
        );
    }
}

#[tokio::test]
async fn a_retry_of_an_older_result_after_a_final_one_is_stored_marked_regressed() {
    let moto = Moto::start().await;
    let table = table(&moto).await;
    let handle = |e| {
        let table = table.clone();
        async move { session_status::handle(&table, &e).await.unwrap() }
    };
    handle(envelope("reg-1", "MANUAL_CHECK", 1_000, "r1")).await;
    handle(envelope("reg-1", "APPROVED", 2_000, "r2")).await;
    // The platform retries the MANUAL_CHECK, and it is received after the APPROVED.
    assert_eq!(
        handle(envelope("reg-1", "MANUAL_CHECK", 3_000, "r1-retry")).await,
        StatusOutcome::Regressed
    );
    let item = status_item(&moto, "reg-1").await;
    assert_eq!(s(&item, "result"), "MANUAL_CHECK");
    assert_eq!(item["regressed"].as_bool().unwrap(), &true);
    assert_eq!(s(&item, "regressedFrom"), "APPROVED");
    // A final result again clears the mark.
    handle(envelope("reg-1", "APPROVED", 4_000, "r4")).await;
    let item = status_item(&moto, "reg-1").await;
    assert_eq!(item["regressed"].as_bool().unwrap(), &false);
    assert!(!item.contains_key("regressedFrom"));
}

#[tokio::test]
async fn two_different_changes_under_one_request_id_are_both_in_the_history() {
    // `sam local start-api` gives every request the same id (aws-sam-cli #9279).
    let moto = Moto::start().await;
    let table = table(&moto).await;
    let first = envelope("same-id", "MANUAL_CHECK", 1_000, "frozen");
    let second = envelope("same-id", "APPROVED", 2_000, "frozen");
    for e in [&first, &second] {
        assert_eq!(
            session_status::handle(&table, e).await.unwrap(),
            StatusOutcome::Updated
        );
    }
    // The very same callback again is still a duplicate.
    assert_eq!(
        session_status::handle(&table, &second).await.unwrap(),
        StatusOutcome::Duplicate
    );
    let item = status_item(&moto, "same-id").await;
    let results: Vec<String> = history(&item).into_iter().map(|(r, _, _)| r).collect();
    assert_eq!(results, ["MANUAL_CHECK", "APPROVED"]);
    assert_eq!(s(&item, "result"), "APPROVED");
}
