//! Authentication of a callback by its `callbackApiKey`.

use std::borrow::Cow;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::AuthError;

/// The secret is not the JSON the template writes, `{"current": "...", "previous": "..."}`.
/// The message never quotes the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the callback key secret is not {{\"current\": \"...\", \"previous\": \"...\"}}")]
pub struct SecretFormatError;

/// What a body carries as `callbackApiKey`.
/// An escaped JSON string is compared unescaped, so the text may be a copy.
#[derive(Clone, PartialEq, Eq)]
pub enum PresentedKey<'a> {
    Absent,
    NotAString,
    Text(Cow<'a, str>),
}

impl std::fmt::Debug for PresentedKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PresentedKey::Absent => "Absent",
            PresentedKey::NotAString => "NotAString",
            PresentedKey::Text(_) => "Text(..)",
        })
    }
}

/// The keys a callback may carry: the current one and, during a rotation, the previous one.
///
/// Only SHA-256 digests are kept and compared, in constant time: the comparison takes the same
/// time whatever the presented key's length or how much of it matches, and the keys themselves
/// are not kept in memory after start-up.
#[derive(Clone)]
pub struct CallbackKeys {
    current: Option<[u8; 32]>,
    previous: Option<[u8; 32]>,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// An empty key is no key: it must never let an empty `callbackApiKey` through.
fn configured(key: Option<&str>) -> Option<[u8; 32]> {
    key.filter(|k| !k.is_empty()).map(digest)
}

impl CallbackKeys {
    pub fn new(current: Option<&str>, previous: Option<&str>) -> Self {
        let current = configured(current);
        // A previous key alone would make rotation the only way in: without a current key
        // the function refuses everything.
        let previous = current.and(configured(previous));
        Self { current, previous }
    }

    /// The keys from the stack's Secrets Manager secret, JSON as the template writes it:
    /// `{"current": "...", "previous": "..."}`, `previous` optional, empty or null. Any other
    /// text is refused, never read as a key: a secret overwritten by mistake with a note or a
    /// half-pasted value must not replace the working keys.
    pub fn from_secret(text: &str) -> Result<Self, SecretFormatError> {
        let trimmed = text.trim();
        // An object: serde would also read the struct from an array.
        if !trimmed.starts_with('{') {
            return Err(SecretFormatError);
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Rotating {
            current: String,
            #[serde(default)]
            previous: Option<String>,
        }
        let keys: Rotating = serde_json::from_str(trimmed).map_err(|_| SecretFormatError)?;
        Ok(Self::new(Some(&keys.current), keys.previous.as_deref()))
    }

    pub fn is_configured(&self) -> bool {
        self.current.is_some()
    }

    pub fn has_previous(&self) -> bool {
        self.previous.is_some()
    }

    pub fn verify(&self, presented: &PresentedKey<'_>) -> Result<(), AuthError> {
        let Some(current) = self.current else {
            return Err(AuthError::NotConfigured);
        };
        let presented = match presented {
            PresentedKey::Absent => return Err(AuthError::Missing),
            PresentedKey::NotAString => return Err(AuthError::NotAString),
            PresentedKey::Text(key) => digest(key),
        };
        // Both comparisons always run, so timing does not tell which key matched.
        let matches_current = presented.ct_eq(&current);
        let matches_previous = presented.ct_eq(&self.previous.unwrap_or(current));
        if bool::from(matches_current | matches_previous) {
            Ok(())
        } else {
            Err(AuthError::Wrong)
        }
    }
}

impl std::fmt::Debug for CallbackKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackKeys")
            .field("configured", &self.is_configured())
            .field("previous", &self.has_previous())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PresentedKey::*;

    fn text(s: &str) -> PresentedKey<'_> {
        Text(Cow::Borrowed(s))
    }

    fn keys() -> CallbackKeys {
        CallbackKeys::new(Some("current-key-123"), Some("previous-key-456"))
    }

    #[test]
    fn current_and_previous_pass() {
        assert_eq!(keys().verify(&text("current-key-123")), Ok(()));
        assert_eq!(keys().verify(&text("previous-key-456")), Ok(()));
    }

    #[test]
    fn everything_else_fails() {
        let k = keys();
        let cases = [
            (text("current-key-124"), AuthError::Wrong), // same length
            (text("current-key-1234"), AuthError::Wrong), // longer
            (text("current"), AuthError::Wrong),         // prefix
            (text(""), AuthError::Wrong),
            (text("CURRENT-KEY-123"), AuthError::Wrong), // case
            (text(" current-key-123"), AuthError::Wrong),
            (NotAString, AuthError::NotAString),
            (Absent, AuthError::Missing),
        ];
        for (presented, expected) in cases {
            assert_eq!(k.verify(&presented), Err(expected), "{presented:?}");
        }
    }

    #[test]
    fn previous_refused_once_cleared() {
        let k = CallbackKeys::new(Some("current-key-123"), None);
        assert_eq!(k.verify(&text("previous-key-456")), Err(AuthError::Wrong));
        assert_eq!(k.verify(&text("current-key-123")), Ok(()));
    }

    #[test]
    fn no_key_configured_refuses_everything() {
        for k in [
            CallbackKeys::new(None, None),
            CallbackKeys::new(Some(""), None),
            CallbackKeys::new(None, Some("previous-key-456")),
            CallbackKeys::new(Some(""), Some("")),
        ] {
            assert!(!k.is_configured());
            for presented in [text(""), text("previous-key-456"), Absent] {
                assert_eq!(k.verify(&presented), Err(AuthError::NotConfigured));
            }
        }
    }

    #[test]
    fn secret_as_the_template_writes_it_and_nothing_else() {
        let rotating = CallbackKeys::from_secret(
            r#"{"current": "current-key-123", "previous": "previous-key-456"}"#,
        )
        .unwrap();
        assert_eq!(rotating.verify(&text("current-key-123")), Ok(()));
        assert_eq!(rotating.verify(&text("previous-key-456")), Ok(()));

        let cleared =
            CallbackKeys::from_secret(r#"{"current": "current-key-123", "previous": null}"#)
                .unwrap();
        assert_eq!(
            cleared.verify(&text("previous-key-456")),
            Err(AuthError::Wrong)
        );

        let written =
            CallbackKeys::from_secret(r#"{"current":"current-key-123","previous":""}"#).unwrap();
        assert!(!written.has_previous());

        for bad in [
            r#"{"current": 5}"#,
            r#"{"previous": "x"}"#,
            r#"{"curent": "x"}"#,
            "{",
            // Text that is not the template's JSON is never a key.
            "current-key-123",
            "current-key-123\n",
            "  ",
            "",
            "\"current-key-123\"",
            "[\"current-key-123\"]",
        ] {
            assert_eq!(
                CallbackKeys::from_secret(bad).err(),
                Some(SecretFormatError),
                "{bad}"
            );
        }
        assert!(
            !CallbackKeys::from_secret(r#"{"current": ""}"#)
                .unwrap()
                .is_configured()
        );
    }

    #[test]
    fn debug_shows_no_key_material() {
        let shown = format!("{:?}", keys());
        assert!(
            !shown.contains("key-123") && !shown.contains("key-456"),
            "{shown}"
        );
    }
}
