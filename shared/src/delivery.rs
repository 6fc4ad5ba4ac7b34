//! Sending an SMS or e-mail at most once, fresh, and within the abuse limits. The sms and email
//! families describe a [`Delivery`] (see [`crate::message`]) and hand [`deliver`] the function
//! that sends it; the rules are the same for both:
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
use std::time::SystemTime;

use crate::callback::Family;
use crate::envelope::Envelope;
use crate::family::{Detail, FamilyError, log_invocation};
use crate::message::{Delivery, DeliveryOutcome, DeliveryRules, DeliveryState, Kind};
use crate::store::SessionsTable;

/// How a send failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Throttling, 5xx, the network: retry.
    Transient(String),
    /// The provider refused this message (invalid number, unverified sender, opted out):
    /// retrying cannot help.
    Permanent(String),
}

// Throttling, 5xx and network errors are transient; anything else SNS or SES says about the
// message is permanent.
crate::aws::classified!(SendError: Transient, Permanent);

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
    let now = SystemTime::now();

    if delivery.kind == Kind::OneTimePassword && envelope.received_at.age(now) > rules.otp_max_age {
        table
            .record_unsent(delivery, envelope, DeliveryState::Expired, "otp-too-old")
            .await?;
        return Ok((DeliveryOutcome::Expired, Some("otp-too-old".into())));
    }
    if let Some(reason) = delivery.suppress {
        table
            .record_unsent(delivery, envelope, DeliveryState::Suppressed, reason)
            .await?;
        return Ok((DeliveryOutcome::Suppressed, Some(reason.into())));
    }
    let Some(claim) = table.claim_delivery(delivery, envelope, rules).await? else {
        return Ok((DeliveryOutcome::Deduplicated, None));
    };
    let Some(slot) = table.take_rate_slot(delivery).await? else {
        table
            .finish_delivery(
                &claim,
                DeliveryState::Suppressed,
                None,
                Some("rate-limited"),
            )
            .await?;
        return Ok((DeliveryOutcome::Suppressed, Some("rate-limited".into())));
    };
    match send().await {
        Ok(message_id) => {
            // The message is out: failing now would make Lambda send it again. A record left
            // pending is only claimable again once its lease has run out.
            if let Err(e) = table
                .finish_delivery(&claim, DeliveryState::Sent, Some(&message_id), None)
                .await
            {
                tracing::warn!(requestId = %envelope.request_id, error = %e, "sent, but not recorded");
            }
            Ok((DeliveryOutcome::Sent, None))
        }
        Err(SendError::Permanent(reason)) => {
            table
                .finish_delivery(&claim, DeliveryState::Failed, None, Some(&reason))
                .await?;
            Ok((DeliveryOutcome::Failed, Some(reason)))
        }
        Err(SendError::Transient(reason)) => {
            // Best effort: if these fail too, the lease and the hour run out by themselves.
            let _ = table.release_claim(&claim).await;
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
