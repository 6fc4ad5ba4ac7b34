//! What a log line may say about a recipient or a session. Every log line goes through these:
//! never a key, an OTP or message text, a full phone number, e-mail address or session id.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::fields::{EmailAddress, PhoneNumber};

/// `+995512345678` -> `+9955*****78`: the country and a little of the area stay readable for
/// support, the subscriber number does not. Always five stars, so the mask does not tell the
/// length either, and at least five digits stay hidden however short the number.
pub fn mask_phone(phone: &PhoneNumber) -> String {
    let digits = phone.digits();
    // A valid number has 8 to 15 digits, so the slices never overlap.
    let head = (digits.len() - 7).clamp(1, 4);
    format!("+{}*****{}", &digits[..head], &digits[digits.len() - 2..])
}

/// `john.doe@example.com` -> `j***@example.com`: the domain tells which provider bounced.
pub fn mask_email(address: &EmailAddress) -> String {
    let first = address.local_part().chars().next().unwrap_or('*');
    format!("{first}***@{}", address.domain())
}

/// A short, stable, one-way tag of a session id, so log lines of one session can be joined
/// without the id (the verification link's token) appearing anywhere. 48 bits: enough to tell
/// sessions apart in a log search, far too few to matter as a secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 6]);

impl Fingerprint {
    pub fn of(value: &str) -> Self {
        let digest = Sha256::digest(value.as_bytes());
        let mut out = [0u8; 6];
        out.copy_from_slice(&digest[..6]);
        Self(out)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::SessionId;

    #[test]
    fn phone_keeps_prefix_and_last_two_digits() {
        let p = PhoneNumber::parse("+995512345678").unwrap();
        assert_eq!(mask_phone(&p), "+9955*****78");
        let short = PhoneNumber::parse("+12345678").unwrap();
        assert_eq!(mask_phone(&short), "+1*****78");
        let long = PhoneNumber::parse("+123456789012345").unwrap();
        assert_eq!(mask_phone(&long), "+1234*****45");
    }

    #[test]
    fn email_keeps_first_letter_and_domain() {
        let a = EmailAddress::parse("john.doe@example.com").unwrap();
        assert_eq!(mask_email(&a), "j***@example.com");
    }

    #[test]
    fn fingerprint_is_stable_short_and_hides_the_id() {
        let id = "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp";
        let f = Fingerprint::of(id).to_string();
        assert_eq!(f.len(), 12);
        assert_eq!(f, Fingerprint::of(id).to_string());
        assert_ne!(f, Fingerprint::of("another-session").to_string());
        assert!(!id.contains(&f));
    }

    #[test]
    fn debug_of_sensitive_types_is_masked() {
        let id = SessionId::parse("ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp").unwrap();
        let p = PhoneNumber::parse("+995512345678").unwrap();
        let a = EmailAddress::parse("john.doe@example.com").unwrap();
        let all = format!("{id:?} {p:?} {a:?}");
        assert!(!all.contains("ku2a5ldv4i13go76"), "{all}");
        assert!(!all.contains("512345678"), "{all}");
        assert!(!all.contains("john.doe"), "{all}");
    }
}
