//! Attribute values in and out of the sessions table's items, written once for every record.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;
use crate::timestamp::Timestamp;

/// An item of the sessions table, as the SDK reads and writes it.
pub type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A string, or NULL where the platform sent null.
pub(crate) fn s_or_null(value: Option<&str>) -> AttributeValue {
    value.map_or(AttributeValue::Null(true), s)
}

pub(crate) fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().try_into().unwrap_or(u64::MAX))
}

/// `expiresAt` for DynamoDB's TTL: epoch seconds `keep` after `now`.
pub(crate) fn expires(now: SystemTime, keep: Duration) -> AttributeValue {
    n((millis(now) / 1000) + keep.as_secs())
}

fn malformed(name: &str) -> StoreError {
    StoreError::Refused(format!("the stored record has no valid `{name}`"))
}

pub(crate) fn text(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(malformed(name)),
    }
}

pub(crate) fn time(item: &Item, name: &str) -> Result<Timestamp, StoreError> {
    Timestamp::parse(&text(item, name)?).map_err(|_| malformed(name))
}

pub(crate) fn number(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| malformed(name)),
        _ => Err(malformed(name)),
    }
}

pub(crate) fn list<'a>(item: &'a Item, name: &str) -> Result<&'a [AttributeValue], StoreError> {
    match item.get(name) {
        Some(AttributeValue::L(entries)) => Ok(entries),
        _ => Err(malformed(name)),
    }
}

pub(crate) fn map<'a>(value: &'a AttributeValue, name: &str) -> Result<&'a Item, StoreError> {
    match value {
        AttributeValue::M(m) => Ok(m),
        _ => Err(malformed(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_name_the_attribute_they_could_not_read() {
        let item = Item::from([
            ("a".to_owned(), s("x")),
            ("b".to_owned(), n(7)),
            ("c".to_owned(), s_or_null(None)),
        ]);
        assert_eq!(text(&item, "a").unwrap(), "x");
        assert_eq!(number(&item, "b").unwrap(), 7);
        assert!(text(&item, "b").unwrap_err().to_string().contains("`b`"));
        assert!(number(&item, "c").is_err());
        assert!(time(&item, "a").is_err());
        assert_eq!(
            expires(
                UNIX_EPOCH + Duration::from_millis(5_500),
                Duration::from_secs(10)
            ),
            n(15)
        );
    }
}
