//! The sender-ID audit: generate the lookalike variants of a protected ID in every family
//! dnstwist knows (and the SMS-specific ones it does not), keep those that are valid sender IDs
//! (GSM-7, ≤ 11 characters), run each through the filter, and report coverage per family, the
//! misses, and the false-positive rate on a corpus of legitimate IDs of other organisations.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::ExtractConfig;
use crate::sender::{evaluate, is_gsm7, Registry, SmsAction, ALPHANUMERIC_MAX};

/// Built-in corpus of legitimate sender IDs of unrelated organisations (near misses included),
/// for the audit's false-positive check. One per line; `#` starts a comment.
pub const LEGIT_SENDER_IDS: &str = include_str!("../data/legit_sender_ids.txt");

/// The built-in corpus as a list.
pub fn legit_sender_ids() -> Vec<String> {
    parse_id_list(LEGIT_SENDER_IDS)
}

/// Parse a list of sender IDs: one per line, blank lines and `#` comments ignored.
pub fn parse_id_list(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Variant families, in report order.
pub const FAMILIES: &[&str] = &[
    "addition",
    "bitsquatting",
    "homoglyph",
    "homoglyph_double",
    "homoglyph_multi",
    "homoglyph_combo",
    "hyphenation",
    "insertion",
    "omission",
    "repetition",
    "replacement",
    "transposition",
    "vowel_swap",
    "plural",
    "dictionary",
    "case_spacing",
];

/// Dictionary words scammers add to a brand's ID.
pub const DICTIONARY: &[&str] = &[
    "SEC", "SECURE", "ALERT", "ALERTS", "SUPPORT", "VERIFY", "HELP", "INFO", "SERVICE", "SVC",
    "TEAM", "CARE", "AUTH", "OTP", "ONLINE", "APP", "ID", "FRAUD", "SAFE", "UK", "US", "OFFICIAL",
    "SMS", "NOTIFY", "NOREPLY",
];

const QWERTY: [&str; 4] = ["1234567890", "QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM"];

fn keyboard_neighbours(c: char) -> Vec<char> {
    let u = c.to_ascii_uppercase();
    let mut out = Vec::new();
    for (r, row) in QWERTY.iter().enumerate() {
        if let Some(i) = row.find(u) {
            let row_chars: Vec<char> = row.chars().collect();
            if i > 0 {
                out.push(row_chars[i - 1]);
            }
            if i + 1 < row_chars.len() {
                out.push(row_chars[i + 1]);
            }
            for rr in [r.wrapping_sub(1), r + 1] {
                if let Some(other) = QWERTY.get(rr) {
                    let oc: Vec<char> = other.chars().collect();
                    for j in [i.wrapping_sub(1), i, i + 1] {
                        if let Some(ch) = oc.get(j) {
                            out.push(*ch);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Single-character homoglyphs within GSM-7.
fn homoglyphs(c: char) -> &'static [&'static str] {
    match c.to_ascii_uppercase() {
        'O' => &["0", "Ø", "Ö"],
        '0' => &["O"],
        'I' => &["1", "l", "|"],
        'L' => &["1", "I"],
        '1' => &["I", "l"],
        'S' => &["5", "$"],
        '5' => &["S"],
        'B' => &["8"],
        '8' => &["B"],
        'A' => &["Ä", "Å"],
        'E' => &["É"],
        'N' => &["Ñ"],
        'U' => &["Ü"],
        _ => &[],
    }
}

/// Multi-character homoglyphs (both directions).
const MULTI: &[(&str, &str)] = &[
    ("M", "RN"),
    ("W", "VV"),
    ("D", "CL"),
    ("RN", "M"),
    ("VV", "W"),
    ("CL", "D"),
];

/// dnstwist's ASCII homoglyph table, letter for letter and multi-character (upper case, with
/// `IC` beside `LC` and `RR` beside `NN`, which read the same in a sender ID).
const GLYPHS: &[(char, &[&str])] = &[
    ('0', &["O"]),
    ('1', &["L", "I"]),
    ('3', &["8"]),
    ('6', &["9"]),
    ('8', &["3"]),
    ('9', &["6"]),
    ('B', &["D", "LB"]),
    ('C', &["E"]),
    ('D', &["B", "CL", "DL"]),
    ('E', &["C"]),
    ('G', &["Q"]),
    ('H', &["LH"]),
    ('I', &["1", "L"]),
    ('K', &["LC", "IC"]),
    ('L', &["1", "I"]),
    ('M', &["N", "NN", "RN", "RR"]),
    ('N', &["M", "R"]),
    ('O', &["0"]),
    ('Q', &["G"]),
    ('U', &["V"]),
    ('V', &["U"]),
    ('W', &["VV"]),
    ('Z', &["2", "S"]),
];

fn glyphs(c: char) -> &'static [&'static str] {
    let u = c.to_ascii_uppercase();
    GLYPHS
        .iter()
        .find(|(k, _)| *k == u)
        .map_or(&[], |(_, v)| *v)
}

/// Two and three substitutions from [`GLYPHS`] at once, at distinct positions.
fn glyph_combos(id: &str, push: &mut dyn FnMut(String)) {
    let chars: Vec<char> = id.chars().collect();
    let n = chars.len();
    let at: Vec<usize> = (0..n).filter(|i| !glyphs(chars[*i]).is_empty()).collect();
    let build = |subs: &[(usize, &str)]| -> String {
        let mut out = String::new();
        for (i, c) in chars.iter().enumerate() {
            match subs.iter().find(|(p, _)| *p == i) {
                Some((_, g)) => out.push_str(g),
                None => out.push(*c),
            }
        }
        out
    };
    for (x, &i) in at.iter().enumerate() {
        for &j in &at[x + 1..] {
            for gi in glyphs(chars[i]) {
                for gj in glyphs(chars[j]) {
                    push(build(&[(i, gi), (j, gj)]));
                }
            }
        }
    }
    for (x, &i) in at.iter().enumerate() {
        for (y, &j) in at.iter().enumerate().skip(x + 1) {
            for &k in &at[y + 1..] {
                for gi in glyphs(chars[i]) {
                    for gj in glyphs(chars[j]) {
                        for gk in glyphs(chars[k]) {
                            push(build(&[(i, gi), (j, gj), (k, gk)]));
                        }
                    }
                }
            }
        }
    }
}

fn valid(v: &str) -> bool {
    let n = v.chars().count();
    (1..=ALPHANUMERIC_MAX).contains(&n)
        && v.chars().all(is_gsm7)
        && v.chars().any(|c| c.is_alphabetic())
        && v.trim() == v
}

/// Every variant of `id`, by family, valid as a sender ID and different from `id`.
pub fn generate(id: &str) -> BTreeMap<&'static str, Vec<String>> {
    let chars: Vec<char> = id.chars().collect();
    let n = chars.len();
    let s = |v: &[char]| v.iter().collect::<String>();
    let mut out: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut push = |family: &'static str, v: String| {
        if v != id && valid(&v) {
            out.entry(family).or_default().push(v);
        }
    };
    let alnum: Vec<char> = ('A'..='Z').chain('0'..='9').collect();
    for c in &alnum {
        push("addition", format!("{id}{c}"));
    }
    for i in 0..n {
        let c = chars[i];
        if c.is_ascii() {
            for bit in 0..7 {
                let flipped = ((c as u8) ^ (1 << bit)) as char;
                if flipped.is_ascii_alphanumeric() && !flipped.eq_ignore_ascii_case(&c) {
                    let mut v = chars.clone();
                    v[i] = flipped;
                    push("bitsquatting", s(&v));
                }
            }
        }
        for h in homoglyphs(c) {
            let mut v: Vec<char> = chars[..i].to_vec();
            v.extend(h.chars());
            v.extend(&chars[i + 1..]);
            push("homoglyph", s(&v));
            // Double substitutions: this one and every later one.
            for j in i + 1..n {
                for h2 in homoglyphs(chars[j]) {
                    let mut w: Vec<char> = chars[..i].to_vec();
                    w.extend(h.chars());
                    w.extend(&chars[i + 1..j]);
                    w.extend(h2.chars());
                    w.extend(&chars[j + 1..]);
                    push("homoglyph_double", s(&w));
                }
            }
        }
        if i > 0 {
            for sep in ["-", "_", ".", " "] {
                push(
                    "hyphenation",
                    format!("{}{sep}{}", s(&chars[..i]), s(&chars[i..])),
                );
            }
        }
        for k in keyboard_neighbours(c) {
            let mut v = chars.clone();
            v.insert(i, k);
            push("insertion", s(&v));
            let mut v = chars.clone();
            v.insert(i + 1, k);
            push("insertion", s(&v));
            let mut v = chars.clone();
            v[i] = k;
            push("replacement", s(&v));
        }
        let mut v = chars.clone();
        v.remove(i);
        push("omission", s(&v));
        let mut v = chars.clone();
        v.insert(i, c);
        push("repetition", s(&v));
        if i + 1 < n && chars[i] != chars[i + 1] {
            let mut v = chars.clone();
            v.swap(i, i + 1);
            push("transposition", s(&v));
        }
        if "AEIOU".contains(c.to_ascii_uppercase()) {
            for vw in "AEIOU".chars().filter(|x| *x != c.to_ascii_uppercase()) {
                let mut v = chars.clone();
                v[i] = vw;
                push("vowel_swap", s(&v));
            }
        }
    }
    for (from, to) in MULTI {
        let mut start = 0;
        while let Some(p) = id[start..].find(from) {
            let at = start + p;
            push(
                "homoglyph_multi",
                format!("{}{to}{}", &id[..at], &id[at + from.len()..]),
            );
            start = at + from.len();
        }
    }
    glyph_combos(id, &mut |v| push("homoglyph_combo", v));
    push("plural", format!("{id}S"));
    push("plural", format!("{id}ES"));
    for w in DICTIONARY {
        for v in [
            format!("{id}{w}"),
            format!("{w}{id}"),
            format!("{id}-{w}"),
            format!("{w}-{id}"),
        ] {
            push("dictionary", v);
        }
    }
    let lower = id.to_lowercase();
    push("case_spacing", lower.clone());
    let mut title: String = lower.chars().take(1).flat_map(char::to_uppercase).collect();
    title.extend(lower.chars().skip(1));
    push("case_spacing", title);
    let alternating: String = id
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    push("case_spacing", alternating);
    if n > 2 {
        push("case_spacing", format!("{} {}", &id[..n / 2], &id[n / 2..]));
    }
    for list in out.values_mut() {
        let mut seen = HashSet::new();
        list.retain(|v| seen.insert(v.clone()));
    }
    out
}

/// Coverage of one family.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FamilyCoverage {
    pub family: String,
    pub total: usize,
    pub caught: usize,
    pub coverage: f64,
    /// Variants the filter let through.
    pub misses: Vec<String>,
}

/// One variant, as exported for a carrier's firewall.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VariantRow {
    pub variant: String,
    pub brand: String,
    pub protected_id: String,
    pub family: String,
    /// The filter's verdict on a message from this sender.
    pub verdict: SmsAction,
    /// The protected ID the filter says it imitates (may differ from `protected_id` when two
    /// protected IDs are close).
    pub matched_id: Option<String>,
}

/// The false-positive check on legitimate IDs of other organisations.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FalsePositiveCheck {
    pub total: usize,
    pub flagged: usize,
    pub rate: f64,
    /// Legitimate IDs reported as lookalikes, with the protected ID they were matched to.
    pub flagged_ids: Vec<(String, String)>,
}

/// The audit of one brand.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditReport {
    pub brand: String,
    pub protected_ids: Vec<String>,
    pub variants: usize,
    pub caught: usize,
    pub coverage: f64,
    pub families: Vec<FamilyCoverage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub false_positives: Option<FalsePositiveCheck>,
    #[serde(skip)]
    pub rows: Vec<VariantRow>,
}

/// Audit `brand`'s alphanumeric IDs against the registry's filter; optionally check `legit`.
pub fn audit(
    reg: &Registry,
    brand: &str,
    legit: Option<&[String]>,
    extract: &ExtractConfig,
) -> Option<AuditReport> {
    let b = reg.brands.get(brand)?;
    let registered: HashSet<&str> = reg
        .brands
        .values()
        .flat_map(|b| b.senders.iter().map(|(_, id)| id.as_str()))
        .collect();
    let protected: Vec<String> = b
        .senders
        .iter()
        .filter(|(k, _)| *k == crate::sender::SenderKind::Alphanumeric)
        .map(|(_, id)| id.clone())
        .collect();
    let mut fam: BTreeMap<&'static str, (usize, usize, Vec<String>)> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    for id in &protected {
        for (family, vars) in generate(id) {
            for v in vars {
                // A variant that is itself registered (by anyone) is no lookalike.
                if registered.contains(v.as_str()) || !seen.insert((family, v.clone())) {
                    continue;
                }
                let verdict = evaluate(&v, "", reg, extract);
                let look = verdict.reasons.iter().find_map(|r| r.lookalike.as_ref());
                let e = fam.entry(family).or_default();
                e.0 += 1;
                if look.is_some() {
                    e.1 += 1;
                } else {
                    e.2.push(v.clone());
                }
                rows.push(VariantRow {
                    variant: v,
                    brand: brand.to_string(),
                    protected_id: id.clone(),
                    family: family.to_string(),
                    verdict: verdict.verdict,
                    matched_id: look.map(|l| l.protected_id.clone()),
                });
            }
        }
    }
    let families: Vec<FamilyCoverage> = FAMILIES
        .iter()
        .filter_map(|f| fam.get(f).map(|e| (f, e)))
        .map(|(f, (total, caught, misses))| FamilyCoverage {
            family: f.to_string(),
            total: *total,
            caught: *caught,
            coverage: if *total == 0 {
                1.0
            } else {
                *caught as f64 / *total as f64
            },
            misses: misses.clone(),
        })
        .collect();
    let variants: usize = families.iter().map(|f| f.total).sum();
    let caught: usize = families.iter().map(|f| f.caught).sum();
    let false_positives = legit.map(|ids| false_positive_check(reg, ids));
    Some(AuditReport {
        brand: brand.to_string(),
        protected_ids: protected,
        variants,
        caught,
        coverage: if variants == 0 {
            1.0
        } else {
            caught as f64 / variants as f64
        },
        families,
        false_positives,
        rows,
    })
}

/// How many legitimate IDs of other organisations the filter would call lookalikes.
pub fn false_positive_check(reg: &Registry, ids: &[String]) -> FalsePositiveCheck {
    let mut flagged_ids = Vec::new();
    for id in ids {
        if let Some(l) = reg.index.untwist(id) {
            flagged_ids.push((id.clone(), l.protected_id));
        }
    }
    FalsePositiveCheck {
        total: ids.len(),
        flagged: flagged_ids.len(),
        rate: if ids.is_empty() {
            0.0
        } else {
            flagged_ids.len() as f64 / ids.len() as f64
        },
        flagged_ids,
    }
}

impl AuditReport {
    /// A readable report.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Sender-ID audit: {} ({})",
            self.brand,
            self.protected_ids.join(", ")
        );
        let _ = writeln!(
            s,
            "{} variants generated, {} caught: coverage {:.2}%\n",
            self.variants,
            self.caught,
            100.0 * self.coverage
        );
        let _ = writeln!(
            s,
            "{:<18} {:>7} {:>7} {:>9}",
            "family", "total", "caught", "coverage"
        );
        for f in &self.families {
            let _ = writeln!(
                s,
                "{:<18} {:>7} {:>7} {:>8.2}%",
                f.family,
                f.total,
                f.caught,
                100.0 * f.coverage
            );
        }
        let misses: Vec<String> = self
            .families
            .iter()
            .flat_map(|f| {
                f.misses
                    .iter()
                    .map(move |m| format!("  {:<18} {m}", f.family))
            })
            .collect();
        if misses.is_empty() {
            let _ = writeln!(s, "\nno misses");
        } else {
            let _ = writeln!(s, "\nmisses ({}):\n{}", misses.len(), misses.join("\n"));
        }
        if let Some(fp) = &self.false_positives {
            let _ = writeln!(
                s,
                "\nfalse positives on {} legitimate IDs of other organisations: {} ({:.2}%)",
                fp.total,
                fp.flagged,
                100.0 * fp.rate
            );
            for (id, p) in &fp.flagged_ids {
                let _ = writeln!(s, "  {id} (matched {p})");
            }
        }
        s
    }

    /// The blocked-variant list a carrier's SMS firewall loads: every variant the filter labels
    /// or blocks, as CSV (the `csv` crate's quoting; cells a spreadsheet would run as a formula
    /// neutralised, per OWASP's CSV-injection rule).
    pub fn export_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(["sender_id", "brand", "protected_id", "family", "action"]);
        for r in self
            .rows
            .iter()
            .filter(|r| r.verdict != SmsAction::Allow && r.matched_id.is_some())
        {
            let _ = w.write_record([
                csv_cell(&r.variant),
                csv_cell(&r.brand),
                csv_cell(&r.protected_id),
                r.family.clone(),
                r.verdict.as_str().to_string(),
            ]);
        }
        w.into_inner()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

/// A cell a spreadsheet would evaluate (`=`, `+`, `-`, `@`, tab, carriage return first) gets a
/// leading `'`, so it is read as text.
pub fn csv_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for (cell, want) in [
            ("=cmd|'c'!A0", "'=cmd|'c'!A0"),
            ("+ACMEBANK", "'+ACMEBANK"),
            ("-x", "'-x"),
            ("@SUM", "'@SUM"),
            ("ACME-BANK", "ACME-BANK"),
        ] {
            assert_eq!(csv_cell(cell), want);
        }
    }

    #[test]
    fn families_are_generated_and_valid() {
        let v = generate("ACMEBANK");
        for f in FAMILIES {
            assert!(
                v.get(f).is_some_and(|l| !l.is_empty()),
                "family {f} is empty"
            );
        }
        assert!(v["omission"].contains(&"ACMEBNK".to_string()));
        assert!(v["homoglyph"].contains(&"ACMEBANK".replace('B', "8")));
        assert!(v["homoglyph_multi"].contains(&"ACRNEBANK".to_string()));
        assert!(v["transposition"].contains(&"CAMEBANK".to_string()));
        assert!(v["homoglyph_combo"].contains(&"ACNNEBANIC".to_string()));
        assert!(v["homoglyph_combo"].contains(&"ACMCDANK".to_string()));
        assert!(v["dictionary"].contains(&"ACMEBANKSEC".to_string()));
        assert!(v
            .values()
            .flatten()
            .all(|x| x.chars().count() <= 11 && x != "ACMEBANK"));
        assert!(
            !v["dictionary"].contains(&"ACMEBANK-SEC".to_string()),
            "12 characters is not a sender ID"
        );
    }
}
