//! Fact extraction: turns a producer's `variables`/`facts` object or a message body into
//! [`Facts`] — amounts, card endings, callback numbers (E.164, via libphonenumber's port),
//! link domains (registrable domain from the public-suffix list), one-time codes, tracking
//! numbers and merchants. Pure functions; never reads a clock or the network.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use phonenumber::country::Id as Region;
use regex::Regex;
use serde_json::{Map, Value};

use crate::model::{Facts, Money};

/// Settings that extraction needs.
#[derive(Debug, Clone, Copy)]
pub struct ExtractConfig {
    /// Region used to read phone numbers written without a country code.
    pub default_region: Region,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        ExtractConfig {
            default_region: Region::US,
        }
    }
}

/// Parse an ISO 3166 region code ("US", "GB") for phone-number normalisation.
pub fn parse_region(code: &str) -> Option<Region> {
    code.trim().to_ascii_uppercase().parse::<Region>().ok()
}

static AMOUNT_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(US\$|C\$|A\$|\$|£|€|¥|₹|\bUSD|\bEUR|\bGBP|\bCAD|\bAUD|\bINR|\bRs\.?)\s?(\d{1,3}(?:[,.\s]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)",
    )
    .expect("amount prefix regex")
});
static AMOUNT_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(\d{1,3}(?:[,.\s]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)\s?(€|£|\$|EUR\b|USD\b|GBP\b|CAD\b|dollars\b|euros?\b|pounds\b)",
    )
    .expect("amount suffix regex")
});
static AMOUNT_BARE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\w.,])(\d{1,3}(?:,\d{3})+\.\d{2}|\d+\.\d{2})(?:$|[^\w.,]|[.,](?:\s|$))")
        .expect("bare amount regex")
});
static CARD_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:ending(?:\s+in|\s+with)?|ends?\s+(?:in|with)|last\s+(?:4|four)(?:\s+digits)?(?:\s+of)?|card|acct\.?|account)\s*(?:#|no\.?|number)?\s*[:\-]?\s*(?:\*+|x+|…|\.{3})?\s*(\d{4})\b",
    )
    .expect("card words regex")
});
static CARD_MASK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^A-Za-z0-9])(?:\*{2,}|[xX]{1,}|…|\.{3}|•{2,})\s?-?(\d{4})\b")
        .expect("card mask regex")
});
static PHONE_CANDIDATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+\d{1,3}[\s.\-]?)?\(?\d{2,4}\)?[\s.\-]?\d{2,4}[\s.\-]?\d{3,4}\b")
        .expect("phone regex")
});
static URL_CANDIDATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:https?://)?(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?::\d+)?(?:/[^\s]*)?")
        .expect("url regex")
});
static DIGITS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d+(?:[.,]\d+)*").expect("digits regex"));
static CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:\b(?:code|otp|passcode|pin|verification code)\b(?:\s+is)?\s*[:#]?\s*(\d{4,8})\b|\b(\d{4,8})\s+is\s+your\b)",
    )
    .expect("code regex")
});
static TRACKING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\btracking(?:\s+(?:number|no\.?|#|id))?\s*[:#]?\s*([A-Z0-9]{8,30})\b|\b(1Z[0-9A-Z]{16})\b)")
        .expect("tracking regex")
});
static MERCHANT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        // A later word may open with `*`: processor descriptors ("SQ *BLUE BOTTLE", "UBER *EATS").
        r"\b(?:at|from|At|From|AT|FROM)\s+([A-Z0-9][A-Za-z0-9&'*\-]*(?:[ .][A-Z0-9#*][A-Za-z0-9&'*\-#]*){0,4})",
    )
    .expect("merchant regex")
});

/// Parse a written number ("1,234.56", "1.234,56", "480", "12,50") into minor units.
pub fn parse_number_minor(raw: &str) -> Option<i64> {
    let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if s.is_empty() {
        return None;
    }
    let last_dot = s.rfind('.');
    let last_comma = s.rfind(',');
    // Decide which separator (if any) is the decimal one.
    let decimal_pos = match (last_dot, last_comma) {
        (Some(d), Some(c)) => Some(d.max(c)),
        (Some(p), None) | (None, Some(p)) => {
            let sep = s.as_bytes()[p];
            let digits_after = s.len() - p - 1;
            let occurrences = s.bytes().filter(|b| *b == sep).count();
            // "1,234" / "1.234.567" are thousands; "12,50" / "480.5" are decimals.
            if occurrences == 1 && digits_after != 3 {
                Some(p)
            } else {
                None
            }
        }
        (None, None) => None,
    };
    let (int_part, frac_part) = match decimal_pos {
        Some(p) => (&s[..p], &s[p + 1..]),
        None => (s.as_str(), ""),
    };
    let int_digits: String = int_part.chars().filter(|c| c.is_ascii_digit()).collect();
    if int_digits.is_empty()
        || int_digits.len() > 13
        || !frac_part.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = int_digits.parse().ok()?;
    let frac: i64 = match frac_part.len() {
        0 => 0,
        1 => frac_part.parse::<i64>().ok()? * 10,
        2 => frac_part.parse().ok()?,
        _ => return None,
    };
    Some(whole * 100 + frac)
}

fn currency_code(token: &str) -> Option<String> {
    let t = token.trim().trim_end_matches('.').to_ascii_uppercase();
    let code = match t.as_str() {
        "$" | "US$" | "USD" | "DOLLARS" => "USD",
        "C$" | "CAD" => "CAD",
        "A$" | "AUD" => "AUD",
        "£" | "GBP" | "POUNDS" => "GBP",
        "€" | "EUR" | "EUROS" | "EURO" => "EUR",
        "¥" => "JPY",
        "₹" | "INR" | "RS" => "INR",
        _ => return None,
    };
    Some(code.to_string())
}

/// Parse an amount as a person or bank writes it: "$1,234.56", "USD 480", "480.00",
/// "1.234,56 €", "£12", "480". `None` when no number can be read.
pub fn parse_amount(text: &str) -> Option<Money> {
    extract_amount(text).or_else(|| {
        let t = text.trim();
        // "1e308", "5k": digits run into letters — not a plain number; never guess.
        let glued = t.chars().zip(t.chars().skip(1)).any(|(a, b)| {
            (a.is_ascii_digit() && b.is_alphabetic()) || (a.is_alphabetic() && b.is_ascii_digit())
        });
        if glued {
            return None;
        }
        parse_number_minor(t).map(|minor| Money {
            minor,
            currency: None,
        })
    })
}

fn extract_amount(body: &str) -> Option<Money> {
    // A number glued to letters or digits ("$1e308", "x480 dollars") is not an amount: an
    // overflowing or malformed amount must be absent, never a wrong one.
    let alnum = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let before = |i: usize| body[..i].chars().next_back();
    let after = |i: usize| body[i..].chars().next();
    for c in AMOUNT_PREFIX.captures_iter(body) {
        let n = c.get(2).map_or(0, |m| m.end());
        if alnum(after(n)) {
            continue;
        }
        if let Some(minor) = parse_number_minor(&c[2]) {
            return Some(Money {
                minor,
                currency: currency_code(&c[1]),
            });
        }
    }
    for c in AMOUNT_SUFFIX.captures_iter(body) {
        let n = c.get(1).map_or(0, |m| m.start());
        if alnum(before(n)) {
            continue;
        }
        if let Some(minor) = parse_number_minor(&c[1]) {
            return Some(Money {
                minor,
                currency: currency_code(&c[2]),
            });
        }
    }
    let c = AMOUNT_BARE.captures(body)?;
    parse_number_minor(&c[1]).map(|minor| Money {
        minor,
        currency: None,
    })
}

/// The country calling code of a region (`US` → 1, `GB` → 44).
pub fn calling_code(region: Region) -> Option<u16> {
    phonenumber::metadata::DATABASE
        .by_id(region.as_ref())
        .map(|m| m.country_code())
}

/// Normalise a phone number to E.164 using the default region for national formats.
pub fn normalize_phone(raw: &str, cfg: &ExtractConfig) -> Option<String> {
    let digits = raw.chars().filter(|c| c.is_ascii_digit()).count();
    if !(7..=15).contains(&digits) {
        return None;
    }
    let parsed = phonenumber::parse(Some(cfg.default_region), raw).ok()?;
    // Fictional (555-01xx) and newly-assigned ranges fail strict validity; a number that
    // parses with a plausible length for its country is still the number the text showed.
    let national = parsed.national().value().to_string();
    if national.len() < 6 {
        return None;
    }
    Some(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// Reduce a link or host to its registrable domain ("https://secure.acme-bank.co.uk/x" →
/// "acme-bank.co.uk") using the public-suffix list. `None` for hosts under no known suffix.
pub fn registrable_domain(link: &str) -> Option<String> {
    let trimmed = link
        .trim()
        .trim_end_matches(['.', ',', ')', '!', '?', ';', ':']);
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("http://{trimmed}")
    };
    let parsed = url::Url::parse(&with_scheme).ok()?;
    let host = parsed
        .host_str()?
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Some(host);
    }
    let domain = psl::domain(host.as_bytes())?;
    if !domain.suffix().is_known() {
        return None;
    }
    std::str::from_utf8(domain.as_bytes())
        .ok()
        .map(str::to_string)
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// Phone numbers (E.164) and registrable link domains in a body — the contact points a scam
/// text gives. `code`, when known, is a one-time code that must not be read as a number.
pub fn extract_contacts(
    body: &str,
    cfg: &ExtractConfig,
    code: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let mut numbers = Vec::new();
    let mut domains = Vec::new();
    // Cheap exit: no digit and no dot means no number and no link.
    if !body.bytes().any(|b| b.is_ascii_digit() || b == b'.') {
        return (numbers, domains);
    }
    let mut url_spans = Vec::new();
    for m in URL_CANDIDATE.find_iter(body) {
        // "1.234,56" or "479.99" are not hosts; require a letter in the host part.
        let host_part = m.as_str().split('/').next().unwrap_or_default();
        if !host_part.chars().any(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        // The local part of an e-mail address ("help@acme.com") still names the domain.
        if let Some(d) = registrable_domain(m.as_str()) {
            push_unique(&mut domains, d);
            url_spans.push(m.range());
        }
    }
    for m in PHONE_CANDIDATE.find_iter(body) {
        if url_spans.iter().any(|r| r.contains(&m.start())) {
            continue;
        }
        let text = m.as_str();
        let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
        // Skip amounts, codes and card endings that happen to be digit runs.
        if digits.len() < 10 && !text.starts_with('+') {
            continue;
        }
        if Some(digits.as_str()) == code {
            continue;
        }
        if let Some(e164) = normalize_phone(text, cfg) {
            push_unique(&mut numbers, e164);
        }
    }
    (numbers, domains)
}

/// The text with its variable parts replaced by placeholders — links `<link>`, phone numbers
/// `<phone>`, amounts `<amount>`, other digit runs `<num>` — what stays the same across one
/// campaign's texts while the numbers and amounts rotate.
pub fn mask_variables(body: &str) -> String {
    let links = URL_CANDIDATE.replace_all(body, |c: &regex::Captures<'_>| {
        let m = &c[0];
        let host = m.split('/').next().unwrap_or_default();
        if host.chars().any(|ch| ch.is_ascii_alphabetic()) && registrable_domain(m).is_some() {
            " <link> ".to_string()
        } else {
            m.to_string()
        }
    });
    let amounts = AMOUNT_PREFIX.replace_all(&links, " <amount> ");
    let amounts = AMOUNT_SUFFIX.replace_all(&amounts, " <amount> ");
    let phones = PHONE_CANDIDATE.replace_all(&amounts, |c: &regex::Captures<'_>| {
        let m = &c[0];
        if m.starts_with('+') || m.chars().filter(char::is_ascii_digit).count() >= 10 {
            " <phone> ".to_string()
        } else {
            m.to_string()
        }
    });
    DIGITS.replace_all(&phones, "<num>").into_owned()
}

/// Extract facts from a message body.
pub fn extract_from_body(body: &str, cfg: &ExtractConfig) -> Facts {
    let mut facts = Facts {
        amount: extract_amount(body),
        ..Facts::default()
    };

    if let Some(c) = CARD_WORDS
        .captures(body)
        .or_else(|| CARD_MASK.captures(body))
    {
        facts.card_last4 = Some(c[1].to_string());
    }

    let code = CODE.captures(body);
    let code_value = code
        .as_ref()
        .and_then(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| m.as_str().to_string());
    facts.code = code_value.clone();

    let (numbers, domains) = extract_contacts(body, cfg, code_value.as_deref());
    facts.callback_numbers = numbers;
    facts.domains = domains;

    if let Some(c) = TRACKING.captures(body) {
        let t = c
            .get(1)
            .or_else(|| c.get(2))
            .map(|m| m.as_str().to_string());
        if let Some(t) = t {
            // A tracking number has digits; "tracking UPDATE" is a word.
            if t.chars().any(|c| c.is_ascii_digit()) {
                facts.tracking_number = Some(t.to_ascii_uppercase());
            }
        }
    }

    for c in MERCHANT.captures_iter(body) {
        let cand = clean_merchant(&c[1]);
        if let Some(m) = cand {
            facts.merchant = Some(m);
            break;
        }
    }
    facts
}

/// Words that follow "at"/"from" without being a merchant.
const NOT_MERCHANTS: &[&str] = &[
    "ACME", "YOUR", "THE", "THIS", "ANY", "ALL", "HOME", "ONCE", "LEAST", "NOON", "MIDNIGHT",
];

fn clean_merchant(raw: &str) -> Option<String> {
    let mut words: Vec<&str> = Vec::new();
    for w in raw.split([' ', '.']) {
        if w.is_empty() {
            continue;
        }
        let upper = w.to_ascii_uppercase();
        // Stop at connective words that end a merchant name.
        if [
            "ON", "FOR", "WAS", "IS", "WITH", "USING", "ENDING", "TODAY", "CALL", "REPLY",
        ]
        .contains(&upper.as_str())
        {
            break;
        }
        words.push(w);
    }
    let first = words.first()?;
    if first.chars().all(|c| c.is_ascii_digit() || c == ':') {
        return None; // "at 10:42"
    }
    if NOT_MERCHANTS.contains(&first.to_ascii_uppercase().as_str()) && words.len() == 1 {
        return None;
    }
    let s = words.join(" ");
    let s = s.trim_matches(|c: char| !c.is_alphanumeric() && c != '#');
    if s.len() < 2 {
        None
    } else {
        Some(s.to_string())
    }
}

/// Keys producers use for each fact (case-insensitive).
fn fact_key(key: &str) -> Option<&'static str> {
    let k = key.to_ascii_lowercase().replace(['-', ' '], "_");
    Some(match k.as_str() {
        "amount" | "amt" | "transaction_amount" | "charge" | "value" => "amount",
        "currency" => "currency",
        "merchant" | "merchant_name" | "payee" | "store" => "merchant",
        "card_last4" | "last4" | "card_ending" | "card_last_4" | "account_last4" | "ending" => {
            "card_last4"
        }
        "callback_number" | "callback" | "phone" | "phone_number" | "call_number" => "callback",
        "url" | "link" | "domain" => "url",
        "code" | "otp" | "passcode" | "verification_code" => "code",
        "tracking_number" | "tracking" | "tracking_id" => "tracking",
        _ => return None,
    })
}

fn value_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A problem with a producer's facts object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactError(pub String);

/// Read facts from a producer's `variables`/`facts` object. Known keys become typed facts
/// (validated); other scalar values are kept in `extra`.
pub fn facts_from_object(
    obj: &Map<String, Value>,
    cfg: &ExtractConfig,
) -> Result<Facts, FactError> {
    let mut facts = Facts::default();
    let mut currency = None;
    let mut extra = BTreeMap::new();
    for (key, value) in obj {
        let Some(s) = value_str(value) else {
            if value.is_null() {
                continue;
            }
            return Err(FactError(format!(
                "variable `{key}` must be a string or number"
            )));
        };
        match fact_key(key) {
            Some("amount") => {
                let m = parse_amount(&s).ok_or_else(|| {
                    FactError(format!("variable `{key}` is not an amount: {s:?}"))
                })?;
                facts.amount = Some(m);
            }
            Some("currency") => currency = Some(s.trim().to_ascii_uppercase()),
            Some("merchant") => facts.merchant = Some(s.trim().to_string()),
            Some("card_last4") => {
                let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
                if digits.len() < 4 {
                    return Err(FactError(format!(
                        "variable `{key}` needs 4 digits, got {s:?}"
                    )));
                }
                facts.card_last4 = Some(digits[digits.len() - 4..].to_string());
            }
            Some("callback") => {
                let n = normalize_phone(&s, cfg).ok_or_else(|| {
                    FactError(format!("variable `{key}` is not a phone number: {s:?}"))
                })?;
                facts.callback_numbers.push(n);
            }
            Some("url") => {
                let d = registrable_domain(&s).ok_or_else(|| {
                    FactError(format!("variable `{key}` has no registrable domain: {s:?}"))
                })?;
                facts.domains.push(d);
            }
            Some("code") => facts.code = Some(s.trim().to_string()),
            Some("tracking") => facts.tracking_number = Some(s.trim().to_ascii_uppercase()),
            _ => {
                extra.insert(key.clone(), s);
            }
        }
    }
    if let (Some(m), Some(c)) = (facts.amount.as_mut(), currency) {
        m.currency = Some(c);
    }
    facts.extra = extra;
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(minor: i64, cur: Option<&str>) -> Option<Money> {
        Some(Money {
            minor,
            currency: cur.map(str::to_string),
        })
    }

    #[test]
    fn amounts_table() {
        let cases: &[(&str, Option<Money>)] = &[
            (
                "Did you authorise $1,234.56 at Best Buy?",
                money(123456, Some("USD")),
            ),
            ("A charge of USD 480 was made", money(48000, Some("USD"))),
            ("Purchase 480.00 approved", money(48000, None)),
            ("Zahlung 1.234,56 € erfolgt", money(123456, Some("EUR"))),
            ("You paid £12 to Tesco", money(1200, Some("GBP"))),
            ("Amount: 12,50 EUR", money(1250, Some("EUR"))),
            ("$480", money(48000, Some("USD"))),
            ("payment of 75 dollars", money(7500, Some("USD"))),
            ("Rs. 2,500 debited", money(250000, Some("INR"))),
            ("Your code is 123456", None),
            ("Call 1-888-555-0134 now", None),
        ];
        for (text, want) in cases {
            assert_eq!(&extract_amount(text), want, "{text}");
        }
    }

    #[test]
    fn amounts_glued_to_letters_are_not_amounts() {
        for text in [
            "$1e308",
            "a charge of $1e308 today",
            "USD 5e9",
            "1e308 dollars",
        ] {
            assert_eq!(parse_amount(text), None, "{text}");
        }
        assert_eq!(parse_amount("$480.").map(|m| m.minor), Some(48000));
    }

    #[test]
    fn parse_amount_table() {
        for (text, minor) in [
            ("480", 48000),
            ("$480", 48000),
            ("479.99", 47999),
            ("1,234", 123400),
            ("1.234,56", 123456),
            ("12,5", 1250),
        ] {
            assert_eq!(parse_amount(text).map(|m| m.minor), Some(minor), "{text}");
        }
        assert_eq!(parse_amount("about five hundred"), None);
    }

    #[test]
    fn card_endings_table() {
        let cfg = ExtractConfig::default();
        for (text, want) in [
            ("your card ending in 1234 was charged", Some("1234")),
            ("Card ****4321 declined", Some("4321")),
            ("acct x9876 payment", Some("9876")),
            ("card …5555 used", Some("5555")),
            ("last 4 digits 2468", Some("2468")),
            ("Account ending 1357: new payee added", Some("1357")),
            ("no card here, box1234", None),
        ] {
            assert_eq!(
                extract_from_body(text, &cfg).card_last4.as_deref(),
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn phones_table() {
        let cfg = ExtractConfig::default();
        for (text, want) in [
            ("Call 1-888-555-0134 now", vec!["+18885550134"]),
            (
                "call (212) 555-0147 or +44 20 7946 0958",
                vec!["+12125550147", "+442079460958"],
            ),
            ("Call 888.555.0199 if not you", vec!["+18885550199"]),
            ("Your code is 123456", vec![]),
            ("$1,234.56 at Best Buy", vec![]),
        ] {
            assert_eq!(
                extract_from_body(text, &cfg).callback_numbers,
                want,
                "{text}"
            );
        }
        let gb = ExtractConfig {
            default_region: Region::GB,
        };
        assert_eq!(
            normalize_phone("020 7946 0958", &gb).as_deref(),
            Some("+442079460958")
        );
    }

    #[test]
    fn domains_table() {
        let cfg = ExtractConfig::default();
        for (text, want) in [
            (
                "Verify at https://secure.acmebank.com/login?x=1",
                vec!["acmebank.com"],
            ),
            (
                "go to acme-verify.co.uk/help now",
                vec!["acme-verify.co.uk"],
            ),
            ("visit www.example.github.io.", vec!["example.github.io"]),
            (
                "bit.ly/3xYz and acmebank.com",
                vec!["bit.ly", "acmebank.com"],
            ),
            ("paid 479.99 today", vec![]),
            ("file report.pdfx", vec![]),
        ] {
            assert_eq!(extract_from_body(text, &cfg).domains, want, "{text}");
        }
    }

    #[test]
    fn codes_tracking_merchant_table() {
        let cfg = ExtractConfig::default();
        let f = extract_from_body(
            "Your AcmeBank verification code is 482913. Never share it.",
            &cfg,
        );
        assert_eq!(f.code.as_deref(), Some("482913"));
        assert!(f.callback_numbers.is_empty());
        let f = extract_from_body("739201 is your Acme login code", &cfg);
        assert_eq!(f.code.as_deref(), Some("739201"));
        let f = extract_from_body("Your package shipped. Tracking: 1Z999AA10123456784", &cfg);
        assert_eq!(f.tracking_number.as_deref(), Some("1Z999AA10123456784"));
        for (text, want) in [
            (
                "Did you authorise $480 at Best Buy? Call 888-555-0134",
                Some("Best Buy"),
            ),
            (
                "ACME: $52.10 at WHOLEFDS MKT #10234 on card 1123",
                Some("WHOLEFDS MKT #10234"),
            ),
            (
                "A payment of £40 from Tesco Stores was refunded",
                Some("Tesco Stores"),
            ),
            (
                "Did you authorise $6.75 at SQ *BLUE BOTTLE COFFEE on card ending 1123?",
                Some("SQ *BLUE BOTTLE COFFEE"),
            ),
            (
                "ACME: $27.55 at UBER *EATS. Reply Y or N",
                Some("UBER *EATS"),
            ),
            ("Reply STOP at any time", None),
            ("Sign-in at 10:42 from a new device", None),
        ] {
            assert_eq!(
                extract_from_body(text, &cfg).merchant.as_deref(),
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn producer_facts_are_typed_and_validated() {
        let cfg = ExtractConfig::default();
        let obj: Map<String, Value> = serde_json::from_str(
            r#"{"amount": 479.99, "currency": "usd", "merchant": "BESTBUY #1123", "last4": "1123",
                "callback_number": "(888) 555-0100", "link": "https://acmebank.com/x", "first_name": "Ana"}"#,
        )
        .unwrap();
        let f = facts_from_object(&obj, &cfg).unwrap();
        assert_eq!(f.amount, money(47999, Some("USD")));
        assert_eq!(f.card_last4.as_deref(), Some("1123"));
        assert_eq!(f.callback_numbers, vec!["+18885550100"]);
        assert_eq!(f.domains, vec!["acmebank.com"]);
        assert_eq!(f.extra.get("first_name").map(String::as_str), Some("Ana"));
        let bad: Map<String, Value> = serde_json::from_str(r#"{"amount": "lots"}"#).unwrap();
        assert!(facts_from_object(&bad, &cfg).is_err());
    }
}
