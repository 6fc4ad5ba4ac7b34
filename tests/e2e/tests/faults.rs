//! Faults between the functions and AWS, with production's SDK limits: a hand-off slower than
//! the SDK timeout answers 503, and an envelope whose every Lambda attempt fails reaches the
//! dead-letter queue as it was accepted, and `scripts/tools/redrive.py` brings it back to be sent
//! exactly once.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::System;
use serde_json::{Value, json};
use shared::aws::{ATTEMPT_TIMEOUT, MAX_ATTEMPTS, OPERATION_TIMEOUT, retries, timeouts};
use sms::SmsFamily;
use testkit::{Answer, FaultyEndpoint, Invocation, query_error};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// `MaximumRetryAttempts` of every family's `EventInvokeConfig` in template.yaml (`make lint`
/// checks they agree); the stream mapping's own retries are another setting.
fn template_retries() -> usize {
    let template = std::fs::read_to_string(Path::new(ROOT).join("template.yaml")).unwrap();
    const FAMILIES: [&str; 4] = [
        "SmsFunction",
        "EmailFunction",
        "SessionStatusFunction",
        "VideoCallFunction",
    ];
    let mut in_invoke_config = false;
    let mut resource = "";
    let mut values: Vec<usize> = Vec::new();
    for raw in template.lines() {
        // A resource's logical id: two spaces in, a name and a colon.
        if let Some(name) = raw.strip_prefix("  ").and_then(|r| r.strip_suffix(':'))
            && !name.starts_with(' ')
        {
            resource = name;
        }
        let line = raw.trim();
        if line == "EventInvokeConfig:" {
            // The reconcile function's runs are retried by its schedule, not Lambda.
            in_invoke_config = FAMILIES.contains(&resource);
        } else if let Some(v) = line.strip_prefix("MaximumRetryAttempts:")
            && in_invoke_config
        {
            values.push(v.trim().parse().expect("a number"));
            in_invoke_config = false;
        }
    }
    assert_eq!(values.len(), 4, "one per family");
    assert!(values.iter().all(|v| *v == values[0]));
    values[0]
}

/// An SNS client of production's limits whose every call meets `endpoint`.
fn sns_at(system: &System, endpoint: &str) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::config::Builder::from(&system.aws)
        .endpoint_url(endpoint)
        .timeout_config(timeouts())
        .retry_config(retries())
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

#[tokio::test]
async fn a_hand_off_slower_than_the_sdk_timeout_answers_503() {
    let mut system = System::start().await;
    let invoke = aws_sdk_lambda::config::Builder::from(&system.aws)
        .endpoint_url(system.lambda.endpoint())
        .timeout_config(timeouts())
        .retry_config(retries())
        .build();
    system.ingress.handoff = ingress::handoff::HandOff::new(
        aws_sdk_lambda::Client::from_conf(invoke),
        e2e::family_functions(),
    );
    system
        .lambda
        .answer_with(Answer::Slow(ATTEMPT_TIMEOUT + Duration::from_secs(1)));
    let started = Instant::now();
    let response = system
        .post(&testkit::samples::bytes("one-time-password-request"))
        .await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    // Bounded by the SDK limits, not by the stall.
    assert!(started.elapsed() <= OPERATION_TIMEOUT + Duration::from_secs(1));
    // Each attempt reached the endpoint: the retry happened.
    assert_eq!(system.lambda.invocations().len(), MAX_ATTEMPTS as usize);
}

/// What Lambda writes to the on-failure destination after the last retry.
fn failure_record(invocation: &Invocation, attempts: usize) -> Value {
    json!({
        "version": "1.0",
        "timestamp": "2026-11-27T19:49:15.123Z",
        "requestContext": {
            "requestId": "0b5f7a52-5c5e-4b1e-9d43-5f3a6f1c2a11",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:sms:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": invocation.payload_json(),
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "FamilyError", "errorMessage": "sending failed, will retry"},
    })
}

/// Runs Python (`-c code` or a script with arguments) from the checkout's venv, pointed at
/// moto and the fake Lambda, off the runtime's thread: the fake Lambda answers on it.
async fn python(system: &System, args: &[&str]) -> String {
    let mut command = Command::new(testkit::python());
    command
        .args(args)
        .current_dir(ROOT)
        .env("AWS_ENDPOINT_URL", system.moto.endpoint())
        .env("AWS_ENDPOINT_URL_LAMBDA", system.lambda.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", testkit::REGION)
        .env_remove("AWS_PROFILE");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("joined")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

const SEND_TO_QUEUE: &str = "import boto3, sys
sqs = boto3.client('sqs')
url = sqs.create_queue(QueueName='dead-letters')['QueueUrl']
sqs.send_message(QueueUrl=url, MessageBody=sys.argv[1])
print(url)";

#[tokio::test]
async fn an_envelope_failing_every_retry_is_dead_lettered_and_redriven_once() {
    let system = System::start().await;
    let response = system
        .post_as(
            &testkit::samples::bytes("one-time-password-request"),
            "otp-1",
        )
        .await;
    assert_eq!(response.status(), 202);
    let accepted = system.take_invocations().remove(0);

    // SNS stalls past the SDK timeout, then fails, then refuses connections: each of Lambda's
    // attempts (the first and the template's retries) fails and returns an error.
    let stall = FaultyEndpoint::answering(200, String::new(), ATTEMPT_TIMEOUT * 2).await;
    let down =
        FaultyEndpoint::answering(503, query_error("ServiceUnavailable"), Duration::ZERO).await;
    let faults = [
        stall.endpoint(),
        down.endpoint(),
        "http://127.0.0.1:9".to_owned(),
    ];
    let attempts = 1 + template_retries();
    for attempt in 0..attempts {
        let failing = SmsFamily {
            sns: sns_at(&system, &faults[attempt % faults.len()]),
            table: system.table.clone(),
            config: system.sms.config.clone(),
        };
        let envelope = serde_json::from_slice(&accepted.payload).unwrap();
        let error = failing.handle(&envelope).await.unwrap_err();
        assert_eq!(error.kind(), "send", "attempt {attempt}: {error}");
    }
    assert!(stall.hits() >= 1 && down.hits() >= 1);
    assert!(system.moto.sms().await.is_empty());

    // Lambda puts the envelope in the dead-letter queue; the operator redrives it.
    let record = failure_record(&accepted, attempts);
    let queue = python(&system, &["-c", SEND_TO_QUEUE, &record.to_string()]).await;
    let redrive = async || {
        python(
            &system,
            &["scripts/tools/redrive.py", "--queue-url", queue.trim()],
        )
        .await
    };
    assert!(redrive().await.contains(r#""redriven": 1"#));
    let redriven = system.take_invocations();
    assert_eq!(redriven.len(), 1);
    assert_eq!(
        redriven[0].function,
        "arn:aws:lambda:us-east-1:123456789012:function:sms:$LATEST"
    );
    // The very envelope the ingress accepted, with its request id and receivedAt.
    assert_eq!(redriven[0].payload_json(), accepted.payload_json());
    let as_sms = |i: &Invocation| Invocation {
        function: "sms".into(),
        ..i.clone()
    };
    assert_eq!(system.deliver(&as_sms(&redriven[0])).await.unwrap(), "sent");

    // Redriven again (a second record, or a second run): nothing is sent twice.
    python(&system, &["-c", SEND_TO_QUEUE, &record.to_string()]).await;
    assert!(redrive().await.contains(r#""redriven": 1"#));
    let again = system.take_invocations();
    assert_eq!(
        system.deliver(&as_sms(&again[0])).await.unwrap(),
        "deduplicated"
    );
    let sms = system.moto.sms().await;
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!(sms[0].message, "Your code is 6867");
    // The queue is empty.
    assert!(redrive().await.contains(r#""redriven": 0"#));
}
