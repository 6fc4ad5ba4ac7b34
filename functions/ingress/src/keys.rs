//! The callback keys, read once per cold start and re-read at most every few minutes, so a
//! rotated secret takes effect without a redeploy.

use std::time::{Duration, Instant};

use shared::CallbackKeys;
use tokio::sync::Mutex;

/// How soon a failed read is tried again.
pub const RETRY: Duration = Duration::from_secs(10);

/// The secret could not be read and no earlier copy exists: a passing fault, answered 503.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the callback key secret could not be read: {0}")]
pub struct KeysUnavailable(pub String);

pub enum KeySource {
    Fixed(CallbackKeys),
    Secret {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
}

struct Cache {
    /// The last keys read; `None` until a read succeeds.
    keys: Option<CallbackKeys>,
    last_error: Option<String>,
    next_read: Instant,
}

pub struct KeyRing {
    source: KeySource,
    refresh: Duration,
    cache: Mutex<Cache>,
}

impl KeyRing {
    /// Reads the keys now (during the cold start) and logs, once, when none is configured.
    pub async fn load(source: KeySource, refresh: Duration) -> Self {
        let ring = Self {
            source,
            refresh,
            cache: Mutex::new(Cache {
                keys: None,
                last_error: None,
                next_read: Instant::now(),
            }),
        };
        match ring.keys().await {
            Ok(keys) if !keys.is_configured() => tracing::error!(
                outcome = "configuration-error",
                "no callback key is configured: every callback will be refused with 401. \
                 Set the secret named by CALLBACK_API_KEY_SECRET_ARN, or CALLBACK_API_KEY."
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(outcome = "configuration-error", error = %e),
        }
        ring
    }

    pub async fn keys(&self) -> Result<CallbackKeys, KeysUnavailable> {
        let (client, secret_id) = match &self.source {
            KeySource::Fixed(keys) => return Ok(keys.clone()),
            KeySource::Secret { client, secret_id } => (client, secret_id),
        };
        let mut cache = self.cache.lock().await;
        if Instant::now() >= cache.next_read {
            match read_secret(client, secret_id).await {
                Ok(keys) => {
                    cache.keys = Some(keys);
                    cache.last_error = None;
                    cache.next_read = Instant::now() + self.refresh;
                }
                Err(e) => {
                    // Keep serving the last good keys; try again soon. A secret that reads but
                    // holds no usable key is an operator's mistake: counted, for its alarm.
                    match &e {
                        SecretError::Invalid(_) => tracing::error!(
                            target: shared::metrics::TARGET,
                            function = "ingress",
                            outcome = "keys-invalid",
                            kept = cache.keys.is_some(),
                            error = %e,
                            "callback key secret"
                        ),
                        SecretError::Unreadable(_) => {
                            tracing::warn!(outcome = "secret-read-failed", error = %e)
                        }
                    }
                    cache.last_error = Some(e.to_string());
                    cache.next_read = Instant::now() + RETRY.min(self.refresh);
                }
            }
        }
        match (&cache.keys, &cache.last_error) {
            (Some(keys), _) => Ok(keys.clone()),
            (None, e) => Err(KeysUnavailable(e.clone().unwrap_or_default())),
        }
    }
}

/// Why the secret gave no keys.
#[derive(Debug, Clone, thiserror::Error)]
enum SecretError {
    #[error("the secret could not be read: {0}")]
    Unreadable(String),
    /// Read, but malformed or empty: it must never replace working keys, or one bad
    /// `put-secret-value` would lock every callback out.
    #[error("the secret holds no usable key: {0}")]
    Invalid(String),
}

async fn read_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<CallbackKeys, SecretError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| SecretError::Unreadable(shared::aws::describe(&e)))?;
    let text = out.secret_string().unwrap_or_default();
    match CallbackKeys::from_secret(text) {
        Ok(keys) if keys.is_configured() => Ok(keys),
        Ok(_) => Err(SecretError::Invalid("it is empty".into())),
        Err(e) => Err(SecretError::Invalid(e.to_string())),
    }
}
