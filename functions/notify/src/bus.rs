//! Where the events go: an EventBridge bus, behind a small trait so the handler's ordering and
//! failure rules are tested without one.

use std::future::Future;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::events::Notification;

/// PutEvents takes at most 10 entries per call.
pub const MAX_ENTRIES: usize = 10;
/// ... and their entries must add up to less than 256 KB, each counted as the UTF-8 bytes of its
/// `Source`, `DetailType` and `Detail` (EventBridge's "Calculating PutEvents event entry size").
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// An entry's size as EventBridge counts it against [`MAX_REQUEST_BYTES`].
pub fn entry_size(source: &str, notification: &Notification) -> usize {
    source.len() + notification.detail_type.name().len() + notification.detail_json().len()
}

/// Where each PutEvents call's entries start and end: at most [`MAX_ENTRIES`] entries and less
/// than [`MAX_REQUEST_BYTES`] a call, in order. An entry too large for any call (no detail of
/// ours comes near: a test bounds them) goes alone, for the bus to refuse and the batch to
/// fail at it, rather than be dropped unseen.
pub fn calls(source: &str, entries: &[Notification]) -> Vec<std::ops::Range<usize>> {
    let mut calls = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, entry) in entries.iter().enumerate() {
        let size = entry_size(source, entry);
        if index > start && (index - start == MAX_ENTRIES || bytes + size >= MAX_REQUEST_BYTES) {
            calls.push(start..index);
            (start, bytes) = (index, 0);
        }
        bytes += size;
    }
    if start < entries.len() {
        calls.push(start..entries.len());
    }
    calls
}

/// The whole call failed (throttled, unreachable, timed out): nothing of it is known to be on
/// the bus, so the batch is retried from its first entry.
#[derive(Debug, Clone, thiserror::Error)]
#[error("PutEvents failed: {0}")]
pub struct BusError(pub String);

pub trait Bus {
    /// The events' `source`, which counts toward each entry's size.
    fn source(&self) -> &str;

    /// Puts `entries` (one of [`calls`]) on the bus; for each, in order, `Ok` when the bus took
    /// it or the error the bus gave for it.
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
    fn source(&self) -> &str {
        &self.source
    }

    async fn put(&self, entries: &[Notification]) -> Result<Vec<Result<(), String>>, BusError> {
        let request = entries.iter().map(|n| {
            PutEventsRequestEntry::builder()
                .event_bus_name(&self.bus_name)
                .source(&self.source)
                .detail_type(n.detail_type.name())
                .detail(n.detail_json())
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
