//! The ingress's CPU work per callback, without the network: parse, authenticate, validate and
//! build the envelope, against a bare `serde_json::from_slice::<Value>` of the same bytes.
//! `make bench` prints the medians as a table.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use shared::{Acceptance, CallbackKeys, Envelope, Limits, LinkPolicy, Timestamp};

const SAMPLES: &[(&str, &[u8])] = &[
    (
        "one-time-password-request",
        include_bytes!("../../events/callbacks/one-time-password-request.json"),
    ),
    (
        "share-session-link-via-sms",
        include_bytes!("../../events/callbacks/share-session-link-via-sms.json"),
    ),
    (
        "share-session-link-via-email",
        include_bytes!("../../events/callbacks/share-session-link-via-email.json"),
    ),
    (
        "email-one-time-password-request",
        include_bytes!("../../events/callbacks/email-one-time-password-request.json"),
    ),
    (
        "session-change",
        include_bytes!("../../events/callbacks/session-change.json"),
    ),
    (
        "session-change-kyb",
        include_bytes!("../../events/callbacks/session-change-kyb.json"),
    ),
    (
        "video-call-status-update-empty",
        include_bytes!("../../events/callbacks/video-call-status-update-empty.json"),
    ),
    (
        "video-call-status-update-available",
        include_bytes!("../../events/callbacks/video-call-status-update-available.json"),
    ),
];

fn ingress_path(c: &mut Criterion) {
    let acceptance = Acceptance {
        keys: CallbackKeys::new(Some("apikey123"), Some("callback-api-key-123")),
        links: LinkPolicy::default(),
        limits: Limits::default(),
    };
    let received_at = Timestamp::from_unix_millis(1_795_000_000_123);
    for (name, body) in SAMPLES {
        let mut group = c.benchmark_group(*name);
        group.bench_function("accept", |b| {
            b.iter(|| {
                acceptance
                    .accept(black_box(body))
                    .expect("sample is accepted")
            })
        });
        group.bench_function("accept+envelope", |b| {
            b.iter(|| {
                let callback = acceptance
                    .accept(black_box(body))
                    .expect("sample is accepted");
                let envelope = Envelope {
                    request_id: String::from("8f3c2a1e-req"),
                    received_at,
                    callback,
                };
                black_box(serde_json::to_vec(&envelope).expect("envelope serializes"))
            })
        });
        group.bench_function("bare-parse", |b| {
            b.iter(|| {
                black_box(
                    serde_json::from_slice::<serde_json::Value>(black_box(body)).expect("JSON"),
                )
            })
        });
        group.finish();
    }
}

/// A body of `keys` distinct short keys, or of one string of the same size, with a wrong key:
/// what an unauthenticated caller can make the ingress chew on before the key is looked at.
fn hostile_bodies(keys: usize) -> (Vec<u8>, Vec<u8>) {
    let mut many = String::from(r#"{"callbackApiKey":"wrong-key","#);
    for i in 0..keys {
        many.push_str(&format!(r#""{}":0,"#, short_key(i)));
    }
    many.push_str(r#""type":"session-change"}"#);
    let head = r#"{"callbackApiKey":"wrong-key","type":"session-change","x":""#;
    let filler = many.len().saturating_sub(head.len() + 2);
    let one = format!("{head}{}\"}}", "a".repeat(filler));
    (many.into_bytes(), one.into_bytes())
}

fn before_authentication(c: &mut Criterion) {
    let acceptance = Acceptance {
        keys: CallbackKeys::new(Some("apikey123"), None),
        links: LinkPolicy::default(),
        limits: Limits::default(),
    };
    let (many, one) = hostile_bodies(8_000);
    let mut group = c.benchmark_group("wrong-key-8000-keys");
    for (name, body) in [("many-keys", &many), ("one-string", &one)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let refused = acceptance.accept(black_box(body)).is_err();
                assert!(refused, "a wrong key is refused");
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: 24 benchmarks of sub-microsecond work settle within a second or two each.
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = ingress_path, before_authentication
}
criterion_main!(benches);

/// The `i`-th of 238,328 distinct three-character keys, so 8,000 of them fit a 64 KiB body.
fn short_key(i: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let digit = |n: usize| char::from(ALPHABET[n % ALPHABET.len()]);
    [i / (62 * 62), i / 62, i].into_iter().map(digit).collect()
}
