//! Hourly limits as sliding windows of one-minute counters, one item per limited scope
//! (`ratelimit#<scope>`, record `window`), each counter an attribute `m<minute>`.
//!
//! Taking a place is one `ADD` of what the message counts for (one, or its parts or recipients)
//! that returns the whole window: the message is within its limit when the counters of the
//! current minute and the 60 before it, its own included, add up to at most the limit, else its
//! count is given back at once. So every 60 minutes hold at most
//! `per_hour` messages (the window remembers a minute longer, never shorter), and a message
//! costs the same one or two requests whatever the limit: no read-modify-write, no retries on
//! contention. Two racing messages may both see each other and both be refused; neither can
//! be let through beyond the limit.

use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::attr::{Item, expires, millis, n, s};
use super::{SessionsTable, StoreError};
use crate::aws::Classified;
use crate::message::Limit;

const WINDOW_RECORD: &str = "window";
/// Counters older than this many minutes before the current one no longer count.
const WINDOW_MINUTES: u64 = 60;
/// A window nobody touched for two hours is deleted by the table's TTL.
const KEEP: Duration = Duration::from_secs(2 * 3600);

/// One message counted against a limit; give it back if the message is not sent after all.
/// Giving back takes it by value: a count is given back at most once.
#[derive(Debug, PartialEq, Eq)]
pub struct Taken {
    partition: String,
    counter: String,
    weight: u32,
}

fn minute(t: SystemTime) -> u64 {
    millis(t) / 60_000
}

/// The counters of `window` still inside it at `now`, summed, and the names of those outside.
fn tally(window: &Item, now: u64) -> (u64, Vec<String>) {
    let mut total = 0;
    let mut stale = Vec::new();
    for (name, value) in window {
        let Some(at) = name.strip_prefix('m').and_then(|m| m.parse::<u64>().ok()) else {
            continue;
        };
        if at + WINDOW_MINUTES >= now {
            if let AttributeValue::N(count) = value {
                total += count.parse::<i64>().unwrap_or(0).max(0).unsigned_abs();
            }
        } else {
            stale.push(name.clone());
        }
    }
    (total, stale)
}

impl SessionsTable {
    /// Counts one message, as `weight`, against `limit`: `Some` when it is within, `None` when
    /// it is over (and nothing stays counted).
    pub async fn take(&self, limit: &Limit, weight: u32) -> Result<Option<Taken>, StoreError> {
        let now = SystemTime::now();
        let current = minute(now);
        let taken = Taken {
            partition: format!("ratelimit#{}", limit.scope),
            counter: format!("m{current}"),
            weight,
        };
        let out = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("sessionId", s(&taken.partition))
            .key("record", s(WINDOW_RECORD))
            .update_expression("ADD #counter :weight SET #expiresAt = :expiresAt")
            .expression_attribute_names("#counter", &taken.counter)
            .expression_attribute_names("#expiresAt", "expiresAt")
            .expression_attribute_values(":weight", n(u64::from(weight)))
            .expression_attribute_values(":expiresAt", expires(now, KEEP))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk(&e))?;
        let (total, stale) = tally(&out.attributes.unwrap_or_default(), current);
        if !stale.is_empty() {
            // Housekeeping only: a counter left behind is outside the window and never counted.
            let _ = self.forget(&taken.partition, &stale).await;
        }
        if total > u64::from(limit.per_hour) {
            // Over the limit either way; a give-back that fails only leaves the count stricter.
            let _ = self.give_back(taken).await;
            return Ok(None);
        }
        Ok(Some(taken))
    }

    /// Uncounts a message that was not sent. Sent once, without the SDK's retry: a give-back
    /// whose answer was lost may have been applied, and a second `ADD` would uncount twice,
    /// letting one more message through than the limit allows. A give-back lost for good only
    /// leaves the limit stricter for the rest of the hour.
    pub async fn give_back(&self, taken: Taken) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.name)
            .key("sessionId", s(&taken.partition))
            .key("record", s(WINDOW_RECORD))
            .update_expression("ADD #counter :minus")
            .expression_attribute_names("#counter", &taken.counter)
            .expression_attribute_values(":minus", AttributeValue::N(format!("-{}", taken.weight)))
            .customize()
            .config_override(
                aws_sdk_dynamodb::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk(&e))
    }

    async fn forget(&self, partition: &str, counters: &[String]) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("sessionId", s(partition))
            .key("record", s(WINDOW_RECORD));
        let mut names = Vec::with_capacity(counters.len());
        for (i, counter) in counters.iter().enumerate() {
            let name = format!("#c{i}");
            update = update.expression_attribute_names(&name, counter);
            names.push(name);
        }
        update
            .update_expression(format!("REMOVE {}", names.join(", ")))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_the_current_minute_and_the_sixty_before() {
        let window = Item::from([
            ("m1000".to_owned(), n(2)),
            ("m940".to_owned(), n(3)),
            ("m939".to_owned(), n(7)),
            ("m500".to_owned(), n(1)),
            ("expiresAt".to_owned(), n(99)),
            ("mangled".to_owned(), n(5)),
        ]);
        let (total, mut stale) = tally(&window, 1000);
        stale.sort();
        assert_eq!(total, 5);
        assert_eq!(stale, ["m500", "m939"]);
    }

    #[test]
    fn a_counter_given_back_below_zero_counts_nothing() {
        let window = Item::from([("m10".to_owned(), n(3)), ("m9".to_owned(), s("x"))]);
        assert_eq!(tally(&window, 10).0, 3);
        let negative = Item::from([("m10".to_owned(), AttributeValue::N("-2".into()))]);
        assert_eq!(tally(&negative, 10).0, 0);
    }
}
