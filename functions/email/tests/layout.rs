//! Both layouts through moto's SES, as the request reached it (a proxy in front of moto keeps
//! each SendEmail's form) and as moto recorded it: two parts, the text part today's message
//! whatever the layout, the HTML part the layout's.

mod common;

use common::{FROM, TABLE, envelope};
use email::{EmailConfig, EmailFamily, Layout};
use shared::SessionsTable;
use shared::message::DeliveryOutcome;
use testkit::samples::callback as sample;
use testkit::{Call, Fault, FaultProxy, Moto};

/// The form fields of a query-protocol request.
fn form(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    (form.iter())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn send_both(layout: &[(&str, &str)]) -> (Vec<Vec<(String, String)>>, Vec<String>) {
    let moto = Moto::start().await;
    let aws = moto.sdk_config().await;
    testkit::create_sessions_table(&aws, TABLE).await;
    let proxy = FaultProxy::new(moto.endpoint(), |_: &Call| Fault::Pass).await;
    let ses = aws_sdk_ses::Client::from_conf(
        aws_sdk_ses::config::Builder::from(&aws)
            .endpoint_url(proxy.endpoint())
            .build(),
    );
    ses.verify_email_identity()
        .email_address(FROM)
        .send()
        .await
        .unwrap();
    let settings: Vec<(String, String)> = (layout.iter())
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let lookup = move |name: &str| {
        (settings.iter().find(|(k, _)| k == name))
            .map(|(_, v)| v.clone())
            .or_else(|| (name == "EMAIL_FROM_ADDRESS").then(|| FROM.to_owned()))
    };
    let family = EmailFamily {
        ses,
        table: SessionsTable::new(aws_sdk_dynamodb::Client::new(&aws), TABLE),
        config: EmailConfig::from_lookup(&lookup).unwrap(),
    };
    for (i, name) in [
        "share-session-link-via-email",
        "email-one-time-password-request",
    ]
    .iter()
    .enumerate()
    {
        let e = envelope(sample(name), &format!("r{i}"));
        assert_eq!(family.handle(&e).await.unwrap(), DeliveryOutcome::Sent);
    }
    let sent: Vec<_> = (proxy.calls().iter())
        .filter(|c| c.operation == "SendEmail")
        .map(|c| form(&c.body))
        .collect();
    let recorded = moto.emails().await.into_iter().map(|m| m.body).collect();
    (sent, recorded)
}

/// Today's text part: the content, and for a link a blank line and the link.
fn text_of(name: &str) -> String {
    let callback = testkit::samples::json(name);
    let content = callback["content"].as_str().unwrap();
    match callback["sessionLink"].as_str() {
        Some(link) => format!("{content}\n\n{link}"),
        None => content.to_owned(),
    }
}

#[tokio::test]
async fn branded_e_mails_carry_the_same_text_part_and_their_own_html() {
    let (sent, recorded) = send_both(&[
        ("EMAIL_LAYOUT", "branded"),
        ("EMAIL_BRAND_NAME", "Acme Bank"),
        ("EMAIL_BRAND_COLOR", "#0B3D91"),
    ])
    .await;
    assert_eq!(sent.len(), 2);
    for (form, name) in sent.iter().zip([
        "share-session-link-via-email",
        "email-one-time-password-request",
    ]) {
        let text = field(form, "Message.Body.Text.Data").unwrap();
        let html = field(form, "Message.Body.Html.Data").unwrap();
        assert_eq!(text, text_of(name));
        assert!(html.contains("<html lang=\"en\">"), "{html}");
        assert!(html.contains("Acme Bank"));
        assert_eq!(field(form, "Message.Body.Html.Charset"), Some("UTF-8"));
        // What moto recorded is the HTML part the function sent.
        assert!(recorded.iter().any(|body| body == html));
    }
    // The link's button opens the sample's own session link.
    let link = testkit::samples::json("share-session-link-via-email")["sessionLink"]
        .as_str()
        .unwrap()
        .replace('&', "&#38;");
    let html = field(&sent[0], "Message.Body.Html.Data").unwrap();
    assert_eq!(
        html.matches(&format!("href=\"{link}\"")).count(),
        2,
        "{html}"
    );
}

#[tokio::test]
async fn plain_e_mails_are_as_they_were() {
    let (sent, _) = send_both(&[]).await;
    for (form, name) in sent.iter().zip([
        "share-session-link-via-email",
        "email-one-time-password-request",
    ]) {
        assert_eq!(
            field(form, "Message.Body.Text.Data").unwrap(),
            text_of(name)
        );
        let html = field(form, "Message.Body.Html.Data").unwrap();
        assert!(html.starts_with("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>"));
        assert!(!html.contains("style="));
    }
    assert!(matches!(
        EmailConfig::from_lookup(&|n: &str| (n == "EMAIL_FROM_ADDRESS").then(|| FROM.to_owned()))
            .unwrap()
            .layout,
        Layout::Plain
    ));
}
