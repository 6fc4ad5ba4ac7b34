//! Writes `shared/src/numbering/table.rs` (`make numbering`): by number prefix and length, the
//! region (ISO 3166) a number belongs to and whether it is a premium-rate, shared-cost or UAN
//! number, as libphonenumber decides them from its metadata. The sms function looks numbers up
//! in the table, so it pays nothing for the metadata at run time (a libphonenumber port spends
//! 16-100 ms of a full core decoding it on its first parse).
//!
//! For each country calling code, the number's digits are walked from the first, every region's
//! number types (libphonenumber's patterns) and leading digits followed as anchored DFAs. At
//! each prefix, the answers every complete number starting with it gets are gathered by the
//! number's length; a prefix is written down as soon as each length has one answer, and
//! extended digit by digit while one has several. The answer is the phonenumber crate's (the
//! library the test holds the table to): the code's only region, or the first of its regions
//! (the main one first) whose leading digits the number starts with or whose general pattern
//! and one of whose types it matches; its type, the first it matches in libphonenumber's order.
//! A pattern matches as the crate matches it: from the number's first digit, at a length the
//! type allows. A code of one region also gets the code alone, for numbers the metadata does
//! not list (Identomat's own sample +995512345678 among them).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::{Anchored, util::syntax};

/// The kinds of number the sms function tells apart. Ordinary: fixed line, mobile, toll-free,
/// VoIP, personal, pager, voicemail, and a number of no type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Class {
    Ordinary = 0,
    PremiumRate = 1,
    SharedCost = 2,
    Uan = 3,
}

/// The most digits a number has (E.164).
const MAX_DIGITS: usize = 15;

/// A pattern as the crate matches it: from the number's first digit (a match of a prefix is
/// a match), at one of its lengths (any when it lists none).
struct Pattern {
    dfa: dense::DFA<Vec<u32>>,
    lengths: Vec<u16>,
}

/// A region's general pattern, its number types in libphonenumber's order, and its leading
/// digits, which decide a shared code's region before any type is checked.
struct Region {
    id: String,
    general: Pattern,
    types: Vec<(Class, Pattern)>,
    leading: Option<dense::DFA<Vec<u32>>>,
}

fn dfa(pattern: &str) -> dense::DFA<Vec<u32>> {
    // The metadata's patterns are laid out over lines, as libphonenumber reads them: without
    // their whitespace.
    let pattern: String = pattern.chars().filter(|c| !c.is_whitespace()).collect();
    dense::Builder::new()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .configure(dense::Config::new().start_kind(StartKind::Anchored))
        .build(&format!("(?:{pattern})"))
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
}

fn pattern(descriptor: &Descriptor) -> Option<Pattern> {
    let text = descriptor.national_number().as_str();
    (text != "NA" && !text.is_empty()).then(|| Pattern {
        dfa: dfa(text),
        lengths: descriptor.possible_length().to_vec(),
    })
}

fn region(metadata: &Metadata) -> Region {
    let d = metadata.descriptors();
    // In the order libphonenumber tries them: a number's type is the first that matches.
    let typed: [(Option<&Descriptor>, Class); 10] = [
        (d.premium_rate(), Class::PremiumRate),
        (d.toll_free(), Class::Ordinary),
        (d.shared_cost(), Class::SharedCost),
        (d.voip(), Class::Ordinary),
        (d.personal_number(), Class::Ordinary),
        (d.pager(), Class::Ordinary),
        (d.uan(), Class::Uan),
        (d.voicemail(), Class::Ordinary),
        (d.fixed_line(), Class::Ordinary),
        (d.mobile(), Class::Ordinary),
    ];
    let types = typed
        .into_iter()
        .filter_map(|(descriptor, class)| Some((class, pattern(descriptor?)?)))
        .collect();
    Region {
        id: metadata.id().to_owned(),
        general: pattern(d.general())
            .unwrap_or_else(|| panic!("{} has no general pattern", metadata.id())),
        types,
        leading: metadata.leading_digits().map(|l| dfa(l.as_str())),
    }
}

/// Where a DFA stands after some digits (None: dead) and whether it has matched a prefix.
type Progress = (Option<StateID>, bool);

/// Where every DFA of a code stands after some digits.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Signature {
    general: Vec<Progress>,
    types: Vec<Vec<Progress>>,
    leading: Vec<Option<Progress>>,
}

fn start_of(dfa: &dense::DFA<Vec<u32>>) -> Progress {
    let state = dfa
        .start_state(&start::Config::new().anchored(Anchored::Yes))
        .ok();
    (state, matched(dfa, state))
}

fn step(dfa: &dense::DFA<Vec<u32>>, (state, done): Progress, digit: u8) -> Progress {
    let next = state
        .map(|s| dfa.next_state(s, digit))
        .filter(|s| !dfa.is_dead_state(*s));
    (next, done || matched(dfa, next))
}

fn matched(dfa: &dense::DFA<Vec<u32>>, state: Option<StateID>) -> bool {
    state.is_some_and(|s| dfa.is_match_state(dfa.next_eoi_state(s)))
}

/// A region (by index) and a class.
type Answer = (usize, Class);
/// By the number of further digits a complete number has: the answers it can get.
type ByLength = BTreeMap<usize, BTreeSet<Answer>>;

struct Code {
    regions: Vec<Region>,
    /// The most national digits a number of this code has.
    national_digits: usize,
    memo: HashMap<(Signature, usize), ByLength>,
}

impl Code {
    fn start(&self) -> Signature {
        Signature {
            general: self
                .regions
                .iter()
                .map(|r| start_of(&r.general.dfa))
                .collect(),
            types: (self.regions.iter())
                .map(|r| r.types.iter().map(|(_, p)| start_of(&p.dfa)).collect())
                .collect(),
            leading: (self.regions.iter())
                .map(|r| r.leading.as_ref().map(start_of))
                .collect(),
        }
    }

    fn next(&self, signature: &Signature, digit: u8) -> Signature {
        Signature {
            general: (self.regions.iter().zip(&signature.general))
                .map(|(r, progress)| step(&r.general.dfa, *progress, digit))
                .collect(),
            types: (self.regions.iter().zip(&signature.types))
                .map(|(r, states)| {
                    (r.types.iter().zip(states))
                        .map(|((_, p), progress)| step(&p.dfa, *progress, digit))
                        .collect()
                })
                .collect(),
            leading: (self.regions.iter().zip(&signature.leading))
                .map(|(r, lead)| Some(step(r.leading.as_ref()?, (*lead)?, digit)))
                .collect(),
        }
    }

    fn alive(signature: &Signature) -> bool {
        let progress = |p: &Progress| p.0.is_some();
        signature.general.iter().any(progress)
            || signature.types.iter().flatten().any(progress)
            || signature.leading.iter().flatten().any(progress)
    }

    /// The crate's type of a number of `length` national digits in region `index`; None:
    /// Unknown (the general pattern, or no type, does not match).
    fn class(&self, signature: &Signature, index: usize, length: usize) -> Option<Class> {
        let region = &self.regions[index];
        let fits = |pattern: &Pattern, (_, done): Progress| {
            done && (pattern.lengths.is_empty() || pattern.lengths.contains(&(length as u16)))
        };
        if !fits(&region.general, signature.general[index]) {
            return None;
        }
        (region.types.iter().zip(&signature.types[index]))
            .find(|((_, pattern), progress)| fits(pattern, **progress))
            .map(|((class, _), _)| *class)
    }

    /// The crate's answer for a number of exactly these digits (`length` of them national):
    /// the code's only region, or the first whose leading digits it starts with or that gives
    /// it a type; the type that region gives it (Unknown: ordinary). None: no region.
    fn answer(&self, signature: &Signature, length: usize) -> Option<Answer> {
        if self.regions.len() == 1 {
            return Some((
                0,
                self.class(signature, 0, length).unwrap_or(Class::Ordinary),
            ));
        }
        (0..self.regions.len()).find_map(|index| {
            let class = self.class(signature, index, length);
            let chosen = match signature.leading[index] {
                Some((_, leading_matched)) => leading_matched,
                None => class.is_some(),
            };
            chosen.then(|| (index, class.unwrap_or(Class::Ordinary)))
        })
    }

    /// The answers of every complete number of these digits or up to `depth` more, by how
    /// many more digits it has.
    fn answers(&mut self, signature: &Signature, depth: usize) -> ByLength {
        if let Some(known) = self.memo.get(&(signature.clone(), depth)) {
            return known.clone();
        }
        let mut found = ByLength::new();
        // The national digits so far, from how many more the code allows.
        let length = self.national_digits - depth;
        if length > 0
            && let Some(answer) = self.answer(signature, length)
        {
            found.entry(0).or_default().insert(answer);
        }
        if depth > 0 && Self::alive(signature) {
            for digit in b'0'..=b'9' {
                let child = self.next(signature, digit);
                for (more, answers) in self.answers(&child, depth - 1) {
                    found.entry(more + 1).or_default().extend(answers);
                }
            }
        }
        self.memo.insert((signature.clone(), depth), found.clone());
        found
    }

    /// Writes, for each prefix at which every length has one answer, the answer by the
    /// number's whole length (0: every length, when they all agree).
    fn walk(
        &mut self,
        prefix: &mut String,
        signature: &Signature,
        depth: usize,
        table: &mut BTreeMap<(String, usize), Answer>,
    ) {
        let by_length = self.answers(signature, depth);
        if by_length.values().all(|answers| answers.len() == 1) {
            let answers: BTreeSet<Answer> = by_length.values().flatten().copied().collect();
            if answers.len() == 1 {
                table.insert(
                    (prefix.clone(), 0),
                    *answers.iter().next().unwrap_or(&(0, Class::Ordinary)),
                );
            } else {
                for (more, answer) in &by_length {
                    let answer = *answer.iter().next().unwrap_or(&(0, Class::Ordinary));
                    table.insert((prefix.clone(), prefix.len() + more), answer);
                }
            }
            return;
        }
        for digit in b'0'..=b'9' {
            let child = self.next(signature, digit);
            prefix.push(digit as char);
            self.walk(prefix, &child, depth - 1, table);
            prefix.pop();
        }
    }
}

/// The phonenumber crate's version, whose metadata this is, from the lock file.
fn metadata_version() -> String {
    let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    text.split("[[package]]")
        .find(|p| p.contains("name = \"phonenumber\""))
        .and_then(|p| p.lines().find(|l| l.starts_with("version = ")))
        .map(|l| {
            l.trim_start_matches("version = ")
                .trim_matches('"')
                .to_owned()
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn main() -> std::io::Result<()> {
    let version = metadata_version();
    // By code, not by id: the non-geographic codes (800, 870, 882, ...) share the id `001`,
    // and an iteration by id sees only one of them.
    let codes: BTreeMap<u16, Vec<&Metadata>> = (1..=999u16)
        .filter_map(|code| Some((code, DATABASE.by_code(&code)?)))
        .collect();
    // (prefix, the number's whole length or 0 for any) -> (region, class)
    let mut table: BTreeMap<(String, usize), (String, Class)> = BTreeMap::new();
    for (code, metadata) in &codes {
        // The code's regions in the crate's order: the main one first.
        let order = DATABASE.region(code).unwrap_or_default();
        let mut ordered = metadata.clone();
        ordered.sort_by_key(|m| order.iter().position(|id| *id == m.id()));
        let code = code.to_string();
        let mut walker = Code {
            regions: ordered.iter().map(|m| region(m)).collect(),
            national_digits: MAX_DIGITS - code.len(),
            memo: HashMap::new(),
        };
        let mut found = BTreeMap::new();
        let start = walker.start();
        walker.walk(
            &mut code.clone(),
            &start,
            MAX_DIGITS - code.len(),
            &mut found,
        );
        // A code of one region: the code alone is that region, for what the metadata does not
        // list; an entry that says no more than it is left out.
        let fallback =
            (metadata.len() == 1).then(|| (metadata[0].id().to_owned(), Class::Ordinary));
        if let Some(fallback) = &fallback {
            table.insert((code.clone(), 0), fallback.clone());
        }
        for ((prefix, length), (index, class)) in found {
            let answer = (walker.regions[index].id.clone(), class);
            if Some(&answer) != fallback.as_ref() || (prefix == code && length == 0) {
                table.insert((prefix, length), answer);
            }
        }
    }

    let regions: BTreeSet<&str> = table.values().map(|(r, _)| r.as_str()).collect();
    let regions: Vec<&str> = regions.into_iter().collect();
    let mut keyed: Vec<(u64, u16)> = table
        .iter()
        .map(|((prefix, length), (region, class))| {
            let digits: u64 = prefix.parse().expect("digits");
            let index = regions.binary_search(&region.as_str()).expect("a region") as u16;
            let key = digits * 256 + prefix.len() as u64 * 16 + *length as u64;
            (key, (index << 2) | *class as u16)
        })
        .collect();
    keyed.sort();

    let mut out = String::new();
    writeln!(
        out,
        "// Generated by `make numbering` (shared/examples/numbering_table.rs) from libphonenumber's\n\
         // metadata, as the phonenumber crate {version} carries it. Do not edit: regenerate.\n",
    )
    .ok();
    writeln!(
        out,
        "/// The metadata's version.\npub(super) const METADATA: &str = \"{version}\";\n",
    )
    .ok();
    writeln!(
        out,
        "/// ISO 3166 regions (\"001\": a non-geographic code), by index.\n\
         #[rustfmt::skip]\npub(super) const REGIONS: [&str; {}] = [",
        regions.len()
    )
    .ok();
    for chunk in regions.chunks(16) {
        let line: Vec<String> = chunk.iter().map(|r| format!("\"{r}\"")).collect();
        writeln!(out, "    {},", line.join(", ")).ok();
    }
    writeln!(out, "];\n").ok();
    writeln!(
        out,
        "/// Every prefix (country code and national digits) as `digits * 256 + prefix length * 16 +\n\
         /// number length`, the number length 0 for numbers of any length, sorted.\n\
         #[rustfmt::skip]\npub(super) static KEYS: [u64; {}] = [",
        keyed.len()
    )
    .ok();
    for chunk in keyed.chunks(8) {
        let line: Vec<String> = chunk.iter().map(|(k, _)| k.to_string()).collect();
        writeln!(out, "    {},", line.join(", ")).ok();
    }
    writeln!(out, "];\n").ok();
    writeln!(
        out,
        "/// Beside each key, `region index << 2 | class` (0 ordinary, 1 premium-rate, 2 shared-cost,\n\
         /// 3 UAN).\n\
         #[rustfmt::skip]\npub(super) static VALUES: [u16; {}] = [",
        keyed.len()
    )
    .ok();
    for chunk in keyed.chunks(16) {
        let line: Vec<String> = chunk.iter().map(|(_, v)| v.to_string()).collect();
        writeln!(out, "    {},", line.join(", ")).ok();
    }
    writeln!(out, "];").ok();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/numbering/table.rs");
    std::fs::write(&path, out)?;
    println!(
        "{}: {} entries, {} regions",
        path.display(),
        keyed.len(),
        regions.len()
    );
    Ok(())
}
