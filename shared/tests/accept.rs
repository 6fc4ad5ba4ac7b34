//! The callback contract: every reference sample, every way a body can be refused.

use serde_json::{Value, json};
use shared::callback::*;
use shared::fields::*;
use shared::{
    Acceptance, AuthError, CallbackKeys, Envelope, InvalidField, Limits, LinkPolicy, MalformedBody,
    Problem, Rejection, Timestamp,
};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/callbacks");

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!("{SAMPLES}/{name}.json")).expect("sample file")
}

/// The reference uses two keys across its samples; accept both, as during a rotation.
fn acceptance() -> Acceptance {
    Acceptance {
        keys: CallbackKeys::new(Some("apikey123"), Some("callback-api-key-123")),
        links: LinkPolicy::default(),
        limits: Limits::default(),
    }
}

fn accept(body: &Value) -> Result<Callback, Rejection> {
    acceptance().accept(&serde_json::to_vec(body).unwrap())
}

fn invalid(field: &'static str, problem: Problem) -> Result<Callback, Rejection> {
    Err(Rejection::Invalid(InvalidField::new(field, problem)))
}

#[test]
fn sms_one_time_password_sample() {
    let Ok(Callback::SmsOneTimePassword(c)) =
        acceptance().accept(&sample("one-time-password-request"))
    else {
        panic!("wrong variant");
    };
    assert_eq!(
        c.session_id.as_str(),
        "wwb83rh1se22wd81z0tx8bqlerljq5kgf6rxem1q"
    );
    assert_eq!(c.text.as_str(), "Your code is 6867");
    assert_eq!(c.phone_number.as_str(), "+995512345678");
}

#[test]
fn sms_session_link_sample() {
    let Ok(Callback::SmsSessionLink(c)) =
        acceptance().accept(&sample("share-session-link-via-sms"))
    else {
        panic!("wrong variant");
    };
    assert_eq!(
        c.session_id.as_str(),
        "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp"
    );
    assert_eq!(
        c.text.as_str(),
        "Hello John Doe, please complete your verification using the link below."
    );
    assert_eq!(c.phone_number.as_str(), "+995512345678");
    assert_eq!(
        c.session_link.as_str(),
        "https://widget.identomat.com/?session_token=ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp"
    );
    assert_eq!(c.created_by.unwrap().as_str(), "operator@example.com");
}

#[test]
fn email_session_link_sample() {
    let Ok(Callback::EmailSessionLink(c)) =
        acceptance().accept(&sample("share-session-link-via-email"))
    else {
        panic!("wrong variant");
    };
    assert_eq!(
        c.session_id.as_str(),
        "5alhw0070l2gy82q0mqlfniv7gwgbqqs0rtctolg"
    );
    assert_eq!(c.address.as_str(), "john.doe@example.com");
    assert_eq!(c.subject.as_str(), "Verification Required");
    assert_eq!(
        c.content.as_str(),
        "Dear John Doe, please complete your verification using the link below."
    );
    let cc: Vec<&str> = c.cc.addresses().iter().map(EmailAddress::as_str).collect();
    assert_eq!(cc, ["support@example.com"]);
    assert_eq!(
        c.session_link.as_str(),
        "https://widget.identomat.com/?session_token=5alhw0070l2gy82q0mqlfniv7gwgbqqs0rtctolg"
    );
    assert_eq!(c.created_by.unwrap().as_str(), "operator@example.com");
}

#[test]
fn email_one_time_password_sample() {
    let Ok(Callback::EmailOneTimePassword(c)) =
        acceptance().accept(&sample("email-one-time-password-request"))
    else {
        panic!("wrong variant");
    };
    assert_eq!(
        c.session_id.as_str(),
        "5alhw0070l2gy82q0mqlfniv7gwgbqqs0rtctolg"
    );
    assert_eq!(c.address.as_str(), "john.doe@example.com");
    assert_eq!(c.subject.as_str(), "Mail Verification");
    assert_eq!(c.content.as_str(), "Your code is 6867");
}

#[test]
fn session_change_samples() {
    let Ok(Callback::SessionChange(kyc)) = acceptance().accept(&sample("session-change")) else {
        panic!("wrong variant");
    };
    assert_eq!(
        kyc.session_id.as_str(),
        "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp"
    );
    assert_eq!(kyc.result, SessionResult::Approved);
    assert_eq!(kyc.session_type, SessionType::Kyc);

    let Ok(Callback::SessionChange(kyb)) = acceptance().accept(&sample("session-change-kyb"))
    else {
        panic!("wrong variant");
    };
    assert_eq!(
        kyb.session_id.as_str(),
        "65lfvkv1t2o25ozimqu3nh797umb1ydvkpltl3ib"
    );
    assert_eq!(kyb.result, SessionResult::Approved);
    assert_eq!(kyb.session_type, SessionType::Kyb);
}

#[test]
fn video_call_samples() {
    let Ok(Callback::VideoCallStatus(empty)) =
        acceptance().accept(&sample("video-call-status-update-empty"))
    else {
        panic!("wrong variant");
    };
    assert_eq!(
        empty.session_id.as_str(),
        "wtmfcr7tcj4q04co8mdg8yryou9glrcr2tbzm016"
    );
    assert_eq!(empty.room_id.as_str(), "RM860d0a0272a619cdc0b4a855e75f8466");
    assert_eq!(empty.room_status, RoomStatus::Empty);
    assert_eq!(empty.composition_status, None);
    assert_eq!(empty.video_file_status, None);
    assert_eq!(empty.video_file_id, None);

    let Ok(Callback::VideoCallStatus(ended)) =
        acceptance().accept(&sample("video-call-status-update-available"))
    else {
        panic!("wrong variant");
    };
    assert_eq!(
        ended.session_id.as_str(),
        "ypsgyus3mosob3tugu3emgekqjykam5nvue1z1fu"
    );
    assert_eq!(ended.room_id.as_str(), "RMc7eb8093d2461af50834f69e86692db3");
    assert_eq!(ended.room_status, RoomStatus::Ended);
    assert_eq!(ended.composition_status, Some(FileStatus::Available));
    assert_eq!(ended.video_file_status, Some(FileStatus::Available));
    assert_eq!(
        ended.video_file_id.unwrap().as_str(),
        "hwenFYGlG54kRjmSruy3kxg54zV2pNPwHimseYao"
    );
}

#[test]
fn one_time_password_heading_name_is_accepted() {
    let mut body: Value = serde_json::from_slice(&sample("one-time-password-request")).unwrap();
    body["type"] = json!("one-time-password");
    assert!(matches!(accept(&body), Ok(Callback::SmsOneTimePassword(_))));
}

#[test]
fn unknown_values_are_kept_not_rejected() {
    let body = json!({"callbackApiKey": "apikey123", "type": "session-change",
        "sessionId": "abc", "result": "ESCALATED", "sessionType": "kyx"});
    let Ok(Callback::SessionChange(c)) = accept(&body) else {
        panic!()
    };
    assert_eq!(c.result, SessionResult::Other("ESCALATED".into()));
    assert_eq!(c.session_type, SessionType::Other("kyx".into()));

    let body = json!({"callbackApiKey": "apikey123", "type": "video-call-status-update",
        "sessionId": "abc", "roomId": "RM1", "roomStatus": "failed",
        "compositionStatus": "processing", "videoFileStatus": "deleted", "videoFileId": null});
    let Ok(Callback::VideoCallStatus(v)) = accept(&body) else {
        panic!()
    };
    assert_eq!(v.room_status, RoomStatus::Other("failed".into()));
    assert_eq!(
        v.composition_status,
        Some(FileStatus::Other("processing".into()))
    );
    assert_eq!(
        v.video_file_status,
        Some(FileStatus::Other("deleted".into()))
    );
}

#[test]
fn unknown_type_is_kept_without_the_key() {
    let body = json!({"callbackApiKey": "apikey123", "type": "document-expired",
        "sessionId": "abc", "extra": {"nested": [1, 2]}});
    let Ok(Callback::Unhandled(u)) = accept(&body) else {
        panic!()
    };
    assert_eq!(u.type_name, "document-expired");
    assert_eq!(u.session_id().unwrap().as_str(), "abc");
    assert_eq!(
        Value::Object(u.fields.clone()),
        json!({"sessionId": "abc", "extra": {"nested": [1, 2]}})
    );
    let text = serde_json::to_string(&Callback::Unhandled(u)).unwrap();
    assert!(!text.contains("apikey123"), "{text}");
}

#[test]
fn an_unknown_type_is_bounded_like_any_open_value() {
    let with_type = |t: &str| json!({"callbackApiKey": "apikey123", "type": t, "sessionId": "abc"});
    let longest = "t".repeat(64);
    assert!(
        matches!(accept(&with_type(&longest)), Ok(Callback::Unhandled(u)) if u.type_name == longest)
    );
    // Stored, logged and published as it came: longer would jam notify's PutEvents calls.
    assert_eq!(
        accept(&with_type(&"t".repeat(65))),
        invalid("type", Problem::TooLong)
    );
    assert_eq!(
        accept(&with_type(&"t".repeat(60_000))),
        invalid("type", Problem::TooLong)
    );
    assert_eq!(accept(&with_type("")), invalid("type", Problem::Empty));
    assert_eq!(
        accept(&with_type("new\ntype")),
        invalid("type", Problem::ControlCharacter)
    );
    // A wrong key is still a 401 first, whatever the type.
    let mut wrong = with_type(&"t".repeat(65));
    wrong["callbackApiKey"] = json!("nope");
    assert_eq!(
        accept(&wrong),
        Err(Rejection::Unauthorized(AuthError::Wrong))
    );
}

#[test]
fn unknown_extra_fields_are_ignored() {
    let mut body: Value = serde_json::from_slice(&sample("session-change")).unwrap();
    body["futureField"] = json!({"anything": true});
    assert!(matches!(accept(&body), Ok(Callback::SessionChange(_))));
}

#[test]
fn parsed_from_raw_bytes_with_escapes_and_whitespace() {
    let body = br#"  {"callbackApiKey":"\u0061pikey123","type":"session-change",
        "sessionId":"abc","result":"REJ\u0045CTED"}  "#;
    let Ok(Callback::SessionChange(c)) = acceptance().accept(body) else {
        panic!()
    };
    assert_eq!(c.result, SessionResult::Rejected);
}

#[test]
fn envelope_round_trips_every_sample_without_the_key() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/callbacks");
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names.len(), 8, "{names:?}");
    for name in &names {
        let callback = acceptance().accept(&sample(name)).unwrap();
        let envelope = Envelope {
            request_id: "req-1".into(),
            received_at: Timestamp::from_unix_millis(1_795_000_000_123),
            callback,
        };
        let text = serde_json::to_string(&envelope).unwrap();
        assert!(
            !text.contains("apikey") && !text.contains("callbackApiKey"),
            "{text}"
        );
        assert!(
            text.contains(r#""receivedAt":"2026-11-18T11:06:40.123Z""#),
            "{text}"
        );
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back, envelope, "{name}");
    }
    let unhandled = Envelope {
        request_id: "req-2".into(),
        received_at: Timestamp::from_unix_millis(0),
        callback: accept(&json!({"callbackApiKey": "apikey123", "type": "new-thing", "a": 1}))
            .unwrap(),
    };
    let back: Envelope = serde_json::from_str(&serde_json::to_string(&unhandled).unwrap()).unwrap();
    assert_eq!(back, unhandled);
}

#[test]
fn body_errors() {
    let a = acceptance();
    let malformed = |e| Err(Rejection::Malformed(e));
    assert_eq!(a.accept(b""), malformed(MalformedBody::NotJson));
    assert_eq!(a.accept(b"{\"type\":"), malformed(MalformedBody::NotJson));
    assert_eq!(a.accept(b"{} {}"), malformed(MalformedBody::NotJson));
    assert_eq!(a.accept(b"\xff\xfe"), malformed(MalformedBody::NotJson));
    assert_eq!(
        a.accept(b"{\"a\":\"\xff\"}"),
        malformed(MalformedBody::NotJson)
    );
    for not_object in [
        &b"[]"[..],
        b"[1,{}]",
        b"\"text\"",
        b"42",
        b"-1.5",
        b"null",
        b"true",
    ] {
        assert_eq!(a.accept(not_object), malformed(MalformedBody::NotAnObject));
    }
    // Duplicates are refused before the key is looked at, whichever copy is right.
    assert_eq!(
        a.accept(
            br#"{"callbackApiKey":"wrong","callbackApiKey":"apikey123","type":"session-change"}"#
        ),
        malformed(MalformedBody::DuplicateKey)
    );
    assert_eq!(
        a.accept(br#"{"callbackApiKey":"apikey123","type":"session-change","type":"x"}"#),
        malformed(MalformedBody::DuplicateKey)
    );
    // Escaped and plain spellings of one key are the same key.
    assert_eq!(
        a.accept(br#"{"callbackApiKey":"apikey123","sessionId":"a","sessionI\u0064":"b"}"#),
        malformed(MalformedBody::DuplicateKey)
    );
    // Past a handful of keys the check uses a hash set: a duplicate is still found wherever it
    // stands, in any spelling.
    for (at, copy) in [
        (3, short_key(3)),
        (17, short_key(17)),
        (60, short_key(60)),
        (1, short_key(1).replace('A', r"\u0041")),
    ] {
        let mut body = String::from(r#"{"callbackApiKey":"apikey123","#);
        for i in 0..61 {
            body.push_str(&format!(r#""{}":0,"#, short_key(i)));
        }
        body.push_str(&format!(r#""{copy}":1,"type":"session-change"}}"#));
        assert_eq!(
            a.accept(body.as_bytes()),
            malformed(MalformedBody::DuplicateKey),
            "a copy of key {at}"
        );
    }
    // More fields than any callback has: reading stops there, before the key, with a 400;
    // sixty-four are still read.
    for (keys, key, expected) in [
        (8_000, "apikey123", malformed(MalformedBody::TooManyFields)),
        (8_000, "wrong", malformed(MalformedBody::TooManyFields)),
        (65, "apikey123", malformed(MalformedBody::TooManyFields)),
        (62, "wrong", Err(Rejection::Unauthorized(AuthError::Wrong))),
    ] {
        let mut body = format!(r#"{{"callbackApiKey":"{key}","#);
        for i in 0..keys {
            body.push_str(&format!(r#""{}":0,"#, short_key(i)));
        }
        body.push_str(r#""type":"session-change"}"#);
        assert_eq!(a.accept(body.as_bytes()), expected, "{keys} keys");
    }
    // Deep nesting is skipped without recursion: no stack overflow, and still no callback.
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(
        a.accept(nested.as_bytes()),
        malformed(MalformedBody::NotAnObject)
    );
    let nested = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    assert!(a.accept(nested.as_bytes()).is_err());
    let nested = format!(
        r#"{{"callbackApiKey":"apikey123","x":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert_eq!(
        a.accept(nested.as_bytes()),
        invalid("type", Problem::Missing)
    );
}

#[test]
fn size_limit_comes_first() {
    let a = Acceptance {
        limits: Limits {
            max_body_bytes: 100,
            ..Limits::default()
        },
        ..acceptance()
    };
    let big = vec![b'x'; 101];
    assert_eq!(a.accept(&big).unwrap_err().status(), 413);
    let body = br#"{"callbackApiKey":"apikey123","type":"session-change","sessionId":"a","result":"APPROVED"}"#;
    assert!(body.len() <= 100);
    assert!(a.accept(body).is_ok());
}

#[test]
fn authentication_comes_before_the_schema() {
    let a = acceptance();
    let unauthorized = |e| Err(Rejection::Unauthorized(e));
    // Wrong or missing key with nonsense fields: 401, never 422.
    assert_eq!(
        a.accept(br#"{"callbackApiKey":"nope","type":5}"#),
        unauthorized(AuthError::Wrong)
    );
    assert_eq!(
        a.accept(br#"{"type":"session-change"}"#),
        unauthorized(AuthError::Missing)
    );
    assert_eq!(a.accept(br#"{}"#), unauthorized(AuthError::Missing));
    assert_eq!(
        a.accept(br#"{"callbackApiKey":123}"#),
        unauthorized(AuthError::NotAString)
    );
    assert_eq!(
        a.accept(br#"{"callbackApiKey":null}"#),
        unauthorized(AuthError::NotAString)
    );
    assert_eq!(
        a.accept(br#"{"callbackApiKey":["apikey123"]}"#),
        unauthorized(AuthError::NotAString)
    );
    assert_eq!(
        a.accept(br#"{"callbackApiKey":"APIKEY123"}"#),
        unauthorized(AuthError::Wrong)
    );
    assert_eq!(
        a.accept(br#"{"callbackApiKey":""}"#),
        unauthorized(AuthError::Wrong)
    );
    let none = Acceptance {
        keys: CallbackKeys::new(None, None),
        ..acceptance()
    };
    assert_eq!(
        none.accept(&sample("session-change")),
        unauthorized(AuthError::NotConfigured)
    );
}

fn otp(phone: Value) -> Value {
    json!({"callbackApiKey": "apikey123", "type": "one-time-password-request",
        "sessionId": "abc", "text": "Your code is 1", "phoneNumber": phone})
}

#[test]
fn missing_fields_and_wrong_types_name_the_field() {
    let mut body = otp(json!("+995512345678"));
    body.as_object_mut().unwrap().remove("phoneNumber");
    assert_eq!(accept(&body), invalid("phoneNumber", Problem::Missing));
    assert_eq!(
        accept(&otp(json!(995512345678u64))),
        invalid("phoneNumber", Problem::NotAString)
    );
    assert_eq!(
        accept(&otp(json!(null))),
        invalid("phoneNumber", Problem::NotAString)
    );
    assert_eq!(
        accept(&otp(json!(["+995512345678"]))),
        invalid("phoneNumber", Problem::NotAString)
    );
    assert_eq!(
        accept(&json!({"callbackApiKey": "apikey123"})),
        invalid("type", Problem::Missing)
    );
    assert_eq!(
        accept(&json!({"callbackApiKey": "apikey123", "type": 1})),
        invalid("type", Problem::NotAString)
    );
    let mut video: Value =
        serde_json::from_slice(&sample("video-call-status-update-empty")).unwrap();
    // Documented as nullable: absent reads as null.
    video.as_object_mut().unwrap().remove("videoFileId");
    assert!(accept(&video).is_ok());
    video["videoFileId"] = json!(7);
    assert_eq!(
        accept(&video),
        invalid("videoFileId", Problem::NotAStringOrNull)
    );
}

#[test]
fn bad_phone_numbers() {
    for (bad, problem) in [
        ("995512345678", Problem::PhoneWithoutPlus),
        ("", Problem::PhoneWithoutPlus),
        ("00995512345678", Problem::PhoneInternationalPrefix),
        ("00 995 512 345 678", Problem::PhoneInternationalPrefix),
        ("+99551234567a", Problem::PhoneLetters),
        ("+995 5xx xx xx xx", Problem::PhoneLetters),
        ("+99551234567O", Problem::PhoneLetters),
        ("+1234567", Problem::NotE164),
        ("+1234567890123456", Problem::NotE164),
        ("+0995512345678", Problem::NotE164),
        ("+", Problem::NotE164),
        ("++995512345678", Problem::NotE164),
        ("+ 995512345678", Problem::NotE164),
        ("+995512345678-", Problem::NotE164),
        ("+995 (512 345 678", Problem::NotE164),
        ("+995 ((512)) 345 678", Problem::NotE164),
        ("+995/512/345/678", Problem::NotE164),
        ("+995\u{a0}512345678", Problem::NotE164),
        ("+９９５５１２３４５６７８", Problem::NotE164),
    ] {
        assert_eq!(
            accept(&otp(json!(bad))),
            invalid("phoneNumber", problem),
            "{bad}"
        );
    }
    for good in ["+12345678", "+123456789012345", "+380501234567"] {
        assert!(accept(&otp(json!(good))).is_ok(), "{good}");
    }
}

#[test]
fn phone_numbers_written_with_separators_are_normalised_to_e164() {
    for written in [
        "+995 512 345 678",
        "+995-512-345-678",
        "+995.512.345.678",
        "+995 (512) 34-56.78",
        "+(995) 512345678",
        "  +995512345678\t",
    ] {
        match accept(&otp(json!(written))) {
            Ok(Callback::SmsOneTimePassword(c)) => {
                assert_eq!(c.phone_number.as_str(), "+995512345678", "{written}")
            }
            other => panic!("{written}: {other:?}"),
        }
    }
}

#[test]
fn empty_strings_are_absent_and_addresses_are_trimmed() {
    let mut change: Value = serde_json::from_slice(&sample("session-change")).unwrap();
    change["sessionType"] = json!("");
    match accept(&change) {
        Ok(Callback::SessionChange(c)) => assert_eq!(c.session_type.as_str(), "kyc"),
        other => panic!("{other:?}"),
    }
    let mut video: Value =
        serde_json::from_slice(&sample("video-call-status-update-empty")).unwrap();
    for field in ["compositionStatus", "videoFileStatus", "videoFileId"] {
        video[field] = json!("");
    }
    match accept(&video) {
        Ok(Callback::VideoCallStatus(v)) => {
            assert_eq!(
                (v.composition_status, v.video_file_status, v.video_file_id),
                (None, None, None)
            )
        }
        other => panic!("{other:?}"),
    }
    for field in ["compositionStatus", "videoFileStatus", "videoFileId"] {
        video.as_object_mut().unwrap().remove(field);
    }
    assert!(accept(&video).is_ok(), "the nullable fields absent");
    let mut mail = email_link("cc", json!(""));
    mail["address"] = json!("  john.doe@example.com ");
    mail["createdBy"] = json!("");
    match accept(&mail) {
        Ok(Callback::EmailSessionLink(c)) => {
            assert_eq!(c.address.as_str(), "john.doe@example.com");
            assert!(c.cc.is_empty() && c.created_by.is_none());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn format_characters_are_refused_in_every_text_naming_the_field() {
    for (field, sample_name) in [
        ("text", "one-time-password-request"),
        ("text", "share-session-link-via-sms"),
        ("subject", "share-session-link-via-email"),
        ("content", "share-session-link-via-email"),
        ("subject", "email-one-time-password-request"),
        ("content", "email-one-time-password-request"),
        ("createdBy", "share-session-link-via-sms"),
    ] {
        for hidden in [
            '\u{AD}', '\u{200B}', '\u{200D}', '\u{202E}', '\u{2066}', '\u{FEFF}',
        ] {
            let body = with_field(sample_name, field, &format!("Code{hidden} 6867"));
            assert_eq!(
                accept(&body),
                invalid(field, Problem::FormatCharacter),
                "{sample_name} {field} U+{:04X}",
                u32::from(hidden)
            );
        }
    }
    // A zero-width space hides a host from the link check: refused before it is looked for.
    let hidden_host = with_field(
        "one-time-password-request",
        "text",
        "Code 6867 evil\u{200B}.com",
    );
    assert_eq!(
        accept(&hidden_host),
        invalid("text", Problem::FormatCharacter)
    );
}

#[test]
fn a_link_sms_that_the_link_would_push_past_1600_bytes_is_refused() {
    let link =
        "https://widget.identomat.com/?session_token=ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp";
    // The text alone fits; the line break and the link do not.
    let fits = 1600 - link.len() - 1;
    let ok = with_field("share-session-link-via-sms", "text", &"x".repeat(fits));
    assert!(accept(&ok).is_ok());
    let over = with_field("share-session-link-via-sms", "text", &"x".repeat(fits + 1));
    assert_eq!(accept(&over), invalid("text", Problem::TooLongWithLink));
    // A text that holds the link already gets nothing appended.
    let holds = format!("{}{link}", "x".repeat(1600 - link.len()));
    assert!(accept(&with_field("share-session-link-via-sms", "text", &holds)).is_ok());
}

fn email_link(field: &str, value: Value) -> Value {
    let mut body: Value = serde_json::from_slice(&sample("share-session-link-via-email")).unwrap();
    body[field] = value;
    body
}

#[test]
fn bad_addresses() {
    for bad in [
        "john.doe",
        "@example.com",
        "john@",
        "john@@example.com",
        "jo@hn@example.com",
        "john doe@example.com",
        "john@example",
        "john@exa mple.com",
        "john@-example.com",
        ".john@example.com",
        "jo..hn@example.com",
        "john@example.com\r\nBcc: x@evil.com",
        "<john@example.com>",
        "John <john@example.com>",
        "john@example.c",
        "jöhn@example.com",
    ] {
        let got = accept(&email_link("address", json!(bad)));
        assert!(
            matches!(
                got,
                Err(Rejection::Invalid(InvalidField {
                    field: "address",
                    ..
                }))
            ),
            "{bad}: {got:?}"
        );
    }
}

#[test]
fn cc_holds_several_addresses() {
    let Ok(Callback::EmailSessionLink(c)) = accept(&email_link(
        "cc",
        json!("a@example.com, b@example.org;c@example.net;"),
    )) else {
        panic!()
    };
    let cc: Vec<&str> = c.cc.addresses().iter().map(EmailAddress::as_str).collect();
    assert_eq!(cc, ["a@example.com", "b@example.org", "c@example.net"]);
    for empty in [json!(null), json!(""), json!(" ; ")] {
        let Ok(Callback::EmailSessionLink(c)) = accept(&email_link("cc", empty)) else {
            panic!()
        };
        assert!(c.cc.is_empty());
    }
    // A malformed entry is dropped, masked, and the rest is delivered.
    let Ok(Callback::EmailSessionLink(c)) = accept(&email_link(
        "cc",
        json!("a@example.com, not an address; ev@l@x.com,  b@example.org "),
    )) else {
        panic!()
    };
    let cc: Vec<&str> = c.cc.addresses().iter().map(EmailAddress::as_str).collect();
    assert_eq!(cc, ["a@example.com", "b@example.org"]);
    assert_eq!(c.cc_dropped, ["*** (14 chars)", "e***@x.com"]);
    // The envelope carries them, and a family reads them back.
    let envelope = Envelope {
        request_id: "r1".into(),
        received_at: Timestamp::from_unix_millis(1_795_000_000_000),
        callback: Callback::EmailSessionLink(c.clone()),
    };
    let json = serde_json::to_value(&envelope).unwrap();
    assert_eq!(json["callback"]["ccDropped"][1], "e***@x.com");
    let back: Envelope = serde_json::from_value(json).unwrap();
    assert_eq!(back.callback, Callback::EmailSessionLink(c));
    // Every entry malformed: the To still gets it.
    let Ok(Callback::EmailSessionLink(c)) = accept(&email_link("cc", json!("nope, also nope")))
    else {
        panic!()
    };
    assert!(c.cc.is_empty() && c.cc_dropped.len() == 2);
    let many = (0..50)
        .map(|i| format!("u{i}@example.com"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        accept(&email_link("cc", json!(many))),
        invalid("cc", Problem::TooManyAddresses)
    );
}

#[test]
fn subject_rules() {
    assert_eq!(
        accept(&email_link("subject", json!("Hi\r\nBcc: x@evil.com"))),
        invalid("subject", Problem::LineBreak)
    );
    assert_eq!(
        accept(&email_link("subject", json!("Hi\nthere"))),
        invalid("subject", Problem::LineBreak)
    );
    assert_eq!(
        accept(&email_link("subject", json!("Hi\u{2028}there"))),
        invalid("subject", Problem::LineBreak)
    );
    assert_eq!(
        accept(&email_link("subject", json!("Hi\u{0}"))),
        invalid("subject", Problem::ControlCharacter)
    );
    assert_eq!(
        accept(&email_link("subject", json!("  "))),
        invalid("subject", Problem::Empty)
    );
    assert_eq!(
        accept(&email_link("subject", json!("x".repeat(257)))),
        invalid("subject", Problem::TooLong)
    );
    assert!(accept(&email_link("subject", json!("ვერიფიკაცია — Verification"))).is_ok());
}

#[test]
fn session_link_rules() {
    let token = "5alhw0070l2gy82q0mqlfniv7gwgbqqs0rtctolg";
    let cases = [
        (
            format!("http://widget.identomat.com/?session_token={token}"),
            Problem::NotHttps,
        ),
        ("javascript:alert(1)".to_owned(), Problem::NotHttps),
        (
            format!("https://evil.example.com/?session_token={token}"),
            Problem::HostNotAllowed,
        ),
        (
            format!("https://widget.identomat.com.evil.com/?session_token={token}"),
            Problem::HostNotAllowed,
        ),
        (
            format!("https://xn--wdget-k0a.identomat.com/?session_token={token}"),
            Problem::HostNotAllowed,
        ),
        (
            format!("https://wіdget.identomat.com/?session_token={token}"),
            Problem::NotAUrl,
        ),
        (
            format!("https://evil.com\\@widget.identomat.com/?session_token={token}"),
            Problem::UrlCredentialsOrPort,
        ),
        (
            format!("https://widget.identomat.com@evil.com/?session_token={token}"),
            Problem::UrlCredentialsOrPort,
        ),
        (
            format!("https://0x7f.1/?session_token={token}"),
            Problem::HostNotAllowed,
        ),
        (
            format!("https://[::1]/?session_token={token}"),
            Problem::HostNotAllowed,
        ),
        (
            format!("https://widget.identomat.com/<script>?session_token={token}"),
            Problem::NotAUrl,
        ),
        (
            format!("https://widget.identomat.com/%zz?session_token={token}"),
            Problem::NotAUrl,
        ),
        (
            format!("https:widget.identomat.com/?session_token={token}"),
            Problem::NotAUrl,
        ),
        (
            format!("ftp://widget.identomat.com/?session_token={token}"),
            Problem::NotHttps,
        ),
        (
            format!("https://\u{202e}moc.tamotnedi.tegdiw/?session_token={token}"),
            Problem::NotAUrl,
        ),
        (
            format!("https://1.2.3.4/?session_token={token}"),
            Problem::HostNotAllowed,
        ),
        (
            format!("https://user:pw@widget.identomat.com/?session_token={token}"),
            Problem::UrlCredentialsOrPort,
        ),
        (
            format!("https://widget.identomat.com:8443/?session_token={token}"),
            Problem::UrlCredentialsOrPort,
        ),
        (
            "https://widget.identomat.com/?session_token=someone-else".to_owned(),
            Problem::TokenMismatch,
        ),
        (
            format!("https://widget.identomat.com/?session_token={token}\n"),
            Problem::NotAUrl,
        ),
        // Read as a browser and a server read it: decoded names, one token, none in the
        // fragment, the host as the parser normalises it.
        (
            format!("https://widget.identomat.com/?session%5Ftoken=someone-else&x={token}"),
            Problem::TokenMismatch,
        ),
        (
            format!("https://widget.identomat.com/?session_token={token}&session_token={token}"),
            Problem::TokenRepeated,
        ),
        (
            format!("https://widget.identomat.com/?session_token={token}#session_token=other"),
            Problem::TokenInFragment,
        ),
        (
            format!("https://widget.identomat.com/#/verify?session%5ftoken={token}"),
            Problem::TokenInFragment,
        ),
        (
            format!("https://widget%2Eidentomat.com/?session_token={token}"),
            Problem::NotAUrl,
        ),
        ("widget.identomat.com".to_owned(), Problem::NotAUrl),
        (String::new(), Problem::Empty),
    ];
    for (link, problem) in cases {
        assert_eq!(
            accept(&email_link("sessionLink", json!(link))),
            invalid("sessionLink", problem),
            "{link}"
        );
    }
    // Scheme and host are case-insensitive; a link without a token, or to another allowed
    // host, is fine.
    let upper = format!("HTTPS://WIDGET.Identomat.COM/?session_token={token}#top");
    assert!(accept(&email_link("sessionLink", json!(upper))).is_ok());
    assert!(
        accept(&email_link(
            "sessionLink",
            json!("https://widget.identomat.com/start")
        ))
        .is_ok()
    );
    let other_host = Acceptance {
        links: LinkPolicy::new(["verify.example.com"]),
        ..acceptance()
    };
    let body = email_link(
        "sessionLink",
        json!(format!("https://verify.example.com/?session_token={token}")),
    );
    assert!(
        other_host
            .accept(&serde_json::to_vec(&body).unwrap())
            .is_ok()
    );
}

#[test]
fn text_rules() {
    let mut body = otp(json!("+995512345678"));
    body["text"] = json!("x".repeat(1601));
    assert_eq!(accept(&body), invalid("text", Problem::TooLong));
    body["text"] = json!("ა".repeat(534)); // 1,602 bytes in 534 characters
    assert_eq!(accept(&body), invalid("text", Problem::TooLong));
    // 1,600 bytes is an SMS text's most; an OTP's is SMS_OTP_MAX_PARTS (below), a link's
    // the same less the link appended to it.
    let link = with_field("share-session-link-via-sms", "text", &"x".repeat(1600));
    assert_eq!(accept(&link), invalid("text", Problem::TooLongWithLink));
    body["text"] = json!("x".repeat(1600));
    assert_eq!(accept(&body), invalid("text", Problem::TooManyParts));
    body["text"] = json!("");
    assert_eq!(accept(&body), invalid("text", Problem::Empty));
    body["text"] = json!("code\u{0}1234");
    assert_eq!(accept(&body), invalid("text", Problem::ControlCharacter));
    let content = email_link("content", json!("x".repeat(EmailContent::MAX_BYTES + 1)));
    assert_eq!(accept(&content), invalid("content", Problem::TooLong));
}

#[test]
fn bad_session_ids() {
    for (bad, problem) in [
        ("", Problem::Empty),
        ("abc def", Problem::BadIdCharacter),
        ("abc/../x", Problem::BadIdCharacter),
        ("abc#status", Problem::BadIdCharacter),
        ("ü", Problem::BadIdCharacter),
    ] {
        let mut body = otp(json!("+995512345678"));
        body["sessionId"] = json!(bad);
        assert_eq!(accept(&body), invalid("sessionId", problem), "{bad}");
    }
    let mut body = otp(json!("+995512345678"));
    body["sessionId"] = json!("a".repeat(129));
    assert_eq!(accept(&body), invalid("sessionId", Problem::TooLong));
    body["sessionId"] = json!("a".repeat(128));
    assert!(accept(&body).is_ok());
}

#[test]
fn error_messages_name_the_field_and_echo_nothing() {
    let mut body = otp(json!("+99551234567x"));
    body["text"] = json!("Your code is 6867");
    let err = accept(&body).unwrap_err();
    assert_eq!(err.status(), 422);
    let msg = err.to_string();
    assert!(msg.contains("phoneNumber"), "{msg}");
    assert!(
        !msg.contains("99551234567") && !msg.contains("6867"),
        "{msg}"
    );
    let err = acceptance()
        .accept(br#"{"callbackApiKey":"secret-guess"}"#)
        .unwrap_err();
    assert!(!err.to_string().contains("secret-guess"));
}

/// The `i`-th of 238,328 distinct three-character keys, so 8,000 of them fit a 64 KiB body.
fn short_key(i: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let digit = |n: usize| char::from(ALPHABET[n % ALPHABET.len()]);
    [i / (62 * 62), i / 62, i].into_iter().map(digit).collect()
}

fn with_field(sample_name: &str, field: &str, value: &str) -> Value {
    let mut body: Value = serde_json::from_slice(&sample(sample_name)).unwrap();
    body[field] = json!(value);
    body
}

#[test]
fn an_otp_of_more_parts_than_sms_otp_max_parts_is_refused_naming_text() {
    let otp = |text: &str| accept(&with_field("one-time-password-request", "text", text));
    // GSM-7: 459 characters are 3 parts, 460 are 4; UCS-2: 201 are 3, 202 are 4.
    for (text, parts) in [
        ("x".repeat(459), 3),
        ("x".repeat(460), 4),
        ("ა".repeat(201), 3),
        ("ა".repeat(202), 4),
        (format!("{}€", "x".repeat(457)), 3),
        (format!("{}€", "x".repeat(458)), 4),
    ] {
        assert_eq!(shared::segments::parts(&text).count, parts);
        match parts {
            3 => assert!(otp(&text).is_ok(), "{parts} parts"),
            _ => assert_eq!(otp(&text), invalid("text", Problem::TooManyParts)),
        }
    }
    // Identomat's OTP in Georgian, with its WebOTP line: one part, nowhere near the limit.
    assert!(otp("თქვენი ერთჯერადი კოდია 6867\n\n@widget.identomat.com #6867").is_ok());
    // One part allowed: a two-part OTP is refused. Link SMS are never held to it.
    let strict = Acceptance {
        limits: Limits {
            sms_otp_max_parts: 1,
            ..Limits::default()
        },
        ..acceptance()
    };
    let body = with_field("one-time-password-request", "text", &"x".repeat(161));
    assert_eq!(
        strict.accept(&serde_json::to_vec(&body).unwrap()),
        invalid("text", Problem::TooManyParts)
    );
    let long_link = with_field("share-session-link-via-sms", "text", &"x".repeat(400));
    assert!(
        strict
            .accept(&serde_json::to_vec(&long_link).unwrap())
            .is_ok()
    );
}

#[test]
fn foreign_links_are_refused_naming_the_field() {
    for (sample_name, field) in [
        ("one-time-password-request", "text"),
        ("share-session-link-via-sms", "text"),
        ("email-one-time-password-request", "subject"),
        ("email-one-time-password-request", "content"),
        ("share-session-link-via-email", "subject"),
        ("share-session-link-via-email", "content"),
    ] {
        for text in [
            "Verify at https://evil.example/login",
            "Verify at evil.example/login",
            "Verify at evil.com",
            "Reply to help@evil.com",
        ] {
            let body = with_field(sample_name, field, text);
            assert_eq!(
                accept(&body),
                invalid(field, Problem::ForeignLink),
                "{sample_name} {field}: {text}"
            );
        }
        // The allowed host, and no host at all, pass.
        let body = with_field(sample_name, field, "Continue at widget.identomat.com");
        assert!(accept(&body).is_ok(), "{sample_name} {field}");
    }
    // A family decoding an envelope does not know SESSION_LINK_HOSTS: the ingress checked.
    let body = with_field("one-time-password-request", "text", "evil.example");
    let envelope =
        json!({"requestId": "r", "receivedAt": "2026-11-30T10:00:00.000Z", "callback": body});
    assert!(serde_json::from_value::<Envelope>(envelope).is_ok());
}
