//! E-mail through moto's SES: the reference samples, once, fresh, limits, faults.

use std::time::{Duration, SystemTime};

use email::EmailFamily;
use shared::callback::EmailOneTimePassword;
use shared::family::FamilyError;
use shared::fields::{EmailAddress, EmailContent, SessionId, Subject};
use shared::message::DeliveryOutcome;
use shared::{Callback, Timestamp};
use testkit::Moto;
use testkit::samples::callback as sample;
use testkit::text as s;

mod common;

use common::{FROM, TABLE, envelope, family, link_with_cc, otp};

#[tokio::test]
async fn reference_samples_are_sent_as_email() {
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, true).await;
    let link = envelope(sample("share-session-link-via-email"), "r1");
    let otp = envelope(sample("email-one-time-password-request"), "r2");
    assert_eq!(family.handle(&link).await.unwrap(), DeliveryOutcome::Sent);
    assert_eq!(family.handle(&otp).await.unwrap(), DeliveryOutcome::Sent);

    let sent = moto.emails().await;
    assert_eq!(sent.len(), 2);
    let link_mail = &sent[0];
    assert_eq!(
        link_mail.source,
        "\"Acme Verification\" <no-reply@verify.example.com>"
    );
    assert_eq!(
        link_mail.destinations.to_addresses,
        ["john.doe@example.com"]
    );
    assert_eq!(link_mail.destinations.cc_addresses, ["support@example.com"]);
    assert_eq!(link_mail.subject, "Verification Required");
    // moto keeps the HTML part; the text part is tested on the message builder.
    assert!(
        link_mail.body.contains(
            "<p>Dear John Doe, please complete your verification using the link below.</p>"
        )
    );
    assert!(link_mail.body.contains(
        "<a href=\"https://widget.identomat.com/?session_token=5alhw0070l2gy82q0mqlfniv7gwgbqqs0rtctolg\">"
    ));
    let otp_mail = &sent[1];
    assert_eq!(otp_mail.destinations.to_addresses, ["john.doe@example.com"]);
    assert!(otp_mail.destinations.cc_addresses.is_empty());
    assert_eq!(otp_mail.subject, "Mail Verification");
    assert!(otp_mail.body.contains("<p>Your code is 6867</p>"));

    let records =
        testkit::delivery_records(&aws, TABLE, "5alhw0070l2gy82q0mqlfniv7gwgbqqs0rtctolg").await;
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(
            (s(r, "channel"), s(r, "state")),
            ("email".into(), "sent".into())
        );
        assert_eq!(s(r, "recipient"), "j***@example.com");
    }
    let ids: Vec<String> = records.iter().map(|r| s(r, "providerMessageId")).collect();
    assert!(ids.contains(&link_mail.id) && ids.contains(&otp_mail.id));
    let everything = format!("{:?}", testkit::scan_table(&aws, TABLE).await);
    assert!(!everything.contains("john.doe"), "{everything}");
}

#[tokio::test]
async fn twenty_identical_envelopes_at_once_send_one_email() {
    let moto = Moto::start().await;
    let (family, _) = family(&moto, true).await;
    let family = std::sync::Arc::new(family);
    let e = envelope(sample("email-one-time-password-request"), "r1");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (family, e) = (family.clone(), e.clone());
        tasks.spawn(async move { family.handle(&e).await });
    }
    let mut sent = 0;
    while let Some(done) = tasks.join_next().await {
        // A copy that finds the claim held fails for Lambda to retry (see the sms tests).
        match done.unwrap() {
            Ok(outcome) => sent += usize::from(outcome == DeliveryOutcome::Sent),
            Err(e) => assert!(matches!(e, FamilyError::ClaimHeld), "{e}"),
        }
    }
    assert_eq!(sent, 1);
    assert_eq!(moto.emails().await.len(), 1);
    assert_eq!(
        family.handle(&e).await.unwrap(),
        DeliveryOutcome::Deduplicated
    );
}

#[tokio::test]
async fn the_eleventh_email_to_an_address_within_the_hour_is_suppressed() {
    let moto = Moto::start().await;
    let (family, _) = family(&moto, true).await;
    for i in 0..11 {
        let e = envelope(
            otp("Target@Example.com", &format!("Your code is 10{i}")),
            &format!("r{i}"),
        );
        let expected = if i < 10 {
            DeliveryOutcome::Sent
        } else {
            DeliveryOutcome::Suppressed
        };
        assert_eq!(family.handle(&e).await.unwrap(), expected, "e-mail {i}");
    }
    // Case does not make a new address.
    let e = envelope(otp("target@example.com", "Your code is 999"), "r-lower");
    assert_eq!(
        family.handle(&e).await.unwrap(),
        DeliveryOutcome::Suppressed
    );
    assert_eq!(moto.emails().await.len(), 10);
}

#[tokio::test]
async fn a_stale_otp_is_recorded_expired_not_sent() {
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, true).await;
    let mut e = envelope(otp("john.doe@example.com", "Your code is 1"), "r1");
    e.received_at = Timestamp::from_system_time(SystemTime::now() - Duration::from_secs(600));
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Expired);
    assert!(moto.emails().await.is_empty());
    assert_eq!(
        s(
            &testkit::delivery_records(&aws, TABLE, "session-1").await[0],
            "state"
        ),
        "expired"
    );
}

#[tokio::test]
async fn an_unverified_sender_fails_the_invocation_until_it_is_fixed() {
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, false).await;
    let e = envelope(otp("john.doe@example.com", "Your code is 1"), "r1");
    // The operator's mistake, not the recipient's: Lambda retries, then dead-letters.
    let error = family.handle(&e).await.unwrap_err();
    assert!(matches!(error, FamilyError::Configuration(_)), "{error}");
    assert!(error.to_string().contains("MessageRejected"), "{error}");
    let record = &testkit::delivery_records(&aws, TABLE, "session-1").await[0];
    assert_eq!(s(record, "state"), "retrying");
    assert!(
        s(record, "reason").contains("MessageRejected"),
        "{record:?}"
    );
    assert!(moto.emails().await.is_empty());
    // Once the sender is verified, the retry (or a redrive) sends it.
    aws_sdk_ses::Client::new(&aws)
        .verify_email_identity()
        .email_address(FROM)
        .send()
        .await
        .unwrap();
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    assert_eq!(moto.emails().await.len(), 1);
}

#[tokio::test]
async fn an_unreachable_ses_fails_the_invocation_and_the_retry_sends() {
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, true).await;
    let down = aws_sdk_ses::config::Builder::from(&aws)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let down = EmailFamily {
        ses: aws_sdk_ses::Client::from_conf(down),
        table: family.table.clone(),
        config: family.config.clone(),
    };
    let e = envelope(otp("john.doe@example.com", "Your code is 1"), "r1");
    assert!(matches!(down.handle(&e).await, Err(FamilyError::Send(_))));
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    assert_eq!(moto.emails().await.len(), 1);
}

#[tokio::test]
async fn an_address_ses_cannot_read_is_the_deployments_mistake_not_the_recipients() {
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, true).await;
    // SES names no parameter; the ingress lets no unreadable recipient through, so an
    // unreadable address is the configured From: dead-lettered, never recorded `failed`.
    for (i, message) in [
        "Illegal address",
        "Missing final '@domain'",
        "Invalid address: no-reply@",
    ]
    .iter()
    .enumerate()
    {
        let body = testkit::query_error_saying("InvalidParameterValue", message);
        let fault = testkit::FaultyEndpoint::answering(400, body, Duration::ZERO).await;
        let refusing = EmailFamily {
            ses: aws_sdk_ses::Client::from_conf(
                aws_sdk_ses::config::Builder::from(&aws)
                    .endpoint_url(fault.endpoint())
                    .build(),
            ),
            table: family.table.clone(),
            config: family.config.clone(),
        };
        let e = envelope(
            otp("john.doe@example.com", &format!("Your code is {i}")),
            &format!("r{i}"),
        );
        let error = refusing.handle(&e).await.unwrap_err();
        assert!(
            matches!(error, FamilyError::Configuration(_)),
            "{message}: {error}"
        );
    }
    let records = testkit::delivery_records(&aws, TABLE, "session-1").await;
    // Released for the redrive, the record saying what failed.
    assert!(
        records.iter().all(|r| s(r, "state") == "retrying"
            && s(r, "reason").starts_with("the deployment cannot send")),
        "{records:?}"
    );
}

#[tokio::test]
async fn a_cc_address_counts_against_its_own_limit() {
    let moto = Moto::start().await;
    let (family, _) = family(&moto, true).await;
    // Fourteen people in fourteen sessions, one Cc address on every e-mail.
    for i in 0..14 {
        let e = envelope(
            link_with_cc(
                &format!("session-{i}"),
                &format!("person{i}@example.com"),
                "target@example.com",
            ),
            &format!("r{i}"),
        );
        assert_eq!(
            family.handle(&e).await.unwrap(),
            DeliveryOutcome::Sent,
            "{i}"
        );
    }
    let emails = moto.emails().await;
    // Every To address got its link; the Cc address no more than its limit.
    assert_eq!(emails.len(), 14);
    let to_cc = emails
        .iter()
        .filter(|m| {
            m.destinations
                .cc_addresses
                .contains(&"target@example.com".to_owned())
        })
        .count();
    assert_eq!(to_cc, 10);
}

#[tokio::test]
async fn one_session_gets_at_most_its_limit_of_emails_whatever_the_addresses() {
    let moto = Moto::start().await;
    let (family, _) = family(&moto, true).await;
    let mut sent = 0;
    for i in 0..25 {
        let callback = Callback::EmailOneTimePassword(EmailOneTimePassword {
            session_id: SessionId::parse("one-session").unwrap(),
            address: EmailAddress::parse(&format!("someone{i}@example.com")).unwrap(),
            subject: Subject::parse("Your code").unwrap(),
            content: EmailContent::parse("Your code is 1").unwrap(),
        });
        let outcome = family.handle(&envelope(callback, &format!("r{i}"))).await;
        sent += usize::from(outcome.unwrap() == DeliveryOutcome::Sent);
    }
    // EMAIL_PER_SESSION_PER_HOUR: 20 recipients.
    assert_eq!(sent, 20);
    assert_eq!(moto.emails().await.len(), 20);
}

#[tokio::test]
async fn a_session_counts_recipients_not_emails() {
    let moto = Moto::start().await;
    let (family, _) = family(&moto, true).await;
    let cc = "a@example.com; b@example.com; c@example.com; d@example.com";
    let mut outcomes = Vec::new();
    for i in 0..5 {
        let e = envelope(
            link_with_cc("one-session", &format!("to{i}@example.com"), cc),
            &format!("r{i}"),
        );
        outcomes.push(family.handle(&e).await.unwrap());
    }
    // Five recipients each: four e-mails make the session's 20.
    use DeliveryOutcome::{Sent, Suppressed};
    assert_eq!(outcomes, [Sent, Sent, Sent, Sent, Suppressed]);
}

#[tokio::test]
async fn an_inbox_is_counted_whatever_the_spelling() {
    let moto = Moto::start().await;
    let (family, _) = family(&moto, true).await;
    let spellings = [
        "victim@gmail.com",
        "Victim@gmail.com",
        "victim+1@gmail.com",
        "v.ictim@gmail.com",
        "vic.tim+x@googlemail.com",
    ];
    let mut sent = 0;
    for i in 0..12 {
        let callback = Callback::EmailOneTimePassword(EmailOneTimePassword {
            session_id: SessionId::parse(&format!("session-{i}")).unwrap(),
            address: EmailAddress::parse(spellings[i % spellings.len()]).unwrap(),
            subject: Subject::parse("Your code").unwrap(),
            content: EmailContent::parse(&format!("Your code is {i}")).unwrap(),
        });
        let outcome = family.handle(&envelope(callback, &format!("r{i}"))).await;
        sent += usize::from(outcome.unwrap() == DeliveryOutcome::Sent);
    }
    // EMAIL_RATE_LIMIT_PER_HOUR: 10 per mailbox, however it is written.
    assert_eq!(sent, 10);
    // And one e-mail lists one inbox once: the Cc spellings of the To mailbox are left out.
    let e = envelope(
        link_with_cc(
            "cc-session",
            "someone@gmail.com",
            "Someone+cc@gmail.com; s.omeone@googlemail.com; boss@example.com",
        ),
        "cc",
    );
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    let emails = moto.emails().await;
    let last = emails.last().unwrap();
    assert_eq!(last.destinations.cc_addresses, ["boss@example.com"]);
}

#[tokio::test]
async fn a_malformed_cc_entry_is_dropped_and_named_the_rest_delivered() {
    let moto = Moto::start().await;
    let (family, aws) = family(&moto, true).await;
    let e = envelope(
        link_with_cc(
            "session-cc",
            "person@example.com",
            "good@example.com, not an address; boss@@example.org",
        ),
        "r1",
    );
    assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    let emails = moto.emails().await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].destinations.cc_addresses, ["good@example.com"]);
    let records = testkit::delivery_records(&aws, TABLE, "session-cc").await;
    let dropped: Vec<&str> = records[0]["ccDropped"]
        .as_l()
        .unwrap()
        .iter()
        .map(|v| v.as_s().unwrap().as_str())
        .collect();
    assert_eq!(dropped, ["*** (14 chars)", "b***@example.org"]);
    assert_eq!(s(&records[0], "state"), "sent");
}
