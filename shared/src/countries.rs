//! Where SMS may go: the country calling codes the operator chose at deploy, each a real ITU-T
//! E.164 code. Non-geographic ranges (satellite and international networks, global freephone,
//! international premium rate) are where SMS pumping pays best, so they are refused unless
//! listed by their own code, even when `*` allows every country.

use crate::config::ConfigError;
use crate::fields::PhoneNumber;

/// The country codes ITU-T assigns to geographic areas. The set is prefix-free: no code is the
/// start of another, so a number matches at most one.
pub const GEOGRAPHIC: &[&str] = &[
    "1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
    "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98", "211",
    "212", "213", "216", "218", "220", "221", "222", "223", "224", "225", "226", "227", "228",
    "229", "230", "231", "232", "233", "234", "235", "236", "237", "238", "239", "240", "241",
    "242", "243", "244", "245", "246", "247", "248", "249", "250", "251", "252", "253", "254",
    "255", "256", "257", "258", "260", "261", "262", "263", "264", "265", "266", "267", "268",
    "269", "290", "291", "297", "298", "299", "350", "351", "352", "353", "354", "355", "356",
    "357", "358", "359", "370", "371", "372", "373", "374", "375", "376", "377", "378", "379",
    "380", "381", "382", "383", "385", "386", "387", "389", "420", "421", "423", "500", "501",
    "502", "503", "504", "505", "506", "507", "508", "509", "590", "591", "592", "593", "594",
    "595", "596", "597", "598", "599", "670", "672", "673", "674", "675", "676", "677", "678",
    "679", "680", "681", "682", "683", "685", "686", "687", "688", "689", "690", "691", "692",
    "850", "852", "853", "855", "856", "880", "886", "960", "961", "962", "963", "964", "965",
    "966", "967", "968", "970", "971", "972", "973", "974", "975", "976", "977", "992", "993",
    "994", "995", "996", "998",
];

/// The codes ITU-T assigns to no country: global freephone (800, 808), Inmarsat (870),
/// universal personal telecommunications (878), global mobile satellite systems (881),
/// international networks (882, 883), disaster relief (888), international premium rate (979)
/// and trials (991).
pub const NON_GEOGRAPHIC: &[&str] = &[
    "800", "808", "870", "878", "881", "882", "883", "888", "979", "991",
];

/// `SMS_ALLOWED_COUNTRY_CODES`: which numbers SMS may be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsCountries {
    /// `*`: every geographic code.
    every_country: bool,
    /// The codes listed one by one, geographic or not.
    listed: Vec<&'static str>,
}

impl SmsCountries {
    pub const ENV: &'static str = "SMS_ALLOWED_COUNTRY_CODES";

    /// A comma-separated list of codes (`995,380`, a leading `+` allowed), `*` for every
    /// geographic country, or both (`*,882`). Required: the operator chooses where SMS go.
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let mut countries = Self {
            every_country: false,
            listed: Vec::new(),
        };
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                countries.every_country = true;
                continue;
            }
            let code = entry.strip_prefix('+').unwrap_or(entry);
            let known = GEOGRAPHIC
                .iter()
                .chain(NON_GEOGRAPHIC)
                .find(|c| **c == code);
            match known {
                Some(code) => countries.listed.push(code),
                None => {
                    return Err(ConfigError::new(
                        Self::ENV,
                        format!("{entry:?} is not an ITU country calling code"),
                    ));
                }
            }
        }
        if !countries.every_country && countries.listed.is_empty() {
            return Err(ConfigError::new(
                Self::ENV,
                "is required: country codes like 995,380, or * for every country",
            ));
        }
        Ok(countries)
    }

    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::parse(&lookup(Self::ENV).unwrap_or_default())
    }

    pub fn allows(&self, phone: &PhoneNumber) -> bool {
        let digits = phone.digits();
        let starts = |code: &&str| digits.starts_with(*code);
        self.listed.iter().any(starts) || (self.every_country && GEOGRAPHIC.iter().any(starts))
    }
}

/// The template's `AllowedPattern` for `SmsAllowedCountryCodes`: `*` or a list of these codes,
/// so a deploy with an unknown code fails before anything is created. A test holds
/// `template.yaml` to it.
pub fn allowed_pattern() -> String {
    let mut codes: Vec<&str> = GEOGRAPHIC.iter().chain(NON_GEOGRAPHIC).copied().collect();
    // Longest first, so a regex engine never settles for a shorter alternative.
    codes.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    let code = format!("(\\*|\\+?({}))", codes.join("|"));
    format!("^ *{code} *( *, *{code} *)*$")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(raw: &str) -> PhoneNumber {
        PhoneNumber::parse(raw).unwrap()
    }

    #[test]
    fn codes_are_prefix_free_and_apart() {
        let all: Vec<&str> = GEOGRAPHIC.iter().chain(NON_GEOGRAPHIC).copied().collect();
        for a in &all {
            for b in &all {
                assert!(a == b || !b.starts_with(a), "{a} is a prefix of {b}");
            }
        }
        assert_eq!(GEOGRAPHIC.len() + NON_GEOGRAPHIC.len(), all.len());
    }

    #[test]
    fn only_real_codes_are_accepted() {
        for ok in ["995", "1", "+380, 44", "*", "*,882", " 7 "] {
            assert!(SmsCountries::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["88", "995,88", "0", "georgia", "", " , ", "9955", "+"] {
            let error = SmsCountries::parse(bad).unwrap_err();
            assert_eq!(error.name, "SMS_ALLOWED_COUNTRY_CODES", "{bad}");
        }
    }

    #[test]
    fn every_country_means_every_geographic_one() {
        let every = SmsCountries::parse("*").unwrap();
        assert!(every.allows(&phone("+995512345678")));
        assert!(every.allows(&phone("+12025550100")));
        for pumped in [
            "+88212345678",
            "+88312345678",
            "+8812345678",
            "+87012345678",
            "+87812345678",
            "+97912345678",
            "+80012345678",
            "+80812345678",
        ] {
            assert!(!every.allows(&phone(pumped)), "{pumped}");
        }
        let with_network = SmsCountries::parse("*,882").unwrap();
        assert!(with_network.allows(&phone("+88212345678")));
        assert!(!with_network.allows(&phone("+88312345678")));
    }

    #[test]
    fn a_list_allows_what_it_lists() {
        let listed = SmsCountries::parse("995,+380").unwrap();
        assert!(listed.allows(&phone("+380501234567")));
        assert!(!listed.allows(&phone("+12025550100")));
        // An unassigned prefix such as 28 matches no code.
        assert!(
            !SmsCountries::parse("*")
                .unwrap()
                .allows(&phone("+28123456789"))
        );
    }

    #[test]
    fn the_template_refuses_at_deploy_what_the_function_refuses_at_start() {
        let template = include_str!("../../template.yaml");
        let pattern = allowed_pattern();
        let line = format!("AllowedPattern: '{pattern}'");
        assert!(
            template.contains(&line),
            "template.yaml's SmsAllowedCountryCodes must say:\n      {line}"
        );
    }
}
