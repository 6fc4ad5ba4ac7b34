//! The Identomat callback receiver's shared crate: the callback model, authentication,
//! validation, redaction and configuration that every function uses.
//!
//! Data flows one way: raw body -> [`Acceptance::accept`] (size, JSON object, key, fields) ->
//! [`Callback`] -> [`Envelope`] -> the family that acts on it.

pub mod auth;
pub mod aws;
pub mod callback;
pub mod config;
pub mod delivery;
pub mod envelope;
pub mod error;
pub mod family;
pub mod fields;
pub mod logging;
pub mod metrics;
pub mod parse;
pub mod redact;
pub mod store;

pub use auth::{CallbackKeys, PresentedKey};
pub use callback::{Callback, Family};
pub use config::{ConfigError, Limits, LinkPolicy};
pub use envelope::{Envelope, ReceivedAt};
pub use error::{AuthError, BodyTooLarge, InvalidField, MalformedBody, Rejection};
pub use fields::Problem;
pub use parse::Acceptance;
pub use store::{SessionsTable, StoreError};
