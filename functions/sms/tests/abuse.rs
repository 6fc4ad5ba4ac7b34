//! SMS pumping spreads over many numbers and sessions: the per-session limit and the
//! deployment's budget hold across them, through the real family and moto. A test binary of
//! its own: the budget test reads the log lines, and tracing's interest cache is process-wide.

use shared::callback::SmsOneTimePassword;
use shared::fields::{PhoneNumber, SessionId, SmsText};
use shared::message::DeliveryOutcome;
use shared::{Callback, Envelope, SessionsTable, Timestamp};
use sms::{SmsConfig, SmsFamily};
use testkit::{Call, Captured, Fault, FaultProxy, Moto};

const TABLE: &str = "sessions";

fn otp(session: &str, phone: &str, request_id: &str) -> Envelope {
    otp_saying(session, phone, request_id, "Your code is 4242")
}

fn otp_saying(session: &str, phone: &str, request_id: &str, text: &str) -> Envelope {
    Envelope {
        request_id: request_id.to_owned(),
        received_at: Timestamp::now(),
        callback: Callback::SmsOneTimePassword(SmsOneTimePassword {
            session_id: SessionId::parse(session).unwrap(),
            text: SmsText::parse(text).unwrap(),
            phone_number: PhoneNumber::parse(phone).unwrap(),
        }),
    }
}

async fn family(moto: &Moto, settings: &'static [(&'static str, &'static str)]) -> SmsFamily {
    let aws = moto.sdk_config().await;
    testkit::create_sessions_table(&aws, TABLE).await;
    let lookup = |name: &str| {
        settings
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| testkit::required_settings(name))
    };
    SmsFamily {
        sns: aws_sdk_sns::Client::new(&aws),
        table: SessionsTable::new(aws_sdk_dynamodb::Client::new(&aws), TABLE),
        config: SmsConfig::from_lookup(&lookup).unwrap(),
    }
}

#[tokio::test]
async fn thirty_otps_of_one_session_to_thirty_numbers_send_five() {
    let logs = Captured::default();
    let _guard = logs.install();
    let moto = Moto::start().await;
    let family = family(&moto, &[]).await;
    let mut sent = 0;
    for i in 0..30 {
        let e = otp(
            "pumped-session",
            &format!("+99559900{i:04}"),
            &format!("r{i}"),
        );
        match family.handle(&e).await.unwrap() {
            DeliveryOutcome::Sent => sent += 1,
            DeliveryOutcome::Suppressed => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(sent, 5);
    assert_eq!(moto.sms().await.len(), 5);
    let reasons: Vec<String> = logs
        .lines()
        .into_iter()
        .filter(|l| l["outcome"] == "suppressed")
        .map(|l| l["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(reasons.len(), 25);
    assert!(
        reasons.iter().all(|r| r == "session-rate-limited"),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn the_budget_stops_sending_across_sessions_and_numbers_and_says_so() {
    let logs = Captured::default();
    let _guard = logs.install();
    let moto = Moto::start().await;
    let family = family(&moto, &[("SMS_MAX_PER_HOUR", "12")]).await;
    let mut outcomes = Vec::new();
    for i in 0..20 {
        let e = otp(
            &format!("session-{i}"),
            &format!("+38050100{i:04}"),
            &format!("r{i}"),
        );
        outcomes.push(family.handle(&e).await.unwrap());
    }
    let sent = outcomes
        .iter()
        .filter(|o| **o == DeliveryOutcome::Sent)
        .count();
    assert_eq!(sent, 12);
    assert_eq!(moto.sms().await.len(), 12);
    // What the budget alarm reads: `Suppressed` counted by function and reason.
    let exhausted: Vec<_> = logs
        .lines()
        .into_iter()
        .filter(|l| l["reason"] == "budget-exhausted")
        .collect();
    assert_eq!(exhausted.len(), 8);
    let line = &exhausted[0];
    assert_eq!(line["Suppressed"], 1);
    let dimensions = &line["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
    assert!(
        dimensions
            .as_array()
            .unwrap()
            .iter()
            .any(|d| *d == serde_json::json!(["function", "reason"])),
        "{line}"
    );
    assert_eq!(line["function"], "sms");
}

#[tokio::test]
async fn a_message_costs_the_same_requests_whatever_the_limit_has_counted() {
    let moto = Moto::start().await;
    let aws = moto.sdk_config().await;
    testkit::create_sessions_table(&aws, TABLE).await;
    let proxy = FaultProxy::new(moto.endpoint(), |_: &Call| Fault::Pass).await;
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(&aws)
        .endpoint_url(proxy.endpoint())
        .build();
    let limits = |name: &str| match name {
        "SMS_RATE_LIMIT_PER_HOUR" | "SMS_PER_SESSION_PER_HOUR" => Some("100".to_owned()),
        other => testkit::required_settings(other),
    };
    let family = SmsFamily {
        sns: aws_sdk_sns::Client::new(&aws),
        table: SessionsTable::new(aws_sdk_dynamodb::Client::from_conf(dynamodb), TABLE),
        config: SmsConfig::from_lookup(&limits).unwrap(),
    };
    let mut per_message = Vec::new();
    for i in 0..40 {
        let before = proxy.calls().len();
        let text = format!("Your code is {i:04}");
        let e = otp_saying("one-session", "+995599001234", &format!("r{i}"), &text);
        assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
        per_message.push(proxy.calls().len() - before);
    }
    // Claim, three limits, final record: the 40th message costs what the first did.
    assert!(
        per_message.iter().all(|n| *n == per_message[0]),
        "{per_message:?}"
    );
    assert_eq!(per_message[0], 5, "{:?}", proxy.calls());
}
