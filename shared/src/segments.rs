//! How many parts an SMS is billed as. SNS, like every carrier, bills per part: a text of GSM
//! 03.38 characters fits 160 septets in one part and 153 in each part of a longer one (the rest
//! is the header that joins them), its extension characters (`€ [ ] { } \ ~ ^ |`, form feed)
//! taking two; as soon as one character is outside that alphabet, the whole text is UCS-2: 70
//! UTF-16 units in one part, 67 in each of more. A character is never split across parts.

/// How a text is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// A text's encoding and the parts it is billed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 units (UCS-2).
    pub units: usize,
    pub count: u32,
}

/// The GSM 03.38 basic character set: one septet each.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Its extension table, reached by an escape: two septets each.
const EXTENDED: &str = "^{}\\[~]|€\u{0C}";

/// What one character costs in GSM-7, or `None` when it has no GSM-7 form.
fn septets(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The parts `text` is billed as.
pub fn parts(text: &str) -> Parts {
    let gsm: Option<Vec<usize>> = text.chars().map(septets).collect();
    let (encoding, sizes, single, each) = match gsm {
        Some(sizes) => (Encoding::Gsm7, sizes, 160, 153),
        None => (
            Encoding::Ucs2,
            text.chars().map(char::len_utf16).collect(),
            70,
            67,
        ),
    };
    let units = sizes.iter().sum();
    let count = if units <= single {
        1
    } else {
        // Filled in order; a character that does not fit whole starts the next part.
        let mut parts = 1;
        let mut used = 0;
        for size in sizes {
            if used + size > each {
                parts += 1;
                used = 0;
            }
            used += size;
        }
        parts
    };
    Parts {
        encoding,
        units,
        count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(text: &str) -> (Encoding, u32) {
        let p = parts(text);
        (p.encoding, p.count)
    }

    #[test]
    fn gsm_7_fits_160_in_one_part_and_153_in_each_of_more() {
        assert_eq!(count(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(count(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(count(&"a".repeat(306)), (Encoding::Gsm7, 2));
        assert_eq!(count(&"a".repeat(307)), (Encoding::Gsm7, 3));
        assert_eq!(count("Your code is 6867"), (Encoding::Gsm7, 1));
        assert_eq!(count(""), (Encoding::Gsm7, 1));
    }

    #[test]
    fn extension_characters_take_two_septets_and_are_never_split() {
        // 80 euro signs are 160 septets: one part; one more is two.
        assert_eq!(parts(&"€".repeat(80)).units, 160);
        assert_eq!(count(&"€".repeat(80)), (Encoding::Gsm7, 1));
        assert_eq!(count(&"€".repeat(81)), (Encoding::Gsm7, 2));
        // 152 septets and then a bracket: the bracket's two septets do not fit the first
        // part's 153, so they start the second.
        let text = format!("{}[{}", "a".repeat(152), "a".repeat(100));
        assert_eq!(parts(&text).units, 254);
        assert_eq!(count(&text), (Encoding::Gsm7, 2));
        let text = format!("{}[{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(count(&text), (Encoding::Gsm7, 3));
        for c in ['^', '{', '}', '\\', '[', '~', ']', '|', '€'] {
            assert_eq!(parts(&c.to_string()).units, 2, "{c}");
        }
    }

    #[test]
    fn one_character_outside_gsm_7_makes_the_whole_text_ucs_2() {
        assert_eq!(count(&"ა".repeat(70)), (Encoding::Ucs2, 1));
        assert_eq!(count(&"ა".repeat(71)), (Encoding::Ucs2, 2));
        assert_eq!(count(&"ა".repeat(134)), (Encoding::Ucs2, 2));
        assert_eq!(count(&"ა".repeat(135)), (Encoding::Ucs2, 3));
        // 159 GSM characters and one Cyrillic letter: 160 UTF-16 units, three UCS-2 parts.
        let text = format!("{}д", "a".repeat(159));
        assert_eq!(count(&text), (Encoding::Ucs2, 3));
        // An emoji is two UTF-16 units and is not split: 66 letters and an emoji fill 68.
        let text = format!("{}🙂{}", "a".repeat(66), "a".repeat(10));
        assert_eq!(parts(&text).units, 78);
        assert_eq!(count(&text), (Encoding::Ucs2, 2));
    }

    #[test]
    fn a_georgian_otp_is_one_or_two_parts() {
        // Identomat's OTP in Georgian, with the WebOTP line the browser reads it by.
        let otp = "თქვენი ერთჯერადი კოდია 6867\n\n@widget.identomat.com #6867";
        assert_eq!(count(otp), (Encoding::Ucs2, 1));
        let longer = "თქვენი ერთჯერადი კოდია 6867. არავის გაუზიაროთ ეს კოდი, მათ შორის \
                      ჩვენს თანამშრომლებს.\n\n@widget.identomat.com #6867";
        assert_eq!(count(longer), (Encoding::Ucs2, 2));
    }
}
