//! SMS through moto's SNS: the reference samples, once, fresh, limits, faults.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use shared::callback::SmsOneTimePassword;
use shared::countries::SmsDestinations;
use shared::family::FamilyError;
use shared::fields::{PhoneNumber, SessionId, SmsText};
use shared::message::DeliveryOutcome;
use shared::{Callback, Envelope, SessionsTable, Timestamp};
use sms::{SmsConfig, SmsFamily};
use testkit::samples::callback as sample;
use testkit::text as s;
use testkit::{FaultyEndpoint, Moto, query_error};

const TABLE: &str = "sessions";

fn config() -> SmsConfig {
    SmsConfig::from_lookup(&testkit::required_settings).expect("the defaults")
}

async fn family(moto: &Moto, config: SmsConfig) -> (SmsFamily, SdkConfig) {
    let aws = moto.sdk_config().await;
    testkit::create_sessions_table(&aws, TABLE).await;
    let family = SmsFamily {
        sns: aws_sdk_sns::Client::new(&aws),
        table: SessionsTable::new(aws_sdk_dynamodb::Client::new(&aws), TABLE),
        config,
    };
    (family, aws)
}

fn with_sns_at(family: &SmsFamily, aws: &SdkConfig, endpoint: &str) -> SmsFamily {
    let sns = aws_sdk_sns::config::Builder::from(aws)
        .endpoint_url(endpoint)
        .build();
    SmsFamily {
        sns: aws_sdk_sns::Client::from_conf(sns),
        table: family.table.clone(),
        config: family.config.clone(),
    }
}

fn envelope(callback: Callback, request_id: &str) -> Envelope {
    Envelope {
        request_id: request_id.into(),
        received_at: Timestamp::now(),
        callback,
    }
}

fn otp(phone: &str, text: &str) -> Callback {
    Callback::SmsOneTimePassword(SmsOneTimePassword {
        session_id: SessionId::parse("session-1").unwrap(),
        text: SmsText::parse(text).unwrap(),
        phone_number: PhoneNumber::parse(phone).unwrap(),
    })
}

#[tokio::test]
async fn reference_samples_are_sent_as_sms() {
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, config()).await;
    let otp = envelope(sample("one-time-password-request"), "r1");
    let link = envelope(sample("share-session-link-via-sms"), "r2");
    assert_eq!(family.handle(&otp).await.unwrap(), DeliveryOutcome::Sent);
    assert_eq!(family.handle(&link).await.unwrap(), DeliveryOutcome::Sent);

    let sent = moto.sms().await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].phone_number, "+995512345678");
    assert_eq!(sent[0].message, "Your code is 6867");
    assert_eq!(sent[1].phone_number, "+995512345678");
    assert_eq!(
        sent[1].message,
        "Hello John Doe, please complete your verification using the link below.\n\
         https://widget.identomat.com/?session_token=ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp"
    );

    let records =
        testkit::delivery_records(&aws, TABLE, "wwb83rh1se22wd81z0tx8bqlerljq5kgf6rxem1q").await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        (s(r, "channel"), s(r, "kind"), s(r, "state")),
        ("sms".into(), "otp".into(), "sent".into())
    );
    assert_eq!(s(r, "recipient"), "+9955*****78");
    assert_eq!(s(r, "providerMessageId"), sent[0].message_id);
    assert_eq!(s(r, "requestId"), "r1");
    assert!(r.get("leaseUntil").is_none());
    assert!(r["expiresAt"].as_n().is_ok());
}

#[tokio::test]
async fn the_same_envelope_twice_sends_once() {
    let moto = Moto::start().await;
    let (family, _) = family(&moto, config()).await;
    let e = envelope(sample("one-time-password-request"), "r1");
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    assert_eq!(
        family.handle(&e).await.unwrap(),
        DeliveryOutcome::Deduplicated
    );
    // An identical callback (another request) within the window: still once.
    let again = envelope(sample("one-time-password-request"), "r2");
    assert_eq!(
        family.handle(&again).await.unwrap(),
        DeliveryOutcome::Deduplicated
    );
    assert_eq!(moto.sms().await.len(), 1);
    // Each repeat is on the record: how many, when, and which request asked last.
    let aws = moto.sdk_config().await;
    let records =
        testkit::delivery_records(&aws, TABLE, "wwb83rh1se22wd81z0tx8bqlerljq5kgf6rxem1q").await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(s(r, "state"), "sent");
    assert_eq!(r["duplicates"].as_n().unwrap(), "2");
    assert_eq!(s(r, "lastDuplicateRequestId"), "r2");
    assert!(s(r, "lastDuplicateAt").starts_with("20"));
}

#[tokio::test]
async fn an_otp_redriven_too_late_after_a_configuration_failure_is_recorded_expired() {
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, config()).await;
    // SNS refuses for the deployment's sake: the invocation fails, the claim is released and
    // the record stays pending for the redrive.
    let fault =
        FaultyEndpoint::answering(403, query_error("AuthorizationError"), Duration::ZERO).await;
    let refusing = with_sns_at(&family, &aws, &fault.endpoint());
    let mut e = envelope(otp("+995512345678", "Your code is 4242"), "r1");
    assert!(matches!(
        refusing.handle(&e).await,
        Err(FamilyError::Configuration(_))
    ));
    let released = testkit::delivery_records(&aws, TABLE, "session-1").await;
    assert_eq!(s(&released[0], "state"), "retrying");
    assert!(s(&released[0], "reason").contains("AuthorizationError"));
    // The operator fixes it and redrives, after OTP_MAX_AGE_SECONDS.
    e.received_at = Timestamp::from_system_time(SystemTime::now() - Duration::from_secs(3600));
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Expired);
    let records = testkit::delivery_records(&aws, TABLE, "session-1").await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        (s(r, "state"), s(r, "reason")),
        ("expired".into(), "otp-too-old".into())
    );
    assert!(!r.contains_key("leaseUntil") && !r.contains_key("claimId"));
    assert!(moto.sms().await.is_empty());
    // A repeat of it now is counted, not sent.
    let again = envelope(otp("+995512345678", "Your code is 4242"), "r2");
    assert_eq!(
        family.handle(&again).await.unwrap(),
        DeliveryOutcome::Deduplicated
    );
    let records = testkit::delivery_records(&aws, TABLE, "session-1").await;
    assert_eq!(records[0]["duplicates"].as_n().unwrap(), "1");
    assert_eq!(s(&records[0], "state"), "expired");
}

#[tokio::test]
async fn twenty_identical_envelopes_at_once_send_one_sms() {
    let moto = Moto::start().await;
    let (family, _) = family(&moto, config()).await;
    let family = std::sync::Arc::new(family);
    let e = envelope(sample("one-time-password-request"), "r1");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (family, e) = (family.clone(), e.clone());
        tasks.spawn(async move { family.handle(&e).await });
    }
    let (mut sent, mut waited) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        match done.unwrap() {
            Ok(DeliveryOutcome::Sent) => sent += 1,
            Ok(DeliveryOutcome::Deduplicated) => {}
            // Copies of one envelope that find its claim held fail, for Lambda to retry: the
            // same request id could also be an attempt whose claim outlived it.
            Err(FamilyError::ClaimHeld) => waited += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(sent, 1);
    assert!(waited <= 19);
    assert_eq!(moto.sms().await.len(), 1);
    // Their retries find it sent.
    assert_eq!(
        family.handle(&e).await.unwrap(),
        DeliveryOutcome::Deduplicated
    );
    assert_eq!(moto.sms().await.len(), 1);
}

#[tokio::test]
async fn the_eleventh_sms_to_a_number_within_the_hour_is_suppressed() {
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, config()).await;
    // SMS_RATE_LIMIT_PER_HOUR's 10 parts: ten one-part OTPs.
    for i in 0..11 {
        let e = envelope(
            otp("+995599000001", &format!("Your code is 10{i:02}")),
            &format!("r{i}"),
        );
        let expected = if i < 10 {
            DeliveryOutcome::Sent
        } else {
            DeliveryOutcome::Suppressed
        };
        assert_eq!(family.handle(&e).await.unwrap(), expected, "sms {i}");
    }
    assert_eq!(moto.sms().await.len(), 10);
    // Another number has its own limit, but not in the same session, which had its ten.
    let other = envelope(otp("+995599000002", "Your code is 2000"), "other");
    assert_eq!(
        family.handle(&other).await.unwrap(),
        DeliveryOutcome::Suppressed
    );
    let elsewhere = Callback::SmsOneTimePassword(SmsOneTimePassword {
        session_id: SessionId::parse("session-2").unwrap(),
        text: SmsText::parse("Your code is 3000").unwrap(),
        phone_number: PhoneNumber::parse("+995599000002").unwrap(),
    });
    assert_eq!(
        family
            .handle(&envelope(elsewhere, "elsewhere"))
            .await
            .unwrap(),
        DeliveryOutcome::Sent
    );
    let mut reasons: Vec<String> = testkit::delivery_records(&aws, TABLE, "session-1")
        .await
        .into_iter()
        .filter(|r| s(r, "state") == "suppressed")
        .map(|r| s(&r, "reason"))
        .collect();
    reasons.sort();
    assert_eq!(reasons, ["rate-limited", "session-rate-limited"]);
}

#[tokio::test]
async fn numbers_outside_the_allowed_regions_and_types_are_suppressed() {
    let moto = Moto::start().await;
    let config = SmsConfig {
        destinations: SmsDestinations::parse("UA,US", "").unwrap(),
        ..config()
    };
    let (family, aws) = family(&moto, config).await;
    let cases = [
        ("+995512345678", DeliveryOutcome::Suppressed),
        // +1, and Jamaica: a region of its own, not the United States.
        ("+18765550100", DeliveryOutcome::Suppressed),
        // A US premium-rate (900) number: the region is allowed, the type is not.
        ("+19002345678", DeliveryOutcome::Suppressed),
        ("+380501234567", DeliveryOutcome::Sent),
        ("+12025550100", DeliveryOutcome::Sent),
    ];
    for (i, (number, expected)) in cases.iter().enumerate() {
        let e = envelope(otp(number, &format!("Your code is {i}")), &format!("r{i}"));
        assert_eq!(family.handle(&e).await.unwrap(), *expected, "{number}");
    }
    let mut sent: Vec<String> = moto
        .sms()
        .await
        .into_iter()
        .map(|m| m.phone_number)
        .collect();
    sent.sort();
    assert_eq!(sent, ["+12025550100", "+380501234567"]);
    let mut reasons: Vec<String> = testkit::delivery_records(&aws, TABLE, "session-1")
        .await
        .iter()
        .filter(|r| s(r, "state") == "suppressed")
        .map(|r| s(r, "reason"))
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "country-not-allowed",
            "country-not-allowed",
            "number-type-not-allowed"
        ]
    );
}

#[tokio::test]
async fn a_stale_otp_is_recorded_expired_not_sent() {
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, config()).await;
    let mut e = envelope(otp("+995512345678", "Your code is 1234"), "r1");
    e.received_at = Timestamp::from_system_time(SystemTime::now() - Duration::from_secs(301));
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Expired);
    assert!(moto.sms().await.is_empty());
    let records = testkit::delivery_records(&aws, TABLE, "session-1").await;
    assert_eq!(
        (s(&records[0], "state"), s(&records[0], "reason")),
        ("expired".into(), "otp-too-old".into())
    );
    // A session link is not an OTP: an old one is still sent.
    let mut link = envelope(sample("share-session-link-via-sms"), "r2");
    link.received_at = e.received_at;
    assert_eq!(family.handle(&link).await.unwrap(), DeliveryOutcome::Sent);
}

#[tokio::test]
async fn transient_faults_fail_the_invocation_and_the_retry_sends_once() {
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, config()).await;
    let e = envelope(otp("+995512345678", "Your code is 5555"), "r1");

    let down = with_sns_at(&family, &aws, "http://127.0.0.1:9");
    assert!(matches!(down.handle(&e).await, Err(FamilyError::Send(_))));
    for (status, code) in [(500, "InternalError"), (400, "Throttling")] {
        let fault = FaultyEndpoint::answering(status, query_error(code), Duration::ZERO).await;
        let faulty = with_sns_at(&family, &aws, &fault.endpoint());
        let result = faulty.handle(&e).await;
        assert!(
            matches!(result, Err(FamilyError::Send(_))),
            "{code}: {result:?}"
        );
        assert!(fault.hits() >= 1);
    }
    assert!(moto.sms().await.is_empty());

    // Lambda's retry, with SNS back: the claim was released and the counts given back.
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    assert_eq!(
        family.handle(&e).await.unwrap(),
        DeliveryOutcome::Deduplicated
    );
    assert_eq!(moto.sms().await.len(), 1);
}

#[tokio::test]
async fn a_permanent_refusal_is_recorded_failed_and_not_retried() {
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, config()).await;
    let fault = FaultyEndpoint::answering(
        400,
        testkit::query_error_saying(
            "InvalidParameter",
            "Invalid parameter: PhoneNumber Reason: +995512345678 is not valid to publish to",
        ),
        Duration::ZERO,
    )
    .await;
    let refusing = with_sns_at(&family, &aws, &fault.endpoint());
    let e = envelope(otp("+995512345678", "Your code is 7777"), "r1");
    assert_eq!(refusing.handle(&e).await.unwrap(), DeliveryOutcome::Failed);
    let records = testkit::delivery_records(&aws, TABLE, "session-1").await;
    assert_eq!(s(&records[0], "state"), "failed");
    assert!(s(&records[0], "reason").starts_with("InvalidParameter"));
    // A redelivery finds the record and sends nothing.
    assert_eq!(
        family.handle(&e).await.unwrap(),
        DeliveryOutcome::Deduplicated
    );
    assert!(moto.sms().await.is_empty());
}

#[tokio::test]
async fn records_hold_masked_recipients_only() {
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, config()).await;
    family
        .handle(&envelope(sample("one-time-password-request"), "r1"))
        .await
        .unwrap();
    family
        .handle(&envelope(sample("share-session-link-via-sms"), "r2"))
        .await
        .unwrap();
    let everything = format!("{:?}", testkit::scan_table(&aws, TABLE).await);
    assert!(!everything.contains("995512345678"), "{everything}");
    assert!(!everything.contains("6867"), "{everything}");
}

#[tokio::test]
async fn a_link_sms_of_0_2_that_the_link_makes_too_long_is_recorded_failed_not_dead_lettered() {
    use shared::callback::SmsSessionLink;
    use shared::fields::SessionLink;
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, config()).await;
    // The ingress refuses such a callback now (422); one accepted by 0.2 may be in flight or
    // in the dead-letter queue.
    let callback = Callback::SmsSessionLink(SmsSessionLink {
        session_id: SessionId::parse("session-1").unwrap(),
        text: SmsText::parse(&"x".repeat(1_590)).unwrap(),
        phone_number: PhoneNumber::parse("+995512345678").unwrap(),
        session_link: SessionLink::parse("https://widget.identomat.com/?session_token=session-1")
            .unwrap(),
        created_by: None,
    });
    let payload = serde_json::to_value(envelope(callback, "r1")).unwrap();
    let e = shared::family::decode(shared::Family::Sms, payload).expect("an envelope it reads");
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Failed);
    let records = testkit::delivery_records(&aws, TABLE, "session-1").await;
    assert_eq!(
        (s(&records[0], "state"), s(&records[0], "reason")),
        ("failed".into(), "message-too-long".into())
    );
    assert!(moto.sms().await.is_empty());
}
