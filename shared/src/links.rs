//! The hosts a text names: every URL, with or without a scheme (`https://evil.example`,
//! `evil.example/login`), every e-mail address's domain, and every bare domain (`@evil.example
//! #1234`, a WebOTP line). An OTP text, a link message's text and an e-mail's subject and
//! content go out from the company's own number and domain; a host in them that the company did
//! not name is phishing in its name ([`crate::policy::LinkPolicy::check_text`]).
//!
//! URLs and addresses are found by `linkify`, which knows where they end around punctuation and
//! brackets. A scheme makes anything a URL (an IP address, `hxxp://`); without one, a name
//! counts as a domain when its last label is a real public suffix (the `psl` crate's list) or
//! it goes on like a URL (a path, `www.`), so `node.js`, `report.pdf` or `Mr.Smith` in a
//! sentence are not domains, while `evil.zip` and `evil.example/login` are. Names linkify leaves alone (a domain in a non-Latin script, such as `ევილ.გე`,
//! and the `@host` of a WebOTP line) are found by a scan of every run of letters, digits, dots
//! and hyphens, and whatever follows a `://` is a host too (an IPv6 literal). The dots a browser reads as dots (`。` and its kin) are read as dots first.

use linkify::{LinkFinder, LinkKind};

/// Characters IDNA maps to a full stop: `evil。com` opens `evil.com`.
const DOTS: [char; 3] = ['\u{3002}', '\u{FF0E}', '\u{FF61}'];

/// Every host `text` names, in lower case, each once.
pub fn hosts(text: &str) -> Vec<String> {
    let text: String = text
        .chars()
        .map(|c| if DOTS.contains(&c) { '.' } else { c })
        .collect();
    let mut found = Vec::new();
    let mut add = |host: String| {
        if !host.is_empty() && !found.contains(&host) {
            found.push(host);
        }
    };
    let mut finder = LinkFinder::new();
    finder.url_must_have_scheme(false);
    for link in finder.links(&text) {
        let raw = link.as_str();
        match link.kind() {
            LinkKind::Url => match raw.split_once("://") {
                Some((_, rest)) => add(url_host(rest)),
                None => {
                    // Without a scheme: a name whose suffix is public, or one that goes on
                    // like a URL (`evil.example/login`, `www.`): `node.js` is neither.
                    let host = url_host(raw);
                    let url_like = raw.len() > host.len() || host.starts_with("www.");
                    let sentence = sentence_join(raw, text[link.end()..].chars().next());
                    if (is_domain(&host) && !sentence) || url_like {
                        add(host);
                    }
                }
            },
            LinkKind::Email => {
                let domain = normalize(raw.rsplit_once('@').map_or("", |(_, d)| d));
                if is_domain(&domain) {
                    add(domain);
                }
            }
            _ => {}
        }
    }
    // Whatever follows a `://` is a URL's authority, even where linkify sees none (an IPv6
    // literal, a host in another script).
    for (at, _) in text.match_indices("://") {
        let rest = &text[at + 3..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        add(url_host(&rest[..end]));
    }
    // A WebOTP line's `@host #code`: the host the browser binds the code to, a host whatever
    // its suffix.
    for (at, _) in text.match_indices('@') {
        let starts_token = text[..at]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        let rest = &text[at + 1..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-'))
            .unwrap_or(rest.len());
        let host = normalize(rest[..end].trim_matches(|c| c == '.' || c == '-'));
        if starts_token && host.contains('.') {
            add(host);
        }
    }
    let in_name = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    let mut start = 0;
    for (at, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        if at < text.len() && in_name(c) {
            continue;
        }
        let run = &text[start..at];
        start = at + c.len_utf8();
        let trimmed = run.trim_start_matches(['.', '-']);
        let name = trimmed.trim_end_matches(['.', '-']);
        let end = at - (trimmed.len() - name.len());
        if is_domain(&normalize(name)) && !sentence_join(name, text[end..].chars().next()) {
            add(normalize(name));
        }
    }
    found
}

/// A sentence that lost its space, not a domain: a number, a dot, a capitalised word, and the
/// sentence going on (`Your code is 6867.Do not share it`, where `.do` is a real suffix). Only
/// that shape: `evil.com`, `Evil.Com.`, `evil.do/x` and `6867.do` stay domains.
fn sentence_join(name: &str, after: Option<char>) -> bool {
    let Some((number, word)) = name.split_once('.') else {
        return false;
    };
    let mut letters = word.chars();
    !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && letters.next().is_some_and(|c| c.is_ascii_uppercase())
        && !letters.as_str().is_empty()
        && letters.all(|c| c.is_ascii_lowercase())
        && after.is_some_and(char::is_whitespace)
}

/// The host of a URL without its scheme: before the path, query or fragment, after any
/// credentials, without a port.
fn url_host(rest: &str) -> String {
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        // An IPv6 literal keeps its colons.
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    normalize(host)
}

fn normalize(host: &str) -> String {
    host.trim_end_matches('.').to_lowercase()
}

/// Two labels or more, none empty, the last a public suffix.
fn is_domain(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty())
        && psl::suffix(name.as_bytes())
            .is_some_and(|s| s.is_known() && s.as_bytes() != name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<String> {
        hosts(text)
    }

    #[test]
    fn urls_with_and_without_a_scheme() {
        assert_eq!(
            found("Open https://evil.example/login now"),
            ["evil.example"]
        );
        assert_eq!(found("go to evil.com/login."), ["evil.com"]);
        assert_eq!(found("go to evil.example/login"), ["evil.example"]);
        assert_eq!(found("www.evil.invalid"), ["www.evil.invalid"]);
        assert_eq!(found("(see WWW.Evil.Co.UK)"), ["www.evil.co.uk"]);
        assert_eq!(found("http://10.0.0.1:8080/x"), ["10.0.0.1"]);
        assert_eq!(found("hxxp://evil.com"), ["evil.com"]);
        assert_eq!(found("https://[2001:db8::1]:443/x"), ["2001:db8::1"]);
        assert_eq!(found("http://ევილ.გე/x"), ["ევილ.გე"]);
        // Credentials before the host are not the host: the host is found too.
        let tricked = found("https://widget.identomat.com@evil.com/x");
        assert!(tricked.contains(&"evil.com".to_owned()), "{tricked:?}");
        assert_eq!(found("evil.com:8080/x"), ["evil.com"]);
    }

    #[test]
    fn addresses_and_webotp_lines_name_their_domain() {
        assert_eq!(found("Write to security@evil.com"), ["evil.com"]);
        assert_eq!(
            found("Your code is 6867\n\n@widget.identomat.com #6867"),
            ["widget.identomat.com"]
        );
        assert_eq!(found("@evil.com #6867"), ["evil.com"]);
        assert_eq!(found("code 6867\n@evil.example #6867"), ["evil.example"]);
    }

    #[test]
    fn other_scripts_and_other_dots() {
        assert_eq!(found("ეწვიეთ ევილ.გე/შესვლა"), ["ევილ.გე"]);
        assert_eq!(found("visit evil。com"), ["evil.com"]);
        assert_eq!(found("visit EVIL．COM"), ["evil.com"]);
    }

    #[test]
    fn words_with_dots_are_not_domains() {
        for text in [
            "Your code is 6867",
            "Dear Mr.Smith, e.g. 6867.00 or v1.2, see report.pdf and node.js",
            "a.b.c.d",
            "თქვენი ერთჯერადი კოდია 6867",
            "Please verify... thanks.",
        ] {
            assert_eq!(found(text), Vec::<String>::new(), "{text}");
        }
        // A sentence that misses its space after the code: `.do` is the Dominican Republic's,
        // but a number, a capitalised word and the sentence going on is no link.
        assert_eq!(
            found("Your code is 6867.Do not share it"),
            Vec::<String>::new()
        );
        assert_eq!(found("Code 6867.Ne partagez pas"), Vec::<String>::new());
    }

    #[test]
    fn what_only_looks_like_a_sentence_is_still_a_host() {
        for (text, host) in [
            ("Open evil.com", "evil.com"),
            (
                "Open secure-login-help.com/verify now",
                "secure-login-help.com",
            ),
            ("Your code is 6867 evil.do/x", "evil.do"),
            ("HTTPS://EVIL.EXAMPLE", "evil.example"),
            ("Your code is 6867.do", "6867.do"),
            ("Your code is 6867.Do", "6867.do"),
            ("Visit Evil.Com now", "evil.com"),
            ("Visit 6867.DO now", "6867.do"),
            ("code 6867.Do/x", "6867.do"),
        ] {
            assert!(
                found(text).contains(&host.to_owned()),
                "{text}: {:?}",
                found(text)
            );
        }
    }

    #[test]
    fn each_host_once() {
        assert_eq!(
            found("https://evil.com/a and evil.com/b and EVIL.com"),
            ["evil.com"]
        );
    }
}
