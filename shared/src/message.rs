//! A message the sms and email families deliver, as the delivery rules and the sessions table
//! see it: its channel and kind, its idempotency key, its recipient (masked and as a one-way
//! tag), the state its `delivery#<key>` record is in, and the outcome an invocation reports.
//! The rules themselves are in [`crate::delivery`].

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::{ConfigError, within};

/// The rules' settings, shared by both channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRules {
    pub dedupe_window: Duration,
    pub otp_max_age: Duration,
    /// How long a claim holds before another invocation may take it over: at least the
    /// function's timeout.
    pub claim_lease: Duration,
}

impl Default for DeliveryRules {
    fn default() -> Self {
        Self {
            dedupe_window: Duration::from_secs(600),
            otp_max_age: Duration::from_secs(300),
            claim_lease: Duration::from_secs(60),
        }
    }
}

impl DeliveryRules {
    /// `DEDUPE_WINDOW_SECONDS`: 600, 60 to 86,400 (a window shorter than a minute would let
    /// Identomat's retries of one callback send twice).
    pub const DEDUPE_WINDOW: std::ops::RangeInclusive<u64> = 60..=86_400;
    /// `OTP_MAX_AGE_SECONDS`: 300, 30 to 3,600 (an OTP older than an hour is no OTP).
    pub const OTP_MAX_AGE: std::ops::RangeInclusive<u64> = 30..=3_600;
    /// `CLAIM_LEASE_SECONDS`: 60, 30 to 900. A lease shorter than the function's timeout lets a
    /// second attempt take over a claim whose first is still sending: two copies. 900 s is
    /// Lambda's longest timeout, so no longer lease is ever needed; `make lint` holds each
    /// function's lease to at least its `Timeout`.
    pub const CLAIM_LEASE: std::ops::RangeInclusive<u64> = 30..=900;

    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let secs = |name, default: Duration, range| {
            within(lookup, name, default.as_secs(), range).map(Duration::from_secs)
        };
        Ok(Self {
            dedupe_window: secs(
                "DEDUPE_WINDOW_SECONDS",
                d.dedupe_window,
                Self::DEDUPE_WINDOW,
            )?,
            otp_max_age: secs("OTP_MAX_AGE_SECONDS", d.otp_max_age, Self::OTP_MAX_AGE)?,
            claim_lease: secs("CLAIM_LEASE_SECONDS", d.claim_lease, Self::CLAIM_LEASE)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
pub enum Kind {
    #[strum(serialize = "otp")]
    OneTimePassword,
    #[strum(serialize = "link")]
    SessionLink,
}

impl Kind {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// The `state` of a `delivery#<key>` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum DeliveryState {
    /// Claimed by an invocation that has not finished.
    Pending,
    /// An attempt failed and released its claim (the provider or the table was unavailable,
    /// or the deployment must be fixed): Lambda's retry, or a redrive from the dead-letter
    /// queue, takes it over. `reason` says what failed.
    Retrying,
    Sent,
    Suppressed,
    Expired,
    /// Refused by the provider when sent, or reported failed by a receipt (a carrier's
    /// failure, SES's reject).
    Failed,
    /// The states a receipt moves a sent message to (`crate::receipt`): SES is still trying
    /// (`delayed`), the mailbox or phone took it, the mailbox sent it back, the person marked
    /// it as spam.
    Delayed,
    Delivered,
    Bounced,
    Complained,
}

impl DeliveryState {
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Where a state stands in a sent message's life; receipts move a record forward only.
    /// `None` for the states a message is in before it is sent, or instead of being sent.
    pub fn receipt_rank(self) -> Option<u8> {
        match self {
            DeliveryState::Sent => Some(0),
            DeliveryState::Delayed => Some(1),
            DeliveryState::Delivered => Some(2),
            // A bounce may follow a delivery (the mailbox took it, then sent it back); a
            // delivery reported after a bounce changes nothing.
            DeliveryState::Bounced | DeliveryState::Failed => Some(3),
            DeliveryState::Complained => Some(4),
            DeliveryState::Pending
            | DeliveryState::Retrying
            | DeliveryState::Suppressed
            | DeliveryState::Expired => None,
        }
    }

    /// The states a record may be in for a receipt of `self` to move it: those of a sent
    /// message that stand before it.
    pub fn moved_from(self) -> Vec<DeliveryState> {
        let Some(rank) = self.receipt_rank() else {
            return Vec::new();
        };
        [
            DeliveryState::Sent,
            DeliveryState::Delayed,
            DeliveryState::Delivered,
            DeliveryState::Bounced,
            DeliveryState::Failed,
            DeliveryState::Complained,
        ]
        .into_iter()
        .filter(|s| s.receipt_rank().is_some_and(|r| r < rank))
        .collect()
    }
}

/// What an invocation did with a message: the state it left, or nothing because the message
/// was claimed or sent already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "lowercase")]
pub enum DeliveryOutcome {
    Sent,
    Deduplicated,
    Expired,
    Suppressed,
    Failed,
}

impl DeliveryOutcome {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// One message to deliver, as the rules see it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub channel: Channel,
    pub kind: Kind,
    /// `delivery#<key>`: a hash of what makes two callbacks the same message.
    pub key: String,
    /// What the record and the logs show of the recipient.
    pub masked_recipient: String,
    /// What the message is billed as: an SMS's parts, an e-mail's recipients (To and every
    /// Cc). The limits of [`Weight::Billed`] count this many, less the Cc addresses left out.
    pub billed: u32,
    /// A reason to record the delivery `suppressed` before anything else, e.g. a country
    /// outside the allowed list.
    pub suppress: Option<&'static str>,
    /// The hourly limits the message counts against, in the order they are taken: the
    /// recipients', then the session's, then the deployment's budget.
    pub limits: Vec<Limit>,
    /// Cc entries that were no address and were left out, masked: on the record as
    /// `ccDropped`.
    pub dropped_cc: Vec<String>,
}

/// One hourly limit a message counts against: at most `per_hour` of what it counts in any 60
/// minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// What is counted: a recipient's one-way tag, a session's, or the deployment's budget.
    pub scope: String,
    pub per_hour: u32,
    pub over: OverLimit,
    pub weight: Weight,
}

/// What one message counts for against a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    /// One: an e-mail against one address's limit.
    One,
    /// What it is billed as ([`Delivery::billed`]): SMS parts, e-mail recipients.
    Billed,
}

/// What happens to a message over one of its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    /// It is not sent, and recorded `suppressed` with this reason.
    Suppress(&'static str),
    /// It is sent without the Cc address at this index.
    DropCc(usize),
}

/// Why a message over the deployment's budget of its kind is not sent.
pub const BUDGET_EXHAUSTED: &str = "budget-exhausted";
pub const LINK_BUDGET_EXHAUSTED: &str = "link-budget-exhausted";

impl Limit {
    /// A recipient's limit: `channel` and the number or mailbox, hashed, so the table holds no
    /// recipient in clear.
    pub fn recipient(
        channel: Channel,
        recipient: &str,
        per_hour: u32,
        over: OverLimit,
        weight: Weight,
    ) -> Self {
        Self {
            scope: format!(
                "{}#{}",
                channel.name(),
                digest_key(&[channel.name(), recipient])
            ),
            per_hour,
            over,
            weight,
        }
    }

    /// A session's limit on a channel, whatever the recipients: in what its messages are
    /// billed as.
    pub fn session(channel: Channel, session: &str, per_hour: u32) -> Self {
        Self {
            scope: format!(
                "{}-session#{}",
                channel.name(),
                digest_key(&["session", session])
            ),
            per_hour,
            over: OverLimit::Suppress("session-rate-limited"),
            weight: Weight::Billed,
        }
    }

    /// The deployment's budget on a channel for one kind of message, across every recipient
    /// and session, in what the messages are billed as. OTPs and session links have a budget
    /// each, so a flood of links cannot spend what the OTPs need.
    pub fn budget(channel: Channel, kind: Kind, per_hour: u32) -> Self {
        let (scope, reason) = match kind {
            Kind::OneTimePassword => (format!("{}-budget", channel.name()), BUDGET_EXHAUSTED),
            Kind::SessionLink => (
                format!("{}-link-budget", channel.name()),
                LINK_BUDGET_EXHAUSTED,
            ),
        };
        Self {
            scope,
            per_hour,
            over: OverLimit::Suppress(reason),
            weight: Weight::Billed,
        }
    }
}

/// The hex SHA-256 of `parts`, NUL-separated (no validated field holds a NUL), cut to 128 bits.
pub fn digest_key(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn receipts_move_a_sent_message_forward_only() {
        use DeliveryState::*;
        assert_eq!(Delayed.moved_from(), vec![Sent]);
        assert_eq!(Delivered.moved_from(), vec![Sent, Delayed]);
        assert_eq!(Bounced.moved_from(), vec![Sent, Delayed, Delivered]);
        assert_eq!(Failed.moved_from(), vec![Sent, Delayed, Delivered]);
        assert_eq!(
            Complained.moved_from(),
            vec![Sent, Delayed, Delivered, Bounced, Failed]
        );
        // Nothing moves a message that was never sent, and no receipt makes one `sent`.
        for state in [Pending, Retrying, Suppressed, Expired] {
            assert!(state.moved_from().is_empty());
            assert!(!Complained.moved_from().contains(&state));
        }
        assert!(Sent.moved_from().is_empty());
    }

    use super::*;

    #[test]
    fn keys_separate_their_parts() {
        assert_eq!(digest_key(&["ab", "c"]).len(), 32);
        assert_ne!(digest_key(&["ab", "c"]), digest_key(&["a", "bc"]));
        assert_eq!(digest_key(&["a", "b"]), digest_key(&["a", "b"]));
    }

    #[test]
    fn names_as_stored_and_logged() {
        assert_eq!(
            [Channel::Sms.name(), Channel::Email.name()],
            ["sms", "email"]
        );
        assert_eq!(
            [Kind::OneTimePassword.name(), Kind::SessionLink.name()],
            ["otp", "link"]
        );
        assert_eq!(DeliveryState::Pending.name(), "pending");
        assert_eq!(DeliveryState::Complained.name(), "complained");
        assert_eq!(DeliveryOutcome::Deduplicated.name(), "deduplicated");
    }

    #[test]
    fn otps_and_links_have_a_budget_each() {
        let otp = Limit::budget(Channel::Sms, Kind::OneTimePassword, 200);
        let link = Limit::budget(Channel::Sms, Kind::SessionLink, 50);
        assert_eq!(
            (otp.scope.as_str(), otp.over),
            ("sms-budget", OverLimit::Suppress("budget-exhausted"))
        );
        assert_eq!(
            (link.scope.as_str(), link.over),
            (
                "sms-link-budget",
                OverLimit::Suppress("link-budget-exhausted")
            )
        );
        assert_ne!(
            Limit::budget(Channel::Email, Kind::OneTimePassword, 1).scope,
            otp.scope
        );
    }

    #[test]
    fn rules_from_the_environment() {
        let env = |name: &str| (name == "OTP_MAX_AGE_SECONDS").then(|| "120".to_owned());
        let rules = DeliveryRules::from_lookup(&env).unwrap();
        assert_eq!(rules.otp_max_age, Duration::from_secs(120));
        assert_eq!(rules.dedupe_window, Duration::from_secs(600));
        let bad = |_: &str| Some("soon".to_owned());
        assert!(DeliveryRules::from_lookup(&bad).is_err());
    }

    #[test]
    fn rules_out_of_bounds_stop_the_start_naming_the_variable() {
        for (name, value) in [
            ("CLAIM_LEASE_SECONDS", "5"),
            ("CLAIM_LEASE_SECONDS", "0"),
            ("CLAIM_LEASE_SECONDS", "901"),
            ("DEDUPE_WINDOW_SECONDS", "0"),
            ("DEDUPE_WINDOW_SECONDS", "604800"),
            ("OTP_MAX_AGE_SECONDS", "86400"),
            ("OTP_MAX_AGE_SECONDS", "-1"),
        ] {
            let env = |n: &str| (n == name).then(|| value.to_owned());
            let error = DeliveryRules::from_lookup(&env).unwrap_err();
            assert_eq!(error.name, name, "{value}");
        }
        let edge = |n: &str| match n {
            "CLAIM_LEASE_SECONDS" => Some("900".to_owned()),
            "DEDUPE_WINDOW_SECONDS" => Some("60".to_owned()),
            "OTP_MAX_AGE_SECONDS" => Some("30".to_owned()),
            _ => None,
        };
        let rules = DeliveryRules::from_lookup(&edge).unwrap();
        assert_eq!(rules.claim_lease, Duration::from_secs(900));
        assert_eq!(
            DeliveryRules::from_lookup(
                &|n: &str| (n == "CLAIM_LEASE_SECONDS").then(|| "5".to_owned())
            )
            .unwrap_err()
            .to_string(),
            "environment variable CLAIM_LEASE_SECONDS is invalid: must be 30 to 900"
        );
    }
}
