//! Half-failed deliveries, each failure point on its own, with a fault proxy in front of moto:
//! nothing is lost (no retry is answered `deduplicated` for a message never sent), and a
//! provider that takes a message but answers late gets it at most twice.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::SdkConfig;
use shared::callback::SmsOneTimePassword;
use shared::family::FamilyError;
use shared::fields::{PhoneNumber, SessionId, SmsText};
use shared::message::DeliveryOutcome;
use shared::{Callback, Envelope, SessionsTable, Timestamp};
use sms::{SmsConfig, SmsFamily};
use testkit::{Call, Fault, FaultProxy, Moto, text as s};

const TABLE: &str = "sessions";
const UPDATE: &str = "DynamoDB_20120810.UpdateItem";

fn otp(request_id: &str) -> Envelope {
    Envelope {
        request_id: request_id.to_owned(),
        received_at: Timestamp::now(),
        callback: Callback::SmsOneTimePassword(SmsOneTimePassword {
            session_id: SessionId::parse("session-1").unwrap(),
            text: SmsText::parse("Your code is 5151").unwrap(),
            phone_number: PhoneNumber::parse("+995599112233").unwrap(),
        }),
    }
}

fn dynamodb_error(code: &str) -> Fault {
    Fault::Refuse {
        status: 500,
        body: format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"{code}"}}"#
        ),
    }
}

/// The sms family with its table and SNS reached through `table_at` and `sns_at`, and the
/// production SDK limits: per-attempt timeouts, and no SDK retry of a send.
async fn family(aws: &SdkConfig, table_at: &str, sns_at: &str) -> SmsFamily {
    family_with(aws, table_at, sns_at, &[]).await
}

/// [`family`] with some settings of its own.
async fn family_with(
    aws: &SdkConfig,
    table_at: &str,
    sns_at: &str,
    settings: &[(&str, &str)],
) -> SmsFamily {
    let production = aws
        .to_builder()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(700))
                .build(),
        )
        .retry_config(shared::aws::retries())
        .build();
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(&production)
        .endpoint_url(table_at)
        .build();
    let sns = aws_sdk_sns::config::Builder::from(&shared::aws::for_sending(&production))
        .endpoint_url(sns_at)
        .build();
    SmsFamily {
        sns: aws_sdk_sns::Client::from_conf(sns),
        table: SessionsTable::new(aws_sdk_dynamodb::Client::from_conf(dynamodb), TABLE),
        config: SmsConfig::from_lookup(&|name: &str| {
            (settings.iter().find(|(k, _)| *k == name))
                .map(|(_, v)| (*v).to_owned())
                .or_else(|| testkit::required_settings(name))
        })
        .unwrap(),
    }
}

async fn moto_with_table() -> (Moto, SdkConfig) {
    let moto = Moto::start().await;
    let aws = moto.sdk_config().await;
    testkit::create_sessions_table(&aws, TABLE).await;
    (moto, aws)
}

#[tokio::test]
async fn the_limit_write_failing_after_the_claim_releases_it_for_the_retry() {
    let (moto, aws) = moto_with_table().await;
    // Every attempt of the first limit's write fails; the claim before it succeeded.
    let table = FaultProxy::new(moto.endpoint(), |c: &Call| {
        match c.operation == UPDATE && c.nth < 2 {
            true => dynamodb_error("InternalServerError"),
            false => Fault::Pass,
        }
    })
    .await;
    let family = family(&aws, &table.endpoint(), moto.endpoint()).await;
    let e = otp("r1");
    let error = family.handle(&e).await.unwrap_err();
    assert!(matches!(error, FamilyError::Store(_)), "{error}");
    assert!(moto.sms().await.is_empty());
    // Lambda's retry claims it again at once and sends it: not `deduplicated`.
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    assert_eq!(moto.sms().await.len(), 1);
    assert_eq!(
        family.handle(&e).await.unwrap(),
        DeliveryOutcome::Deduplicated
    );
}

#[tokio::test]
async fn the_final_write_failing_after_a_refusal_releases_the_claim() {
    let (moto, aws) = moto_with_table().await;
    let refusal = testkit::query_error_saying(
        "InvalidParameter",
        "Invalid parameter: PhoneNumber Reason: +995599112233 is not valid to publish to",
    );
    let sns = FaultProxy::new(moto.endpoint(), move |_: &Call| Fault::Refuse {
        status: 400,
        body: refusal.clone(),
    })
    .await;
    // The first write of the record's final state fails, both attempts of it.
    let finishes = AtomicUsize::new(0);
    let table = FaultProxy::new(moto.endpoint(), move |c: &Call| {
        let finishing = c.operation == UPDATE && c.body.contains("SET #state = :state");
        if finishing && finishes.fetch_add(1, Ordering::SeqCst) < 2 {
            dynamodb_error("InternalServerError")
        } else {
            Fault::Pass
        }
    })
    .await;
    let family = family(&aws, &table.endpoint(), &sns.endpoint()).await;
    let e = otp("r1");
    assert!(matches!(
        family.handle(&e).await.unwrap_err(),
        FamilyError::Store(_)
    ));
    // The retry is refused again by SNS and, this time, recorded: not `deduplicated`.
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Failed);
    let records = testkit::delivery_records(&aws, TABLE, "session-1").await;
    assert_eq!(s(&records[0], "state"), "failed");
    assert_eq!(
        family.handle(&e).await.unwrap(),
        DeliveryOutcome::Deduplicated
    );
    assert_eq!(sns.count("Publish"), 2);
}

#[tokio::test]
async fn a_provider_that_answers_late_gets_the_message_at_most_twice() {
    let (moto, aws) = moto_with_table().await;
    // SNS takes every message (moto records it) and answers after the attempt timeout.
    let sns = FaultProxy::new(moto.endpoint(), |_: &Call| {
        Fault::AnswerLate(Duration::from_millis(1500))
    })
    .await;
    let family = family(&aws, moto.endpoint(), &sns.endpoint()).await;
    let e = otp("r1");
    // Lambda's first attempt and its two retries.
    for attempt in 0..2 {
        let error = family.handle(&e).await.unwrap_err();
        assert!(matches!(error, FamilyError::Send(_)), "{attempt}: {error}");
    }
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    // One publish per attempt (no SDK retry), none by the third.
    assert_eq!(sns.count("Publish"), 2);
    assert_eq!(moto.sms().await.len(), 2);
    let records = testkit::delivery_records(&aws, TABLE, "session-1").await;
    assert_eq!(
        (s(&records[0], "state"), s(&records[0], "reason")),
        ("sent".to_owned(), "unconfirmed".to_owned())
    );
    assert_eq!(
        family.handle(&e).await.unwrap(),
        DeliveryOutcome::Deduplicated
    );
}

#[tokio::test]
async fn a_late_answer_then_a_healthy_provider_makes_one_duplicate_at_most() {
    let (moto, aws) = moto_with_table().await;
    let sns = FaultProxy::new(moto.endpoint(), |c: &Call| match c.nth {
        0 => Fault::AnswerLate(Duration::from_millis(1500)),
        _ => Fault::Pass,
    })
    .await;
    let family = family(&aws, moto.endpoint(), &sns.endpoint()).await;
    let e = otp("r1");
    assert!(family.handle(&e).await.is_err());
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    assert_eq!(
        family.handle(&e).await.unwrap(),
        DeliveryOutcome::Deduplicated
    );
    assert_eq!(moto.sms().await.len(), 2);
}

#[tokio::test]
async fn a_refused_connection_is_not_a_send_and_does_not_count() {
    let (moto, aws) = moto_with_table().await;
    // Nothing listens there: the connection is refused, the message surely not sent.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let down = family(&aws, moto.endpoint(), &closed).await;
    let e = otp("r1");
    for _ in 0..3 {
        assert!(matches!(
            down.handle(&e).await.unwrap_err(),
            FamilyError::Send(_)
        ));
    }
    // However often it failed so, the redrive sends it.
    let up = family(&aws, moto.endpoint(), moto.endpoint()).await;
    assert_eq!(up.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    assert_eq!(moto.sms().await.len(), 1);
}

#[tokio::test]
async fn the_count_of_possible_sends_survives_a_failed_release() {
    let (moto, aws) = moto_with_table().await;
    // SNS takes every message and answers too late; and every release of a claim fails, so
    // only what the claim itself wrote can tell the next attempt what happened.
    let sns = FaultProxy::new(moto.endpoint(), |_: &Call| {
        Fault::AnswerLate(Duration::from_millis(1500))
    })
    .await;
    let table = FaultProxy::new(moto.endpoint(), |c: &Call| {
        match c.operation == UPDATE && c.body.contains("SET #leaseUntil = :zero") {
            true => dynamodb_error("InternalServerError"),
            false => Fault::Pass,
        }
    })
    .await;
    let mut family = family(&aws, &table.endpoint(), &sns.endpoint()).await;
    // A claim nobody released is taken over once its lease has run out.
    family.config.rules.claim_lease = Duration::from_millis(1200);
    let e = otp("r1");
    for attempt in 0..2 {
        let error = family.handle(&e).await.unwrap_err();
        assert!(matches!(error, FamilyError::Send(_)), "{attempt}: {error}");
        tokio::time::sleep(Duration::from_millis(1300)).await;
    }
    // The third attempt finds two possible sends and sends nothing.
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    assert_eq!(sns.count("Publish"), 2);
    assert_eq!(moto.sms().await.len(), 2);
    let records = testkit::delivery_records(&aws, TABLE, "session-1").await;
    assert_eq!(s(&records[0], "reason"), "unconfirmed");
    assert!(
        !records[0].contains_key("ambiguousSends"),
        "{:?}",
        records[0]
    );
}

#[tokio::test]
async fn a_send_that_surely_failed_gives_its_possible_send_back() {
    let (moto, aws) = moto_with_table().await;
    // Throttled twice (SNS did not take it), then a late answer, then a healthy SNS: the
    // throttles count for nothing, so the fourth attempt still sends.
    let sns = FaultProxy::new(moto.endpoint(), |c: &Call| match c.nth {
        0 | 1 => Fault::Refuse {
            status: 400,
            body: testkit::query_error("Throttling"),
        },
        2 => Fault::AnswerLate(Duration::from_millis(1500)),
        _ => Fault::Pass,
    })
    .await;
    let family = family(&aws, moto.endpoint(), &sns.endpoint()).await;
    let e = otp("r1");
    for _ in 0..3 {
        assert!(matches!(
            family.handle(&e).await.unwrap_err(),
            FamilyError::Send(_)
        ));
    }
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    assert_eq!(sns.count("Publish"), 4);
    let records = testkit::delivery_records(&aws, TABLE, "session-1").await;
    assert_eq!(
        (s(&records[0], "state"), records[0].get("reason")),
        ("sent".to_owned(), None)
    );
}

#[tokio::test]
async fn a_give_back_whose_answer_is_lost_uncounts_once_at_most() {
    let (moto, aws) = moto_with_table().await;
    // The second message is throttled by SNS, so its counts are given back; DynamoDB carries
    // out every give-back and answers too late, as a lost answer looks.
    let sns = FaultProxy::new(moto.endpoint(), |c: &Call| match c.nth {
        1 => Fault::Refuse {
            status: 400,
            body: testkit::query_error("Throttling"),
        },
        _ => Fault::Pass,
    })
    .await;
    let table = FaultProxy::new(moto.endpoint(), |c: &Call| {
        match c.operation == UPDATE && c.body.contains(":minus") {
            true => Fault::AnswerLate(Duration::from_millis(1000)),
            false => Fault::Pass,
        }
    })
    .await;
    let family = family_with(
        &aws,
        &table.endpoint(),
        &sns.endpoint(),
        &[("SMS_RATE_LIMIT_PER_HOUR", "2")],
    )
    .await;
    let to_one_number = |i: usize| {
        let mut e = otp(&format!("r{i}"));
        if let Callback::SmsOneTimePassword(c) = &mut e.callback {
            c.session_id = SessionId::parse(&format!("session-{i}")).unwrap();
            c.text = SmsText::parse(&format!("Your code is {i}")).unwrap();
        }
        e
    };
    assert_eq!(
        family.handle(&to_one_number(0)).await.unwrap(),
        DeliveryOutcome::Sent
    );
    assert!(family.handle(&to_one_number(1)).await.is_err());
    // Each of its three counts (number, session, budget) was given back by one request.
    let give_backs = |c: &Call| c.operation == UPDATE && c.body.contains(":minus");
    assert_eq!(table.calls().iter().filter(|c| give_backs(c)).count(), 3);
    // The number had one SMS: one more fits its 2, a third does not.
    assert_eq!(
        family.handle(&to_one_number(2)).await.unwrap(),
        DeliveryOutcome::Sent
    );
    assert_eq!(
        family.handle(&to_one_number(3)).await.unwrap(),
        DeliveryOutcome::Suppressed
    );
    assert_eq!(moto.sms().await.len(), 2);
}

#[tokio::test]
async fn an_error_about_the_deployments_sender_is_dead_lettered_not_the_recipients() {
    let (moto, aws) = moto_with_table().await;
    // SNS names the parameter it refuses: the message attributes carry the origination
    // number, the sender id and the price, which are the deployment's, whatever the words.
    let refusals = [
        "Invalid parameter: MessageAttributes Reason: The origination number +15555550100 is not valid for this phone number's country",
        "Invalid parameter: Message Reason: the number of parts is too high",
    ];
    for (i, message) in refusals.iter().enumerate() {
        let body = testkit::query_error_saying("InvalidParameter", message);
        let sns = FaultProxy::new(moto.endpoint(), move |_: &Call| Fault::Refuse {
            status: 400,
            body: body.clone(),
        })
        .await;
        let family = family(&aws, moto.endpoint(), &sns.endpoint()).await;
        let mut e = otp(&format!("r{i}"));
        if let Callback::SmsOneTimePassword(c) = &mut e.callback {
            c.session_id = SessionId::parse(&format!("sender-{i}")).unwrap();
        }
        let error = family.handle(&e).await.unwrap_err();
        assert!(
            matches!(error, FamilyError::Configuration(_)),
            "{message}: {error}"
        );
        // Nothing recorded failed: the claim is released for the redrive.
        let records = testkit::delivery_records(&aws, TABLE, &format!("sender-{i}")).await;
        assert_eq!(s(&records[0], "state"), "retrying", "{message}");
    }
}
