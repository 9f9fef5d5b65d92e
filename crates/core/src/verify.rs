//! Claim verification — "did we send this?". Given what a caller says they received, the
//! customer's notifications in the claimed window and the state of every feed, decide
//! `confirmed` / `partial` / `not_sent` / `cannot_confirm` (and, with campaigns, `known_scam`),
//! with per-cue evidence and the words the agent should use.
//!
//! Invariant: `not_sent` is answered only when every feed that sends on the claimed channel is
//! known complete for the whole claimed window. Anything less is `cannot_confirm`: a false
//! `not_sent` escalates a genuine customer. Pure: `now` is a parameter; no IO.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::extract::{normalize_phone, parse_amount, registrable_domain, ExtractConfig};
use crate::model::{
    Channel, DeliveryStatus, Facts, Millis, Money, SourceState, StoredNotification,
};
use crate::text::{containment, merchant_similarity, sender_relation, SenderRelation};
use crate::validate::{body_mac, format_time, normalize_sender, parse_time, Rejection};

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
            reaction_floor_ms: 30_000,
            derived_watermark_margin_ms: 5 * 60_000,
            candidates_max: 500,
        }
    }
}

fn opt_trim(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Validate a claim. `future_skew_ms` bounds how far ahead `received_at` may be.
pub fn validate_claim(raw: &ClaimIn, extract: &ExtractConfig) -> Result<Claim, Rejection> {
    let customer_id = opt_trim(&raw.customer_id)
        .ok_or_else(|| Rejection::new("missing_field", "`customer_id` is required"))?
        .to_string();
    if customer_id.chars().count() > 128 {
        return Err(Rejection::new(
            "field_too_long",
            "`customer_id` is over 128 characters",
        ));
    }
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
    Ok(Claim {
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
    })
}

/// The time range searched for a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Window {
    pub from: Millis,
    pub to: Millis,
}

/// The window to search: ±tolerance around `received_at`, else the whole retention window.
pub fn claim_window(
    claim: &Claim,
    now: Millis,
    retention_ms: Millis,
    cfg: &VerifyConfig,
) -> Window {
    match claim.received_at {
        Some(t) => Window {
            from: t - cfg.time_tolerance_ms,
            // A notification is received after it is sent: no need to look past `t` by more
            // than the tolerance, nor past now.
            to: (t + cfg.time_tolerance_ms).min(now),
        },
        None => Window {
            from: now - retention_ms,
            to: now,
        },
    }
}

/// How one feed's completeness is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WatermarkKind {
    /// The source declared it.
    Declared,
    /// Derived from the newest record minus a margin: the source never declared one.
    Derived,
    /// Nothing received yet.
    None,
}

/// The effective watermark of a source: declared, else derived conservatively from traffic.
pub fn effective_watermark(s: &SourceState, cfg: &VerifyConfig) -> (Option<Millis>, WatermarkKind) {
    match (s.declared_watermark, s.last_sent_at) {
        (Some(w), _) => (Some(w), WatermarkKind::Declared),
        (None, Some(last)) => (
            Some(last - cfg.derived_watermark_margin_ms),
            WatermarkKind::Derived,
        ),
        (None, None) => (None, WatermarkKind::None),
    }
}

/// The earliest time from which a source's record is complete.
pub fn complete_since(s: &SourceState) -> Option<Millis> {
    s.complete_since.or(s.first_acked_at)
}

/// Completeness of the ledger for one channel (or all channels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    /// Sources that send on the channel.
    pub sources: usize,
    /// Oldest effective watermark among them.
    pub fresh_until: Option<Millis>,
    /// Latest "complete since" among them.
    pub complete_since: Option<Millis>,
    /// The source holding `fresh_until` back.
    pub laggard: Option<String>,
}

pub fn freshness(
    sources: &[SourceState],
    channel: Option<Channel>,
    cfg: &VerifyConfig,
) -> Freshness {
    let relevant: Vec<&SourceState> = sources
        .iter()
        .filter(|s| channel.is_none_or(|c| s.sends_on(c)))
        .collect();
    let mut f = Freshness {
        sources: relevant.len(),
        fresh_until: None,
        complete_since: None,
        laggard: None,
    };
    let mut first = true;
    for s in relevant {
        let (w, _) = effective_watermark(s, cfg);
        let w = w.unwrap_or(Millis::MIN);
        if first || f.fresh_until.is_some_and(|cur| w < cur) {
            f.fresh_until = Some(w);
            f.laggard = Some(s.source.clone());
        }
        first = false;
        let cs = complete_since(s).unwrap_or(Millis::MAX);
        f.complete_since = Some(f.complete_since.map_or(cs, |cur| cur.max(cs)));
    }
    f
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Confirmed,
    Partial,
    NotSent,
    /// Reserved for campaign matching (smishing reports): the claim matches an active campaign.
    KnownScam,
    CannotConfirm,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Partial => "partial",
            Verdict::NotSent => "not_sent",
            Verdict::KnownScam => "known_scam",
            Verdict::CannotConfirm => "cannot_confirm",
        }
    }
}

/// How one cue compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CueResult {
    Match,
    /// Close enough for memory ("$500" for $479.99) but not exact.
    Close,
    Mismatch,
    /// The notification has nothing to compare this cue with.
    Absent,
}

/// Evidence for one cue.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Evidence {
    pub cue: &'static str,
    pub result: CueResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<String>,
    pub detail: String,
}

/// A notification as shown to the agent.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NotificationView {
    pub source: String,
    pub id: String,
    pub customer_id: String,
    pub channel: Channel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    pub sent_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    pub status: DeliveryStatus,
    pub facts: Facts,
    /// Only when bodies are retained and the view is the timeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub acknowledged_at: String,
}

impl NotificationView {
    pub fn from_stored(n: &StoredNotification, with_body: bool) -> Self {
        let r = &n.record;
        NotificationView {
            source: r.source.clone(),
            id: r.id.clone(),
            customer_id: r.customer_id.clone(),
            channel: r.channel,
            sender: r.sender.clone(),
            recipient: r.recipient.clone(),
            sent_at: format_time(r.sent_at),
            category: r.category.clone(),
            template_id: r.template_id.clone(),
            status: r.status,
            facts: r.facts.clone(),
            body: if with_body { r.body.clone() } else { None },
            acknowledged_at: format_time(n.acked_at),
        }
    }
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Verification {
    pub verdict: Verdict,
    /// Why, for `cannot_confirm` (`ledger_stale`, `unknown_customer`, `outside_retention`,
    /// `no_feed_for_channel`, `before_feed_start`, `claim_time_in_future`) and `partial`
    /// (`cue_mismatch`, `channel_mismatch`, `sender_lookalike`, `delivery_failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// Confidence in the verdict, 0..=1.
    pub confidence: f64,
    /// The notification the claim was matched to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<NotificationView>,
    pub evidence: Vec<Evidence>,
    /// What the agent should say or do.
    pub guidance: String,
    /// The ledger is complete up to this time for the claimed channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_fresh_until: Option<String>,
    /// The window searched.
    pub window: WindowView,
    /// For `known_scam`: the smishing campaign the claim's cues match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WindowView {
    pub from: String,
    pub to: String,
}

/// What the store told us about the customer and the feeds.
pub struct LedgerContext<'a> {
    pub customer_known: bool,
    /// The customer's notifications in the window (any channel).
    pub candidates: &'a [StoredNotification],
    pub sources: &'a [SourceState],
    /// Start of the retention window (older records are purged).
    pub retention_start: Millis,
    /// Key of the body hash, for exact-text matching in facts-only mode.
    pub body_hmac_key: &'a [u8],
}

/// Cue weights: how much a matching cue says "this is the one we sent".
mod weight {
    pub const CHANNEL: f64 = 0.5;
    pub const SENDER: f64 = 1.0;
    pub const AMOUNT: f64 = 1.0;
    pub const MERCHANT: f64 = 1.0;
    pub const CARD: f64 = 1.5;
    pub const CALLBACK: f64 = 1.5;
    pub const DOMAIN: f64 = 1.5;
    pub const CODE: f64 = 2.0;
    pub const TEXT: f64 = 1.5;
    pub const TIME: f64 = 0.5;
}

struct Eval {
    evidence: Vec<Evidence>,
    positive: f64,
    negative: f64,
    related: bool,
    channel_ok: bool,
    lookalike: bool,
    failed: bool,
}

fn ev(
    cue: &'static str,
    result: CueResult,
    claimed: Option<String>,
    recorded: Option<String>,
    detail: String,
) -> Evidence {
    Evidence {
        cue,
        result,
        claimed,
        recorded,
        detail,
    }
}

fn fmt_minutes(ms: Millis) -> String {
    let m = ms.abs() / 60_000;
    if m < 60 {
        format!("{m} min")
    } else {
        format!("{} h {} min", m / 60, m % 60)
    }
}

fn evaluate(claim: &Claim, cand: &StoredNotification, cfg: &VerifyConfig, key: &[u8]) -> Eval {
    use CueResult::*;
    let r = &cand.record;
    let f = &r.facts;
    let mut e = Eval {
        evidence: Vec::new(),
        positive: 0.0,
        negative: 0.0,
        related: false,
        channel_ok: true,
        lookalike: false,
        failed: false,
    };
    let add = |e: &mut Eval, evd: Evidence, w: f64| {
        match evd.result {
            Match => {
                e.positive += w;
                if evd.cue != "channel" && evd.cue != "time" {
                    e.related = true;
                }
            }
            Close => {
                e.positive += w / 2.0;
                e.related = true;
            }
            Mismatch => e.negative += w,
            Absent => {}
        }
        e.evidence.push(evd);
    };

    if let Some(c) = claim.channel {
        let ok = c == r.channel;
        e.channel_ok = ok;
        e.related |= ok;
        let detail = if ok {
            format!("we sent {}", c.spoken_a())
        } else {
            format!(
                "we sent this as {}, not {}",
                r.channel.spoken_a(),
                c.spoken_a()
            )
        };
        add(
            &mut e,
            ev(
                "channel",
                if ok { Match } else { Mismatch },
                Some(c.to_string()),
                Some(r.channel.to_string()),
                detail,
            ),
            weight::CHANNEL,
        );
    }
    if let Some(t) = claim.received_at {
        let dt = t - r.sent_at;
        let closeness = 1.0 - (dt.abs() as f64 / cfg.time_tolerance_ms.max(1) as f64).min(1.0);
        e.positive += weight::TIME * closeness;
        e.evidence.push(ev(
            "time",
            Match,
            Some(format_time(t)),
            Some(format_time(r.sent_at)),
            format!(
                "sent {} {} the time the caller gave",
                fmt_minutes(dt),
                if dt >= 0 { "before" } else { "after" }
            ),
        ));
    }
    if let Some(seen) = &claim.sender_seen {
        let evd = match &r.sender {
            None => ev(
                "sender",
                Absent,
                Some(seen.clone()),
                None,
                "we did not record the sender".into(),
            ),
            Some(ours) => match sender_relation(seen, ours) {
                SenderRelation::Same => ev(
                    "sender",
                    Match,
                    Some(seen.clone()),
                    Some(ours.clone()),
                    "our sender".into(),
                ),
                SenderRelation::Lookalike { distance } => {
                    e.lookalike = true;
                    ev("sender", Mismatch, Some(seen.clone()), Some(ours.clone()), format!(
                        "{seen} imitates our sender {ours} (edit distance {distance}): evidence of a spoofed text"
                    ))
                }
                SenderRelation::Different => ev(
                    "sender",
                    Mismatch,
                    Some(seen.clone()),
                    Some(ours.clone()),
                    format!("we sent it from {ours}, not {seen}"),
                ),
            },
        };
        add(&mut e, evd, weight::SENDER);
    }
    if let Some(a) = &claim.amount {
        let evd = match &f.amount {
            None => ev(
                "amount",
                Mismatch,
                Some(a.to_string()),
                None,
                "our message named no amount".into(),
            ),
            Some(ours) => {
                let diff = (a.minor - ours.minor).abs() as f64;
                let base = ours.minor.abs().max(1) as f64;
                if diff <= 100.0_f64.max(0.02 * base) {
                    ev(
                        "amount",
                        Match,
                        Some(a.to_string()),
                        Some(ours.to_string()),
                        "same amount, within rounding".into(),
                    )
                } else if diff <= 0.10 * base {
                    ev(
                        "amount",
                        Close,
                        Some(a.to_string()),
                        Some(ours.to_string()),
                        "close to the amount we sent".into(),
                    )
                } else {
                    ev(
                        "amount",
                        Mismatch,
                        Some(a.to_string()),
                        Some(ours.to_string()),
                        format!("we sent {ours}, not {a}"),
                    )
                }
            }
        };
        add(&mut e, evd, weight::AMOUNT);
    }
    if let Some(m) = &claim.merchant {
        let evd = match &f.merchant {
            None => ev(
                "merchant",
                Mismatch,
                Some(m.clone()),
                None,
                "our message named no merchant".into(),
            ),
            Some(ours) => {
                let sim = merchant_similarity(m, ours);
                if sim >= 0.9 {
                    ev(
                        "merchant",
                        Match,
                        Some(m.clone()),
                        Some(ours.clone()),
                        "same merchant".into(),
                    )
                } else if sim >= 0.8 {
                    ev(
                        "merchant",
                        Close,
                        Some(m.clone()),
                        Some(ours.clone()),
                        format!("similar merchant ({:.0}% alike)", sim * 100.0),
                    )
                } else {
                    ev(
                        "merchant",
                        Mismatch,
                        Some(m.clone()),
                        Some(ours.clone()),
                        format!("we named {ours}, not {m}"),
                    )
                }
            }
        };
        add(&mut e, evd, weight::MERCHANT);
    }
    if let Some(c) = &claim.card_last4 {
        let evd = match &f.card_last4 {
            None => ev(
                "card_last4",
                Mismatch,
                Some(c.clone()),
                None,
                "our message named no card".into(),
            ),
            Some(ours) if ours == c => ev(
                "card_last4",
                Match,
                Some(c.clone()),
                Some(ours.clone()),
                "same card ending".into(),
            ),
            Some(ours) => ev(
                "card_last4",
                Mismatch,
                Some(c.clone()),
                Some(ours.clone()),
                format!("we named the card ending {ours}"),
            ),
        };
        add(&mut e, evd, weight::CARD);
    }
    if let Some(n) = &claim.callback_number {
        let evd = if f.callback_numbers.contains(n) {
            ev(
                "callback_number",
                Match,
                Some(n.clone()),
                Some(n.clone()),
                "a number in our message".into(),
            )
        } else if f.callback_numbers.is_empty() {
            ev(
                "callback_number",
                Mismatch,
                Some(n.clone()),
                None,
                format!("our message gave no number to call; {n} is not from us"),
            )
        } else {
            ev(
                "callback_number",
                Mismatch,
                Some(n.clone()),
                Some(f.callback_numbers.join(", ")),
                format!("{n} is not the number in our message"),
            )
        };
        add(&mut e, evd, weight::CALLBACK);
    }
    if let Some(d) = &claim.domain {
        let evd = if f.domains.contains(d) {
            ev(
                "url",
                Match,
                Some(d.clone()),
                Some(d.clone()),
                "a link in our message".into(),
            )
        } else if f.domains.is_empty() {
            ev(
                "url",
                Mismatch,
                Some(d.clone()),
                None,
                format!("our message had no link; {d} is not ours"),
            )
        } else {
            ev(
                "url",
                Mismatch,
                Some(d.clone()),
                Some(f.domains.join(", ")),
                format!("{d} is not the link in our message"),
            )
        };
        add(&mut e, evd, weight::DOMAIN);
    }
    if let Some(c) = &claim.code {
        let evd = match &f.code {
            None => ev(
                "code",
                Mismatch,
                Some(c.clone()),
                None,
                "our message had no code".into(),
            ),
            Some(ours) if ours == c => ev(
                "code",
                Match,
                Some(c.clone()),
                Some(ours.clone()),
                "same code".into(),
            ),
            Some(_) => ev(
                "code",
                Mismatch,
                Some(c.clone()),
                Some("(withheld)".into()),
                "not the code we sent".into(),
            ),
        };
        add(&mut e, evd, weight::CODE);
    }
    if let Some(t) = &claim.text {
        let evd = match (&r.body, &r.body_mac) {
            (_, Some(mac)) if body_mac(key, t) == *mac => ev(
                "text",
                Match,
                Some(t.clone()),
                None,
                "word for word what we sent".into(),
            ),
            (Some(body), _) => {
                let c = containment(t, body);
                if c >= 0.75 {
                    ev(
                        "text",
                        Match,
                        Some(t.clone()),
                        None,
                        format!("{:.0}% of the quoted words are in our message", c * 100.0),
                    )
                } else if c >= 0.4 {
                    ev(
                        "text",
                        Close,
                        Some(t.clone()),
                        None,
                        format!("{:.0}% of the quoted words are in our message", c * 100.0),
                    )
                } else {
                    ev(
                        "text",
                        Mismatch,
                        Some(t.clone()),
                        None,
                        format!(
                            "only {:.0}% of the quoted words are in our message",
                            c * 100.0
                        ),
                    )
                }
            }
            (None, _) => ev(
                "text",
                Absent,
                Some(t.clone()),
                None,
                "message text is not retained; only a word-for-word quote can be checked".into(),
            ),
        };
        add(&mut e, evd, weight::TEXT);
    }
    if r.status == DeliveryStatus::Failed {
        e.failed = true;
        add(
            &mut e,
            ev(
                "delivery",
                Mismatch,
                None,
                Some("failed".into()),
                "this notification was never delivered to the customer".into(),
            ),
            2.0,
        );
    }
    if claim.channel.is_none() && claim.cue_count() == 0 {
        e.related = true;
    }
    e
}

fn window_view(w: Window) -> WindowView {
    WindowView {
        from: format_time(w.from),
        to: format_time(w.to),
    }
}

/// Decide a claim. `ctx.candidates` must hold the customer's notifications in
/// [`claim_window`] (any channel).
pub fn decide(
    claim: &Claim,
    now: Millis,
    retention_ms: Millis,
    cfg: &VerifyConfig,
    ctx: &LedgerContext<'_>,
) -> Verification {
    let window = claim_window(claim, now, retention_ms, cfg);
    let fresh = freshness(ctx.sources, claim.channel, cfg);
    let fresh_until = fresh
        .fresh_until
        .filter(|w| *w > Millis::MIN)
        .map(format_time);
    let cannot = |reason: &'static str, guidance: String| Verification {
        verdict: Verdict::CannotConfirm,
        reason: Some(reason),
        confidence: 0.0,
        matched: None,
        evidence: Vec::new(),
        guidance,
        ledger_fresh_until: fresh_until.clone(),
        window: window_view(window),
        campaign_id: None,
    };
    const NEUTRAL: &str = "Treat the message as neither proof nor a red flag, and verify the caller with the standard step-up checks.";

    if let Some(t) = claim.received_at {
        if t > now + cfg.reaction_floor_ms.max(60_000) {
            return cannot("claim_time_in_future", format!("The time given is in the future; check the date and time zone with the caller. {NEUTRAL}"));
        }
        if t + cfg.time_tolerance_ms < ctx.retention_start {
            return cannot(
                "outside_retention",
                format!("That is older than the notification record we keep. {NEUTRAL}"),
            );
        }
    }
    if !ctx.customer_known {
        return cannot(
            "unknown_customer",
            format!("We hold no notification record for this customer. {NEUTRAL}"),
        );
    }

    let key = ctx.body_hmac_key;
    let best = ctx
        .candidates
        .iter()
        .filter(|c| c.record.sent_at >= window.from && c.record.sent_at <= window.to)
        .map(|c| (c, evaluate(claim, c, cfg, key)))
        .filter(|(_, e)| e.related)
        .max_by(|(a, ea), (b, eb)| {
            let sa = ea.positive - 1.5 * ea.negative;
            let sb = eb.positive - 1.5 * eb.negative;
            sa.total_cmp(&sb)
                .then(a.record.sent_at.cmp(&b.record.sent_at))
        });

    // Why the record may be incomplete for the claimed channel over the window, if it may be.
    let incomplete = || -> Option<Verification> {
        if window.from < ctx.retention_start {
            return Some(cannot(
                "outside_retention",
                format!(
                    "Part of that time is older than the notification record we keep. {NEUTRAL}"
                ),
            ));
        }
        if fresh.sources == 0 {
            return Some(cannot("no_feed_for_channel", format!(
                "No notification feed for {} is connected, so we cannot tell whether we sent it. {NEUTRAL}",
                claim.channel.map_or("any channel".to_string(), |c| format!("{c} messages"))
            )));
        }
        if fresh.complete_since.is_none_or(|cs| cs > window.from) {
            return Some(cannot(
                "before_feed_start",
                format!("Our notification record does not reach back to that time. {NEUTRAL}"),
            ));
        }
        let needed = window.to.min(now - cfg.reaction_floor_ms);
        if fresh.fresh_until.is_none_or(|w| w < needed) {
            return Some(cannot("ledger_stale", format!(
                "Our notification record is behind (feed `{}` is delayed), so a recent message may be missing. {NEUTRAL}",
                fresh.laggard.as_deref().unwrap_or("?")
            )));
        }
        None
    };

    if let Some((cand, e)) = best {
        let view = NotificationView::from_stored(cand, false);
        let when = format_time(cand.record.sent_at);
        let what = cand.record.channel.spoken();
        let a_what = cand.record.channel.spoken_a();
        if e.negative == 0.0 && e.channel_ok {
            let confidence = (1.0 - 0.5 * (-e.positive / 1.5).exp()).min(0.99);
            return Verification {
                verdict: Verdict::Confirmed,
                reason: None,
                confidence: round2(confidence),
                guidance: format!(
                    "We did send this {what} ({when}). The notification is genuine, but knowing about it does not prove who is calling: continue with standard verification before any account change."
                ),
                matched: Some(view),
                evidence: e.evidence,
                ledger_fresh_until: fresh_until,
                window: window_view(window),
                campaign_id: None,
            };
        }
        // The caller names another channel than the one we used: only a complete record for the
        // claimed channel can say no such message exists there.
        if !e.channel_ok && !e.lookalike && !e.failed {
            if let Some(v) = incomplete() {
                return v;
            }
        }
        let (reason, lead) = if e.failed {
            ("delivery_failed", format!("We tried to send {a_what} ({when}) but it was never delivered, yet the caller knows of it."))
        } else if e.lookalike {
            ("sender_lookalike", format!("We sent {a_what} ({when}), but the sender the caller saw imitates ours: the message they describe may be a spoof."))
        } else if !e.channel_ok {
            (
                "channel_mismatch",
                format!("We sent this as {a_what} ({when}), not the way the caller describes."),
            )
        } else {
            let bad: Vec<&str> = e
                .evidence
                .iter()
                .filter(|x| x.result == CueResult::Mismatch)
                .map(|x| x.cue)
                .collect();
            ("cue_mismatch", format!("We sent {a_what} around then ({when}), but the caller's {} does not match what we sent.", bad.join(", ")))
        };
        let strong = e.lookalike
            || e.failed
            || e.evidence.iter().any(|x| {
                x.result == CueResult::Mismatch
                    && matches!(x.cue, "callback_number" | "url" | "code")
            });
        let tail = if strong {
            "Do not act on the caller's request. Say: \"For your security I'll call you back on the number we have on file,\" end the call, and flag it to fraud."
        } else {
            "Do not treat the message as proof of identity: use step-up verification before any change."
        };
        let confidence = 0.6 + 0.3 * (e.negative / 3.0).min(1.0);
        return Verification {
            verdict: Verdict::Partial,
            reason: Some(reason),
            confidence: round2(confidence),
            guidance: format!("{lead} {tail}"),
            matched: Some(view),
            evidence: e.evidence,
            ledger_fresh_until: fresh_until,
            window: window_view(window),
            campaign_id: None,
        };
    }

    // Nothing we sent fits. Say `not_sent` only if the record is provably complete.
    if let Some(v) = incomplete() {
        return v;
    }
    let mut evidence = Vec::new();
    let others = ctx.candidates.len();
    evidence.push(ev(
        "ledger",
        CueResult::Absent,
        None,
        None,
        format!(
            "no {} to this customer between {} and {}; {} other notification(s) in that time",
            claim
                .channel
                .map_or("notification".to_string(), |c| c.spoken().to_string()),
            format_time(window.from),
            format_time(window.to),
            others
        ),
    ));
    let confidence = 0.9 + 0.02 * claim.cue_count().min(4) as f64;
    Verification {
        verdict: Verdict::NotSent,
        reason: None,
        confidence: round2(confidence),
        matched: None,
        evidence,
        guidance: "We did not send this. Do not act on the caller's request. Say: \"I don't see that message on our side. For your security I'm going to end this call and call you back on the number we have on file.\" Then escalate to fraud.".into(),
        ledger_fresh_until: fresh_until,
        window: window_view(window),
        campaign_id: None,
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A claim whose cues match a smishing campaign customers have reported: whatever the ledger
/// alone concluded short of `confirmed`, the answer is `known_scam`, naming the campaign.
pub fn apply_campaign(v: &mut Verification, campaign_id: u64, detail: String) {
    if v.verdict == Verdict::Confirmed {
        // We did send what the caller cites; a campaign reusing the same wording changes nothing.
        return;
    }
    v.verdict = Verdict::KnownScam;
    v.reason = None;
    v.confidence = 0.99;
    v.campaign_id = Some(campaign_id);
    v.evidence.push(Evidence {
        cue: "campaign",
        result: CueResult::Mismatch,
        claimed: None,
        recorded: Some(format!("campaign {campaign_id}")),
        detail,
    });
    v.guidance = format!(
        "This is a known scam: it matches smishing campaign {campaign_id}, which customers have reported. Do not act on the caller's request. Say: \"That message did not come from us. For your security I'm going to end this call and call you back on the number we have on file.\" Then escalate to fraud."
    );
}
