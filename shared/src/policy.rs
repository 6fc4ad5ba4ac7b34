//! What a deployment allows: where a session link may point, how large a body may be, and how
//! many messages a recipient may get in an hour. Each is read once from the environment at
//! start, and a value nobody meant stops the function there.

use crate::config::{ConfigError, bounded, setting, within};
use crate::error::InvalidField;
use crate::fields::{Problem, SessionId, SessionLink};

/// Which hosts a session link may point to. Links end up in SMS and e-mails sent in the
/// company's name, so a link elsewhere is refused rather than delivered. Cloning is a reference
/// count: the ingress hands a copy to every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPolicy {
    allowed_hosts: std::sync::Arc<[String]>,
}

impl Default for LinkPolicy {
    fn default() -> Self {
        Self::new(["widget.identomat.com"])
    }
}

impl LinkPolicy {
    pub const ENV: &'static str = "SESSION_LINK_HOSTS";

    pub fn new<S: AsRef<str>>(hosts: impl IntoIterator<Item = S>) -> Self {
        Self {
            allowed_hosts: hosts
                .into_iter()
                .map(|h| h.as_ref().trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        }
    }

    /// `SESSION_LINK_HOSTS`: comma-separated host names; unset means `widget.identomat.com`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        match lookup(Self::ENV).filter(|v| !v.trim().is_empty()) {
            None => Ok(Self::default()),
            Some(v) => {
                let policy = Self::new(v.split(','));
                match policy.allowed_hosts.iter().find(|h| !valid_host_name(h)) {
                    Some(bad) => Err(ConfigError::new(
                        Self::ENV,
                        format!("{bad:?} is not a host name"),
                    )),
                    None => Ok(policy),
                }
            }
        }
    }

    pub fn allowed_hosts(&self) -> &[String] {
        &self.allowed_hosts
    }

    /// The link points to an allowed host and any `session_token` it carries is the session's.
    pub fn check(&self, link: &SessionLink, session: &SessionId) -> Result<(), InvalidField> {
        if !self
            .allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(link.host()))
        {
            return Err(InvalidField::new("sessionLink", Problem::HostNotAllowed));
        }
        Self::check_token(link, session)
    }

    /// Every host `text` names (a URL, with or without a scheme, an address's domain, a bare
    /// domain: [`crate::links::hosts`]) is an allowed one. The OTP and link texts, subjects and
    /// contents go out from the company's number and domain: a foreign link in them is
    /// phishing in the company's name. `@widget.identomat.com #6867` (a WebOTP line) passes.
    pub fn check_text(&self, field: &'static str, text: &str) -> Result<(), InvalidField> {
        let allowed = |host: &String| self.allowed_hosts.iter().any(|h| h == host);
        match crate::links::hosts(text).iter().all(allowed) {
            true => Ok(()),
            false => Err(InvalidField::new(field, Problem::ForeignLink)),
        }
    }

    /// Any `session_token` the link carries is the session's: the part of [`Self::check`]
    /// that needs no deployment setting.
    pub fn check_token(link: &SessionLink, session: &SessionId) -> Result<(), InvalidField> {
        if link.tokens_match(session.as_str()) {
            Ok(())
        } else {
            Err(InvalidField::new("sessionLink", Problem::TokenMismatch))
        }
    }
}

fn valid_host_name(h: &str) -> bool {
    !h.is_empty()
        && h.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// What the ingress accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// The most SMS parts an OTP text may be billed as ([`crate::segments`]).
    pub sms_otp_max_parts: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            sms_otp_max_parts: 3,
        }
    }
}

impl Limits {
    /// `SMS_OTP_MAX_PARTS`: 1 to 10 parts. The default, 3, takes every real OTP: a code, a
    /// sentence or two of warning and a WebOTP line are 1 part in Latin letters and 2 in
    /// Georgian or Cyrillic (UCS-2: 70 characters in one part, 134 in two), and 3 leaves room
    /// for a long translation (201 UCS-2 characters, 459 GSM-7). A 1,600-byte text is 11.
    pub const SMS_OTP_MAX_PARTS: std::ops::RangeInclusive<u64> = 1..=10;

    /// `MAX_BODY_BYTES` (the largest body accepted; default 65536) and `SMS_OTP_MAX_PARTS`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let max_body_bytes = setting(lookup, "MAX_BODY_BYTES", d.max_body_bytes)?;
        if max_body_bytes == 0 {
            return Err(ConfigError::new("MAX_BODY_BYTES", "must be greater than 0"));
        }
        let parts = within(
            lookup,
            "SMS_OTP_MAX_PARTS",
            u64::from(d.sms_otp_max_parts),
            Self::SMS_OTP_MAX_PARTS,
        )?;
        Ok(Self {
            max_body_bytes,
            sms_otp_max_parts: u32::try_from(parts).unwrap_or(d.sms_otp_max_parts),
        })
    }
}

/// The most a per-recipient or per-session hourly limit may allow: more to one person or one
/// session in an hour is abuse, not verification.
pub const MAX_HOURLY_LIMIT: u32 = 100;
/// The most a deployment's hourly budget may allow.
pub const MAX_HOURLY_BUDGET: u32 = 100_000;

/// Reads a per-recipient or per-session hourly limit: 1 to [`MAX_HOURLY_LIMIT`].
pub fn hourly_limit(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    bounded(lookup, name, default, MAX_HOURLY_LIMIT)
}

/// Reads a deployment's hourly budget: 1 to [`MAX_HOURLY_BUDGET`].
pub fn hourly_budget(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    bounded(lookup, name, default, MAX_HOURLY_BUDGET)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn defaults_when_unset_or_blank() {
        assert_eq!(
            LinkPolicy::from_lookup(&env(&[])),
            Ok(LinkPolicy::default())
        );
        assert_eq!(
            LinkPolicy::from_lookup(&env(&[("SESSION_LINK_HOSTS", " ")])),
            Ok(LinkPolicy::default())
        );
        assert_eq!(
            Limits::from_lookup(&env(&[])).map(|l| l.max_body_bytes),
            Ok(65536)
        );
    }

    #[test]
    fn reads_hosts_and_limits() {
        let policy = LinkPolicy::from_lookup(&env(&[(
            "SESSION_LINK_HOSTS",
            "Widget.Identomat.com, verify.example.com",
        )]))
        .unwrap();
        assert_eq!(
            policy.allowed_hosts(),
            ["widget.identomat.com", "verify.example.com"]
        );
        let limits = Limits::from_lookup(&env(&[("MAX_BODY_BYTES", "1024")])).unwrap();
        assert_eq!((limits.max_body_bytes, limits.sms_otp_max_parts), (1024, 3));
        let limits = Limits::from_lookup(&env(&[("SMS_OTP_MAX_PARTS", "1")])).unwrap();
        assert_eq!(limits.sms_otp_max_parts, 1);
    }

    #[test]
    fn refuses_unusable_values() {
        assert!(LinkPolicy::from_lookup(&env(&[("SESSION_LINK_HOSTS", "https://x.com")])).is_err());
        assert!(Limits::from_lookup(&env(&[("MAX_BODY_BYTES", "lots")])).is_err());
        assert!(Limits::from_lookup(&env(&[("MAX_BODY_BYTES", "0")])).is_err());
        for parts in ["0", "11", "three"] {
            let error = Limits::from_lookup(&env(&[("SMS_OTP_MAX_PARTS", parts)])).unwrap_err();
            assert_eq!(error.name, "SMS_OTP_MAX_PARTS", "{parts}");
        }
    }

    #[test]
    fn texts_may_name_the_allowed_hosts_only() {
        let policy = LinkPolicy::new(["widget.identomat.com", "verify.example.com"]);
        for ok in [
            "Your code is 6867",
            "Your code is 6867\n\n@widget.identomat.com #6867",
            "Open https://widget.identomat.com/?session_token=abc",
            "Questions? https://verify.example.com/help",
        ] {
            assert_eq!(policy.check_text("text", ok), Ok(()), "{ok}");
        }
        for bad in [
            "Your code is 6867. Not you? evil.example/login",
            "https://widget.identomat.com.evil.com/",
            "Your code is 6867\n\n@evil.com #6867",
            "Reply to security@evil.com",
            "Not you? Call evil.com",
            "Open sub.widget.identomat.com",
        ] {
            let error = policy.check_text("content", bad).unwrap_err();
            assert_eq!(
                (error.field, error.problem),
                ("content", Problem::ForeignLink),
                "{bad}"
            );
        }
    }

    #[test]
    fn link_policy_checks_host_and_token() {
        let policy = LinkPolicy::default();
        let session = SessionId::parse("abc123").unwrap();
        let ok = |s: &str| SessionLink::parse(s).unwrap();
        assert_eq!(
            policy.check(
                &ok("https://widget.identomat.com/?session_token=abc123"),
                &session
            ),
            Ok(())
        );
        assert_eq!(
            policy.check(&ok("https://WIDGET.identomat.com/x"), &session),
            Ok(())
        );
        let problem = |link: &str| policy.check(&ok(link), &session).unwrap_err().problem;
        assert_eq!(
            problem("https://evil.example.com/?session_token=abc123"),
            Problem::HostNotAllowed
        );
        assert_eq!(
            problem("https://widget.identomat.com.evil.com/"),
            Problem::HostNotAllowed
        );
        // A look-alike host in punycode never equals the ASCII one.
        assert_eq!(
            problem("https://xn--wdget-k0a.identomat.com/"),
            Problem::HostNotAllowed
        );
        assert_eq!(
            problem("https://widget.identomat.com/?session_token=other"),
            Problem::TokenMismatch
        );
        assert_eq!(
            SessionLink::parse(
                "https://widget.identomat.com/?session_token=abc123&session_token=other"
            ),
            Err(Problem::TokenRepeated)
        );
    }
}
