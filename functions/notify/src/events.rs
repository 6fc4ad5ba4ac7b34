//! Which changes of the sessions table are events for the operator's own systems, and what
//! each event says. Pure: one stream record's old and new images in, events out.
//!
//! The event source mapping's filter (template.yaml) already drops what it can express: removals
//! (TTL), rate-limit windows, pending deliveries and those sent as confirmed. What it cannot
//! compare, an old image against a new one, is decided here: a status record whose current
//! result did not change (a stale entry that only joined the history, a retry) is no event.
//!
//! Each event's `detail` is a typed struct below; `schemas/` is generated from these types
//! ([`schemas`], `make schemas`), so the schemas a consumer validates against and the details
//! notify puts on the bus are one fact, not two copies of it.

use schemars::JsonSchema;
use serde::Serialize;
use serde_dynamo::{AttributeValue, Item};
use serde_json::Value;
use shared::store::delivery::DELIVERY_RECORD_PREFIX;
use shared::store::reconcile::RECONCILE_RECORD;
use shared::store::status::{SOURCE_RECONCILE, STATUS_RECORD};
use shared::store::video::VIDEO_RECORD_PREFIX;
use shared::store::{REJECTED_RECORD_PREFIX, UNKNOWN_SESSION};

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
    #[strum(serialize = "Message Deduplicated")]
    MessageDeduplicated,
    #[strum(serialize = "Callback Not Handled")]
    CallbackNotHandled,
    #[strum(serialize = "Callback Rejected")]
    CallbackRejected,
    #[strum(serialize = "Session Status Reconciled")]
    SessionStatusReconciled,
    #[strum(serialize = "Session Reconcile Abandoned")]
    SessionReconcileAbandoned,
    #[strum(serialize = "Message Delivered")]
    MessageDelivered,
    #[strum(serialize = "Message Bounced")]
    MessageBounced,
    #[strum(serialize = "Message Complained")]
    MessageComplained,
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
    pub detail: Detail,
}

impl Notification {
    /// The `detail` as the JSON text PutEvents carries.
    pub fn detail_json(&self) -> String {
        // Plain structs of strings: serializing them cannot fail.
        serde_json::to_string(&self.detail).unwrap_or_default()
    }
}

/// Every event's `detail`, one struct per `detail-type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Detail {
    SessionStatusChanged(SessionStatusChanged),
    VideoCallStatusChanged(VideoCallStatusChanged),
    VideoFileAvailable(VideoFileAvailable),
    Message(MessageDetail),
    MessageDeduplicated(MessageDeduplicated),
    CallbackNotHandled(CallbackNotHandled),
    CallbackRejected(CallbackRejected),
    SessionStatusReconciled(SessionStatusReconciled),
    SessionReconcileAbandoned(SessionReconcileAbandoned),
    MessageReceipt(MessageReceipt),
}

/// A session id, as the ingress accepts it (`shared::fields::SessionId`).
const SESSION_ID: &str = "^[A-Za-z0-9_-]{1,128}$";
/// A video room or file id, as the ingress accepts it (`shared::fields::RoomId`).
const ROOM_ID: &str = "^[A-Za-z0-9_.:-]{1,128}$";

/// `Session Status Changed`: a session's current result changed, its first one included. A
/// stale callback that only joined the history, or a repeat of the same result, is no event.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields, title = "Session Status Changed")]
pub struct SessionStatusChanged {
    /// The request id that caused the change plus the record: the same however often the event
    /// is delivered. Drop an event whose id you have seen.
    #[schemars(length(min = 1))]
    pub id: String,
    /// The Identomat session.
    #[schemars(regex(pattern = SESSION_ID))]
    pub session_id: String,
    /// The new current result, as Identomat sent it (APPROVED, REJECTED, MANUAL_CHECK,
    /// ADDITIONAL_INFORMATION_REQUESTED, and values added later).
    #[schemars(length(min = 1, max = 64))]
    pub result: String,
    /// The result before; absent on a session's first.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub previous_result: Option<String>,
    /// Present, and true, when the new result is a non-final one (MANUAL_CHECK,
    /// ADDITIONAL_INFORMATION_REQUESTED) after a final one (APPROVED, REJECTED): a late retry
    /// of an older callback, or a session reopened at Identomat. Check the session there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regressed: Option<bool>,
    /// The final result the session regressed from, with `regressed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub regressed_from: Option<String>,
    /// `kyc`, `kyb`, or a value Identomat adds later.
    #[schemars(length(min = 1, max = 64))]
    pub session_type: String,
    /// When the receiver got the callback (RFC 3339, UTC, milliseconds).
    #[schemars(extend("format" = "date-time"))]
    pub received_at: String,
    /// The callback's request id (API Gateway's), as in the logs and the table.
    #[schemars(length(min = 1))]
    pub request_id: String,
    /// Present, `reconcile`, when the result was read from Identomat's `result/` rather than
    /// received in a callback (a `Session Status Reconciled` event follows).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^reconcile$"))]
    pub source: Option<String>,
}

/// `Session Status Reconciled`: the reconcile function read a result from Identomat's
/// `result/` that differed from the record's (a callback missed, or regressed), and recorded
/// it. The same change is also a `Session Status Changed` event.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields, title = "Session Status Reconciled")]
pub struct SessionStatusReconciled {
    /// The reconcile's request id plus the record and `:reconciled`. Drop an event whose id you
    /// have seen.
    #[schemars(length(min = 1))]
    pub id: String,
    /// The Identomat session.
    #[schemars(regex(pattern = SESSION_ID))]
    pub session_id: String,
    /// The result `result/` answered, as the callbacks spell it (APPROVED, REJECTED,
    /// MANUAL_CHECK, ADDITIONAL_INFORMATION_REQUESTED).
    #[schemars(length(min = 1, max = 64))]
    pub result: String,
    /// The record's result before; absent when no callback had brought one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub previous_result: Option<String>,
    /// When the receiver read it (RFC 3339, UTC, milliseconds).
    #[schemars(extend("format" = "date-time"))]
    pub reconciled_at: String,
    /// The reconcile's own request id (`reconcile-<uuid>`), as in the status history.
    #[schemars(length(min = 1))]
    pub request_id: String,
}

/// `Session Reconcile Abandoned`: a session still open (an OTP or link sent, or a non-final
/// result, and no final one) after the last scheduled question to `result/` (7 days with the
/// defaults). It is no longer asked; `scripts/tools/reconcile.py --session` still can.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields, title = "Session Reconcile Abandoned")]
pub struct SessionReconcileAbandoned {
    /// The session, the record and `:abandoned:` and when it opened.
    #[schemars(length(min = 1))]
    pub id: String,
    /// The Identomat session.
    #[schemars(regex(pattern = SESSION_ID))]
    pub session_id: String,
    /// When the session opened (RFC 3339, UTC, milliseconds).
    #[schemars(extend("format" = "date-time"))]
    pub opened_at: String,
    /// The last question's outcome: same, observed or not-found.
    #[schemars(length(min = 1, max = 64))]
    pub last_outcome: String,
    /// The last undocumented value `result/` answered, if any (`in_progress`, `(absent)`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub observed: Option<String>,
    /// How many times it was asked.
    #[schemars(range(min = 1))]
    pub attempts: u64,
    /// When it was asked last (RFC 3339, UTC, milliseconds).
    #[schemars(extend("format" = "date-time"))]
    pub reconciled_at: String,
}

/// `Video Call Status Changed`: a room's status, composition, file status or file id changed.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    deny_unknown_fields,
    title = "Video Call Status Changed",
    transform = present_even_when_null
)]
pub struct VideoCallStatusChanged {
    /// The request id that caused the change plus the record. Drop an event whose id you have
    /// seen.
    #[schemars(length(min = 1))]
    pub id: String,
    /// The Identomat session.
    #[schemars(regex(pattern = SESSION_ID))]
    pub session_id: String,
    /// The video room.
    #[schemars(regex(pattern = ROOM_ID))]
    pub room_id: String,
    /// `empty`, `ended`, or a value Identomat adds later.
    #[schemars(length(min = 1, max = 64))]
    pub room_status: String,
    /// `available`, another value, or null.
    #[schemars(length(min = 1, max = 64))]
    pub composition_status: Option<String>,
    /// `available` when the recording can be fetched, another value, or null.
    #[schemars(length(min = 1, max = 64))]
    pub video_file_status: Option<String>,
    /// The recording's file id for Identomat's `/get-video-call-videos`; null until there is one.
    #[schemars(regex(pattern = ROOM_ID))]
    pub video_file_id: Option<String>,
    /// When the receiver got the callback (RFC 3339, UTC, milliseconds).
    #[schemars(extend("format" = "date-time"))]
    pub received_at: String,
    /// The callback's request id.
    #[schemars(length(min = 1))]
    pub request_id: String,
}

/// The fields a video event always carries, null when the platform sent null: required in the
/// schema, though an `Option` (which schemars takes for "may be absent").
fn present_even_when_null(schema: &mut schemars::Schema) {
    const ALWAYS: [&str; 3] = ["compositionStatus", "videoFileStatus", "videoFileId"];
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let present: Vec<Value> = ALWAYS
        .iter()
        .filter(|name| properties.contains_key(**name))
        .map(|name| Value::from(*name))
        .collect();
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        for name in present {
            if !required.contains(&name) {
                required.push(name);
            }
        }
    }
}

/// `Video File Available`: a room's `videoFileStatus` became `available`, what a consumer
/// fetching recordings waits for.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    deny_unknown_fields,
    title = "Video File Available",
    transform = present_even_when_null
)]
pub struct VideoFileAvailable {
    /// The request id that caused the change plus the record and `:available`. Drop an event
    /// whose id you have seen.
    #[schemars(length(min = 1))]
    pub id: String,
    /// The Identomat session.
    #[schemars(regex(pattern = SESSION_ID))]
    pub session_id: String,
    /// The video room.
    #[schemars(regex(pattern = ROOM_ID))]
    pub room_id: String,
    /// The recording's file id for Identomat's `/get-video-call-videos`, when Identomat sent
    /// one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ROOM_ID))]
    pub video_file_id: Option<String>,
    /// `available`, another value, or null.
    #[schemars(length(min = 1, max = 64))]
    pub composition_status: Option<String>,
    /// When the receiver got the callback (RFC 3339, UTC, milliseconds).
    #[schemars(extend("format" = "date-time"))]
    pub received_at: String,
    /// The callback's request id.
    #[schemars(length(min = 1))]
    pub request_id: String,
}

/// `Message Delivery Failed` and `Message Suppressed`: an SMS or e-mail that did not go out,
/// or may not have. Never the message's text or the recipient in clear.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct MessageDetail {
    /// The request id that caused the change plus the record and the state. Drop an event
    /// whose id you have seen.
    #[schemars(length(min = 1))]
    pub id: String,
    /// The Identomat session.
    #[schemars(regex(pattern = SESSION_ID))]
    pub session_id: String,
    pub channel: Channel,
    pub kind: Kind,
    /// The recipient as the logs show it: `+9955*****78`, `j***@example.com`.
    #[schemars(length(min = 1, max = 256))]
    pub recipient: String,
    /// Why: the provider's error code, `otp-too-old` (the OTP waited too long to be sent),
    /// `unconfirmed` (two attempts may have sent it; a third did not send), `message-too-long`,
    /// the rule that held it back (`rate-limited`, `session-rate-limited`,
    /// `budget-exhausted`, `country-not-allowed`, ...), or, from a delivery receipt after the
    /// send, `carrier-failure` (SMS) or `rejected-by-ses` (e-mail).
    #[schemars(length(min = 1, max = 256))]
    pub reason: String,
    /// From a delivery receipt: the carrier's or SES's own words, numbers and addresses
    /// removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub provider_reason: Option<String>,
    /// From an SMS delivery receipt: what SNS reports the SMS cost, in USD.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub price_usd: Option<f64>,
    /// When the receiver got the callback (RFC 3339, UTC, milliseconds).
    #[schemars(extend("format" = "date-time"))]
    pub received_at: String,
    /// The callback's request id.
    #[schemars(length(min = 1))]
    pub request_id: String,
}

/// `Message Delivered`, `Message Bounced` and `Message Complained`: what SES or the SMS
/// carrier reported after the message was sent (a delivery receipt, seconds to hours after
/// the send). Never the message's text or the recipient in clear.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct MessageReceipt {
    /// The request id that caused the message plus the record and the state. Drop an event
    /// whose id you have seen.
    #[schemars(length(min = 1))]
    pub id: String,
    /// The Identomat session.
    #[schemars(regex(pattern = SESSION_ID))]
    pub session_id: String,
    pub channel: Channel,
    pub kind: Kind,
    /// The recipient as the logs show it: `+9955*****78`, `j***@example.com`.
    #[schemars(length(min = 1, max = 256))]
    pub recipient: String,
    /// When the provider says it happened (RFC 3339, UTC).
    #[schemars(extend("format" = "date-time"))]
    pub reported_at: String,
    /// A bounce's type as SES reports it: `Permanent` (do not send again), `Transient`,
    /// `Undetermined`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub bounce_type: Option<String>,
    /// A bounce's subtype as SES reports it (`General`, `NoEmail`, `Suppressed`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub bounce_sub_type: Option<String>,
    /// The carrier's or SES's own words (a complaint's feedback type), numbers and addresses
    /// removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub provider_reason: Option<String>,
    /// From an SMS delivery receipt: what SNS reports the SMS cost, in USD.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub price_usd: Option<f64>,
    /// When the receiver got the callback that asked for the message (RFC 3339, UTC,
    /// milliseconds).
    #[schemars(extend("format" = "date-time"))]
    pub received_at: String,
    /// The callback's request id.
    #[schemars(length(min = 1))]
    pub request_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Otp,
    Link,
}

/// `Message Deduplicated`: an SMS or e-mail was asked for again (the same message to the same
/// recipient within `DEDUPE_WINDOW_SECONDS`, or the same request retried) and not sent again.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields, title = "Message Deduplicated")]
pub struct MessageDeduplicated {
    /// The repeat's request id plus the record, `:deduplicated:` and the count. Drop an event
    /// whose id you have seen.
    #[schemars(length(min = 1))]
    pub id: String,
    /// The Identomat session.
    #[schemars(regex(pattern = SESSION_ID))]
    pub session_id: String,
    pub channel: Channel,
    pub kind: Kind,
    /// The recipient as the logs show it: `+9955*****78`, `j***@example.com`.
    #[schemars(length(min = 1, max = 256))]
    pub recipient: String,
    /// The state of the message the repeat asked for again: `sent`, `pending` (being sent),
    /// `retrying` (an attempt failed and will be retried), `suppressed`, `failed` or `expired`.
    #[schemars(length(min = 1, max = 64))]
    pub state: String,
    /// How many repeats the message has had.
    #[schemars(range(min = 1))]
    pub duplicates: u64,
    /// When the receiver got the repeat (RFC 3339, UTC, milliseconds).
    #[schemars(extend("format" = "date-time"))]
    pub received_at: String,
    /// The repeat's request id.
    #[schemars(length(min = 1))]
    pub request_id: String,
    /// The request id of the callback that asked for the message first.
    #[schemars(length(min = 1))]
    pub first_request_id: String,
}

/// `Callback Rejected`: an authenticated callback was refused for a field (422). Its record,
/// `rejected#<receivedAt>#<requestId>`, holds the other fields, masked.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields, title = "Callback Rejected")]
pub struct CallbackRejected {
    /// The request id plus `:rejected`.
    #[schemars(length(min = 1))]
    pub id: String,
    /// The Identomat session, when the callback carried a valid one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = SESSION_ID))]
    pub session_id: Option<String>,
    /// The callback's `type`, when it is one this version knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub r#type: Option<String>,
    /// The field refused.
    #[schemars(length(min = 1, max = 64))]
    pub field: String,
    /// The rule it broke, in the words of the 422 answer.
    #[schemars(length(min = 1, max = 256))]
    pub rule: String,
    /// The rule as a short, stable tag (`not-e164`, `foreign-link`, ...).
    #[schemars(length(min = 1, max = 64))]
    pub rule_code: String,
    /// For a text that names hosts not in SESSION_LINK_HOSTS: those hosts (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10), inner(length(min = 1, max = 64)))]
    pub foreign_hosts: Vec<String>,
    /// When the receiver got the callback (RFC 3339, UTC, milliseconds).
    #[schemars(extend("format" = "date-time"))]
    pub received_at: String,
    /// The callback's request id.
    #[schemars(length(min = 1))]
    pub request_id: String,
}

/// `Callback Not Handled`: a callback of a type this version does not know was stored. Its
/// payload stays in the table.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields, title = "Callback Not Handled")]
pub struct CallbackNotHandled {
    /// The request id plus `:unhandled`.
    #[schemars(length(min = 1))]
    pub id: String,
    /// The Identomat session, when the callback carried a valid one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = SESSION_ID))]
    pub session_id: Option<String>,
    /// The callback's `type`, as received (at most 64 characters: longer ones are refused).
    #[schemars(length(min = 1, max = 64))]
    pub r#type: String,
    /// When the receiver got the callback (RFC 3339, UTC, milliseconds).
    #[schemars(extend("format" = "date-time"))]
    pub received_at: String,
    /// The callback's request id.
    #[schemars(length(min = 1))]
    pub request_id: String,
}

/// A stream record's change.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub event_name: &'a str,
    pub old: &'a Item,
    pub new: &'a Item,
}

/// The events of one stream record, as [`notifications`] makes them of its change.
pub fn of_record(record: &aws_lambda_events::dynamodb::EventRecord) -> Vec<Notification> {
    notifications(Change {
        event_name: &record.event_name,
        old: &record.change.old_image,
        new: &record.change.new_image,
    })
}

/// The events of one change, in the order a consumer should see them. A record missing an
/// attribute its event needs (none the functions write) is no event.
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
        status(session, &old, &new)
    } else if record == RECONCILE_RECORD {
        abandoned(session, &old, &new).into_iter().collect()
    } else if record.starts_with(VIDEO_RECORD_PREFIX) {
        video(session, record, &old, &new)
    } else if record.starts_with(DELIVERY_RECORD_PREFIX) {
        let mut events: Vec<_> = delivery(session, record, &old, &new).into_iter().collect();
        events.extend(receipt(session, record, &old, &new));
        events.extend(deduplicated(session, record, &old, &new));
        events
    } else if record.starts_with("unhandled#") && change.event_name == "INSERT" {
        unhandled(session, &new).into_iter().collect()
    } else if record.starts_with(REJECTED_RECORD_PREFIX) && change.event_name == "INSERT" {
        rejected(session, &new).into_iter().collect()
    } else {
        Vec::new()
    }
}

fn status(session: &str, old: &Image, new: &Image) -> Vec<Notification> {
    let Some(changed) = status_changed(session, old, new) else {
        return Vec::new();
    };
    let mut events = Vec::new();
    if changed.source.is_some() {
        let detail = SessionStatusReconciled {
            id: format!("{}:reconciled", changed.id),
            session_id: session.to_owned(),
            result: changed.result.clone(),
            previous_result: changed.previous_result.clone(),
            reconciled_at: changed.received_at.clone(),
            request_id: changed.request_id.clone(),
        };
        events.push(Notification {
            detail_type: DetailType::SessionStatusChanged,
            detail: Detail::SessionStatusChanged(changed),
        });
        events.push(Notification {
            detail_type: DetailType::SessionStatusReconciled,
            detail: Detail::SessionStatusReconciled(detail),
        });
    } else {
        events.push(Notification {
            detail_type: DetailType::SessionStatusChanged,
            detail: Detail::SessionStatusChanged(changed),
        });
    }
    events
}

/// A session whose reconcile record just became `abandoned`.
fn abandoned(session: &str, old: &Image, new: &Image) -> Option<Notification> {
    if new.text("state") != Some("abandoned") || old.text("state") == Some("abandoned") {
        return None;
    }
    let opened_at = new.text("openedAt")?;
    let detail = SessionReconcileAbandoned {
        id: format!("{session}:{RECONCILE_RECORD}:abandoned:{opened_at}"),
        session_id: session.to_owned(),
        opened_at: opened_at.to_owned(),
        last_outcome: new.text("outcome")?.to_owned(),
        observed: new.text("observed").map(str::to_owned),
        attempts: new.number("attempts")?,
        reconciled_at: new.text("reconciledAt")?.to_owned(),
    };
    Some(Notification {
        detail_type: DetailType::SessionReconcileAbandoned,
        detail: Detail::SessionReconcileAbandoned(detail),
    })
}

fn status_changed(session: &str, old: &Image, new: &Image) -> Option<SessionStatusChanged> {
    let result = new.text("result")?;
    let previous = old.text("result");
    if previous == Some(result) {
        return None;
    }
    let request_id = new.text("requestId")?;
    let regressed_from = new
        .boolean("regressed")
        .unwrap_or(false)
        .then(|| new.text("regressedFrom").map(str::to_owned))
        .flatten();
    let detail = SessionStatusChanged {
        id: event_id(request_id, STATUS_RECORD, new),
        session_id: session.to_owned(),
        result: result.to_owned(),
        previous_result: previous.map(str::to_owned),
        regressed: regressed_from.is_some().then_some(true),
        regressed_from,
        session_type: new.text("sessionType")?.to_owned(),
        received_at: new.text("receivedAt")?.to_owned(),
        request_id: request_id.to_owned(),
        source: new
            .text("source")
            .filter(|s| *s == SOURCE_RECONCILE)
            .map(str::to_owned),
    };
    Some(detail)
}

const VIDEO_STATUSES: [&str; 4] = [
    "roomStatus",
    "compositionStatus",
    "videoFileStatus",
    "videoFileId",
];

fn video(session: &str, record: &str, old: &Image, new: &Image) -> Vec<Notification> {
    let mut events = Vec::new();
    let (Some(request_id), Some(room_id), Some(received_at)) = (
        new.text("requestId"),
        new.text("roomId"),
        new.text("receivedAt"),
    ) else {
        return events;
    };
    let changed = old.0.is_empty()
        || VIDEO_STATUSES
            .iter()
            .any(|k| old.0.get(*k) != new.0.get(*k));
    if changed && let Some(room_status) = new.text("roomStatus") {
        let detail = VideoCallStatusChanged {
            id: event_id(request_id, record, new),
            session_id: session.to_owned(),
            room_id: room_id.to_owned(),
            room_status: room_status.to_owned(),
            composition_status: new.text_or_null("compositionStatus"),
            video_file_status: new.text_or_null("videoFileStatus"),
            video_file_id: new.text_or_null("videoFileId"),
            received_at: received_at.to_owned(),
            request_id: request_id.to_owned(),
        };
        events.push(Notification {
            detail_type: DetailType::VideoCallStatusChanged,
            detail: Detail::VideoCallStatusChanged(detail),
        });
    }
    let available = |image: &Image| image.text("videoFileStatus") == Some("available");
    if available(new) && !available(old) {
        let detail = VideoFileAvailable {
            id: format!("{}:available", event_id(request_id, record, new)),
            session_id: session.to_owned(),
            room_id: room_id.to_owned(),
            video_file_id: new.text_or_null("videoFileId"),
            composition_status: new.text_or_null("compositionStatus"),
            received_at: received_at.to_owned(),
            request_id: request_id.to_owned(),
        };
        events.push(Notification {
            detail_type: DetailType::VideoFileAvailable,
            detail: Detail::VideoFileAvailable(detail),
        });
    }
    events
}

/// A delivery that did not go out, or may not have: refused for its recipient (`failed`), too
/// old to send (`expired`), held back by a rule (`suppressed`), or recorded `sent` without a
/// send after two attempts that may have sent it (`unconfirmed`).
fn delivery(session: &str, record: &str, old: &Image, new: &Image) -> Option<Notification> {
    let state = new.text("state")?;
    let reason = new.text("reason");
    let detail_type = match (state, reason) {
        ("failed" | "expired", _) | ("sent", Some("unconfirmed")) => {
            DetailType::MessageDeliveryFailed
        }
        ("suppressed", _) => DetailType::MessageSuppressed,
        _ => return None,
    };
    if old.text("state") == Some(state) && old.text("reason") == reason {
        return None;
    }
    let request_id = new.text("requestId")?;
    let detail = MessageDetail {
        id: format!("{request_id}:{record}:{state}"),
        session_id: session.to_owned(),
        channel: new.channel()?,
        kind: new.kind()?,
        // The recipient as the record holds it: masked by the function that wrote it.
        recipient: new.text("recipient")?.to_owned(),
        reason: reason.unwrap_or(state).to_owned(),
        provider_reason: new.text_or_null("providerReason"),
        price_usd: new.decimal("priceUsd"),
        received_at: new.text("receivedAt")?.to_owned(),
        request_id: request_id.to_owned(),
    };
    Some(Notification {
        detail_type,
        detail: Detail::Message(detail),
    })
}

/// A delivery receipt that moved a sent message to delivered, bounced or complained (a
/// failure is `Message Delivery Failed`, above; a delay is no event).
fn receipt(session: &str, record: &str, old: &Image, new: &Image) -> Option<Notification> {
    let state = new.text("state")?;
    let detail_type = match state {
        "delivered" => DetailType::MessageDelivered,
        "bounced" => DetailType::MessageBounced,
        "complained" => DetailType::MessageComplained,
        _ => return None,
    };
    if old.text("state") == Some(state) {
        return None;
    }
    let request_id = new.text("requestId")?;
    let detail = MessageReceipt {
        id: format!("{request_id}:{record}:{state}"),
        session_id: session.to_owned(),
        channel: new.channel()?,
        kind: new.kind()?,
        recipient: new.text("recipient")?.to_owned(),
        reported_at: new.text("receiptAt")?.to_owned(),
        bounce_type: new.text_or_null("bounceType"),
        bounce_sub_type: new.text_or_null("bounceSubType"),
        provider_reason: new.text_or_null("providerReason"),
        price_usd: new.decimal("priceUsd"),
        received_at: new.text("receivedAt")?.to_owned(),
        request_id: request_id.to_owned(),
    };
    Some(Notification {
        detail_type,
        detail: Detail::MessageReceipt(detail),
    })
}

/// A change's event id: the request that caused it and the record, and the callback's digest
/// where the record holds one, so that two changes of one request id (a front that reuses
/// ids) are two events.
fn event_id(request_id: &str, record: &str, new: &Image) -> String {
    match new.text("digest") {
        Some(digest) => format!("{request_id}:{record}:{digest}"),
        None => format!("{request_id}:{record}"),
    }
}

/// A message asked for again: its record's `duplicates` grew.
fn deduplicated(session: &str, record: &str, old: &Image, new: &Image) -> Option<Notification> {
    let duplicates = new.number("duplicates")?;
    if old.number("duplicates") >= Some(duplicates) {
        return None;
    }
    let request_id = new.text("lastDuplicateRequestId")?;
    let detail = MessageDeduplicated {
        id: format!("{request_id}:{record}:deduplicated:{duplicates}"),
        session_id: session.to_owned(),
        channel: new.channel()?,
        kind: new.kind()?,
        recipient: new.text("recipient")?.to_owned(),
        state: new.text("state")?.to_owned(),
        duplicates,
        received_at: new.text("lastDuplicateAt")?.to_owned(),
        request_id: request_id.to_owned(),
        first_request_id: new.text("requestId")?.to_owned(),
    };
    Some(Notification {
        detail_type: DetailType::MessageDeduplicated,
        detail: Detail::MessageDeduplicated(detail),
    })
}

fn rejected(session: &str, new: &Image) -> Option<Notification> {
    let request_id = new.text("requestId")?;
    let detail = CallbackRejected {
        id: format!("{request_id}:rejected"),
        session_id: (session != UNKNOWN_SESSION).then(|| session.to_owned()),
        r#type: new.text("type").map(str::to_owned),
        field: new.text("field")?.to_owned(),
        rule: new.text("rule")?.to_owned(),
        rule_code: new.text("ruleCode")?.to_owned(),
        foreign_hosts: new.texts("foreignHosts"),
        received_at: new.text("receivedAt")?.to_owned(),
        request_id: request_id.to_owned(),
    };
    Some(Notification {
        detail_type: DetailType::CallbackRejected,
        detail: Detail::CallbackRejected(detail),
    })
}

fn unhandled(session: &str, new: &Image) -> Option<Notification> {
    let request_id = new.text("requestId")?;
    let detail = CallbackNotHandled {
        id: format!("{request_id}:unhandled"),
        // A callback of an unknown type without a session is stored under a placeholder.
        session_id: (session != UNKNOWN_SESSION).then(|| session.to_owned()),
        r#type: new.text("type")?.to_owned(),
        received_at: new.text("receivedAt")?.to_owned(),
        request_id: request_id.to_owned(),
    };
    Some(Notification {
        detail_type: DetailType::CallbackNotHandled,
        detail: Detail::CallbackNotHandled(detail),
    })
}

/// An image's attributes as the event's values.
struct Image<'a>(&'a Item);

impl Image<'_> {
    fn text(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(AttributeValue::S(s)) => Some(s),
            _ => None,
        }
    }

    /// A delivery record's channel and kind, as its events name them.
    fn channel(&self) -> Option<Channel> {
        match self.text("channel")? {
            "sms" => Some(Channel::Sms),
            "email" => Some(Channel::Email),
            _ => None,
        }
    }

    fn kind(&self) -> Option<Kind> {
        match self.text("kind")? {
            "otp" => Some(Kind::Otp),
            "link" => Some(Kind::Link),
            _ => None,
        }
    }

    fn boolean(&self, name: &str) -> Option<bool> {
        match self.0.get(name) {
            Some(AttributeValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// A number that may have decimals (a price).
    fn decimal(&self, name: &str) -> Option<f64> {
        match self.0.get(name) {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        }
    }

    fn number(&self, name: &str) -> Option<u64> {
        match self.0.get(name) {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        }
    }

    /// A list of strings; its other members, and a missing list, are nothing.
    fn texts(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(AttributeValue::L(items)) => items
                .iter()
                .filter_map(|v| match v {
                    AttributeValue::S(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A string, or `None` where the record holds NULL (or nothing).
    fn text_or_null(&self, name: &str) -> Option<String> {
        self.text(name).map(str::to_owned)
    }
}

/// Each detail-type's JSON Schema (2020-12), as `schemas/` holds it: the file name and the
/// schema. `make schemas` writes them; a test holds the committed files to these.
pub fn schemas() -> Vec<(String, Value)> {
    use schemars::generate::SchemaSettings;
    use strum::IntoEnumIterator;

    DetailType::iter()
        .map(|detail_type| {
            let mut generator = SchemaSettings::draft2020_12().into_generator();
            let mut schema = match detail_type {
                DetailType::SessionStatusChanged => {
                    generator.root_schema_for::<SessionStatusChanged>()
                }
                DetailType::VideoCallStatusChanged => {
                    generator.root_schema_for::<VideoCallStatusChanged>()
                }
                DetailType::VideoFileAvailable => generator.root_schema_for::<VideoFileAvailable>(),
                DetailType::MessageDeliveryFailed | DetailType::MessageSuppressed => {
                    generator.root_schema_for::<MessageDetail>()
                }
                DetailType::MessageDeduplicated => {
                    generator.root_schema_for::<MessageDeduplicated>()
                }
                DetailType::CallbackNotHandled => generator.root_schema_for::<CallbackNotHandled>(),
                DetailType::CallbackRejected => generator.root_schema_for::<CallbackRejected>(),
                DetailType::SessionStatusReconciled => {
                    generator.root_schema_for::<SessionStatusReconciled>()
                }
                DetailType::SessionReconcileAbandoned => {
                    generator.root_schema_for::<SessionReconcileAbandoned>()
                }
                DetailType::MessageDelivered
                | DetailType::MessageBounced
                | DetailType::MessageComplained => generator.root_schema_for::<MessageReceipt>(),
            }
            .to_value();
            let file = format!(
                "{}.json",
                detail_type.name().to_lowercase().replace(' ', "-")
            );
            if let Value::Object(fields) = &mut schema {
                let mut ordered = serde_json::Map::new();
                ordered.insert(
                    "$schema".into(),
                    "https://json-schema.org/draft/2020-12/schema".into(),
                );
                ordered.insert(
                    "$id".into(),
                    format!("https://github.com/identomat-callbacks/schemas/{file}").into(),
                );
                ordered.insert("title".into(), detail_type.name().into());
                ordered.insert(
                    "description".into(),
                    format!(
                        "{} The EventBridge event's `source` is `identomat.callbacks`, its \
                         `detail-type` the title; this schema is its `detail`. Generated from \
                         functions/notify/src/events.rs (make schemas).",
                        describe(detail_type)
                    )
                    .into(),
                );
                for (key, value) in std::mem::take(fields) {
                    if !ordered.contains_key(&key) {
                        ordered.insert(key, value);
                    }
                }
                *fields = ordered;
            }
            one_line_descriptions(&mut schema);
            (file, schema)
        })
        .collect()
}

/// Doc comments keep their line breaks; a schema's reader wants the sentence.
fn one_line_descriptions(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                match field {
                    Value::String(text) if key == "description" => {
                        *text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    }
                    other => one_line_descriptions(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(one_line_descriptions),
        _ => {}
    }
}

/// When each detail-type is published, for its schema's description.
fn describe(detail_type: DetailType) -> &'static str {
    match detail_type {
        DetailType::SessionStatusChanged => {
            "A session's current result changed, its first one included (a stale callback that \
             only joined the history is no event); regressed when it left a final result for a \
             non-final one."
        }
        DetailType::VideoCallStatusChanged => {
            "A video room's status, composition, file status or file id changed."
        }
        DetailType::VideoFileAvailable => {
            "A room's videoFileStatus became available: the recording can be fetched."
        }
        DetailType::MessageDeliveryFailed => {
            "An SMS or e-mail did not go out, or may not have: SNS or SES refused it for its \
             recipient, the OTP was too old to send (otp-too-old), or two attempts may have \
             sent it and a third did not (unconfirmed). Never the message's text."
        }
        DetailType::MessageSuppressed => {
            "The receiver's own rules held an SMS or e-mail back (limits, budget, country list). \
             Never the message's text."
        }
        DetailType::CallbackNotHandled => {
            "A callback of a type this version does not know was stored; its payload stays in \
             the table."
        }
        DetailType::MessageDeduplicated => {
            "An SMS or e-mail was asked for again and not sent again: the same message to the \
             same recipient within the dedupe window, or the same request retried. Never the \
             message's text."
        }
        DetailType::CallbackRejected => {
            "An authenticated callback was refused for a field (422): nothing was sent or \
             recorded but its rejected# record, which holds the other fields masked."
        }
        DetailType::SessionStatusReconciled => {
            "The reconcile function read a session's result from Identomat's result/ and it \
             differed from the record's (a callback missed, or a regression): recorded, and also \
             published as Session Status Changed."
        }
        DetailType::SessionReconcileAbandoned => {
            "A session still open after the last scheduled question to Identomat's result/ \
             (7 days with the defaults) is no longer asked."
        }
        DetailType::MessageDelivered => {
            "A delivery receipt: the SMS carrier or the recipient's mail server took a sent \
             message. Seconds to hours after the send; never the message's text."
        }
        DetailType::MessageBounced => {
            "A delivery receipt: the recipient's mail server sent the e-mail back (SES no \
             longer sends to an address that bounced permanently). Never the message's text."
        }
        DetailType::MessageComplained => {
            "A delivery receipt: the recipient marked the e-mail as spam (SES no longer sends \
             to the address). Never the message's text."
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
        .map(|n| {
            (
                n.detail_type.name(),
                serde_json::to_value(&n.detail).unwrap(),
            )
        })
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
        for state in ["pending", "sent"] {
            assert!(
                events("MODIFY", json!({}), delivery(state)).is_empty(),
                "{state}"
            );
        }
        assert!(events("MODIFY", delivery("failed"), delivery("failed")).is_empty());
    }

    fn delivery_with(state: &str, reason: &str) -> Value {
        let mut record = delivery(state);
        record["reason"] = json!(reason);
        record
    }

    #[test]
    fn an_expired_otp_and_an_unconfirmed_send_are_failed_deliveries() {
        let got = events("INSERT", json!({}), delivery_with("expired", "otp-too-old"));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "Message Delivery Failed");
        assert_eq!(got[0].1["reason"], "otp-too-old");
        assert_eq!(got[0].1["id"], "r4:delivery#abc:expired");
        // Two attempts may have sent it; the third recorded it sent without sending.
        let got = events(
            "MODIFY",
            delivery("pending"),
            delivery_with("sent", "unconfirmed"),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "Message Delivery Failed");
        assert_eq!(got[0].1["reason"], "unconfirmed");
        // Sent, with a Cc left out: it went out, no event.
        assert!(
            events(
                "MODIFY",
                delivery("pending"),
                delivery_with("sent", "cc-rate-limited")
            )
            .is_empty()
        );
        assert!(events("MODIFY", delivery("pending"), delivery_with("sent", "")).is_empty());
    }

    #[test]
    fn a_record_missing_what_its_event_needs_is_no_event() {
        let mut record = status("APPROVED", "r1");
        record.as_object_mut().unwrap().remove("requestId");
        assert!(events("INSERT", json!({}), record).is_empty());
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
    fn a_regressed_status_says_so_and_from_what() {
        let mut new = status("MANUAL_CHECK", "r9");
        new["regressedFrom"] = json!("APPROVED");
        new["digest"] = json!("d9");
        let mut new_item = item(new);
        new_item.insert("regressed".into(), AttributeValue::Bool(true));
        let old_item = item(status("APPROVED", "r8"));
        let got = notifications(Change {
            event_name: "MODIFY",
            old: &old_item,
            new: &new_item,
        });
        let detail = serde_json::to_value(&got[0].detail).unwrap();
        assert_eq!(detail["regressed"], true);
        assert_eq!(detail["regressedFrom"], "APPROVED");
        assert_eq!(detail["previousResult"], "APPROVED");
        // Two changes under one request id are two events.
        assert_eq!(detail["id"], "r9:status:d9");
        let plain = events(
            "MODIFY",
            status("MANUAL_CHECK", "r1"),
            status("APPROVED", "r2"),
        );
        assert!(plain[0].1.get("regressed").is_none());
    }

    fn receipted(state: &str) -> Value {
        let mut record = delivery(state);
        let fields = record.as_object_mut().unwrap();
        fields.insert("receiptAt".into(), json!("2026-12-08T10:00:05.000Z"));
        fields.insert("priceUsd".into(), json!(0.00645));
        fields.insert(
            "providerReason".into(),
            json!("Message has been accepted by phone carrier"),
        );
        record
    }

    #[test]
    fn a_receipt_that_moves_a_message_is_its_event_once() {
        let got = events("MODIFY", delivery("sent"), receipted("delivered"));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "Message Delivered");
        assert_eq!(got[0].1["id"], "r4:delivery#abc:delivered");
        assert_eq!(got[0].1["reportedAt"], "2026-12-08T10:00:05.000Z");
        assert_eq!(got[0].1["priceUsd"], 0.00645);
        assert_eq!(got[0].1["channel"], "sms");
        assert!(events("MODIFY", receipted("delivered"), receipted("delivered")).is_empty());
        // A delay is no event; a bounce and a complaint are.
        assert!(events("MODIFY", delivery("sent"), receipted("delayed")).is_empty());
        let mut bounced = receipted("bounced");
        bounced["bounceType"] = json!("Permanent");
        let got = events("MODIFY", receipted("delivered"), bounced);
        assert_eq!(
            (got[0].0, &got[0].1["bounceType"]),
            ("Message Bounced", &json!("Permanent"))
        );
        let got = events("MODIFY", receipted("bounced"), receipted("complained"));
        assert_eq!(got[0].0, "Message Complained");
        // A carrier's failure is Message Delivery Failed, with the carrier's words and price.
        let mut failed = receipted("failed");
        failed["reason"] = json!("carrier-failure");
        let got = events("MODIFY", delivery("sent"), failed);
        assert_eq!(got[0].0, "Message Delivery Failed");
        assert_eq!(got[0].1["reason"], "carrier-failure");
        assert_eq!(got[0].1["priceUsd"], 0.00645);
        assert_eq!(
            got[0].1["providerReason"],
            "Message has been accepted by phone carrier"
        );
    }

    #[test]
    fn a_repeat_of_a_message_is_an_event_once_per_repeat() {
        let mut repeated = delivery_with("sent", "");
        repeated["duplicates"] = json!(2);
        repeated["lastDuplicateAt"] = json!("2026-11-27T19:50:00.000Z");
        repeated["lastDuplicateRequestId"] = json!("r7");
        let mut before = repeated.clone();
        before["duplicates"] = json!(1);
        let got = events("MODIFY", before, repeated.clone());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "Message Deduplicated");
        assert_eq!(got[0].1["id"], "r7:delivery#abc:deduplicated:2");
        assert_eq!(got[0].1["duplicates"], 2);
        assert_eq!(got[0].1["state"], "sent");
        assert_eq!(got[0].1["firstRequestId"], "r4");
        // The same image again, or another change of the record: no repeat event.
        assert!(events("MODIFY", repeated.clone(), repeated).is_empty());
    }

    #[test]
    fn a_rejected_callback_is_an_event_without_its_values() {
        let new = json!({"sessionId": "unknown", "record": "rejected#t#r6",
                         "type": "one-time-password-request", "field": "phoneNumber",
                         "rule": "must hold digits only, not letters", "ruleCode": "phone-letters",
                         "receivedAt": "2026-11-27T19:49:15.123Z", "requestId": "r6"});
        let got = events("INSERT", json!({}), new);
        assert_eq!(
            got,
            vec![(
                "Callback Rejected",
                json!({"id": "r6:rejected", "type": "one-time-password-request",
                       "field": "phoneNumber", "rule": "must hold digits only, not letters",
                       "ruleCode": "phone-letters", "receivedAt": "2026-11-27T19:49:15.123Z",
                       "requestId": "r6"})
            )]
        );
        let modified = json!({"sessionId": "s1", "record": "rejected#t#r6", "field": "x"});
        assert!(events("MODIFY", json!({}), modified).is_empty());
    }

    #[test]
    fn removals_and_other_records_are_no_events() {
        assert!(events("REMOVE", status("APPROVED", "r1"), json!({})).is_empty());
        let window = json!({"sessionId": "ratelimit#sms-budget", "record": "window", "m1": 3});
        assert!(events("MODIFY", json!({}), window).is_empty());
    }
}
