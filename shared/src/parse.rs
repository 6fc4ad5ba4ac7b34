//! From the raw request body to a typed [`Callback`], in the contract's order: size, JSON
//! object, key, fields. An unauthenticated caller learns nothing about the schema.
//!
//! The body is read once into its top-level fields, each kept as the raw JSON text it came as;
//! each field is then parsed only when a variant asks for it. Duplicate keys are refused before
//! the key is even looked at.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::auth::{CallbackKeys, PresentedKey};
use crate::callback::{
    Callback, EmailOneTimePassword, EmailSessionLink, FileStatus, RoomStatus, SessionChange,
    SessionResult, SessionType, SmsOneTimePassword, SmsSessionLink, Unhandled, VideoCallStatus,
};
use crate::config::{Limits, LinkPolicy};
use crate::error::{BodyTooLarge, InvalidField, MalformedBody, Rejection};
use crate::fields::{
    CcList, EmailAddress, EmailContent, Operator, PhoneNumber, Problem, RoomId, SessionId,
    SessionLink, SmsText, Subject, VideoFileId,
};

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
        let fields = Fields::parse(body)?;
        self.keys.verify(&fields.presented_key())?;
        Ok(fields.callback(&self.links)?)
    }
}

/// The top-level fields of a JSON object, each as its raw JSON text.
pub struct Fields<'a> {
    entries: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// One JSON value read as "a string, null, or something else", borrowing when it can.
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Null,
    Other,
}

impl<'a> Fields<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, MalformedBody> {
        match serde_json::from_slice::<TopLevel<'a>>(body) {
            Ok(TopLevel::Object(entries)) => Ok(Self { entries }),
            Ok(TopLevel::NotAnObject) => Err(MalformedBody::NotAnObject),
            Ok(TopLevel::DuplicateKey) => Err(MalformedBody::DuplicateKey),
            Err(_) => Err(MalformedBody::NotJson),
        }
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

    /// A required string field, as received.
    fn string(&self, name: &'static str) -> Result<Cow<'a, str>, InvalidField> {
        match self.scalar(name) {
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

    /// A field that may be absent or null.
    fn optional<T>(
        &self,
        name: &'static str,
        parse: fn(&str) -> Result<T, Problem>,
    ) -> Result<Option<T>, InvalidField> {
        match self.scalar(name) {
            Some(Scalar::Str(s)) => parse(&s).map(Some).map_err(|p| InvalidField::new(name, p)),
            Some(Scalar::Null) | None => Ok(None),
            Some(Scalar::Other) => Err(InvalidField::new(name, Problem::NotAStringOrNull)),
        }
    }

    /// A field that must be present but may be null (the video call's statuses and file id).
    fn nullable<T>(
        &self,
        name: &'static str,
        parse: fn(&str) -> Result<T, Problem>,
    ) -> Result<Option<T>, InvalidField> {
        if self.raw(name).is_none() {
            return Err(InvalidField::new(name, Problem::Missing));
        }
        self.optional(name, parse)
    }

    fn link(&self, links: &LinkPolicy, session: &SessionId) -> Result<SessionLink, InvalidField> {
        let link = self.required("sessionLink", SessionLink::parse)?;
        links.check(&link, session)?;
        Ok(link)
    }

    /// The typed callback. Call only after the key was verified.
    pub fn callback(&self, links: &LinkPolicy) -> Result<Callback, InvalidField> {
        let type_name = self.string("type")?;
        let callback = match type_name.as_ref() {
            "one-time-password-request" | "one-time-password" => {
                Callback::SmsOneTimePassword(SmsOneTimePassword {
                    session_id: self.required("sessionId", SessionId::parse)?,
                    text: self.required("text", SmsText::parse)?,
                    phone_number: self.required("phoneNumber", PhoneNumber::parse)?,
                })
            }
            "share-session-link-via-sms" => {
                let session_id = self.required("sessionId", SessionId::parse)?;
                Callback::SmsSessionLink(SmsSessionLink {
                    text: self.required("text", SmsText::parse)?,
                    phone_number: self.required("phoneNumber", PhoneNumber::parse)?,
                    session_link: self.link(links, &session_id)?,
                    created_by: self.optional("createdBy", Operator::parse)?,
                    session_id,
                })
            }
            "email-one-time-password-request" => {
                Callback::EmailOneTimePassword(EmailOneTimePassword {
                    session_id: self.required("sessionId", SessionId::parse)?,
                    address: self.required("address", EmailAddress::parse)?,
                    subject: self.required("subject", Subject::parse)?,
                    content: self.required("content", EmailContent::parse)?,
                })
            }
            "share-session-link-via-email" => {
                let session_id = self.required("sessionId", SessionId::parse)?;
                Callback::EmailSessionLink(EmailSessionLink {
                    address: self.required("address", EmailAddress::parse)?,
                    subject: self.required("subject", Subject::parse)?,
                    content: self.required("content", EmailContent::parse)?,
                    cc: self.optional("cc", CcList::parse)?.unwrap_or_default(),
                    session_link: self.link(links, &session_id)?,
                    created_by: self.optional("createdBy", Operator::parse)?,
                    session_id,
                })
            }
            "session-change" => Callback::SessionChange(SessionChange {
                session_id: self.required("sessionId", SessionId::parse)?,
                result: self.required("result", open_value::<SessionResult>)?,
                session_type: self
                    .optional("sessionType", open_value::<SessionType>)?
                    .unwrap_or_default(),
            }),
            "video-call-status-update" => Callback::VideoCallStatus(VideoCallStatus {
                session_id: self.required("sessionId", SessionId::parse)?,
                room_id: self.required("roomId", RoomId::parse)?,
                room_status: self.required("roomStatus", open_value::<RoomStatus>)?,
                composition_status: self.nullable("compositionStatus", open_value::<FileStatus>)?,
                video_file_status: self.nullable("videoFileStatus", open_value::<FileStatus>)?,
                video_file_id: self.nullable("videoFileId", VideoFileId::parse)?,
            }),
            _ => Callback::Unhandled(self.unhandled(type_name.into_owned())),
        };
        Ok(callback)
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
        Unhandled { type_name, fields }
    }
}

/// Values of an open set: any non-empty, bounded, single-line string is kept as received.
fn open_value<T: for<'s> From<&'s str>>(raw: &str) -> Result<T, Problem> {
    if raw.is_empty() {
        Err(Problem::Empty)
    } else if raw.len() > 64 {
        Err(Problem::TooLong)
    } else if raw.chars().any(char::is_control) {
        Err(Problem::ControlCharacter)
    } else {
        Ok(T::from(raw))
    }
}

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
        let mut entries: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(8);
        while let Some(key) = map.next_key::<ScalarKey<'de>>()? {
            if entries.iter().any(|(k, _)| *k == key.0) {
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
