//! The callbacks Identomat sends, as one enum tagged on `type`. The same type travels from the
//! ingress to the families inside an [`crate::Envelope`]; `callbackApiKey` is never part of it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::fields::{
    CcList, EmailAddress, EmailContent, Operator, PhoneNumber, Problem, RoomId, SessionId,
    SessionLink, SmsText, Subject, VideoFileId, string_newtype,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Callback {
    /// The docs' heading calls it `one-time-password`; the payload says
    /// `one-time-password-request`. Both are accepted.
    #[serde(rename = "one-time-password-request", alias = "one-time-password")]
    SmsOneTimePassword(SmsOneTimePassword),
    #[serde(rename = "share-session-link-via-sms")]
    SmsSessionLink(SmsSessionLink),
    #[serde(rename = "email-one-time-password-request")]
    EmailOneTimePassword(EmailOneTimePassword),
    #[serde(rename = "share-session-link-via-email")]
    EmailSessionLink(EmailSessionLink),
    #[serde(rename = "session-change")]
    SessionChange(SessionChange),
    #[serde(rename = "video-call-status-update")]
    VideoCallStatus(VideoCallStatus),
    /// A `type` this version does not know: kept as received (minus the key), so it is stored
    /// rather than lost.
    #[serde(untagged)]
    Unhandled(Unhandled),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsOneTimePassword {
    pub session_id: SessionId,
    pub text: SmsText,
    pub phone_number: PhoneNumber,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsSessionLink {
    pub session_id: SessionId,
    pub text: SmsText,
    pub phone_number: PhoneNumber,
    pub session_link: SessionLink,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Operator>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailOneTimePassword {
    pub session_id: SessionId,
    pub address: EmailAddress,
    pub subject: Subject,
    pub content: EmailContent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailSessionLink {
    pub session_id: SessionId,
    pub address: EmailAddress,
    pub subject: Subject,
    pub content: EmailContent,
    #[serde(default, skip_serializing_if = "CcList::is_empty")]
    pub cc: CcList,
    pub session_link: SessionLink,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Operator>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionChange {
    pub session_id: SessionId,
    pub result: SessionResult,
    /// Absent on the wire means KYC.
    #[serde(default)]
    pub session_type: SessionType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unhandled {
    #[serde(rename = "type")]
    pub type_name: String,
    /// Every other field as received, without `callbackApiKey`.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl Unhandled {
    /// The session id, when the payload carries a valid one.
    pub fn session_id(&self) -> Option<SessionId> {
        self.fields
            .get("sessionId")
            .and_then(Value::as_str)
            .and_then(|s| SessionId::parse(s).ok())
    }
}

/// A value set the platform may extend: known values are variants, anything else is kept as
/// received, so a new status is recorded rather than rejected.
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

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($wire => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl $name {
            /// Never fails: an unknown value is kept.
            pub fn parse(raw: &str) -> Result<Self, Problem> {
                Ok(Self::from(raw))
            }
        }
        string_newtype!(@serde $name);
    };
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
        match self {
            Family::Sms => "sms",
            Family::Email => "email",
            Family::SessionStatus => "session-status",
            Family::VideoCall => "video-call",
        }
    }
}

impl Callback {
    /// Where this callback goes: to a family, or, for a type we do not know, into storage.
    pub fn route(&self) -> Route<'_> {
        match self {
            Callback::SmsOneTimePassword(_) | Callback::SmsSessionLink(_) => {
                Route::Family(Family::Sms)
            }
            Callback::EmailOneTimePassword(_) | Callback::EmailSessionLink(_) => {
                Route::Family(Family::Email)
            }
            Callback::SessionChange(_) => Route::Family(Family::SessionStatus),
            Callback::VideoCallStatus(_) => Route::Family(Family::VideoCall),
            Callback::Unhandled(u) => Route::Unhandled(u),
        }
    }

    /// The family that acts on this callback; `None` for a type we do not know.
    pub fn family(&self) -> Option<Family> {
        match self.route() {
            Route::Family(f) => Some(f),
            Route::Unhandled(_) => None,
        }
    }

    /// The `type` as the platform names it.
    pub fn type_name(&self) -> &str {
        match self {
            Callback::SmsOneTimePassword(_) => "one-time-password-request",
            Callback::SmsSessionLink(_) => "share-session-link-via-sms",
            Callback::EmailOneTimePassword(_) => "email-one-time-password-request",
            Callback::EmailSessionLink(_) => "share-session-link-via-email",
            Callback::SessionChange(_) => "session-change",
            Callback::VideoCallStatus(_) => "video-call-status-update",
            Callback::Unhandled(u) => &u.type_name,
        }
    }

    /// The session the callback is about; `None` only for an unknown type without a valid one.
    pub fn session_id(&self) -> Option<SessionId> {
        match self {
            Callback::SmsOneTimePassword(c) => Some(c.session_id.clone()),
            Callback::SmsSessionLink(c) => Some(c.session_id.clone()),
            Callback::EmailOneTimePassword(c) => Some(c.session_id.clone()),
            Callback::EmailSessionLink(c) => Some(c.session_id.clone()),
            Callback::SessionChange(c) => Some(c.session_id.clone()),
            Callback::VideoCallStatus(c) => Some(c.session_id.clone()),
            Callback::Unhandled(u) => u.session_id(),
        }
    }
}
