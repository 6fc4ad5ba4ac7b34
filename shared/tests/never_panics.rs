//! Whatever arrives, `accept` answers with a callback or a rejection; it never panics.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use shared::{Acceptance, CallbackKeys, Limits, LinkPolicy};

fn acceptance() -> Acceptance {
    Acceptance {
        keys: CallbackKeys::new(Some("apikey123"), None),
        links: LinkPolicy::default(),
        limits: Limits::default(),
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const TYPES: &[&str] = &[
    "one-time-password-request",
    "one-time-password",
    "share-session-link-via-sms",
    "share-session-link-via-email",
    "email-one-time-password-request",
    "session-change",
    "video-call-status-update",
    "something-new",
];

const FIELDS: &[&str] = &[
    "sessionId",
    "text",
    "phoneNumber",
    "sessionLink",
    "createdBy",
    "address",
    "subject",
    "content",
    "cc",
    "result",
    "sessionType",
    "roomId",
    "roomStatus",
    "compositionStatus",
    "videoFileStatus",
    "videoFileId",
];

/// Authenticated bodies of a known type with arbitrary values in the known fields: this
/// reaches every field parser, which random bytes almost never do.
fn authenticated_body() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(TYPES),
        prop::collection::vec((prop::sample::select(FIELDS), arbitrary_json()), 0..16),
    )
        .prop_map(|(ty, fields)| {
            let mut body = Map::new();
            body.insert("callbackApiKey".into(), json!("apikey123"));
            body.insert("type".into(), json!(ty));
            for (name, value) in fields {
                body.insert(name.into(), value);
            }
            Value::Object(body)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let result = acceptance().accept(&bytes);
        if let Err(e) = result {
            prop_assert!([400, 401, 413, 422].contains(&e.status()));
        }
    }

    #[test]
    fn arbitrary_json_values(value in arbitrary_json()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        let _ = acceptance().accept(&bytes);
    }

    #[test]
    fn arbitrary_authenticated_callbacks(body in authenticated_body()) {
        let bytes = serde_json::to_vec(&body).unwrap();
        match acceptance().accept(&bytes) {
            // Whatever is accepted survives the trip to a family unchanged.
            Ok(callback) => {
                let text = serde_json::to_string(&callback).unwrap();
                prop_assert!(!text.contains("apikey123"));
                let back: shared::Callback = serde_json::from_str(&text).unwrap();
                prop_assert_eq!(back, callback);
            }
            Err(e) => prop_assert_eq!(e.status(), 422),
        }
    }
}
