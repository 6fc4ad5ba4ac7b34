//! `delivery#<key>` records: one per SMS or e-mail, doubling as the idempotency record. Every
//! write is one conditional request: what two concurrent invocations may race for, only one of
//! them gets.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::ReturnValue;

use super::attr::{Item, expires, millis, n, number, s};
use super::{SessionsTable, StoreError, UNKNOWN_SESSION, is_condition_failure};
use crate::aws::Classified;
use crate::envelope::Envelope;
use crate::message::{Delivery, DeliveryRules, DeliveryState};
use crate::timestamp::Timestamp;

pub const DELIVERY_RECORD_PREFIX: &str = "delivery#";
/// Delivery records expire (DynamoDB TTL on `expiresAt`) after this long, or the table's
/// retention when that is shorter.
pub const DELIVERY_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// A delivery this invocation claimed; only the claimer may finish or release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    session: String,
    record: String,
    claim_id: String,
    ambiguous_sends: u64,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    Claimed(Claim),
    /// Another request sent it, is sending it, or this request finished it: nothing to do.
    Duplicate,
    /// An earlier attempt of this request holds an unfinished claim: retry once it lapses.
    HeldByThisRequest,
}

impl Claim {
    /// How many earlier attempts of this delivery may have sent it: their send failed in a way
    /// that does not say whether the provider took the message (a timeout, a lost answer).
    pub fn ambiguous_sends(&self) -> u64 {
        self.ambiguous_sends
    }
}

/// The partition of a message's record: its session.
fn session_of(envelope: &Envelope) -> &str {
    envelope
        .callback
        .session_id()
        .map_or(UNKNOWN_SESSION, |s| s.as_str())
}

/// A claim id unique enough to tell two invocations of the same envelope apart.
fn new_claim_id() -> String {
    let state = RandomState::new();
    format!(
        "{:016x}{:016x}",
        state.hash_one(1u8),
        state.hash_one(millis(SystemTime::now()))
    )
}

impl SessionsTable {
    /// A `delivery#<key>` item in `state`, as a claim or an unsent record writes it.
    pub fn delivery_item(
        &self,
        delivery: &Delivery,
        envelope: &Envelope,
        state: DeliveryState,
        now: SystemTime,
    ) -> Item {
        let mut item = Item::from([
            ("sessionId".to_owned(), s(session_of(envelope))),
            (
                "record".to_owned(),
                s(format!("{DELIVERY_RECORD_PREFIX}{}", delivery.key)),
            ),
            ("channel".to_owned(), s(delivery.channel.name())),
            ("kind".to_owned(), s(delivery.kind.name())),
            ("recipient".to_owned(), s(&delivery.masked_recipient)),
            ("state".to_owned(), s(state.name())),
            // What the provider bills it as (SMS parts, e-mail recipients), beside the price
            // a receipt reports.
            ("billed".to_owned(), n(u64::from(delivery.billed))),
            ("requestId".to_owned(), s(&envelope.request_id)),
            ("receivedAt".to_owned(), s(envelope.received_at.to_string())),
            ("firstAt".to_owned(), n(millis(now))),
            (
                "updatedAt".to_owned(),
                s(Timestamp::from_system_time(now).to_string()),
            ),
            (
                "expiresAt".to_owned(),
                expires(now, DELIVERY_RETENTION.min(self.retention)),
            ),
        ]);
        if !delivery.dropped_cc.is_empty() {
            let dropped = delivery.dropped_cc.iter().map(s).collect();
            item.insert(
                "ccDropped".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::L(dropped),
            );
        }
        item
    }

    /// An update of `item`'s record (its key taken from it) that sets every other attribute of
    /// it: the builder, and the `SET` clauses to join.
    pub(super) fn setting_all(
        &self,
        mut item: Item,
    ) -> (
        aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
        Vec<String>,
    ) {
        let key = ["sessionId", "record"].map(|k| (k, item.remove(k).unwrap_or_else(|| s(""))));
        let mut update = self.client.update_item().table_name(&self.name);
        let mut set = Vec::with_capacity(item.len() + 1);
        for (i, (name, value)) in item.into_iter().enumerate() {
            set.push(format!("#a{i} = :a{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":a{i}"), value);
        }
        for (name, value) in key {
            update = update.key(name, value);
        }
        (update, set)
    }

    /// Records a delivery that will not be attempted (`expired`, `suppressed`, `failed`): a new
    /// record, or one left `pending` by an attempt whose claim lapsed or was released (a
    /// configuration failure, then a redrive too late for the OTP). A record of the same
    /// message in any other state is a repeat ([`Self::note_duplicate`]); one this very
    /// request still holds is its own earlier attempt, to be retried once the lease lapses.
    pub async fn record_unsent(
        &self,
        delivery: &Delivery,
        envelope: &Envelope,
        state: DeliveryState,
        reason: &str,
    ) -> Result<ClaimOutcome, StoreError> {
        let now = SystemTime::now();
        let mut item = self.delivery_item(delivery, envelope, state, now);
        item.insert("reason".to_owned(), s(reason));
        let record = format!("{DELIVERY_RECORD_PREFIX}{}", delivery.key);
        let (update, set) = self.setting_all(item);
        // `ambiguousSends` stays: an attempt before may have sent it, and the record says so.
        let result = update
            .update_expression(format!(
                "SET {} REMOVE #claimId, #leaseUntil",
                set.join(", ")
            ))
            .condition_expression(
                "attribute_not_exists(#record) \
                 OR (#state IN (:pending, :retrying) AND #leaseUntil < :now)",
            )
            .expression_attribute_names("#record", "record")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#claimId", "claimId")
            .expression_attribute_names("#leaseUntil", "leaseUntil")
            .expression_attribute_values(":pending", s(DeliveryState::Pending.name()))
            .expression_attribute_values(":retrying", s(DeliveryState::Retrying.name()))
            .expression_attribute_values(":now", n(millis(now)))
            .send()
            .await;
        match result {
            // No claim to finish: the record is written in its final state.
            Ok(_) => Ok(ClaimOutcome::Claimed(Claim {
                session: session_of(envelope).to_owned(),
                record,
                claim_id: String::new(),
                ambiguous_sends: 0,
            })),
            Err(e) if is_condition_failure(&e) => self.why_taken(envelope, &record, now).await,
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }

    /// Counts a repeat of a message on its record: `duplicates`, and the time and request of
    /// the last one, so "it did not arrive" can be told from "it was asked for twice". The
    /// record may have expired in between: then there is nothing to count on.
    pub async fn note_duplicate(
        &self,
        delivery: &Delivery,
        envelope: &Envelope,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("sessionId", s(session_of(envelope)))
            .key(
                "record",
                s(format!("{DELIVERY_RECORD_PREFIX}{}", delivery.key)),
            )
            .update_expression("SET #lastAt = :now, #lastRequest = :requestId ADD #duplicates :one")
            .condition_expression("attribute_exists(#record)")
            .expression_attribute_names("#record", "record")
            .expression_attribute_names("#lastAt", "lastDuplicateAt")
            .expression_attribute_names("#lastRequest", "lastDuplicateRequestId")
            .expression_attribute_names("#duplicates", "duplicates")
            .expression_attribute_values(":now", s(Timestamp::now().to_string()))
            .expression_attribute_values(":requestId", s(&envelope.request_id))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }

    /// Claims the delivery. It is a duplicate when another request holds it or finished it
    /// within the window, or this request finished it; while an earlier attempt of this very
    /// request still holds it (it died, or failed to release it), the caller must retry later:
    /// answering "duplicate" then could drop a message that was never sent.
    ///
    /// The claim counts itself as a possible send (`ambiguousSends`, one more than the
    /// unfinished attempt it takes over counted): the count is in the table before the send,
    /// so no failure after it (a release that fails, a function that dies) can lose it. A
    /// release after a send that surely did not happen puts the earlier count back.
    pub async fn claim_delivery(
        &self,
        delivery: &Delivery,
        envelope: &Envelope,
        rules: &DeliveryRules,
    ) -> Result<ClaimOutcome, StoreError> {
        let now = SystemTime::now();
        let claim_id = new_claim_id();
        let mut item = self.delivery_item(delivery, envelope, DeliveryState::Pending, now);
        item.insert("claimId".to_owned(), s(&claim_id));
        item.insert("leaseUntil".to_owned(), n(millis(now + rules.claim_lease)));
        let record = format!("{DELIVERY_RECORD_PREFIX}{}", delivery.key);
        let window_start = millis(now.checked_sub(rules.dedupe_window).unwrap_or(UNIX_EPOCH));
        // Every attribute of a new claim, and away with what a finished record had beyond it.
        let (mut update, mut set) = self.setting_all(item);
        set.push("#ambiguousSends = if_not_exists(#ambiguousSends, :zero) + :one".to_owned());
        // A new send of the message: the last one's receipts are not this one's.
        let mut remove = vec!["#providerMessageId".to_owned(), "#reason".to_owned()];
        for (i, name) in super::receipt::RECEIPT_ATTRIBUTES.iter().enumerate() {
            remove.push(format!("#r{i}"));
            update = update.expression_attribute_names(format!("#r{i}"), *name);
        }
        let result = update
            .update_expression(format!(
                "SET {} REMOVE {}",
                set.join(", "),
                remove.join(", ")
            ))
            .expression_attribute_names("#ambiguousSends", "ambiguousSends")
            .expression_attribute_names("#providerMessageId", "providerMessageId")
            .expression_attribute_names("#reason", "reason")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .condition_expression(
                "attribute_not_exists(#record) \
                 OR (#state IN (:pending, :retrying) AND #leaseUntil < :now) \
                 OR (NOT #state IN (:pending, :retrying) AND #firstAt < :windowStart \
                     AND #requestId <> :requestId)",
            )
            .expression_attribute_values(":retrying", s(DeliveryState::Retrying.name()))
            .expression_attribute_names("#record", "record")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#leaseUntil", "leaseUntil")
            .expression_attribute_names("#firstAt", "firstAt")
            .expression_attribute_names("#requestId", "requestId")
            .expression_attribute_values(":pending", s(DeliveryState::Pending.name()))
            .expression_attribute_values(":now", n(millis(now)))
            .expression_attribute_values(":windowStart", n(window_start))
            .expression_attribute_values(":requestId", s(&envelope.request_id))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                // Only a claim taken over from an unfinished attempt inherits its count; a
                // finished record's was removed by `finish_delivery` (one finished by 0.1 may
                // still carry one, which only makes this delivery's retries stop sooner).
                let old = out.attributes.unwrap_or_default();
                let unfinished = [DeliveryState::Pending, DeliveryState::Retrying]
                    .iter()
                    .any(|state| old.get("state") == Some(&s(state.name())));
                let ambiguous_sends = match unfinished {
                    true => number(&old, "ambiguousSends").unwrap_or(0),
                    false => 0,
                };
                Ok(ClaimOutcome::Claimed(Claim {
                    session: session_of(envelope).to_owned(),
                    record,
                    claim_id,
                    ambiguous_sends,
                }))
            }
            Err(e) if is_condition_failure(&e) => self.why_taken(envelope, &record, now).await,
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }

    /// Reads the record a claim found taken, to tell a duplicate from this request's own
    /// unfinished attempt.
    async fn why_taken(
        &self,
        envelope: &Envelope,
        record: &str,
        now: SystemTime,
    ) -> Result<ClaimOutcome, StoreError> {
        let item = self
            .read_item(session_of(envelope), record)
            .await?
            .unwrap_or_default();
        let own_attempt_holds_it = item.get("state") == Some(&s(DeliveryState::Pending.name()))
            && item.get("requestId") == Some(&s(&envelope.request_id))
            && number(&item, "leaseUntil").is_ok_and(|lease| lease >= millis(now));
        Ok(match own_attempt_holds_it {
            true => ClaimOutcome::HeldByThisRequest,
            false => ClaimOutcome::Duplicate,
        })
    }

    /// Completes a claimed delivery: `sent` with the provider's id, `failed` or `suppressed`
    /// with a reason.
    pub async fn finish_delivery(
        &self,
        claim: &Claim,
        state: DeliveryState,
        message_id: Option<&str>,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("sessionId", s(&claim.session))
            .key("record", s(&claim.record))
            .condition_expression("#claimId = :claimId")
            .expression_attribute_names("#claimId", "claimId")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#updatedAt", "updatedAt")
            .expression_attribute_names("#leaseUntil", "leaseUntil")
            .expression_attribute_values(":claimId", s(&claim.claim_id))
            .expression_attribute_values(":state", s(state.name()))
            .expression_attribute_values(":updatedAt", s(Timestamp::now().to_string()));
        let mut set = vec!["#state = :state", "#updatedAt = :updatedAt"];
        if let Some(id) = message_id {
            set.push("#messageId = :messageId");
            update = update
                .expression_attribute_names("#messageId", "providerMessageId")
                .expression_attribute_values(":messageId", s(id));
        }
        if let Some(reason) = reason {
            set.push("#reason = :reason");
            update = update
                .expression_attribute_names("#reason", "reason")
                .expression_attribute_values(":reason", s(reason));
        }
        let expression = format!("SET {} REMOVE #leaseUntil, #ambiguousSends", set.join(", "));
        update
            .update_expression(expression)
            .expression_attribute_names("#ambiguousSends", "ambiguousSends")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk(&e))
    }

    /// Lets a retry of this delivery claim it at once, after a send that surely did not
    /// happen (or none at all): the claim's own count is taken back. The record is left
    /// `retrying` with `reason`, what failed, until the retry or a redrive takes it over.
    pub async fn release_claim(&self, claim: &Claim, reason: &str) -> Result<(), StoreError> {
        self.release(claim, Some(claim.ambiguous_sends), reason)
            .await
    }

    /// Releases the claim after a send that may have reached the provider: the claim counted
    /// it already, so the retry may send once more, and no further (see `crate::delivery`).
    pub async fn release_after_ambiguous_send(
        &self,
        claim: &Claim,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.release(claim, None, reason).await
    }

    async fn release(
        &self,
        claim: &Claim,
        count: Option<u64>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("sessionId", s(&claim.session))
            .key("record", s(&claim.record))
            .condition_expression("#claimId = :claimId")
            .expression_attribute_names("#leaseUntil", "leaseUntil")
            .expression_attribute_names("#claimId", "claimId")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#reason", "reason")
            .expression_attribute_names("#updatedAt", "updatedAt")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":claimId", s(&claim.claim_id))
            .expression_attribute_values(":retrying", s(DeliveryState::Retrying.name()))
            .expression_attribute_values(":reason", s(crate::redact::printable(reason, 200)))
            .expression_attribute_values(":updatedAt", s(Timestamp::now().to_string()));
        let released = "#leaseUntil = :zero, #state = :retrying, #reason = :reason, \
                        #updatedAt = :updatedAt";
        update = match count {
            Some(count) => update
                .update_expression(format!("SET {released}, #ambiguousSends = :count"))
                .expression_attribute_names("#ambiguousSends", "ambiguousSends")
                .expression_attribute_values(":count", n(count)),
            None => update.update_expression(format!("SET {released}")),
        };
        update
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk(&e))
    }
}
