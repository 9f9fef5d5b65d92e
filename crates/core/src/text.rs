//! Text normalisation and similarity used by matching: message text, merchant names and
//! sender IDs compared the way people remember them. Pure functions.

use crate::sender::{fold, fold_glyphs};

/// Lower-case, alphanumeric tokens joined by single spaces (used for hashing and comparing text).
pub fn normalize_text(s: &str) -> String {
    tokens(s).join(" ")
}

/// Lower-case alphanumeric tokens.
pub fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Share of the fragment's tokens that appear in the body (0..=1): how much of what the caller
/// quotes is in what we sent. Order-insensitive, so paraphrase still scores.
pub fn containment(fragment: &str, body: &str) -> f64 {
    let frag = tokens(fragment);
    if frag.is_empty() {
        return 0.0;
    }
    let body: std::collections::HashSet<String> = tokens(body).into_iter().collect();
    let hit = frag
        .iter()
        .filter(|t| {
            body.contains(*t)
                || (t.len() >= 5
                    && body
                        .iter()
                        .any(|b| b.len() >= 5 && strsim::jaro_winkler(t, b) >= 0.92))
        })
        .count();
    hit as f64 / frag.len() as f64
}

/// Tokens in merchant descriptors that say nothing about who the merchant is.
const MERCHANT_NOISE: &[&str] = &[
    "INC", "LLC", "LTD", "CO", "CORP", "THE", "STORE", "STORES", "COM", "WWW", "SQ", "TST", "POS",
    "PURCHASE", "ONLINE", "MKTP", "US", "USA", "PLC", "GMBH",
];

/// Normalised merchant: upper-case letters and digits of meaningful tokens, spaces removed, store
/// numbers ("#1123", "00412") dropped. "Best Buy" and "BESTBUY #1123" both become "BESTBUY".
pub fn normalize_merchant(s: &str) -> String {
    merchant_tokens(s).concat()
}

fn merchant_tokens(s: &str) -> Vec<String> {
    s.to_uppercase()
        .split(|c: char| !c.is_alphanumeric() && c != '#' && c != '\'')
        .filter(|t| !t.is_empty() && !t.starts_with('#'))
        .map(|t| t.replace('\'', ""))
        .filter(|t| !t.chars().all(|c| c.is_ascii_digit()))
        .filter(|t| !MERCHANT_NOISE.contains(&t.as_str()))
        .collect()
}

/// The descriptor table: processor prefixes to strip and descriptor forms → the names people say
/// (`data/merchant_descriptors.tsv`; data, not code).
pub const MERCHANT_DESCRIPTORS: &str = include_str!("../data/merchant_descriptors.tsv");

struct Descriptors {
    /// (prefix, upper case without spaces; what people may also call the charge)
    strip: Vec<(String, Option<String>)>,
    /// (prefix, upper-case letters and digits; the name people say)
    alias: Vec<(String, String)>,
}

fn descriptors() -> &'static Descriptors {
    static TABLE: std::sync::OnceLock<Descriptors> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut d = Descriptors {
            strip: Vec::new(),
            alias: Vec::new(),
        };
        for line in MERCHANT_DESCRIPTORS.lines() {
            let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
            match cols.as_slice() {
                ["strip", prefix, rest @ ..] => d.strip.push((
                    despace(prefix),
                    rest.first()
                        .filter(|n| !n.is_empty())
                        .map(|n| n.to_string()),
                )),
                ["alias", prefix, name, ..] => d.alias.push((squash(prefix), name.to_string())),
                _ => {} // comments, blank lines
            }
        }
        // The longest prefix wins ("DD *DOORDASH" before "DD *").
        d.strip.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        d
    })
}

fn despace(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

/// Does the descriptor start with the alias `prefix` at a word boundary? ("AMZN MKTP" starts with
/// AMZN; "BKLYN BAGELS" does not start with BK; a prefix of 4+ letters may end inside the first
/// word: MCDONALD in "MCDONALD'S".)
fn starts_with_words(descriptor: &str, prefix: &str) -> bool {
    let mut acc = String::new();
    for t in descriptor
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|t| !t.is_empty())
    {
        acc.push_str(&squash(t));
        if acc == prefix {
            return true;
        }
        if acc.len() >= prefix.len() {
            return prefix.len() >= 4 && acc.starts_with(prefix);
        }
    }
    false
}

/// The names a merchant string may go by: itself, the merchant behind a processor prefix
/// (`SQ *BLUE BOTTLE` → `BLUE BOTTLE`), the processor's own name when people use it
/// (`PAYPAL *NETFLIX` → `PAYPAL`), and the name a descriptor form stands for (`AMZN Mktp US` →
/// `AMAZON`), from the descriptor table.
pub fn merchant_names(s: &str) -> Vec<String> {
    let d = descriptors();
    let mut out = vec![s.to_string()];
    let spaced = despace(s);
    for (prefix, name) in &d.strip {
        if let Some(rest) = spaced.strip_prefix(prefix.as_str()) {
            if !rest.is_empty() {
                // The rest as written, spaces kept.
                out.push(
                    after_non_space(s, prefix.chars().count())
                        .trim()
                        .to_string(),
                );
            }
            out.extend(name.clone());
            break;
        }
    }
    let mut aliases = Vec::new();
    for form in &out {
        for (prefix, name) in &d.alias {
            if starts_with_words(form, prefix) {
                aliases.push(name.clone());
            }
        }
    }
    out.extend(aliases);
    let mut seen = std::collections::HashSet::new();
    out.retain(|n| seen.insert(n.clone()));
    out
}

/// `s` after its first `n` characters that are not whitespace.
fn after_non_space(s: &str, n: usize) -> &str {
    let mut seen = 0;
    for (i, c) in s.char_indices() {
        if seen == n {
            return &s[i..];
        }
        if !c.is_whitespace() {
            seen += 1;
        }
    }
    ""
}

/// Similarity in 0..=1 of the merchant a caller names to the one we recorded: the best over the
/// names each may go by ([`merchant_names`]). Directional: card descriptors abbreviate
/// ("WHOLEFDS MKT" for "Whole Foods"), callers use full names.
pub fn merchant_similarity(claimed: &str, recorded: &str) -> f64 {
    merchant_similarity_to(&merchant_names(claimed), recorded)
}

/// [`merchant_similarity`] with the claimed merchant's names worked out once (a claim is
/// compared with every candidate notification).
pub fn merchant_similarity_to(claimed_names: &[String], recorded: &str) -> f64 {
    let mut best: f64 = 0.0;
    let recorded_names = merchant_names(recorded);
    for c in claimed_names {
        for r in &recorded_names {
            best = best.max(name_similarity(c, r));
            if best >= 1.0 {
                return 1.0;
            }
        }
    }
    best
}

/// Similarity of two merchant names as written.
fn name_similarity(claimed: &str, recorded: &str) -> f64 {
    let (nc, nr) = (normalize_merchant(claimed), normalize_merchant(recorded));
    if nc.is_empty() || nr.is_empty() {
        return 0.0;
    }
    if nc == nr {
        return 1.0;
    }
    // "Amazon" for "AMAZON MARKETPLACE": the caller's name is the descriptor's leading tokens
    // ("Apple" is not "APPLEBEES").
    let mut prefix = String::new();
    for t in merchant_tokens(recorded) {
        prefix.push_str(&t);
        if prefix.len() >= 4 && prefix == nc {
            return 0.95;
        }
        // "WHOLEFDS" abbreviates "WHOLEFOODS": same start, its letters in order, most of the length.
        if prefix.len() >= 4
            && prefix.get(..3) == nc.get(..3)
            && is_subsequence(&prefix, &nc)
            && prefix.len() * 10 >= nc.len() * 6
        {
            return 0.92;
        }
        if prefix.len() >= nc.len() {
            break;
        }
    }
    // "Shell gas station" for "SHELL": the recorded name is the caller's leading words.
    let mut said = String::new();
    for t in merchant_tokens(claimed) {
        said.push_str(&t);
        if said.len() >= 4 && said == nr {
            return 0.9;
        }
        if said.len() >= nr.len() {
            break;
        }
    }
    let (short, long) = (nc.len().min(nr.len()), nc.len().max(nr.len()));
    // A misspelling ("Walmrt"): edit similarity between names of similar length. Not
    // Jaro-Winkler, whose prefix bonus makes "APPLEBEES" 87% alike to "APPLEBILL".
    if short * 4 >= long * 3 {
        strsim::normalized_damerau_levenshtein(&nc, &nr)
    } else {
        0.0
    }
}

fn is_subsequence(needle: &str, hay: &str) -> bool {
    let mut it = hay.chars();
    needle.chars().all(|c| it.any(|h| h == c))
}

/// How a seen sender relates to the real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderRelation {
    Same,
    /// Looks like ours but is not: evidence of a spoof.
    Lookalike {
        distance: usize,
    },
    Different,
}

/// Compare a sender the customer saw against the sender we used (both already normalised).
pub fn sender_relation(seen: &str, ours: &str) -> SenderRelation {
    if seen == ours {
        return SenderRelation::Same;
    }
    // The SMS filter's fold: one notion of "looks like" for verification and the filter.
    let (ss, so) = (fold(seen), fold(ours));
    let distance = strsim::levenshtein(seen, ours);
    let is_number = |s: &str| s.starts_with('+') || s.chars().all(|c| c.is_ascii_digit());
    if is_number(seen) && is_number(ours) {
        // A number one digit away from ours is a classic spoof.
        return if distance <= 1 {
            SenderRelation::Lookalike { distance }
        } else {
            SenderRelation::Different
        };
    }
    if ss == so
        || distance <= 2
        || (so.len() >= 5 && ss.contains(&so))
        || (so.len() >= 4 && fold_glyphs(seen) == fold_glyphs(ours))
    {
        SenderRelation::Lookalike { distance }
    } else {
        SenderRelation::Different
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchants_table() {
        for (a, b, same) in [
            ("Best Buy", "BESTBUY #1123", true),
            ("best buy", "Best Buy Store 00412", true),
            ("Whole Foods", "WHOLEFDS MKT #10234", true),
            ("wholefds", "WHOLEFDS MKT #10234", true),
            ("Amazon", "AMAZON.COM", true),
            ("McDonald's", "MCDONALDS 4432", true),
            ("Target", "Walmart", false),
            ("Apple", "Applebee's", false),
        ] {
            let sim = merchant_similarity(a, b);
            assert_eq!(sim >= 0.9, same, "{a} vs {b}: {sim}");
        }
    }

    #[test]
    fn statement_descriptors_table() {
        let table = include_str!("../tests/corpus/merchant_pairs.tsv");
        let mut wrong = Vec::new();
        let mut n = 0;
        for line in table
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let cols: Vec<&str> = line.split('\t').collect();
            let (descriptor, said, same) = (cols[0], cols[1], cols[2] == "same");
            n += 1;
            let sim = merchant_similarity(said, descriptor);
            // Same: a match (≥ 0.9). Different: not even close (< 0.8), since a close merchant
            // makes the notification the one the caller describes.
            if (same && sim < 0.9) || (!same && sim >= 0.8) {
                wrong.push(format!("{said:?} for {descriptor:?}: {sim:.2}"));
            }
        }
        assert!(n >= 100, "the table must hold at least 100 pairs");
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn senders_table() {
        use SenderRelation::*;
        assert_eq!(sender_relation("ACMEBANK", "ACMEBANK"), Same);
        assert_eq!(
            sender_relation("ACMEBNK", "ACMEBANK"),
            Lookalike { distance: 1 }
        );
        assert!(matches!(
            sender_relation("ACMEBANK-SEC", "ACMEBANK"),
            Lookalike { .. }
        ));
        assert!(matches!(
            sender_relation("ACME8ANK", "ACMEBANK"),
            Lookalike { .. }
        ));
        assert_eq!(sender_relation("SHOPNOW", "ACMEBANK"), Different);
        // The SMS filter's fold: Cyrillic letters, and several lookalikes at once.
        assert!(matches!(
            sender_relation("АСМЕВАNК", "ACMEBANK"),
            Lookalike { .. }
        ));
        assert!(matches!(
            sender_relation("ACNNEBANIC", "ACMEBANK"),
            Lookalike { .. }
        ));
        assert_eq!(
            sender_relation("+18885550134", "+18885550135"),
            Lookalike { distance: 1 }
        );
        assert_eq!(sender_relation("+12025550188", "22622"), Different);
    }

    #[test]
    fn containment_is_order_insensitive() {
        let body = "ACME: Did you authorise $479.99 at BESTBUY #1123? Reply Y or N";
        assert!(containment("did you authorize 479.99 at bestbuy", body) >= 0.75);
        assert!(containment("your account is locked click here", body) < 0.35);
    }
}
