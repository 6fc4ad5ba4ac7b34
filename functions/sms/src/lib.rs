//! The sms family: sends the OTP and session-link SMS through Amazon SNS, once, fresh and
//! within the abuse limits (see `shared::delivery`).

use std::time::Instant;

use aws_sdk_sns::types::MessageAttributeValue;
use shared::aws::Provider;
use shared::config::{ConfigError, optional};
use shared::countries::SmsDestinations;
use shared::delivery::{Report, SendError, deliver, log_delivery, unsent};
use shared::family::{FamilyError, Handler, misrouted};
use shared::fields::{PhoneNumber, SmsText};
use shared::message::{
    Channel, Delivery, DeliveryOutcome, DeliveryRules, DeliveryState, Kind, Limit, OverLimit,
    Weight, digest_key,
};
use shared::policy::{hourly_budget, hourly_limit};
use shared::redact::mask_phone;
use shared::segments;
use shared::{Callback, Envelope, Family, SessionsTable};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsConfig {
    /// `SMS_SENDER_ID`: 1 to 11 letters and digits, at least one letter.
    pub sender_id: Option<String>,
    /// `SMS_ORIGINATION_NUMBER`: an E.164 number of the account.
    pub origination_number: Option<PhoneNumber>,
    /// `SMS_MAX_PRICE_USD`: the most one SMS may cost, e.g. `0.50`.
    pub max_price_usd: Option<String>,
    /// `SMS_ALLOWED_COUNTRIES` (required): regions, e.g. `US,CA,GE`, or `*` for every
    /// geographic one; `SMS_ALLOWED_NUMBER_TYPES`: premium-rate, shared-cost or UAN numbers
    /// opted into (none by default).
    pub destinations: SmsDestinations,
    /// `SMS_RATE_LIMIT_PER_HOUR` (10): SMS parts per phone number in any 60 minutes.
    pub rate_limit_per_hour: u32,
    /// `SMS_PER_SESSION_PER_HOUR` (10): SMS parts per session in any 60 minutes, whatever the
    /// numbers.
    pub per_session_per_hour: u32,
    /// `SMS_MAX_PER_HOUR` (200): OTP SMS parts of the whole deployment in any 60 minutes.
    pub max_per_hour: u32,
    /// `SMS_LINK_MAX_PER_HOUR` (50): session-link SMS parts of the whole deployment in any 60
    /// minutes: a budget of their own, so a flood of links cannot spend the OTPs'.
    pub link_max_per_hour: u32,
    pub rules: DeliveryRules,
}

impl SmsConfig {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let optional = |name: &str| optional(lookup, name);
        let sender_id = optional("SMS_SENDER_ID");
        if let Some(id) = &sender_id {
            let ok = (1..=11).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric())
                && id.bytes().any(|b| b.is_ascii_alphabetic());
            if !ok {
                return Err(ConfigError::new(
                    "SMS_SENDER_ID",
                    "must be 1-11 letters and digits with a letter",
                ));
            }
        }
        let origination_number = optional("SMS_ORIGINATION_NUMBER")
            .map(|number| PhoneNumber::parse(&number))
            .transpose()
            .map_err(|_| ConfigError::new("SMS_ORIGINATION_NUMBER", "must be E.164"))?;
        let max_price_usd = optional("SMS_MAX_PRICE_USD");
        if let Some(price) = &max_price_usd
            && !price.parse::<f64>().is_ok_and(|p| p > 0.0 && p.is_finite())
        {
            return Err(ConfigError::new(
                "SMS_MAX_PRICE_USD",
                "must be a positive amount",
            ));
        }
        Ok(Self {
            sender_id,
            origination_number,
            max_price_usd,
            destinations: SmsDestinations::from_lookup(lookup)?,
            rate_limit_per_hour: hourly_limit(lookup, "SMS_RATE_LIMIT_PER_HOUR", 10)?,
            per_session_per_hour: hourly_limit(lookup, "SMS_PER_SESSION_PER_HOUR", 10)?,
            max_per_hour: hourly_budget(lookup, "SMS_MAX_PER_HOUR", DEFAULT_MAX_PER_HOUR)?,
            link_max_per_hour: hourly_budget(
                lookup,
                "SMS_LINK_MAX_PER_HOUR",
                DEFAULT_LINK_MAX_PER_HOUR,
            )?,
            rules: DeliveryRules::from_lookup(lookup)?,
        })
    }
}

/// The deployment's OTP SMS budget, in parts, when `SMS_MAX_PER_HOUR` is unset (the template's
/// default too): far above a company's verification traffic, a bounded bill for a night of
/// pumping.
pub const DEFAULT_MAX_PER_HOUR: u32 = 200;
/// The session-link SMS budget, in parts, when `SMS_LINK_MAX_PER_HOUR` is unset: operators send
/// links from the Manage platform, far fewer than the OTPs.
pub const DEFAULT_LINK_MAX_PER_HOUR: u32 = 50;

/// The SMS a callback asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    pub kind: Kind,
    pub to: PhoneNumber,
    pub message: String,
}

/// The OTP text as it is; a session link's text, a line break and the link, unless the text
/// holds the link already.
pub fn compose(callback: &Callback) -> Option<Sms> {
    match callback {
        Callback::SmsOneTimePassword(c) => Some(Sms {
            kind: Kind::OneTimePassword,
            to: c.phone_number.clone(),
            message: c.text.as_str().to_owned(),
        }),
        Callback::SmsSessionLink(c) => Some(Sms {
            kind: Kind::SessionLink,
            to: c.phone_number.clone(),
            message: c.message().into_owned(),
        }),
        _ => None,
    }
}

pub struct SmsFamily {
    pub sns: aws_sdk_sns::Client,
    pub table: SessionsTable,
    pub config: SmsConfig,
}

impl SmsFamily {
    /// The family with its settings read through `lookup`.
    pub fn new(
        sns: aws_sdk_sns::Client,
        table: SessionsTable,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            sns,
            table,
            config: SmsConfig::from_lookup(lookup)?,
        })
    }

    pub async fn handle(&self, envelope: &Envelope) -> Result<DeliveryOutcome, FamilyError> {
        let started = Instant::now();
        let Some(sms) = compose(&envelope.callback) else {
            return Err(misrouted(Family::Sms, envelope, started));
        };
        let masked = mask_phone(sms.to.as_str());
        let session = envelope.callback.session_id().map_or("", |s| s.as_str());
        let budget = match sms.kind {
            Kind::OneTimePassword => self.config.max_per_hour,
            Kind::SessionLink => self.config.link_max_per_hour,
        };
        let delivery = Delivery {
            channel: Channel::Sms,
            kind: sms.kind,
            key: digest_key(&[
                envelope.callback.type_name(),
                session,
                sms.to.as_str(),
                &sms.message,
            ]),
            masked_recipient: masked.clone(),
            billed: segments::parts(&sms.message).count,
            suppress: self.config.destinations.refusal(&sms.to),
            limits: vec![
                Limit::recipient(
                    Channel::Sms,
                    sms.to.as_str(),
                    self.config.rate_limit_per_hour,
                    OverLimit::Suppress("rate-limited"),
                    Weight::Billed,
                ),
                Limit::session(Channel::Sms, session, self.config.per_session_per_hour),
                Limit::budget(Channel::Sms, sms.kind, budget),
            ],
            dropped_cc: Vec::new(),
        };
        let result = if sms.message.len() > SmsText::MAX_BYTES {
            // The link made it too long for one SMS message: no retry can fix that. The
            // ingress refuses such a callback (422); an envelope of 0.2 may still carry one.
            let report = Report {
                outcome: DeliveryOutcome::Failed,
                reason: Some("message-too-long".to_owned()),
                billed: None,
            };
            unsent(
                &self.table,
                &delivery,
                envelope,
                DeliveryState::Failed,
                report,
            )
            .await
        } else {
            deliver(&self.table, &self.config.rules, envelope, &delivery, |_| {
                self.publish(&sms)
            })
            .await
        };
        log_delivery(Family::Sms, envelope, &masked, result, started)
    }

    async fn publish(&self, sms: &Sms) -> Result<String, SendError> {
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
        };
        let mut request = self
            .sns
            .publish()
            .phone_number(sms.to.as_str())
            .message(&sms.message);
        let attributes = [
            ("AWS.SNS.SMS.SMSType", Some("Transactional")),
            ("AWS.SNS.SMS.SenderID", self.config.sender_id.as_deref()),
            (
                "AWS.MM.SMS.OriginationNumber",
                self.config
                    .origination_number
                    .as_ref()
                    .map(PhoneNumber::as_str),
            ),
            ("AWS.SNS.SMS.MaxPrice", self.config.max_price_usd.as_deref()),
        ];
        for (name, value) in attributes {
            if let Some(value) = value {
                let value =
                    attribute(value).map_err(|e| SendError::Configuration(e.to_string()))?;
                request = request.message_attributes(name, value);
            }
        }
        match request.send().await {
            Ok(out) => Ok(out.message_id().unwrap_or_default().to_owned()),
            Err(e) => Err(SendError::from_sdk(Provider::Sns, &e)),
        }
    }
}

impl Handler for SmsFamily {
    const FAMILY: Family = Family::Sms;

    async fn invoke(&self, envelope: &Envelope) -> Result<&'static str, FamilyError> {
        self.handle(envelope).await.map(DeliveryOutcome::name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::callback::{SmsOneTimePassword, SmsSessionLink};
    use shared::fields::{SessionId, SessionLink};

    fn link_sms(text: &str) -> Callback {
        Callback::SmsSessionLink(SmsSessionLink {
            session_id: SessionId::parse("abc").unwrap(),
            text: SmsText::parse(text).unwrap(),
            phone_number: PhoneNumber::parse("+995512345678").unwrap(),
            session_link: SessionLink::parse("https://widget.identomat.com/?session_token=abc")
                .unwrap(),
            created_by: None,
        })
    }

    #[test]
    fn link_is_appended_unless_the_text_holds_it() {
        let sms = compose(&link_sms("Please verify:")).unwrap();
        assert_eq!(
            sms.message,
            "Please verify:\nhttps://widget.identomat.com/?session_token=abc"
        );
        assert_eq!(sms.kind, Kind::SessionLink);
        let holds = "Open https://widget.identomat.com/?session_token=abc now";
        assert_eq!(compose(&link_sms(holds)).unwrap().message, holds);
    }

    #[test]
    fn otp_text_is_sent_as_it_is() {
        let otp = Callback::SmsOneTimePassword(SmsOneTimePassword {
            session_id: SessionId::parse("abc").unwrap(),
            text: SmsText::parse("Your code is 6867").unwrap(),
            phone_number: PhoneNumber::parse("+995512345678").unwrap(),
        });
        let sms = compose(&otp).unwrap();
        assert_eq!(
            (sms.message.as_str(), sms.kind),
            ("Your code is 6867", Kind::OneTimePassword)
        );
    }

    #[test]
    fn config_from_the_environment() {
        let env = |name: &str| match name {
            "SMS_SENDER_ID" => Some("Acme".to_owned()),
            "SMS_ALLOWED_COUNTRIES" => Some("GE, ua".to_owned()),
            "SMS_MAX_PRICE_USD" => Some("0.50".to_owned()),
            _ => None,
        };
        let config = SmsConfig::from_lookup(&env).unwrap();
        assert_eq!(
            (
                config.rate_limit_per_hour,
                config.per_session_per_hour,
                config.max_per_hour
            ),
            (10, 10, DEFAULT_MAX_PER_HOUR)
        );
        let refusal =
            |number: &str| (config.destinations).refusal(&PhoneNumber::parse(number).unwrap());
        assert_eq!(refusal("+380501234567"), None);
        assert_eq!(refusal("+12025550100"), Some("country-not-allowed"));
        // Where SMS may go is the operator's choice: no default.
        let unset = |_: &str| None;
        assert_eq!(
            SmsConfig::from_lookup(&unset).unwrap_err().name,
            "SMS_ALLOWED_COUNTRIES"
        );
        for (name, bad) in [
            ("SMS_SENDER_ID", "Acme Corporation"),
            ("SMS_SENDER_ID", "12345"),
            ("SMS_ORIGINATION_NUMBER", "555-0100"),
            ("SMS_MAX_PRICE_USD", "-1"),
            ("SMS_ALLOWED_COUNTRIES", "georgia"),
            ("SMS_ALLOWED_COUNTRIES", "995"),
            ("SMS_ALLOWED_NUMBER_TYPES", "premium"),
            ("SMS_ALLOWED_COUNTRY_CODES", "995"),
            ("SMS_PER_SESSION_PER_HOUR", "0"),
            ("SMS_MAX_PER_HOUR", "1000000"),
            ("SMS_RATE_LIMIT_PER_HOUR", "many"),
            ("SMS_RATE_LIMIT_PER_HOUR", "0"),
            ("SMS_RATE_LIMIT_PER_HOUR", "101"),
        ] {
            let env = |n: &str| match n {
                n if n == name => Some(bad.to_owned()),
                "SMS_ALLOWED_COUNTRIES" => Some("*".to_owned()),
                _ => None,
            };
            assert_eq!(
                SmsConfig::from_lookup(&env).unwrap_err().name,
                name,
                "{bad}"
            );
        }
    }
}
