//! Sending an SMS or e-mail at most once, fresh, and within the abuse limits. The sms and email
//! families describe a [`Delivery`] (see [`crate::message`]) and hand [`deliver`] the function
//! that sends it; the rules are the same for both:
//!
//! 1. an OTP older than `OTP_MAX_AGE_SECONDS` is recorded `expired` and not sent, also over a
//!    record an earlier attempt left `pending` (a configuration failure, then a late redrive);
//! 2. a recipient outside the allowed countries is recorded `suppressed`;
//! 3. a conditional put of `delivery#<key>` claims the delivery: the same envelope twice, or an
//!    identical callback within `DEDUPE_WINDOW_SECONDS`, finds it claimed and sends nothing
//!    (`deduplicated`, counted on the record as `duplicates`); an earlier attempt of the same envelope that still holds it makes this
//!    attempt fail, to be retried once its lease lapses;
//! 4. the message counts against each of its hourly limits in turn (the recipients', the
//!    session's, the deployment's budget); over one it is `suppressed` with that limit's reason
//!    (or, for a Cc address, sent without it), and what it counted is given back;
//! 5. the message is sent, one attempt, no SDK retry: `sent` with the provider's id, or
//!    `failed` when the provider refuses the recipient.
//!
//! From the claim on, every way out either finishes the record or releases the claim (the record
//! `retrying`, with what failed as its `reason`), so a retry can act on it; only a claim whose
//! function died waits for its lease, and Lambda retries that invocation. A send whose
//! answer was lost (a timeout) may have been delivered: the claim is released with that attempt
//! counted and the counts kept, Lambda's retry sends once more, and a third attempt records the
//! message `sent` (`unconfirmed`) without sending: at most two copies under any single fault.
//! A send refused for the deployment's sake (access denied, an unverified sender, the sandbox,
//! paused sending, the spending limit) fails the invocation, so the envelope ends in the
//! dead-letter queue for a redrive once the operator has fixed it.

use std::future::Future;
use std::time::SystemTime;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws::Provider;
use crate::callback::Family;
use crate::envelope::Envelope;
use crate::family::{Detail, FamilyError, log_invocation};
use crate::message::{
    Delivery, DeliveryOutcome, DeliveryRules, DeliveryState, Kind, OverLimit, Weight,
};
use crate::store::limits::Taken;
use crate::store::{Claim, ClaimOutcome, SessionsTable};

/// Attempts whose send may have been delivered, after which no further attempt sends.
pub const MAX_AMBIGUOUS_SENDS: u64 = 2;

/// How a send failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The provider did not take the message (throttling, a 5xx, no connection): retry.
    Transient(String),
    /// The provider may have taken it: the answer timed out or was lost.
    Ambiguous(String),
    /// The deployment or the account must be fixed (access denied, an unverified sender, the
    /// sandbox, paused sending, the spending limit): fail, dead-letter, redrive when fixed.
    Configuration(String),
    /// The recipient cannot get it (an invalid or opted-out number, as
    /// [`crate::aws::is_recipient_error`] decides): recorded `failed`, since no retry can help.
    Recipient(String),
}

impl SendError {
    pub fn from_sdk<E: ProvideErrorMetadata>(
        provider: Provider,
        err: &SdkError<E, HttpResponse>,
    ) -> Self {
        let reason = crate::aws::describe(err);
        if crate::aws::may_have_been_processed(err) {
            SendError::Ambiguous(reason)
        } else if crate::aws::is_transient(err) {
            SendError::Transient(reason)
        } else if crate::aws::is_recipient_error(provider, err) {
            SendError::Recipient(reason)
        } else {
            SendError::Configuration(reason)
        }
    }
}

/// What [`deliver`] did with a message: its outcome, the reason, and what it was billed as
/// (SMS parts, e-mail recipients) when it was sent or suppressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub outcome: DeliveryOutcome,
    pub reason: Option<String>,
    pub billed: Option<u32>,
}

impl Report {
    fn new(outcome: DeliveryOutcome, reason: Option<&str>) -> Self {
        Self {
            outcome,
            reason: reason.map(str::to_owned),
            billed: None,
        }
    }

    fn billed(mut self, billed: u32) -> Self {
        self.billed = Some(billed);
        self
    }
}

/// Applies the rules to `delivery` and calls `send` at most once. `send` gets the indexes of
/// the Cc addresses to leave out and returns the provider's message id.
pub async fn deliver<F, Fut>(
    table: &SessionsTable,
    rules: &DeliveryRules,
    envelope: &Envelope,
    delivery: &Delivery,
    send: F,
) -> Result<Report, FamilyError>
where
    F: FnOnce(Vec<usize>) -> Fut,
    Fut: Future<Output = Result<String, SendError>>,
{
    let now = SystemTime::now();

    if delivery.kind == Kind::OneTimePassword && envelope.received_at.age(now) > rules.otp_max_age {
        let reason = "otp-too-old";
        let report = Report::new(DeliveryOutcome::Expired, Some(reason));
        return unsent(table, delivery, envelope, DeliveryState::Expired, report).await;
    }
    if let Some(reason) = delivery.suppress {
        let report = Report::new(DeliveryOutcome::Suppressed, Some(reason)).billed(delivery.billed);
        return unsent(table, delivery, envelope, DeliveryState::Suppressed, report).await;
    }
    let claim = match table.claim_delivery(delivery, envelope, rules).await? {
        ClaimOutcome::Claimed(claim) => claim,
        ClaimOutcome::Duplicate => return deduplicated(table, delivery, envelope).await,
        ClaimOutcome::HeldByThisRequest => return Err(FamilyError::ClaimHeld),
    };
    if claim.ambiguous_sends() >= MAX_AMBIGUOUS_SENDS {
        // Each earlier attempt may have delivered it: a third send could make a third copy.
        let reason = "unconfirmed";
        finish(table, &claim, DeliveryState::Sent, None, Some(reason)).await?;
        return Ok(Report::new(DeliveryOutcome::Sent, Some(reason)).billed(delivery.billed));
    }

    let mut taken = Vec::with_capacity(delivery.limits.len());
    let mut dropped_cc = Vec::new();
    // What the message is billed as, less the Cc addresses left out so far: the recipients'
    // limits come first, so the session and the budget count only who gets it.
    let mut billed = delivery.billed;
    for limit in &delivery.limits {
        let weight = match limit.weight {
            Weight::One => 1,
            Weight::Billed => billed,
        };
        match table.take(limit, weight).await {
            Ok(Some(t)) => taken.push(t),
            Ok(None) => match limit.over {
                OverLimit::DropCc(index) => {
                    dropped_cc.push(index);
                    billed = billed.saturating_sub(1);
                }
                OverLimit::Suppress(reason) => {
                    give_back(table, taken).await;
                    finish(table, &claim, DeliveryState::Suppressed, None, Some(reason)).await?;
                    return Ok(
                        Report::new(DeliveryOutcome::Suppressed, Some(reason)).billed(billed)
                    );
                }
            },
            Err(e) => {
                give_back(table, taken).await;
                return Err(release(table, &claim, e.into()).await);
            }
        }
    }
    let cc_note = (!dropped_cc.is_empty()).then_some("cc-rate-limited");

    match send(dropped_cc).await {
        Ok(message_id) => {
            // The message is out: failing now would make Lambda send it again. A record left
            // pending is only claimable again once its lease has run out.
            if let Err(e) = table
                .finish_delivery(&claim, DeliveryState::Sent, Some(&message_id), cc_note)
                .await
            {
                tracing::warn!(requestId = %envelope.request_id, error = %e, "sent, but not recorded");
            }
            Ok(Report::new(DeliveryOutcome::Sent, cc_note).billed(billed))
        }
        Err(SendError::Recipient(reason)) => {
            give_back(table, taken).await;
            finish(table, &claim, DeliveryState::Failed, None, Some(&reason)).await?;
            Ok(Report::new(DeliveryOutcome::Failed, Some(&reason)))
        }
        Err(SendError::Ambiguous(reason)) => {
            // It may be out: it keeps its places in the limits, and the retry knows.
            let error = FamilyError::Send(reason);
            if let Err(e) = table
                .release_after_ambiguous_send(&claim, &error.to_string())
                .await
            {
                tracing::warn!(requestId = %envelope.request_id, error = %e, "claim not released");
            }
            Err(error)
        }
        Err(SendError::Transient(reason)) => {
            give_back(table, taken).await;
            Err(release(table, &claim, FamilyError::Send(reason)).await)
        }
        Err(SendError::Configuration(reason)) => {
            give_back(table, taken).await;
            Err(release(table, &claim, FamilyError::Configuration(reason)).await)
        }
    }
}

/// Records a message that is not sent in `state` with `report`'s reason; a record of the same
/// message already there makes it a repeat.
pub async fn unsent(
    table: &SessionsTable,
    delivery: &Delivery,
    envelope: &Envelope,
    state: DeliveryState,
    report: Report,
) -> Result<Report, FamilyError> {
    let reason = report.reason.as_deref().unwrap_or(state.name());
    match table
        .record_unsent(delivery, envelope, state, reason)
        .await?
    {
        ClaimOutcome::Claimed(_) => Ok(report),
        ClaimOutcome::Duplicate => deduplicated(table, delivery, envelope).await,
        ClaimOutcome::HeldByThisRequest => Err(FamilyError::ClaimHeld),
    }
}

/// A repeat: counted on the record, sent not again.
async fn deduplicated(
    table: &SessionsTable,
    delivery: &Delivery,
    envelope: &Envelope,
) -> Result<Report, FamilyError> {
    table.note_duplicate(delivery, envelope).await?;
    Ok(Report::new(DeliveryOutcome::Deduplicated, None))
}

/// Finishes the claimed record; if that fails, releases the claim so that Lambda's retry can
/// claim it again at once.
async fn finish(
    table: &SessionsTable,
    claim: &Claim,
    state: DeliveryState,
    message_id: Option<&str>,
    reason: Option<&str>,
) -> Result<(), FamilyError> {
    match table
        .finish_delivery(claim, state, message_id, reason)
        .await
    {
        Ok(()) => Ok(()),
        Err(e) => Err(release(table, claim, e.into()).await),
    }
}

/// Releases the claim (best effort: if the table is down too, the lease runs out by itself)
/// and returns `error`.
async fn release(table: &SessionsTable, claim: &Claim, error: FamilyError) -> FamilyError {
    let _ = table.release_claim(claim, &error.to_string()).await;
    error
}

/// Uncounts a message that was not sent (best effort: a count left behind only makes a limit
/// stricter for the rest of the hour).
async fn give_back(table: &SessionsTable, taken: Vec<Taken>) {
    for t in taken {
        let _ = table.give_back(t).await;
    }
}

/// Logs the invocation's line (outcome, reason, masked recipient, what it was billed as) and
/// returns its outcome.
pub fn log_delivery(
    family: Family,
    envelope: &Envelope,
    masked_recipient: &str,
    result: Result<Report, FamilyError>,
    started: std::time::Instant,
) -> Result<DeliveryOutcome, FamilyError> {
    let (outcome, reason, billed) = match &result {
        Ok(report) => (
            Ok(report.outcome.name()),
            report.reason.as_deref(),
            report.billed,
        ),
        Err(e) => (Err(e), None, None),
    };
    let detail = Detail {
        recipient: Some(masked_recipient),
        reason,
        billed,
    };
    log_invocation(family, envelope, outcome, detail, started);
    result.map(|report| report.outcome)
}
