//! What the ingress hands to a family: the callback without its key, with the request id and
//! the time it arrived. Callbacks carry no timestamp of their own, so `receivedAt` is what
//! orders them.

use serde::Serialize;

use crate::callback::Callback;
use crate::timestamp::Timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub request_id: String,
    pub received_at: Timestamp,
    pub callback: Callback,
}
