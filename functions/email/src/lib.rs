//! The email family: sends the OTP and session-link e-mails through Amazon SES, once, fresh and
//! within the abuse limits (see `shared::delivery`). Nothing from the callback reaches a
//! header unchecked or the HTML part unescaped ([`layout`]).

pub mod layout;

use std::time::Instant;

use aws_sdk_ses::types::{Body, Content, Destination, Message};
use base64::Engine;
use shared::aws::Provider;
use shared::config::{ConfigError, one_line, optional};
use shared::delivery::{SendError, deliver, log_delivery};
use shared::family::{FamilyError, Handler, misrouted};
use shared::fields::EmailAddress;
use shared::message::{
    Channel, Delivery, DeliveryOutcome, DeliveryRules, Kind, Limit, OverLimit, Weight, digest_key,
};
use shared::policy::{hourly_budget, hourly_limit};
use shared::redact::mask_email;
use shared::{Callback, Envelope, Family, SessionsTable};

pub use layout::Layout;
use layout::html;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    /// `EMAIL_FROM_ADDRESS` (required): a verified SES identity.
    pub from_address: EmailAddress,
    /// `EMAIL_FROM_NAME`: the display name, e.g. `Acme Verification`.
    pub from_name: Option<String>,
    /// `SES_CONFIGURATION_SET`: for event publishing (bounces, complaints).
    pub configuration_set: Option<String>,
    /// `EMAIL_LAYOUT` and the brand: how the HTML part looks.
    pub layout: Layout,
    /// `EMAIL_RATE_LIMIT_PER_HOUR` (10): e-mails per mailbox ([`EmailAddress::mailbox`]), To
    /// or Cc, in any 60 minutes.
    pub rate_limit_per_hour: u32,
    /// `EMAIL_PER_SESSION_PER_HOUR` (20): recipients (To and each Cc) per session in any 60
    /// minutes, whatever the addresses.
    pub per_session_per_hour: u32,
    /// `EMAIL_MAX_PER_HOUR` (500): OTP e-mail recipients of the whole deployment in any 60
    /// minutes.
    pub max_per_hour: u32,
    /// `EMAIL_LINK_MAX_PER_HOUR` (200): session-link e-mail recipients, To and each Cc, of the
    /// whole deployment in any 60 minutes: a budget of their own, like the SMS ones.
    pub link_max_per_hour: u32,
    pub rules: DeliveryRules,
}

impl EmailConfig {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let optional = |name: &str| optional(lookup, name);
        let from_address = optional("EMAIL_FROM_ADDRESS")
            .ok_or_else(|| ConfigError::new("EMAIL_FROM_ADDRESS", "is required"))
            .and_then(|a| {
                EmailAddress::parse(&a)
                    .map_err(|_| ConfigError::new("EMAIL_FROM_ADDRESS", "is not an e-mail address"))
            })?;
        let from_name = one_line(lookup, "EMAIL_FROM_NAME", 64)?;
        let configuration_set = optional("SES_CONFIGURATION_SET");
        let company = from_name
            .as_deref()
            .unwrap_or(from_address.domain())
            .to_owned();
        Ok(Self {
            layout: Layout::from_lookup(lookup, &company)?,
            from_address,
            from_name,
            configuration_set,
            rate_limit_per_hour: hourly_limit(lookup, "EMAIL_RATE_LIMIT_PER_HOUR", 10)?,
            per_session_per_hour: hourly_limit(lookup, "EMAIL_PER_SESSION_PER_HOUR", 20)?,
            max_per_hour: hourly_budget(lookup, "EMAIL_MAX_PER_HOUR", DEFAULT_MAX_PER_HOUR)?,
            link_max_per_hour: hourly_budget(
                lookup,
                "EMAIL_LINK_MAX_PER_HOUR",
                DEFAULT_LINK_MAX_PER_HOUR,
            )?,
            rules: DeliveryRules::from_lookup(lookup)?,
        })
    }

    /// The `Source` header: the address alone, `"Name" <address>`, or for a non-ASCII name its
    /// RFC 2047 encoded form.
    pub fn source(&self) -> String {
        let address = self.from_address.as_str();
        match &self.from_name {
            None => address.to_owned(),
            Some(name) if name.is_ascii() => {
                let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
                format!("\"{quoted}\" <{address}>")
            }
            Some(name) => format!("{} <{address}>", encoded_words(name)),
        }
    }
}

/// `name` as RFC 2047 encoded words of UTF-8 in base64, each at most 75 characters (section
/// 2) and each holding whole characters (section 5: a word must not split one), separated by
/// a space. 45 bytes of UTF-8 make 60 of base64, and `=?UTF-8?B?` and `?=` 12 more: 72.
pub fn encoded_words(name: &str) -> String {
    const MAX_BYTES: usize = 45;
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (at, c) in name.char_indices() {
        if at + c.len_utf8() - start > MAX_BYTES {
            words.push(&name[start..end]);
            start = at;
        }
        end = at + c.len_utf8();
    }
    words.push(&name[start..end]);
    words
        .iter()
        .map(|w| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(w);
            format!("=?UTF-8?B?{encoded}?=")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The deployment's OTP e-mail budget, in recipients, when `EMAIL_MAX_PER_HOUR` is unset: far
/// above a company's verification traffic, far below what gets an SES account paused.
pub const DEFAULT_MAX_PER_HOUR: u32 = 500;
/// The session-link e-mail budget, in recipients, when `EMAIL_LINK_MAX_PER_HOUR` is unset.
pub const DEFAULT_LINK_MAX_PER_HOUR: u32 = 200;

/// The e-mail a callback asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub kind: Kind,
    pub to: EmailAddress,
    pub cc: Vec<EmailAddress>,
    pub subject: String,
    pub text: String,
    /// None when even the plain layout would be longer than [`layout::MAX_HTML_BYTES`].
    pub html: Option<String>,
}

/// The e-mail a callback asks for, its HTML part in `layout`. The text part is the content
/// (and for a session link, a blank line and the link), whatever the layout.
pub fn compose(callback: &Callback, layout: &Layout) -> Option<Email> {
    match callback {
        Callback::EmailOneTimePassword(c) => Some(Email {
            kind: Kind::OneTimePassword,
            to: c.address.clone(),
            cc: Vec::new(),
            subject: c.subject.as_str().to_owned(),
            text: c.content.as_str().to_owned(),
            html: html(layout, c.subject.as_str(), c.content.as_str(), None),
        }),
        Callback::EmailSessionLink(c) => Some(Email {
            kind: Kind::SessionLink,
            to: c.address.clone(),
            cc: c.cc.addresses().to_vec(),
            subject: c.subject.as_str().to_owned(),
            text: format!("{}\n\n{}", c.content.as_str(), c.session_link.as_str()),
            html: html(
                layout,
                c.subject.as_str(),
                c.content.as_str(),
                Some(&c.session_link),
            ),
        }),
        _ => None,
    }
}

/// The Cc addresses whose mailbox is neither the To address's nor an earlier Cc's: one inbox
/// gets one copy, however many spellings of it the callback lists.
pub fn distinct_mailboxes(to: &EmailAddress, cc: Vec<EmailAddress>) -> Vec<EmailAddress> {
    let mut seen = vec![to.mailbox()];
    cc.into_iter()
        .filter(|address| {
            let mailbox = address.mailbox();
            let new = !seen.contains(&mailbox);
            seen.push(mailbox);
            new
        })
        .collect()
}

pub struct EmailFamily {
    pub ses: aws_sdk_ses::Client,
    pub table: SessionsTable,
    pub config: EmailConfig,
}

impl EmailFamily {
    /// The family with its settings read through `lookup`.
    pub fn new(
        ses: aws_sdk_ses::Client,
        table: SessionsTable,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            ses,
            table,
            config: EmailConfig::from_lookup(lookup)?,
        })
    }

    pub async fn handle(&self, envelope: &Envelope) -> Result<DeliveryOutcome, FamilyError> {
        let started = Instant::now();
        let Some(mut email) = compose(&envelope.callback, &self.config.layout) else {
            return Err(misrouted(Family::Email, envelope, started));
        };
        email.cc = distinct_mailboxes(&email.to, std::mem::take(&mut email.cc));
        let masked = mask_email(email.to.as_str());
        let session = envelope.callback.session_id().map_or("", |s| s.as_str());
        let cc: Vec<&str> = email.cc.iter().map(EmailAddress::as_str).collect();
        let cc = cc.join(",");
        let to = email.to.as_str().to_ascii_lowercase();
        let recipients = 1 + email.cc.len();
        let delivery = Delivery {
            channel: Channel::Email,
            kind: email.kind,
            key: digest_key(&[
                envelope.callback.type_name(),
                session,
                &to,
                &cc,
                &email.subject,
                &email.text,
            ]),
            masked_recipient: masked.clone(),
            billed: u32::try_from(recipients).unwrap_or(u32::MAX),
            suppress: None,
            limits: self.limits(&email, session),
            dropped_cc: match &envelope.callback {
                Callback::EmailSessionLink(c) => c.cc_dropped.clone(),
                _ => Vec::new(),
            },
        };
        let result = deliver(
            &self.table,
            &self.config.rules,
            envelope,
            &delivery,
            |left_out| self.send(&email, left_out),
        )
        .await;
        log_delivery(Family::Email, envelope, &masked, result, started)
    }

    /// The To mailbox's limit, each Cc mailbox's (over it, the e-mail goes without that Cc),
    /// then the session's and the deployment's budget, both counting recipients.
    fn limits(&self, email: &Email, session: &str) -> Vec<Limit> {
        let per_mailbox = self.config.rate_limit_per_hour;
        let mut limits = vec![Limit::recipient(
            Channel::Email,
            &email.to.mailbox(),
            per_mailbox,
            OverLimit::Suppress("rate-limited"),
            Weight::One,
        )];
        limits.extend(email.cc.iter().enumerate().map(|(i, cc)| {
            Limit::recipient(
                Channel::Email,
                &cc.mailbox(),
                per_mailbox,
                OverLimit::DropCc(i),
                Weight::One,
            )
        }));
        limits.push(Limit::session(
            Channel::Email,
            session,
            self.config.per_session_per_hour,
        ));
        let budget = match email.kind {
            Kind::OneTimePassword => self.config.max_per_hour,
            Kind::SessionLink => self.config.link_max_per_hour,
        };
        limits.push(Limit::budget(Channel::Email, email.kind, budget));
        limits
    }

    async fn send(&self, email: &Email, left_out: Vec<usize>) -> Result<String, SendError> {
        let content = |text: &str| {
            Content::builder()
                .data(text)
                .charset("UTF-8")
                .build()
                .map_err(|e| SendError::Configuration(e.to_string()))
        };
        let destination = Destination::builder()
            .to_addresses(email.to.as_str())
            .set_cc_addresses({
                let cc: Vec<String> = (email.cc.iter().enumerate())
                    .filter(|(i, _)| !left_out.contains(i))
                    .map(|(_, a)| a.as_str().to_owned())
                    .collect();
                (!cc.is_empty()).then_some(cc)
            })
            .build();
        let html = email.html.as_deref().map(content).transpose()?;
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .text(content(&email.text)?)
                    .set_html(html)
                    .build(),
            )
            .build();
        let result = self
            .ses
            .send_email()
            .source(self.config.source())
            .destination(destination)
            .message(message)
            .set_configuration_set_name(self.config.configuration_set.clone())
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.message_id().to_owned()),
            Err(e) => Err(SendError::from_sdk(Provider::Ses, &e)),
        }
    }
}

impl Handler for EmailFamily {
    const FAMILY: Family = Family::Email;

    async fn invoke(&self, envelope: &Envelope) -> Result<&'static str, FamilyError> {
        self.handle(envelope).await.map(DeliveryOutcome::name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::callback::EmailSessionLink;
    use shared::fields::{CcList, EmailContent, SessionId, SessionLink, Subject};

    fn link_email(content: &str) -> Callback {
        Callback::EmailSessionLink(EmailSessionLink {
            session_id: SessionId::parse("abc").unwrap(),
            address: EmailAddress::parse("john.doe@example.com").unwrap(),
            subject: Subject::parse("Verify").unwrap(),
            content: EmailContent::parse(content).unwrap(),
            cc: CcList::parse("a@example.com; b@example.com").unwrap(),
            cc_dropped: Vec::new(),
            session_link: SessionLink::parse(LINK).unwrap(),
            created_by: None,
        })
    }

    const LINK: &str = "https://widget.identomat.com/?session_token=abc&x=1";

    fn branded() -> Layout {
        Layout::from_lookup(
            &|name: &str| match name {
                "EMAIL_LAYOUT" => Some("branded".to_owned()),
                "EMAIL_BRAND_LOGO_URL" => Some("https://acme.example/logo.png".to_owned()),
                "EMAIL_BRAND_FOOTER" => Some("Acme Bank, 1 Main Street".to_owned()),
                _ => None,
            },
            "Acme Bank",
        )
        .unwrap()
    }

    /// Every `href` and `src` of `html`, its entities decoded as a browser decodes them.
    fn urls(html: &str, attribute: &str) -> Vec<String> {
        let marker = format!("{attribute}=\"");
        html.split(&marker)
            .skip(1)
            .map(|rest| {
                let value = &rest[..rest.find('"').unwrap()];
                value
                    .replace("&#38;", "&")
                    .replace("&amp;", "&")
                    .replace("&#34;", "\"")
                    .replace("&#39;", "'")
            })
            .collect()
    }

    #[test]
    fn the_text_part_is_the_same_in_every_layout() {
        for layout in [Layout::Plain, branded()] {
            let email = compose(&link_email("Dear John,\nplease verify."), &layout).unwrap();
            assert_eq!(email.text, format!("Dear John,\nplease verify.\n\n{LINK}"));
            let cc: Vec<&str> = email.cc.iter().map(EmailAddress::as_str).collect();
            assert_eq!(cc, ["a@example.com", "b@example.com"]);
        }
    }

    #[test]
    fn the_plain_layout_is_the_paragraph_and_the_link() {
        let html = compose(&link_email("Dear John,\nplease verify."), &Layout::Plain)
            .unwrap()
            .html
            .unwrap();
        assert_eq!(
            html,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n\
             <p>Dear John,<br>\nplease verify.</p>\n\
             <p><a href=\"https://widget.identomat.com/?session_token=abc&#38;x=1\">\
             https://widget.identomat.com/?session_token=abc&#38;x=1</a></p>\n</body></html>"
        );
    }

    #[test]
    fn the_branded_layout_is_what_mail_clients_render() {
        let html = compose(
            &link_email("Dear John,\nplease verify.\n\nThanks"),
            &branded(),
        )
        .unwrap()
        .html
        .unwrap();
        assert!(
            html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
            "{html}"
        );
        assert!(html.contains("max-width:600px"), "{html}");
        assert!(html.contains("role=\"presentation\""), "{html}");
        // Clients strip <style> and flexbox; no script, ever.
        for absent in ["<style", "display:flex", "<script", "<link", "@import"] {
            assert!(!html.contains(absent), "{absent}");
        }
        // The logo, with the company's name for images off; the footer; two paragraphs.
        assert_eq!(urls(&html, "src"), ["https://acme.example/logo.png"]);
        assert!(html.contains("alt=\"Acme Bank\""));
        assert!(html.contains("Acme Bank, 1 Main Street"));
        assert!(html.contains(">Dear John,<br>please verify.</p>"), "{html}");
        assert!(html.contains(">Thanks</p>"), "{html}");
        // The button and the written-out link, both the session link.
        assert_eq!(urls(&html, "href"), [LINK, LINK]);
        assert!(html.contains(">Continue verification</a>"));
        // An OTP has no button: Identomat's text, with its code, as it is.
        let otp = Callback::EmailOneTimePassword(shared::callback::EmailOneTimePassword {
            session_id: SessionId::parse("abc").unwrap(),
            address: EmailAddress::parse("john.doe@example.com").unwrap(),
            subject: Subject::parse("Your code").unwrap(),
            content: EmailContent::parse("Your code is 6867").unwrap(),
        });
        let html = compose(&otp, &branded()).unwrap().html.unwrap();
        assert!(urls(&html, "href").is_empty());
        assert!(html.contains(">Your code is 6867</p>"));
    }

    #[test]
    fn nothing_from_a_callback_is_markup_or_a_link_target() {
        let hostile = "<script>alert('x')</script> & \"quotes\" <a href=\"https://evil.example/\">\
                       click</a> <img src=x onerror=alert(1)> javascript:alert(1) \
                       https://evil.example/login";
        for layout in [Layout::Plain, branded()] {
            let mut callback = link_email(hostile);
            if let Callback::EmailSessionLink(c) = &mut callback {
                c.subject = Subject::parse("<title>\"x\" onload='y'</title>").unwrap();
            }
            let html = compose(&callback, &layout).unwrap().html.unwrap();
            for raw in [
                "<script",
                "<a href=\"https://evil",
                "<img src=x",
                "<title>\"",
            ] {
                assert!(!html.contains(raw), "{raw} in {html}");
            }
            assert!(html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"));
            // Whatever the text says, every link goes to the session link; the only image is
            // the configured logo.
            assert!(urls(&html, "href").iter().all(|u| u == LINK), "{html}");
            assert!(
                urls(&html, "src")
                    .iter()
                    .all(|u| u == "https://acme.example/logo.png")
            );
        }
    }

    #[test]
    fn an_html_part_gmail_would_clip_falls_back_then_goes() {
        let layout = branded();
        let escaped = |n: usize| compose(&link_email(&"&".repeat(n)), &layout).unwrap();
        // 19,800 ampersands are 99,000 bytes escaped: the branded page would pass 100,000, the
        // plain one does not.
        let email = escaped(19_800);
        let html = email.html.unwrap();
        assert!(html.len() <= layout::MAX_HTML_BYTES);
        assert!(
            html.starts_with("<!DOCTYPE html>\n<html><head>"),
            "the plain layout"
        );
        // 32,000 are past both: the text part alone.
        let email = escaped(32_000);
        assert_eq!(email.html, None);
        assert!(email.text.len() > 32_000);
        // A real message stays branded, far under the bound.
        let html = compose(&link_email("Dear John,\nplease verify."), &layout)
            .unwrap()
            .html
            .unwrap();
        assert!(html.len() < 6_000, "{}", html.len());
    }

    #[test]
    fn content_cannot_reach_a_header() {
        // Header-like text stays in the body: subjects and addresses were checked at the door.
        let email = compose(
            &link_email("Bcc: victim@example.com\nSubject: hi"),
            &Layout::Plain,
        )
        .unwrap();
        assert!(
            email
                .text
                .starts_with("Bcc: victim@example.com\nSubject: hi")
        );
    }

    #[test]
    fn one_inbox_gets_one_copy_whatever_the_spellings() {
        let to = EmailAddress::parse("victim@gmail.com").unwrap();
        let cc = CcList::parse("Victim+1@gmail.com; v.ictim@googlemail.com; boss@example.com; BOSS@example.com; other@example.com").unwrap();
        let kept = distinct_mailboxes(&to, cc.addresses().to_vec());
        let kept: Vec<&str> = kept.iter().map(EmailAddress::as_str).collect();
        assert_eq!(kept, ["boss@example.com", "other@example.com"]);
    }

    #[test]
    fn source_header() {
        let mut config = EmailConfig::from_lookup(&|n: &str| {
            (n == "EMAIL_FROM_ADDRESS").then(|| "no-reply@example.com".to_owned())
        })
        .unwrap();
        assert_eq!(config.source(), "no-reply@example.com");
        config.from_name = Some("Acme \"Verify\"".into());
        assert_eq!(
            config.source(),
            "\"Acme \\\"Verify\\\"\" <no-reply@example.com>"
        );
        config.from_name = Some("ვერიფიკაცია".into());
        assert!(config.source().starts_with("=?UTF-8?B?"));
        assert!(config.source().ends_with("?= <no-reply@example.com>"));
    }

    /// RFC 2047: each encoded word at most 75 characters, and none splitting a character, so
    /// that a name of the longest `EMAIL_FROM_NAME` allows decodes as it was written.
    #[test]
    fn a_long_non_ascii_name_is_several_words_of_whole_characters() {
        use base64::Engine;
        for name in [
            "ვერიფიკაცია".repeat(5).chars().take(64).collect::<String>(),
            "Ä".repeat(64),
            format!("Acme {}", "😀".repeat(20)),
            "é".to_owned(),
        ] {
            let encoded = encoded_words(&name);
            let mut decoded = String::new();
            for word in encoded.split(' ') {
                assert!(word.len() <= 75, "{} chars: {word}", word.len());
                let b64 = word
                    .strip_prefix("=?UTF-8?B?")
                    .and_then(|w| w.strip_suffix("?="))
                    .expect("an encoded word");
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap();
                // Each word is whole UTF-8 on its own.
                decoded.push_str(&String::from_utf8(bytes).expect("whole characters"));
            }
            assert_eq!(decoded, name);
        }
        assert_eq!(encoded_words("é").split(' ').count(), 1);
        assert!(encoded_words(&"Ä".repeat(64)).split(' ').count() > 1);
    }

    #[test]
    fn config_requires_a_sender() {
        assert_eq!(
            EmailConfig::from_lookup(&|_: &str| None).unwrap_err().name,
            "EMAIL_FROM_ADDRESS"
        );
        let bad_name = |n: &str| match n {
            "EMAIL_FROM_ADDRESS" => Some("no-reply@example.com".to_owned()),
            "EMAIL_FROM_NAME" => Some("Acme\r\nBcc: x@evil.com".to_owned()),
            _ => None,
        };
        assert_eq!(
            EmailConfig::from_lookup(&bad_name).unwrap_err().name,
            "EMAIL_FROM_NAME"
        );
    }
}
