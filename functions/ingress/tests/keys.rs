//! Keys from moto's Secrets Manager: the secret as the template writes it, rotation without a
//! redeploy, and what happens when the secret cannot be read or is not the template's JSON.

mod common;

use std::borrow::Cow;
use std::time::Duration;

use common::*;
use ingress::keys::{KeyRing, KeySource};

/// The production refresh interval, so only a test's own retry timing is ever short.
const REFRESH: std::time::Duration =
    std::time::Duration::from_secs(ingress::config::DEFAULT_KEY_REFRESH_SECONDS);
use shared::{AuthError, CallbackKeys, PresentedKey};
use testkit::Moto;

const SECRET: &str = "identomat/callback-key";

async fn secrets(moto: &Moto) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await)
}

async fn create_secret(client: &aws_sdk_secretsmanager::Client, value: &str) {
    client
        .create_secret()
        .name(SECRET)
        .secret_string(value)
        .send()
        .await
        .expect("create secret");
}

async fn put_secret(client: &aws_sdk_secretsmanager::Client, value: &str) {
    client
        .put_secret_value()
        .secret_id(SECRET)
        .secret_string(value)
        .send()
        .await
        .expect("put secret value");
}

fn source(client: &aws_sdk_secretsmanager::Client) -> KeySource {
    KeySource::Secret {
        client: client.clone(),
        secret_id: SECRET.into(),
    }
}

/// The secret as the template writes it, with no previous key.
fn written(current: &str) -> String {
    format!(r#"{{"current":"{current}","previous":""}}"#)
}

fn verify(keys: &CallbackKeys, key: &str) -> Result<(), AuthError> {
    keys.verify(&PresentedKey::Text(Cow::Borrowed(key)))
}

#[tokio::test]
async fn the_secret_the_template_writes_authenticates_through_the_handler() {
    let moto = Moto::start().await;
    let client = secrets(&moto).await;
    create_secret(&client, &written(KEY)).await;
    let stack = Stack::start(source(&client)).await;
    assert_eq!(stack.post(&sample("session-change")).await.status(), 202);
    // The other sample key is not configured here.
    assert_eq!(
        stack
            .post(&sample("one-time-password-request"))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn rotation_takes_effect_on_the_next_read() {
    let moto = Moto::start().await;
    let client = secrets(&moto).await;
    create_secret(
        &client,
        r#"{"current": "new-key-2", "previous": "old-key-1"}"#,
    )
    .await;
    // Re-read on every call, so the test need not wait five minutes.
    let ring = KeyRing::load(source(&client), Duration::ZERO).await;

    let keys = ring.keys().await.expect("readable");
    assert_eq!(verify(&keys, "new-key-2"), Ok(()));
    assert_eq!(verify(&keys, "old-key-1"), Ok(()));

    put_secret(&client, r#"{"current": "new-key-2", "previous": null}"#).await;
    let keys = ring.keys().await.expect("readable");
    assert_eq!(verify(&keys, "new-key-2"), Ok(()));
    assert_eq!(verify(&keys, "old-key-1"), Err(AuthError::Wrong));

    put_secret(&client, r#"{"current": "newest-key-3"}"#).await;
    let keys = ring.keys().await.expect("readable");
    assert_eq!(verify(&keys, "newest-key-3"), Ok(()));
    assert_eq!(verify(&keys, "new-key-2"), Err(AuthError::Wrong));
}

#[tokio::test]
async fn keys_are_cached_between_reads() {
    let moto = Moto::start().await;
    let client = secrets(&moto).await;
    create_secret(&client, &written("first-key")).await;
    let ring = KeyRing::load(source(&client), REFRESH).await;
    put_secret(&client, &written("second-key")).await;
    // Within the refresh interval the cold start's copy is used: no call per request.
    let keys = ring.keys().await.expect("cached");
    assert_eq!(verify(&keys, "first-key"), Ok(()));
}

#[tokio::test]
async fn unreadable_secret_is_503_until_it_can_be_read() {
    let moto = Moto::start().await;
    let client = secrets(&moto).await;
    // No such secret yet: a cold start without keys answers 503, never 202 or 401.
    let stack = Stack::start(source(&client)).await;
    let response = stack.post(&sample("session-change")).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert!(stack.lambda.invocations().is_empty());
}

#[tokio::test]
async fn last_good_keys_survive_a_failed_read() {
    let moto = Moto::start().await;
    let client = secrets(&moto).await;
    create_secret(&client, &written("good-key")).await;
    let ring = KeyRing::load(source(&client), Duration::ZERO).await;
    client
        .delete_secret()
        .secret_id(SECRET)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete secret");
    let keys = ring.keys().await.expect("the last good keys");
    assert_eq!(verify(&keys, "good-key"), Ok(()));
}

#[tokio::test]
async fn a_cold_start_with_only_a_bad_secret_answers_503() {
    // Identomat retries a 503, not a 401: once the secret is fixed, nothing was lost.
    for bad in [
        r#"{"curent": "typo"}"#,
        "{}",
        r#"{"current": ""}"#,
        "typo-but-no-json",
    ] {
        let moto = Moto::start().await;
        let client = secrets(&moto).await;
        create_secret(&client, bad).await;
        let stack = Stack::start(source(&client)).await;
        assert_eq!(
            stack.post(&sample("session-change")).await.status(),
            503,
            "{bad:?}"
        );
        let typo = br#"{"callbackApiKey":"typo","type":"session-change","sessionId":"a","result":"APPROVED"}"#;
        assert_eq!(stack.post(typo).await.status(), 503, "{bad:?}");
        assert!(stack.lambda.invocations().is_empty());
    }
}

#[tokio::test]
async fn a_bad_secret_never_replaces_the_last_good_keys() {
    let moto = Moto::start().await;
    let client = secrets(&moto).await;
    create_secret(&client, &written("good-key-123456")).await;
    let ring = KeyRing::load(source(&client), Duration::ZERO).await;
    for bad in [
        r#"{"curent": "typo"}"#,
        "{}",
        r#"{"current": "", "previous": "x"}"#,
        // Text that is not the template's JSON: before, it replaced the good keys, and every
        // callback got 401 with no alarm.
        "a-note-pasted-by-mistake",
        "good-key-123456",
    ] {
        put_secret(&client, bad).await;
        let keys = ring.keys().await.expect("the last good keys");
        assert_eq!(verify(&keys, "good-key-123456"), Ok(()), "{bad:?}");
    }
    // A good secret again is taken at once.
    put_secret(&client, &written("fixed-key-654321")).await;
    let keys = ring.keys().await.expect("readable");
    assert_eq!(verify(&keys, "fixed-key-654321"), Ok(()));
}
