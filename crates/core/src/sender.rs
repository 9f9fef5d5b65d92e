//! Sender-ID protection: the brand registry (validated), the lookalike fold (UTS #39 skeleton
//! after case folding, plus the GSM-7 visual confusions it lacks), the reverse "untwist" index
//! (exact skeleton + symmetric-deletion index: cost grows with the query, not the registry), DLT
//! style templates, and the per-message verdict. Pure: no IO, no clock.

use std::collections::{HashMap, HashSet};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;

use crate::extract::{extract_contacts, normalize_phone, registrable_domain, ExtractConfig};
use crate::validate::Rejection;

/// Longest alphanumeric sender ID (3GPP TS 23.040 TP-OA: 11 GSM-7 characters).
pub const ALPHANUMERIC_MAX: usize = 11;
/// Longest `{#var#}` slot value (India DLT: 30 characters).
pub const TEMPLATE_VAR_MAX: usize = 30;

/// GSM 03.38 basic character set (printable part; LF/CR/ESC are not allowed in a sender ID).
const GSM7_BASIC: &str = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table (sent with an escape).
const GSM7_EXTENSION: &str = "^{}\\[~]|€";

/// True when `c` is in the GSM-7 alphabet (basic or extension table).
pub fn is_gsm7(c: char) -> bool {
    GSM7_BASIC.contains(c) || GSM7_EXTENSION.contains(c)
}

/// What kind of sender a string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SenderKind {
    Alphanumeric,
    ShortCode,
    LongNumber,
}

/// Classify and normalise a sender as it arrives in an SMS (lenient: never fails).
pub fn classify_sender(raw: &str, extract: &ExtractConfig) -> (SenderKind, String) {
    let t = raw.trim();
    let digits_only = !t.is_empty()
        && t.trim_start_matches('+')
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
    if digits_only {
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        if (3..=8).contains(&digits.len()) && !t.starts_with('+') {
            return (SenderKind::ShortCode, digits);
        }
        if let Some(e164) = normalize_phone(t, extract) {
            return (SenderKind::LongNumber, e164);
        }
        return (SenderKind::ShortCode, digits);
    }
    (SenderKind::Alphanumeric, t.to_string())
}

/// Validate a sender ID for the registry, with a specific error.
pub fn validate_sender_id(
    raw: &str,
    extract: &ExtractConfig,
) -> Result<(SenderKind, String), Rejection> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(Rejection::new("invalid_sender_id", "a sender ID is empty"));
    }
    let (kind, norm) = classify_sender(t, extract);
    match kind {
        SenderKind::Alphanumeric => {
            if let Some(c) = t.chars().find(|c| !is_gsm7(*c)) {
                return Err(Rejection::new(
                    "sender_id_not_gsm7",
                    format!("sender ID {t:?} has {c:?} (U+{:04X}), which is outside the GSM 03.38 alphabet", c as u32),
                ));
            }
            let n = t.chars().count();
            if n > ALPHANUMERIC_MAX {
                return Err(Rejection::new(
                    "sender_id_too_long",
                    format!("alphanumeric sender ID {t:?} has {n} characters; the limit is {ALPHANUMERIC_MAX}"),
                ));
            }
            if !t.chars().any(|c| c.is_alphabetic()) {
                return Err(Rejection::new(
                    "invalid_sender_id",
                    format!("{t:?} is neither a number nor alphanumeric"),
                ));
            }
        }
        SenderKind::ShortCode if !(3..=8).contains(&norm.len()) => {
            return Err(Rejection::new(
                "invalid_sender_id",
                format!("{t:?}: short codes have 3 to 8 digits; long numbers need a country code"),
            ));
        }
        _ => {}
    }
    Ok((kind, norm))
}

// ---------------------------------------------------------------------------------------------
// The lookalike fold

/// The canonical form two visually confusable sender IDs share: case folded, UTS #39 skeleton,
/// GSM-7 confusions (0/O, 1/l/I, 5/S, 8/B, rn/m, vv/w, cl/d) merged, separators dropped.
pub fn fold(s: &str) -> String {
    merge_multi(fold_light(s))
}

/// One ASCII byte folded: lower case, GSM-7 visual confusions merged, separators dropped.
fn fold_ascii(b: u8) -> Option<char> {
    match b.to_ascii_lowercase() {
        b'0' => Some('o'),
        b'1' | b'i' | b'|' | b'!' => Some('l'),
        b'5' | b'$' => Some('s'),
        b'8' => Some('b'),
        c if c.is_ascii_alphanumeric() => Some(c as char),
        _ => None,
    }
}

/// Merge the multi-character confusions (rn/m, vv/w, cl/d), to a fixed point.
fn merge_multi(mut out: String) -> String {
    for (from, to) in [("rn", "m"), ("vv", "w"), ("cl", "d")] {
        while out.contains(from) {
            out = out.replace(from, to);
        }
    }
    out
}

/// The glyph fold: every ASCII lookalike in dnstwist's homoglyph table merged into one form, so
/// that an ID combining two or three substitutions (`ACNNEBANIC` for `ACMEBANK`: `nn` for m,
/// `ic` for k) has the protected ID's glyph form.
///
/// Covered: UTS #39 confusables and the GSM-7 confusions (through [`fold_light`]: Cyrillic and
/// Greek letters, accents, `0`/o, `1`/`i`/l, `5`/s, `8`/b) and dnstwist's ASCII table:
/// `lb`/`d`/b, `cl`/`dl`/d, `lc`/`ic`/k, `lh`/h, `c`/e, `g`/q, `u`/v, `vv`/w, `m`/`n`/`r` with
/// `rn`/`nn`/`rr`/m, `z`/`s`/`2`, `3`/`8`, `6`/`9`. Forms: `w` is written `uu` (so `VVV` is
/// V+W or W+V alike) and a run of `n` is one `n` (so m, n, nn and rn meet). Only an exact
/// glyph-form hit counts: with this many letters merged, an edit on top would reach real words.
pub fn fold_glyphs(s: &str) -> String {
    glyphs_of_light(&fold_light(s))
}

/// [`fold_glyphs`] of a string that is already a [`fold_light`].
fn glyphs_of_light(light: &str) -> String {
    // Letter for letter first, so the pairs below meet whatever each side substituted ("TCLE"
    // for "TELE" is E→C next to an L, not a D).
    let mut out = String::with_capacity(light.len() + 2);
    for c in light.chars() {
        let m = match c {
            'e' => 'c',
            'd' => 'b',
            'q' => 'g',
            'v' => 'u',
            'w' => {
                out.push_str("uu");
                continue;
            }
            'm' | 'r' => 'n',
            'z' | '2' => 's',
            '3' => 'b', // 3 looks like 8, which the fold already made b
            '9' => '6',
            other => other,
        };
        out.push(m);
    }
    // Then the pairs, `l` pairs first ("ACMCLBANK" is E→C then B→LB): lb→b, lc→k, lh→h, and d's
    // forms cl and dl (d is already b).
    // Every pair has an `l`: most IDs skip this.
    if out.contains('l') {
        for (from, to) in [
            ("lb", "b"),
            ("lc", "k"),
            ("lh", "h"),
            ("cl", "b"),
            ("bl", "b"),
        ] {
            while out.contains(from) {
                out = out.replace(from, to);
            }
        }
    }
    // m, n, nn, rn and rr meet as one n.
    if out.contains("nn") {
        let mut g = String::with_capacity(out.len());
        for c in out.chars() {
            if !(c == 'n' && g.ends_with('n')) {
                g.push(c);
            }
        }
        out = g;
    }
    out
}

/// [`fold`] without the multi-character merges: an edit next to a `c` or an `r` ("ACLEBK" for
/// "ACMEBK") must not look like two edits because the fold merged `cl` into `d`.
pub fn fold_light(s: &str) -> String {
    // The skeleton table is case-sensitive (Cyrillic `А` → Latin `A`, `m` → `rn`), so take the
    // skeleton of the text as written, then fold case; the extras below are case-free.
    if s.is_ascii() {
        // Fast path: no skeleton or decomposition needed for ASCII.
        let mut out = String::with_capacity(s.len());
        out.extend(s.bytes().filter_map(fold_ascii));
        return out;
    }
    let skel: String = {
        unicode_security::skeleton(s)
            .collect::<String>()
            .to_lowercase()
    };
    let mut out = String::with_capacity(skel.len());
    // Accents are dropped (GSM-7's Ø, Ö, Ä, Ñ, Ü, É look like their base letters).
    for c in skel.nfd().filter(|c| !is_combining_mark(*c)) {
        let m = match c {
            '0' => 'o',
            '1' | 'i' | '|' | '!' | 'ı' => 'l',
            'ø' => 'o',
            '5' | '$' => 's',
            '8' => 'b',
            c if c.is_alphanumeric() => c,
            _ => continue, // separators, spaces, punctuation
        };
        out.push(m);
    }
    out
}

/// Edit distance tolerated for a protected ID whose fold has `len` characters: short IDs get
/// only confusables and affixes (an edit makes another word), longer ones one or two edits.
pub fn radius(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Words scammers bolt onto a brand ("ACMEBANK-SEC", "ACMEALERT").
pub const AFFIXES_RAW: &[&str] = &[
    "SEC", "SECURE", "SECURITY", "ALERT", "ALERTS", "SUPPORT", "VERIFY", "HELP", "INFO", "SERVICE",
    "SVC", "TEAM", "CARE", "NOTIFY", "AUTH", "OTP", "BANK", "CARD", "PAY", "ONLINE", "MOBILE",
    "APP", "ID", "ACCT", "ACCOUNT", "FRAUD", "SAFE", "UK", "US", "USA", "HQ", "OFFICIAL", "MSG",
    "SMS", "TXT", "NOREPLY", "REPLY", "CS", "DESK", "TEXT", "NOTICE", "UPDATE", "LOGIN", "VERIF",
    "MY", "THE", "GET",
];

/// `s` with one prefix, one suffix, or both removed, for every affix that fits.
fn strip_affixes<S: AsRef<str>>(s: &str, affixes: &[S]) -> Vec<String> {
    let mut out = Vec::new();
    for a in affixes {
        let a = a.as_ref();
        if let Some(rest) = s.strip_prefix(a) {
            out.push(rest.to_string());
            for b in affixes {
                if let Some(r2) = rest.strip_suffix(b.as_ref()) {
                    out.push(r2.to_string());
                }
            }
        }
        if let Some(rest) = s.strip_suffix(a) {
            out.push(rest.to_string());
        }
    }
    out
}

/// Optimal-string-alignment distance (Damerau with adjacent transpositions), bounded.
pub fn osa(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

/// FNV-1a: a fast, deterministic hasher for the index's short string keys (the keys come from
/// the registry, not from attackers, so flooding resistance is not needed here).
#[derive(Default, Clone, Copy)]
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// What a lookalike hit looks like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Lookalike {
    pub brand: String,
    /// The protected sender ID imitated.
    pub protected_id: String,
    /// e.g. `homoglyph`, `edit`, `affix`, `affix+edit`.
    pub transformation: String,
    /// Edit distance between the folded forms (0 for pure homoglyph / case / separator tricks).
    pub distance: usize,
    /// The characters that differ, e.g. `0→O`, when the difference is a substitution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The untwist index: protected alphanumeric IDs by fold, plus a symmetric-deletion index so a
/// query costs O(len²) hash lookups whatever the number of protected IDs.
#[derive(Debug, Default, Clone)]
pub struct LookalikeIndex {
    /// (brand, original id, fold, fold length in characters)
    ids: Vec<(String, String, String, usize)>,
    by_fold: FastMap<String, Vec<u32>>,
    /// Protected IDs by [`fold_glyphs`] form (exact hits only).
    by_glyphs: FastMap<String, Vec<u32>>,
    by_deletion: FastMap<String, Vec<u32>>,
    /// Exact registered senders (normalised) → brand.
    /// Exact registered senders by kind (alphanumeric, short code, long number) → brand.
    registered: [FastMap<String, String>; 3],
    affixes: Vec<String>,
}

/// Call `f` with `s` itself and every string `s` with one (or, at depth 2, two) characters
/// deleted. ASCII queries use a stack buffer: no allocation per probe.
fn for_each_probe(s: &str, depth: usize, f: &mut dyn FnMut(&str)) {
    f(s);
    let n = s.len();
    if s.is_ascii() && n <= 32 {
        let b = s.as_bytes();
        let mut buf = [0u8; 32];
        for i in 0..n {
            let mut k = 0;
            for (x, c) in b.iter().enumerate() {
                if x != i {
                    buf[k] = *c;
                    k += 1;
                }
            }
            if let Ok(p) = std::str::from_utf8(&buf[..k]) {
                f(p);
            }
            if depth >= 2 && n > 2 {
                for j in i + 1..n {
                    let mut k = 0;
                    for (x, c) in b.iter().enumerate() {
                        if x != i && x != j {
                            buf[k] = *c;
                            k += 1;
                        }
                    }
                    if let Ok(p) = std::str::from_utf8(&buf[..k]) {
                        f(p);
                    }
                }
            }
        }
        return;
    }
    let mut set = HashSet::new();
    deletions(s, depth, &mut set);
    for p in &set {
        f(p);
    }
}

fn deletions(s: &str, depth: usize, out: &mut HashSet<String>) {
    if depth == 0 || s.chars().count() <= 1 {
        return;
    }
    let chars: Vec<char> = s.chars().collect();
    for i in 0..chars.len() {
        let d: String = chars[..i].iter().chain(chars[i + 1..].iter()).collect();
        if out.insert(d.clone()) {
            deletions(&d, depth - 1, out);
        }
    }
}

impl LookalikeIndex {
    pub fn new() -> Self {
        LookalikeIndex {
            affixes: AFFIXES_RAW.iter().map(|s| fold(s)).collect(),
            ..Default::default()
        }
    }

    /// Register a sender ID of `brand`.
    pub fn add(&mut self, brand: &str, kind: SenderKind, id: &str) {
        self.registered
            .get_mut(kind_slot(kind))
            .map(|m| m.insert(id.trim().to_string(), brand.to_string()));
        if kind != SenderKind::Alphanumeric {
            return;
        }
        let f = fold(id);
        if f.is_empty() {
            return;
        }
        let glyphs = fold_glyphs(id);
        if glyphs.chars().count() >= 5 {
            let n = self.ids.len() as u32;
            self.by_glyphs.entry(glyphs).or_default().push(n);
        }
        // Index the light fold too, so an edit next to a merged pair still counts as one edit.
        let light = fold_light(id);
        let forms = if light != f { vec![f, light] } else { vec![f] };
        for form in forms {
            let n = self.ids.len() as u32;
            let len = form.chars().count();
            self.ids
                .push((brand.to_string(), id.to_string(), form.clone(), len));
            self.by_fold.entry(form.clone()).or_default().push(n);
            // The form itself is in the deletion index too, so a probe is one lookup.
            self.by_deletion.entry(form.clone()).or_default().push(n);
            let mut dels = HashSet::new();
            deletions(&form, radius(len), &mut dels);
            for d in dels {
                self.by_deletion.entry(d).or_default().push(n);
            }
        }
    }

    /// Distinct protected IDs.
    pub fn protected_count(&self) -> usize {
        self.ids
            .iter()
            .map(|(_, id, _, _)| id)
            .collect::<HashSet<_>>()
            .len()
    }

    /// The brand that registered exactly this sender, if any.
    pub fn registered_brand(&self, kind: SenderKind, id: &str) -> Option<&str> {
        self.registered
            .get(kind_slot(kind))
            .and_then(|m| m.get(id.trim()))
            .map(String::as_str)
    }

    /// Which protected ID does `sender` imitate? Best (smallest distance) hit, if any.
    pub fn untwist(&self, sender: &str) -> Option<Lookalike> {
        let light = fold_light(sender);
        let q = merge_multi(light.clone());
        if q.is_empty() {
            return None;
        }
        let mut best: Option<(usize, u32, &'static str)> = None;
        let consider = |core: &str,
                        how: &'static str,
                        best: &mut Option<(usize, u32, &'static str)>| {
            if let Some(hits) = self.by_fold.get(core) {
                for &h in hits {
                    if best.is_none_or(|b| b.0 > 0) {
                        *best = Some((0, h, how));
                    }
                }
            }
            // An exact (distance 0) hit cannot be beaten; short cores have no edit radius.
            if best.is_some_and(|b| b.0 == 0) || core.chars().count() < 3 {
                return;
            }
            let qlen = core.chars().count();
            // A protected ID within radius 2 has ≥ 8 characters, so a query under 6 needs one.
            let depth = if qlen >= 6 { 2 } else { 1 };
            let mut seen: Vec<u32> = Vec::new();
            for_each_probe(core, depth, &mut |p: &str| {
                if let Some(list) = self.by_deletion.get(p) {
                    for &h in list {
                        if seen.contains(&h) {
                            continue;
                        }
                        seen.push(h);
                        let (_, _, f, flen) = &self.ids[h as usize];
                        let r = radius(*flen);
                        if r == 0 || flen.abs_diff(qlen) > r {
                            continue;
                        }
                        let d = osa(core, f);
                        // Ties go to the protected ID closest in length, then the longer one.
                        let key = |h: u32| {
                            let n = self.ids[h as usize].3;
                            (n.abs_diff(qlen), usize::MAX - n)
                        };
                        if d <= r
                            && best.is_none_or(|b| {
                                d < b.0 || (d == b.0 && b.0 > 0 && key(h) < key(b.1))
                            })
                        {
                            *best =
                                Some((d, h, if how == "affix" { "affix+edit" } else { "edit" }));
                        }
                    }
                }
            });
        };
        consider(&q, "homoglyph", &mut best);
        if light != q && best.is_none_or(|b| b.0 > 0) {
            consider(&light, "homoglyph", &mut best);
        }
        if best.is_none_or(|b| b.0 > 0) {
            // Strip one known prefix and/or suffix — on the raw ID (so a fold across the
            // boundary, "SEC"+"LITWARE" → "sedltware", does not hide it) and on the fold.
            let raw: String = sender
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_uppercase)
                .collect();
            let mut cores: Vec<String> = Vec::new();
            for core in strip_affixes(&raw, AFFIXES_RAW) {
                cores.push(fold(&core));
                cores.push(fold_light(&core));
            }
            cores.extend(strip_affixes(&q, &self.affixes));
            // Plurals.
            if let Some(rest) = q.strip_suffix('s') {
                cores.push(rest.to_string());
            }
            cores.sort();
            cores.dedup();
            for c in cores.iter().filter(|c| c.chars().count() >= 3) {
                consider(c, "affix", &mut best);
            }
            if best.is_none() && !self.by_glyphs.is_empty() {
                // Two or three lookalike substitutions at once, each within dnstwist's table,
                // on the whole ID or with a scammer's word bolted on.
                let whole = std::iter::once((light.as_str(), "homoglyph"));
                for (form, how) in whole.chain(cores.iter().map(|c| (c.as_str(), "affix"))) {
                    let g = glyphs_of_light(form);
                    if let Some(&h) = self.by_glyphs.get(&g).and_then(|v| v.first()) {
                        best = Some((0, h, how));
                        break;
                    }
                }
            }
        }
        let (d, h, how) = best?;
        let (brand, id, f, _) = &self.ids[h as usize];
        // An exact registered sender is not a lookalike of itself.
        if d == 0 && how == "homoglyph" && sender.trim() == id {
            return None;
        }
        let transformation = match (how, d) {
            ("homoglyph", 0) if sender.trim().eq_ignore_ascii_case(id) => "case".to_string(),
            ("homoglyph", 0) if fold_plain(sender) == fold_plain(id) => "separator".to_string(),
            (h, _) => h.to_string(),
        };
        Some(Lookalike {
            brand: brand.clone(),
            protected_id: id.clone(),
            transformation,
            distance: d,
            detail: describe_difference(sender, id, &q, f),
        })
    }
}

fn fold_plain(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn kind_slot(kind: SenderKind) -> usize {
    match kind {
        SenderKind::Alphanumeric => 0,
        SenderKind::ShortCode => 1,
        SenderKind::LongNumber => 2,
    }
}

/// Name the differing characters when the sender and the protected ID have the same length.
fn describe_difference(sender: &str, id: &str, q: &str, f: &str) -> Option<String> {
    let a: Vec<char> = sender.trim().chars().collect();
    let b: Vec<char> = id.chars().collect();
    if a.len() == b.len() {
        let diffs: Vec<String> = a
            .iter()
            .zip(b.iter())
            .filter(|(x, y)| x != y && !x.eq_ignore_ascii_case(y))
            .map(|(x, y)| format!("{x}→{y}"))
            .collect();
        if !diffs.is_empty() && diffs.len() <= 3 {
            return Some(diffs.join(", "));
        }
    }
    if q != f {
        return Some(format!("{q} ~ {f} after folding"));
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Templates

/// A registered message template: fixed text with `{#var#}` slots of at most 30 characters.
#[derive(Debug, Clone)]
pub struct Template {
    pub text: String,
    pub regex: Regex,
}

fn squash_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Compile a template, with a specific error when it is malformed.
pub fn compile_template(t: &str) -> Result<Template, Rejection> {
    let text = squash_ws(t);
    if text.is_empty() {
        return Err(Rejection::new("invalid_template", "a template is empty"));
    }
    let mut pattern = String::from("^");
    let mut rest = text.as_str();
    let mut fixed = 0;
    while let Some(i) = rest.find("{#") {
        let (before, after) = rest.split_at(i);
        fixed += before.len();
        pattern.push_str(&regex::escape(before));
        let Some(after) = after.strip_prefix("{#var#}") else {
            return Err(Rejection::new(
                "invalid_template",
                format!(
                    "template {t:?}: slots are written {{#var#}}; found {:?}",
                    &after[..after.len().min(12)]
                ),
            ));
        };
        pattern.push_str(&format!("(.{{1,{TEMPLATE_VAR_MAX}}}?)"));
        rest = after;
    }
    if rest.contains("#}") {
        return Err(Rejection::new(
            "invalid_template",
            format!("template {t:?} has an unopened slot `#}}`"),
        ));
    }
    fixed += rest.len();
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    if fixed == 0 {
        return Err(Rejection::new(
            "invalid_template",
            format!("template {t:?} has no fixed text"),
        ));
    }
    let regex = Regex::new(&pattern)
        .map_err(|e| Rejection::new("invalid_template", format!("template {t:?}: {e}")))?;
    Ok(Template { text, regex })
}

// ---------------------------------------------------------------------------------------------
// The registry

/// The unregistered-sender policy of a brand, and the global one for unregistered alphanumerics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmsAction {
    Allow,
    #[default]
    Label,
    Block,
}

impl SmsAction {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsAction::Allow => "allow",
            SmsAction::Label => "label",
            SmsAction::Block => "block",
        }
    }
}

/// A brand as an operator registers it (`PUT /v1/brands/{brand}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandIn {
    /// How the brand names itself ("ACME Bank").
    #[serde(default)]
    pub display_names: Vec<String>,
    /// Other names customers and scammers use ("ACME", "Acme Financial").
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Alphanumeric IDs (≤ 11 GSM-7 characters), short codes, E.164 long numbers.
    #[serde(default)]
    pub sender_ids: Vec<String>,
    /// Numbers the brand's messages may ask customers to call.
    #[serde(default)]
    pub callback_numbers: Vec<String>,
    /// Registrable domains the brand's links use.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Message templates, fixed text with `{#var#}` slots (≤ 30 characters each).
    #[serde(default)]
    pub templates: Vec<String>,
    /// What to do with a message that imitates or names this brand from a sender it did not
    /// register: `label` (deliver marked "Likely-SCAM") or `block`.
    #[serde(default = "default_brand_policy")]
    pub unregistered_policy: SmsAction,
}

fn default_brand_policy() -> SmsAction {
    SmsAction::Block
}

/// A validated brand.
#[derive(Debug, Clone)]
pub struct Brand {
    pub name: String,
    pub spec: BrandIn,
    pub senders: Vec<(SenderKind, String)>,
    pub callback_numbers: HashSet<String>,
    pub domains: HashSet<String>,
    pub templates: Vec<Template>,
    pub template_set: Option<RegexSet>,
    /// Names (display names, aliases, alphanumeric IDs ≥ 4), folded, for body mentions.
    pub mention_names: Vec<String>,
}

/// Validate a brand; every problem is a specific rejection.
pub fn validate_brand(
    name: &str,
    spec: BrandIn,
    extract: &ExtractConfig,
) -> Result<Brand, Rejection> {
    let name = name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Rejection::new(
            "invalid_brand_name",
            "a brand name is 1–64 characters of letters, digits, `-`, `_` or `.`",
        ));
    }
    if spec.sender_ids.is_empty() {
        return Err(Rejection::new(
            "missing_field",
            "a brand needs at least one sender ID in `sender_ids`",
        ));
    }
    if spec.unregistered_policy == SmsAction::Allow {
        return Err(Rejection::new(
            "invalid_policy",
            "`unregistered_policy` is `label` or `block`",
        ));
    }
    let mut senders = Vec::new();
    for s in &spec.sender_ids {
        senders.push(validate_sender_id(s, extract)?);
    }
    let mut callback_numbers = HashSet::new();
    for n in &spec.callback_numbers {
        let e = normalize_phone(n, extract)
            .or_else(|| {
                let d: String = n.chars().filter(char::is_ascii_digit).collect();
                (3..=8).contains(&d.len()).then_some(d)
            })
            .ok_or_else(|| {
                Rejection::new(
                    "invalid_callback_number",
                    format!("{n:?} is not a phone number"),
                )
            })?;
        callback_numbers.insert(e);
    }
    let mut domains = HashSet::new();
    for d in &spec.domains {
        let r = registrable_domain(d).ok_or_else(|| {
            Rejection::new("invalid_domain", format!("{d:?} has no registrable domain"))
        })?;
        domains.insert(r);
    }
    let templates = spec
        .templates
        .iter()
        .map(|t| compile_template(t))
        .collect::<Result<Vec<_>, _>>()?;
    let template_set = if templates.is_empty() {
        None
    } else {
        Some(
            RegexSet::new(templates.iter().map(|t| t.regex.as_str()))
                .map_err(|e| Rejection::new("invalid_template", e.to_string()))?,
        )
    };
    let mut mention_names: Vec<String> = spec
        .display_names
        .iter()
        .chain(spec.aliases.iter())
        .map(|n| fold_text(n))
        .chain(
            senders
                .iter()
                .filter(|(k, _)| *k == SenderKind::Alphanumeric)
                .map(|(_, id)| fold(id)),
        )
        .filter(|f| f.chars().count() >= 4)
        .collect();
    mention_names.sort();
    mention_names.dedup();
    Ok(Brand {
        name: name.to_string(),
        spec,
        senders,
        callback_numbers,
        domains,
        templates,
        template_set,
        mention_names,
    })
}

/// Global filter settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterPolicy {
    /// What to do with an alphanumeric sender no brand registered (Singapore's SSIR labels them).
    pub unregistered_alphanumeric: SmsAction,
    /// Generic sender IDs that impersonate no one in particular and everyone in general.
    pub generic_senders: Vec<String>,
    pub generic_action: SmsAction,
    /// A registered sender whose body fits none of its templates (a compromised account).
    pub template_mismatch_action: SmsAction,
    /// A registered sender's message with a number or link that is not the brand's.
    pub unofficial_contact_action: SmsAction,
}

impl Default for FilterPolicy {
    fn default() -> Self {
        FilterPolicy {
            unregistered_alphanumeric: SmsAction::Label,
            generic_senders: [
                "INFO", "ALERT", "ALERTS", "VERIFY", "NOTICE", "SECURITY", "BANK", "SERVICE",
                "SUPPORT", "UPDATE", "ACCOUNT", "NOREPLY", "NO-REPLY", "MESSAGE", "SMS", "OTP",
                "AUTH", "DELIVERY", "PARCEL", "REFUND", "WARNING",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            generic_action: SmsAction::Label,
            template_mismatch_action: SmsAction::Label,
            unofficial_contact_action: SmsAction::Block,
        }
    }
}

/// The compiled registry: brands plus the indexes every verdict uses.
#[derive(Debug, Clone)]
pub struct Registry {
    pub brands: HashMap<String, Brand>,
    pub index: LookalikeIndex,
    /// Folded brand names in bodies → brand.
    mentions: Option<AhoCorasick>,
    mention_brand: Vec<String>,
    generic: FastMap<String, ()>,
    /// Every official domain → brand, for "lookalike of an official domain".
    domain_index: LookalikeIndex,
    pub policy: FilterPolicy,
}

impl Registry {
    pub fn new(brands: Vec<Brand>, policy: FilterPolicy) -> Registry {
        let mut index = LookalikeIndex::new();
        let mut domain_index = LookalikeIndex::new();
        let mut patterns = Vec::new();
        let mut mention_brand = Vec::new();
        for b in &brands {
            for (k, id) in &b.senders {
                index.add(&b.name, *k, id);
            }
            for d in &b.domains {
                let label = d.split('.').next().unwrap_or(d);
                domain_index.add(&b.name, SenderKind::Alphanumeric, label);
            }
            for n in &b.mention_names {
                patterns.push(n.clone());
                mention_brand.push(b.name.clone());
            }
        }
        let mentions = if patterns.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .ok()
        };
        Registry {
            generic: policy
                .generic_senders
                .iter()
                .map(|g| (fold(g), ()))
                .collect(),
            brands: brands.into_iter().map(|b| (b.name.clone(), b)).collect(),
            index,
            mentions,
            mention_brand,
            domain_index,
            policy,
        }
    }

    /// Brands named in a body (through homoglyphs and confusable Unicode too).
    pub fn mentioned_brands(&self, body: &str) -> Vec<String> {
        let Some(ac) = &self.mentions else {
            return Vec::new();
        };
        let folded = fold_text(body);
        let mut out: Vec<String> = Vec::new();
        for m in ac.find_iter(&folded) {
            // Whole words only: "acme" in "acmeplumbing" is fine, "pacme" is not a mention.
            let before = folded[..m.start()].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric()) {
                continue;
            }
            let b = &self.mention_brand[m.pattern().as_usize()];
            if !out.contains(b) {
                out.push(b.clone());
            }
        }
        out
    }
}

/// Fold a message body word by word (keeping word boundaries as single spaces).
pub fn fold_text(body: &str) -> String {
    if body.is_ascii() {
        let mut out = String::with_capacity(body.len());
        let mut space = false;
        for b in body.bytes() {
            if b.is_ascii_whitespace() {
                space = !out.is_empty();
                continue;
            }
            let Some(m) = fold_ascii(b) else { continue };
            if space {
                out.push(' ');
                space = false;
            }
            out.push(m);
        }
        return merge_multi(out);
    }
    let mut out = String::with_capacity(body.len());
    for w in body.split(|c: char| c.is_whitespace()) {
        let f = fold(w);
        if !f.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&f);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Verdicts

/// An SMS in transit.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsIn {
    pub sender: Option<String>,
    pub body: Option<String>,
    #[serde(default)]
    pub recipient: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub received_at: Option<String>,
}

/// One reason behind a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SmsReason {
    /// `registered_sender`, `lookalike_sender`, `unregistered_alphanumeric`, `generic_sender`,
    /// `brand_mention_unregistered_sender`, `unofficial_callback_number`, `unofficial_link`,
    /// `template_mismatch`.
    pub code: &'static str,
    /// What this reason alone calls for.
    pub action: SmsAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookalike: Option<Lookalike>,
}

/// The verdict on one message.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SmsVerdict {
    pub verdict: SmsAction,
    pub sender_kind: SenderKind,
    pub reasons: Vec<SmsReason>,
}

/// Judge one message. The verdict is the strictest action among the reasons.
pub fn evaluate(sender: &str, body: &str, reg: &Registry, extract: &ExtractConfig) -> SmsVerdict {
    let (kind, norm) = classify_sender(sender, extract);
    let mut reasons = Vec::new();
    let registered = reg.index.registered_brand(kind, &norm).map(str::to_string);
    let p = &reg.policy;
    match &registered {
        Some(brand) => reasons.push(SmsReason {
            code: "registered_sender",
            action: SmsAction::Allow,
            brand: Some(brand.clone()),
            detail: format!("{norm} is a registered sender of {brand}"),
            lookalike: None,
        }),
        None if kind == SenderKind::Alphanumeric => {
            if let Some(l) = reg.index.untwist(&norm) {
                let action = reg
                    .brands
                    .get(&l.brand)
                    .map_or(SmsAction::Block, |b| b.spec.unregistered_policy);
                reasons.push(SmsReason {
                    code: "lookalike_sender",
                    action,
                    brand: Some(l.brand.clone()),
                    detail: format!(
                        "{norm} imitates {}'s sender {} ({}, edit distance {})",
                        l.brand, l.protected_id, l.transformation, l.distance
                    ),
                    lookalike: Some(l),
                });
            } else if reg.generic.contains_key(&fold(&norm)) {
                reasons.push(SmsReason {
                    code: "generic_sender",
                    action: p.generic_action,
                    brand: None,
                    detail: format!("{norm} is a generic sender ID that names no organisation"),
                    lookalike: None,
                });
            } else {
                reasons.push(SmsReason {
                    code: "unregistered_alphanumeric",
                    action: p.unregistered_alphanumeric,
                    brand: None,
                    detail: format!("no brand registered the alphanumeric sender {norm}"),
                    lookalike: None,
                });
            }
        }
        None => {}
    }

    // A registered sender speaks for its own brand; others are checked for naming a brand.
    let mentioned = if registered.is_none() {
        reg.mentioned_brands(body)
    } else {
        Vec::new()
    };
    if registered.is_none() {
        for b in &mentioned {
            let action = reg
                .brands
                .get(b)
                .map_or(SmsAction::Block, |x| x.spec.unregistered_policy);
            reasons.push(SmsReason {
                code: "brand_mention_unregistered_sender",
                action,
                brand: Some(b.clone()),
                detail: format!("the message names {b} but {norm} is not one of its senders"),
                lookalike: None,
            });
        }
    }

    // Contacts in the body, judged against the brands the message is from or speaks for.
    let speaking_for: Vec<&Brand> = registered
        .iter()
        .chain(mentioned.iter())
        .chain(
            reasons
                .iter()
                .filter_map(|r| r.lookalike.as_ref().map(|l| &l.brand)),
        )
        .filter_map(|b| reg.brands.get(b))
        .collect();
    if !speaking_for.is_empty() && !body.is_empty() {
        let (numbers, domains) = extract_contacts(body, extract, None);
        for n in &numbers {
            if !speaking_for.iter().any(|b| b.callback_numbers.contains(n)) {
                let b = speaking_for[0];
                reasons.push(SmsReason {
                    code: "unofficial_callback_number",
                    action: p.unofficial_contact_action,
                    brand: Some(b.name.clone()),
                    detail: format!("{n} is not an official number of {}", b.name),
                    lookalike: None,
                });
            }
        }
        for d in &domains {
            if !speaking_for.iter().any(|b| b.domains.contains(d)) {
                let b = speaking_for[0];
                let label = d.split('.').next().unwrap_or(d);
                let look = reg
                    .domain_index
                    .untwist(label)
                    .filter(|l| speaking_for.iter().any(|b| b.name == l.brand));
                let detail = match &look {
                    Some(_) => format!(
                        "{d} is not an official domain of {}; it imitates one",
                        b.name
                    ),
                    None => format!("{d} is not an official domain of {}", b.name),
                };
                reasons.push(SmsReason {
                    code: "unofficial_link",
                    action: if look.is_some() {
                        SmsAction::Block
                    } else {
                        p.unofficial_contact_action
                    },
                    brand: Some(b.name.clone()),
                    detail,
                    lookalike: look,
                });
            }
        }
    }
    if let Some(brand) = registered.as_ref().and_then(|b| reg.brands.get(b)) {
        if let Some(set) = &brand.template_set {
            if !set.is_match(&squash_ws(body)) {
                reasons.push(SmsReason {
                    code: "template_mismatch",
                    action: p.template_mismatch_action,
                    brand: Some(brand.name.clone()),
                    detail: format!(
                        "the body fits none of {}'s {} registered templates: the sender account may be compromised",
                        brand.name,
                        brand.templates.len()
                    ),
                    lookalike: None,
                });
            }
        }
    }
    let verdict = reasons
        .iter()
        .map(|r| r.action)
        .max_by_key(|a| *a as u8)
        .unwrap_or(SmsAction::Allow);
    SmsVerdict {
        verdict,
        sender_kind: kind,
        reasons,
    }
}

/// Contacts in `body` that confirmed smishing campaigns use are blocked, whoever sends them.
pub fn block_campaign_contacts(
    v: &mut SmsVerdict,
    body: &str,
    blocked: &crate::campaign::Blocked,
    extract: &ExtractConfig,
) {
    if blocked.is_empty() || body.is_empty() {
        return;
    }
    let (numbers, domains) = extract_contacts(body, extract, None);
    let hits = numbers
        .iter()
        .filter_map(|n| blocked.numbers.get(n).map(|c| (n, c, "callback number")))
        .chain(
            domains
                .iter()
                .filter_map(|d| blocked.domains.get(d).map(|c| (d, c, "link domain"))),
        );
    for (what, campaign, kind) in hits {
        v.reasons.push(SmsReason {
            code: "campaign_indicator",
            action: SmsAction::Block,
            brand: None,
            detail: format!("the {kind} {what} belongs to confirmed smishing campaign {campaign}"),
            lookalike: None,
        });
        v.verdict = SmsAction::Block;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmed_campaign_contacts_are_blocked() {
        let x = ExtractConfig::default();
        let mut blocked = crate::campaign::Blocked::default();
        blocked.numbers.insert("+18885550142".into(), 4);
        blocked.domains.insert("acme-unlock.top".into(), 9);
        let reg = Registry::new(Vec::new(), FilterPolicy::default());
        let mut v = evaluate(
            "+12025550100",
            "Call 888-555-0142 or see acme-unlock.top/x",
            &reg,
            &x,
        );
        block_campaign_contacts(
            &mut v,
            "Call 888-555-0142 or see acme-unlock.top/x",
            &blocked,
            &x,
        );
        assert_eq!(v.verdict, SmsAction::Block);
        let codes: Vec<&str> = v.reasons.iter().map(|r| r.code).collect();
        assert_eq!(
            codes.iter().filter(|c| **c == "campaign_indicator").count(),
            2,
            "{codes:?}"
        );
        let mut clean = evaluate("+12025550100", "See you at 5", &reg, &x);
        let before = clean.clone();
        block_campaign_contacts(&mut clean, "See you at 5", &blocked, &x);
        assert_eq!(clean, before);
    }

    fn registry() -> Registry {
        let x = ExtractConfig::default();
        let acme = validate_brand(
            "acme",
            BrandIn {
                display_names: vec!["ACME Bank".into()],
                aliases: vec!["Acme Financial".into()],
                sender_ids: vec!["ACMEBANK".into(), "ACME".into(), "72263".into()],
                callback_numbers: vec!["1-800-555-0199".into()],
                domains: vec!["acmebank.com".into()],
                templates: vec!["ACME Bank: your code is {#var#}. Never share it.".into()],
                unregistered_policy: SmsAction::Block,
            },
            &x,
        )
        .unwrap();
        let nw = validate_brand(
            "northwind",
            BrandIn {
                display_names: vec!["Northwind Telecom".into()],
                sender_ids: vec!["NORTHWIND".into()],
                unregistered_policy: SmsAction::Label,
                ..Default::default()
            },
            &x,
        )
        .unwrap();
        Registry::new(vec![acme, nw], FilterPolicy::default())
    }

    #[test]
    fn fold_merges_visual_confusions() {
        for (a, b) in [
            ("ACMEBANK", "acmebank"),
            ("ACMEBANK", "ACMEB4NK".replace('4', "A").as_str()),
            ("ACMEBANK", "ACME-BANK"),
            ("ACMEBANK", "ACMEBAИK".replace('И', "N").as_str()),
            ("PAYPAL", "PAYPA1"),
            ("BOOTS", "B00TS"),
            ("MODERN", "MODEM"), // rn/m
            ("WOOD", "VVOOD"),
            ("ACMEBANK", "АСМЕВАNК"), // Cyrillic А, С, М, Е, В, К
        ] {
            assert_eq!(fold(a), fold(b), "{a} vs {b}");
        }
        assert_ne!(fold("ACMEBANK"), fold("ACMEBUNK"));
    }

    #[test]
    fn combined_lookalikes_are_named_and_real_words_are_not() {
        let reg = registry();
        for (sender, protected) in [
            ("ACNNEBANIC", "ACMEBANK"),     // nn for m, ic for k
            ("ACRREBANLC", "ACMEBANK"),     // rr for m, lc for k
            ("AEMCDANK", "ACMEBANK"),       // c/e both ways, d for b
            ("ACMCLBANIC", "ACMEBANK"),     // c for e, lb for b, ic for k
            ("ACNNEBANIC-SEC", "ACMEBANK"), // and an affix
            ("NORTLHVVIRD", "NORTHWIND"),   // lh for h, vv for w, r for n
            ("АСМЕВАNIC", "ACMEBANK"),      // Cyrillic letters and ic for k
        ] {
            let l = reg
                .index
                .untwist(sender)
                .unwrap_or_else(|| panic!("{sender} is not named as a lookalike"));
            assert_eq!(l.protected_id, protected, "{sender}");
        }
        for legit in ["ACMEHOTELS", "NORTHERN", "NORTHSTAR", "SHOPNOW", "NATWEST"] {
            assert!(reg.index.untwist(legit).is_none(), "{legit}");
        }
    }

    #[test]
    fn registry_input_errors_are_specific() {
        let x = ExtractConfig::default();
        let base = BrandIn {
            sender_ids: vec!["ACME".into()],
            ..Default::default()
        };
        for (mutate, code) in [
            (
                Box::new(|b: &mut BrandIn| b.sender_ids = vec!["ACMEBANKSECURE".into()])
                    as Box<dyn Fn(&mut BrandIn)>,
                "sender_id_too_long",
            ),
            (
                Box::new(|b: &mut BrandIn| b.sender_ids = vec!["ACMEΣ€✓".into()]),
                "sender_id_not_gsm7",
            ),
            (
                Box::new(|b: &mut BrandIn| b.templates = vec!["Your code {#num#}".into()]),
                "invalid_template",
            ),
            (
                Box::new(|b: &mut BrandIn| b.templates = vec!["{#var#}".into()]),
                "invalid_template",
            ),
            (
                Box::new(|b: &mut BrandIn| b.domains = vec!["not a domain".into()]),
                "invalid_domain",
            ),
            (
                Box::new(|b: &mut BrandIn| b.callback_numbers = vec!["call us".into()]),
                "invalid_callback_number",
            ),
            (
                Box::new(|b: &mut BrandIn| b.sender_ids.clear()),
                "missing_field",
            ),
            (
                Box::new(|b: &mut BrandIn| b.unregistered_policy = SmsAction::Allow),
                "invalid_policy",
            ),
        ] {
            let mut b = base.clone();
            mutate(&mut b);
            assert_eq!(validate_brand("acme", b, &x).unwrap_err().code, code);
        }
        assert_eq!(
            validate_brand("bad name!", base, &x).unwrap_err().code,
            "invalid_brand_name"
        );
    }

    #[test]
    fn every_reason_table() {
        let reg = registry();
        let x = ExtractConfig::default();
        let cases: &[(&str, &str, &str, &[&str])] = &[
            (
                "ACMEBANK",
                "ACME Bank: your code is 123456. Never share it.",
                "allow",
                &["registered_sender"],
            ),
            (
                "72263",
                "ACME Bank: your code is 99. Never share it.",
                "allow",
                &["registered_sender"],
            ),
            (
                "ACMEBNK",
                "Your card is blocked",
                "block",
                &["lookalike_sender"],
            ),
            ("ACME8ANK", "hello", "block", &["lookalike_sender"]),
            ("ACME-SEC", "hello", "block", &["lookalike_sender"]),
            (
                "N0RTHWIND",
                "Your bill is ready",
                "label",
                &["lookalike_sender"],
            ),
            (
                "PIZZAHUT",
                "2 for 1 tonight",
                "label",
                &["unregistered_alphanumeric"],
            ),
            (
                "INFO",
                "You have a parcel waiting",
                "label",
                &["generic_sender"],
            ),
            (
                "+14155550123",
                "ACME Bank: unusual sign-in. Call 1-888-555-0142",
                "block",
                &[
                    "brand_mention_unregistered_sender",
                    "unofficial_callback_number",
                ],
            ),
            (
                "+14155550123",
                "Αcme Financial alert: verify at acmebank-secure.com",
                "block",
                &["brand_mention_unregistered_sender", "unofficial_link"],
            ),
            (
                "ACMEBANK",
                "ACME Bank: your account is locked, call 1-888-555-0142 now",
                "block",
                &[
                    "registered_sender",
                    "unofficial_callback_number",
                    "template_mismatch",
                ],
            ),
            (
                "ACMEBANK",
                "ACME Bank: we changed our terms",
                "label",
                &["registered_sender", "template_mismatch"],
            ),
            ("+14155550123", "See you at 6", "allow", &[]),
        ];
        for (sender, body, verdict, codes) in cases {
            let v = evaluate(sender, body, &reg, &x);
            let got: Vec<&str> = v.reasons.iter().map(|r| r.code).collect();
            assert_eq!(
                (v.verdict.as_str(), got.as_slice()),
                (*verdict, *codes),
                "{sender}: {body}"
            );
        }
        let v = evaluate("ACME8ANK", "", &reg, &x);
        let l = v.reasons[0].lookalike.as_ref().unwrap();
        assert_eq!((l.protected_id.as_str(), l.distance), ("ACMEBANK", 0));
        assert_eq!(l.detail.as_deref(), Some("8→B"));
        let v = evaluate(
            "+14155550123",
            "Αcme Financial: verify at acmebank-secure.com",
            &reg,
            &x,
        );
        assert!(v.reasons[1].detail.contains("imitates"), "{:?}", v.reasons);
    }
}
