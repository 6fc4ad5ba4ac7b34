//! The sessions table: partition key `sessionId`, sort key `record`, so one Query returns all we
//! know of a session. Record kinds: `status`, `video#<roomId>`, `delivery#<key>`,
//! `unhandled#<receivedAt>#<requestId>`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

pub mod delivery;
pub mod status;
pub mod video;

pub use status::{HISTORY_LIMIT, StatusOutcome};
pub use video::VideoOutcome;

use aws_sdk_dynamodb::operation::put_item::PutItemError;

use crate::callback::Unhandled;
use crate::envelope::ReceivedAt;

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

impl StoreError {
    fn from_sdk<E: ProvideErrorMetadata>(err: SdkError<E, HttpResponse>) -> Self {
        let message = crate::aws::describe(&err);
        if crate::aws::is_transient(&err) {
            StoreError::Unavailable(message)
        } else {
            StoreError::Refused(message)
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// The sessions table and the client that reaches it.
#[derive(Debug, Clone)]
pub struct SessionsTable {
    client: Client,
    name: String,
}

impl SessionsTable {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    /// `SESSIONS_TABLE` names the table.
    pub fn from_lookup(
        client: Client,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, crate::ConfigError> {
        let name = crate::config::required(lookup, "SESSIONS_TABLE")?;
        Ok(Self::new(client, name))
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
        received_at: ReceivedAt,
    ) -> Result<(), StoreError> {
        let session = callback
            .session_id()
            .map_or_else(|| UNKNOWN_SESSION.to_owned(), |s| s.as_str().to_owned());
        let payload =
            serde_json::to_string(callback).map_err(|e| StoreError::Refused(e.to_string()))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .item("sessionId", AttributeValue::S(session))
            .item(
                "record",
                AttributeValue::S(format!("unhandled#{received_at}#{request_id}")),
            )
            .item("type", AttributeValue::S(callback.type_name.clone()))
            .item("receivedAt", AttributeValue::S(received_at.to_string()))
            .item("requestId", AttributeValue::S(request_id.to_owned()))
            .item("payload", AttributeValue::S(payload))
            .condition_expression("attribute_not_exists(#record)")
            .expression_attribute_names("#record", "record")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The same request stored already: a retry of a write that succeeded.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(StoreError::from_sdk(e)),
        }
    }
}

/// The write's condition did not hold: for our writes, someone else got there first.
pub(crate) fn is_condition_failure(err: &SdkError<PutItemError, HttpResponse>) -> bool {
    err.as_service_error()
        .is_some_and(PutItemError::is_conditional_check_failed_exception)
}
