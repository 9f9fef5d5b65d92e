//! Text normalisation and similarity used by matching: message text, merchant names and
//! sender IDs compared the way people remember them. Pure functions.

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

/// Similarity in 0..=1 of the merchant a caller names to the one we recorded. Directional:
/// card descriptors abbreviate ("WHOLEFDS MKT" for "Whole Foods"), callers use full names.
pub fn merchant_similarity(claimed: &str, recorded: &str) -> f64 {
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
    let (short, long) = (nc.len().min(nr.len()), nc.len().max(nr.len()));
    // Jaro-Winkler rewards shared prefixes; only trust it between names of similar length.
    if short * 4 >= long * 3 {
        strsim::jaro_winkler(&nc, &nr)
    } else {
        0.0
    }
}

fn is_subsequence(needle: &str, hay: &str) -> bool {
    let mut it = hay.chars();
    needle.chars().all(|c| it.any(|h| h == c))
}

/// Visual skeleton of a sender ID: upper case with the GSM-7 look-alikes folded
/// (0→O, 1/I→L, 5→S, 8→B, VV→W, RN→M), separators removed.
pub fn sender_skeleton(s: &str) -> String {
    let up: String = s
        .to_uppercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .map(|c| match c {
            '0' => 'O',
            '1' | 'I' => 'L',
            '5' => 'S',
            '8' => 'B',
            other => other,
        })
        .collect();
    up.replace("VV", "W").replace("RN", "M")
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
    let (ss, so) = (sender_skeleton(seen), sender_skeleton(ours));
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
    if ss == so || distance <= 2 || (so.len() >= 5 && ss.contains(&so)) {
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
