//! The lookalike folds: the form two visually confusable sender IDs share (UTS #39 skeleton,
//! GSM-7 confusions, multi-character merges), the glyph fold of dnstwist's homoglyph table for
//! IDs that combine several substitutions, the edit radius by length, and scammers' affixes.

use super::*;

/// The canonical form two visually confusable sender IDs share: case folded, UTS #39 skeleton,
/// GSM-7 confusions (0/O, 1/l/I, 5/S, 8/B, rn/m, vv/w, cl/d) merged, separators dropped.
pub fn fold(s: &str) -> String {
    merge_multi(fold_light(s))
}

/// One ASCII byte folded: lower case, GSM-7 visual confusions merged, separators dropped.
pub(super) fn fold_ascii(b: u8) -> Option<char> {
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
pub(super) fn merge_multi(mut out: String) -> String {
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
pub(super) fn glyphs_of_light(light: &str) -> String {
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
pub(super) fn strip_affixes<S: AsRef<str>>(s: &str, affixes: &[S]) -> Vec<String> {
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
