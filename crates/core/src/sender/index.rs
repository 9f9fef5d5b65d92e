//! The untwist index: protected IDs by fold and glyph form, plus a symmetric-deletion index,
//! so naming the ID a sender imitates costs hash lookups proportional to the sender's length,
//! whatever the number of protected IDs.

use super::*;

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

pub(super) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

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
pub(super) fn for_each_probe(s: &str, depth: usize, f: &mut dyn FnMut(&str)) {
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

pub(super) fn deletions(s: &str, depth: usize, out: &mut HashSet<String>) {
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

pub(super) fn fold_plain(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

pub(super) fn kind_slot(kind: SenderKind) -> usize {
    match kind {
        SenderKind::Alphanumeric => 0,
        SenderKind::ShortCode => 1,
        SenderKind::LongNumber => 2,
    }
}

/// Name the differing characters when the sender and the protected ID have the same length.
pub(super) fn describe_difference(sender: &str, id: &str, q: &str, f: &str) -> Option<String> {
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
