//! From the raw request body to a typed [`Callback`], in the contract's order: size, JSON
//! object, key, fields. An unauthenticated caller learns nothing about the schema.
//!
//! The body is read once into its top-level fields, each kept as the raw JSON text it came as;
//! each field is then parsed only when a variant asks for it. Duplicate keys are refused before
//! the key is even looked at.
//!
//! The families decode an envelope's callback through the same constructors (the
//! `Deserialize` of [`Callback`] below), so an envelope the ingress could not have produced is
//! refused there too.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::auth::{CallbackKeys, PresentedKey};
use crate::callback::{
    AcceptFrom, Callback, EmailOneTimePassword, EmailSessionLink, FileStatus, RoomStatus,
    SessionChange, SessionResult, SessionType, SmsOneTimePassword, SmsSessionLink, Unhandled,
    VideoCallStatus,
};
use crate::error::{BodyTooLarge, InvalidField, MAX_FIELDS, MalformedBody, Rejection};
use crate::fields::{
    CcList, EmailAddress, EmailContent, Operator, PhoneNumber, Problem, RoomId, SessionId,
    SessionLink, SmsText, Subject, VideoFileId,
};
use crate::policy::{Limits, LinkPolicy};

pub const KEY_FIELD: &str = "callbackApiKey";

/// Everything the ingress needs to accept a callback.
#[derive(Debug, Clone)]
pub struct Acceptance {
    pub keys: CallbackKeys,
    pub links: LinkPolicy,
    pub limits: Limits,
}

impl Acceptance {
    /// Size -> JSON object -> key -> fields.
    pub fn accept(&self, body: &[u8]) -> Result<Callback, Rejection> {
        if body.len() > self.limits.max_body_bytes {
            return Err(BodyTooLarge {
                limit: self.limits.max_body_bytes,
            }
            .into());
        }
        let fields = BodyFields::parse(body)?;
        self.keys.verify(&fields.presented_key())?;
        Ok(fields.callback(Checks::Deployment {
            links: &self.links,
            limits: &self.limits,
        })?)
    }
}

/// The top-level fields of a JSON object, each as its raw JSON text.
pub struct BodyFields<'a> {
    entries: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// One JSON value read as "a string, null, or something else", borrowing when it can.
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Null,
    Other,
}

impl<'a> BodyFields<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, MalformedBody> {
        match serde_json::from_slice::<TopLevel<'a>>(body) {
            Ok(TopLevel::Object(entries)) => Ok(Self { entries }),
            Ok(TopLevel::NotAnObject) => Err(MalformedBody::NotAnObject),
            Ok(TopLevel::DuplicateKey) => Err(MalformedBody::DuplicateKey),
            Err(e) if e.to_string().starts_with(TOO_MANY_FIELDS) => {
                Err(MalformedBody::TooManyFields)
            }
            Err(_) => Err(MalformedBody::NotJson),
        }
    }

    /// Every top-level field, in the body's order, as its raw JSON text.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_ref(), *v))
    }

    fn raw(&self, name: &str) -> Option<&'a RawValue> {
        self.entries
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }

    fn scalar(&self, name: &str) -> Option<Scalar<'a>> {
        let raw = self.raw(name)?;
        // `raw` is valid JSON already, so this only fails for a non-scalar.
        Some(serde_json::from_str::<ScalarValue<'a>>(raw.get()).map_or(Scalar::Other, |v| v.0))
    }

    pub fn presented_key(&self) -> PresentedKey<'a> {
        match self.scalar(KEY_FIELD) {
            None => PresentedKey::Absent,
            Some(Scalar::Str(key)) => PresentedKey::Text(key),
            Some(_) => PresentedKey::NotAString,
        }
    }

    /// The typed callback. Call only after the key was verified.
    pub fn callback(&self, checks: Checks<'_>) -> Result<Callback, InvalidField> {
        let reader = Reader {
            fields: self,
            checks,
        };
        let type_name = reader.string("type")?;
        Callback::accept(&type_name, &reader).unwrap_or_else(|| {
            crate::callback::open_value(&type_name).map_err(|p| InvalidField::new("type", p))?;
            Ok(Callback::Unhandled(self.unhandled(type_name.into_owned())))
        })
    }

    /// Every field but the key and the type, as received. A field nested deeper than
    /// serde_json's recursion limit (128) cannot become a `Value` and is left out.
    fn unhandled(&self, type_name: String) -> Unhandled {
        let fields: Map<String, Value> = self
            .entries
            .iter()
            .filter(|(k, _)| k != KEY_FIELD && k != "type")
            .filter_map(|(k, v)| {
                let value = serde_json::from_str(v.get()).ok()?;
                Some((k.to_string(), value))
            })
            .collect();
        Unhandled::new(type_name, fields)
    }
}

/// What is checked beyond each field's own rule. At the ingress, the deployment's settings: a
/// session link's host, the hosts the texts name, an OTP's SMS parts. A family decoding an
/// envelope has no such settings and checks what needs none, a link's token: the ingress
/// checked the rest before the envelope was written.
#[derive(Debug, Clone, Copy)]
pub enum Checks<'p> {
    Deployment {
        links: &'p LinkPolicy,
        limits: &'p Limits,
    },
    TokenOnly,
}

/// Reads typed fields for the payloads' constructors.
pub struct Reader<'r, 'a> {
    fields: &'r BodyFields<'a>,
    checks: Checks<'r>,
}

impl<'a> Reader<'_, 'a> {
    /// A required string field, as received.
    fn string(&self, name: &'static str) -> Result<Cow<'a, str>, InvalidField> {
        match self.fields.scalar(name) {
            Some(Scalar::Str(s)) => Ok(s),
            Some(_) => Err(InvalidField::new(name, Problem::NotAString)),
            None => Err(InvalidField::new(name, Problem::Missing)),
        }
    }

    /// A required string field, validated by `parse`.
    fn required<T>(
        &self,
        name: &'static str,
        parse: fn(&str) -> Result<T, Problem>,
    ) -> Result<T, InvalidField> {
        parse(&self.string(name)?).map_err(|p| InvalidField::new(name, p))
    }

    /// A field that may be absent, null or empty: all three mean "none" (the platform and its
    /// operators send each), and a string of only whitespace is empty.
    fn optional<T>(
        &self,
        name: &'static str,
        parse: fn(&str) -> Result<T, Problem>,
    ) -> Result<Option<T>, InvalidField> {
        match self.fields.scalar(name) {
            Some(Scalar::Str(s)) if s.trim().is_empty() => Ok(None),
            Some(Scalar::Str(s)) => parse(&s).map(Some).map_err(|p| InvalidField::new(name, p)),
            Some(Scalar::Null) | None => Ok(None),
            Some(Scalar::Other) => Err(InvalidField::new(name, Problem::NotAStringOrNull)),
        }
    }

    /// A field the platform documents as nullable (the video call's statuses and file id):
    /// absent reads as null, as does `""`.
    fn nullable<T>(
        &self,
        name: &'static str,
        parse: fn(&str) -> Result<T, Problem>,
    ) -> Result<Option<T>, InvalidField> {
        self.optional(name, parse)
    }

    /// `cc`: the platform sends one string of addresses, of which the entries that are no
    /// address are dropped ([`CcList::parse`]); an envelope carries the addresses as a list and
    /// the dropped entries, masked, as `ccDropped`.
    fn cc(&self) -> Result<CcList, InvalidField> {
        let invalid = |problem| InvalidField::new("cc", problem);
        match self.fields.raw("cc") {
            Some(raw) if raw.get().starts_with('[') => {
                let list: Vec<Cow<'_, str>> =
                    serde_json::from_str(raw.get()).map_err(|_| invalid(Problem::NotAString))?;
                let addresses = list
                    .iter()
                    .map(|a| EmailAddress::parse(a))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(invalid)?;
                CcList::from_addresses(addresses).map_err(invalid)
            }
            _ => Ok(self.optional("cc", CcList::parse)?.unwrap_or_default()),
        }
    }

    /// The masked entries an envelope's `ccDropped` carries. Only an envelope's: what arrives
    /// from the platform is dropped by [`Self::cc`] itself.
    fn cc_dropped(&self, cc: &CcList) -> Result<Vec<String>, InvalidField> {
        if let Checks::Deployment { .. } = self.checks {
            return Ok(cc.dropped().to_vec());
        }
        let Some(raw) = self.fields.raw("ccDropped") else {
            return Ok(Vec::new());
        };
        let invalid = |problem| InvalidField::new("ccDropped", problem);
        let list: Vec<String> =
            serde_json::from_str(raw.get()).map_err(|_| invalid(Problem::NotAString))?;
        if list.len() > CcList::MAX {
            return Err(invalid(Problem::TooManyAddresses));
        }
        if list
            .iter()
            .any(|e| e.chars().count() > 83 || e.chars().any(char::is_control))
        {
            return Err(invalid(Problem::TooLong));
        }
        Ok(list)
    }

    fn link(&self, session: &SessionId) -> Result<SessionLink, InvalidField> {
        let link = self.required("sessionLink", SessionLink::parse)?;
        match self.checks {
            Checks::Deployment { links, .. } => links.check(&link, session)?,
            Checks::TokenOnly => LinkPolicy::check_token(&link, session)?,
        }
        Ok(link)
    }

    /// A text that goes out in the company's name (an SMS text, a subject, a content): it may
    /// name only the allowed hosts.
    fn message<T>(
        &self,
        name: &'static str,
        parse: fn(&str) -> Result<T, Problem>,
    ) -> Result<T, InvalidField> {
        let raw = self.string(name)?;
        let text = parse(&raw).map_err(|p| InvalidField::new(name, p))?;
        if let Checks::Deployment { links, .. } = self.checks {
            links.check_text(name, &raw)?;
        }
        Ok(text)
    }

    /// An OTP's SMS text: a [`Self::message`] of at most `SMS_OTP_MAX_PARTS` parts.
    fn otp_text(&self) -> Result<SmsText, InvalidField> {
        let text = self.message("text", SmsText::parse)?;
        if let Checks::Deployment { limits, .. } = self.checks
            && crate::segments::parts(text.as_str()).count > limits.sms_otp_max_parts
        {
            return Err(InvalidField::new("text", Problem::TooManyParts));
        }
        Ok(text)
    }
}

impl AcceptFrom<Reader<'_, '_>> for SmsOneTimePassword {
    fn accept_from(f: &Reader<'_, '_>) -> Result<Self, InvalidField> {
        Ok(Self {
            session_id: f.required("sessionId", SessionId::parse)?,
            text: f.otp_text()?,
            phone_number: f.required("phoneNumber", PhoneNumber::parse)?,
        })
    }
}

impl AcceptFrom<Reader<'_, '_>> for SmsSessionLink {
    fn accept_from(f: &Reader<'_, '_>) -> Result<Self, InvalidField> {
        let session_id = f.required("sessionId", SessionId::parse)?;
        let sms = Self {
            text: f.message("text", SmsText::parse)?,
            phone_number: f.required("phoneNumber", PhoneNumber::parse)?,
            session_link: f.link(&session_id)?,
            created_by: f.optional("createdBy", Operator::parse)?,
            session_id,
        };
        // The text fits, but with the link the sms function appends it would not: refused
        // here, where the sender is told, rather than accepted and then failed. An envelope
        // of 0.2 may still carry one: the sms function records it `failed`.
        if let Checks::Deployment { .. } = f.checks
            && sms.message().len() > SmsText::MAX_BYTES
        {
            return Err(InvalidField::new("text", Problem::TooLongWithLink));
        }
        Ok(sms)
    }
}

impl AcceptFrom<Reader<'_, '_>> for EmailOneTimePassword {
    fn accept_from(f: &Reader<'_, '_>) -> Result<Self, InvalidField> {
        Ok(Self {
            session_id: f.required("sessionId", SessionId::parse)?,
            address: f.required("address", EmailAddress::parse)?,
            subject: f.message("subject", Subject::parse)?,
            content: f.message("content", EmailContent::parse)?,
        })
    }
}

impl AcceptFrom<Reader<'_, '_>> for EmailSessionLink {
    fn accept_from(f: &Reader<'_, '_>) -> Result<Self, InvalidField> {
        let session_id = f.required("sessionId", SessionId::parse)?;
        let address = f.required("address", EmailAddress::parse)?;
        let subject = f.message("subject", Subject::parse)?;
        let content = f.message("content", EmailContent::parse)?;
        let cc = f.cc()?;
        let cc_dropped = f.cc_dropped(&cc)?;
        Ok(Self {
            address,
            subject,
            content,
            cc: cc.with_dropped(cc_dropped.clone()),
            cc_dropped,
            session_link: f.link(&session_id)?,
            created_by: f.optional("createdBy", Operator::parse)?,
            session_id,
        })
    }
}

impl AcceptFrom<Reader<'_, '_>> for SessionChange {
    fn accept_from(f: &Reader<'_, '_>) -> Result<Self, InvalidField> {
        Ok(Self {
            session_id: f.required("sessionId", SessionId::parse)?,
            result: f.required("result", SessionResult::parse)?,
            session_type: f
                .optional("sessionType", SessionType::parse)?
                .unwrap_or_default(),
        })
    }
}

impl AcceptFrom<Reader<'_, '_>> for VideoCallStatus {
    fn accept_from(f: &Reader<'_, '_>) -> Result<Self, InvalidField> {
        Ok(Self {
            session_id: f.required("sessionId", SessionId::parse)?,
            room_id: f.required("roomId", RoomId::parse)?,
            room_status: f.required("roomStatus", RoomStatus::parse)?,
            composition_status: f.nullable("compositionStatus", FileStatus::parse)?,
            video_file_status: f.nullable("videoFileStatus", FileStatus::parse)?,
            video_file_id: f.nullable("videoFileId", VideoFileId::parse)?,
        })
    }
}

/// A family reads its envelope's callback with the ingress's rules: the same constructors,
/// every field required or bounded as it was on arrival, the link's token checked. An
/// envelope's callback is small and was authenticated already, so it is read as a tree first.
impl<'de> Deserialize<'de> for Callback {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let body = serde_json::to_vec(&value).map_err(de::Error::custom)?;
        let fields = BodyFields::parse(&body).map_err(de::Error::custom)?;
        fields
            .callback(Checks::TokenOnly)
            .map_err(de::Error::custom)
    }
}

/// The start of the error with which reading stops at [`MAX_FIELDS`].
const TOO_MANY_FIELDS: &str = "too many fields";

/// The body's top level, read without building a tree.
enum TopLevel<'a> {
    Object(Vec<(Cow<'a, str>, &'a RawValue)>),
    NotAnObject,
    DuplicateKey,
}

impl<'de> de::Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

/// Any non-object JSON value answers `NotAnObject`; serde_json has already checked its syntax.
macro_rules! not_an_object {
    ($($method:ident($($ty:ty)?)),+) => {
        $(fn $method<E: de::Error>(self $(, _: $ty)?) -> Result<TopLevel<'de>, E> {
            Ok(TopLevel::NotAnObject)
        })+
    };
}

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    not_an_object!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64),
        visit_str(&str),
        visit_unit()
    );

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TopLevel::NotAnObject)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // A callback has a handful of fields, compared directly; past `SMALL` a hash set keeps
        // the check linear in the body, since it runs before the key is verified (8,000 short
        // keys compared pairwise cost seconds of Lambda CPU at 128 MB); past `MAX_FIELDS` the
        // body is no callback, and reading stops.
        const SMALL: usize = 16;
        let mut entries: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(8);
        let mut seen: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(key) = map.next_key::<ScalarKey<'de>>()? {
            if entries.len() == MAX_FIELDS {
                return Err(de::Error::custom(TOO_MANY_FIELDS));
            }
            let duplicate = if entries.len() < SMALL {
                entries.iter().any(|(k, _)| *k == key.0)
            } else {
                if seen.is_empty() {
                    seen.extend(entries.iter().map(|(k, _)| k.clone()));
                }
                !seen.insert(key.0.clone())
            };
            if duplicate {
                // Read the rest so a syntax error later in the body still answers "not JSON".
                map.next_value::<IgnoredAny>()?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(TopLevel::DuplicateKey);
            }
            entries.push((key.0, map.next_value()?));
        }
        Ok(TopLevel::Object(entries))
    }
}

/// An object key, borrowed from the body unless it holds escapes.
struct ScalarKey<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for ScalarKey<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(ScalarVisitor).and_then(|s| match s {
            Scalar::Str(s) => Ok(ScalarKey(s)),
            _ => Err(de::Error::custom("object keys are strings")),
        })
    }
}

struct ScalarValue<'a>(Scalar<'a>);

impl<'de> de::Deserialize<'de> for ScalarValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor).map(ScalarValue)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Ok(Scalar::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Ok(Scalar::Other)
    }
}
