//! The receipts function: what SES and SNS report about a message after they took it, on its
//! `delivery#<key>` record. Two sources invoke it, each as AWS delivers:
//!
//! - e-mail: SES's event destination puts each event of the stack's configuration set on the
//!   account's default EventBridge bus (the only bus SES publishes to), and a rule sends it
//!   here, one event per invocation;
//! - SMS: SNS writes each SMS's delivery status to CloudWatch Logs, and a subscription filter
//!   on its two log groups sends batches here, base64 and gzip encoded.
//!
//! Each receipt finds its record by the provider's message id (the sparse index, never a scan)
//! and moves its `state` forward only. A receipt for a message id no record holds (mail or SMS
//! that other systems send in the account) is counted and ignored.

use std::time::Instant;

use aws_lambda_events::event::cloudwatch_logs::LogsEvent;
use serde_json::{Value, json};
use shared::SessionsTable;
use shared::metrics::TARGET;
use shared::receipt::{NotAReceipt, Receipt, email_receipt, sms_receipt};
use shared::store::StoreError;
use shared::store::receipt::ReceiptOutcome;

/// The source of SES's events on EventBridge.
pub const SES_SOURCE: &str = "aws.ses";

#[derive(Debug, thiserror::Error)]
pub enum ReceiptsError {
    /// Neither an SES event nor a log subscription's batch: a wiring mistake. Lambda's retries,
    /// then the dead-letter queue, keep it for a person to look at.
    #[error("not a receipt the function is wired for: {0}")]
    Misrouted(String),
    /// The table failed: the invocation fails, and Lambda retries it. Every write is forward
    /// only, so a receipt handled twice changes nothing the second time.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one invocation did, as it answers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub moved: u32,
    pub stale: u32,
    pub unknown: u32,
    pub ignored: u32,
}

impl Tally {
    fn json(self) -> Value {
        json!({"moved": self.moved, "stale": self.stale, "unknown": self.unknown,
               "ignored": self.ignored})
    }
}

pub struct Receipts {
    pub table: SessionsTable,
}

impl Receipts {
    /// One invocation: an SES event from EventBridge, or a CloudWatch Logs batch of SMS
    /// delivery statuses.
    pub async fn invoke(&self, payload: Value) -> Result<Value, ReceiptsError> {
        let mut tally = Tally::default();
        if payload.get("awslogs").is_some() {
            // From text: the crate's reader of `data` borrows its string, which a Value
            // cannot lend.
            let event: LogsEvent = serde_json::from_str(&payload.to_string())
                .map_err(|e| ReceiptsError::Misrouted(format!("awslogs: {e}")))?;
            let data = event.aws_logs.data;
            // CloudWatch Logs tests a new subscription with a CONTROL_MESSAGE: no receipts.
            if data.message_type != "DATA_MESSAGE" {
                return Ok(tally.json());
            }
            for entry in &data.log_events {
                self.handle("sms", sms_receipt(&entry.message), &mut tally)
                    .await?;
            }
        } else if payload.get("source").and_then(Value::as_str) == Some(SES_SOURCE) {
            let receipt = match payload.get("detail") {
                Some(detail) => email_receipt(detail),
                None => Err(NotAReceipt::Malformed("an SES event without detail".into())),
            };
            self.handle("email", receipt, &mut tally).await?;
        } else {
            return Err(ReceiptsError::Misrouted(
                "neither awslogs nor an aws.ses event".into(),
            ));
        }
        Ok(tally.json())
    }

    async fn handle(
        &self,
        channel: &'static str,
        receipt: Result<Receipt, NotAReceipt>,
        tally: &mut Tally,
    ) -> Result<(), ReceiptsError> {
        let started = Instant::now();
        let receipt = match receipt {
            Ok(receipt) => receipt,
            Err(e) => {
                tally.ignored += 1;
                tracing::warn!(target: TARGET, function = "receipts", outcome = "ignored",
                    reason = e.kind(), channel, error = %e, "receipt");
                return Ok(());
            }
        };
        let state = receipt.state.name();
        let Some(key) = self.table.find_delivery(&receipt.message_id).await? else {
            tally.unknown += 1;
            tracing::info!(target: TARGET, function = "receipts", outcome = "unknown",
                reason = channel, state, messageId = %receipt.message_id,
                durationMs = started.elapsed().as_secs_f64() * 1000.0, "receipt");
            return Ok(());
        };
        let session = shared::redact::Fingerprint::of(&key.session);
        let moved = self.table.record_receipt(&key, &receipt).await? == ReceiptOutcome::Moved;
        let outcome = match moved {
            true => {
                tally.moved += 1;
                state
            }
            false => {
                tally.stale += 1;
                "stale"
            }
        };
        tracing::info!(target: TARGET, function = "receipts", outcome, reason = channel,
            state, messageId = %receipt.message_id, session = %session,
            durationMs = started.elapsed().as_secs_f64() * 1000.0, "receipt");
        // The SMS spend from the prices SNS reports, once per message: a metric in millionths
        // of a dollar, since a metric line counts whole numbers.
        if moved && let Some(micros) = receipt.price_usd.as_deref().and_then(micro_usd) {
            tracing::info!(target: TARGET, function = "receipts", outcome = "spent-micro-usd",
                reason = channel, billed = micros, "receipt price");
        }
        Ok(())
    }
}

/// A price in USD as whole millionths of a dollar (SNS reports at most five decimals); none
/// when zero, which no metric needs to count.
pub fn micro_usd(price: &str) -> Option<u64> {
    let amount: f64 = price.parse().ok()?;
    let micros = (amount * 1_000_000.0).round();
    (1.0..1e15).contains(&micros).then_some(micros as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_counted_in_millionths_of_a_dollar() {
        assert_eq!(micro_usd("0.00645"), Some(6450));
        assert_eq!(micro_usd("0.1"), Some(100_000));
        assert_eq!(micro_usd("0"), None);
        assert_eq!(micro_usd("-0.5"), None);
        assert_eq!(micro_usd("lots"), None);
    }
}
