//! Validated field types. Each can only hold a value that passed its rule, so code that holds
//! one never checks again. `Debug` prints a masked form: a value that slips into a log line by
//! accident leaks nothing.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::redact;

/// Why a field's value was refused. The text names the rule, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum Problem {
    #[error("is required")]
    Missing,
    #[error("must be a string")]
    NotAString,
    #[error("must be a string or null")]
    NotAStringOrNull,
    #[error("must not be empty")]
    Empty,
    #[error("is too long")]
    TooLong,
    #[error("must not contain control characters")]
    ControlCharacter,
    #[error("must not contain a line break")]
    LineBreak,
    #[error("must be an E.164 number: '+', a first digit 1-9, 8 to 15 digits in all")]
    NotE164,
    #[error("must hold digits only, not letters")]
    PhoneLetters,
    #[error("must begin with '+' and the country code, not an international prefix such as 00")]
    PhoneInternationalPrefix,
    #[error("must begin with '+' and the country code")]
    PhoneWithoutPlus,
    #[error(
        "must not contain invisible format characters (soft hyphen, zero-width or bidirectional controls)"
    )]
    FormatCharacter,
    #[error("is too long: with the session link appended, the SMS would pass 1600 bytes")]
    TooLongWithLink,
    #[error("is not a valid e-mail address")]
    NotAnEmailAddress,
    #[error("holds too many addresses")]
    TooManyAddresses,
    #[error("may only hold A-Z, a-z, 0-9, '_' and '-'")]
    BadIdCharacter,
    #[error("may only hold A-Z, a-z, 0-9, '_', '-', '.' and ':'")]
    BadRoomIdCharacter,
    #[error("may only hold A-Z, a-z, 0-9, '_', '-', '.' and ':'")]
    BadVideoFileIdCharacter,
    #[error("is not a valid URL")]
    NotAUrl,
    #[error("must use https")]
    NotHttps,
    #[error("must not carry credentials or a port")]
    UrlCredentialsOrPort,
    #[error("points to a host that is not allowed")]
    HostNotAllowed,
    #[error("names a link or domain that is not in SESSION_LINK_HOSTS")]
    ForeignLink,
    #[error("would be billed as more SMS parts than SMS_OTP_MAX_PARTS allows")]
    TooManyParts,
    #[error("carries a session_token that does not match sessionId")]
    TokenMismatch,
    #[error("carries session_token more than once")]
    TokenRepeated,
    #[error("carries a session_token in its fragment")]
    TokenInFragment,
}

/// Generates the serde glue for a string newtype whose `parse` enforces its rule, so data read
/// back from an envelope is held to the same rule as data read from the platform.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        string_newtype!(@serde $name);
    };
    (@serde $name:ident) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $name::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use string_newtype;

impl Problem {
    /// A short, stable tag of the rule, for records and events.
    pub fn code(self) -> &'static str {
        self.into()
    }
}

/// Unicode format characters (category Cf: the soft hyphen, zero-width characters,
/// bidirectional controls, the BOM): invisible on screen, they hide a host from the link check
/// (`evil\u{200B}.com`) and reorder what the recipient reads. Refused in every text that is sent.
pub fn has_format_character(s: &str) -> bool {
    s.chars().any(redact::is_format_character)
}

/// C0 controls and DEL, except the tab and line breaks a message body may hold.
fn has_control(s: &str, allow_line_breaks: bool) -> bool {
    s.chars().any(|c| match c {
        '\t' => false,
        '\n' | '\r' => !allow_line_breaks,
        // U+2028/2029 act as line breaks in some mail and SMS clients.
        '\u{2028}' | '\u{2029}' => !allow_line_breaks,
        c => c.is_control(),
    })
}

/// A phone number in E.164 form: `+`, a first digit 1-9, 8 to 15 digits in all.
///
/// What people and platforms write is normalised first: whitespace around the number is
/// trimmed, and spaces, dashes, dots and parentheses between its digits are dropped
/// (`+995 (551) 23-45.67` is `+995551234567`). Letters, an international prefix (`00`) and a
/// number without `+` are refused, each with its own rule: guessing a country is not ours to do.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Longer than any spelling of a 15-digit number with separators.
    const MAX_RAW_BYTES: usize = 40;

    pub fn parse(raw: &str) -> Result<Self, Problem> {
        let raw = raw.trim();
        if raw.chars().any(char::is_alphabetic) {
            return Err(Problem::PhoneLetters);
        }
        let Some(rest) = raw.strip_prefix('+') else {
            return Err(match raw.starts_with("00") {
                true => Problem::PhoneInternationalPrefix,
                false => Problem::PhoneWithoutPlus,
            });
        };
        if raw.len() > Self::MAX_RAW_BYTES {
            return Err(Problem::NotE164);
        }
        let mut digits = String::with_capacity(15);
        let mut in_group = false;
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                // Separators only after the first digit, and a group opened once at a time.
                ' ' | '-' | '.' if !digits.is_empty() => {}
                '(' if !in_group => in_group = true,
                ')' if in_group && !digits.is_empty() => in_group = false,
                _ => return Err(Problem::NotE164),
            }
        }
        let ends_in_digit = rest.ends_with(|c: char| c.is_ascii_digit());
        let ok = ends_in_digit
            && !in_group
            && (8..=15).contains(&digits.len())
            && !digits.starts_with('0');
        if ok {
            Ok(Self(format!("+{digits}")))
        } else {
            Err(Problem::NotE164)
        }
    }

    /// The digits after `+`, used to match calling codes.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}
string_newtype!(PhoneNumber);

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact::mask_phone(&self.0))
    }
}

/// An e-mail address of the common form `local@domain.tld`: ASCII, no quoting, no comments,
/// no IP literals. Narrower than RFC 5321 on purpose: nothing in it can break a mail header.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    const MAX_LEN: usize = 254;

    /// Whitespace around the address is trimmed (a pasted address often carries some).
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        let raw = raw.trim();
        if raw.len() > Self::MAX_LEN {
            return Err(Problem::TooLong);
        }
        let (local, domain) = raw.split_once('@').ok_or(Problem::NotAnEmailAddress)?;
        if valid_local_part(local) && valid_domain(domain) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Problem::NotAnEmailAddress)
        }
    }

    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or("", |(l, _)| l)
    }

    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, d)| d)
    }

    /// The mailbox the address delivers to, as the limits count it: lower case, the `+tag`
    /// of the local part removed (subaddressing, which Gmail, Outlook, iCloud, Fastmail and
    /// most servers deliver to the same mailbox), and for Gmail, which ignores them, the dots
    /// of the local part too (`googlemail.com` is `gmail.com`). Collapsing two mailboxes that
    /// differ only so only makes a limit stricter; never collapsing them let one inbox get a
    /// limit's worth per spelling.
    pub fn mailbox(&self) -> String {
        let local = self.local_part().to_ascii_lowercase();
        let mut domain = self.domain().to_ascii_lowercase();
        let mut local = match local.split_once('+') {
            Some((base, _)) if !base.is_empty() => base.to_owned(),
            _ => local,
        };
        if domain == "googlemail.com" {
            domain = "gmail.com".to_owned();
        }
        if domain == "gmail.com" {
            local.retain(|c| c != '.');
        }
        format!("{local}@{domain}")
    }
}
string_newtype!(EmailAddress);

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact::mask_email(&self.0))
    }
}

fn valid_local_part(local: &str) -> bool {
    // RFC 5322 dot-atom text.
    const SPECIALS: &[u8] = b"!#$%&'*+/=?^_`{|}~-";
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || SPECIALS.contains(&b))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let tld_ok = labels.last().is_some_and(|tld| {
        tld.len() >= 2 && (tld.bytes().all(|b| b.is_ascii_alphabetic()) || tld.starts_with("xn--"))
    });
    domain.len() <= 253 && labels.len() >= 2 && labels.iter().all(label_ok) && tld_ok
}

/// The Cc of a session-link e-mail: the platform sends one string that may hold several
/// addresses separated by commas or semicolons. An entry that is no address is dropped, not
/// the whole e-mail: the To and the valid Cc addresses still get it, and the entry, masked,
/// is kept ([`CcList::dropped`]) for the delivery record.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CcList {
    addresses: Vec<EmailAddress>,
    dropped: Vec<String>,
}

impl CcList {
    /// SES accepts 50 recipients per message, one of which is the To.
    pub const MAX: usize = 49;

    pub fn parse(raw: &str) -> Result<Self, Problem> {
        let mut addresses = Vec::new();
        let mut dropped = Vec::new();
        for entry in raw
            .split([',', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            match EmailAddress::parse(entry) {
                Ok(address) => addresses.push(address),
                Err(_) => dropped.push(redact::mask_entry(entry)),
            }
        }
        if dropped.len() > Self::MAX {
            return Err(Problem::TooManyAddresses);
        }
        let mut list = Self::from_addresses(addresses)?;
        list.dropped = dropped;
        Ok(list)
    }

    pub fn from_addresses(addresses: Vec<EmailAddress>) -> Result<Self, Problem> {
        if addresses.len() > Self::MAX {
            return Err(Problem::TooManyAddresses);
        }
        Ok(Self {
            addresses,
            dropped: Vec::new(),
        })
    }

    /// The same addresses, with the dropped entries (masked) an envelope carries.
    pub fn with_dropped(mut self, dropped: Vec<String>) -> Self {
        self.dropped = dropped;
        self
    }

    pub fn addresses(&self) -> &[EmailAddress] {
        &self.addresses
    }

    /// The entries that were no address, masked as a delivery record masks a recipient.
    pub fn dropped(&self) -> &[String] {
        &self.dropped
    }

    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }
}

impl fmt::Debug for CcList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.addresses).finish()
    }
}

impl Serialize for CcList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.addresses.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CcList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let addresses = Vec::<EmailAddress>::deserialize(d)?;
        Self::from_addresses(addresses).map_err(serde::de::Error::custom)
    }
}

/// Validation shared by identifiers: non-empty, at most 128 characters from a small set.
fn identifier(raw: &str, allowed: fn(u8) -> bool, bad: Problem) -> Result<String, Problem> {
    if raw.is_empty() {
        Err(Problem::Empty)
    } else if raw.len() > 128 {
        Err(Problem::TooLong)
    } else if !raw.bytes().all(allowed) {
        Err(bad)
    } else {
        Ok(raw.to_owned())
    }
}

/// A verification session's id. It is also the `session_token` of the session link, so it is a
/// credential: it is never logged, only its [`redact::Fingerprint`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        identifier(
            raw,
            |b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-',
            Problem::BadIdCharacter,
        )
        .map(Self)
    }

    pub fn fingerprint(&self) -> redact::Fingerprint {
        redact::Fingerprint::of(&self.0)
    }
}
string_newtype!(SessionId);

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.fingerprint())
    }
}

/// A video room id (a Twilio room SID in practice); part of a DynamoDB sort key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomId(String);

impl RoomId {
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        identifier(
            raw,
            |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'),
            Problem::BadRoomIdCharacter,
        )
        .map(Self)
    }
}
string_newtype!(RoomId);

/// A recorded video file's id, for the platform's `/get-video-call-videos` endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VideoFileId(String);

impl VideoFileId {
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        identifier(
            raw,
            |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'),
            Problem::BadVideoFileIdCharacter,
        )
        .map(Self)
    }
}
string_newtype!(VideoFileId);

/// An e-mail subject: one line, no control characters, at most 256 characters, so it cannot
/// add a header.
#[derive(Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, Problem> {
        if raw.trim().is_empty() {
            Err(Problem::Empty)
        } else if raw.chars().count() > Self::MAX_CHARS {
            Err(Problem::TooLong)
        } else if raw.contains(['\r', '\n', '\u{2028}', '\u{2029}']) {
            Err(Problem::LineBreak)
        } else if has_control(raw, false) {
            Err(Problem::ControlCharacter)
        } else if has_format_character(raw) {
            Err(Problem::FormatCharacter)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }
}
string_newtype!(Subject);

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Subject({} chars)", self.0.chars().count())
    }
}

/// Message text that may hold line breaks but no other control characters, non-empty, with a
/// byte bound per use. It may be an OTP: `Debug` shows its length only.
fn message_text(raw: &str, max_bytes: usize) -> Result<String, Problem> {
    if raw.trim().is_empty() {
        Err(Problem::Empty)
    } else if raw.len() > max_bytes {
        Err(Problem::TooLong)
    } else if has_control(raw, true) {
        Err(Problem::ControlCharacter)
    } else if has_format_character(raw) {
        Err(Problem::FormatCharacter)
    } else {
        Ok(raw.to_owned())
    }
}

macro_rules! message_text_type {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub const MAX_BYTES: usize = $max;

            pub fn parse(raw: &str) -> Result<Self, Problem> {
                message_text(raw, Self::MAX_BYTES).map(Self)
            }
        }
        string_newtype!($name);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({} bytes)", stringify!($name), self.0.len())
            }
        }
    };
}

message_text_type!(
    /// The text of an SMS: at most 1,600 bytes (SNS splits longer texts into too many parts).
    SmsText,
    1600
);

message_text_type!(
    /// The body of an e-mail as plain text: at most 32 KiB (the request body is bounded too).
    EmailContent,
    32 * 1024
);

/// Who shared a session link on the platform (`createdBy`, an operator's e-mail in practice).
/// Kept for the record, never used to send.
#[derive(Clone, PartialEq, Eq)]
pub struct Operator(String);

impl Operator {
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        if raw.chars().count() > 254 {
            Err(Problem::TooLong)
        } else if has_control(raw, false) {
            Err(Problem::ControlCharacter)
        } else if has_format_character(raw) {
            Err(Problem::FormatCharacter)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }
}
string_newtype!(Operator);

impl fmt::Debug for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Operator(..)")
    }
}

/// A verification link: `https://host/path?query#fragment`, ASCII only, no credentials, no port,
/// a DNS host name (not an IP address), every character one a URL may hold unescaped. Stricter
/// than a browser on purpose: anything a browser would have to guess about is refused, so what
/// the host check sees is the host the recipient's phone opens. Which hosts are allowed, and
/// that its `session_token` is the session's, is checked against the deployment's
/// [`crate::LinkPolicy`] when the callback is accepted.
///
/// After those checks the link is read again with a real URL parser (the `url` crate, as a
/// browser and a server read it): the host compared is the parser's normalised host, and the
/// `session_token` is the query's one, its name and value percent-decoded. A link with the
/// token twice, or with one in its fragment (where a single-page app may read it), is refused:
/// which copy wins is the reader's guess.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionLink {
    raw: String,
    /// The host as the URL parser normalises it (lower case).
    host: String,
    /// The query's `session_token`, decoded, when it has one.
    token: Option<String>,
}

impl SessionLink {
    pub const MAX_BYTES: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, Problem> {
        if raw.is_empty() {
            return Err(Problem::Empty);
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(Problem::TooLong);
        }
        // Non-ASCII covers look-alike letters and bidi overrides; an IDN host comes as punycode.
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Problem::NotAUrl);
        }
        let rest = match raw.split_once(':') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => {
                rest.strip_prefix("//").ok_or(Problem::NotAUrl)?
            }
            Some((scheme, _)) if is_scheme(scheme) => return Err(Problem::NotHttps),
            _ => return Err(Problem::NotAUrl),
        };
        let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let host = &rest[..host_len];
        if host.starts_with('[') {
            return Err(Problem::HostNotAllowed); // an IPv6 address
        }
        if host.contains(['@', ':']) {
            return Err(Problem::UrlCredentialsOrPort);
        }
        let labels_ok = host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if host.is_empty() || host.len() > 253 || !labels_ok {
            return Err(Problem::NotAUrl);
        }
        // An IPv4 address in any of its spellings ends in a numeric label.
        if host
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Problem::HostNotAllowed);
        }
        if !valid_url_tail(&rest[host_len..]) {
            return Err(Problem::NotAUrl);
        }
        let url = url::Url::parse(raw).map_err(|_| Problem::NotAUrl)?;
        let parsed_host = url.host_str().ok_or(Problem::NotAUrl)?;
        if !parsed_host.eq_ignore_ascii_case(host) {
            // The parser read another host than the checks did: refuse rather than guess.
            return Err(Problem::NotAUrl);
        }
        let mut tokens = url
            .query_pairs()
            .filter(|(name, _)| name == "session_token")
            .map(|(_, value)| value.into_owned());
        let token = tokens.next();
        if tokens.next().is_some() {
            return Err(Problem::TokenRepeated);
        }
        let fragment = url.fragment().unwrap_or_default();
        let decoded = percent_decode(fragment);
        if decoded.contains("session_token") {
            return Err(Problem::TokenInFragment);
        }
        Ok(Self {
            raw: raw.to_owned(),
            host: parsed_host.to_owned(),
            token,
        })
    }

    /// The link as received.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The host, normalised (lower case).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the `session_token` the link carries (often none) equals `token`.
    pub fn tokens_match(&self, token: &str) -> bool {
        self.token.as_deref().is_none_or(|t| t == token)
    }
}

/// `text` with its `%XX` escapes decoded, and `+` as a space, as a query or fragment reader
/// would see it.
fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 3986 scheme: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Path, query and fragment: RFC 3986 characters only, and `%` only as a complete escape.
fn valid_url_tail(tail: &str) -> bool {
    let bytes = tail.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
                continue;
            }
            b if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?#[]".contains(&b) => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

string_newtype!(@serde SessionLink);

impl fmt::Debug for SessionLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The query holds the session token.
        write!(f, "SessionLink(https://{}/..)", self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_is_its_address_without_case_tags_or_gmail_dots() {
        let mailbox = |a: &str| EmailAddress::parse(a).unwrap().mailbox();
        assert_eq!(mailbox("Victim@Example.com"), "victim@example.com");
        assert_eq!(mailbox("victim+1@example.com"), "victim@example.com");
        assert_eq!(mailbox("victim+a+b@example.com"), "victim@example.com");
        assert_eq!(mailbox("v.i.c.t.i.m+x@GoogleMail.com"), "victim@gmail.com");
        assert_eq!(mailbox("V.ictim@gmail.com"), "victim@gmail.com");
        // Dots matter elsewhere; a local part that is only a tag is kept.
        assert_eq!(mailbox("john.doe@example.com"), "john.doe@example.com");
        assert_eq!(mailbox("+tag@example.com"), "+tag@example.com");
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
