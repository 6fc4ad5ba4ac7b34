//! The ingress's settings, read once per cold start.

use shared::Family;
use shared::config::{ConfigError, bounded, optional, required};
use shared::policy::{Limits, LinkPolicy};

/// The function each family's callbacks are handed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyFunctions {
    pub sms: String,
    pub email: String,
    pub session_status: String,
    pub video_call: String,
}

impl FamilyFunctions {
    pub fn for_family(&self, family: Family) -> &str {
        match family {
            Family::Sms => &self.sms,
            Family::Email => &self.email,
            Family::SessionStatus => &self.session_status,
            Family::VideoCall => &self.video_call,
        }
    }
}

/// Where the callback keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySetting {
    /// `CALLBACK_API_KEY_SECRET_ARN`: a Secrets Manager secret, as in AWS.
    Secret(String),
    /// `CALLBACK_API_KEY` and `CALLBACK_API_KEY_PREVIOUS`: for local runs.
    Environment {
        current: Option<String>,
        previous: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct IngressConfig {
    pub functions: FamilyFunctions,
    pub sessions_table: String,
    /// `RECORD_RETENTION_DAYS`: how long a stored unknown callback is kept.
    pub record_retention: std::time::Duration,
    pub keys: KeySetting,
    /// `CALLBACK_KEY_REFRESH_SECONDS`: how often the key secret is read again, so a rotation
    /// takes effect without a redeploy.
    pub key_refresh: std::time::Duration,
    pub links: LinkPolicy,
    pub limits: Limits,
}

impl IngressConfig {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let keys = match optional(lookup, "CALLBACK_API_KEY_SECRET_ARN") {
            Some(arn) => KeySetting::Secret(arn),
            None => KeySetting::Environment {
                current: optional(lookup, "CALLBACK_API_KEY"),
                previous: optional(lookup, "CALLBACK_API_KEY_PREVIOUS"),
            },
        };
        Ok(Self {
            functions: FamilyFunctions {
                sms: required(lookup, "SMS_FUNCTION_NAME")?,
                email: required(lookup, "EMAIL_FUNCTION_NAME")?,
                session_status: required(lookup, "SESSION_STATUS_FUNCTION_NAME")?,
                video_call: required(lookup, "VIDEO_CALL_FUNCTION_NAME")?,
            },
            sessions_table: required(lookup, "SESSIONS_TABLE")?,
            record_retention: shared::store::retention(lookup)?,
            keys,
            key_refresh: key_refresh(lookup)?,
            links: LinkPolicy::from_lookup(lookup)?,
            limits: Limits::from_lookup(lookup)?,
        })
    }
}

/// How often the key secret is re-read when `CALLBACK_KEY_REFRESH_SECONDS` is unset.
pub const DEFAULT_KEY_REFRESH_SECONDS: u64 = 300;

fn key_refresh(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<std::time::Duration, ConfigError> {
    // Below a second every callback would read the secret (and pay for it); above an hour a
    // rotation would wait longer than anyone expects.
    let seconds = bounded(
        lookup,
        "CALLBACK_KEY_REFRESH_SECONDS",
        DEFAULT_KEY_REFRESH_SECONDS,
        3600,
    )?;
    Ok(std::time::Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const BASE: &[(&str, &str)] = &[
        ("SMS_FUNCTION_NAME", "sms"),
        ("EMAIL_FUNCTION_NAME", "email"),
        ("SESSION_STATUS_FUNCTION_NAME", "session-status"),
        ("VIDEO_CALL_FUNCTION_NAME", "video-call"),
        ("SESSIONS_TABLE", "sessions"),
        ("CALLBACK_API_KEY", "k1"),
    ];

    #[test]
    fn reads_everything() {
        let c = IngressConfig::from_lookup(&lookup(BASE)).unwrap();
        assert_eq!(c.functions.for_family(Family::VideoCall), "video-call");
        assert_eq!(c.sessions_table, "sessions");
        assert_eq!(c.key_refresh.as_secs(), DEFAULT_KEY_REFRESH_SECONDS);
        assert_eq!(
            c.keys,
            KeySetting::Environment {
                current: Some("k1".into()),
                previous: None
            }
        );
    }

    #[test]
    fn the_secret_wins_over_environment_keys() {
        const WITH_SECRET: &[(&str, &str)] = &[
            ("SMS_FUNCTION_NAME", "sms"),
            ("EMAIL_FUNCTION_NAME", "email"),
            ("SESSION_STATUS_FUNCTION_NAME", "session-status"),
            ("VIDEO_CALL_FUNCTION_NAME", "video-call"),
            ("SESSIONS_TABLE", "sessions"),
            ("CALLBACK_API_KEY", "k1"),
            (
                "CALLBACK_API_KEY_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:k",
            ),
        ];
        let c = IngressConfig::from_lookup(&lookup(WITH_SECRET)).unwrap();
        assert!(matches!(c.keys, KeySetting::Secret(_)));
    }

    #[test]
    fn a_missing_function_name_is_named() {
        let err = IngressConfig::from_lookup(&lookup(&BASE[1..])).unwrap_err();
        assert_eq!(err.name, "SMS_FUNCTION_NAME");
    }

    #[test]
    fn the_key_refresh_is_bounded() {
        let with = |value: &'static str| {
            move |name: &str| {
                if name == "CALLBACK_KEY_REFRESH_SECONDS" {
                    Some(value.to_owned())
                } else {
                    lookup(BASE)(name)
                }
            }
        };
        let two = IngressConfig::from_lookup(&with("2")).unwrap();
        assert_eq!(two.key_refresh.as_secs(), 2);
        for bad in ["0", "3601", "soon"] {
            let err = IngressConfig::from_lookup(&with(bad)).unwrap_err();
            assert_eq!(err.name, "CALLBACK_KEY_REFRESH_SECONDS", "{bad}");
        }
    }
}
