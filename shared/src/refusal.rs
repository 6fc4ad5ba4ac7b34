//! What is kept of an authenticated callback refused for a field (422), so that an operator
//! can answer "the customer says no code came: what happened?": its type, its session, the
//! field and the rule it broke, and every other field masked as a delivery record masks a
//! recipient. Never the key, an OTP or message text, or a link's token.

use serde_json::value::RawValue;

use crate::callback::{Callback, open_value};
use crate::error::InvalidField;
use crate::fields::{EmailAddress, PhoneNumber, Problem, SessionId, SessionLink};
use crate::parse::{BodyFields, KEY_FIELD};
use crate::redact;

/// A refused callback, as its `rejected#` record and its event show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedCallback {
    /// The `type`, when it is one this version knows; an unknown or invalid one is only in
    /// [`Self::fields`], bounded.
    pub type_name: Option<&'static str>,
    /// The session, when `sessionId` is valid; else the record goes under `unknown`.
    pub session_id: Option<SessionId>,
    pub field: &'static str,
    pub problem: Problem,
    /// For a text naming hosts not allowed: those hosts, so the operator can tell a phishing
    /// attempt from the company's own domain missing from `SESSION_LINK_HOSTS`.
    pub foreign_hosts: Vec<String>,
    /// Every field but the key, by name, masked.
    pub fields: Vec<(String, String)>,
}

impl RefusedCallback {
    /// What to keep of `body`, refused with `invalid` after its key was verified.
    pub fn of(body: &[u8], invalid: InvalidField, allowed_hosts: &[String]) -> Self {
        let Ok(fields) = BodyFields::parse(body) else {
            // Unreachable: a body is refused for a field only after it was read.
            return Self::bare(invalid);
        };
        let text = |name: &str| {
            fields
                .entries()
                .find(|(k, _)| *k == name)
                .and_then(|(_, v)| serde_json::from_str::<String>(v.get()).ok())
        };
        let type_name = text("type").and_then(|t| {
            Callback::TYPE_NAMES
                .iter()
                .chain(["one-time-password"].iter())
                .find(|known| **known == t)
                .copied()
        });
        let session_id = text("sessionId").and_then(|s| SessionId::parse(&s).ok());
        let foreign_hosts = match invalid.problem {
            Problem::ForeignLink => text(invalid.field)
                .map(|t| crate::links::hosts(&t))
                .unwrap_or_default()
                .into_iter()
                .filter(|h| !allowed_hosts.contains(h))
                .map(|h| redact::printable(&h, 64))
                .take(10)
                .collect(),
            _ => Vec::new(),
        };
        let fields = fields
            .entries()
            .filter(|(name, _)| *name != KEY_FIELD)
            .map(|(name, raw)| (redact::printable(name, 64), mask(name, raw)))
            .collect();
        Self {
            type_name,
            session_id,
            field: invalid.field,
            problem: invalid.problem,
            foreign_hosts,
            fields,
        }
    }

    fn bare(invalid: InvalidField) -> Self {
        Self {
            type_name: None,
            session_id: None,
            field: invalid.field,
            problem: invalid.problem,
            foreign_hosts: Vec::new(),
            fields: Vec::new(),
        }
    }

    /// The rule in the words the 422 answer gives.
    pub fn rule(&self) -> String {
        self.problem.to_string()
    }
}

/// A field's value as a record may hold it.
fn mask(name: &str, raw: &RawValue) -> String {
    let value: serde_json::Value = match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        Err(_) => return "(too deeply nested)".to_owned(),
    };
    let text = match value {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => return "null".to_owned(),
        serde_json::Value::Bool(_) => return "(a boolean)".to_owned(),
        serde_json::Value::Number(_) => return "(a number)".to_owned(),
        serde_json::Value::Array(a) => return format!("(an array of {})", a.len()),
        serde_json::Value::Object(o) => return format!("(an object of {} fields)", o.len()),
    };
    let chars = text.chars().count();
    match name {
        "sessionId" => match SessionId::parse(&text) {
            Ok(id) => format!("(session {})", id.fingerprint()),
            Err(_) => format!("({chars} chars, {})", redact::Fingerprint::of(&text)),
        },
        "phoneNumber" => match PhoneNumber::parse(&text) {
            Ok(p) => redact::mask_phone(p.as_str()),
            Err(_) => redact::shape(&text),
        },
        "address" | "createdBy" => match EmailAddress::parse(&text) {
            Ok(a) => redact::mask_email(a.as_str()),
            Err(_) => redact::mask_entry(&text),
        },
        "cc" => text
            .split([',', ';'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .take(50)
            .map(|e| match EmailAddress::parse(e) {
                Ok(a) => redact::mask_email(a.as_str()),
                Err(_) => redact::mask_entry(e),
            })
            .collect::<Vec<_>>()
            .join(", "),
        // A text may be the OTP: its length and the invisible characters it holds, nothing
        // of what it says.
        "text" | "content" | "subject" => {
            let hidden: Vec<String> = text
                .chars()
                .filter(|c| {
                    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
                        || redact::is_format_character(*c)
                })
                .map(|c| format!("U+{:04X}", u32::from(c)))
                .take(5)
                .collect();
            match hidden.is_empty() {
                true => format!("({chars} chars)"),
                false => format!("({chars} chars, holding {})", hidden.join(" ")),
            }
        }
        // The query holds the token: the scheme and host only.
        "sessionLink" => match SessionLink::parse(&text) {
            Ok(link) => format!("https://{}/..", link.host()),
            Err(_) => {
                let end = text
                    .find("://")
                    .map(|at| at + 3)
                    .and_then(|from| text[from..].find(['/', '?', '#']).map(|e| e + from))
                    .unwrap_or(text.len().min(40));
                let head = text.get(..end).unwrap_or_default();
                format!("{}.. ({chars} chars)", redact::printable(head, 64))
            }
        },
        // The platform's identifiers and statuses: no personal data, shown when bounded.
        _ if open_value(&text).is_ok() => text,
        _ => format!("({chars} chars)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(body: serde_json::Value, field: &'static str, problem: Problem) -> RefusedCallback {
        let bytes = serde_json::to_vec(&body).unwrap();
        RefusedCallback::of(
            &bytes,
            InvalidField::new(field, problem),
            &["widget.identomat.com".to_owned()],
        )
    }

    #[test]
    fn a_refused_otp_keeps_its_shape_never_the_number_text_or_key() {
        let r = refused(
            json!({"callbackApiKey": "secret-key-1234", "type": "one-time-password-request",
                   "sessionId": "wwb83rh1se22wd81z0tx8bqlerljq5kgf6rxem1q",
                   "text": "Your code is 6867", "phoneNumber": "+995 5xx 12 34 56"}),
            "phoneNumber",
            Problem::PhoneLetters,
        );
        assert_eq!(r.type_name, Some("one-time-password-request"));
        assert!(r.session_id.is_some());
        let all = format!("{:?}", r.fields);
        for secret in ["secret-key", "6867", "12 34 56", "wwb83rh1"] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
        let field = |n: &str| r.fields.iter().find(|(k, _)| k == n).unwrap().1.clone();
        assert_eq!(field("phoneNumber"), "+995 5xx ## ## ##");
        assert_eq!(field("text"), "(17 chars)");
        assert!(!r.fields.iter().any(|(k, _)| k == "callbackApiKey"));
    }

    #[test]
    fn an_invalid_session_id_and_a_foreign_host_are_shown_as_an_operator_needs() {
        let r = refused(
            json!({"type": "share-session-link-via-email", "sessionId": "bad id!",
                   "address": " John@Example.com ", "subject": "Hi\u{200B}",
                   "content": "Questions? support@acme.ge",
                   "sessionLink": "https://evil.example/?session_token=abc", "cc": "x@y.com, nope"}),
            "content",
            Problem::ForeignLink,
        );
        assert_eq!(r.session_id, None);
        assert_eq!(r.foreign_hosts, ["acme.ge"]);
        let field = |n: &str| r.fields.iter().find(|(k, _)| k == n).unwrap().1.clone();
        assert!(field("sessionId").starts_with("(7 chars, "));
        assert_eq!(field("address"), "J***@Example.com");
        assert_eq!(field("subject"), "(3 chars, holding U+200B)");
        assert_eq!(field("sessionLink"), "https://evil.example/..");
        assert_eq!(field("cc"), "x***@y.com, *** (4 chars)");
        assert_eq!(
            r.rule(),
            "names a link or domain that is not in SESSION_LINK_HOSTS"
        );
    }
}
