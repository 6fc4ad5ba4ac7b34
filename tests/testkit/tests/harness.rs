//! The harness itself: what goes into moto through the SDK comes back out of `data.json`.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_ses::types::{Body, Content, Destination, Message};
use testkit::Moto;

#[tokio::test]
async fn sms_email_and_item_are_read_back() {
    let moto = Moto::start().await;
    let config = moto.sdk_config().await;

    let sns = aws_sdk_sns::Client::new(&config);
    let published = sns
        .publish()
        .phone_number("+995512345678")
        .message("Your code is 6867")
        .send()
        .await
        .expect("publish");
    let sms = moto.sms().await;
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].phone_number, "+995512345678");
    assert_eq!(sms[0].message, "Your code is 6867");
    assert_eq!(Some(sms[0].message_id.as_str()), published.message_id());

    let ses = aws_sdk_ses::Client::new(&config);
    ses.verify_email_identity()
        .email_address("no-reply@example.com")
        .send()
        .await
        .expect("verify sender");
    let text = |s: &str| Content::builder().data(s).build().expect("content");
    ses.send_email()
        .source("no-reply@example.com")
        .destination(
            Destination::builder()
                .to_addresses("john.doe@example.com")
                .cc_addresses("support@example.com")
                .build(),
        )
        .message(
            Message::builder()
                .subject(text("Verification Required"))
                .body(
                    Body::builder()
                        .text(text("plain"))
                        .html(text("<p>html</p>"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("send email");
    let emails = moto.emails().await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].source, "no-reply@example.com");
    assert_eq!(
        emails[0].destinations.to_addresses,
        ["john.doe@example.com"]
    );
    assert_eq!(emails[0].destinations.cc_addresses, ["support@example.com"]);
    assert_eq!(emails[0].subject, "Verification Required");
    assert_eq!(emails[0].body, "<p>html</p>");

    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    dynamo
        .create_table()
        .table_name("sessions")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("sessionId")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("sessionId")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await
        .expect("create table");
    dynamo
        .put_item()
        .table_name("sessions")
        .item("sessionId", AttributeValue::S("abc".into()))
        .item("result", AttributeValue::S("APPROVED".into()))
        .send()
        .await
        .expect("put item");
    let item = dynamo
        .get_item()
        .table_name("sessions")
        .key("sessionId", AttributeValue::S("abc".into()))
        .send()
        .await
        .expect("get item");
    assert_eq!(
        item.item().and_then(|i| i.get("result")),
        Some(&AttributeValue::S("APPROVED".into()))
    );

    moto.reset().await;
    assert!(moto.sms().await.is_empty());
    assert!(moto.emails().await.is_empty());
}

#[tokio::test]
async fn servers_are_private_to_their_test() {
    let (a, b) = (Moto::start().await, Moto::start().await);
    assert_ne!(a.endpoint(), b.endpoint());
    let sns = aws_sdk_sns::Client::new(&a.sdk_config().await);
    sns.publish()
        .phone_number("+12025550100")
        .message("only in a")
        .send()
        .await
        .expect("publish");
    assert_eq!(a.sms().await.len(), 1);
    assert!(b.sms().await.is_empty());
}
