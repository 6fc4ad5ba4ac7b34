//! The sessions table: partition key `sessionId`, sort key `record`, so one Query returns all we
//! know of a session. Record kinds: `status`, `video#<roomId>`, `delivery#<key>`,
//! `unhandled#<receivedAt>#<requestId>`.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

mod attr;
pub mod delivery;
pub mod limits;
pub mod status;
pub mod video;

pub use attr::Item;
pub use delivery::{Claim, ClaimOutcome};
pub use status::{HISTORY_LIMIT, StatusOutcome};
pub use video::VideoOutcome;

use crate::aws::Classified;
use crate::callback::Unhandled;
use crate::config::{ConfigError, required};
use crate::timestamp::Timestamp;
use attr::{expires, s};

/// Partition key for an unknown callback that carries no valid session id.
pub const UNKNOWN_SESSION: &str = "unknown";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, a 5xx or the network: worth retrying.
    #[error("the sessions table is unavailable: {0}")]
    Unavailable(String),
    /// The request itself is wrong (missing table, bad item): retrying will not help.
    #[error("the sessions table refused the request: {0}")]
    Refused(String),
}

crate::aws::classified!(StoreError: Unavailable, Refused);

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// The sessions table and the client that reaches it.
#[derive(Debug, Clone)]
pub struct SessionsTable {
    client: Client,
    name: String,
    retention: Duration,
}

const DAY: u64 = 24 * 3600;

/// `RECORD_RETENTION_DAYS`: 1 to 3,650 days, 365 when unset.
pub fn retention(lookup: &impl Fn(&str) -> Option<String>) -> Result<Duration, ConfigError> {
    let days = crate::config::bounded(
        lookup,
        "RECORD_RETENTION_DAYS",
        DEFAULT_RETENTION_DAYS,
        3650,
    )?;
    Ok(Duration::from_secs(days * DAY))
}

/// How long a record is kept when `RECORD_RETENTION_DAYS` is unset.
pub const DEFAULT_RETENTION_DAYS: u64 = 365;

impl SessionsTable {
    /// The table, keeping records for [`DEFAULT_RETENTION_DAYS`].
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
            retention: Duration::from_secs(DEFAULT_RETENTION_DAYS * DAY),
        }
    }

    /// Records written through this table expire (DynamoDB TTL on `expiresAt`) `retention`
    /// after their last write; delivery records after 30 days at most.
    pub fn with_retention(self, retention: Duration) -> Self {
        Self { retention, ..self }
    }

    /// `SESSIONS_TABLE` names the table; `RECORD_RETENTION_DAYS` (365, 1 to 3,650) is how long
    /// personal data stays in it.
    pub fn from_lookup(
        client: Client,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let name = required(lookup, "SESSIONS_TABLE")?;
        Ok(Self::new(client, name).with_retention(retention(lookup)?))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stores a callback of a type we do not know, as received (without the key), under its
    /// session. The request id in the sort key keeps two arriving in one millisecond apart; the
    /// condition keeps a retried write from overwriting anything.
    pub async fn put_unhandled(
        &self,
        callback: &Unhandled,
        request_id: &str,
        received_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.put_new(self.unhandled_item(callback, request_id, received_at)?)
            .await
    }

    /// The item [`Self::put_unhandled`] writes.
    pub fn unhandled_item(
        &self,
        callback: &Unhandled,
        request_id: &str,
        received_at: Timestamp,
    ) -> Result<Item, StoreError> {
        let session = callback
            .session_id()
            .map_or(UNKNOWN_SESSION, |s| s.as_str());
        let payload =
            serde_json::to_string(callback).map_err(|e| StoreError::Refused(e.to_string()))?;
        Ok(Item::from([
            ("sessionId".to_owned(), s(session)),
            (
                "record".to_owned(),
                s(format!("unhandled#{received_at}#{request_id}")),
            ),
            ("type".to_owned(), s(&callback.type_name)),
            ("receivedAt".to_owned(), s(received_at.to_string())),
            ("requestId".to_owned(), s(request_id)),
            ("payload".to_owned(), s(payload)),
            ("expiresAt".to_owned(), self.expires_at()),
        ]))
    }

    /// `expiresAt` for a record written now.
    pub(crate) fn expires_at(&self) -> aws_sdk_dynamodb::types::AttributeValue {
        expires(std::time::SystemTime::now(), self.retention)
    }

    /// Writes `item` unless its record exists already. A record is written once: finding it
    /// there means a retry of a write that succeeded, or a duplicate, and both succeed.
    async fn put_new(&self, item: Item) -> Result<(), StoreError> {
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
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }
}

/// The write's condition did not hold: for our writes, someone else got there first. Any
/// write: a put and an update fail their condition with the same code.
pub(crate) fn is_condition_failure<E: ProvideErrorMetadata>(
    err: &SdkError<E, HttpResponse>,
) -> bool {
    err.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}
