//! `delivery#<key>` records (one per SMS or e-mail, doubling as the idempotency record) and the
//! hourly rate-limit slots of each recipient. Every write is one conditional request: what two
//! concurrent invocations may race for, only one of them gets.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;

use super::{SessionsTable, StoreError};
use crate::delivery::{Delivery, DeliveryRules};
use crate::envelope::{Envelope, ReceivedAt};

pub const DELIVERY_RECORD_PREFIX: &str = "delivery#";
/// Delivery records expire (DynamoDB TTL on `expiresAt`) after this long.
pub const DELIVERY_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
const HOUR: Duration = Duration::from_secs(3600);

/// A delivery this invocation claimed; only the claimer may finish or release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
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

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().try_into().unwrap_or(u64::MAX))
}

fn ttl(now: SystemTime, keep: Duration) -> AttributeValue {
    n((millis(now) / 1000) + keep.as_secs())
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
        &self,
        session: &str,
        delivery: &Delivery,
        envelope: &Envelope,
        state: &str,
        now: SystemTime,
    ) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("sessionId".to_owned(), s(session)),
            (
                "record".to_owned(),
                s(format!("{DELIVERY_RECORD_PREFIX}{}", delivery.key)),
            ),
            ("channel".to_owned(), s(delivery.channel.name())),
            ("kind".to_owned(), s(delivery.kind.name())),
            ("recipient".to_owned(), s(&delivery.masked_recipient)),
            ("state".to_owned(), s(state)),
            ("requestId".to_owned(), s(&envelope.request_id)),
            ("receivedAt".to_owned(), s(envelope.received_at.to_string())),
            ("firstAt".to_owned(), n(millis(now))),
            (
                "updatedAt".to_owned(),
                s(ReceivedAt::from_system_time(now).to_string()),
            ),
            ("expiresAt".to_owned(), ttl(now, DELIVERY_RETENTION)),
        ])
    }

    /// Records a delivery that will not be attempted (`expired`, `suppressed`), unless a record
    /// of the same message exists already.
    pub async fn record_unsent(
        &self,
        session: &str,
        delivery: &Delivery,
        envelope: &Envelope,
        state: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut item = self.delivery_item(session, delivery, envelope, state, SystemTime::now());
        item.insert("reason".to_owned(), s(reason));
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#record)")
            .expression_attribute_names("#record", "record")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if super::is_condition_failure(&e) => Ok(()),
            Err(e) => Err(StoreError::from_sdk(e)),
        }
    }

    /// Claims the delivery, or `None` when it is a duplicate: claimed by a live invocation, or
    /// finished for this request, or finished for an identical callback within the window.
    pub async fn claim_delivery(
        &self,
        session: &str,
        delivery: &Delivery,
        envelope: &Envelope,
        rules: &DeliveryRules,
    ) -> Result<Option<Claim>, StoreError> {
        let now = SystemTime::now();
        let claim_id = new_claim_id();
        let mut item = self.delivery_item(session, delivery, envelope, "pending", now);
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
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", n(millis(now)))
            .expression_attribute_values(":windowStart", n(window_start))
            .expression_attribute_values(":requestId", s(&envelope.request_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(Claim { record, claim_id })),
            Err(e) if super::is_condition_failure(&e) => Ok(None),
            Err(e) => Err(StoreError::from_sdk(e)),
        }
    }

    /// Completes a claimed delivery: `sent` with the provider's id, `failed` or `suppressed`
    /// with a reason.
    pub async fn finish_delivery(
        &self,
        session: &str,
        claim: &Claim,
        state: &str,
        message_id: Option<&str>,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("sessionId", s(session))
            .key("record", s(&claim.record))
            .condition_expression("#claimId = :claimId")
            .expression_attribute_names("#claimId", "claimId")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#updatedAt", "updatedAt")
            .expression_attribute_names("#leaseUntil", "leaseUntil")
            .expression_attribute_values(":claimId", s(&claim.claim_id))
            .expression_attribute_values(":state", s(state))
            .expression_attribute_values(":updatedAt", s(ReceivedAt::now().to_string()));
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
            .map_err(StoreError::from_sdk)
    }

    /// Lets a retry of this delivery claim it at once.
    pub async fn release_claim(&self, session: &str, claim: &Claim) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.name)
            .key("sessionId", s(session))
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
            .map_err(StoreError::from_sdk)
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
                .item("expiresAt", ttl(now, HOUR + Duration::from_secs(60)))
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
                Err(e) if super::is_condition_failure(&e) => continue,
                Err(e) => return Err(StoreError::from_sdk(e)),
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
            .map_err(StoreError::from_sdk)
    }
}
