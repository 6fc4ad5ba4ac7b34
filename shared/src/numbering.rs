//! Where a phone number is (its ISO 3166 region) and what kind of number it is, looked up by
//! prefix in a table generated from libphonenumber's metadata at development time
//! (`numbering/table.rs`, `make numbering`). Nothing is decoded or compiled at run time: a
//! libphonenumber port pays 16-100 ms of a full core on its first parse, seconds of cold start
//! at 128 MB. A test holds the table to the library on every region's example numbers.
//!
//! The table decides by prefix only, never by the number's length or validity: Identomat's own
//! sample (+995512345678) is invalid to libphonenumber, and is Georgian here.

mod table;

/// The kinds of number SMS are refused to unless the operator opts in: where SMS pumping pays
/// (premium-rate and shared-cost numbers share their charges with the number's owner; UAN
/// "company" numbers are routed to them). Every other kind is ordinary here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "kebab-case")]
pub enum NumberKind {
    Ordinary,
    PremiumRate,
    SharedCost,
    Uan,
}

impl NumberKind {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// What the table says of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numbering {
    /// ISO 3166 alpha-2, or `001` for a non-geographic code (satellite, international
    /// networks, global freephone, international premium rate).
    pub region: &'static str,
    pub kind: NumberKind,
}

/// The regions the table knows, `001` included.
pub fn regions() -> &'static [&'static str] {
    &table::REGIONS
}

/// The metadata's version (the phonenumber crate's) the table was generated from.
pub const METADATA: &str = table::METADATA;

/// What the table says of a number of `digits` (its digits after `+`): the entry of its longest
/// prefix, for numbers of its length or of any length; `None` for a number of no region (an
/// unassigned code, an unknown area code of a shared one).
pub fn lookup(digits: &str) -> Option<Numbering> {
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let length = digits.len() as u64;
    (1..=digits.len()).rev().find_map(|len| {
        let value: u64 = digits[..len].parse().ok()?;
        let prefix = value * 256 + len as u64 * 16;
        let find = |key: u64| table::KEYS.binary_search(&key).ok();
        let index = find(prefix + length).or_else(|| find(prefix))?;
        let info = *table::VALUES.get(index)?;
        Some(Numbering {
            region: table::REGIONS.get(usize::from(info >> 2))?,
            kind: match info & 3 {
                0 => NumberKind::Ordinary,
                1 => NumberKind::PremiumRate,
                2 => NumberKind::SharedCost,
                _ => NumberKind::Uan,
            },
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_every_entry_decodes() {
        assert!(table::KEYS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(table::KEYS.len(), table::VALUES.len());
        for (key, info) in table::KEYS.into_iter().zip(table::VALUES) {
            let (prefix, number) = ((key / 16 % 16) as usize, (key % 16) as usize);
            assert!((1..=15).contains(&prefix), "{key}");
            assert!(number == 0 || number >= prefix, "{key}");
            assert!(usize::from(info >> 2) < table::REGIONS.len(), "{key}");
        }
    }

    #[test]
    fn numbers_of_a_region_and_of_none() {
        let region = |digits: &str| lookup(digits).map(|n| n.region);
        // Identomat's own sample, invalid to libphonenumber: Georgian by its code.
        assert_eq!(region("995512345678"), Some("GE"));
        // +1: the area code decides.
        assert_eq!(region("12025550100"), Some("US"));
        assert_eq!(region("14165550100"), Some("CA"));
        assert_eq!(region("18765550100"), Some("JM"));
        assert_eq!(region("18095550100"), Some("DO"));
        assert_eq!(
            region("44"),
            None,
            "a code alone that several regions share"
        );
        assert_eq!(region(""), None);
        assert_eq!(region("99912345678"), None, "an unassigned code");
        assert_eq!(
            region("1234567890123456"),
            None,
            "more than E.164's 15 digits"
        );
    }
}
