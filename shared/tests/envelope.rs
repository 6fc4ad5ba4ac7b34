//! A family reads its envelope with the ingress's rules: the sample envelopes in `events/` (what
//! a dead-letter redrive sends back) pass, and the same envelopes edited by hand into something
//! the ingress could never have produced are refused as `invalid`, or `misrouted` when they
//! belong to another family.

use serde_json::{Value, json};
use shared::Family;
use shared::family::{FamilyError, decode};

fn sample(family: &str, name: &str) -> Value {
    let path = format!(
        "{}/../events/{family}/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("a sample envelope is JSON")
}

/// Every envelope in `events/<family>/`, with the family it is for.
fn every_sample() -> Vec<(Family, String, Value)> {
    let mut all = Vec::new();
    for family in Family::ALL {
        let dir = format!("{}/../events/{}", env!("CARGO_MANIFEST_DIR"), family.name());
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let path = entry.expect("a directory entry").path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            all.push((family, name.clone(), sample(family.name(), &name)));
        }
    }
    all
}

fn edited(family: &str, name: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut envelope = sample(family, name);
    edit(&mut envelope);
    envelope
}

fn invalid_reason(family: Family, envelope: Value) -> String {
    match decode(family, envelope) {
        Err(FamilyError::Invalid(reason)) => reason,
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn every_sample_envelope_is_read_by_its_family() {
    let all = every_sample();
    assert_eq!(all.len(), 8);
    for (family, name, envelope) in all {
        let decoded = decode(family, envelope).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded.callback.family(), Some(family), "{name}");
    }
}

#[test]
fn an_envelope_of_another_family_is_misrouted() {
    for (family, name, envelope) in every_sample() {
        let other = Family::ALL.into_iter().find(|f| *f != family).unwrap();
        assert!(
            matches!(decode(other, envelope), Err(FamilyError::Misrouted(_))),
            "{name}"
        );
    }
}

#[test]
fn envelopes_edited_by_hand_are_refused_with_the_field_named() {
    let cases: Vec<(Family, Value, &str)> = vec![
        (
            Family::Sms,
            edited("sms", "one-time-password-request", |e| {
                e["callback"]["phoneNumber"] = json!("995 512 345 678");
            }),
            "phoneNumber",
        ),
        (
            Family::Sms,
            edited("sms", "share-session-link-via-sms", |e| {
                e["callback"]["sessionLink"] =
                    json!("https://widget.identomat.com/?session_token=SOMEONE-ELSE");
            }),
            "sessionLink",
        ),
        (
            Family::Sms,
            edited("sms", "one-time-password-request", |e| {
                e["callback"].as_object_mut().unwrap().remove("text");
            }),
            "text",
        ),
        (
            Family::Email,
            edited("email", "share-session-link-via-email", |e| {
                e["callback"]["cc"] = json!(["support@example.com", "not an address"]);
            }),
            "cc",
        ),
        (
            Family::Email,
            edited("email", "email-one-time-password-request", |e| {
                e["callback"]["subject"] = json!("Code\r\nBcc: everyone@example.com");
            }),
            "subject",
        ),
        (
            Family::SessionStatus,
            edited("session-status", "session-change", |e| {
                e["callback"]["result"] = json!("");
            }),
            "result",
        ),
        (
            Family::SessionStatus,
            edited("session-status", "session-change", |e| {
                e["callback"]["result"] = json!("A".repeat(65));
            }),
            "result",
        ),
        (
            Family::VideoCall,
            edited("video-call", "video-call-status-update-empty", |e| {
                e["callback"]["videoFileId"] = json!(["F1"]);
            }),
            "videoFileId",
        ),
        (
            Family::VideoCall,
            edited("video-call", "video-call-status-update-available", |e| {
                e["callback"]["videoFileId"] = json!("../../etc/passwd");
            }),
            "videoFileId",
        ),
    ];
    for (family, envelope, field) in cases {
        let reason = invalid_reason(family, envelope);
        assert!(reason.contains(&format!("`{field}`")), "{field}: {reason}");
    }
}

#[test]
fn a_broken_envelope_is_invalid_not_a_panic() {
    for envelope in [
        json!(null),
        json!("text"),
        json!({}),
        json!({"requestId": "r", "receivedAt": "yesterday", "callback": {"type": "session-change"}}),
        json!({"requestId": "r", "receivedAt": "2026-11-27T19:49:15.123Z", "callback": [1, 2]}),
    ] {
        invalid_reason(Family::SessionStatus, envelope);
    }
}

#[test]
fn what_is_refused_never_echoes_the_values() {
    let envelope = edited("sms", "one-time-password-request", |e| {
        e["callback"]["phoneNumber"] = json!("+99551234567890123456");
    });
    let reason = invalid_reason(Family::Sms, envelope);
    assert!(!reason.contains("99551234567890123456"), "{reason}");
    assert!(!reason.contains("Your code"), "{reason}");
}
