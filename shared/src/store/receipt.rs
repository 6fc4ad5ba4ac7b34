//! Receipts on `delivery#<key>` records: the record found by the provider's message id through
//! the sparse index `delivery-message` (only a record that was sent carries
//! `providerMessageId`, so the index holds sent messages and nothing else), and its `state`
//! moved forward only, in one conditional write.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attr::{Item, n, s, text};
use super::{SessionsTable, StoreError, is_condition_failure};
use crate::aws::Classified;
use crate::receipt::Receipt;
use crate::timestamp::Timestamp;

/// The index of delivery records by the provider's message id (KEYS_ONLY).
pub const MESSAGE_INDEX: &str = "delivery-message";
/// Its partition key, the attribute `finish_delivery` writes.
pub const MESSAGE_ATTRIBUTE: &str = "providerMessageId";

/// The attributes a receipt writes, which a new claim of the same message removes.
pub const RECEIPT_ATTRIBUTES: [&str; 7] = [
    "receiptAt",
    "deliveredAt",
    "bounceType",
    "bounceSubType",
    "providerReason",
    "priceUsd",
    "receipts",
];

/// A delivery record a receipt is for: its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryKey {
    pub session: String,
    pub record: String,
}

/// What a receipt did to its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// The record moved to the receipt's state.
    Moved,
    /// The record already stands at or past the receipt's state (a repeat, a late delivery
    /// after a bounce), or was claimed again for a new send since: nothing changed.
    Stale,
}

impl SessionsTable {
    /// The delivery record whose send SNS or SES answered with `message_id`. The index is
    /// eventually consistent: a receipt within a second of its send may not find it yet.
    pub async fn find_delivery(&self, message_id: &str) -> Result<Option<DeliveryKey>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .index_name(MESSAGE_INDEX)
            .key_condition_expression("#id = :id")
            .expression_attribute_names("#id", MESSAGE_ATTRIBUTE)
            .expression_attribute_values(":id", s(message_id))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk(&e))?;
        let found = out.items().iter().find_map(|item| {
            let record = text(item, "record").ok()?;
            record
                .starts_with(super::delivery::DELIVERY_RECORD_PREFIX)
                .then(|| text(item, "sessionId").ok())
                .flatten()
                .map(|session| DeliveryKey { session, record })
        });
        Ok(found)
    }

    /// Moves the record to the receipt's state if it stands before it and still holds the
    /// receipt's message id: one conditional UpdateItem, so concurrent receipts of one message
    /// leave it in the furthest state whatever their order.
    pub async fn record_receipt(
        &self,
        key: &DeliveryKey,
        receipt: &Receipt,
    ) -> Result<ReceiptOutcome, StoreError> {
        let from = receipt.state.moved_from();
        if from.is_empty() {
            return Ok(ReceiptOutcome::Stale);
        }
        let now = Timestamp::now().to_string();
        let at = receipt.at.map_or_else(|| now.clone(), |t| t.to_string());
        let mut item = Item::from([
            ("sessionId".to_owned(), s(&key.session)),
            ("record".to_owned(), s(&key.record)),
            ("state".to_owned(), s(receipt.state.name())),
            ("updatedAt".to_owned(), s(&now)),
            ("receiptAt".to_owned(), s(&at)),
        ]);
        if receipt.state == crate::message::DeliveryState::Delivered {
            item.insert("deliveredAt".to_owned(), s(&at));
        }
        let optional = [
            ("bounceType", &receipt.bounce_type),
            ("bounceSubType", &receipt.bounce_sub_type),
            ("providerReason", &receipt.provider_reason),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                item.insert(name.to_owned(), s(value));
            }
        }
        if let Some(price) = &receipt.price_usd {
            item.insert("priceUsd".to_owned(), AttributeValue::N(price.clone()));
        }
        if let Some(tag) = receipt.failure_tag() {
            item.insert("reason".to_owned(), s(tag));
        }
        let (mut update, set) = self.setting_all(item);
        update = update
            .expression_attribute_names("#id", MESSAGE_ATTRIBUTE)
            .expression_attribute_values(":id", s(&receipt.message_id))
            .expression_attribute_names("#receipts", "receipts")
            .expression_attribute_values(":one", n(1));
        let mut allowed = Vec::with_capacity(from.len());
        for (i, state) in from.iter().enumerate() {
            allowed.push(format!(":f{i}"));
            update = update.expression_attribute_values(format!(":f{i}"), s(state.name()));
        }
        let result = update
            .expression_attribute_names("#state", "state")
            .update_expression(format!("SET {} ADD #receipts :one", set.join(", ")))
            .condition_expression(format!("#id = :id AND #state IN ({})", allowed.join(", ")))
            .send()
            .await;
        match result {
            Ok(_) => Ok(ReceiptOutcome::Moved),
            Err(e) if is_condition_failure(&e) => Ok(ReceiptOutcome::Stale),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }
}
