//! What the caller says they received: the wire shape, its validation into a normalised
//! [`Claim`], and the window of time a claim is searched in.

use super::*;
use crate::validate::required;

/// What the caller says they received (the public wire shape).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimIn {
    pub customer_id: Option<String>,
    /// `sms`, `push`, `email`, `voice`, `in_app`; omit when the caller is unsure.
    pub channel: Option<String>,
    /// Roughly when they received it (RFC 3339). Omit to search the whole retention window.
    pub received_at: Option<String>,
    /// The sender they saw ("ACMEBANK", "22622", "+1 888 555 0134").
    pub sender_seen: Option<String>,
    #[serde(default)]
    pub mentions: MentionsIn,
}

/// Cues the caller mentions. Any subset.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MentionsIn {
    /// "$480", "480", 479.99, "1.234,56 €".
    #[schema(value_type = Option<String>)]
    pub amount: Option<Value>,
    pub merchant: Option<String>,
    pub card_last4: Option<String>,
    /// The number the message told them to call.
    pub callback_number: Option<String>,
    /// A link in the message (any form; compared by registrable domain).
    pub url: Option<String>,
    pub code: Option<String>,
    /// A phrase from the message, as they remember it.
    pub text: Option<String>,
}

/// A validated, normalised claim.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claim {
    pub customer_id: String,
    pub channel: Option<Channel>,
    pub received_at: Option<Millis>,
    pub sender_seen: Option<String>,
    pub amount: Option<Money>,
    pub merchant: Option<String>,
    pub card_last4: Option<String>,
    pub callback_number: Option<String>,
    pub domain: Option<String>,
    pub code: Option<String>,
    pub text: Option<String>,
}

impl Claim {
    /// Number of content cues (everything but channel and time).
    pub fn cue_count(&self) -> usize {
        [
            self.sender_seen.is_some(),
            self.amount.is_some(),
            self.merchant.is_some(),
            self.card_last4.is_some(),
            self.callback_number.is_some(),
            self.domain.is_some(),
            self.code.is_some(),
            self.text.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }
}

/// Verification settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifyConfig {
    /// How far the caller's "around 2 pm" may be from the real send time.
    pub time_tolerance_ms: Millis,
    /// Memory of a time fades: the tolerance grows by this share of how long ago the claimed
    /// time is (percent; 25: "yesterday around 6 am", a day ago, is searched ±2 h + 6 h).
    pub time_tolerance_age_percent: i64,
    /// A caller cannot cite a notification sent less than this long ago: the feed only has to
    /// be complete up to `now - reaction_floor_ms` for a recent claim.
    pub reaction_floor_ms: Millis,
    /// A source that never declares a watermark is trusted up to its newest record's
    /// `sent_at` minus this margin (for out-of-order delivery).
    pub derived_watermark_margin_ms: Millis,
    /// Most candidate notifications examined per claim.
    pub candidates_max: usize,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            time_tolerance_ms: 2 * 3_600_000,
            time_tolerance_age_percent: 25,
            reaction_floor_ms: 30_000,
            derived_watermark_margin_ms: 5 * 60_000,
            candidates_max: 500,
        }
    }
}

pub(super) fn opt_trim(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Validate a claim; ids are at most `id_chars_max` characters (the configured field limit).
pub fn validate_claim(
    raw: &ClaimIn,
    extract: &ExtractConfig,
    id_chars_max: usize,
) -> Result<Claim, Rejection> {
    let customer_id = required("customer_id", &raw.customer_id, id_chars_max)?.to_string();
    let channel = match opt_trim(&raw.channel) {
        None => None,
        Some(c) => Some(c.parse::<Channel>().map_err(|_| {
            Rejection::new(
                "invalid_channel",
                format!("`channel` must be one of sms, push, email, voice, in_app; got {c:?}"),
            )
        })?),
    };
    let received_at = opt_trim(&raw.received_at)
        .map(|s| parse_time("received_at", s))
        .transpose()?;
    let m = &raw.mentions;
    let amount = match &m.amount {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => parse_amount(&n.to_string()),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_amount(s).ok_or_else(|| {
            Rejection::new(
                "invalid_amount",
                format!("`mentions.amount` is not an amount: {s:?}"),
            )
        })?),
        Some(_) => {
            return Err(Rejection::new(
                "invalid_amount",
                "`mentions.amount` must be a string or a number",
            ))
        }
    };
    if matches!(&m.amount, Some(Value::Number(_))) && amount.is_none() {
        return Err(Rejection::new(
            "invalid_amount",
            "`mentions.amount` is not an amount",
        ));
    }
    let card_last4 = match opt_trim(&m.card_last4) {
        None => None,
        Some(s) => {
            let d: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
            if d.len() < 4 {
                return Err(Rejection::new(
                    "invalid_card_last4",
                    format!("`mentions.card_last4` needs 4 digits; got {s:?}"),
                ));
            }
            Some(d[d.len() - 4..].to_string())
        }
    };
    let callback_number = match opt_trim(&m.callback_number) {
        None => None,
        Some(s) => Some(normalize_phone(s, extract).ok_or_else(|| {
            Rejection::new(
                "invalid_callback_number",
                format!("`mentions.callback_number` is not a phone number: {s:?}"),
            )
        })?),
    };
    let domain = match opt_trim(&m.url) {
        None => None,
        Some(s) => Some(registrable_domain(s).ok_or_else(|| {
            Rejection::new(
                "invalid_url",
                format!("`mentions.url` has no registrable domain: {s:?}"),
            )
        })?),
    };
    let limit = |field: &str, v: Option<&str>, max: usize| -> Result<Option<String>, Rejection> {
        match v {
            Some(s) if s.chars().count() > max => Err(Rejection::new(
                "field_too_long",
                format!("`{field}` is over {max} characters"),
            )),
            other => Ok(other.map(str::to_string)),
        }
    };
    let mut claim = Claim {
        customer_id,
        channel,
        received_at,
        sender_seen: limit("sender_seen", opt_trim(&raw.sender_seen), 64)?
            .map(|s| normalize_sender(&s, extract)),
        amount,
        merchant: limit("mentions.merchant", opt_trim(&m.merchant), 128)?,
        card_last4,
        callback_number,
        domain,
        code: limit("mentions.code", opt_trim(&m.code), 32)?,
        text: limit("mentions.text", opt_trim(&m.text), 1024)?,
    };
    fill_from_quote(&mut claim, extract);
    Ok(claim)
}

/// Cues the caller quoted but did not give on their own — the amount, card ending, number to
/// call, link or code in `mentions.text` — taken from the quote with the ledger's extraction, so
/// they are compared like stated cues (and can be, where bodies are not kept: `facts_only`).
fn fill_from_quote(c: &mut Claim, extract: &ExtractConfig) {
    let Some(text) = c.text.as_deref() else {
        return;
    };
    let f = crate::extract::extract_from_body(text, extract);
    if c.amount.is_none() {
        c.amount = f.amount;
    }
    if c.card_last4.is_none() {
        c.card_last4 = f.card_last4;
    }
    if c.callback_number.is_none() {
        c.callback_number = f.callback_numbers.into_iter().next();
    }
    if c.domain.is_none() {
        c.domain = f.domains.into_iter().next();
    }
    if c.code.is_none() {
        c.code = f.code;
    }
}

/// The time range searched for a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Window {
    pub from: Millis,
    pub to: Millis,
}

/// The window to search: ±tolerance around `received_at` (wider the longer ago it is), else
/// the whole retention window.
pub fn claim_window(
    claim: &Claim,
    now: Millis,
    retention_ms: Millis,
    cfg: &VerifyConfig,
) -> Window {
    match claim.received_at {
        Some(t) => {
            let tolerance =
                cfg.time_tolerance_ms + (now - t).max(0) * cfg.time_tolerance_age_percent / 100;
            Window {
                from: t - tolerance,
                // A notification is received after it is sent: no need to look past `t` by
                // more than the tolerance, nor past now.
                to: (t + tolerance).min(now),
            }
        }
        None => Window {
            from: now - retention_ms,
            to: now,
        },
    }
}

#[cfg(test)]
mod window_tests {
    use super::*;

    #[test]
    fn the_window_widens_with_the_claimed_time_s_age() {
        const H: Millis = 3_600_000;
        let cfg = VerifyConfig::default();
        let now = 1_000 * H;
        let at = |t| Claim {
            received_at: Some(t),
            ..Default::default()
        };
        // Just now: ±2 h, never past now.
        let w = claim_window(&at(now), now, 90 * 24 * H, &cfg);
        assert_eq!((w.from, w.to), (now - 2 * H, now));
        // A day ago: ±(2 h + 25% of 24 h) = ±8 h.
        let w = claim_window(&at(now - 24 * H), now, 90 * 24 * H, &cfg);
        assert_eq!((w.from, w.to), (now - 32 * H, now - 16 * H));
        let fixed = VerifyConfig {
            time_tolerance_age_percent: 0,
            ..cfg
        };
        let w = claim_window(&at(now - 24 * H), now, 90 * 24 * H, &fixed);
        assert_eq!((w.from, w.to), (now - 26 * H, now - 22 * H));
    }
}
