//! What the e-mail tests share: the family against moto, and the callbacks they send.

#![allow(dead_code)] // each test binary uses its own part

use aws_config::SdkConfig;
use email::{EmailConfig, EmailFamily};
use shared::callback::{EmailOneTimePassword, EmailSessionLink};
use shared::fields::{CcList, EmailAddress, EmailContent, SessionId, SessionLink, Subject};
use shared::message::DeliveryRules;
use shared::{Callback, Envelope, SessionsTable, Timestamp};
use testkit::Moto;

pub const TABLE: &str = "sessions";
pub const FROM: &str = "no-reply@verify.example.com";

pub fn config() -> EmailConfig {
    EmailConfig {
        from_address: EmailAddress::parse(FROM).unwrap(),
        from_name: Some("Acme Verification".into()),
        configuration_set: None,
        layout: email::Layout::Plain,
        rate_limit_per_hour: 10,
        per_session_per_hour: 20,
        max_per_hour: 500,
        link_max_per_hour: 200,
        rules: DeliveryRules::default(),
    }
}

pub async fn family(moto: &Moto, verify_sender: bool) -> (EmailFamily, SdkConfig) {
    let aws = moto.sdk_config().await;
    testkit::create_sessions_table(&aws, TABLE).await;
    let ses = aws_sdk_ses::Client::new(&aws);
    if verify_sender {
        ses.verify_email_identity()
            .email_address(FROM)
            .send()
            .await
            .unwrap();
    }
    let family = EmailFamily {
        ses,
        table: SessionsTable::new(aws_sdk_dynamodb::Client::new(&aws), TABLE),
        config: config(),
    };
    (family, aws)
}

pub fn envelope(callback: Callback, request_id: &str) -> Envelope {
    Envelope {
        request_id: request_id.into(),
        received_at: Timestamp::now(),
        callback,
    }
}

pub fn otp(address: &str, content: &str) -> Callback {
    Callback::EmailOneTimePassword(EmailOneTimePassword {
        session_id: SessionId::parse("session-1").unwrap(),
        address: EmailAddress::parse(address).unwrap(),
        subject: Subject::parse("Your code").unwrap(),
        content: EmailContent::parse(content).unwrap(),
    })
}

pub fn link_with_cc(session: &str, to: &str, cc: &str) -> Callback {
    let token = format!("https://widget.identomat.com/?session_token={session}");
    Callback::EmailSessionLink(EmailSessionLink {
        session_id: SessionId::parse(session).unwrap(),
        address: EmailAddress::parse(to).unwrap(),
        subject: Subject::parse("Verification Required").unwrap(),
        content: EmailContent::parse("Please verify.").unwrap(),
        cc: CcList::parse(cc).unwrap(),
        cc_dropped: CcList::parse(cc).unwrap().dropped().to_vec(),
        session_link: SessionLink::parse(&token).unwrap(),
        created_by: None,
    })
}
