//! The Identomat callback receiver's shared crate: the callback model, authentication,
//! validation, redaction, configuration and the store that every function uses.
//!
//! Data flows one way: raw body -> [`Acceptance::accept`] (size, JSON object, key, fields) ->
//! [`Callback`] -> [`Envelope`] -> the family that acts on it. The modules, from the bottom up;
//! each imports only from those listed before it:

// Values and their rules.
pub mod callback; //     the callback types, one table
pub mod config; //       reading settings from the environment
pub mod countries; //    where SMS may go: real ITU calling codes, non-geographic ones by name
pub mod envelope;
pub mod error; //        why a request was refused, one type per HTTP status
pub mod fields; //       validated field types (phone, address, session id, link, ...)
pub mod message; //      an SMS or e-mail to deliver: channel, kind, key, state, outcome
pub mod policy; //       what a deployment allows: link hosts, body size, hourly limits
pub mod redact; //       masks and fingerprints for log lines
pub mod timestamp; //    instants as the table stores them //     what the ingress hands to a family

// The ingress's path.
pub mod auth; //         callbackApiKey, current and previous, in constant time
pub mod parse; //        body -> typed callback, and envelope -> callback for the families

// AWS and the runtime.
pub mod aws; //          SDK configuration, TLS trust, transient vs permanent failures
pub mod delivery;
pub mod family; //       a family function's main loop, envelope check, error and log line
pub mod logging; //      JSON logs
pub mod metrics; //      CloudWatch EMF counts from the invocation's log line
pub mod store; //        the sessions table: status, video, delivery records, rate slots //     the delivery rules: at most once, fresh, within limits

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
