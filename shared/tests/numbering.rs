//! The numbering table agrees with libphonenumber (the phonenumber crate, whose metadata it was
//! generated from) on every region's example number of every type: the region, and whether it
//! is a premium-rate, shared-cost or UAN number. A metadata update is one `make numbering`.

use phonenumber::Type;
use phonenumber::metadata::DATABASE;
use shared::numbering::{METADATA, NumberKind, lookup};

fn kind(kind: Type) -> NumberKind {
    match kind {
        Type::PremiumRate => NumberKind::PremiumRate,
        Type::SharedCost => NumberKind::SharedCost,
        Type::Uan => NumberKind::Uan,
        _ => NumberKind::Ordinary,
    }
}

#[test]
fn the_table_is_generated_from_the_metadata_the_library_carries() {
    let lock = include_str!("../../Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"phonenumber\""))
        .and_then(|p| p.lines().find(|l| l.starts_with("version = ")))
        .map(|l| l.trim_start_matches("version = ").trim_matches('"'))
        .unwrap();
    assert_eq!(METADATA, version, "run make numbering");
}

#[test]
fn every_example_number_gets_the_librarys_region_and_kind() {
    let mut checked = 0;
    let mut disagree = Vec::new();
    let mut unread = Vec::new();
    let mut non_geographic = 0;
    // By code: the non-geographic codes share the id `001`, and an iteration by id sees one.
    let regions = (1..=999u16)
        .filter_map(|code| DATABASE.by_code(&code))
        .flatten();
    for region in regions {
        let d = region.descriptors();
        let typed = [
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.personal_number(),
            d.voip(),
            d.pager(),
            d.uan(),
            d.voicemail(),
        ];
        for example in typed.into_iter().flatten().filter_map(|t| t.example()) {
            let text = format!("+{}{example}", region.country_code());
            let Ok(number) = phonenumber::parse(None, &text) else {
                continue;
            };
            // The library's parser strips a national prefix even from a number written in
            // international form (RU's 8), its type check reads the national number without
            // its leading zeros (NE's 09..., NO's 02...), and for a few numbers of a shared
            // code it finds no region: answers about another number, or none.
            // A non-geographic code has no country: its region is the metadata's `001`.
            let expected_region = match number.country().id() {
                Some(id) => format!("{id:?}"),
                None if region.id() == "001" => "001".to_owned(),
                None => {
                    unread.push(text);
                    continue;
                }
            };
            if number.national().value().to_string() != example {
                unread.push(text);
                continue;
            }
            let expected_kind = kind(number.number_type(&DATABASE));
            let digits = &text[1..];
            checked += 1;
            non_geographic += usize::from(expected_region == "001");
            match lookup(digits) {
                Some(found)
                    if found.region == expected_region && found.kind == expected_kind => {}
                found => disagree.push(format!(
                    "{text}: the library says {expected_region} {expected_kind:?}, the table {found:?}"
                )),
            }
        }
    }
    assert!(checked > 1000, "{checked} example numbers");
    // 800, 808, 870, 878, 881, 882, 883, 888, 979: each with its examples.
    assert!(
        non_geographic >= 9,
        "{non_geographic} non-geographic example numbers"
    );
    assert!(
        unread.len() * 20 < checked,
        "{} example numbers the library does not read as written: {unread:?}",
        unread.len()
    );
    assert!(
        disagree.is_empty(),
        "{} of {checked} disagree:\n{}",
        disagree.len(),
        disagree.join("\n")
    );
}
