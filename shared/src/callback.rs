//! The callbacks Identomat sends, as one enum tagged on `type`. The same type travels from the
//! ingress to the families inside an [`crate::envelope::Envelope`]; `callbackApiKey` is never
//! part of it.
//!
//! `callback_types!` is the one table of the types: each row gives the variant (and its
//! payload struct, of the same name), the family that acts on it and its wire names. The enum,
//! its serde tags, [`Callback::type_name`], [`Callback::route`] and the dispatch to each
//! payload's accept-time constructor ([`AcceptFrom`], implemented by the parser) all come from
//! it.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::InvalidField;
use crate::fields::{
    CcList, EmailAddress, EmailContent, Operator, PhoneNumber, Problem, RoomId, SessionId,
    SessionLink, SmsText, Subject, VideoFileId, string_newtype,
};

/// How a payload is built from a reader of the callback's fields, with every rule the ingress
/// applies. The parser implements it for its reader; the table dispatches to it by `type`.
pub trait AcceptFrom<F>: Sized {
    fn accept_from(fields: &F) -> Result<Self, InvalidField>;
}

macro_rules! callback_types {
    ($(
        $(#[$doc:meta])*
        $variant:ident => $family:ident, $wire:literal $(| $alias:literal)*;
    )+) => {
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "type")]
        pub enum Callback {
            $(
                $(#[$doc])*
                #[serde(rename = $wire)]
                $variant($variant),
            )+
            /// A `type` this version does not know: kept as received (minus the key), so it
            /// is stored rather than lost.
            #[serde(untagged)]
            Unhandled(Unhandled),
        }

        impl Callback {
            /// Every `type` this version acts on, as the platform names it.
            pub const TYPE_NAMES: &'static [&'static str] = &[$($wire),+];

            /// The `type` as the platform names it.
            pub fn type_name(&self) -> &str {
                match self {
                    $(Callback::$variant(_) => $wire,)+
                    Callback::Unhandled(u) => &u.type_name,
                }
            }

            /// Where this callback goes: to a family, or, for a type we do not know, into
            /// storage.
            pub fn route(&self) -> Route<'_> {
                match self {
                    $(Callback::$variant(_) => Route::Family(Family::$family),)+
                    Callback::Unhandled(u) => Route::Unhandled(u),
                }
            }

            /// The session the callback is about; `None` only for an unknown type without a
            /// valid one.
            pub fn session_id(&self) -> Option<&SessionId> {
                match self {
                    $(Callback::$variant(c) => Some(&c.session_id),)+
                    Callback::Unhandled(u) => u.session_id.as_ref(),
                }
            }

            /// The callback of type `type_name`, built by its payload's constructor; `None`
            /// for a type this version does not know.
            pub fn accept<F>(type_name: &str, fields: &F) -> Option<Result<Self, InvalidField>>
            where
                $($variant: AcceptFrom<F>,)+
            {
                match type_name {
                    $($wire $(| $alias)* => Some($variant::accept_from(fields).map(Callback::$variant)),)+
                    _ => None,
                }
            }
        }
    };
}

callback_types! {
    /// The docs' heading calls it `one-time-password`; the payload says
    /// `one-time-password-request`. Both are accepted.
    SmsOneTimePassword => Sms, "one-time-password-request" | "one-time-password";
    SmsSessionLink => Sms, "share-session-link-via-sms";
    EmailOneTimePassword => Email, "email-one-time-password-request";
    EmailSessionLink => Email, "share-session-link-via-email";
    SessionChange => SessionStatus, "session-change";
    VideoCallStatus => VideoCall, "video-call-status-update";
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsOneTimePassword {
    pub session_id: SessionId,
    pub text: SmsText,
    pub phone_number: PhoneNumber,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsSessionLink {
    pub session_id: SessionId,
    pub text: SmsText,
    pub phone_number: PhoneNumber,
    pub session_link: SessionLink,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Operator>,
}

impl SmsSessionLink {
    /// The SMS as sent: the text, a line break and the link, unless the text holds the link
    /// already.
    pub fn message(&self) -> std::borrow::Cow<'_, str> {
        let (text, link) = (self.text.as_str(), self.session_link.as_str());
        match text.contains(link) {
            true => text.into(),
            false => format!("{text}\n{link}").into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailOneTimePassword {
    pub session_id: SessionId,
    pub address: EmailAddress,
    pub subject: Subject,
    pub content: EmailContent,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailSessionLink {
    pub session_id: SessionId,
    pub address: EmailAddress,
    pub subject: Subject,
    pub content: EmailContent,
    #[serde(default, skip_serializing_if = "CcList::is_empty")]
    pub cc: CcList,
    /// The `cc` entries that were no address, masked: dropped, the rest delivered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc_dropped: Vec<String>,
    pub session_link: SessionLink,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Operator>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionChange {
    pub session_id: SessionId,
    pub result: SessionResult,
    /// Absent on the wire means KYC.
    #[serde(default)]
    pub session_type: SessionType,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoCallStatus {
    pub session_id: SessionId,
    pub room_id: RoomId,
    pub room_status: RoomStatus,
    pub composition_status: Option<FileStatus>,
    pub video_file_status: Option<FileStatus>,
    pub video_file_id: Option<VideoFileId>,
}

/// A callback of a type this version does not know.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unhandled {
    #[serde(rename = "type")]
    pub type_name: String,
    /// Every other field as received, without `callbackApiKey`.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
    /// `sessionId`, when the payload carries a valid one.
    #[serde(skip)]
    session_id: Option<SessionId>,
}

impl Unhandled {
    pub fn new(type_name: String, fields: Map<String, Value>) -> Self {
        let session_id = fields
            .get("sessionId")
            .and_then(Value::as_str)
            .and_then(|s| SessionId::parse(s).ok());
        Self {
            type_name,
            fields,
            session_id,
        }
    }

    pub fn session_id(&self) -> Option<&SessionId> {
        self.session_id.as_ref()
    }
}

/// A value set the platform may extend: known values are variants, anything else that is
/// non-empty, at most 64 bytes and one line is kept as received, so a new status is recorded
/// rather than rejected.
macro_rules! open_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(s) => s,
                }
            }
        }

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, Problem> {
                open_value(raw)?;
                Ok(match raw {
                    $($wire => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                })
            }
        }
        string_newtype!(@serde $name);
    };
}

/// The bounds of an open set's value, and of a `type` this version does not know: non-empty,
/// at most 64 bytes, one line. An unknown type is stored, logged and put in an event as it
/// came: unbounded, five callbacks of a 60,000-character type filled every PutEvents call of
/// a stream shard past EventBridge's 256 KB.
pub(crate) fn open_value(raw: &str) -> Result<(), Problem> {
    if raw.is_empty() {
        Err(Problem::Empty)
    } else if raw.len() > 64 {
        Err(Problem::TooLong)
    } else if raw.chars().any(char::is_control) {
        Err(Problem::ControlCharacter)
    } else {
        Ok(())
    }
}

open_enum!(
    /// `result` of a `session-change`.
    SessionResult {
        Approved = "APPROVED",
        Rejected = "REJECTED",
        ManualCheck = "MANUAL_CHECK",
        AdditionalInformationRequested = "ADDITIONAL_INFORMATION_REQUESTED",
    }
);

open_enum!(
    /// `sessionType` of a `session-change`; absent means KYC.
    SessionType { Kyc = "kyc", Kyb = "kyb" }
);

open_enum!(
    /// `roomStatus` of a video call.
    RoomStatus { Empty = "empty", Ended = "ended" }
);

open_enum!(
    /// `compositionStatus` and `videoFileStatus` of a video call; null is `None`.
    FileStatus { Available = "available" }
);

// Written out because the enum comes from `open_enum!`, which has no `#[default]` slot.
#[allow(clippy::derivable_impls)]
impl Default for SessionType {
    fn default() -> Self {
        Self::Kyc
    }
}

/// See [`Callback::route`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Route<'a> {
    Family(Family),
    Unhandled(&'a Unhandled),
}

/// Which function acts on a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum Family {
    Sms,
    Email,
    SessionStatus,
    VideoCall,
}

impl Family {
    pub const ALL: [Family; 4] = [
        Family::Sms,
        Family::Email,
        Family::SessionStatus,
        Family::VideoCall,
    ];

    pub fn name(self) -> &'static str {
        self.into()
    }
}

impl Callback {
    /// What makes two callbacks the same one: a digest of the callback as the envelope
    /// carries it (without the key), 128 bits of SHA-256 in hex. A repeat is the same request
    /// id *and* this digest: a front that reuses request ids (`sam local start-api` gives every
    /// request one) must not turn a second, different callback into a duplicate.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        // Fields in declaration order, an unknown type's in sorted order: the same callback is
        // always the same bytes.
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&bytes)[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The family that acts on this callback; `None` for a type we do not know.
    pub fn family(&self) -> Option<Family> {
        match self.route() {
            Route::Family(f) => Some(f),
            Route::Unhandled(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_named_as_their_functions() {
        let names: Vec<_> = Family::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names, ["sms", "email", "session-status", "video-call"]);
    }

    #[test]
    fn open_values_are_bounded_and_keep_what_is_new() {
        assert_eq!(
            SessionResult::parse("APPROVED"),
            Ok(SessionResult::Approved)
        );
        assert_eq!(
            SessionResult::parse("ON_HOLD"),
            Ok(SessionResult::Other("ON_HOLD".into()))
        );
        assert_eq!(SessionResult::parse(""), Err(Problem::Empty));
        assert_eq!(RoomStatus::parse(&"x".repeat(65)), Err(Problem::TooLong));
        assert_eq!(
            FileStatus::parse("avail\nable"),
            Err(Problem::ControlCharacter)
        );
    }
}
