//! The receipts function against moto: each state transition, receipts out of order and
//! repeated, unknown message ids, the log subscription's gzip and base64 envelope, the
//! forward-only rule under concurrent receipts, an SMS really sent by the sms family and its
//! receipt, the events notify makes of them, and no address or number kept.
//!
//! The receipts are AWS's documented examples: the SMS log lines from the SNS developer
//! guide's "Viewing Amazon CloudWatch metrics and logs for SMS deliveries", the SES records
//! from the SES developer guide's "Examples of event data that Amazon SES publishes to Amazon
//! SNS", each in the envelope its delivery documents (CloudWatch Logs user guide, "Using
//! CloudWatch Logs subscription filters"; SES developer guide, "Monitoring SES events using
//! Amazon EventBridge").

use std::io::Write;

use aws_lambda_events::dynamodb;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use receipts::{Receipts, ReceiptsError};
use serde_json::{Value, json};
use shared::SessionsTable;
use shared::message::DeliveryState;
use shared::receipt::email_receipt;
use shared::store::receipt::{DeliveryKey, ReceiptOutcome};
use testkit::logs::Captured;
use testkit::stream::stream_records;
use testkit::{Moto, create_sessions_table, query_session, scan_table, text};

const TABLE: &str = "sessions";
const SESSION: &str = "wwb83rh1se22wd81z0tx8bqlerljq5kgf6rxem1q";

struct Setup {
    _moto: Moto,
    config: aws_config::SdkConfig,
    table: SessionsTable,
    receipts: Receipts,
}

async fn setup() -> Setup {
    let moto = Moto::start().await;
    let config = moto.sdk_config().await;
    create_sessions_table(&config, TABLE).await;
    let table = SessionsTable::new(aws_sdk_dynamodb::Client::new(&config), TABLE);
    Setup {
        _moto: moto,
        receipts: Receipts {
            table: table.clone(),
        },
        config,
        table,
    }
}

impl Setup {
    /// A delivery record as the sms or email function leaves it once SNS or SES took it.
    async fn sent(&self, record: &str, channel: &str, message_id: &str) {
        let recipient = match channel {
            "sms" => "+9955*****78",
            _ => "j***@example.com",
        };
        let item = [
            ("sessionId", SESSION),
            ("record", record),
            ("channel", channel),
            ("kind", "otp"),
            ("recipient", recipient),
            ("state", "sent"),
            ("requestId", "req-1"),
            ("receivedAt", "2026-12-08T10:00:00.000Z"),
            ("providerMessageId", message_id),
        ];
        aws_sdk_dynamodb::Client::new(&self.config)
            .put_item()
            .table_name(TABLE)
            .set_item(Some(
                item.into_iter()
                    .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
                    .collect(),
            ))
            .send()
            .await
            .expect("a sent record");
    }

    async fn record(&self, record: &str) -> std::collections::HashMap<String, AttributeValue> {
        query_session(&self.config, TABLE, SESSION)
            .await
            .into_iter()
            .find(|i| text(i, "record") == record)
            .expect("the record")
    }

    async fn state(&self, record: &str) -> String {
        text(&self.record(record).await, "state")
    }

    async fn invoke(&self, payload: Value) -> Value {
        self.receipts.invoke(payload).await.expect("handled")
    }
}

fn sms_line(message_id: &str, status: &str) -> String {
    let (response, carrier) = match status {
        "SUCCESS" => (
            "Message has been accepted by phone carrier",
            ",\"phoneCarrier\":\"My Phone Carrier\"",
        ),
        _ => ("Unknown error attempting to reach phone", ""),
    };
    format!(
        r#"{{"notification":{{"messageId":"{message_id}","timestamp":"2016-06-28 00:40:34.558"}},"delivery":{{"mnc":270,"destination":"+995512345678","priceInUSD":0.00645,"smsType":"Transactional","mcc":310,"providerResponse":"{response}","dwellTimeMs":599,"dwellTimeMsUntilDeviceAck":1344{carrier}}},"status":"{status}"}}"#
    )
}

/// A CloudWatch Logs subscription's event: the batch JSON, gzip compressed, base64 encoded.
fn logs_event(message_type: &str, lines: &[String]) -> Value {
    let batch = json!({
        "messageType": message_type,
        "owner": "123456789012",
        "logGroup": "sns/us-east-1/123456789012/DirectPublishToPhoneNumber",
        "logStream": "6d0b3a3e-0000-4000-8000-000000000000",
        "subscriptionFilters": ["SmsDeliveryReceipts"],
        "logEvents": lines.iter().enumerate().map(|(i, line)| json!({
            "id": format!("3195310660696698337880902507980421114328961542429EXAMPLE{i}"),
            "timestamp": 1_467_074_434_558_i64, "message": line,
        })).collect::<Vec<_>>(),
    });
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(batch.to_string().as_bytes()).unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(gzip.finish().unwrap());
    json!({"awslogs": {"data": data}})
}

/// SES's record of one event, in the EventBridge event SES puts on the default bus.
fn ses_event(message_id: &str, event_type: &str) -> Value {
    let (detail_type, body) = match event_type {
        "Delivery" => (
            "Email Delivered",
            json!({"delivery": {"timestamp": "2017-08-05T00:41:03.012Z", "processingTimeMillis": 1001, "recipients": ["recipient@example.com"], "smtpResponse": "250 2.6.0 Message received", "reportingMTA": "mta.example.com"}}),
        ),
        "Bounce" => (
            "Email Bounced",
            json!({"bounce": {"bounceType": "Permanent", "bounceSubType": "General", "bouncedRecipients": [{"emailAddress": "recipient@example.com", "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}], "timestamp": "2017-08-05T00:41:02.669Z", "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000", "reportingMTA": "dsn; mta.example.com"}}),
        ),
        "Complaint" => (
            "Email Complaint Received",
            json!({"complaint": {"complainedRecipients": [{"emailAddress": "recipient@example.com"}], "timestamp": "2017-08-05T00:41:02.669Z", "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000", "userAgent": "Mozilla/5.0", "complaintFeedbackType": "abuse", "arrivalDate": "2017-08-05T00:41:02.669Z"}}),
        ),
        "DeliveryDelay" => (
            "Email Delivery Delayed",
            json!({"deliveryDelay": {"timestamp": "2020-06-16T00:15:40.641Z", "delayType": "TransientCommunicationFailure", "expirationTime": "2020-06-16T00:25:40.914Z", "delayedRecipients": [{"emailAddress": "recipient@example.com", "status": "4.4.1", "diagnosticCode": "smtp; 421 4.4.1 Unable to connect"}]}}),
        ),
        "Reject" => (
            "Email Rejected",
            json!({"reject": {"reason": "Bad content"}}),
        ),
        other => panic!("no sample for {other}"),
    };
    let mut detail = json!({
        "eventType": event_type,
        "mail": {"timestamp": "2017-08-05T00:40:02.012Z", "source": "Sender Name <sender@example.com>",
                 "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
                 "sendingAccountId": "123456789012", "messageId": message_id,
                 "destination": ["recipient@example.com"], "headersTruncated": false,
                 "tags": {"ses:configuration-set": ["ConfigSet"]}},
    });
    detail
        .as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    json!({"version": "0", "id": "a1b2c3d4-0000-4000-8000-000000000000", "detail-type": detail_type,
           "source": "aws.ses", "account": "123456789012", "time": "2017-08-05T00:41:03Z",
           "region": "us-east-1",
           "resources": ["arn:aws:ses:us-east-1:123456789012:configuration-set/ConfigSet"],
           "detail": detail})
}

#[tokio::test]
async fn each_ses_event_moves_the_record_forward_and_a_late_one_changes_nothing() {
    let s = setup().await;
    s.sent("delivery#e1", "email", "ses-e1").await;
    let steps = [
        ("DeliveryDelay", "delayed", 1),
        ("Delivery", "delivered", 1),
        // A late delay, and a repeat of the delivery: stale.
        ("DeliveryDelay", "delivered", 0),
        ("Delivery", "delivered", 0),
        ("Bounce", "bounced", 1),
        // A delivery reported after the bounce changes nothing.
        ("Delivery", "bounced", 0),
        ("Complaint", "complained", 1),
        ("Bounce", "complained", 0),
    ];
    for (event, state, moved) in steps {
        let answer = s.invoke(ses_event("ses-e1", event)).await;
        assert_eq!(answer["moved"], moved, "{event}");
        assert_eq!(answer["stale"], 1 - moved, "{event}");
        assert_eq!(s.state("delivery#e1").await, state, "after {event}");
    }
    let record = s.record("delivery#e1").await;
    assert_eq!(text(&record, "deliveredAt"), "2017-08-05T00:41:03.012Z");
    assert_eq!(text(&record, "bounceType"), "Permanent");
    assert_eq!(text(&record, "bounceSubType"), "General");
    assert_eq!(text(&record, "providerReason"), "abuse");
    assert_eq!(text(&record, "receiptAt"), "2017-08-05T00:41:02.669Z");
    // Four receipts moved it; the stale ones wrote nothing.
    assert_eq!(record.get("receipts"), Some(&AttributeValue::N("4".into())));
}

#[tokio::test]
async fn a_reject_fails_the_email_and_out_of_order_receipts_end_at_the_furthest() {
    let s = setup().await;
    s.sent("delivery#e2", "email", "ses-e2").await;
    s.invoke(ses_event("ses-e2", "Reject")).await;
    let record = s.record("delivery#e2").await;
    assert_eq!(text(&record, "state"), "failed");
    assert_eq!(text(&record, "reason"), "rejected-by-ses");
    assert_eq!(text(&record, "providerReason"), "Bad content");

    s.sent("delivery#e3", "email", "ses-e3").await;
    for event in ["Bounce", "DeliveryDelay", "Delivery"] {
        s.invoke(ses_event("ses-e3", event)).await;
    }
    assert_eq!(s.state("delivery#e3").await, "bounced");
}

#[tokio::test]
async fn sms_receipts_arrive_as_a_compressed_log_batch() {
    let s = setup().await;
    s.sent("delivery#s1", "sms", "sns-s1").await;
    s.sent("delivery#s2", "sms", "sns-s2").await;
    let lines = [
        sms_line("sns-s1", "SUCCESS"),
        sms_line("sns-s2", "FAILURE"),
        // Another system's SMS in the same account: counted and ignored.
        sms_line("sns-other", "SUCCESS"),
        // A line that is no receipt, and a status SNS does not document.
        "not json".to_owned(),
        sms_line("sns-s1", "PENDING"),
    ];
    let answer = s.invoke(logs_event("DATA_MESSAGE", &lines)).await;
    assert_eq!(
        answer,
        json!({"moved": 2, "stale": 0, "unknown": 1, "ignored": 2})
    );
    let delivered = s.record("delivery#s1").await;
    assert_eq!(text(&delivered, "state"), "delivered");
    assert_eq!(
        delivered.get("priceUsd"),
        Some(&AttributeValue::N("0.00645".into()))
    );
    assert_eq!(text(&delivered, "deliveredAt"), "2016-06-28T00:40:34.558Z");
    let failed = s.record("delivery#s2").await;
    assert_eq!(text(&failed, "state"), "failed");
    assert_eq!(text(&failed, "reason"), "carrier-failure");
    assert_eq!(
        text(&failed, "providerReason"),
        "Unknown error attempting to reach phone"
    );
    // The unknown id wrote nothing: the table holds the two records only.
    assert_eq!(scan_table(&s.config, TABLE).await.len(), 2);

    // CloudWatch Logs tests a new subscription with a control message: no receipts.
    let control = s.invoke(logs_event("CONTROL_MESSAGE", &[])).await;
    assert_eq!(control["moved"], 0);
}

#[tokio::test]
async fn what_is_no_receipt_is_refused_or_ignored() {
    let s = setup().await;
    let refused = s.receipts.invoke(json!({"Records": []})).await;
    assert!(matches!(refused, Err(ReceiptsError::Misrouted(_))));
    let refused = s
        .receipts
        .invoke(json!({"awslogs": {"data": "bm90IGd6aXA="}}))
        .await;
    assert!(matches!(refused, Err(ReceiptsError::Misrouted(_))));
    let answer = s
        .invoke(json!({"source": "aws.ses", "detail-type": "Email Opened",
                       "detail": {"eventType": "Open", "mail": {"messageId": "x"}}}))
        .await;
    assert_eq!(answer["ignored"], 1);
    let answer = s.invoke(json!({"source": "aws.ses"})).await;
    assert_eq!(answer["ignored"], 1);
}

#[tokio::test]
async fn concurrent_receipts_of_one_message_leave_the_furthest_state() {
    let s = setup().await;
    let events = [
        "DeliveryDelay",
        "Delivery",
        "Bounce",
        "Delivery",
        "DeliveryDelay",
    ];
    for round in 0..4 {
        let record = format!("delivery#c{round}");
        let id = format!("ses-c{round}");
        s.sent(&record, "email", &id).await;
        let key = DeliveryKey {
            session: SESSION.to_owned(),
            record: record.clone(),
        };
        let mut tasks = Vec::new();
        // Each round a different order; every receipt sent three times at once.
        for i in 0..events.len() * 3 {
            let event = events[(i + round) % events.len()];
            let receipt = email_receipt(&ses_event(&id, event)["detail"]).unwrap();
            let (table, key) = (s.table.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                table.record_receipt(&key, &receipt).await.unwrap()
            }));
        }
        let mut moved = 0;
        for task in tasks {
            if task.await.unwrap() == ReceiptOutcome::Moved {
                moved += 1;
            }
        }
        assert_eq!(s.state(&record).await, "bounced", "round {round}");
        // Each move went forward, so at most the three steps delayed, delivered, bounced.
        assert!((1..=3).contains(&moved), "round {round}: {moved} moves");
    }
}

#[tokio::test]
async fn a_message_sent_by_the_sms_family_gets_its_receipt_and_its_event() {
    use shared::family::Handler;

    let s = setup().await;
    let lookup = |name: &str| testkit::required_settings(name);
    let family = sms::SmsFamily {
        sns: aws_sdk_sns::Client::new(&s.config),
        table: s.table.clone(),
        config: sms::SmsConfig::from_lookup(&lookup).unwrap(),
    };
    let envelope = testkit::samples::envelope("one-time-password-request", "req-sms");
    assert_eq!(family.invoke(&envelope).await.unwrap(), "sent");
    let sent = s._moto.sms().await;
    assert_eq!(sent.len(), 1);
    let seen = stream_records(&s.config, TABLE).await.len();

    let logs = Captured::default();
    let _guard = logs.install();
    let answer = s
        .invoke(logs_event(
            "DATA_MESSAGE",
            &[sms_line(&sent[0].message_id, "SUCCESS")],
        ))
        .await;
    assert_eq!(answer["moved"], 1);

    let records = stream_records(&s.config, TABLE).await;
    let events: Vec<(&str, Value)> = records[seen..]
        .iter()
        .flat_map(|record| {
            let record: dynamodb::EventRecord =
                serde_json::from_value(record.clone()).expect("a stream record");
            notify::events::of_record(&record)
        })
        .map(|n| {
            (
                n.detail_type.name(),
                serde_json::to_value(&n.detail).unwrap(),
            )
        })
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "Message Delivered");
    assert_eq!(events[0].1["channel"], "sms");
    assert_eq!(events[0].1["priceUsd"], 0.00645);
    assert_eq!(events[0].1["reportedAt"], "2016-06-28T00:40:34.558Z");

    // The receipt's destination number and the session id stay out of the logs and the table.
    let logged = logs.text();
    assert!(logged.contains("\"outcome\":\"delivered\""), "{logged}");
    assert!(logged.contains("\"SpentMicroUsd\":6450"), "{logged}");
    for secret in ["995512345678", SESSION] {
        assert!(!logged.contains(secret), "{secret} in the logs: {logged}");
    }
    let items = scan_table(&s.config, TABLE).await;
    assert!(!format!("{items:?}").contains("+995512345678"));
    let record = items
        .iter()
        .find(|i| text(i, "record").starts_with("delivery#"))
        .unwrap();
    assert_eq!(text(record, "state"), DeliveryState::Delivered.name());
    assert_eq!(record.get("billed"), Some(&AttributeValue::N("1".into())));
}
