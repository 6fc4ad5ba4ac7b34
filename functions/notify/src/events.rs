//! Which changes of the sessions table are events for the operator's own systems, and what
//! each event says. Pure: one stream record's old and new images in, events out.
//!
//! The event source mapping's filter (template.yaml) already drops what it can express: removals
//! (TTL), rate-limit windows, pending and sent deliveries. What it cannot compare, an old image
//! against a new one, is decided here: a status record whose current result did not change (a
//! stale entry that only joined the history, a retry) is no event.

use serde_dynamo::{AttributeValue, Item};
use serde_json::{Map, Value};
use shared::store::UNKNOWN_SESSION;
use shared::store::delivery::DELIVERY_RECORD_PREFIX;
use shared::store::status::STATUS_RECORD;
use shared::store::video::VIDEO_RECORD_PREFIX;

/// An event's `detail-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
pub enum DetailType {
    #[strum(serialize = "Session Status Changed")]
    SessionStatusChanged,
    #[strum(serialize = "Video Call Status Changed")]
    VideoCallStatusChanged,
    #[strum(serialize = "Video File Available")]
    VideoFileAvailable,
    #[strum(serialize = "Message Delivery Failed")]
    MessageDeliveryFailed,
    #[strum(serialize = "Message Suppressed")]
    MessageSuppressed,
    #[strum(serialize = "Callback Not Handled")]
    CallbackNotHandled,
}

impl DetailType {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// One event to publish. `detail.id` is the same however often the change is delivered: the
/// request id that caused it plus the record, so a consumer can drop repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub detail_type: DetailType,
    pub detail: Value,
}

/// A stream record's change.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub event_name: &'a str,
    pub old: &'a Item,
    pub new: &'a Item,
}

/// The events of one change, in the order a consumer should see them.
pub fn notifications(change: Change<'_>) -> Vec<Notification> {
    if !matches!(change.event_name, "INSERT" | "MODIFY") {
        return Vec::new();
    }
    let new = Image(change.new);
    let old = Image(change.old);
    let (Some(session), Some(record)) = (new.text("sessionId"), new.text("record")) else {
        return Vec::new();
    };
    if record == STATUS_RECORD {
        status(session, &old, &new).into_iter().collect()
    } else if record.starts_with(VIDEO_RECORD_PREFIX) {
        video(session, record, &old, &new)
    } else if record.starts_with(DELIVERY_RECORD_PREFIX) {
        delivery(session, record, &old, &new).into_iter().collect()
    } else if record.starts_with("unhandled#") && change.event_name == "INSERT" {
        vec![unhandled(session, &new)]
    } else {
        Vec::new()
    }
}

fn status(session: &str, old: &Image, new: &Image) -> Option<Notification> {
    let result = new.text("result")?;
    let previous = old.text("result");
    if previous == Some(result) {
        return None;
    }
    let request_id = new.text("requestId").unwrap_or_default();
    let mut detail = Detail::new(format!("{request_id}:{STATUS_RECORD}"), session);
    detail.put("result", result.into());
    if let Some(previous) = previous {
        detail.put("previousResult", previous.into());
    }
    detail.copy(new, &["sessionType", "receivedAt", "requestId"]);
    Some(detail.into(DetailType::SessionStatusChanged))
}

const VIDEO_STATUSES: [&str; 4] = [
    "roomStatus",
    "compositionStatus",
    "videoFileStatus",
    "videoFileId",
];

fn video(session: &str, record: &str, old: &Image, new: &Image) -> Vec<Notification> {
    let mut events = Vec::new();
    let request_id = new.text("requestId").unwrap_or_default();
    if old.0.is_empty() || VIDEO_STATUSES.iter().any(|k| old.value(k) != new.value(k)) {
        let mut detail = Detail::new(format!("{request_id}:{record}"), session);
        detail.copy(new, &["roomId"]);
        detail.copy(new, &VIDEO_STATUSES);
        detail.copy(new, &["receivedAt", "requestId"]);
        events.push(detail.into(DetailType::VideoCallStatusChanged));
    }
    let available = |image: &Image| image.text("videoFileStatus") == Some("available");
    if available(new) && !available(old) {
        let mut detail = Detail::new(format!("{request_id}:{record}:available"), session);
        detail.copy(
            new,
            &[
                "roomId",
                "videoFileId",
                "compositionStatus",
                "receivedAt",
                "requestId",
            ],
        );
        events.push(detail.into(DetailType::VideoFileAvailable));
    }
    events
}

fn delivery(session: &str, record: &str, old: &Image, new: &Image) -> Option<Notification> {
    let state = new.text("state")?;
    let detail_type = match state {
        "failed" => DetailType::MessageDeliveryFailed,
        "suppressed" => DetailType::MessageSuppressed,
        _ => return None,
    };
    if old.text("state") == Some(state) {
        return None;
    }
    let request_id = new.text("requestId").unwrap_or_default();
    let mut detail = Detail::new(format!("{request_id}:{record}:{state}"), session);
    // The recipient as the record holds it: masked by the function that wrote it.
    detail.copy(
        new,
        &[
            "channel",
            "kind",
            "recipient",
            "reason",
            "receivedAt",
            "requestId",
        ],
    );
    Some(detail.into(detail_type))
}

fn unhandled(session: &str, new: &Image) -> Notification {
    let request_id = new.text("requestId").unwrap_or_default();
    let mut detail = Detail::new(format!("{request_id}:unhandled"), session);
    detail.copy(new, &["type", "receivedAt", "requestId"]);
    detail.into(DetailType::CallbackNotHandled)
}

/// An image's attributes as the event's JSON values.
struct Image<'a>(&'a Item);

impl Image<'_> {
    fn text(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(AttributeValue::S(s)) => Some(s),
            _ => None,
        }
    }

    /// Strings and numbers as they are, NULL as null; absent (or another type) as `None`.
    fn value(&self, name: &str) -> Option<Value> {
        match self.0.get(name)? {
            AttributeValue::S(s) => Some(Value::from(s.as_str())),
            AttributeValue::N(n) => serde_json::from_str(n).ok(),
            AttributeValue::Bool(b) => Some(Value::from(*b)),
            AttributeValue::Null(_) => Some(Value::Null),
            _ => None,
        }
    }
}

struct Detail(Map<String, Value>);

impl Detail {
    fn new(id: String, session: &str) -> Self {
        let mut fields = Map::new();
        fields.insert("id".into(), id.into());
        // A callback of an unknown type without a session is stored under a placeholder.
        if session != UNKNOWN_SESSION {
            fields.insert("sessionId".into(), session.into());
        }
        Self(fields)
    }

    fn put(&mut self, name: &str, value: Value) {
        self.0.insert(name.to_owned(), value);
    }

    fn copy(&mut self, image: &Image, names: &[&str]) {
        for name in names {
            if let Some(value) = image.value(name) {
                self.put(name, value);
            }
        }
    }

    fn into(self, detail_type: DetailType) -> Notification {
        Notification {
            detail_type,
            detail: Value::Object(self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(value: Value) -> Item {
        let Value::Object(fields) = value else {
            panic!("an object")
        };
        let map: std::collections::HashMap<String, AttributeValue> = fields
            .into_iter()
            .map(|(k, v)| {
                let attribute = match v {
                    Value::Null => AttributeValue::Null(true),
                    Value::Number(n) => AttributeValue::N(n.to_string()),
                    Value::String(s) => AttributeValue::S(s),
                    other => panic!("unsupported {other}"),
                };
                (k, attribute)
            })
            .collect();
        Item::from(map)
    }

    fn events(name: &str, old: Value, new: Value) -> Vec<(&'static str, Value)> {
        let (old, new) = (item(old), item(new));
        notifications(Change {
            event_name: name,
            old: &old,
            new: &new,
        })
        .into_iter()
        .map(|n| (n.detail_type.name(), n.detail))
        .collect()
    }

    fn status(result: &str, request: &str) -> Value {
        json!({"sessionId": "s1", "record": "status", "result": result, "sessionType": "kyc",
               "receivedAt": "2026-11-27T19:49:15.123Z", "requestId": request, "version": 3})
    }

    #[test]
    fn a_first_status_has_no_previous_result() {
        let got = events("INSERT", json!({}), status("APPROVED", "r1"));
        assert_eq!(
            got,
            vec![(
                "Session Status Changed",
                json!({"id": "r1:status", "sessionId": "s1", "result": "APPROVED",
                       "sessionType": "kyc", "receivedAt": "2026-11-27T19:49:15.123Z",
                       "requestId": "r1"})
            )]
        );
    }

    #[test]
    fn a_changed_result_names_the_previous_one_and_an_unchanged_one_is_no_event() {
        let got = events(
            "MODIFY",
            status("MANUAL_CHECK", "r1"),
            status("APPROVED", "r2"),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1["previousResult"], "MANUAL_CHECK");
        assert_eq!(got[0].1["id"], "r2:status");
        // A stale entry joined the history, or a newer callback said the same.
        assert!(events("MODIFY", status("APPROVED", "r1"), status("APPROVED", "r1")).is_empty());
        assert!(events("MODIFY", status("APPROVED", "r1"), status("APPROVED", "r3")).is_empty());
    }

    fn video(room: &str, file: &str, file_id: Value) -> Value {
        json!({"sessionId": "s1", "record": "video#RM1", "roomId": "RM1", "roomStatus": room,
               "compositionStatus": "enqueued", "videoFileStatus": file, "videoFileId": file_id,
               "receivedAt": "2026-11-27T19:49:15.123Z", "requestId": "r2"})
    }

    #[test]
    fn a_video_file_becoming_available_is_two_events() {
        let got = events(
            "MODIFY",
            video("ended", "processing", Value::Null),
            video("ended", "available", json!("F1")),
        );
        let types: Vec<_> = got.iter().map(|(t, _)| *t).collect();
        assert_eq!(types, ["Video Call Status Changed", "Video File Available"]);
        assert_eq!(got[0].1["videoFileId"], "F1");
        assert_eq!(got[1].1["id"], "r2:video#RM1:available");
        assert_eq!(got[1].1["videoFileId"], "F1");
    }

    #[test]
    fn a_video_update_that_changes_nothing_is_no_event() {
        let same = video("ended", "available", json!("F1"));
        assert!(events("MODIFY", same.clone(), same).is_empty());
        let first = events("INSERT", json!({}), video("empty", "null", Value::Null));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].1["videoFileId"], Value::Null);
    }

    fn delivery(state: &str) -> Value {
        json!({"sessionId": "s1", "record": "delivery#abc", "channel": "sms", "kind": "otp",
               "recipient": "+9955*****78", "state": state, "reason": "rate-limited",
               "requestId": "r4", "receivedAt": "2026-11-27T19:49:15.123Z",
               "expiresAt": 1800000000})
    }

    #[test]
    fn failed_and_suppressed_deliveries_are_events_other_states_are_not() {
        let got = events("INSERT", json!({}), delivery("suppressed"));
        assert_eq!(got[0].0, "Message Suppressed");
        assert_eq!(got[0].1["recipient"], "+9955*****78");
        assert_eq!(got[0].1["id"], "r4:delivery#abc:suppressed");
        assert!(got[0].1.get("expiresAt").is_none());
        let got = events("MODIFY", delivery("pending"), delivery("failed"));
        assert_eq!(got[0].0, "Message Delivery Failed");
        for state in ["pending", "sent", "expired"] {
            assert!(
                events("MODIFY", json!({}), delivery(state)).is_empty(),
                "{state}"
            );
        }
        assert!(events("MODIFY", delivery("failed"), delivery("failed")).is_empty());
    }

    #[test]
    fn an_unhandled_callback_is_an_event_without_its_payload() {
        let new = json!({"sessionId": "unknown", "record": "unhandled#t#r5", "type": "x-new",
                         "receivedAt": "2026-11-27T19:49:15.123Z", "requestId": "r5",
                         "payload": "{\"phone\":\"+995512345678\"}"});
        let got = events("INSERT", json!({}), new);
        assert_eq!(
            got,
            vec![(
                "Callback Not Handled",
                json!({"id": "r5:unhandled", "type": "x-new",
                       "receivedAt": "2026-11-27T19:49:15.123Z", "requestId": "r5"})
            )]
        );
    }

    #[test]
    fn removals_and_other_records_are_no_events() {
        assert!(events("REMOVE", status("APPROVED", "r1"), json!({})).is_empty());
        let window = json!({"sessionId": "ratelimit#sms-budget", "record": "window", "m1": 3});
        assert!(events("MODIFY", json!({}), window).is_empty());
    }
}
