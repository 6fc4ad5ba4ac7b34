//! SMS pumping spreads over many numbers and sessions: the per-session limit and the
//! deployment's budget hold across them, through the real family and moto. A test binary of
//! its own: the budget test reads the log lines, and tracing's interest cache is process-wide.

use shared::callback::{SmsOneTimePassword, SmsSessionLink};
use shared::fields::{PhoneNumber, SessionId, SessionLink, SmsText};
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

fn link(session: &str, phone: &str, request_id: &str) -> Envelope {
    Envelope {
        request_id: request_id.to_owned(),
        received_at: Timestamp::now(),
        callback: Callback::SmsSessionLink(SmsSessionLink {
            session_id: SessionId::parse(session).unwrap(),
            text: SmsText::parse("Please complete your verification:").unwrap(),
            phone_number: PhoneNumber::parse(phone).unwrap(),
            session_link: SessionLink::parse(&format!(
                "https://widget.identomat.com/?session_token={session}"
            ))
            .unwrap(),
            created_by: None,
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
async fn thirty_otps_of_one_session_to_thirty_numbers_send_ten() {
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
    // SMS_PER_SESSION_PER_HOUR's 10 parts: ten one-part OTPs.
    assert_eq!(sent, 10);
    assert_eq!(moto.sms().await.len(), 10);
    let reasons: Vec<String> = logs
        .lines()
        .into_iter()
        .filter(|l| l["outcome"] == "suppressed")
        .map(|l| l["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(reasons.len(), 20);
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

/// A GSM-7 text of `parts` parts (153 septets each beyond one).
fn gsm_text(parts: usize) -> String {
    let text = format!("Your code is 4242. {}", "x".repeat(153 * parts - 160));
    assert_eq!(shared::segments::parts(&text).count as usize, parts);
    text
}

#[tokio::test]
async fn the_budget_and_the_sent_metric_count_parts_not_messages() {
    let logs = Captured::default();
    let _guard = logs.install();
    let moto = Moto::start().await;
    let family = family(&moto, &[("SMS_MAX_PER_HOUR", "10")]).await;
    let three_parts = gsm_text(3);
    let mut outcomes = Vec::new();
    for i in 0..4 {
        let e = otp_saying(
            &format!("session-{i}"),
            &format!("+38050100{i:04}"),
            &format!("r{i}"),
            &three_parts,
        );
        outcomes.push(family.handle(&e).await.unwrap());
    }
    // 3 + 3 + 3 parts fit in 10; a fourth message's 3 would make 12.
    use DeliveryOutcome::{Sent, Suppressed};
    assert_eq!(outcomes, [Sent, Sent, Sent, Suppressed]);
    // The budget's last part still takes a one-part OTP.
    let short = otp("session-9", "+380501009999", "r9");
    assert_eq!(family.handle(&short).await.unwrap(), Sent);
    assert_eq!(moto.sms().await.len(), 4);
    let lines = logs.lines();
    let sent: Vec<u64> = (lines.iter())
        .filter(|l| l["outcome"] == "sent")
        .map(|l| l["Sent"].as_u64().unwrap())
        .collect();
    assert_eq!(sent, [3, 3, 3, 1], "the Sent metric counts parts");
    let suppressed = lines.iter().find(|l| l["outcome"] == "suppressed").unwrap();
    assert_eq!(
        (
            suppressed["reason"].as_str(),
            suppressed["Suppressed"].as_u64()
        ),
        (Some("budget-exhausted"), Some(3))
    );
}

#[tokio::test]
async fn a_number_and_a_session_get_their_limit_in_parts() {
    let moto = Moto::start().await;
    let family = family(
        &moto,
        &[
            ("SMS_RATE_LIMIT_PER_HOUR", "5"),
            ("SMS_PER_SESSION_PER_HOUR", "5"),
        ],
    )
    .await;
    // Georgian is UCS-2: 71 letters are two parts, so a number gets two such OTPs (4 parts)
    // of its 5, and a third (6) is refused.
    let georgian = format!("კოდი 4242 {}", "ა".repeat(61));
    assert_eq!(shared::segments::parts(&georgian).count, 2);
    let mut outcomes = Vec::new();
    for i in 0..3 {
        let e = otp_saying(
            &format!("s{i}"),
            "+995599001234",
            &format!("r{i}"),
            &georgian,
        );
        outcomes.push(family.handle(&e).await.unwrap());
    }
    use DeliveryOutcome::{Sent, Suppressed};
    assert_eq!(outcomes, [Sent, Sent, Suppressed]);
    // The same for one session over several numbers.
    let mut outcomes = Vec::new();
    for i in 0..3 {
        let e = otp_saying(
            "one-session",
            &format!("+99559900200{i}"),
            &format!("q{i}"),
            &georgian,
        );
        outcomes.push(family.handle(&e).await.unwrap());
    }
    assert_eq!(outcomes, [Sent, Sent, Suppressed]);
    let mut reasons: Vec<String> = testkit::delivery_records(&moto.sdk_config().await, TABLE, "s2")
        .await
        .iter()
        .chain(&testkit::delivery_records(&moto.sdk_config().await, TABLE, "one-session").await)
        .filter(|r| testkit::text(r, "state") == "suppressed")
        .map(|r| testkit::text(r, "reason"))
        .collect();
    reasons.sort();
    assert_eq!(reasons, ["rate-limited", "session-rate-limited"]);
}

#[tokio::test]
async fn a_flood_of_links_leaves_the_otps_their_budget() {
    let moto = Moto::start().await;
    let family = family(
        &moto,
        &[("SMS_MAX_PER_HOUR", "3"), ("SMS_LINK_MAX_PER_HOUR", "3")],
    )
    .await;
    let mut links = Vec::new();
    for i in 0..10 {
        let e = link(
            &format!("link-{i}"),
            &format!("+38050200{i:04}"),
            &format!("l{i}"),
        );
        links.push(family.handle(&e).await.unwrap());
    }
    let sent = links
        .iter()
        .filter(|o| **o == DeliveryOutcome::Sent)
        .count();
    assert_eq!(sent, 3);
    // Every OTP still goes: the links spent their own budget.
    for i in 0..3 {
        let e = otp(
            &format!("otp-{i}"),
            &format!("+38050300{i:04}"),
            &format!("o{i}"),
        );
        assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    }
    let e = otp("otp-9", "+380503009999", "o9");
    assert_eq!(
        family.handle(&e).await.unwrap(),
        DeliveryOutcome::Suppressed
    );
    let aws = moto.sdk_config().await;
    let record = testkit::delivery_records(&aws, TABLE, "link-9").await;
    assert_eq!(testkit::text(&record[0], "reason"), "link-budget-exhausted");
    let record = testkit::delivery_records(&aws, TABLE, "otp-9").await;
    assert_eq!(testkit::text(&record[0], "reason"), "budget-exhausted");
}
