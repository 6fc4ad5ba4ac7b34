//! The platform's reference samples (`events/callbacks/`), as bytes and as typed callbacks, and
//! API Gateway HTTP API (payload 2.0) events that carry a body.

use shared::{Acceptance, Callback, CallbackKeys, Envelope, Limits, LinkPolicy, Timestamp};

/// The keys the reference samples carry: most use the first, the SMS OTP sample the second.
pub const KEY: &str = "apikey123";
pub const PREVIOUS_KEY: &str = "callback-api-key-123";

fn events() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// Every reference sample: the files of `events/callbacks/`, by name.
pub fn names() -> Vec<String> {
    let dir = events().join("callbacks");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "json").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

/// Both sample keys, as during a rotation.
pub fn keys() -> CallbackKeys {
    CallbackKeys::new(Some(KEY), Some(PREVIOUS_KEY))
}

pub fn bytes(name: &str) -> Vec<u8> {
    let path = events().join(format!("callbacks/{name}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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
        received_at: Timestamp::now(),
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

/// [`apigw_event`] with API Gateway's request id `request_id`: one per delivery. The event's
/// shape is the sample event of `events/ingress/` (written by `scripts/local/make_events.py`), with
/// this method, body and request id.
pub fn apigw_event_with_id(method: &str, body: &[u8], base64: bool, request_id: &str) -> String {
    use base64::Engine;
    let body = if base64 {
        base64::engine::general_purpose::STANDARD.encode(body)
    } else {
        String::from_utf8(body.to_vec()).expect("a text body; use base64 for bytes")
    };
    let path = events().join("ingress/session-change.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut event: serde_json::Value = serde_json::from_str(&text).expect("a sample event is JSON");
    event["requestContext"]["http"]["method"] = method.into();
    event["requestContext"]["requestId"] = request_id.into();
    event["body"] = body.into();
    event["isBase64Encoded"] = base64.into();
    event.to_string()
}
