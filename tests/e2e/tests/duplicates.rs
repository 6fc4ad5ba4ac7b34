//! Duplicates at scale, through the ingress, the real hand-off and the families: a burst of
//! one OTP sends one SMS, and thousands of status changes delivered out of order and partly
//! twice (Lambda's asynchronous invokes are at least once) lose and double nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use e2e::{System, TABLE};
use serde_json::json;

/// Moto is one Python process serving one request at a time; more would only queue.
const CONCURRENCY: usize = 32;

#[tokio::test]
async fn two_hundred_concurrent_identical_otps_send_one_sms() {
    const POSTS: usize = 200;
    let system = Arc::new(System::start().await);
    let body = testkit::samples::bytes("one-time-password-request");
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..POSTS {
        let (system, body) = (Arc::clone(&system), body.clone());
        posts.spawn(async move {
            system
                .post_as(&body, &format!("otp-{i}"))
                .await
                .status()
                .as_u16()
        });
    }
    while let Some(status) = posts.join_next().await {
        assert_eq!(status.unwrap(), 202);
    }
    let invocations = system.take_invocations();
    assert_eq!(invocations.len(), POSTS);

    let outcomes = system.deliver_concurrently(invocations, POSTS).await;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for outcome in outcomes {
        *counts
            .entry(outcome.expect("no delivery fails"))
            .or_default() += 1;
    }
    assert_eq!(
        counts,
        HashMap::from([("sent", 1), ("deduplicated", POSTS - 1)])
    );
    let sms = system.moto.sms().await;
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!(
        (sms[0].phone_number.as_str(), sms[0].message.as_str()),
        ("+995512345678", "Your code is 6867")
    );
}

/// The same rules at a size that runs in seconds: `make test`.
#[tokio::test]
async fn five_hundred_status_changes_with_duplicates_lose_nothing() {
    status_changes_with_duplicates_lose_nothing(25).await;
}

/// At scale (about two minutes against one moto): `make test-scale`, which CI runs.
#[tokio::test]
#[ignore = "minutes long: make test-scale runs it, and CI runs make test-scale"]
async fn ten_thousand_status_changes_with_duplicates_lose_nothing() {
    status_changes_with_duplicates_lose_nothing(500).await;
}

/// `sessions` sessions of 20 changes each, posted in a random order, one in ten delivered
/// twice, all deliveries in a random order.
async fn status_changes_with_duplicates_lose_nothing(sessions: usize) {
    const PER_SESSION: usize = 20;
    let callbacks_posted = sessions * PER_SESSION;
    const RESULTS: [&str; 5] = [
        "APPROVED",
        "REJECTED",
        "MANUAL_CHECK",
        "ADDITIONAL_INFORMATION_REQUESTED",
        "ESCALATED_TO_COMPLIANCE",
    ];
    let system = Arc::new(System::start().await);

    // Identomat's callbacks, in a random order across and within sessions.
    let mut callbacks: Vec<(usize, usize)> = (0..sessions)
        .flat_map(|s| (0..PER_SESSION).map(move |i| (s, i)))
        .collect();
    testkit::shuffle(&mut callbacks, 0x10_000);
    let result = |s: usize, i: usize| RESULTS[(s * 3 + i * 7) % RESULTS.len()];
    let mut accepted = 0;
    for (n, &(s, i)) in callbacks.iter().enumerate() {
        let body = json!({
            "callbackApiKey": testkit::samples::KEY,
            "type": "session-change",
            "sessionId": format!("session-{s:03}"),
            "result": result(s, i),
        });
        let response = system
            .post_as(body.to_string().as_bytes(), &format!("req-{n:05}"))
            .await;
        assert_eq!(response.status(), 202);
        accepted += 1;
    }
    let invocations = system.take_invocations();
    assert_eq!(
        (accepted, invocations.len()),
        (callbacks_posted, callbacks_posted)
    );

    // Lambda delivers one in ten twice, and all of them in a random order.
    let mut deliveries = invocations.clone();
    deliveries.extend(invocations.iter().step_by(10).cloned());
    testkit::shuffle(&mut deliveries, 0xd0_0b1e);
    let duplicates_sent = deliveries.len() - callbacks_posted;
    assert_eq!(duplicates_sent, callbacks_posted.div_ceil(10));

    let outcomes = system.deliver_concurrently(deliveries, CONCURRENCY).await;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for outcome in outcomes {
        *counts
            .entry(outcome.expect("no delivery fails"))
            .or_default() += 1;
    }
    let stored = counts.get("updated").unwrap_or(&0)
        + counts.get("regressed").unwrap_or(&0)
        + counts.get("stale").unwrap_or(&0);
    assert_eq!(stored, callbacks_posted, "{counts:?}");
    assert_eq!(
        counts.get("duplicate"),
        Some(&duplicates_sent),
        "{counts:?}"
    );

    // What the ingress handed on, per session: (receivedAt, request id, result).
    let mut sent: HashMap<String, Vec<(String, String, String)>> = HashMap::new();
    for invocation in &invocations {
        let envelope = invocation.payload_json();
        sent.entry(
            envelope["callback"]["sessionId"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
        .or_default()
        .push((
            envelope["receivedAt"].as_str().unwrap().to_owned(),
            envelope["requestId"].as_str().unwrap().to_owned(),
            envelope["callback"]["result"].as_str().unwrap().to_owned(),
        ));
    }
    let items = testkit::scan_table(&system.aws, TABLE).await;
    let records: HashMap<String, &testkit::Item> = items
        .iter()
        .filter(|item| testkit::text(item, "record") == "status")
        .map(|item| (testkit::text(item, "sessionId"), item))
        .collect();
    assert_eq!(records.len(), sessions);
    let mut history_entries = 0;
    for (session, mut envelopes) in sent {
        let item = records[&session];
        // RFC 3339 in UTC with milliseconds sorts as text. Two callbacks received in the same
        // millisecond are equally new: either may be the current one.
        envelopes.sort();
        let newest_at = &envelopes[PER_SESSION - 1].0;
        let newest: HashSet<(&str, &str)> = envelopes
            .iter()
            .filter(|e| &e.0 == newest_at)
            .map(|e| (e.1.as_str(), e.2.as_str()))
            .collect();
        let current = (
            testkit::text(item, "requestId"),
            testkit::text(item, "result"),
        );
        assert!(
            newest.contains(&(current.0.as_str(), current.1.as_str())),
            "{session}: {current:?} is not its newest"
        );
        assert_eq!(testkit::text(item, "receivedAt"), *newest_at);

        let history = item["history"].as_l().expect("a history list");
        let entries: Vec<(String, String)> = history
            .iter()
            .map(|entry| {
                let entry = entry.as_m().expect("an entry");
                (
                    testkit::text(entry, "receivedAt"),
                    testkit::text(entry, "requestId"),
                )
            })
            .collect();
        assert!(
            entries.windows(2).all(|w| w[0].0 <= w[1].0),
            "{session}: history in receipt order"
        );
        let ids: HashSet<&str> = entries.iter().map(|e| e.1.as_str()).collect();
        let expected: HashSet<&str> = envelopes.iter().map(|e| e.1.as_str()).collect();
        assert_eq!(ids, expected, "{session}: every callback once");
        assert_eq!(entries.len(), PER_SESSION, "{session}: no entry twice");
        assert_eq!(
            item["historyCount"].as_n().unwrap(),
            &PER_SESSION.to_string()
        );
        history_entries += entries.len();
    }
    assert_eq!(history_entries, callbacks_posted);
}
