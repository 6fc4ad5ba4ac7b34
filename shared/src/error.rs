//! What can go wrong with a request, one type per concern. Each maps to exactly one HTTP status
//! of the ingress contract; none of the messages echoes the key, a text or a recipient.

use crate::fields::Problem;

/// The body is over the size limit: 413.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the body is larger than {limit} bytes")]
pub struct BodyTooLarge {
    pub limit: usize,
}

impl BodyTooLarge {
    pub const STATUS: u16 = 413;
}

/// The body is not a single JSON object we can read unambiguously: 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedBody {
    #[error("the body is not valid JSON")]
    NotJson,
    #[error("the body is not a JSON object")]
    NotAnObject,
    /// `{"callbackApiKey": "wrong", "callbackApiKey": "right"}` must not be resolved silently.
    #[error("the body repeats a key")]
    DuplicateKey,
    /// More top-level fields than any callback has: refused before the key is looked at, so
    /// an unauthenticated body cannot make the ingress read thousands of them.
    #[error("the body has more than {} fields", crate::error::MAX_FIELDS)]
    TooManyFields,
}

/// The most top-level fields a body may have. Identomat's callbacks have at most nine; a new
/// type with many more would still fit.
pub const MAX_FIELDS: usize = 64;

impl MalformedBody {
    pub const STATUS: u16 = 400;
}

/// `callbackApiKey` did not authenticate: 401. The caller sees one answer for every variant;
/// the variant is for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("callbackApiKey is missing")]
    Missing,
    #[error("callbackApiKey is not a string")]
    NotAString,
    #[error("callbackApiKey is wrong")]
    Wrong,
    #[error("no callback key is configured")]
    NotConfigured,
}

impl AuthError {
    pub const STATUS: u16 = 401;

    /// A short tag for logs and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            AuthError::Missing => "key-missing",
            AuthError::NotAString => "key-not-a-string",
            AuthError::Wrong => "key-wrong",
            AuthError::NotConfigured => "key-not-configured",
        }
    }
}

/// An authenticated callback with a field we cannot act on: 422, naming the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` {problem}")]
pub struct InvalidField {
    pub field: &'static str,
    pub problem: Problem,
}

impl InvalidField {
    pub const STATUS: u16 = 422;

    pub fn new(field: &'static str, problem: Problem) -> Self {
        Self { field, problem }
    }
}

/// Why a request was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    TooLarge(#[from] BodyTooLarge),
    #[error(transparent)]
    Malformed(#[from] MalformedBody),
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    #[error(transparent)]
    Invalid(#[from] InvalidField),
}

impl Rejection {
    pub fn status(&self) -> u16 {
        match self {
            Rejection::TooLarge(_) => BodyTooLarge::STATUS,
            Rejection::Malformed(_) => MalformedBody::STATUS,
            Rejection::Unauthorized(_) => AuthError::STATUS,
            Rejection::Invalid(_) => InvalidField::STATUS,
        }
    }

    /// A short tag for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::TooLarge(_) => "too-large",
            Rejection::Malformed(MalformedBody::NotJson) => "not-json",
            Rejection::Malformed(MalformedBody::NotAnObject) => "not-an-object",
            Rejection::Malformed(MalformedBody::DuplicateKey) => "duplicate-key",
            Rejection::Malformed(MalformedBody::TooManyFields) => "too-many-fields",
            Rejection::Unauthorized(e) => e.reason(),
            Rejection::Invalid(_) => "invalid-field",
        }
    }
}
