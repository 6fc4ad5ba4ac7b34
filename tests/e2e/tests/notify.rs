//! The notify function over the table's stream in moto, publishing to an EventBridge bus in
//! moto whose rule sends every event to an SQS queue read back here. The stream's records are
//! handed over as Lambda's event source mapping does: in order, in batches of 100.

use std::collections::HashMap;
use std::time::Duration;

use aws_lambda_events::dynamodb;
use e2e::{System, TABLE};
use notify::bus::EventBridge;
use notify::{DEFAULT_SOURCE, handle};
use serde_json::{Value, json};
use shared::Timestamp;
use shared::callback::{SessionChange, SessionResult, SessionType};
use shared::fields::SessionId;
use testkit::stream::{EventQueue, lambda_event, stream_records};
use testkit::{Fault, FaultProxy, samples};

const BATCH: usize = 100;

fn bus(config: &aws_config::SdkConfig, queue: &EventQueue) -> EventBridge {
    EventBridge::new(
        aws_sdk_eventbridge::Client::new(config),
        queue.bus.clone(),
        DEFAULT_SOURCE.into(),
    )
}

fn batch(records: &[Value]) -> dynamodb::Event {
    serde_json::from_value(lambda_event(records)).expect("the stream's batch as Lambda sends it")
}

/// Hands `records` to the function as the event source mapping does: in batches, and a batch
/// that reports a failed item is retried from that item (up to `retries` times in a row).
async fn deliver(bus: &EventBridge, records: &[Value], retries: usize) -> usize {
    let mut start = 0;
    let mut failures = 0;
    while start < records.len() {
        let end = (start + BATCH).min(records.len());
        let (response, _) = handle(bus, &batch(&records[start..end])).await;
        match response.batch_item_failures.first() {
            None => start = end,
            Some(failure) => {
                failures += 1;
                assert!(failures <= retries, "still failing after {retries} retries");
                let sequence = failure.item_identifier.clone().expect("a sequence number");
                start = records
                    .iter()
                    .position(|r| r["dynamodb"]["SequenceNumber"] == sequence.as_str())
                    .expect("the failed item is a record of the batch");
            }
        }
    }
    failures
}

#[tokio::test]
async fn the_reference_callbacks_produce_exactly_these_events() {
    let system = System::start().await;
    let queue = EventQueue::create(&system.aws, "callbacks", DEFAULT_SOURCE).await;
    for name in samples::names() {
        let response = system
            .post_as(&samples::bytes(&name), &format!("req-{name}"))
            .await;
        assert_eq!(response.status(), 202, "{name}");
    }
    let unknown = json!({"callbackApiKey": samples::KEY, "type": "document-expired",
                         "sessionId": "wwb83rh1se22wd81z0tx8bqlerljq5kgf6rxem1q"});
    system
        .post_as(unknown.to_string().as_bytes(), "req-unknown")
        .await;
    // A non-geographic number, which `*` does not allow: suppressed.
    let mut far = samples::json("one-time-password-request");
    far["phoneNumber"] = json!("+882161234567");
    far["sessionId"] = json!("far0session0000000000000000000000000000");
    system.post_as(far.to_string().as_bytes(), "req-far").await;
    // Refused for a field: recorded, and an event.
    let mut refused = samples::json("one-time-password-request");
    refused["phoneNumber"] = json!("+995 5xx 12 34 56");
    let response = system
        .post_as(refused.to_string().as_bytes(), "req-refused")
        .await;
    assert_eq!(response.status(), 422);
    system.run_families().await;
    // Then the link SMS asked for again (not sent again), and a late MANUAL_CHECK after the
    // session's APPROVED (stored, marked regressed).
    system
        .post_as(
            &samples::bytes("share-session-link-via-sms"),
            "req-link-again",
        )
        .await;
    let mut regressed = samples::json("session-change");
    regressed["result"] = json!("MANUAL_CHECK");
    system
        .post_as(regressed.to_string().as_bytes(), "req-regressed")
        .await;
    system.run_families().await;

    let records = stream_records(&system.aws, TABLE).await;
    assert_eq!(deliver(&bus(&system.aws, &queue), &records, 0).await, 0);
    let events = queue.drain(&system.aws).await;

    let mut seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["source"], DEFAULT_SOURCE);
            let key = e["detail"]["result"]
                .as_str()
                .or(e["detail"]["roomStatus"].as_str())
                .or(e["detail"]["reason"].as_str())
                .or(e["detail"]["type"].as_str())
                .or(e["detail"]["videoFileId"].as_str())
                .unwrap_or_default();
            (
                e["detail-type"].as_str().unwrap_or_default().to_owned(),
                key.to_owned(),
            )
        })
        .collect();
    seen.sort();
    let expected = [
        ("Callback Not Handled", "document-expired"),
        ("Callback Rejected", "one-time-password-request"),
        ("Message Deduplicated", ""),
        ("Message Suppressed", "country-not-allowed"),
        ("Session Status Changed", "APPROVED"),
        ("Session Status Changed", "APPROVED"),
        ("Session Status Changed", "MANUAL_CHECK"),
        ("Video Call Status Changed", "empty"),
        ("Video Call Status Changed", "ended"),
        (
            "Video File Available",
            "hwenFYGlG54kRjmSruy3kxg54zV2pNPwHimseYao",
        ),
    ];
    let seen: Vec<(&str, &str)> = seen.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(seen, expected);

    let ids: std::collections::HashSet<&str> = events
        .iter()
        .filter_map(|e| e["detail"]["id"].as_str())
        .collect();
    assert_eq!(ids.len(), events.len(), "each event has its own id");
    let rejected = events
        .iter()
        .find(|e| e["detail-type"] == "Callback Rejected")
        .expect("the refused OTP");
    assert_eq!(rejected["detail"]["field"], "phoneNumber");
    assert_eq!(rejected["detail"]["ruleCode"], "phone-letters");
    assert!(!rejected.to_string().contains("12 34 56"));
    let repeat = events
        .iter()
        .find(|e| e["detail-type"] == "Message Deduplicated")
        .expect("the link SMS asked for again");
    assert_eq!(repeat["detail"]["requestId"], "req-link-again");
    assert_eq!(
        repeat["detail"]["firstRequestId"],
        "req-share-session-link-via-sms"
    );
    assert_eq!(repeat["detail"]["duplicates"], 1);
    let back = events
        .iter()
        .find(|e| e["detail"]["result"] == "MANUAL_CHECK")
        .expect("the regressed status");
    assert_eq!(back["detail"]["regressed"], true);
    assert_eq!(back["detail"]["regressedFrom"], "APPROVED");
    let suppressed = events
        .iter()
        .find(|e| e["detail-type"] == "Message Suppressed")
        .expect("the suppressed SMS");
    assert_eq!(suppressed["detail"]["channel"], "sms");
    assert_eq!(suppressed["detail"]["kind"], "otp");
    assert_eq!(
        suppressed["detail"]["sessionId"],
        "far0session0000000000000000000000000000"
    );

    // Never the message, the number or address, or the key.
    let text = serde_json::to_string(&events).expect("JSON");
    for secret in [
        samples::KEY,
        samples::PREVIOUS_KEY,
        "6867",
        "512345678",
        "+882161234567",
        "john.doe",
        "please complete",
        "session_token",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }

    // The stream delivered again (Lambda retries a batch after a timeout): the same ids.
    deliver(&bus(&system.aws, &queue), &records, 0).await;
    let again: Vec<Value> = queue.drain(&system.aws).await;
    let ids_again: std::collections::HashSet<&str> = again
        .iter()
        .filter_map(|e| e["detail"]["id"].as_str())
        .collect();
    assert_eq!(ids_again, ids);
}

fn session_change(session: &str, result: &str) -> SessionChange {
    SessionChange {
        session_id: SessionId::parse(session).expect("a session id"),
        result: SessionResult::parse(result).expect("a result"),
        session_type: SessionType::Kyc,
    }
}

/// A small xorshift for reproducible random choices.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

const RESULTS: [&str; 5] = ["PENDING", "MANUAL_CHECK", "REJECTED", "APPROVED", "EXPIRED"];

/// The ordering rules at a size that runs in seconds: `make test`.
#[tokio::test]
async fn status_events_follow_each_sessions_current_results_in_order_without_gaps() {
    status_events_in_order(15, 300, 30).await;
}

/// 1,000 changes over 50 sessions: `make test-scale`, which CI runs.
#[tokio::test]
#[ignore = "half a minute long: make test-scale runs it, and CI runs make test-scale"]
async fn a_thousand_status_changes_make_events_in_order_without_gaps() {
    status_events_in_order(50, 1000, 100).await;
}

/// `count` changes over `session_count` sessions, each a session, a result and a received
/// time, posted in random order, `repeated` of them twice.
async fn status_events_in_order(session_count: usize, count: usize, repeated: usize) {
    let system = System::start().await;
    let queue = EventQueue::create(&system.aws, "ordering", DEFAULT_SOURCE).await;
    let mut random = Random(0x5eed_0016);
    let sessions: Vec<String> = (0..session_count)
        .map(|i| format!("order{i:035}"))
        .collect();
    let start = Timestamp::parse("2026-11-29T10:00:00.000Z").expect("a time");
    let mut changes: Vec<(usize, &str, Timestamp, String)> = (0..count)
        .map(|i| {
            let session = random.below(sessions.len());
            let result = RESULTS[random.below(RESULTS.len())];
            let at =
                Timestamp::from_unix_millis(start.unix_millis() + random.below(3_600_000) as u64);
            (session, result, at, format!("order-req-{i}"))
        })
        .collect();
    testkit::shuffle(&mut changes, 16);
    let repeats: Vec<_> = (0..repeated)
        .map(|_| changes[random.below(changes.len())].clone())
        .collect();
    changes.extend(repeats);

    // What each session's current result went through, by the table's own rule: the newest
    // received wins (ties: the later written); a stale or repeated change leaves it.
    let mut current: HashMap<usize, (Timestamp, &str)> = HashMap::new();
    let mut expected: HashMap<usize, Vec<&str>> = HashMap::new();
    for (session, result, at, request_id) in &changes {
        let change = session_change(&sessions[*session], result);
        system
            .table
            .record_session_change(&change, request_id, &digest_of(&change), *at)
            .await
            .expect("recorded");
        let newer = current.get(session).is_none_or(|(seen, _)| at >= seen);
        if newer {
            let previous = current.insert(*session, (*at, result)).map(|(_, r)| r);
            if previous != Some(*result) {
                expected.entry(*session).or_default().push(result);
            }
        }
    }

    let records = stream_records(&system.aws, TABLE).await;
    deliver(&bus(&system.aws, &queue), &records, 0).await;
    let events = queue.drain(&system.aws).await;
    let mut got: HashMap<String, Vec<(String, Option<String>)>> = HashMap::new();
    for event in &events {
        assert_eq!(event["detail-type"], "Session Status Changed");
        let detail = &event["detail"];
        got.entry(detail["sessionId"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push((
                detail["result"].as_str().unwrap_or_default().to_owned(),
                detail["previousResult"].as_str().map(str::to_owned),
            ));
    }
    let mut total = 0;
    for (index, session) in sessions.iter().enumerate() {
        let want = expected.get(&index).cloned().unwrap_or_default();
        let have = got.remove(session.as_str()).unwrap_or_default();
        let results: Vec<&str> = have.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(results, want, "session {index}");
        // No gap: each event's previous result is the one before it.
        for pair in have.windows(2) {
            assert_eq!(
                pair[1].1.as_deref(),
                Some(pair[0].0.as_str()),
                "session {index}"
            );
        }
        assert_eq!(
            have.first().and_then(|(_, p)| p.clone()),
            None,
            "session {index}"
        );
        total += have.len();
    }
    assert!(got.is_empty(), "events of sessions never written: {got:?}");
    println!(
        "{} changes ({} repeated) over {} sessions: {} stream records, {total} events",
        changes.len(),
        repeated,
        sessions.len(),
        records.len()
    );
    assert!(
        total > sessions.len(),
        "every session changed at least once"
    );
}

#[tokio::test]
async fn a_failing_put_events_is_retried_from_the_failed_record_in_order() {
    let system = System::start().await;
    let queue = EventQueue::create(&system.aws, "faults", DEFAULT_SOURCE).await;
    for (i, result) in ["PENDING", "MANUAL_CHECK", "APPROVED"].iter().enumerate() {
        for session in 0..8 {
            let change = session_change(&format!("fault{session:034}"), result);
            let at = Timestamp::from_unix_millis(1_795_000_000_000 + i as u64 * 1000);
            system
                .table
                .record_session_change(
                    &change,
                    &format!("f-{i}-{session}"),
                    &digest_of(&change),
                    at,
                )
                .await
                .expect("recorded");
        }
    }
    let records = stream_records(&system.aws, TABLE).await;
    assert_eq!(records.len(), 24);
    // The second PutEvents call (events 11-20) is refused, then answered late (after the
    // SDK's timeout, but delivered): two failures, and the retries start at the failed record.
    let proxy = FaultProxy::new(system.moto.endpoint(), |call| {
        match (call.operation.as_str(), call.nth) {
            ("AWSEvents.PutEvents", 1) => Fault::Refuse {
                status: 500,
                body: r#"{"__type":"InternalException","message":"unavailable"}"#.into(),
            },
            ("AWSEvents.PutEvents", 2) => Fault::AnswerLate(Duration::from_secs(3)),
            _ => Fault::Pass,
        }
    })
    .await;
    // The SDK's own retries off: each fault reaches the handler, whose answer is under test.
    let faulty = aws_sdk_eventbridge::config::Builder::from(&system.aws)
        .endpoint_url(proxy.endpoint())
        .timeout_config(shared::aws::timeouts())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let bus = EventBridge::new(
        aws_sdk_eventbridge::Client::from_conf(faulty),
        queue.bus.clone(),
        DEFAULT_SOURCE.into(),
    );
    assert_eq!(deliver(&bus, &records, 2).await, 2);
    assert_eq!(proxy.count("AWSEvents.PutEvents"), 5);

    let events = queue.drain(&system.aws).await;
    // The late call's events reached the bus and were put again: at least once, each repeat
    // with the id it had.
    let mut first_seen: Vec<&str> = Vec::new();
    for event in &events {
        let id = event["detail"]["id"].as_str().expect("an id");
        if !first_seen.contains(&id) {
            first_seen.push(id);
        }
    }
    assert_eq!(first_seen.len(), 24);
    assert!(events.len() > 24, "the late call's events were put twice");
    // Per session, after dropping repeats: PENDING, MANUAL_CHECK, APPROVED.
    for session in 0..8 {
        let id = format!("fault{session:034}");
        let mut results: Vec<&str> = Vec::new();
        let mut ids: Vec<&str> = Vec::new();
        for event in &events {
            let detail = &event["detail"];
            let event_id = detail["id"].as_str().unwrap_or_default();
            if detail["sessionId"] == id.as_str() && !ids.contains(&event_id) {
                ids.push(event_id);
                results.push(detail["result"].as_str().unwrap_or_default());
            }
        }
        assert_eq!(
            results,
            ["PENDING", "MANUAL_CHECK", "APPROVED"],
            "session {session}"
        );
    }
}

/// The digest the session-status function passes for `change`.
fn digest_of(change: &shared::callback::SessionChange) -> String {
    shared::Callback::SessionChange(change.clone()).digest()
}
