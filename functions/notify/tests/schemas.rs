//! `schemas/` is what the detail types generate, and every event notify can make from what the
//! ingress accepts is valid against it: session ids with `-` and `_`, results and statuses the
//! platform adds later, unknown types, every delivery reason.

use std::collections::HashMap;
use std::time::Duration;

use notify::bus::{MAX_ENTRIES, MAX_REQUEST_BYTES, calls, entry_size};
use notify::events::{
    CallbackNotHandled, Change, Detail, DetailType, Notification, notifications, schemas,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use shared::callback::Callback;
use shared::message::{Channel, Delivery, DeliveryState, Kind};
use shared::store::status::{HistoryEntry, merge};
use shared::store::{Item, SessionsTable, video};
use shared::{Acceptance, CallbackKeys, Envelope, Limits, LinkPolicy, Timestamp};

const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas");
const SOURCE: &str = notify::DEFAULT_SOURCE;

#[test]
fn the_committed_schemas_are_the_generated_ones() {
    let generated = schemas();
    assert_eq!(generated.len(), 13);
    for (file, schema) in &generated {
        let committed = std::fs::read_to_string(format!("{SCHEMAS}/{file}"))
            .unwrap_or_else(|_| panic!("schemas/{file} is missing: run make schemas"));
        let committed: Value = serde_json::from_str(&committed).expect("JSON");
        assert_eq!(
            &committed, schema,
            "schemas/{file} differs from the type it describes: run make schemas"
        );
    }
    let files = std::fs::read_dir(SCHEMAS).unwrap().count();
    assert_eq!(
        files,
        generated.len(),
        "a file in schemas/ no type generates"
    );
}

/// The committed schemas, compiled, by detail-type.
struct Validator {
    schemas: boon::Schemas,
    by_type: HashMap<&'static str, boon::SchemaIndex>,
}

impl Validator {
    fn new() -> Self {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler.enable_format_assertions();
        let mut by_type = HashMap::new();
        for (file, generated) in schemas_on_disk() {
            let title = generated["title"].as_str().unwrap().to_owned();
            let url = format!("https://schemas.local/{file}");
            compiler.add_resource(&url, generated).unwrap();
            let index = compiler.compile(&url, &mut schemas).unwrap();
            let detail_type = <DetailType as strum::IntoEnumIterator>::iter()
                .map(DetailType::name)
                .find(|name| *name == title)
                .unwrap();
            by_type.insert(detail_type, index);
        }
        Self { schemas, by_type }
    }

    fn check(&self, notification: &Notification) -> Result<(), String> {
        let detail = serde_json::to_value(&notification.detail).unwrap();
        let index = self.by_type[notification.detail_type.name()];
        self.schemas
            .validate(&detail, index)
            .map_err(|e| format!("{} {detail}: {e}", notification.detail_type.name()))
    }
}

fn schemas_on_disk() -> Vec<(String, Value)> {
    std::fs::read_dir(SCHEMAS)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect()
}

/// An item as the stream's image of it reaches notify.
fn image(item: &Item) -> serde_dynamo::Item {
    use aws_sdk_dynamodb::types::AttributeValue as Sdk;
    fn convert(value: &Sdk) -> serde_dynamo::AttributeValue {
        use serde_dynamo::AttributeValue as Image;
        match value {
            Sdk::S(s) => Image::S(s.clone()),
            Sdk::N(n) => Image::N(n.clone()),
            Sdk::Null(b) => Image::Null(*b),
            Sdk::Bool(b) => Image::Bool(*b),
            Sdk::L(l) => Image::L(l.iter().map(convert).collect()),
            Sdk::M(m) => Image::M(m.iter().map(|(k, v)| (k.clone(), convert(v))).collect()),
            other => panic!("no such attribute in the table: {other:?}"),
        }
    }
    let map: HashMap<String, serde_dynamo::AttributeValue> =
        item.iter().map(|(k, v)| (k.clone(), convert(v))).collect();
    serde_dynamo::Item::from(map)
}

fn events(event_name: &str, old: &Item, new: &Item) -> Vec<Notification> {
    let (old, new) = (image(old), image(new));
    notifications(Change {
        event_name,
        old: &old,
        new: &new,
    })
}

fn table() -> SessionsTable {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .build();
    SessionsTable::new(aws_sdk_dynamodb::Client::from_conf(config), "sessions")
        .with_retention(Duration::from_secs(86_400))
}

fn acceptance() -> Acceptance {
    Acceptance {
        keys: CallbackKeys::new(Some("k"), None),
        links: LinkPolicy::default(),
        limits: Limits::default(),
    }
}

/// Every event the items written for an accepted callback make, first written and then
/// written again over an older version of themselves.
fn events_of(callback: &Callback, request_id: &str, at: Timestamp) -> Vec<Notification> {
    let table = table();
    let earlier = Timestamp::from_unix_millis(at.unix_millis() - 1000);
    let mut found = Vec::new();
    match callback {
        Callback::SessionChange(change) => {
            let entry = |result: &str, at, id: &str| HistoryEntry {
                result: result.to_owned(),
                received_at: at,
                request_id: id.to_owned(),
                digest: Some(format!("{result:.8}")),
                source: None,
            };
            let session_type = change.session_type.as_str();
            let (first, _) = merge(
                None,
                entry("PREVIOUS_RESULT", earlier, "r0"),
                session_type,
                at,
            )
            .unwrap();
            let (second, _) = merge(
                Some(&first),
                entry(change.result.as_str(), at, request_id),
                session_type,
                at,
            )
            .unwrap();
            let session = change.session_id.as_str();
            found.extend(events("INSERT", &Item::new(), &second.to_item(session)));
            found.extend(events(
                "MODIFY",
                &first.to_item(session),
                &second.to_item(session),
            ));
        }
        Callback::VideoCallStatus(update) => {
            let new = video::item(update, request_id, at);
            let mut older = new.clone();
            older.insert(
                "videoFileStatus".into(),
                aws_sdk_dynamodb::types::AttributeValue::Null(true),
            );
            found.extend(events("INSERT", &Item::new(), &new));
            found.extend(events("MODIFY", &older, &new));
        }
        Callback::Unhandled(unhandled) => {
            let item = table.unhandled_item(unhandled, request_id, at).unwrap();
            found.extend(events("INSERT", &Item::new(), &item));
        }
        other => {
            // A message: every state and reason a delivery record can be left in.
            let (channel, kind, recipient) = match other {
                Callback::SmsOneTimePassword(c) => (
                    Channel::Sms,
                    Kind::OneTimePassword,
                    mask(c.phone_number.as_str()),
                ),
                Callback::SmsSessionLink(c) => (
                    Channel::Sms,
                    Kind::SessionLink,
                    mask(c.phone_number.as_str()),
                ),
                Callback::EmailOneTimePassword(c) => (
                    Channel::Email,
                    Kind::OneTimePassword,
                    shared::redact::mask_email(c.address.as_str()),
                ),
                Callback::EmailSessionLink(c) => (
                    Channel::Email,
                    Kind::SessionLink,
                    shared::redact::mask_email(c.address.as_str()),
                ),
                _ => unreachable!(),
            };
            let delivery = Delivery {
                channel,
                kind,
                key: "0123456789abcdef0123456789abcdef".into(),
                masked_recipient: recipient,
                billed: 1,
                suppress: None,
                limits: Vec::new(),
                dropped_cc: Vec::new(),
            };
            let envelope = Envelope {
                request_id: request_id.to_owned(),
                received_at: at,
                callback: other.clone(),
            };
            let pending = table.delivery_item(
                &delivery,
                &envelope,
                DeliveryState::Pending,
                std::time::SystemTime::now(),
            );
            for (state, reason) in [
                ("failed", "InvalidParameter (HTTP 400)"),
                ("failed", "message-too-long"),
                ("expired", "otp-too-old"),
                ("sent", "unconfirmed"),
                ("suppressed", "country-not-allowed"),
                ("suppressed", "rate-limited"),
                ("suppressed", "session-rate-limited"),
                ("suppressed", "budget-exhausted"),
            ] {
                let mut finished = pending.clone();
                finished.insert("state".into(), s(state));
                finished.insert("reason".into(), s(reason));
                found.extend(events("MODIFY", &pending, &finished));
                // Asked for again: a repeat counted on the record.
                let mut repeated = finished.clone();
                repeated.insert("duplicates".into(), n("1"));
                repeated.insert("lastDuplicateAt".into(), s(&at.to_string()));
                repeated.insert("lastDuplicateRequestId".into(), s(&"r".repeat(128)));
                found.extend(events("MODIFY", &finished, &repeated));
            }
            // Sent, then moved by each receipt as the receipts function writes it.
            let mut sent = pending.clone();
            sent.insert("state".into(), s("sent"));
            sent.insert("providerMessageId".into(), s("0100018c-example-000000"));
            let carrier = (
                "providerReason",
                s("Message has been accepted by phone carrier"),
            );
            for (state, extra) in [
                (
                    "delivered",
                    vec![("priceUsd", n("0.00645")), carrier.clone()],
                ),
                (
                    "bounced",
                    vec![
                        ("bounceType", s("Permanent")),
                        ("bounceSubType", s("General")),
                    ],
                ),
                ("complained", vec![("providerReason", s("abuse"))]),
                (
                    "failed",
                    vec![
                        ("reason", s("carrier-failure")),
                        ("priceUsd", n("0")),
                        carrier.clone(),
                    ],
                ),
            ] {
                let mut moved = sent.clone();
                moved.insert("state".into(), s(state));
                moved.insert("receiptAt".into(), s(&at.to_string()));
                moved.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
                found.extend(events("MODIFY", &sent, &moved));
            }
        }
    }
    found
}

fn n(number: &str) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::N(number.to_owned())
}

fn mask(phone: &str) -> String {
    shared::redact::mask_phone(phone)
}

fn s(text: &str) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(text.to_owned())
}

/// An open value as the ingress accepts it: 1 to 64 bytes, no control characters.
fn open_value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_ .:/ÄÖ\u{10D0}-\u{10F0}-]{1,40}".prop_filter("at most 64 bytes", |v| {
        v.len() <= 64 && !v.trim().is_empty()
    })
}

fn session_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,128}"
}

fn room_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.:-]{1,128}"
}

fn nullable(inner: impl Strategy<Value = String>) -> impl Strategy<Value = Value> {
    prop_oneof![Just(Value::Null), inner.prop_map(Value::from)]
}

/// A body of every kind the ingress accepts, the key included.
fn accepted_body() -> impl Strategy<Value = Value> {
    let phone = "\\+[1-9][0-9]{7,14}";
    let address = "[a-z0-9][a-z0-9_%+-]{0,15}(\\.[a-z0-9]{1,5})?@[a-z0-9]{1,10}\\.(com|ge|co\\.uk)";
    prop_oneof![
        (
            session_id(),
            open_value(),
            proptest::option::of(open_value())
        )
            .prop_map(|(id, result, kind)| {
                let mut body = json!({"type": "session-change", "sessionId": id, "result": result});
                if let Some(kind) = kind {
                    body["sessionType"] = kind.into();
                }
                body
            }),
        (
            session_id(),
            room_id(),
            open_value(),
            nullable(open_value()),
            nullable(open_value()),
            nullable(room_id())
        )
            .prop_map(|(id, room, status, composition, file_status, file)| json!({
                "type": "video-call-status-update", "sessionId": id, "roomId": room,
                "roomStatus": status, "compositionStatus": composition,
                "videoFileStatus": file_status, "videoFileId": file,
            })),
        (open_value(), proptest::option::of(session_id())).prop_filter_map(
            "an unknown type",
            |(kind, id)| {
                (!Callback::TYPE_NAMES.contains(&kind.as_str()) && kind != "one-time-password")
                    .then(|| {
                        let mut body = json!({"type": kind, "extra": 1});
                        if let Some(id) = id {
                            body["sessionId"] = id.into();
                        }
                        body
                    })
            }
        ),
        (session_id(), phone).prop_map(|(id, phone)| json!({
            "type": "one-time-password-request", "sessionId": id, "text": "Your code is 6867",
            "phoneNumber": phone,
        })),
        (session_id(), address).prop_map(|(id, address)| json!({
            "type": "email-one-time-password-request", "sessionId": id, "address": address,
            "subject": "Code", "content": "Your code is 6867",
        })),
        (session_id(), address).prop_map(|(id, address)| json!({
            "type": "share-session-link-via-email", "sessionId": id, "address": address,
            "subject": "Verify", "content": "Please verify",
            "sessionLink": format!("https://widget.identomat.com/?session_token={id}"),
        })),
    ]
    .prop_map(|mut body| {
        body["callbackApiKey"] = "k".into();
        body
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_event_of_an_accepted_callback_is_valid_against_its_schema(body in accepted_body()) {
        let validator = Validator::new();
        let bytes = serde_json::to_vec(&body).unwrap();
        let callback = acceptance().accept(&bytes).expect("the ingress accepts it");
        let at = Timestamp::parse("2026-11-30T12:00:00.123Z").unwrap();
        let made = events_of(&callback, "Hk3Qf1aBliAEJ0Q=", at);
        prop_assert!(!made.is_empty(), "no event from {body}");
        for notification in &made {
            prop_assert!(validator.check(notification).is_ok(), "{:?}", validator.check(notification));
            // Far below what one PutEvents call takes, ten at a time.
            prop_assert!(entry_size(SOURCE, notification) < MAX_REQUEST_BYTES / MAX_ENTRIES);
        }
    }
}

/// A field made invalid in a way the ingress refuses: letters in a number, a bad id, a
/// foreign host, an invisible character, a wrong type.
fn spoiled() -> impl Strategy<Value = (&'static str, Value)> {
    prop_oneof![
        Just(("phoneNumber", json!("+995 5xx 12 34"))),
        Just(("phoneNumber", json!("00995512345678"))),
        Just(("sessionId", json!("not/a session"))),
        Just(("sessionId", json!(42))),
        Just(("text", json!("Your code is 6867 at evil.com and acme.ge"))),
        Just(("content", json!("Reply to help@evil.example"))),
        Just(("subject", json!("Verify\u{202E}"))),
        Just(("address", json!("not an address"))),
        Just(("roomId", json!("RM#1"))),
        Just(("result", json!(""))),
        Just(("type", json!("x".repeat(65)))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_refusal_is_a_valid_callback_rejected_without_the_values(
        body in accepted_body(),
        (field, value) in spoiled(),
    ) {
        let validator = Validator::new();
        let mut body = body;
        body[field] = value.clone();
        let bytes = serde_json::to_vec(&body).unwrap();
        let Err(shared::Rejection::Invalid(invalid)) = acceptance().accept(&bytes) else {
            // The field is not one this type reads: nothing to refuse.
            return Ok(());
        };
        let refused = shared::refusal::RefusedCallback::of(
            &bytes,
            invalid,
            acceptance().links.allowed_hosts(),
        );
        let at = Timestamp::parse("2026-11-30T12:00:00.123Z").unwrap();
        let item = table().rejected_item(&refused, &"r".repeat(128), at);
        let made = events("INSERT", &Item::new(), &item);
        prop_assert_eq!(made.len(), 1);
        prop_assert!(validator.check(&made[0]).is_ok(), "{:?}", validator.check(&made[0]));
        let stored = format!("{item:?}");
        for secret in ["6867", "12 34", "not/a session", "help@evil"] {
            prop_assert!(!stored.contains(secret), "{} in {}", secret, stored);
        }
    }
}

#[test]
fn the_largest_detail_fits_ten_to_a_call() {
    // Every field at the longest the ingress accepts.
    let body = json!({
        "callbackApiKey": "k", "type": "video-call-status-update",
        "sessionId": "s".repeat(128), "roomId": "r".repeat(128),
        "roomStatus": "\u{10D0}".repeat(21), "compositionStatus": "\u{10D0}".repeat(21),
        "videoFileStatus": "available", "videoFileId": "f".repeat(128),
    });
    let callback = acceptance()
        .accept(&serde_json::to_vec(&body).unwrap())
        .unwrap();
    let at = Timestamp::parse("2026-11-30T12:00:00.123Z").unwrap();
    let request_id = "x".repeat(128);
    let largest = events_of(&callback, &request_id, at)
        .iter()
        .map(|n| entry_size(SOURCE, n))
        .max()
        .unwrap();
    assert!(largest < 2_000, "{largest} bytes");
    assert!(largest * MAX_ENTRIES < MAX_REQUEST_BYTES);
}

fn unhandled(type_len: usize) -> Notification {
    Notification {
        detail_type: DetailType::CallbackNotHandled,
        detail: Detail::CallbackNotHandled(CallbackNotHandled {
            id: "r:unhandled".into(),
            session_id: None,
            r#type: "t".repeat(type_len),
            received_at: "2026-11-30T12:00:00.123Z".into(),
            request_id: "r".into(),
        }),
    }
}

#[test]
fn calls_hold_at_most_ten_entries_and_less_than_256_kb() {
    let small: Vec<Notification> = (0..25).map(|_| unhandled(10)).collect();
    let sizes: Vec<usize> = calls(SOURCE, &small).iter().map(|c| c.len()).collect();
    assert_eq!(sizes, [10, 10, 5]);
    assert!(calls(SOURCE, &[]).is_empty());

    // Entries of 60 KB (no detail of ours comes near; made by hand): four to a call.
    let large: Vec<Notification> = (0..9).map(|_| unhandled(60_000)).collect();
    let split = calls(SOURCE, &large);
    let sizes: Vec<usize> = split.iter().map(|c| c.len()).collect();
    assert_eq!(sizes, [4, 4, 1]);
    for call in split {
        let bytes: usize = large[call].iter().map(|n| entry_size(SOURCE, n)).sum();
        assert!(bytes < MAX_REQUEST_BYTES, "{bytes}");
    }
    // One too large for any call goes alone, in its place: the bus refuses it, and the batch
    // fails at its record instead of losing it.
    let mixed = [unhandled(10), unhandled(300_000), unhandled(10)];
    let sizes: Vec<usize> = calls(SOURCE, &mixed).iter().map(|c| c.len()).collect();
    assert_eq!(sizes, [1, 1, 1]);
}
