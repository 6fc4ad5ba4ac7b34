//! Where the events go: an EventBridge bus, behind a small trait so the handler's ordering and
//! failure rules are tested without one.

use std::future::Future;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::events::Notification;

/// PutEvents takes at most 10 entries per call.
pub const MAX_ENTRIES: usize = 10;

/// The whole call failed (throttled, unreachable, timed out): nothing of it is known to be on
/// the bus, so the batch is retried from its first entry.
#[derive(Debug, Clone, thiserror::Error)]
#[error("PutEvents failed: {0}")]
pub struct BusError(pub String);

pub trait Bus {
    /// Puts `entries` (at most [`MAX_ENTRIES`]) on the bus; for each, in order, `Ok` when the
    /// bus took it or the error the bus gave for it.
    fn put(
        &self,
        entries: &[Notification],
    ) -> impl Future<Output = Result<Vec<Result<(), String>>, BusError>>;
}

/// An EventBridge bus and the events' `source`.
#[derive(Debug, Clone)]
pub struct EventBridge {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
    source: String,
}

impl EventBridge {
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: String, source: String) -> Self {
        Self {
            client,
            bus_name,
            source,
        }
    }
}

impl Bus for EventBridge {
    async fn put(&self, entries: &[Notification]) -> Result<Vec<Result<(), String>>, BusError> {
        let request = entries.iter().map(|n| {
            PutEventsRequestEntry::builder()
                .event_bus_name(&self.bus_name)
                .source(&self.source)
                .detail_type(n.detail_type.name())
                .detail(n.detail.to_string())
                .build()
        });
        let output = self
            .client
            .put_events()
            .set_entries(Some(request.collect()))
            .send()
            .await
            .map_err(|e| BusError(shared::aws::describe(&e)))?;
        let answered = output.entries();
        if answered.len() != entries.len() {
            return Err(BusError(format!(
                "{} entries answered for {} sent",
                answered.len(),
                entries.len()
            )));
        }
        Ok(answered
            .iter()
            .map(|entry| match entry.error_code() {
                None => Ok(()),
                Some(code) => Err(format!(
                    "{code}: {}",
                    entry.error_message().unwrap_or_default()
                )),
            })
            .collect())
    }
}
