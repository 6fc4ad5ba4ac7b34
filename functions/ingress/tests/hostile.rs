//! Hostile requests through the ingress: each gets its 4xx, nothing is handed on or stored, and
//! nothing panics.

mod common;

use common::*;
use serde_json::{Value, json};

fn with(sample_name: &str, field: &str, value: Value) -> Vec<u8> {
    let mut body = testkit::samples::json(sample_name);
    body[field] = value;
    serde_json::to_vec(&body).unwrap()
}

fn otp(field: &str, value: Value) -> Vec<u8> {
    with("one-time-password-request", field, value)
}

fn sms_link(field: &str, value: Value) -> Vec<u8> {
    with("share-session-link-via-sms", field, value)
}

fn mail(field: &str, value: Value) -> Vec<u8> {
    with("share-session-link-via-email", field, value)
}

const TOKEN: &str = "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp";

fn link(url: &str) -> Vec<u8> {
    sms_link("sessionLink", json!(url.replace("{t}", TOKEN)))
}

fn cases() -> Vec<(&'static str, Vec<u8>, u16)> {
    let nested_array = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let nested_in_object = format!(
        r#"{{"callbackApiKey":"{KEY}","x":{}{}}}"#,
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    vec![
        // Size and shape.
        ("oversize body", otp("text", json!("x".repeat(70_000))), 413),
        ("empty body", Vec::new(), 400),
        ("deeply nested array", nested_array.into_bytes(), 400),
        ("deeply nested value, authenticated", nested_in_object.into_bytes(), 422),
        ("invalid UTF-8", b"{\"callbackApiKey\":\"\xff\xfe\"}".to_vec(), 400),
        ("raw NUL byte", b"{\"callbackApiKey\":\"apikey123\"\x00}".to_vec(), 400),
        ("JSON array", b"[]".to_vec(), 400),
        ("JSON string", b"\"apikey123\"".to_vec(), 400),
        ("trailing garbage", [testkit::samples::bytes("session-change"), b"x".to_vec()].concat(), 400),
        // Duplicate keys, one of them right.
        ("duplicate key, right one last", format!(r#"{{"callbackApiKey":"wrong","callbackApiKey":"{KEY}","type":"session-change","sessionId":"a","result":"APPROVED"}}"#).into_bytes(), 400),
        ("duplicate key, right one first", format!(r#"{{"callbackApiKey":"{KEY}","callbackApiKey":"wrong","type":"session-change","sessionId":"a","result":"APPROVED"}}"#).into_bytes(), 400),
        ("duplicate key, escaped spelling", format!(r#"{{"callbackApiKey":"{KEY}","callbackApiKe\u0079":"x","type":"session-change","sessionId":"a","result":"APPROVED"}}"#).into_bytes(), 400),
        ("duplicate type", format!(r#"{{"callbackApiKey":"{KEY}","type":"session-change","type":"one-time-password-request","sessionId":"a","result":"APPROVED"}}"#).into_bytes(), 400),
        // Keys.
        ("key as a number", otp("callbackApiKey", json!(123)), 401),
        ("key with a trailing space", otp("callbackApiKey", json!("callback-api-key-123 ")), 401),
        ("key in another case", otp("callbackApiKey", json!("APIKEY123")), 401),
        ("wrong key with invalid fields", br#"{"callbackApiKey":"nope","type":"session-change","sessionId":"bad id!"}"#.to_vec(), 401),
        // Types where strings belong.
        ("number as phoneNumber", otp("phoneNumber", json!(995512345678u64)), 422),
        ("number as sessionId", otp("sessionId", json!(42)), 422),
        ("bool as text", otp("text", json!(true)), 422),
        ("array as address", mail("address", json!(["john.doe@example.com"])), 422),
        ("object as subject", mail("subject", json!({"text": "hi"})), 422),
        ("number as type", otp("type", json!(1)), 422),
        // Huge and empty strings, control characters.
        ("huge text", otp("text", json!("x".repeat(60_000))), 422),
        ("blank text", otp("text", json!("   ")), 422),
        ("NUL in text", otp("text", json!("code\u{0}1234")), 422),
        ("escape sequence in text", otp("text", json!("code \u{1b}[31m1234")), 422),
        // Links.
        ("right-to-left override in link", link("https://\u{202e}moc.tamotnedi.tegdiw/?session_token={t}"), 422),
        ("homoglyph host", link("https://w\u{0456}dget.identomat.com/?session_token={t}"), 422),
        ("homoglyph host in punycode", link("https://xn--wdget-k0a.identomat.com/?session_token={t}"), 422),
        ("javascript: link", link("javascript:alert(document.cookie)//{t}"), 422),
        ("http: link", link("http://widget.identomat.com/?session_token={t}"), 422),
        ("data: link", link("data:text/html,<script>alert(1)</script>"), 422),
        ("link with credentials", link("https://widget.identomat.com@evil.example/?session_token={t}"), 422),
        ("link with a port", link("https://widget.identomat.com:8443/?session_token={t}"), 422),
        ("link to an IP address", link("https://198.51.100.7/?session_token={t}"), 422),
        ("link with a backslash", link("https://evil.example\\@widget.identomat.com/?session_token={t}"), 422),
        ("link to a look-alike domain", link("https://widget.identomat.com.evil.example/?session_token={t}"), 422),
        ("link with an encoded token name", link("https://widget.identomat.com/?session%5Ftoken=OTHER&x={t}"), 422),
        ("link with the token twice", link("https://widget.identomat.com/?session_token={t}&session_token=OTHER"), 422),
        ("link with a token in the fragment", link("https://widget.identomat.com/?session_token={t}#session_token=OTHER"), 422),
        ("link with an encoded dot in the host", link("https://widget%2Eidentomat.com/?session_token={t}"), 422),
        ("link with another token", link("https://widget.identomat.com/?session_token=stolen"), 422),
        ("link with a line break", link("https://widget.identomat.com/?session_token={t}\r\nX: y"), 422),
        ("link SMS the link pushes past 1,600 bytes", sms_link("text", json!("x".repeat(1550))), 422),
        // Foreign links in what goes out in the company's name.
        ("foreign link in an OTP text", otp("text", json!("Your code is 6867. Not you? evil.example/login")), 422),
        ("foreign host in a WebOTP line", otp("text", json!("Your code is 6867\n\n@evil.example #6867")), 422),
        ("foreign link in a link SMS text", sms_link("text", json!("Verify at https://evil.example/")), 422),
        ("foreign link in a subject", mail("subject", json!("Verify at evil.com")), 422),
        ("foreign address in a content", mail("content", json!("Send your code to security@evil.com")), 422),
        ("foreign domain in Georgian script", mail("content", json!("ეწვიეთ ევილ.გე")), 422),
        ("foreign link behind ideographic dots", otp("text", json!("Your code is 6867: evil。com")), 422),
        ("foreign link behind a zero-width space", otp("text", json!("Your code is 6867: evil\u{200B}.com")), 422),
        ("foreign bare domain", otp("text", json!("Your code is 6867 evil.com")), 422),
        ("foreign domain with a path", otp("text", json!("Your code is 6867 secure-login-help.com/verify")), 422),
        ("foreign .do domain with a path", otp("text", json!("Your code is 6867 evil.do/x")), 422),
        ("foreign link in capitals", otp("text", json!("Your code is 6867 HTTPS://EVIL.EXAMPLE")), 422),
        ("bidirectional control in a subject", mail("subject", json!("Verify \u{202E}moc.live")), 422),
        ("soft hyphen in a content", mail("content", json!("Verify wid\u{AD}get")), 422),
        // What an SMS is billed as.
        ("OTP of four GSM-7 parts", otp("text", json!("x".repeat(460))), 422),
        ("OTP of four UCS-2 parts", otp("text", json!("ა".repeat(202))), 422),
        // Headers.
        ("CR/LF in subject", mail("subject", json!("Verify\r\nBcc: victim@example.com")), 422),
        ("LF in subject", mail("subject", json!("Verify\nBcc: victim@example.com")), 422),
        ("line separator in subject", mail("subject", json!("Verify\u{2028}Bcc: victim@example.com")), 422),
        ("CR/LF in address", mail("address", json!("john@example.com\r\nBcc: victim@example.com")), 422),
        ("display name in address", mail("address", json!("John <john@example.com>")), 422),
        ("multiple @ in address", mail("address", json!("john@doe@example.com")), 422),
        ("bad cc address alone, no other valid address", mail("cc", json!(["<script>"])), 422),
        // Phone numbers.
        ("phone with spaces and letters", otp("phoneNumber", json!("+995 5xx xx xx xx")), 422),
        ("phone with an international prefix", otp("phoneNumber", json!("00995512345678")), 422),
        ("phone with a slash", otp("phoneNumber", json!("+995/512345678")), 422),
        ("phone with letters", otp("phoneNumber", json!("+99551234567O")), 422),
        ("phone without +", otp("phoneNumber", json!("995512345678")), 422),
        ("phone with leading zero", otp("phoneNumber", json!("+0995512345678")), 422),
        ("phone too long", otp("phoneNumber", json!("+9955123456789012")), 422),
        ("phone in full-width digits", otp("phoneNumber", json!("+９９５５１２３４５６７８")), 422),
        // Ids that become keys.
        ("session id with a slash", otp("sessionId", json!("abc/../status")), 422),
        ("session id with #", otp("sessionId", json!("abc#status")), 422),
        ("room id with #", with("video-call-status-update-empty", "roomId", json!("RM1#x")), 422),
    ]
}

#[tokio::test]
async fn hostile_requests_get_their_4xx_and_change_nothing() {
    let stack = Stack::start(sample_keys()).await;
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for (name, body, expected) in &cases {
        // Bytes that are not UTF-8 arrive base64-encoded, as API Gateway sends them.
        let base64 = std::str::from_utf8(body).is_err();
        let response = stack.send(event("POST", body, base64)).await;
        assert_eq!(
            response.status(),
            *expected,
            "{name}: {}",
            body_text(&response)
        );
        assert_eq!(body_json(&response)["status"], "rejected", "{name}");
        assert!(!body_text(&response).contains(KEY), "{name}");
    }
    assert!(
        stack.lambda.invocations().is_empty(),
        "something was handed on"
    );
    // Each authenticated refusal (422) leaves its `rejected#` record, and nothing else is
    // stored: no other record, none for a 400, 401 or 413.
    let stored = testkit::scan_table(&stack.aws, TABLE).await;
    let refused = cases.iter().filter(|(_, _, status)| *status == 422).count();
    assert_eq!(stored.len(), refused);
    for item in &stored {
        let record = item["record"].as_s().unwrap();
        assert!(record.starts_with("rejected#"), "{record}");
        // The session id is the record's partition, as for every record of a session.
        let mut item = item.clone();
        item.remove("sessionId");
        let text = format!("{item:?}");
        for secret in [KEY, TOKEN, "6867", "512345678", "victim@", "\u{202e}"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}

/// What the platform and its operators plausibly send, accepted now, each normalised.
#[tokio::test]
async fn plausible_variants_are_normalised_not_refused() {
    let stack = Stack::start(sample_keys()).await;
    let video = |field: &str, value: Value| with("video-call-status-update-empty", field, value);
    let mut no_nullables = testkit::samples::json("video-call-status-update-empty");
    for field in ["compositionStatus", "videoFileStatus", "videoFileId"] {
        no_nullables.as_object_mut().unwrap().remove(field);
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "phone with spaces, normalised",
            otp("phoneNumber", json!("+995 512 345 678")),
        ),
        (
            "phone with dashes and dots, normalised",
            otp("phoneNumber", json!("+995-512.345-678")),
        ),
        (
            "phone with parentheses, normalised",
            otp("phoneNumber", json!("+995 (512) 345678")),
        ),
        (
            "address with spaces around, trimmed",
            mail("address", json!("  john.doe@example.com ")),
        ),
        (
            "empty sessionType, read as absent",
            with("session-change", "sessionType", json!("")),
        ),
        (
            "empty compositionStatus, read as null",
            video("compositionStatus", json!("")),
        ),
        (
            "empty videoFileId, read as null",
            video("videoFileId", json!("")),
        ),
        (
            "video without its nullable fields, read as null",
            serde_json::to_vec(&no_nullables).unwrap(),
        ),
        ("empty cc, read as absent", mail("cc", json!(""))),
        (
            "bad cc address, dropped",
            mail("cc", json!("support@widget.identomat.com, not an address")),
        ),
        (
            "a sentence that lost its space",
            otp("text", json!("Your code is 6867.Do not share it")),
        ),
    ];
    for (name, body) in &cases {
        let response = stack.post(body).await;
        assert_eq!(response.status(), 202, "{name}: {}", body_text(&response));
    }
    let handed: Vec<Value> = stack
        .lambda
        .invocations()
        .iter()
        .map(|i| i.payload_json())
        .collect();
    assert_eq!(handed.len(), cases.len());
    for envelope in &handed[..3] {
        assert_eq!(envelope["callback"]["phoneNumber"], "+995512345678");
    }
    assert_eq!(handed[3]["callback"]["address"], "john.doe@example.com");
    assert_eq!(
        handed[9]["callback"]["cc"],
        json!(["support@widget.identomat.com"])
    );
    assert_eq!(
        handed[9]["callback"]["ccDropped"],
        json!(["*** (14 chars)"])
    );
}

#[tokio::test]
async fn header_like_content_stays_in_the_body() {
    // An e-mail body may hold any text; it cannot become a header, so it is accepted as text
    // (an address in it on an allowed host: any other is a foreign domain).
    let stack = Stack::start(sample_keys()).await;
    let body = mail(
        "content",
        json!("Hello\r\nBcc: victim@widget.identomat.com\r\n\r\n<b>hi</b>"),
    );
    assert_eq!(stack.post(&body).await.status(), 202);
    let envelope = stack.lambda.invocations()[0].payload_json();
    assert_eq!(
        envelope["callback"]["content"],
        "Hello\r\nBcc: victim@widget.identomat.com\r\n\r\n<b>hi</b>"
    );
}
