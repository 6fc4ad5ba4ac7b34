//! The HTML part of an e-mail, from askama templates (`templates/`), compiled into the binary
//! and escaping every value by default: nothing from a callback reaches the HTML unescaped, and
//! the only URL any `href` holds is the validated `sessionLink` (a [`SessionLink`], the type
//! the template's link comes from). The text part is not made here: it is the callback's text
//! as it always was.
//!
//! - `plain` (the default): the content as a paragraph and the link as an anchor, unstyled.
//! - `branded`: the company's name or logo, the content, for a link a button that opens it and
//!   the same URL written out below; a footer line. Laid out as mail clients read it: tables
//!   and inline styles (they strip `<style>` and flexbox), at most 600 px wide, readable with
//!   images off (the logo's `alt` is the company's name), a `lang`, text colours chosen for
//!   contrast against the accent colour.

use askama::Template;
use shared::config::{ConfigError, one_line, optional};
use shared::fields::SessionLink;

/// Gmail clips a message whose HTML is longer (102 KB): past this the e-mail falls back to the
/// plain layout, and past it again to the text part alone.
pub const MAX_HTML_BYTES: usize = 100_000;

/// How the HTML part looks: `EMAIL_LAYOUT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Plain,
    Branded(Brand),
}

/// The company's look: `EMAIL_BRAND_*` and `EMAIL_LANGUAGE`, checked at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub company: String,
    /// An https URL, or none: the company's name is shown instead.
    pub logo_url: Option<String>,
    /// `#rrggbb`: the top border and the button.
    pub accent: String,
    /// The button's text colour: white, or near-black (black on a mid-tone) on a light accent.
    pub on_accent: &'static str,
    /// The written-out link's colour: the accent when it reads on white, else a dark blue.
    pub link: String,
    pub footer: Option<String>,
    pub button: String,
    /// The `lang` of the document (BCP 47).
    pub language: String,
}

const DEFAULT_ACCENT: &str = "#1a56db";
const DEFAULT_BUTTON: &str = "Continue verification";
/// WCAG AA for normal text.
const MIN_CONTRAST: f64 = 4.5;
/// The body text's colour, and the button's on a light accent.
const NEAR_BLACK: [u8; 3] = [0x11, 0x18, 0x27];

impl Layout {
    /// `EMAIL_LAYOUT` (`plain` or `branded`) and, for `branded`, `EMAIL_BRAND_NAME` (the From
    /// name, or the From address's domain, when unset), `EMAIL_BRAND_LOGO_URL`,
    /// `EMAIL_BRAND_COLOR`, `EMAIL_BRAND_FOOTER`, `EMAIL_BRAND_BUTTON`, `EMAIL_LANGUAGE`.
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
        default_company: &str,
    ) -> Result<Self, ConfigError> {
        let optional = |name: &str| optional(lookup, name);
        match optional("EMAIL_LAYOUT").as_deref() {
            None | Some("plain") => return Ok(Layout::Plain),
            Some("branded") => {}
            Some(_) => return Err(ConfigError::new("EMAIL_LAYOUT", "must be plain or branded")),
        }
        let line = |name: &'static str, max: usize| one_line(lookup, name, max);
        let company = line("EMAIL_BRAND_NAME", 64)?.unwrap_or_else(|| default_company.to_owned());
        let logo_url = optional("EMAIL_BRAND_LOGO_URL")
            .map(|url| match https_url(&url) {
                true => Ok(url),
                false => Err(ConfigError::new(
                    "EMAIL_BRAND_LOGO_URL",
                    "must be an https URL without credentials, at most 512 characters",
                )),
            })
            .transpose()?;
        let accent = optional("EMAIL_BRAND_COLOR").unwrap_or_else(|| DEFAULT_ACCENT.to_owned());
        let Some(rgb) = colour(&accent) else {
            return Err(ConfigError::new("EMAIL_BRAND_COLOR", "must be #rrggbb"));
        };
        let language = optional("EMAIL_LANGUAGE").unwrap_or_else(|| "en".to_owned());
        if !language_tag(&language) {
            return Err(ConfigError::new(
                "EMAIL_LANGUAGE",
                "must be a language tag such as en, ka or pt-BR",
            ));
        }
        let readable_on_white = contrast(rgb, [255, 255, 255]) >= MIN_CONTRAST;
        Ok(Layout::Branded(Brand {
            company,
            logo_url,
            accent: accent.to_ascii_lowercase(),
            // Every colour has 4.5:1 against white or black (the worst, mid-grey, 4.58:1).
            on_accent: match readable_on_white {
                true => "#ffffff",
                false if contrast(NEAR_BLACK, rgb) >= MIN_CONTRAST => "#111827",
                false => "#000000",
            },
            link: match readable_on_white {
                true => accent.to_ascii_lowercase(),
                false => "#1d4ed8".to_owned(),
            },
            footer: line("EMAIL_BRAND_FOOTER", 256)?,
            button: line("EMAIL_BRAND_BUTTON", 40)?.unwrap_or_else(|| DEFAULT_BUTTON.to_owned()),
            language,
        }))
    }
}

fn https_url(raw: &str) -> bool {
    raw.len() <= 512
        && url::Url::parse(raw).is_ok_and(|u| {
            u.scheme() == "https"
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.username().is_empty()
                && u.password().is_none()
        })
}

fn colour(raw: &str) -> Option<[u8; 3]> {
    let hex = raw.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

fn language_tag(raw: &str) -> bool {
    let mut parts = raw.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// WCAG's contrast ratio of two sRGB colours.
fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let luminance = |c: [u8; 3]| {
        let linear = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.039_28 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(c[0]) + 0.7152 * linear(c[1]) + 0.0722 * linear(c[2])
    };
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

#[derive(Template)]
#[template(path = "plain.html")]
struct Plain<'a> {
    lines: Vec<&'a str>,
    link: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "branded.html")]
struct Branded<'a> {
    brand: &'a Brand,
    subject: &'a str,
    paragraphs: Vec<Vec<&'a str>>,
    link: Option<&'a str>,
}

/// The HTML part of an e-mail with `content` and, for a session link, `link`: in `layout`, or
/// the plain one when the branded one would be clipped, or none (the text part alone) when
/// even that would be.
pub fn html(
    layout: &Layout,
    subject: &str,
    content: &str,
    link: Option<&SessionLink>,
) -> Option<String> {
    let link = link.map(SessionLink::as_str);
    let fits = |html: String| (html.len() <= MAX_HTML_BYTES).then_some(html);
    let branded = match layout {
        Layout::Plain => None,
        Layout::Branded(brand) => Branded {
            brand,
            subject,
            paragraphs: paragraphs(content),
            link,
        }
        .render()
        .ok()
        .and_then(fits),
    };
    branded.or_else(|| {
        Plain {
            lines: content.lines().collect(),
            link,
        }
        .render()
        .ok()
        .and_then(fits)
    })
}

/// The content's paragraphs (split at blank lines), each as its lines.
fn paragraphs(content: &str) -> Vec<Vec<&str>> {
    let mut paragraphs = vec![Vec::new()];
    for line in content.lines() {
        match (line.trim().is_empty(), paragraphs.last_mut()) {
            (true, Some(last)) if !last.is_empty() => paragraphs.push(Vec::new()),
            (true, _) => {}
            (false, Some(last)) => last.push(line),
            (false, None) => paragraphs.push(vec![line]),
        }
    }
    paragraphs.retain(|p| !p.is_empty());
    paragraphs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand(pairs: &[(&str, &str)]) -> Result<Layout, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Layout::from_lookup(
            &move |name: &str| {
                (pairs.iter())
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .or_else(|| (name == "EMAIL_LAYOUT").then(|| "branded".to_owned()))
            },
            "Acme",
        )
    }

    fn branded(pairs: &[(&str, &str)]) -> Brand {
        match brand(pairs).unwrap() {
            Layout::Branded(b) => b,
            Layout::Plain => panic!("plain"),
        }
    }

    #[test]
    fn plain_unless_branded_is_chosen() {
        assert_eq!(
            Layout::from_lookup(&|_: &str| None, "Acme"),
            Ok(Layout::Plain)
        );
        let error = Layout::from_lookup(
            &|n: &str| (n == "EMAIL_LAYOUT").then(|| "fancy".to_owned()),
            "Acme",
        )
        .unwrap_err();
        assert_eq!(error.name, "EMAIL_LAYOUT");
        let b = branded(&[]);
        assert_eq!(
            (b.company.as_str(), b.accent.as_str(), b.language.as_str()),
            ("Acme", "#1a56db", "en")
        );
    }

    #[test]
    fn brand_settings_are_checked_at_start() {
        for (name, bad) in [
            ("EMAIL_BRAND_LOGO_URL", "http://acme.example/logo.png"),
            ("EMAIL_BRAND_LOGO_URL", "javascript:alert(1)"),
            (
                "EMAIL_BRAND_LOGO_URL",
                "https://user:pw@acme.example/logo.png",
            ),
            ("EMAIL_BRAND_LOGO_URL", "data:image/png;base64,AAAA"),
            ("EMAIL_BRAND_COLOR", "red"),
            ("EMAIL_BRAND_COLOR", "#12345"),
            ("EMAIL_BRAND_COLOR", "#12345g"),
            ("EMAIL_BRAND_COLOR", "#123456;background:url(x)"),
            ("EMAIL_BRAND_NAME", "Acme\nBcc: x"),
            ("EMAIL_BRAND_FOOTER", "line\r\nline"),
            (
                "EMAIL_BRAND_BUTTON",
                "a button text far longer than forty characters",
            ),
            ("EMAIL_LANGUAGE", "english"),
            ("EMAIL_LANGUAGE", "en\" onload=\"x"),
        ] {
            assert_eq!(brand(&[(name, bad)]).unwrap_err().name, name, "{bad}");
        }
    }

    #[test]
    fn text_colours_keep_their_contrast() {
        let dark = branded(&[("EMAIL_BRAND_COLOR", "#0B3D91")]);
        assert_eq!((dark.on_accent, dark.link.as_str()), ("#ffffff", "#0b3d91"));
        let light = branded(&[("EMAIL_BRAND_COLOR", "#FFD400")]);
        assert_eq!(
            (light.on_accent, light.link.as_str()),
            ("#111827", "#1d4ed8")
        );
        assert!(contrast(NEAR_BLACK, [0xff, 0xd4, 0x00]) >= MIN_CONTRAST);
        // A mid-grey reads on neither white nor near-black: black, then.
        let grey = branded(&[("EMAIL_BRAND_COLOR", "#777777")]);
        assert_eq!(grey.on_accent, "#000000");
        for v in (0..=255u8).step_by(3) {
            for accent in [[v, v, v], [v, 0, 0], [0, v, 0], [0, 0, v], [255, v, 0]] {
                let hex = format!("#{:02x}{:02x}{:02x}", accent[0], accent[1], accent[2]);
                let b = branded(&[("EMAIL_BRAND_COLOR", &hex)]);
                let text = colour(b.on_accent).unwrap();
                assert!(
                    contrast(text, accent) >= MIN_CONTRAST,
                    "{hex} with {}",
                    b.on_accent
                );
                let link = colour(&b.link).unwrap();
                assert!(
                    contrast(link, [255, 255, 255]) >= MIN_CONTRAST,
                    "{hex}: link"
                );
            }
        }
        assert!(contrast([0x1d, 0x4e, 0xd8], [255, 255, 255]) >= MIN_CONTRAST);
        assert!((contrast([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 0.01);
    }

    #[test]
    fn content_becomes_paragraphs_of_lines() {
        assert_eq!(
            paragraphs("Dear John,\nplease verify.\n\n\nThanks\n"),
            [vec!["Dear John,", "please verify."], vec!["Thanks"]]
        );
        assert!(paragraphs("\n \n").is_empty());
    }
}
