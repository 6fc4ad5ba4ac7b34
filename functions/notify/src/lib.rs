//! The notify function: the sessions table's stream in, one EventBridge event per meaningful
//! change out, in the stream's order.
//!
//! Lambda's event source mapping hands over a batch of one shard's records in order. The
//! events are put in that order, in calls of at most 10 entries and 256 KB; at the first entry
//! the bus did not take, the
//! handler stops and names that entry's record as the batch's first failure
//! (`ReportBatchItemFailures`), so Lambda retries from there and nothing of a session is put
//! out of order. Entries after it that the bus did take are put again on the retry: delivery is
//! at least once, and each event's `detail.id` lets a consumer drop a repeat.

pub mod bus;
pub mod events;

use std::time::Instant;

use aws_lambda_events::dynamodb;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use shared::config::{ConfigError, optional, required};
use shared::metrics::TARGET;

use crate::bus::{Bus, calls};
use crate::events::Notification;

/// The events' `source` when `EVENT_SOURCE` is unset.
pub const DEFAULT_SOURCE: &str = "identomat.callbacks";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// `EVENT_BUS_NAME`: the bus the stack created, an existing one, or `default`.
    pub bus_name: String,
    /// `EVENT_SOURCE`: what a rule matches the events by.
    pub source: String,
}

impl NotifyConfig {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            bus_name: required(lookup, "EVENT_BUS_NAME")?,
            source: optional(lookup, "EVENT_SOURCE").unwrap_or_else(|| DEFAULT_SOURCE.into()),
        })
    }
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub records: usize,
    pub published: usize,
    /// The record Lambda retries from, with the reason, when the bus did not take everything.
    pub failed_at: Option<(String, String)>,
}

/// Publishes the batch's events in order; the answer names the first record whose events the
/// bus did not all take (none when everything was put).
pub async fn handle(bus: &impl Bus, event: &dynamodb::Event) -> (DynamoDbEventResponse, Summary) {
    let mut summary = Summary {
        records: event.records.len(),
        ..Summary::default()
    };
    // The events in the stream's order, and beside each the record it came from.
    let mut entries: Vec<Notification> = Vec::new();
    let mut sources: Vec<&dynamodb::EventRecord> = Vec::new();
    for record in &event.records {
        for notification in events::of_record(record) {
            entries.push(notification);
            sources.push(record);
        }
    }
    for call in calls(bus.source(), &entries) {
        let (first, chunk) = (call.start, &entries[call]);
        let failure = match bus.put(chunk).await {
            Err(e) => Some((0, e.to_string())),
            Ok(results) => results
                .into_iter()
                .enumerate()
                .find_map(|(i, r)| r.err().map(|e| (i, e))),
        };
        if let Some((index, reason)) = failure {
            summary.published += index;
            let record = sources[first + index];
            let sequence = record.change.sequence_number.clone().unwrap_or_default();
            summary.failed_at = Some((sequence.clone(), reason));
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence);
            let mut response = DynamoDbEventResponse::default();
            response.batch_item_failures = vec![failure];
            return (response, summary);
        }
        summary.published += chunk.len();
    }
    (DynamoDbEventResponse::default(), summary)
}

/// Serves the stream's batches until the runtime stops: each is [`handle`]d and logged, and
/// the answer names the record Lambda retries from.
pub async fn run(bus: impl Bus) -> Result<(), lambda_runtime::Error> {
    let bus = &bus;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<dynamodb::Event>| async move {
            let started = Instant::now();
            let (response, summary) = handle(bus, &event.payload).await;
            log_batch(&summary, started);
            Ok::<_, lambda_runtime::Error>(response)
        },
    ))
    .await
}

/// The invocation's log line and metric (`Published`, or `PublishFailed` with its reason):
/// counts and the sequence number only, never a session id or recipient.
pub fn log_batch(summary: &Summary, started: Instant) {
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    match &summary.failed_at {
        None => tracing::info!(
            target: TARGET,
            function = "notify",
            outcome = "published",
            records = summary.records,
            events = summary.published,
            durationMs = duration_ms,
            "batch"
        ),
        Some((sequence, reason)) => tracing::error!(
            target: TARGET,
            function = "notify",
            outcome = "publish-failed",
            records = summary.records,
            events = summary.published,
            retryFrom = %sequence,
            error = %reason,
            durationMs = duration_ms,
            "batch"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_outcomes_are_metrics_the_catalogue_lists() {
        let captured = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let writer = {
            let captured = captured.clone();
            move || Writer(captured.clone())
        };
        let subscriber =
            shared::logging::json_subscriber(writer, shared::logging::default_filter(), "test");
        tracing::subscriber::with_default(subscriber, || {
            let started = Instant::now();
            log_batch(&Summary::default(), started);
            let failed = Summary {
                failed_at: Some(("1".into(), "throttled".into())),
                ..Summary::default()
            };
            log_batch(&failed, started);
        });
        let text = String::from_utf8(captured.lock().unwrap().clone()).unwrap();
        let metrics: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter_map(|l: serde_json::Value| shared::metrics::emitted(&l))
            .map(|m| m.metric)
            .collect();
        // Logging them passed the debug build's check against shared/metrics.json.
        assert_eq!(metrics, ["Published", "PublishFailed"]);
    }

    struct Writer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
