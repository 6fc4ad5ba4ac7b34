//! An authenticated callback refused for a field (422) leaves a `rejected#` record under its
//! session, with the field, the rule and the other fields masked; a refusal that cannot be
//! recorded is answered 503, so the platform sends it again.

mod common;

use common::*;
use serde_json::{Value, json};

fn with(sample_name: &str, field: &str, value: Value) -> Vec<u8> {
    let mut body = testkit::samples::json(sample_name);
    body[field] = value;
    serde_json::to_vec(&body).unwrap()
}

fn text(item: &testkit::Item, name: &str) -> String {
    testkit::text(item, name)
}

#[tokio::test]
async fn a_refused_otp_is_recorded_under_its_session_masked() {
    let stack = Stack::start(sample_keys()).await;
    let body = with(
        "one-time-password-request",
        "phoneNumber",
        json!("00995512345678"),
    );
    let response = stack.post(&body).await;
    assert_eq!(response.status(), 422);
    let session = "wwb83rh1se22wd81z0tx8bqlerljq5kgf6rxem1q";
    let items = testkit::query_session(&stack.aws, TABLE, session).await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert!(text(item, "record").starts_with("rejected#20"));
    assert_eq!(text(item, "type"), "one-time-password-request");
    assert_eq!(text(item, "field"), "phoneNumber");
    assert_eq!(text(item, "ruleCode"), "phone-international-prefix");
    // The rule in the words the sender was answered with.
    let answer = body_json(&response)["error"].as_str().unwrap().to_owned();
    assert!(answer.ends_with(&text(item, "rule")), "{answer}");
    let fields = item["fields"].as_m().unwrap();
    assert_eq!(fields["phoneNumber"].as_s().unwrap(), "0099##########");
    assert_eq!(fields["text"].as_s().unwrap(), "(17 chars)");
    assert!(!fields.contains_key("callbackApiKey"));
    let all = format!("{item:?}");
    for secret in [KEY, "6867", "512345678"] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    assert!(item.contains_key("expiresAt"));
}

#[tokio::test]
async fn a_callback_with_an_invalid_session_id_is_recorded_under_unknown() {
    let stack = Stack::start(sample_keys()).await;
    let body = with("session-change", "sessionId", json!("not a session/../id"));
    assert_eq!(stack.post(&body).await.status(), 422);
    let items = testkit::query_session(&stack.aws, TABLE, "unknown").await;
    assert_eq!(items.len(), 1);
    assert_eq!(text(&items[0], "field"), "sessionId");
    assert_eq!(text(&items[0], "type"), "session-change");
    let shown = items[0]["fields"].as_m().unwrap()["sessionId"]
        .as_s()
        .unwrap()
        .clone();
    assert!(!shown.contains("session/"), "{shown}");
}

#[tokio::test]
async fn a_foreign_host_is_named_so_the_operator_can_tell_phishing_from_a_missing_domain() {
    let stack = Stack::start(sample_keys()).await;
    let body = with(
        "share-session-link-via-email",
        "content",
        json!("Questions? support@acme.ge"),
    );
    assert_eq!(stack.post(&body).await.status(), 422);
    let session = "5alhw0070l2gy82q0mqlfniv7gwgbqqs0rtctolg";
    let items = testkit::query_session(&stack.aws, TABLE, session).await;
    assert_eq!(items.len(), 1);
    let hosts = items[0]["foreignHosts"].as_l().unwrap();
    assert_eq!(hosts[0].as_s().unwrap(), "acme.ge");
    assert_eq!(text(&items[0], "ruleCode"), "foreign-link");
}

#[tokio::test]
async fn many_refusals_of_one_session_are_each_kept() {
    let stack = Stack::start(sample_keys()).await;
    for i in 0..12 {
        let body = with(
            "one-time-password-request",
            "text",
            json!(format!("code {i}\u{200B}")),
        );
        assert_eq!(stack.post(&body).await.status(), 422);
    }
    let session = "wwb83rh1se22wd81z0tx8bqlerljq5kgf6rxem1q";
    let items = testkit::query_session(&stack.aws, TABLE, session).await;
    assert_eq!(items.len(), 12);
    for item in &items {
        assert_eq!(text(item, "ruleCode"), "format-character");
        let shown = item["fields"].as_m().unwrap()["text"]
            .as_s()
            .unwrap()
            .clone();
        assert!(shown.ends_with("holding U+200B)"), "{shown}");
    }
}

#[tokio::test]
async fn a_refusal_that_cannot_be_recorded_is_a_503_to_send_again() {
    let stack = Stack::start(sample_keys()).await;
    drop_table(&stack.aws).await;
    let body = with(
        "one-time-password-request",
        "phoneNumber",
        json!("995512345678"),
    );
    let response = stack.post(&body).await;
    assert_eq!(response.status(), 503);
    assert_eq!(body_json(&response)["status"], "unavailable");
}
