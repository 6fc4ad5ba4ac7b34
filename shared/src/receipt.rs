//! What AWS reports about a message after it took it: SES's event publishing (an EventBridge
//! event on the default bus) for e-mail, SNS's SMS delivery status log (a CloudWatch Logs line)
//! for SMS. Pure: one receipt's JSON in, a [`Receipt`] out.
//!
//! Only what the delivery record keeps is read: the provider's message id, the event's type,
//! its time, the bounce's type and subtype, the provider's words and the price. Serde skips
//! everything else, so the recipient's address or number, the headers and the subject a
//! receipt carries are never held in memory as fields, logged or stored.

use serde::Deserialize;
use serde_json::Value;

use crate::message::{Channel, DeliveryState};
use crate::timestamp::Timestamp;

/// One receipt, as the delivery record takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub channel: Channel,
    /// The id SNS's Publish or SES's SendEmail answered, which the delivery record holds.
    pub message_id: String,
    /// `delayed`, `delivered`, `bounced`, `complained` or `failed`.
    pub state: DeliveryState,
    /// When AWS says it happened; absent where the receipt has no time of its own.
    pub at: Option<Timestamp>,
    /// SES's bounce type (`Permanent`, `Transient`, `Undetermined`) and subtype.
    pub bounce_type: Option<String>,
    pub bounce_sub_type: Option<String>,
    /// The provider's words: the carrier's response, SES's reject reason, the delay's or
    /// complaint's type. Scrubbed of anything that could be a number or an address.
    pub provider_reason: Option<String>,
    /// What the SMS cost, as SNS reports it (`priceInUSD`), in decimal text.
    pub price_usd: Option<String>,
}

/// A receipt that is not one for a delivery record: counted and dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAReceipt {
    /// The JSON is not the shape AWS documents (edited by hand, another service's event).
    #[error("not a receipt: {0}")]
    Malformed(String),
    /// A documented shape whose type or status this version does not map (SES's `Send`,
    /// `Open`, `Click`, an SMS status other than SUCCESS and FAILURE): never guessed at.
    #[error("a receipt of a kind not recorded: {0}")]
    Unmapped(String),
}

impl NotAReceipt {
    /// A short tag for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            NotAReceipt::Malformed(_) => "malformed",
            NotAReceipt::Unmapped(_) => "unmapped",
        }
    }
}

/// The longest provider message id kept: SNS's and SES's are far shorter.
const MAX_MESSAGE_ID: usize = 128;
/// The longest provider text kept.
const MAX_REASON: usize = 200;

fn message_id(raw: &str) -> Result<String, NotAReceipt> {
    let ok = (1..=MAX_MESSAGE_ID).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@+=".contains(&b));
    match ok {
        true => Ok(raw.to_owned()),
        false => Err(NotAReceipt::Malformed("the message id".into())),
    }
}

/// The provider's words as a record may keep them: printable, bounded, and without what could
/// be a recipient. A text with an `@` is dropped whole; each run of 5 or more digits becomes
/// `#` (a carrier's text naming the number it failed to reach).
pub fn scrub(text: &str) -> Option<String> {
    if text.contains('@') || text.trim().is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        match digits.len() >= 5 {
            true => out.push('#'),
            false => out.push_str(digits),
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    Some(crate::redact::printable(out.trim(), MAX_REASON))
}

/// A price as SNS writes it (a JSON number), kept as decimal text (Rust writes an f64 without
/// an exponent, which DynamoDB's numbers need not parse); a negative or non-numeric one is
/// none.
fn price(value: Option<&Value>) -> Option<String> {
    let amount = value?.as_number()?.as_f64()?;
    (amount.is_finite() && amount >= 0.0).then(|| amount.to_string())
}

// ---------------------------------------------------------------- SMS

/// SNS's SMS delivery status log line (SNS developer guide, "Viewing Amazon CloudWatch metrics
/// and logs for SMS deliveries"): what is read of it.
#[derive(Deserialize)]
struct SmsLog {
    notification: SmsNotification,
    #[serde(default)]
    delivery: SmsDelivery,
    status: String,
}

#[derive(Deserialize)]
struct SmsNotification {
    #[serde(rename = "messageId")]
    message_id: String,
    timestamp: Option<String>,
}

#[derive(Deserialize, Default)]
struct SmsDelivery {
    #[serde(rename = "priceInUSD")]
    price_in_usd: Option<Value>,
    #[serde(rename = "providerResponse")]
    provider_response: Option<String>,
}

/// SNS's log time, `2016-06-28 00:40:34.558`, in UTC.
fn sms_time(raw: &str) -> Option<Timestamp> {
    let t = humantime::parse_rfc3339_weak(raw).ok()?;
    Some(Timestamp::from_system_time(t))
}

/// One line of SNS's SMS delivery status log (the `message` of a log event).
pub fn sms_receipt(line: &str) -> Result<Receipt, NotAReceipt> {
    let log: SmsLog =
        serde_json::from_str(line).map_err(|e| NotAReceipt::Malformed(e.to_string()))?;
    let state = match log.status.as_str() {
        "SUCCESS" => DeliveryState::Delivered,
        "FAILURE" => DeliveryState::Failed,
        other => {
            return Err(NotAReceipt::Unmapped(crate::redact::printable(other, 32)));
        }
    };
    Ok(Receipt {
        channel: Channel::Sms,
        message_id: message_id(&log.notification.message_id)?,
        state,
        at: log.notification.timestamp.as_deref().and_then(sms_time),
        bounce_type: None,
        bounce_sub_type: None,
        provider_reason: log.delivery.provider_response.as_deref().and_then(scrub),
        price_usd: price(log.delivery.price_in_usd.as_ref()),
    })
}

// ---------------------------------------------------------------- e-mail

/// SES's event record (SES developer guide, "Contents of event data that Amazon SES publishes
/// to Amazon SNS"; the EventBridge event's `detail` is the same record): what is read of it.
#[derive(Deserialize)]
struct SesEvent {
    #[serde(rename = "eventType")]
    event_type: String,
    mail: SesMail,
    bounce: Option<SesBounce>,
    complaint: Option<SesComplaint>,
    delivery: Option<SesTimed>,
    reject: Option<SesReject>,
    failure: Option<SesFailure>,
    #[serde(rename = "deliveryDelay")]
    delivery_delay: Option<SesDelay>,
}

#[derive(Deserialize)]
struct SesMail {
    #[serde(rename = "messageId")]
    message_id: String,
}

#[derive(Deserialize)]
struct SesTimed {
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct SesBounce {
    #[serde(rename = "bounceType")]
    bounce_type: Option<String>,
    #[serde(rename = "bounceSubType")]
    bounce_sub_type: Option<String>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct SesComplaint {
    #[serde(rename = "complaintFeedbackType")]
    feedback_type: Option<String>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct SesReject {
    reason: Option<String>,
}

#[derive(Deserialize)]
struct SesFailure {
    #[serde(rename = "errorMessage")]
    error_message: Option<String>,
}

#[derive(Deserialize)]
struct SesDelay {
    #[serde(rename = "delayType")]
    delay_type: Option<String>,
    timestamp: Option<String>,
}

fn ses_time(raw: Option<&str>) -> Option<Timestamp> {
    Timestamp::parse(raw?).ok()
}

/// A short word SES uses (a bounce type, a delay type): printable, at most 64 characters.
fn word(raw: Option<&str>) -> Option<String> {
    raw.and_then(scrub)
        .map(|w| crate::redact::printable(&w, 64))
}

/// An SES event record: the EventBridge event's `detail`.
pub fn email_receipt(detail: &Value) -> Result<Receipt, NotAReceipt> {
    let event = SesEvent::deserialize(detail).map_err(|e| NotAReceipt::Malformed(e.to_string()))?;
    let mut receipt = Receipt {
        channel: Channel::Email,
        message_id: message_id(&event.mail.message_id)?,
        state: DeliveryState::Delivered,
        at: None,
        bounce_type: None,
        bounce_sub_type: None,
        provider_reason: None,
        price_usd: None,
    };
    match event.event_type.as_str() {
        "Delivery" => {
            receipt.at = ses_time(event.delivery.and_then(|d| d.timestamp).as_deref());
        }
        "Bounce" => {
            let bounce = event
                .bounce
                .ok_or_else(|| NotAReceipt::Malformed("a Bounce without bounce".into()))?;
            receipt.state = DeliveryState::Bounced;
            receipt.at = ses_time(bounce.timestamp.as_deref());
            receipt.bounce_type = word(bounce.bounce_type.as_deref());
            receipt.bounce_sub_type = word(bounce.bounce_sub_type.as_deref());
        }
        "Complaint" => {
            let complaint = event
                .complaint
                .ok_or_else(|| NotAReceipt::Malformed("a Complaint without complaint".into()))?;
            receipt.state = DeliveryState::Complained;
            receipt.at = ses_time(complaint.timestamp.as_deref());
            receipt.provider_reason = word(complaint.feedback_type.as_deref());
        }
        "DeliveryDelay" => {
            let delay = event.delivery_delay.ok_or_else(|| {
                NotAReceipt::Malformed("a DeliveryDelay without deliveryDelay".into())
            })?;
            receipt.state = DeliveryState::Delayed;
            receipt.at = ses_time(delay.timestamp.as_deref());
            receipt.provider_reason = word(delay.delay_type.as_deref());
        }
        "Reject" => {
            receipt.state = DeliveryState::Failed;
            receipt.provider_reason = event
                .reject
                .and_then(|r| r.reason.as_deref().and_then(scrub));
        }
        "Rendering Failure" => {
            receipt.state = DeliveryState::Failed;
            receipt.provider_reason = event
                .failure
                .and_then(|f| f.error_message.as_deref().and_then(scrub));
        }
        other => {
            return Err(NotAReceipt::Unmapped(crate::redact::printable(other, 32)));
        }
    }
    Ok(receipt)
}

impl Receipt {
    /// The record's `reason` for a receipt that failed the message: what the `Message Delivery
    /// Failed` event says, a short tag (the provider's words are `providerReason`).
    pub fn failure_tag(&self) -> Option<&'static str> {
        match (self.state, self.channel) {
            (DeliveryState::Failed, Channel::Sms) => Some("carrier-failure"),
            (DeliveryState::Failed, Channel::Email) => Some("rejected-by-ses"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // SNS developer guide, "Viewing Amazon CloudWatch metrics and logs for SMS deliveries"
    // (the successful delivery's example, as the SNS knowledge center article repeats it).
    const SMS_SUCCESS: &str = r#"{"notification":{"messageId":"34d9b400-c6dd-5444-820d-fbeb0f1f54cf","timestamp":"2016-06-28 00:40:34.558"},"delivery":{"phoneCarrier":"My Phone Carrier","mnc":270,"destination":"+1XXX5550100","priceInUSD":0.00645,"smsType":"Transactional","mcc":310,"providerResponse":"Message has been accepted by phone carrier","dwellTimeMs":599,"dwellTimeMsUntilDeviceAck":1344},"status":"SUCCESS"}"#;
    // The same page's failed delivery.
    const SMS_FAILURE: &str = r#"{"notification":{"messageId":"1077257a-92f3-5ca3-bc97-6a915b310625","timestamp":"2016-06-28 00:40:34.559"},"delivery":{"mnc":0,"destination":"+1XXX5550100","priceInUSD":0.00645,"smsType":"Transactional","mcc":0,"providerResponse":"Unknown error attempting to reach phone","dwellTimeMs":1420,"dwellTimeMsUntilDeviceAck":1692},"status":"FAILURE"}"#;

    #[test]
    fn an_sms_delivered_keeps_its_time_price_and_the_carriers_words() {
        let r = sms_receipt(SMS_SUCCESS).unwrap();
        assert_eq!(r.channel, Channel::Sms);
        assert_eq!(r.message_id, "34d9b400-c6dd-5444-820d-fbeb0f1f54cf");
        assert_eq!(r.state, DeliveryState::Delivered);
        assert_eq!(r.at.unwrap().to_string(), "2016-06-28T00:40:34.558Z");
        assert_eq!(r.price_usd.as_deref(), Some("0.00645"));
        assert_eq!(
            r.provider_reason.as_deref(),
            Some("Message has been accepted by phone carrier")
        );
        assert!(!format!("{r:?}").contains("5550100"));
    }

    #[test]
    fn an_sms_failed_is_failed_with_a_tag_and_the_carriers_words() {
        let r = sms_receipt(SMS_FAILURE).unwrap();
        assert_eq!(r.state, DeliveryState::Failed);
        assert_eq!(r.failure_tag(), Some("carrier-failure"));
        assert_eq!(
            r.provider_reason.as_deref(),
            Some("Unknown error attempting to reach phone")
        );
    }

    #[test]
    fn an_sms_status_not_documented_is_not_guessed() {
        let line = SMS_SUCCESS.replace("\"SUCCESS\"", "\"PENDING\"");
        assert_eq!(
            sms_receipt(&line),
            Err(NotAReceipt::Unmapped("PENDING".into()))
        );
        assert!(matches!(sms_receipt("{}"), Err(NotAReceipt::Malformed(_))));
        let line = SMS_SUCCESS.replace("34d9b400-c6dd-5444-820d-fbeb0f1f54cf", "a b");
        assert!(matches!(sms_receipt(&line), Err(NotAReceipt::Malformed(_))));
    }

    #[test]
    fn the_providers_words_lose_numbers_and_addresses() {
        assert_eq!(
            scrub("Phone +995512345678 unreachable").as_deref(),
            Some("Phone +# unreachable")
        );
        assert_eq!(
            scrub("550 5.1.1 user unknown").as_deref(),
            Some("550 5.1.1 user unknown")
        );
        assert_eq!(scrub("no such user j.doe@example.com"), None);
        assert_eq!(scrub("  "), None);
        assert_eq!(
            scrub(&"x".repeat(500)).unwrap().chars().count(),
            MAX_REASON + 3
        );
    }

    #[test]
    fn a_price_is_a_non_negative_number_or_none() {
        assert_eq!(price(Some(&json!(0.00645))).as_deref(), Some("0.00645"));
        assert_eq!(price(Some(&json!(1e-5))).as_deref(), Some("0.00001"));
        assert_eq!(price(Some(&json!(-1))), None);
        assert_eq!(price(Some(&json!("0.1"))), None);
        assert_eq!(price(None), None);
    }

    fn ses(event_type: &str, extra: Value) -> Value {
        let mut detail = json!({
            "eventType": event_type,
            "mail": {"timestamp": "2017-08-05T00:40:02.012Z", "source": "Sender Name <sender@example.com>",
                     "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
                     "destination": ["recipient@example.com"]},
        });
        detail
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        detail
    }

    #[test]
    fn each_ses_event_type_is_one_state() {
        let cases = [
            (
                "Delivery",
                json!({"delivery": {"timestamp": "2017-08-05T00:41:03.012Z", "recipients": ["recipient@example.com"]}}),
                DeliveryState::Delivered,
            ),
            (
                "Bounce",
                json!({"bounce": {"bounceType": "Permanent", "bounceSubType": "General", "timestamp": "2017-08-05T00:41:02.669Z", "bouncedRecipients": [{"emailAddress": "recipient@example.com", "diagnosticCode": "smtp; 550 user unknown <recipient@example.com>"}]}}),
                DeliveryState::Bounced,
            ),
            (
                "Complaint",
                json!({"complaint": {"complaintFeedbackType": "abuse", "timestamp": "2017-08-05T00:41:02.669Z", "complainedRecipients": [{"emailAddress": "recipient@example.com"}]}}),
                DeliveryState::Complained,
            ),
            (
                "DeliveryDelay",
                json!({"deliveryDelay": {"delayType": "TransientCommunicationFailure", "timestamp": "2020-06-16T00:15:40.641Z", "delayedRecipients": [{"emailAddress": "recipient@example.com"}]}}),
                DeliveryState::Delayed,
            ),
            (
                "Reject",
                json!({"reject": {"reason": "Bad content"}}),
                DeliveryState::Failed,
            ),
            (
                "Rendering Failure",
                json!({"failure": {"errorMessage": "Attribute 'attributeName' is not present in the rendering data.", "templateName": "MyTemplate"}}),
                DeliveryState::Failed,
            ),
        ];
        for (kind, extra, state) in cases {
            let r = email_receipt(&ses(kind, extra)).unwrap();
            assert_eq!(r.state, state, "{kind}");
            assert_eq!(r.channel, Channel::Email);
            assert!(!format!("{r:?}").contains("recipient@"), "{kind}: {r:?}");
        }
        let bounce = email_receipt(&ses("Bounce", json!({"bounce": {"bounceType": "Permanent", "bounceSubType": "General", "timestamp": "2017-08-05T00:41:02.669Z"}}))).unwrap();
        assert_eq!(bounce.bounce_type.as_deref(), Some("Permanent"));
        assert_eq!(bounce.bounce_sub_type.as_deref(), Some("General"));
        assert_eq!(bounce.at.unwrap().to_string(), "2017-08-05T00:41:02.669Z");
        assert_eq!(bounce.failure_tag(), None);
    }

    #[test]
    fn ses_events_not_recorded_are_unmapped_and_broken_ones_malformed() {
        assert_eq!(
            email_receipt(&ses("Open", json!({}))),
            Err(NotAReceipt::Unmapped("Open".into()))
        );
        assert!(matches!(
            email_receipt(&ses("Bounce", json!({}))),
            Err(NotAReceipt::Malformed(_))
        ));
        assert!(matches!(
            email_receipt(&json!({"eventType": "Delivery"})),
            Err(NotAReceipt::Malformed(_))
        ));
        assert!(matches!(
            email_receipt(&json!([1])),
            Err(NotAReceipt::Malformed(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn no_input_panics_either_reader(text in ".{0,400}") {
            let _ = sms_receipt(&text);
            let _ = email_receipt(&Value::String(text.clone()));
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                let _ = email_receipt(&value);
            }
            let _ = scrub(&text);
        }
    }
}
