//! The log lines of the ingress. A test binary of its own: tracing's interest cache is
//! process-wide, and other tests' threads must not race this one's subscriber.

mod common;

use common::*;
use serde_json::{Value, json};
use testkit::Captured;

#[tokio::test]
async fn one_log_line_per_request_without_secrets() {
    let logs = Captured::default();
    let _guard = logs.install();
    let stack = Stack::start(sample_keys()).await;
    for name in samples() {
        stack.post(&sample(&name)).await;
    }
    let mut wrong: Value = serde_json::from_slice(&sample("share-session-link-via-sms")).unwrap();
    wrong["callbackApiKey"] = json!("a-guessed-key-123");
    stack.post(&serde_json::to_vec(&wrong).unwrap()).await;

    let text = logs.text();
    let lines: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter(|l| l["message"] == "callback")
        .collect();
    assert_eq!(lines.len(), samples().len() + 1, "{text}");
    for line in &lines {
        for field in [
            "requestId",
            "type",
            "outcome",
            "status",
            "durationMs",
            "session",
        ] {
            assert!(line.get(field).is_some(), "{field} missing in {line}");
        }
    }
    assert_eq!(lines[0]["type"], "email-one-time-password-request");
    assert_eq!(lines[0]["outcome"], "accepted");
    assert_eq!(lines[0]["status"], 202);
    assert_eq!(lines[0]["session"].as_str().unwrap().len(), 12);
    let last = &lines[samples().len()];
    assert_eq!(
        (last["outcome"].as_str(), last["reason"].as_str()),
        (Some("unauthorized"), Some("key-wrong"))
    );
    assert_eq!(last["status"], 401);

    // Each line is also its metric, in CloudWatch's Embedded Metric Format.
    let directive = &lines[0]["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "IdentomatCallbacks");
    assert_eq!(directive["Metrics"][0]["Name"], "Accepted");
    assert_eq!(directive["Dimensions"], json!([["function"]]));
    assert_eq!(
        (&lines[0]["function"], &lines[0]["Accepted"]),
        (&json!("ingress"), &json!(1))
    );
    assert!(lines[0]["_aws"]["Timestamp"].as_u64().is_some());
    assert_eq!(last["Unauthorized"], 1);
    assert_eq!(
        last["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["function"], ["function", "reason"]])
    );

    for secret in [
        KEY,
        PREVIOUS_KEY,
        "a-guessed-key-123",
        "6867",
        "512345678",
        "john.doe",
        "please complete",
        "wwb83rh1se22wd81z0tx8bqlerljq5kgf6rxem1q",
        "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp",
        "5alhw0070l2gy82q0mqlfniv7gwgbqqs0rtctolg",
        "hwenFYGlG54kRjmSruy3kxg54zV2pNPwHimseYao",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} appears in the logs:\n{text}"
        );
    }
}

#[tokio::test]
async fn a_bad_secret_is_counted_for_its_alarm() {
    use ingress::keys::{KeyRing, KeySource};
    let logs = Captured::default();
    let _guard = logs.install();
    let moto = testkit::Moto::start().await;
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
    let secret = |value: &str| {
        client
            .put_secret_value()
            .secret_id("keys")
            .secret_string(value)
    };
    client
        .create_secret()
        .name("keys")
        .secret_string(r#"{"current":"good-key-123456","previous":""}"#)
        .send()
        .await
        .unwrap();
    let source = KeySource::Secret {
        client: client.clone(),
        secret_id: "keys".into(),
    };
    let ring = KeyRing::load(source, std::time::Duration::ZERO).await;
    secret(r#"{"curent": "typo"}"#).send().await.unwrap();
    assert!(ring.keys().await.is_ok());
    secret("not-the-templates-json").send().await.unwrap();
    assert!(ring.keys().await.is_ok());
    let counted: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter(|l| l["outcome"] == "keys-invalid")
        .collect();
    assert_eq!(counted.len(), 2, "{}", logs.text());
    assert_eq!(counted[0]["KeysInvalid"], 1);
    assert_eq!(counted[0]["kept"], true);
    assert!(!logs.text().contains("good-key-123456"));
}

#[tokio::test]
async fn a_refusal_is_logged_with_its_type_field_and_rule_never_its_value() {
    let logs = Captured::default();
    let _guard = logs.install();
    let stack = Stack::start(sample_keys()).await;
    let mut otp: Value = serde_json::from_slice(&sample("one-time-password-request")).unwrap();
    otp["phoneNumber"] = json!("+995 5l2 345 678");
    assert_eq!(
        stack
            .post(&serde_json::to_vec(&otp).unwrap())
            .await
            .status(),
        422
    );
    let line = logs
        .lines()
        .into_iter()
        .find(|l| l["message"] == "callback")
        .expect("the request's line");
    assert_eq!(line["type"], "one-time-password-request");
    assert_eq!(line["outcome"], "rejected");
    assert_eq!(line["reason"], "invalid-field");
    assert_eq!(line["field"], "phoneNumber");
    assert_eq!(line["rule"], "must hold digits only, not letters");
    assert_eq!(line["Rejected"], 1);
    // Counted by type too, so the alarm's reader sees which callback the platform changed.
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([
            ["function"],
            ["function", "reason"],
            ["function", "reason", "type"]
        ])
    );
    let text = logs.text();
    for secret in [
        "5l2",
        "345 678",
        "6867",
        "wwb83rh1se22wd81z0tx8bqlerljq5kgf6rxem1q",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} appears in the logs:\n{text}"
        );
    }
}
