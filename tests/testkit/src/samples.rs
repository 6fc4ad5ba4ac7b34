//! The platform's reference samples (`events/callbacks/`), as bytes and as typed callbacks, and
//! API Gateway HTTP API (payload 2.0) events that carry a body.

use identomat::{Acceptance, Callback, CallbackKeys, Envelope, Limits, LinkPolicy, ReceivedAt};

/// The keys the reference samples carry: most use the first, the SMS OTP sample the second.
pub const KEY: &str = "apikey123";
pub const PREVIOUS_KEY: &str = "callback-api-key-123";

/// Every reference sample, in the order of the platform's page.
pub const NAMES: [&str; 8] = [
    "one-time-password-request",
    "share-session-link-via-sms",
    "share-session-link-via-email",
    "email-one-time-password-request",
    "session-change",
    "session-change-kyb",
    "video-call-status-update-empty",
    "video-call-status-update-available",
];

/// Both sample keys, as during a rotation.
pub fn keys() -> CallbackKeys {
    CallbackKeys::new(Some(KEY), Some(PREVIOUS_KEY))
}

pub fn bytes(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../events/callbacks/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&bytes(name)).expect("a sample is JSON")
}

/// The sample as the ingress accepts it.
pub fn callback(name: &str) -> Callback {
    let acceptance = Acceptance {
        keys: keys(),
        links: LinkPolicy::default(),
        limits: Limits::default(),
    };
    acceptance
        .accept(&bytes(name))
        .expect("a sample is accepted")
}

/// The sample as the ingress hands it to its family, received now.
pub fn envelope(name: &str, request_id: &str) -> Envelope {
    Envelope {
        request_id: request_id.to_owned(),
        received_at: ReceivedAt::now(),
        callback: callback(name),
    }
}

/// API Gateway's request id in [`apigw_event`].
pub const REQUEST_ID: &str = "Hk3Qf1aBliAEJ0Q=";

/// An API Gateway HTTP API (payload 2.0) event of a request to `POST /callbacks`, as the
/// ingress receives it; a function URL sends the same shape.
pub fn apigw_event(method: &str, body: &[u8], base64: bool) -> String {
    apigw_event_with_id(method, body, base64, REQUEST_ID)
}

/// [`apigw_event`] with API Gateway's request id `request_id`: one per delivery.
pub fn apigw_event_with_id(method: &str, body: &[u8], base64: bool, request_id: &str) -> String {
    use base64::Engine;
    let body = if base64 {
        base64::engine::general_purpose::STANDARD.encode(body)
    } else {
        String::from_utf8(body.to_vec()).expect("a text body; use base64 for bytes")
    };
    serde_json::json!({
        "version": "2.0",
        "routeKey": "POST /callbacks",
        "rawPath": "/callbacks",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "user-agent": "identomat-callbacks"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": method,
                "path": "/callbacks",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "identomat-callbacks"
            },
            "requestId": request_id,
            "routeKey": "POST /callbacks",
            "stage": "$default",
            "time": "27/Nov/2026:19:49:15 +0000",
            "timeEpoch": 1795808955000u64
        },
        "body": body,
        "isBase64Encoded": base64
    })
    .to_string()
}
