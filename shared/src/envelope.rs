//! What the ingress hands to a family: the callback without its key, with the request id and
//! the time it arrived. Callbacks carry no timestamp of their own, so `receivedAt` is what
//! orders them.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::callback::Callback;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub request_id: String,
    pub received_at: ReceivedAt,
    pub callback: Callback,
}

/// A UTC instant with millisecond precision, written as RFC 3339 with exactly three decimals
/// (`2026-11-27T19:49:15.123Z`), so the text sorts as the time does: DynamoDB can compare it
/// in a condition.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReceivedAt(SystemTime);

impl ReceivedAt {
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Truncated to the millisecond, so a value survives a round trip through its text.
    pub fn from_system_time(t: SystemTime) -> Self {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        Self::from_unix_millis(since.as_millis().try_into().unwrap_or(u64::MAX))
    }

    pub fn from_unix_millis(ms: u64) -> Self {
        Self(UNIX_EPOCH + Duration::from_millis(ms))
    }

    pub fn unix_millis(self) -> u64 {
        let since = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        since.as_millis().try_into().unwrap_or(u64::MAX)
    }

    pub fn system_time(self) -> SystemTime {
        self.0
    }

    /// How long ago this was, zero when it is in the future.
    pub fn age(self, now: SystemTime) -> Duration {
        now.duration_since(self.0).unwrap_or_default()
    }

    pub fn parse(raw: &str) -> Result<Self, humantime::TimestampError> {
        humantime::parse_rfc3339(raw).map(Self::from_system_time)
    }
}

impl fmt::Display for ReceivedAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_rfc3339_millis(self.0))
    }
}

impl fmt::Debug for ReceivedAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReceivedAt({self})")
    }
}

impl Serialize for ReceivedAt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReceivedAt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_has_millis_and_sorts_like_time() {
        let a = ReceivedAt::from_unix_millis(1_795_000_000_000);
        let b = ReceivedAt::from_unix_millis(1_795_000_000_001);
        let c = ReceivedAt::from_unix_millis(1_795_000_010_000);
        assert_eq!(a.to_string(), "2026-11-18T11:06:40.000Z");
        assert!(a.to_string() < b.to_string() && b.to_string() < c.to_string());
        assert_eq!(ReceivedAt::parse(&b.to_string()), Ok(b));
    }

    #[test]
    fn now_round_trips() {
        let now = ReceivedAt::now();
        assert_eq!(ReceivedAt::parse(&now.to_string()), Ok(now));
    }
}
