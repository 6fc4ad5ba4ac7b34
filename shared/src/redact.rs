//! What a log line may say about a recipient or a session. Every log line goes through these:
//! never a key, an OTP or message text, a full phone number, e-mail address or session id.

use std::fmt;

use sha2::{Digest, Sha256};

/// `+995512345678` -> `+9955*****78`: the country and a little of the area stay readable for
/// support, the subscriber number does not. Always five stars, so the mask does not tell the
/// length either, and at least five digits stay hidden however short the number. Anything that
/// is not 8 to 15 ASCII digits after the `+` shows nothing at all.
pub fn mask_phone(phone: &str) -> String {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return "+*****".to_owned();
    }
    // 8 to 15 digits, so the slices never overlap.
    let head = (digits.len() - 7).clamp(1, 4);
    format!("+{}*****{}", &digits[..head], &digits[digits.len() - 2..])
}

/// `john.doe@example.com` -> `j***@example.com`: the domain tells which provider bounced.
pub fn mask_email(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().unwrap_or('*');
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// An entry that was refused as an address (a Cc entry dropped, a refused `address`), as a
/// record may show it: masked like an address when it has an `@`, else only its length; one
/// line, printable, at most 80 characters however long it came.
pub fn mask_entry(entry: &str) -> String {
    let masked = match entry.contains('@') {
        true => mask_email(entry),
        false => format!("*** ({} chars)", entry.chars().count()),
    };
    printable(&masked, 80)
}

/// The shape of a refused value that is not an address: `+`, up to four leading digits (a
/// country code), then each digit as `#` and each letter as `x`; spaces and ASCII punctuation
/// stay, anything else is `?`. `+995 5xx 12` is `+995 #xx ##`: the operator sees why it was
/// refused (the spaces, the letters, a leading `00`), never the number.
pub fn shape(value: &str) -> String {
    let mut digits = 0usize;
    let shaped: String = value
        .chars()
        .map(|c| match c {
            '0'..='9' => {
                digits += 1;
                if digits <= 4 { c } else { '#' }
            }
            c if c.is_alphabetic() => 'x',
            c if c == ' ' || c.is_ascii_punctuation() => c,
            _ => '?',
        })
        .collect();
    printable(&shaped, 40)
}

/// `text` with each control and invisible format character as `?` (a bidirectional control
/// would reorder the record on the operator's screen), cut to `max` characters (`...` when
/// cut).
pub fn printable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            let hidden = c.is_control() || is_format_character(c);
            if hidden { '?' } else { c }
        })
        .take(max)
        .collect();
    if text.chars().nth(max).is_some() {
        out.push_str("...");
    }
    out
}

/// A Unicode format character (category Cf: the soft hyphen, zero-width characters,
/// bidirectional controls, the BOM): invisible on screen, yet it changes what is read.
pub fn is_format_character(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    !c.is_ascii() && c.general_category() == GeneralCategory::Format
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

    #[test]
    fn phone_keeps_prefix_and_last_two_digits() {
        assert_eq!(mask_phone("+995512345678"), "+9955*****78");
        assert_eq!(mask_phone("+12345678"), "+1*****78");
        assert_eq!(mask_phone("+123456789012345"), "+1234*****45");
        // Not a number the masks know: nothing of it is shown.
        for odd in ["+1234", "+99551234567890123", "+9955123é5678", ""] {
            assert_eq!(mask_phone(odd), "+*****", "{odd}");
        }
    }

    #[test]
    fn email_keeps_first_letter_and_domain() {
        assert_eq!(mask_email("john.doe@example.com"), "j***@example.com");
        assert_eq!(mask_email("no-at-sign"), "***");
    }

    #[test]
    fn refused_values_show_their_shape_not_their_digits() {
        assert_eq!(shape("+995 5xx 12 34"), "+995 5xx ## ##");
        assert_eq!(shape("00995512345678"), "0099##########");
        assert_eq!(shape("+９９５"), "+???");
        assert_eq!(mask_entry("not an address"), "*** (14 chars)");
        assert_eq!(mask_entry("john@@example.com"), "j***@example.com");
        assert_eq!(mask_entry(&format!("a@{}", "x".repeat(200))).len(), 83);
        assert_eq!(printable("a\u{0}b\nc\u{202E}", 10), "a?b?c?");
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
}
