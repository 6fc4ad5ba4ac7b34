//! `delivery#<key>` records (one per SMS or e-mail, doubling as the idempotency record) and the
//! hourly rate-limit slots of each recipient. Every write is one conditional request: what two
//! concurrent invocations may race for, only one of them gets.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::attr::{Item, expires, millis, n, s};
use super::{SessionsTable, StoreError, UNKNOWN_SESSION, is_condition_failure};
use crate::aws::Classified;
use crate::envelope::Envelope;
use crate::message::{Delivery, DeliveryRules, DeliveryState};
use crate::timestamp::Timestamp;

pub const DELIVERY_RECORD_PREFIX: &str = "delivery#";
/// Delivery records expire (DynamoDB TTL on `expiresAt`) after this long.
pub const DELIVERY_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
const HOUR: Duration = Duration::from_secs(3600);

/// A delivery this invocation claimed; only the claimer may finish or release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    session: String,
    record: String,
    claim_id: String,
}

/// One taken slot of a recipient's hourly limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateSlot {
    partition: String,
    record: String,
    taken_at: u64,
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
    fn delivery_item(
        delivery: &Delivery,
        envelope: &Envelope,
        state: DeliveryState,
        now: SystemTime,
    ) -> Item {
        Item::from([
            ("sessionId".to_owned(), s(session_of(envelope))),
            (
                "record".to_owned(),
                s(format!("{DELIVERY_RECORD_PREFIX}{}", delivery.key)),
            ),
            ("channel".to_owned(), s(delivery.channel.name())),
            ("kind".to_owned(), s(delivery.kind.name())),
            ("recipient".to_owned(), s(&delivery.masked_recipient)),
            ("state".to_owned(), s(state.name())),
            ("requestId".to_owned(), s(&envelope.request_id)),
            ("receivedAt".to_owned(), s(envelope.received_at.to_string())),
            ("firstAt".to_owned(), n(millis(now))),
            (
                "updatedAt".to_owned(),
                s(Timestamp::from_system_time(now).to_string()),
            ),
            ("expiresAt".to_owned(), expires(now, DELIVERY_RETENTION)),
        ])
    }

    /// Records a delivery that will not be attempted (`expired`, `suppressed`), unless a record
    /// of the same message exists already.
    pub async fn record_unsent(
        &self,
        delivery: &Delivery,
        envelope: &Envelope,
        state: DeliveryState,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut item = Self::delivery_item(delivery, envelope, state, SystemTime::now());
        item.insert("reason".to_owned(), s(reason));
        self.put_new(item).await
    }

    /// Claims the delivery, or `None` when it is a duplicate: claimed by a live invocation, or
    /// finished for this request, or finished for an identical callback within the window.
    pub async fn claim_delivery(
        &self,
        delivery: &Delivery,
        envelope: &Envelope,
        rules: &DeliveryRules,
    ) -> Result<Option<Claim>, StoreError> {
        let now = SystemTime::now();
        let claim_id = new_claim_id();
        let mut item = Self::delivery_item(delivery, envelope, DeliveryState::Pending, now);
        item.insert("claimId".to_owned(), s(&claim_id));
        item.insert("leaseUntil".to_owned(), n(millis(now + rules.claim_lease)));
        let record = format!("{DELIVERY_RECORD_PREFIX}{}", delivery.key);
        let window_start = millis(now.checked_sub(rules.dedupe_window).unwrap_or(UNIX_EPOCH));
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(#record) \
                 OR (#state = :pending AND #leaseUntil < :now) \
                 OR (#state <> :pending AND #firstAt < :windowStart AND #requestId <> :requestId)",
            )
            .expression_attribute_names("#record", "record")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#leaseUntil", "leaseUntil")
            .expression_attribute_names("#firstAt", "firstAt")
            .expression_attribute_names("#requestId", "requestId")
            .expression_attribute_values(":pending", s(DeliveryState::Pending.name()))
            .expression_attribute_values(":now", n(millis(now)))
            .expression_attribute_values(":windowStart", n(window_start))
            .expression_attribute_values(":requestId", s(&envelope.request_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(Claim {
                session: session_of(envelope).to_owned(),
                record,
                claim_id,
            })),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
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
        let expression = format!("SET {} REMOVE #leaseUntil", set.join(", "));
        update
            .update_expression(expression)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk(&e))
    }

    /// Lets a retry of this delivery claim it at once.
    pub async fn release_claim(&self, claim: &Claim) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.name)
            .key("sessionId", s(&claim.session))
            .key("record", s(&claim.record))
            .update_expression("SET #leaseUntil = :zero")
            .condition_expression("#claimId = :claimId")
            .expression_attribute_names("#leaseUntil", "leaseUntil")
            .expression_attribute_names("#claimId", "claimId")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":claimId", s(&claim.claim_id))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk(&e))
    }

    /// Takes one of the recipient's `hourly_limit` slots, each free again an hour after it was
    /// taken: an exact sliding window, one conditional put per slot tried. `None` when all are
    /// taken.
    pub async fn take_rate_slot(
        &self,
        delivery: &Delivery,
    ) -> Result<Option<RateSlot>, StoreError> {
        let now = SystemTime::now();
        let taken_at = millis(now);
        let hour_ago = millis(now.checked_sub(HOUR).unwrap_or(UNIX_EPOCH));
        let partition = format!(
            "ratelimit#{}#{}",
            delivery.channel.name(),
            delivery.recipient_tag
        );
        for i in 0..delivery.hourly_limit {
            let record = format!("slot#{i}");
            let result = self
                .client
                .put_item()
                .table_name(&self.name)
                .item("sessionId", s(&partition))
                .item("record", s(&record))
                .item("takenAt", n(taken_at))
                .item("expiresAt", expires(now, HOUR + Duration::from_secs(60)))
                .condition_expression("attribute_not_exists(#record) OR #takenAt < :hourAgo")
                .expression_attribute_names("#record", "record")
                .expression_attribute_names("#takenAt", "takenAt")
                .expression_attribute_values(":hourAgo", n(hour_ago))
                .send()
                .await;
            match result {
                Ok(_) => {
                    return Ok(Some(RateSlot {
                        partition,
                        record,
                        taken_at,
                    }));
                }
                Err(e) if is_condition_failure(&e) => continue,
                Err(e) => return Err(StoreError::from_sdk(&e)),
            }
        }
        Ok(None)
    }

    /// Gives a slot back after a send that did not happen.
    pub async fn return_rate_slot(&self, slot: &RateSlot) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.name)
            .key("sessionId", s(&slot.partition))
            .key("record", s(&slot.record))
            .condition_expression("#takenAt = :takenAt")
            .expression_attribute_names("#takenAt", "takenAt")
            .expression_attribute_values(":takenAt", n(slot.taken_at))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk(&e))
    }
}
