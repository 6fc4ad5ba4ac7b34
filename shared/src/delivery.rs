//! Sending an SMS or e-mail at most once, fresh, and within the abuse limits. The sms and email
//! families describe a [`Delivery`] and hand [`deliver`] the function that sends it; the rules
//! are the same for both:
//!
//! 1. an OTP older than `OTP_MAX_AGE_SECONDS` is recorded `expired` and not sent;
//! 2. a recipient outside the allowed countries is recorded `suppressed`;
//! 3. a conditional put of `delivery#<key>` claims the delivery: the same envelope twice, or an
//!    identical callback within `DEDUPE_WINDOW_SECONDS`, finds it claimed and sends nothing;
//! 4. one slot of the recipient's hourly limit is taken, or the delivery is `suppressed`;
//! 5. the message is sent: `sent` with the provider's id, or `failed` for a permanent error.
//!    A passing error releases the claim and the slot and fails the invocation, so Lambda
//!    retries it; a claim whose function died is released by its lease running out.

use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use sha2::{Digest, Sha256};

use crate::callback::Family;
use crate::config::{ConfigError, setting};
use crate::envelope::Envelope;
use crate::family::{Detail, FamilyError, log_invocation};
use crate::store::SessionsTable;

/// The rules' settings, shared by both channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRules {
    pub dedupe_window: Duration,
    pub otp_max_age: Duration,
    /// How long a claim holds before another invocation may take it over: at least the
    /// function's timeout.
    pub claim_lease: Duration,
}

impl Default for DeliveryRules {
    fn default() -> Self {
        Self {
            dedupe_window: Duration::from_secs(600),
            otp_max_age: Duration::from_secs(300),
            claim_lease: Duration::from_secs(60),
        }
    }
}

impl DeliveryRules {
    /// `DEDUPE_WINDOW_SECONDS` (600), `OTP_MAX_AGE_SECONDS` (300), `CLAIM_LEASE_SECONDS` (60).
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let secs = |name, default: Duration| {
            setting(lookup, name, default.as_secs()).map(Duration::from_secs)
        };
        Ok(Self {
            dedupe_window: secs("DEDUPE_WINDOW_SECONDS", d.dedupe_window)?,
            otp_max_age: secs("OTP_MAX_AGE_SECONDS", d.otp_max_age)?,
            claim_lease: secs("CLAIM_LEASE_SECONDS", d.claim_lease)?,
        })
    }
}

/// The k-th message to a recipient within an hour costs k conditional writes (one per slot
/// tried), so the limit is kept small: 1 to 100.
pub const MAX_HOURLY_LIMIT: u32 = 100;

/// Reads a per-recipient hourly limit.
pub fn hourly_limit(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    let limit = setting(lookup, name, default)?;
    if (1..=MAX_HOURLY_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(ConfigError {
            name,
            reason: format!("must be 1 to {MAX_HOURLY_LIMIT}"),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    OneTimePassword,
    SessionLink,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::OneTimePassword => "otp",
            Kind::SessionLink => "link",
        }
    }
}

/// One message to deliver, as the rules see it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub channel: Channel,
    pub kind: Kind,
    /// `delivery#<key>`: a hash of what makes two callbacks the same message.
    pub key: String,
    /// A one-way tag of the recipient, for the hourly limit.
    pub recipient_tag: String,
    /// What the record and the logs show of the recipient.
    pub masked_recipient: String,
    /// A reason to record the delivery `suppressed` before anything else, e.g. a country
    /// outside the allowed list.
    pub suppress: Option<&'static str>,
    /// At most this many deliveries to the recipient per hour.
    pub hourly_limit: u32,
}

/// The hex SHA-256 of `parts`, NUL-separated (no validated field holds a NUL), cut to 128 bits.
pub fn digest_key(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How a send failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Throttling, 5xx, the network: retry.
    Transient(String),
    /// The provider refused this message (invalid number, unverified sender, opted out):
    /// retrying cannot help.
    Permanent(String),
}

impl SendError {
    /// Throttling, 5xx and network errors are transient; anything else SNS or SES says about
    /// the message is permanent.
    pub fn from_sdk<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Self {
        let reason = crate::aws::describe(err);
        if crate::aws::is_transient(err) {
            SendError::Transient(reason)
        } else {
            SendError::Permanent(reason)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryOutcome {
    Sent,
    Deduplicated,
    Expired,
    Suppressed,
    Failed,
}

impl DeliveryOutcome {
    pub fn name(self) -> &'static str {
        match self {
            DeliveryOutcome::Sent => "sent",
            DeliveryOutcome::Deduplicated => "deduplicated",
            DeliveryOutcome::Expired => "expired",
            DeliveryOutcome::Suppressed => "suppressed",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

/// Applies the rules to `delivery` and calls `send` at most once. `send` returns the provider's
/// message id.
pub async fn deliver<F, Fut>(
    table: &SessionsTable,
    rules: &DeliveryRules,
    envelope: &Envelope,
    delivery: &Delivery,
    send: F,
) -> Result<(DeliveryOutcome, Option<String>), FamilyError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<String, SendError>>,
{
    let session = envelope.callback.session_id();
    let session = session.as_ref().map_or("", |s| s.as_str());
    let now = SystemTime::now();

    if delivery.kind == Kind::OneTimePassword && envelope.received_at.age(now) > rules.otp_max_age {
        table
            .record_unsent(session, delivery, envelope, "expired", "otp-too-old")
            .await?;
        return Ok((DeliveryOutcome::Expired, Some("otp-too-old".into())));
    }
    if let Some(reason) = delivery.suppress {
        table
            .record_unsent(session, delivery, envelope, "suppressed", reason)
            .await?;
        return Ok((DeliveryOutcome::Suppressed, Some(reason.into())));
    }
    let Some(claim) = table
        .claim_delivery(session, delivery, envelope, rules)
        .await?
    else {
        return Ok((DeliveryOutcome::Deduplicated, None));
    };
    let Some(slot) = table.take_rate_slot(delivery).await? else {
        table
            .finish_delivery(session, &claim, "suppressed", None, Some("rate-limited"))
            .await?;
        return Ok((DeliveryOutcome::Suppressed, Some("rate-limited".into())));
    };
    match send().await {
        Ok(message_id) => {
            // The message is out: failing now would make Lambda send it again. A record left
            // pending is only claimable again once its lease has run out.
            if let Err(e) = table
                .finish_delivery(session, &claim, "sent", Some(&message_id), None)
                .await
            {
                tracing::warn!(requestId = %envelope.request_id, error = %e, "sent, but not recorded");
            }
            Ok((DeliveryOutcome::Sent, None))
        }
        Err(SendError::Permanent(reason)) => {
            table
                .finish_delivery(session, &claim, "failed", None, Some(&reason))
                .await?;
            Ok((DeliveryOutcome::Failed, Some(reason)))
        }
        Err(SendError::Transient(reason)) => {
            // Best effort: if these fail too, the lease and the hour run out by themselves.
            let _ = table.release_claim(session, &claim).await;
            let _ = table.return_rate_slot(&slot).await;
            Err(FamilyError::Send(reason))
        }
    }
}

/// Logs the invocation's line (outcome, reason, masked recipient) and returns its outcome.
pub fn log_delivery(
    family: Family,
    envelope: &Envelope,
    masked_recipient: &str,
    result: Result<(DeliveryOutcome, Option<String>), FamilyError>,
    started: std::time::Instant,
) -> Result<DeliveryOutcome, FamilyError> {
    let (outcome, reason) = match &result {
        Ok((outcome, reason)) => (Ok(outcome.name()), reason.as_deref()),
        Err(e) => (Err(e), None),
    };
    let detail = Detail {
        recipient: Some(masked_recipient),
        reason,
    };
    log_invocation(family, envelope, outcome, detail, started);
    result.map(|(outcome, _)| outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_their_parts() {
        assert_eq!(digest_key(&["ab", "c"]).len(), 32);
        assert_ne!(digest_key(&["ab", "c"]), digest_key(&["a", "bc"]));
        assert_eq!(digest_key(&["a", "b"]), digest_key(&["a", "b"]));
    }

    #[test]
    fn rules_from_the_environment() {
        let env = |name: &str| (name == "OTP_MAX_AGE_SECONDS").then(|| "120".to_owned());
        let rules = DeliveryRules::from_lookup(&env).unwrap();
        assert_eq!(rules.otp_max_age, Duration::from_secs(120));
        assert_eq!(rules.dedupe_window, Duration::from_secs(600));
        let bad = |_: &str| Some("soon".to_owned());
        assert!(DeliveryRules::from_lookup(&bad).is_err());
    }
}
