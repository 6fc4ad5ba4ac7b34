//! Instants as the sessions table stores them: a UTC time with millisecond precision whose text
//! sorts as the time does, so DynamoDB can compare two of them in a condition.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A UTC instant (`receivedAt`, `updatedAt`, ...) with millisecond precision, written as RFC 3339 with exactly three decimals
/// (`2026-11-27T19:49:15.123Z`), so the text sorts as the time does: DynamoDB can compare it
/// in a condition.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(SystemTime);

impl Timestamp {
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

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_rfc3339_millis(self.0))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
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
        let a = Timestamp::from_unix_millis(1_795_000_000_000);
        let b = Timestamp::from_unix_millis(1_795_000_000_001);
        let c = Timestamp::from_unix_millis(1_795_000_010_000);
        assert_eq!(a.to_string(), "2026-11-18T11:06:40.000Z");
        assert!(a.to_string() < b.to_string() && b.to_string() < c.to_string());
        assert_eq!(Timestamp::parse(&b.to_string()), Ok(b));
    }

    #[test]
    fn now_round_trips() {
        let now = Timestamp::now();
        assert_eq!(Timestamp::parse(&now.to_string()), Ok(now));
    }
}
