//! Where SMS may go: the regions (ISO 3166 alpha-2, as AWS End User Messaging's protect
//! configurations and Twilio's geo permissions name them) and the kinds of number the operator
//! chose at deploy. A calling code cannot say this: `1` is the United States and Canada, and
//! also Jamaica, the Dominican Republic and the other islands that share it, classic SMS
//! pumping destinations. Premium-rate, shared-cost and UAN numbers, where pumping pays, are
//! refused unless the operator opts in. Region and kind come from the numbering table
//! ([`crate::numbering`]), looked up by prefix.

use crate::config::ConfigError;
use crate::fields::PhoneNumber;
use crate::numbering::{self, NumberKind};

/// The region of the non-geographic codes (satellite, international networks, global
/// freephone, international premium rate): never in `*`, only when listed.
pub const NON_GEOGRAPHIC: &str = "001";

/// Why an SMS is not sent to a number.
pub const REGION_NOT_ALLOWED: &str = "country-not-allowed";
pub const KIND_NOT_ALLOWED: &str = "number-type-not-allowed";

/// `SMS_ALLOWED_COUNTRIES` and `SMS_ALLOWED_NUMBER_TYPES`: which numbers SMS may be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsDestinations {
    /// `*`: every geographic region.
    every_region: bool,
    /// The regions listed one by one.
    regions: Vec<&'static str>,
    /// The kinds beyond ordinary numbers the operator opted into.
    kinds: Vec<NumberKind>,
}

impl SmsDestinations {
    pub const ENV: &'static str = "SMS_ALLOWED_COUNTRIES";
    pub const KINDS_ENV: &'static str = "SMS_ALLOWED_NUMBER_TYPES";
    /// 0.1's setting, by calling code: refused at start, saying what to write instead.
    pub const RETIRED_ENV: &'static str = "SMS_ALLOWED_COUNTRY_CODES";
    /// The kinds that may be opted into.
    pub const OPTIONAL_KINDS: [NumberKind; 3] = [
        NumberKind::PremiumRate,
        NumberKind::SharedCost,
        NumberKind::Uan,
    ];

    /// Regions comma-separated (`US,CA,GE`, any case), `*` for every geographic region, `001`
    /// for the non-geographic codes; and the kinds of number beyond ordinary ones
    /// (`premium-rate`, `shared-cost`, `uan`), none by default. The regions are required: the
    /// operator chooses where SMS go.
    pub fn parse(regions: &str, kinds: &str) -> Result<Self, ConfigError> {
        let mut destinations = Self {
            every_region: false,
            regions: Vec::new(),
            kinds: Vec::new(),
        };
        for entry in regions.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                destinations.every_region = true;
                continue;
            }
            let upper = entry.to_ascii_uppercase();
            match numbering::regions().iter().find(|r| **r == upper) {
                Some(region) => destinations.regions.push(region),
                None => {
                    return Err(ConfigError::new(
                        Self::ENV,
                        format!("{entry:?} is no ISO 3166 region with phone numbers"),
                    ));
                }
            }
        }
        if !destinations.every_region && destinations.regions.is_empty() {
            return Err(ConfigError::new(
                Self::ENV,
                "is required: regions like US,CA,GE, or * for every country",
            ));
        }
        for entry in kinds.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match Self::OPTIONAL_KINDS.iter().find(|k| k.name() == entry) {
                Some(kind) => destinations.kinds.push(*kind),
                None => {
                    return Err(ConfigError::new(
                        Self::KINDS_ENV,
                        format!("{entry:?} is not premium-rate, shared-cost or uan"),
                    ));
                }
            }
        }
        Ok(destinations)
    }

    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        if lookup(Self::RETIRED_ENV).is_some_and(|v| !v.trim().is_empty()) {
            return Err(ConfigError::new(
                Self::RETIRED_ENV,
                "was replaced by SMS_ALLOWED_COUNTRIES: ISO 3166 regions such as US,CA,GE \
                 instead of calling codes (docs/configuration.md)",
            ));
        }
        Self::parse(
            &lookup(Self::ENV).unwrap_or_default(),
            &lookup(Self::KINDS_ENV).unwrap_or_default(),
        )
    }

    /// Why no SMS may go to `phone`, or `None` when one may: its region is not allowed (or it
    /// has none), or it is a kind of number not opted into.
    pub fn refusal(&self, phone: &PhoneNumber) -> Option<&'static str> {
        let Some(found) = numbering::lookup(phone.digits()) else {
            return Some(REGION_NOT_ALLOWED);
        };
        let region_allowed = self.regions.contains(&found.region)
            || (self.every_region && found.region != NON_GEOGRAPHIC);
        if !region_allowed {
            Some(REGION_NOT_ALLOWED)
        } else if found.kind != NumberKind::Ordinary && !self.kinds.contains(&found.kind) {
            Some(KIND_NOT_ALLOWED)
        } else {
            None
        }
    }
}

/// The template's `AllowedPattern` for `SmsAllowedCountries`: `*` or a list of the regions the
/// table knows, so a deploy with an unknown region fails before anything is created. A test
/// holds `template.yaml` to it.
pub fn allowed_pattern() -> String {
    let mut regions: Vec<&str> = numbering::regions().to_vec();
    // Longest first, so a regex engine never settles for a shorter alternative.
    regions.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    let region = format!("(\\*|{})", regions.join("|"));
    format!("^ *{region} *( *, *{region} *)*$")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(raw: &str) -> PhoneNumber {
        PhoneNumber::parse(raw).unwrap()
    }

    fn destinations(regions: &str, kinds: &str) -> SmsDestinations {
        SmsDestinations::parse(regions, kinds).unwrap()
    }

    #[test]
    fn only_regions_with_numbers_are_accepted() {
        for ok in ["GE", "us, ca", "*", "*,001", " UA "] {
            assert!(SmsDestinations::parse(ok, "").is_ok(), "{ok}");
        }
        for bad in ["995", "1", "georgia", "", " , ", "XX", "EU", "+1"] {
            let error = SmsDestinations::parse(bad, "").unwrap_err();
            assert_eq!(error.name, "SMS_ALLOWED_COUNTRIES", "{bad}");
        }
        let error = SmsDestinations::parse("*", "premium").unwrap_err();
        assert_eq!(error.name, "SMS_ALLOWED_NUMBER_TYPES");
    }

    #[test]
    fn a_region_is_not_its_calling_code() {
        let north_america = destinations("US,CA", "");
        assert_eq!(north_america.refusal(&phone("+12025550100")), None);
        assert_eq!(north_america.refusal(&phone("+14165550100")), None);
        // +1, and still not the United States or Canada.
        for island in [
            "+18765550100",
            "+18095550100",
            "+12645550100",
            "+12465550100",
        ] {
            assert_eq!(
                north_america.refusal(&phone(island)),
                Some(REGION_NOT_ALLOWED),
                "{island}"
            );
        }
        let georgia = destinations("GE", "");
        assert_eq!(georgia.refusal(&phone("+995512345678")), None);
        assert_eq!(
            georgia.refusal(&phone("+380501234567")),
            Some(REGION_NOT_ALLOWED)
        );
    }

    #[test]
    fn every_country_is_every_geographic_one() {
        let every = destinations("*", "");
        assert_eq!(every.refusal(&phone("+995512345678")), None);
        for pumped in [
            "+88212345678",
            "+88312345678",
            "+87012345678",
            "+80012345678",
        ] {
            assert_eq!(
                every.refusal(&phone(pumped)),
                Some(REGION_NOT_ALLOWED),
                "{pumped}"
            );
        }
        // An unassigned code is no region at all.
        assert_eq!(
            every.refusal(&phone("+28123456789")),
            Some(REGION_NOT_ALLOWED)
        );
        let with_networks = destinations("*,001", "");
        assert_eq!(with_networks.refusal(&phone("+88212345678")), None);
    }

    #[test]
    fn premium_shared_cost_and_uan_numbers_only_when_opted_into() {
        let every = destinations("*", "");
        // Premium rate: GB 09, US 900; shared cost: GB 0845; UAN: GB 03.
        let premium = ["+449012345678", "+19002345678"];
        for number in premium {
            assert_eq!(
                every.refusal(&phone(number)),
                Some(KIND_NOT_ALLOWED),
                "{number}"
            );
        }
        assert_eq!(
            every.refusal(&phone("+443001234567")),
            Some(KIND_NOT_ALLOWED)
        );
        let opted = destinations("*", "premium-rate, uan");
        assert_eq!(opted.refusal(&phone("+449012345678")), None);
        assert_eq!(opted.refusal(&phone("+443001234567")), None);
        // A mobile number of the same country is ordinary.
        assert_eq!(every.refusal(&phone("+447400123456")), None);
    }

    #[test]
    fn the_retired_setting_says_what_to_write_instead() {
        let env = |name: &str| match name {
            "SMS_ALLOWED_COUNTRY_CODES" => Some("995,1".to_owned()),
            "SMS_ALLOWED_COUNTRIES" => Some("GE".to_owned()),
            _ => None,
        };
        let error = SmsDestinations::from_lookup(&env).unwrap_err();
        assert_eq!(error.name, "SMS_ALLOWED_COUNTRY_CODES");
        assert!(error.reason.contains("SMS_ALLOWED_COUNTRIES"), "{error}");
        assert!(error.reason.contains("US,CA,GE"), "{error}");
    }

    #[test]
    fn the_template_refuses_at_deploy_what_the_function_refuses_at_start() {
        let template = include_str!("../../template.yaml");
        let line = format!("AllowedPattern: '{}'", allowed_pattern());
        assert!(
            template.contains(&line),
            "template.yaml's SmsAllowedCountries must say:\n      {line}"
        );
    }
}
