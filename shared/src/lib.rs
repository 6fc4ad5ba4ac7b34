//! The Identomat callback receiver's shared crate: the callback model, authentication,
//! validation, redaction, configuration and the store that every function uses.
//!
//! Data flows one way: raw body -> [`Acceptance::accept`] (size, JSON object, key, fields) ->
//! [`Callback`] -> [`Envelope`] -> the family that acts on it.
//!
//! The modules, from the bottom up; each imports only from those before it:
//!
//! | layer | module | what it holds |
//! | --- | --- | --- |
//! | values | [`redact`] | masks and fingerprints for log lines |
//! | | [`fields`] | validated field types (phone, address, session id, link, ...) |
//! | | [`timestamp`] | instants as the table stores them |
//! | | [`config`] | reading settings from the environment |
//! | | [`error`] | why a request was refused, one type per HTTP status |
//! | | [`callback`] | the callback types, one table |
//! | | [`policy`] | what a deployment allows: link hosts, body size, hourly limits |
//! | | [`countries`] | where SMS may go: real ITU calling codes |
//! | | [`message`] | an SMS or e-mail to deliver: channel, kind, key, limits, state, outcome |
//! | | [`envelope`] | what the ingress hands to a family |
//! | ingress | [`auth`] | `callbackApiKey`, current and previous, in constant time |
//! | | [`parse`] | body -> typed callback; envelope -> callback for the families |
//! | | [`refusal`] | what is kept of a callback refused for a field: masked, never a secret |
//! | AWS and runtime | [`aws`] | SDK configuration, TLS trust, how a failure is classed |
//! | | [`metrics`] | CloudWatch EMF counts from the invocation's log line |
//! | | [`logging`] | JSON logs |
//! | | [`store`] | the sessions table: status, video, delivery records, hourly-limit windows |
//! | | [`family`] | a family function's main loop, envelope check, error and log line |
//! | | [`delivery`] | the delivery rules: at most once, fresh, within limits |

pub mod auth;
pub mod aws;
pub mod callback;
pub mod config;
pub mod countries;
pub mod delivery;
pub mod envelope;
pub mod error;
pub mod family;
pub mod fields;
pub mod links;
pub mod logging;
pub mod message;
pub mod metrics;
pub mod numbering;
pub mod parse;
pub mod policy;
pub mod receipt;
pub mod redact;
pub mod refusal;
pub mod segments;
pub mod store;
pub mod timestamp;

/// The receiver's version (the workspace's): the stack's `Version` output, the SDK calls'
/// `User-Agent` (`app/identomat-callbacks-<version>`) and each function's first log line.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use auth::{CallbackKeys, PresentedKey};
pub use callback::{Callback, Family};
pub use config::ConfigError;
pub use envelope::Envelope;
pub use error::{AuthError, BodyTooLarge, InvalidField, MalformedBody, Rejection};
pub use fields::Problem;
pub use parse::Acceptance;
pub use policy::{Limits, LinkPolicy};
pub use store::SessionsTable;
pub use timestamp::Timestamp;
