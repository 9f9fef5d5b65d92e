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

mod fold;
mod index;
mod registry;
mod template;

pub use fold::*;
pub use index::*;
pub use registry::*;
pub use template::*;

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

/// The verdict on one SMS: the sender (registered, a lookalike, generic or unknown), the brands
/// the body names, the contacts in it against the brands it speaks for, and the template.
pub fn evaluate(sender: &str, body: &str, reg: &Registry, extract: &ExtractConfig) -> SmsVerdict {
    let (kind, norm) = classify_sender(sender, extract);
    let registered = reg.index.registered_brand(kind, &norm).map(str::to_string);
    let mut reasons: Vec<SmsReason> = sender_reason(reg, kind, &norm, registered.as_deref())
        .into_iter()
        .collect();
    // A registered sender speaks for its own brand; others are checked for naming a brand.
    let mentioned = if registered.is_none() {
        reg.mentioned_brands(body)
    } else {
        Vec::new()
    };
    reasons.extend(mention_reasons(reg, &norm, &mentioned));
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
    let contacts = contact_reasons(reg, &speaking_for, body, extract);
    reasons.extend(contacts);
    if let Some(brand) = registered.as_ref().and_then(|b| reg.brands.get(b)) {
        reasons.extend(template_reason(reg, brand, body));
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

/// What the sender ID is: a brand's registered sender, a lookalike of one, a generic word, or
/// an alphanumeric ID nobody registered (numbers that are not registered say nothing alone).
fn sender_reason(
    reg: &Registry,
    kind: SenderKind,
    norm: &str,
    registered: Option<&str>,
) -> Option<SmsReason> {
    let p = &reg.policy;
    if let Some(brand) = registered {
        return Some(SmsReason {
            code: "registered_sender",
            action: SmsAction::Allow,
            brand: Some(brand.to_string()),
            detail: format!("{norm} is a registered sender of {brand}"),
            lookalike: None,
        });
    }
    if kind != SenderKind::Alphanumeric {
        return None;
    }
    Some(if let Some(l) = reg.index.untwist(norm) {
        let action = reg
            .brands
            .get(&l.brand)
            .map_or(SmsAction::Block, |b| b.spec.unregistered_policy);
        SmsReason {
            code: "lookalike_sender",
            action,
            brand: Some(l.brand.clone()),
            detail: format!(
                "{norm} imitates {}'s sender {} ({}, edit distance {})",
                l.brand, l.protected_id, l.transformation, l.distance
            ),
            lookalike: Some(l),
        }
    } else if reg.generic.contains_key(&fold(norm)) {
        SmsReason {
            code: "generic_sender",
            action: p.generic_action,
            brand: None,
            detail: format!("{norm} is a generic sender ID that names no organisation"),
            lookalike: None,
        }
    } else {
        SmsReason {
            code: "unregistered_alphanumeric",
            action: p.unregistered_alphanumeric,
            brand: None,
            detail: format!("no brand registered the alphanumeric sender {norm}"),
            lookalike: None,
        }
    })
}

/// The body names a brand, from a sender that is not one of the brand's.
fn mention_reasons(reg: &Registry, norm: &str, mentioned: &[String]) -> Vec<SmsReason> {
    mentioned
        .iter()
        .map(|b| SmsReason {
            code: "brand_mention_unregistered_sender",
            action: reg
                .brands
                .get(b)
                .map_or(SmsAction::Block, |x| x.spec.unregistered_policy),
            brand: Some(b.clone()),
            detail: format!("the message names {b} but {norm} is not one of its senders"),
            lookalike: None,
        })
        .collect()
}

/// Numbers and links in the body that are not those of the brands the message is from or
/// speaks for (a link imitating a brand's domain is blocked outright).
fn contact_reasons(
    reg: &Registry,
    speaking_for: &[&Brand],
    body: &str,
    extract: &ExtractConfig,
) -> Vec<SmsReason> {
    let mut out = Vec::new();
    let Some(first) = speaking_for.first() else {
        return out;
    };
    if body.is_empty() {
        return out;
    }
    let p = &reg.policy;
    let (numbers, domains) = extract_contacts(body, extract, None);
    for n in numbers
        .iter()
        .filter(|n| !speaking_for.iter().any(|b| b.callback_numbers.contains(*n)))
    {
        out.push(SmsReason {
            code: "unofficial_callback_number",
            action: p.unofficial_contact_action,
            brand: Some(first.name.clone()),
            detail: format!("{n} is not an official number of {}", first.name),
            lookalike: None,
        });
    }
    for d in domains
        .iter()
        .filter(|d| !speaking_for.iter().any(|b| b.domains.contains(*d)))
    {
        let label = d.split('.').next().unwrap_or(d);
        let look = reg
            .domain_index
            .untwist(label)
            .filter(|l| speaking_for.iter().any(|b| b.name == l.brand));
        let imitates = if look.is_some() {
            "; it imitates one"
        } else {
            ""
        };
        out.push(SmsReason {
            code: "unofficial_link",
            action: if look.is_some() {
                SmsAction::Block
            } else {
                p.unofficial_contact_action
            },
            brand: Some(first.name.clone()),
            detail: format!("{d} is not an official domain of {}{imitates}", first.name),
            lookalike: look,
        });
    }
    out
}

/// A registered sender whose body fits none of its brand's registered templates.
fn template_reason(reg: &Registry, brand: &Brand, body: &str) -> Option<SmsReason> {
    let set = brand.template_set.as_ref()?;
    (!set.is_match(&squash_ws(body))).then(|| SmsReason {
        code: "template_mismatch",
        action: reg.policy.template_mismatch_action,
        brand: Some(brand.name.clone()),
        detail: format!(
            "the body fits none of {}'s {} registered templates: the sender account may be compromised",
            brand.name,
            brand.templates.len()
        ),
        lookalike: None,
    })
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
