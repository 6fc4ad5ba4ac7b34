//! Every file in `events/` runs through its handler with the handler's own event type, so a
//! file that `sam local invoke` would choke on fails here.

use std::path::{Path, PathBuf};

use e2e::System;
use shared::Envelope;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .expect("file name")
        .to_owned()
}

#[tokio::test]
async fn every_event_file_runs_through_its_handler() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let system = System::start().await;
    let mut checked = 0;
    for dir in files(&root) {
        let kind = stem(&dir);
        for file in files(&dir) {
            let name = stem(&file);
            let text = std::fs::read_to_string(&file).expect("readable");
            let what = format!("events/{kind}/{name}.json");
            match kind.as_str() {
                "callbacks" => {
                    let response = system.post(text.as_bytes()).await;
                    assert_eq!(response.status(), 202, "{what}");
                }
                // The local Identomat's sessions (make demo's): each a session id the callbacks
                // carry, answering a `result` as `result/` would.
                "identomat" => {
                    let sessions: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                    let sessions = sessions.as_object().expect("sessions by id");
                    assert!(!sessions.is_empty(), "{what}");
                    for (id, answer) in sessions {
                        assert!(shared::fields::SessionId::parse(id).is_ok(), "{what}: {id}");
                        assert!(answer["result"].is_string(), "{what}: {id}");
                    }
                }
                "ingress" => {
                    let request = lambda_http::request::from_str(&text)
                        .unwrap_or_else(|e| panic!("{what} is not an API Gateway event: {e}"));
                    let response = match system.ingress.handle(request).await {
                        Ok(r) => r,
                        Err(never) => match never {},
                    };
                    let expected = match name.as_str() {
                        "wrong-key" => 401,
                        "invalid" => 422,
                        _ => 202,
                    };
                    assert_eq!(response.status(), expected, "{what}");
                }
                "sms" | "email" | "session-status" | "video-call" => {
                    let envelope: Envelope = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("{what} is not an envelope: {e}"));
                    // The file is what the ingress hands on for that sample.
                    assert_eq!(
                        envelope.callback,
                        testkit::samples::callback(&name),
                        "{what}"
                    );
                    let outcome = match kind.as_str() {
                        "sms" => system.sms.handle(&envelope).await.map(|o| o.name()),
                        "email" => system.email.handle(&envelope).await.map(|o| o.name()),
                        "session-status" => session_status::handle(&system.table, &envelope)
                            .await
                            .map(|o| o.name()),
                        _ => video_call::handle(&system.table, &envelope)
                            .await
                            .map(|o| o.name()),
                    };
                    let outcome = outcome.unwrap_or_else(|e| panic!("{what}: {e}"));
                    // The files' receivedAt is fixed, so their OTPs are stale by now.
                    let expected: &[&str] = match name.as_str() {
                        "one-time-password-request" | "email-one-time-password-request" => {
                            &["expired"]
                        }
                        _ => &["sent", "updated"],
                    };
                    assert!(expected.contains(&outcome), "{what}: {outcome}");
                }
                "notify" => {
                    let batch: aws_lambda_events::dynamodb::Event = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("{what} is no stream batch: {e}"));
                    let queue = testkit::stream::EventQueue::create(
                        &system.aws,
                        &format!("events-{name}"),
                        notify::DEFAULT_SOURCE,
                    )
                    .await;
                    let bus = notify::bus::EventBridge::new(
                        aws_sdk_eventbridge::Client::new(&system.aws),
                        queue.bus.clone(),
                        notify::DEFAULT_SOURCE.into(),
                    );
                    let (response, summary) = notify::handle(&bus, &batch).await;
                    assert!(response.batch_item_failures.is_empty(), "{what}");
                    let events = queue.drain(&system.aws).await;
                    assert_eq!(events.len(), summary.published, "{what}");
                    assert!(!events.is_empty(), "{what} makes no event");
                }
                // AWS's documented receipts for messages this table never sent: counted
                // as unknown, nothing written.
                "receipts" => {
                    let payload: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                    let receipts = receipts::Receipts {
                        table: system.table.clone(),
                    };
                    let answer = receipts.invoke(payload).await;
                    let answer = answer.unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(
                        answer,
                        serde_json::json!({"moved": 0, "stale": 0, "unknown": 1, "ignored": 0}),
                        "{what}"
                    );
                }
                other => panic!("events/{other}/ has no handler: add it to this test"),
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        8 + 10 + 8 + 1 + 1 + 2,
        "every sample as a body, an ingress event and an envelope; a stream batch; the local \
         Identomat's sessions; an SES and an SNS receipt"
    );
    // The ingress events were handed on too.
    assert!(!system.run_families().await.is_empty());
}
