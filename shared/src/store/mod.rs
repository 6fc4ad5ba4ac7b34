//! The sessions table: partition key `sessionId`, sort key `record`, so one Query returns all we
//! know of a session. Record kinds: `status`, `video#<roomId>`, `delivery#<key>`,
//! `unhandled#<receivedAt>#<requestId>`, `rejected#<receivedAt>#<requestId>`, `reconcile`.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

mod attr;
pub mod delivery;
pub mod limits;
pub mod receipt;
pub mod reconcile;
pub mod status;
pub mod video;

pub use attr::Item;
pub use delivery::{Claim, ClaimOutcome};
pub use status::{HISTORY_LIMIT, StatusOutcome};
pub use video::VideoOutcome;

use crate::aws::Classified;
use crate::callback::Unhandled;
use crate::config::{ConfigError, required};
use crate::refusal::RefusedCallback;
use crate::timestamp::Timestamp;
use attr::{expires, s};

/// Partition key for an unknown callback that carries no valid session id.
pub const UNKNOWN_SESSION: &str = "unknown";
/// The sort key prefix of a callback refused for a field.
pub const REJECTED_RECORD_PREFIX: &str = "rejected#";

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

    /// Stores what is kept of a callback refused for a field (422) under its session, or under
    /// [`UNKNOWN_SESSION`] when its session id is invalid: one record per refused request.
    pub async fn put_rejected(
        &self,
        refused: &RefusedCallback,
        request_id: &str,
        received_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.put_new(self.rejected_item(refused, request_id, received_at))
            .await
    }

    /// The item [`Self::put_rejected`] writes.
    pub fn rejected_item(
        &self,
        refused: &RefusedCallback,
        request_id: &str,
        received_at: Timestamp,
    ) -> Item {
        use aws_sdk_dynamodb::types::AttributeValue;
        let session = refused
            .session_id
            .as_ref()
            .map_or(UNKNOWN_SESSION, |s| s.as_str());
        let fields = refused
            .fields
            .iter()
            .map(|(name, value)| (name.clone(), s(value)))
            .collect();
        let mut item = Item::from([
            ("sessionId".to_owned(), s(session)),
            (
                "record".to_owned(),
                s(format!(
                    "{REJECTED_RECORD_PREFIX}{received_at}#{request_id}"
                )),
            ),
            ("field".to_owned(), s(refused.field)),
            ("rule".to_owned(), s(refused.rule())),
            ("ruleCode".to_owned(), s(refused.problem.code())),
            ("fields".to_owned(), AttributeValue::M(fields)),
            ("receivedAt".to_owned(), s(received_at.to_string())),
            ("requestId".to_owned(), s(request_id)),
            ("expiresAt".to_owned(), self.expires_at()),
        ]);
        if let Some(type_name) = refused.type_name {
            item.insert("type".to_owned(), s(type_name));
        }
        if !refused.foreign_hosts.is_empty() {
            let hosts = refused.foreign_hosts.iter().map(s).collect();
            item.insert("foreignHosts".to_owned(), AttributeValue::L(hosts));
        }
        item
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

impl SessionsTable {
    /// The item of `session_id` and `record`, read consistently: the read every merge starts
    /// from.
    pub(crate) async fn read_item(
        &self,
        session_id: &str,
        record: &str,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("sessionId", s(session_id))
            .key("record", s(record))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk(&e))?;
        Ok(out.item)
    }
}

/// Attempts of read-merge-write before giving up and letting Lambda retry the envelope.
pub(crate) const MAX_ATTEMPTS: u32 = 30;

impl SessionsTable {
    /// Writes a merged record on the condition that it is still as it was read: absent
    /// (`read` `None`), written before versions (`Some(0)`), or at `version`. `false` when
    /// another writer got there first: back off ([`back_off`]), read again and merge again.
    pub(crate) async fn put_versioned(
        &self,
        item: Item,
        read: Option<u64>,
    ) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .item("expiresAt", self.expires_at());
        let put = match read {
            None => put
                .condition_expression("attribute_not_exists(#record)")
                .expression_attribute_names("#record", "record"),
            Some(0) => put
                .condition_expression("attribute_not_exists(#version)")
                .expression_attribute_names("#version", "version"),
            Some(version) => put
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":version", attr::n(version)),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }
}

/// A short pause that grows with the attempt and differs between concurrent writers.
pub(crate) async fn back_off(attempt: u32) {
    use std::hash::{BuildHasher, RandomState};
    let jitter = RandomState::new().hash_one(attempt) % 10;
    let millis = (u64::from(attempt.min(10)) * 5) + jitter;
    tokio::time::sleep(Duration::from_millis(millis)).await;
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
