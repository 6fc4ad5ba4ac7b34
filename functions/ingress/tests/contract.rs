//! Every row of the contract table, driven by API Gateway HTTP API events, against moto and a
//! loopback Lambda Invoke endpoint.

mod common;

use std::time::SystemTime;

use aws_sdk_dynamodb::types::AttributeValue;
use common::*;
use ingress::keys::KeySource;
use serde_json::{Value, json};
use shared::{CallbackKeys, Envelope, Limits, Timestamp};
use testkit::Answer;

/// The function each reference sample must reach.
fn expected_function(sample: &str) -> &'static str {
    match sample {
        "one-time-password-request" | "share-session-link-via-sms" => "identomat-sms",
        "email-one-time-password-request" | "share-session-link-via-email" => "identomat-email",
        "session-change" | "session-change-kyb" => "identomat-session-status",
        "video-call-status-update-empty" | "video-call-status-update-available" => {
            "identomat-video-call"
        }
        other => panic!("no expectation for the sample {other}"),
    }
}

#[tokio::test]
async fn every_sample_is_handed_to_its_family() {
    let stack = Stack::start(sample_keys()).await;
    let before = SystemTime::now();
    for name in samples() {
        let name = name.as_str();
        let response = stack.post(&sample(name)).await;
        assert_eq!(response.status(), 202, "{name}: {}", body_text(&response));
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(
            body_json(&response),
            json!({"status": "accepted", "requestId": "Hk3Qf1aBliAEJ0Q="})
        );
    }
    let after = SystemTime::now();

    let invocations = stack.lambda.invocations();
    assert_eq!(invocations.len(), samples().len());
    for (invocation, name) in invocations.iter().zip(samples()) {
        let name = name.as_str();
        assert_eq!(invocation.function, expected_function(name), "{name}");
        assert_eq!(
            invocation.invocation_type.as_deref(),
            Some("Event"),
            "{name}"
        );
        let text = String::from_utf8(invocation.payload.clone()).unwrap();
        assert!(
            !text.contains("callbackApiKey") && !text.contains(KEY),
            "{text}"
        );
        assert!(!text.contains(PREVIOUS_KEY), "{text}");
        let envelope: Envelope = serde_json::from_str(&text).expect("the families' type");
        assert_eq!(envelope.request_id, "Hk3Qf1aBliAEJ0Q=");
        assert_eq!(
            envelope.callback,
            testkit::samples::callback(name),
            "{name}"
        );
        // receivedAt is the ingress's clock, in milliseconds.
        let at = envelope.received_at;
        assert!(
            Timestamp::from_system_time(before) <= at && at <= Timestamp::from_system_time(after)
        );
        let raw = invocation.payload_json();
        let stamp = raw["receivedAt"].as_str().unwrap();
        assert_eq!(stamp.len(), "2026-11-27T19:49:15.123Z".len(), "{stamp}");
    }
}

#[tokio::test]
async fn missing_and_wrong_key_get_the_same_401() {
    let stack = Stack::start(sample_keys()).await;
    let mut body: Value = serde_json::from_slice(&sample("session-change")).unwrap();
    let wrong = {
        body["callbackApiKey"] = json!("apikey124");
        stack.post(&serde_json::to_vec(&body).unwrap()).await
    };
    let missing = {
        body.as_object_mut().unwrap().remove("callbackApiKey");
        stack.post(&serde_json::to_vec(&body).unwrap()).await
    };
    let not_a_string = {
        body["callbackApiKey"] = json!(123);
        stack.post(&serde_json::to_vec(&body).unwrap()).await
    };
    // A wrong key with invalid fields still learns nothing of the schema.
    let wrong_and_invalid = stack
        .post(br#"{"callbackApiKey":"nope","type":"session-change","sessionId":"bad id!"}"#)
        .await;
    for response in [&wrong, &missing, &not_a_string, &wrong_and_invalid] {
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.body().as_ref(), wrong.body().as_ref());
        assert_eq!(response.headers(), wrong.headers());
    }
    assert_eq!(
        body_json(&wrong),
        json!({"status": "rejected", "error": "unauthorized"})
    );
    assert!(stack.lambda.invocations().is_empty());
    assert!(testkit::scan_table(&stack.aws, TABLE).await.is_empty());
}

#[tokio::test]
async fn size_shape_and_field_errors() {
    let stack = Stack::start_with(
        sample_keys(),
        Limits {
            max_body_bytes: 1024,
            ..Limits::default()
        },
    )
    .await;

    let mut big: Value = serde_json::from_slice(&sample("one-time-password-request")).unwrap();
    big["text"] = json!("x".repeat(1024));
    let response = stack.post(&serde_json::to_vec(&big).unwrap()).await;
    assert_eq!(response.status(), 413);
    assert_eq!(body_json(&response)["status"], "rejected");

    for not_an_object in ["[]", "\"callbackApiKey\"", "42", "null", "true"] {
        let response = stack.post(not_an_object.as_bytes()).await;
        assert_eq!(response.status(), 400, "{not_an_object}");
        assert_eq!(
            body_json(&response),
            json!({"status": "rejected", "error": "the body is not a JSON object"})
        );
    }
    for not_json in ["", "{", "callbackApiKey=apikey123", "{\"a\":1}}"] {
        assert_eq!(
            stack.post(not_json.as_bytes()).await.status(),
            400,
            "{not_json}"
        );
    }
    let duplicate =
        br#"{"callbackApiKey":"x","callbackApiKey":"apikey123","type":"session-change"}"#;
    assert_eq!(stack.post(duplicate).await.status(), 400);

    let mut invalid: Value = serde_json::from_slice(&sample("one-time-password-request")).unwrap();
    invalid["phoneNumber"] = json!("+995 5l2 345 678");
    let response = stack.post(&serde_json::to_vec(&invalid).unwrap()).await;
    assert_eq!(response.status(), 422);
    let error = body_json(&response)["error"].as_str().unwrap().to_owned();
    assert!(error.contains("phoneNumber"), "{error}");
    assert!(!error.contains("345"), "{error}");

    assert!(stack.lambda.invocations().is_empty());
    // Nothing but the refusal's own record, which says why (tests/refused.rs).
    let stored = testkit::scan_table(&stack.aws, TABLE).await;
    let records: Vec<_> = stored
        .iter()
        .map(|item| item["record"].as_s().unwrap().as_str())
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0].starts_with("rejected#"), "{records:?}");
}

#[tokio::test]
async fn base64_body_is_decoded() {
    let stack = Stack::start(sample_keys()).await;
    let response = stack
        .send(event("POST", &sample("session-change"), true))
        .await;
    assert_eq!(response.status(), 202, "{}", body_text(&response));
    assert_eq!(stack.lambda.invocations().len(), 1);
    // Bytes that are not UTF-8 arrive base64-encoded and are refused as not JSON.
    let response = stack.send(event("POST", b"{\"a\":\"\xff\"}", true)).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn only_post_is_accepted() {
    let stack = Stack::start(sample_keys()).await;
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let response = stack
            .send(event(method, &sample("session-change"), false))
            .await;
        assert_eq!(response.status(), 405, "{method}");
        assert_eq!(response.headers()["allow"], "POST");
    }
    assert!(stack.lambda.invocations().is_empty());
}

#[tokio::test]
async fn unknown_type_is_stored_and_accepted() {
    let stack = Stack::start(sample_keys()).await;
    let body = json!({"callbackApiKey": KEY, "type": "document-expired",
        "sessionId": "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp", "documentId": 7});
    let response = stack.post(&serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(response.status(), 202);
    let anonymous = json!({"callbackApiKey": KEY, "type": "company-notice", "note": "hi"});
    assert_eq!(
        stack
            .post(&serde_json::to_vec(&anonymous).unwrap())
            .await
            .status(),
        202
    );
    assert!(stack.lambda.invocations().is_empty());

    let mut items = testkit::scan_table(&stack.aws, TABLE).await;
    items.sort_by_key(|i| i["sessionId"].as_s().unwrap().clone());
    assert_eq!(items.len(), 2);
    let s = |item: &std::collections::HashMap<String, AttributeValue>, k: &str| {
        item[k].as_s().unwrap().clone()
    };
    assert_eq!(
        s(&items[0], "sessionId"),
        "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp"
    );
    assert_eq!(s(&items[1], "sessionId"), "unknown");
    let record = s(&items[0], "record");
    assert!(
        record.starts_with("unhandled#20") && record.ends_with("#Hk3Qf1aBliAEJ0Q="),
        "{record}"
    );
    assert_eq!(s(&items[0], "type"), "document-expired");
    let payload: Value = serde_json::from_str(&s(&items[0], "payload")).unwrap();
    assert_eq!(
        payload,
        json!({"type": "document-expired", "sessionId": "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp", "documentId": 7})
    );
    let in_a_year = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 365 * 24 * 3600;
    for item in &items {
        assert!(!format!("{item:?}").contains(KEY));
        // Kept for RECORD_RETENTION_DAYS (365 by default), then deleted by the table's TTL.
        let expires: u64 = item["expiresAt"].as_n().unwrap().parse().unwrap();
        assert!(
            expires.abs_diff(in_a_year) < 120,
            "{expires} vs {in_a_year}"
        );
    }
}

#[tokio::test]
async fn failed_hand_off_is_503_never_202() {
    let stack = Stack::start(sample_keys()).await;
    for answer in [Answer::Throttle, Answer::Fail] {
        stack.lambda.answer_with(answer.clone());
        let response = stack.post(&sample("one-time-password-request")).await;
        assert_eq!(response.status(), 503, "{answer:?}");
        assert_eq!(response.headers()["retry-after"], "5");
        let body = body_json(&response);
        assert_eq!(body["status"], "unavailable");
        assert_eq!(body["requestId"], "Hk3Qf1aBliAEJ0Q=");
    }

    // The Invoke endpoint is gone altogether.
    let down = ingress_for(
        &stack.aws,
        "http://127.0.0.1:9",
        sample_keys(),
        Limits::default(),
    )
    .await;
    let response = match down
        .handle(event("POST", &sample("session-change"), false))
        .await
    {
        Ok(r) => r,
        Err(never) => match never {},
    };
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn unhandled_store_failure_is_503() {
    let stack = Stack::start(sample_keys()).await;
    drop_table(&stack.aws).await;
    let body = json!({"callbackApiKey": KEY, "type": "document-expired", "sessionId": "abc"});
    let response = stack.post(&serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn without_a_configured_key_everything_is_refused() {
    let stack = Stack::start(KeySource::Fixed(CallbackKeys::new(None, None))).await;
    for name in samples() {
        assert_eq!(stack.post(&sample(&name)).await.status(), 401, "{name}");
    }
    let empty_key =
        br#"{"callbackApiKey":"","type":"session-change","sessionId":"a","result":"APPROVED"}"#;
    assert_eq!(stack.post(empty_key).await.status(), 401);
    assert!(stack.lambda.invocations().is_empty());
}
