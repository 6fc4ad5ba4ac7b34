//! Deployment settings read from the environment, with their defaults. Readers take a lookup
//! function so tests never touch the process environment.

use std::str::FromStr;

/// A setting that is present but unusable. The function refuses to start rather than run with a
/// value nobody meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name} is invalid: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

impl ConfigError {
    pub fn new(name: &'static str, reason: impl Into<String>) -> Self {
        Self {
            name,
            reason: reason.into(),
        }
    }
}

/// Reads `name` through `lookup` and parses it; unset or blank means `default`.
pub fn setting<T: FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match lookup(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::new(name, e.to_string())),
    }
}

/// Reads `name` as [`setting`] does, and refuses a value outside 1 to `max`: a setting that
/// bounds a rate, a retention or an interval is never zero and never unbounded.
pub fn bounded<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + From<u8> + Copy + std::fmt::Display,
    T::Err: std::fmt::Display,
{
    within(lookup, name, default, T::from(1)..=max)
}

/// Reads `name` as [`setting`] does, and refuses a value outside `range`.
pub fn within<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Copy + std::fmt::Display,
    T::Err: std::fmt::Display,
{
    let value = setting(lookup, name, default)?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            name,
            format!("must be {} to {}", range.start(), range.end()),
        ))
    }
}

/// `name`, trimmed; unset or blank is `None`.
pub fn optional(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `name`, trimmed; unset or blank is an error naming it.
pub fn required(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    optional(lookup, name).ok_or_else(|| ConfigError::new(name, "is required"))
}

/// `name`, trimmed, when it is one line of at most `max` characters (it goes into a header or
/// an HTML part); unset or blank is `None`.
pub fn one_line(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    max: usize,
) -> Result<Option<String>, ConfigError> {
    match optional(lookup, name) {
        Some(v)
            if v.chars().any(char::is_control)
                || crate::fields::has_format_character(&v)
                || v.chars().count() > max =>
        {
            Err(ConfigError::new(
                name,
                format!(
                    "must be one line of at most {max} characters, without invisible format characters"
                ),
            ))
        }
        v => Ok(v),
    }
}

/// The process environment as a lookup.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_line_setting_refuses_invisible_format_characters() {
        for value in ["Acme\u{202E}", "Ac\u{200B}me", "\u{FEFF}Acme", "Acme\u{AD}"] {
            let lookup = |n: &str| (n == "EMAIL_FROM_NAME").then(|| value.to_owned());
            let error = one_line(&lookup, "EMAIL_FROM_NAME", 64).unwrap_err();
            assert_eq!(error.name, "EMAIL_FROM_NAME");
        }
        let georgian = |n: &str| (n == "EMAIL_FROM_NAME").then(|| "ვერიფიკაცია".to_owned());
        assert!(one_line(&georgian, "EMAIL_FROM_NAME", 64).is_ok());
    }

    #[test]
    fn settings_default_when_unset_or_blank_and_name_what_is_wrong() {
        let env = |name: &str| match name {
            "BLANK" => Some("  ".to_owned()),
            "TEN" => Some(" 10 ".to_owned()),
            "WORD" => Some("ten".to_owned()),
            _ => None,
        };
        assert_eq!(setting(&env, "UNSET", 7u32), Ok(7));
        assert_eq!(setting(&env, "BLANK", 7u32), Ok(7));
        assert_eq!(setting(&env, "TEN", 7u32), Ok(10));
        assert_eq!(setting(&env, "WORD", 7u32).unwrap_err().name, "WORD");
        assert_eq!(optional(&env, "TEN").as_deref(), Some("10"));
        assert_eq!(optional(&env, "BLANK"), None);
        assert_eq!(
            required(&env, "BLANK"),
            Err(ConfigError::new("BLANK", "is required"))
        );
    }
}
