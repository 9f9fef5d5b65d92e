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
use crate::guidance::{compose, Action};
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
    /// The action this verdict usually calls for on its own (a `partial` may call for more:
    /// [`Verification::action`] is the one to use when there is a verification).
    pub fn least_action(self) -> Action {
        match self {
            Verdict::NotSent | Verdict::KnownScam => Action::Callback,
            Verdict::Partial => Action::StepUp,
            Verdict::Confirmed | Verdict::CannotConfirm => Action::Proceed,
        }
    }

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
    /// What the agent should say and do: the finding, then the instruction for `action`.
    pub guidance: String,
    /// The least the agent should do on this verdict alone; in a call, the call's action (never
    /// less). `guidance` always ends with this action's instruction.
    pub action: Action,
    /// What the ledger found, without the instruction (guidance = finding + instruction).
    #[serde(skip)]
    pub finding: String,
    /// The ledger is complete up to this time for the claimed channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_fresh_until: Option<String>,
    /// The window searched.
    pub window: WindowView,
    /// For `known_scam`: the smishing campaign the claim's cues match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<u64>,
}

impl Verification {
    /// Make `action` the instruction (a call's action, which is never less than the verdict's),
    /// rewriting the guidance from it: one instruction, whoever reads it.
    pub fn set_action(&mut self, action: Action) {
        self.action = action;
        self.guidance = compose(&self.finding, action);
    }
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
    pub const DELIVERY: f64 = 2.0;
}

/// Cues about the message's content. When the caller gives any, a notification is the one they
/// describe only if one of them fits: channel, time and sender alone do not make it the message.
const CONTENT_CUES: [&str; 7] = [
    "amount",
    "merchant",
    "card_last4",
    "callback_number",
    "url",
    "code",
    "text",
];

/// Cues whose contradiction means the caller holds a message that sends the customer somewhere
/// else (a number to call, a link, a code): end the call, whatever else fits.
const CONTACT_CUES: [&str; 3] = ["callback_number", "url", "code"];

/// How one candidate notification compares with the claim.
struct Eval {
    evidence: Vec<Evidence>,
    positive: f64,
    negative: f64,
    /// A cue other than channel/time fits (used when the claim has no comparable content cue).
    related: bool,
    /// Some content cue could be compared with this notification.
    content_compared: bool,
    /// A content cue (other than a loosely similar quote) matches or is close.
    content_hit: bool,
    /// The quote is loosely similar (shared template words), not a match.
    text_close: bool,
    /// A content cue other than the quote contradicts this notification.
    content_mismatch: bool,
    channel_ok: bool,
    lookalike: bool,
    failed: bool,
}

impl Eval {
    fn new() -> Self {
        Eval {
            evidence: Vec::new(),
            positive: 0.0,
            negative: 0.0,
            related: false,
            content_compared: false,
            content_hit: false,
            text_close: false,
            content_mismatch: false,
            channel_ok: true,
            lookalike: false,
            failed: false,
        }
    }

    fn add(&mut self, evd: Evidence, w: f64) {
        use CueResult::*;
        let content = CONTENT_CUES.contains(&evd.cue);
        let is_text = evd.cue == "text";
        match evd.result {
            Match => {
                self.positive += w;
                if content {
                    self.content_hit = true;
                } else if evd.cue != "channel" && evd.cue != "time" {
                    self.related = true;
                }
            }
            Close => {
                self.positive += w / 2.0;
                if is_text {
                    self.text_close = true;
                } else if content {
                    self.content_hit = true;
                } else {
                    self.related = true;
                }
            }
            Mismatch => {
                self.negative += w;
                if content && !is_text {
                    self.content_mismatch = true;
                }
            }
            Absent => {}
        }
        if content && evd.result != Absent {
            self.content_compared = true;
        }
        self.evidence.push(evd);
    }

    /// Is this the message the caller describes? With content cues, only if one fits (a loosely
    /// similar quote counts only when no other content cue contradicts); without, by channel,
    /// sender or the absence of any cue.
    fn describes(&self) -> bool {
        if self.content_compared {
            self.content_hit || (self.text_close && !self.content_mismatch)
        } else {
            self.related
        }
    }

    /// Contradicted cues, by name.
    fn mismatched(&self) -> Vec<&'static str> {
        self.evidence
            .iter()
            .filter(|x| x.result == CueResult::Mismatch)
            .map(|x| x.cue)
            .collect()
    }

    /// A contradiction that means "end the call": a number, link or code that is not ours, a
    /// lookalike sender, or a failed delivery the caller nonetheless knows of.
    fn strong(&self) -> bool {
        self.lookalike
            || self.failed
            || self
                .evidence
                .iter()
                .any(|x| x.result == CueResult::Mismatch && CONTACT_CUES.contains(&x.cue))
    }
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

fn cue_channel(claimed: Channel, ours: Channel) -> Evidence {
    let ok = claimed == ours;
    let detail = if ok {
        format!("we sent {}", claimed.spoken_a())
    } else {
        format!(
            "we sent this as {}, not {}",
            ours.spoken_a(),
            claimed.spoken_a()
        )
    };
    ev(
        "channel",
        if ok {
            CueResult::Match
        } else {
            CueResult::Mismatch
        },
        Some(claimed.to_string()),
        Some(ours.to_string()),
        detail,
    )
}

/// The time cue never contradicts (the window already bounds it); its weight grows with closeness.
fn cue_time(claimed: Millis, sent_at: Millis, tolerance_ms: Millis) -> (Evidence, f64) {
    let dt = claimed - sent_at;
    let closeness = 1.0 - (dt.abs() as f64 / tolerance_ms.max(1) as f64).min(1.0);
    let evd = ev(
        "time",
        CueResult::Match,
        Some(format_time(claimed)),
        Some(format_time(sent_at)),
        format!(
            "sent {} {} the time the caller gave",
            fmt_minutes(dt),
            if dt >= 0 { "before" } else { "after" }
        ),
    );
    (evd, weight::TIME * closeness)
}

fn cue_sender(seen: &str, ours: Option<&str>) -> Evidence {
    let seen_s = Some(seen.to_string());
    match ours {
        None => ev(
            "sender",
            CueResult::Absent,
            seen_s,
            None,
            "we did not record the sender".into(),
        ),
        Some(ours) => match sender_relation(seen, ours) {
            SenderRelation::Same => ev(
                "sender",
                CueResult::Match,
                seen_s,
                Some(ours.into()),
                "our sender".into(),
            ),
            SenderRelation::Lookalike { distance } => ev(
                "sender",
                CueResult::Mismatch,
                seen_s,
                Some(ours.into()),
                format!(
                    "{seen} imitates our sender {ours} (edit distance {distance}): evidence of a spoofed text"
                ),
            ),
            SenderRelation::Different => ev(
                "sender",
                CueResult::Mismatch,
                seen_s,
                Some(ours.into()),
                format!("we sent it from {ours}, not {seen}"),
            ),
        },
    }
}

fn cue_amount(claimed: &Money, ours: Option<&Money>) -> Evidence {
    let a = Some(claimed.to_string());
    let Some(ours) = ours else {
        return ev(
            "amount",
            CueResult::Mismatch,
            a,
            None,
            "our message named no amount".into(),
        );
    };
    let diff = (claimed.minor - ours.minor).abs() as f64;
    let base = ours.minor.abs().max(1) as f64;
    let (result, detail) = if diff <= 100.0_f64.max(0.02 * base) {
        (CueResult::Match, "same amount, within rounding".to_string())
    } else if diff <= 0.10 * base {
        (CueResult::Close, "close to the amount we sent".to_string())
    } else {
        (
            CueResult::Mismatch,
            format!("we sent {ours}, not {claimed}"),
        )
    };
    ev("amount", result, a, Some(ours.to_string()), detail)
}

fn cue_merchant(claimed: &str, ours: Option<&str>) -> Evidence {
    let m = Some(claimed.to_string());
    let Some(ours) = ours else {
        return ev(
            "merchant",
            CueResult::Mismatch,
            m,
            None,
            "our message named no merchant".into(),
        );
    };
    let sim = merchant_similarity(claimed, ours);
    let (result, detail) = if sim >= 0.9 {
        (CueResult::Match, "same merchant".to_string())
    } else if sim >= 0.8 {
        (
            CueResult::Close,
            format!("similar merchant ({:.0}% alike)", sim * 100.0),
        )
    } else {
        (
            CueResult::Mismatch,
            format!("we named {ours}, not {claimed}"),
        )
    };
    ev("merchant", result, m, Some(ours.to_string()), detail)
}

fn cue_card(claimed: &str, ours: Option<&str>) -> Evidence {
    let c = Some(claimed.to_string());
    match ours {
        None => ev(
            "card_last4",
            CueResult::Mismatch,
            c,
            None,
            "our message named no card".into(),
        ),
        Some(o) if o == claimed => ev(
            "card_last4",
            CueResult::Match,
            c,
            Some(o.into()),
            "same card ending".into(),
        ),
        Some(o) => ev(
            "card_last4",
            CueResult::Mismatch,
            c,
            Some(o.into()),
            format!("we named the card ending {o}"),
        ),
    }
}

fn cue_callback(claimed: &str, ours: &[String]) -> Evidence {
    let n = Some(claimed.to_string());
    if ours.iter().any(|o| o == claimed) {
        ev(
            "callback_number",
            CueResult::Match,
            n.clone(),
            n,
            "a number in our message".into(),
        )
    } else if ours.is_empty() {
        ev(
            "callback_number",
            CueResult::Mismatch,
            n,
            None,
            format!("our message gave no number to call; {claimed} is not from us"),
        )
    } else {
        ev(
            "callback_number",
            CueResult::Mismatch,
            n,
            Some(ours.join(", ")),
            format!("{claimed} is not the number in our message"),
        )
    }
}

fn cue_url(claimed: &str, ours: &[String]) -> Evidence {
    let d = Some(claimed.to_string());
    if ours.iter().any(|o| o == claimed) {
        ev(
            "url",
            CueResult::Match,
            d.clone(),
            d,
            "a link in our message".into(),
        )
    } else if ours.is_empty() {
        ev(
            "url",
            CueResult::Mismatch,
            d,
            None,
            format!("our message had no link; {claimed} is not ours"),
        )
    } else {
        ev(
            "url",
            CueResult::Mismatch,
            d,
            Some(ours.join(", ")),
            format!("{claimed} is not the link in our message"),
        )
    }
}

fn cue_code(claimed: &str, ours: Option<&str>) -> Evidence {
    let c = Some(claimed.to_string());
    match ours {
        None => ev(
            "code",
            CueResult::Mismatch,
            c,
            None,
            "our message had no code".into(),
        ),
        Some(o) if o == claimed => ev(
            "code",
            CueResult::Match,
            c,
            Some(o.into()),
            "same code".into(),
        ),
        // Never echo the code we sent.
        Some(_) => ev(
            "code",
            CueResult::Mismatch,
            c,
            Some("(withheld)".into()),
            "not the code we sent".into(),
        ),
    }
}

/// A quote: word for word by the keyed hash (works in facts-only mode), else by the share of
/// the quoted words found in our text.
fn cue_text(quote: &str, body: Option<&str>, mac: Option<&[u8; 16]>, key: &[u8]) -> Evidence {
    let t = Some(quote.to_string());
    if mac.is_some_and(|m| body_mac(key, quote) == *m) {
        return ev(
            "text",
            CueResult::Match,
            t,
            None,
            "word for word what we sent".into(),
        );
    }
    let Some(body) = body else {
        return ev(
            "text",
            CueResult::Absent,
            t,
            None,
            "message text is not retained; only a word-for-word quote can be checked".into(),
        );
    };
    let c = containment(quote, body);
    let pct = c * 100.0;
    let (result, detail) = if c >= 0.75 {
        (
            CueResult::Match,
            format!("{pct:.0}% of the quoted words are in our message"),
        )
    } else if c >= 0.4 {
        (
            CueResult::Close,
            format!("{pct:.0}% of the quoted words are in our message"),
        )
    } else {
        (
            CueResult::Mismatch,
            format!("only {pct:.0}% of the quoted words are in our message"),
        )
    };
    ev("text", result, t, None, detail)
}

/// Compare the claim with one candidate, cue by cue.
fn evaluate(claim: &Claim, cand: &StoredNotification, cfg: &VerifyConfig, key: &[u8]) -> Eval {
    let r = &cand.record;
    let f = &r.facts;
    let mut e = Eval::new();
    if let Some(c) = claim.channel {
        e.channel_ok = c == r.channel;
        e.related |= e.channel_ok;
        e.add(cue_channel(c, r.channel), weight::CHANNEL);
    }
    if let Some(t) = claim.received_at {
        let (evd, w) = cue_time(t, r.sent_at, cfg.time_tolerance_ms);
        e.positive += w;
        e.evidence.push(evd);
    }
    if let Some(seen) = &claim.sender_seen {
        let evd = cue_sender(seen, r.sender.as_deref());
        e.lookalike = evd.result == CueResult::Mismatch
            && r.sender.as_deref().is_some_and(|o| {
                matches!(sender_relation(seen, o), SenderRelation::Lookalike { .. })
            });
        e.add(evd, weight::SENDER);
    }
    if let Some(a) = &claim.amount {
        e.add(cue_amount(a, f.amount.as_ref()), weight::AMOUNT);
    }
    if let Some(m) = &claim.merchant {
        e.add(cue_merchant(m, f.merchant.as_deref()), weight::MERCHANT);
    }
    if let Some(c) = &claim.card_last4 {
        e.add(cue_card(c, f.card_last4.as_deref()), weight::CARD);
    }
    if let Some(n) = &claim.callback_number {
        e.add(cue_callback(n, &f.callback_numbers), weight::CALLBACK);
    }
    if let Some(d) = &claim.domain {
        e.add(cue_url(d, &f.domains), weight::DOMAIN);
    }
    if let Some(c) = &claim.code {
        e.add(cue_code(c, f.code.as_deref()), weight::CODE);
    }
    if let Some(t) = &claim.text {
        e.add(
            cue_text(t, r.body.as_deref(), r.body_mac.as_ref(), key),
            weight::TEXT,
        );
    }
    if r.status == DeliveryStatus::Failed {
        e.failed = true;
        e.add(
            ev(
                "delivery",
                CueResult::Mismatch,
                None,
                Some("failed".into()),
                "this notification was never delivered to the customer".into(),
            ),
            weight::DELIVERY,
        );
    }
    if claim.channel.is_none() && claim.cue_count() == 0 {
        e.related = true;
    }
    e
}

/// What a notification said, in the words an agent can check with the caller (never the code).
fn summary(n: &StoredNotification) -> String {
    let f = &n.record.facts;
    let mut parts: Vec<String> = Vec::new();
    match (&f.amount, &f.merchant) {
        (Some(a), Some(m)) => parts.push(format!("{a} at {m}")),
        (Some(a), None) => parts.push(a.to_string()),
        (None, Some(m)) => parts.push(m.clone()),
        (None, None) => {}
    }
    if let Some(c) = &f.card_last4 {
        parts.push(format!("card ending {c}"));
    }
    if !f.callback_numbers.is_empty() {
        parts.push(format!("call {}", f.callback_numbers.join(" or ")));
    }
    if !f.domains.is_empty() {
        parts.push(format!("link to {}", f.domains.join(", ")));
    }
    if f.code.is_some() {
        parts.push("a one-time code".into());
    }
    if parts.is_empty() {
        if let Some(c) = n
            .record
            .category
            .as_deref()
            .or(n.record.template_id.as_deref())
        {
            parts.push(c.replace('_', " "));
        }
    }
    parts.join(", ")
}

/// The notifications in the window, the claimed channel first, then closest to the claimed time.
fn nearest<'a>(
    claim: &Claim,
    evals: &'a [(&'a StoredNotification, Eval)],
    now: Millis,
) -> Vec<&'a (&'a StoredNotification, Eval)> {
    let at = claim.received_at.unwrap_or(now);
    let mut near: Vec<&(&StoredNotification, Eval)> = evals.iter().collect();
    near.sort_by_key(|(n, _)| {
        (
            claim.channel.is_some_and(|c| c != n.record.channel),
            (n.record.sent_at - at).abs(),
        )
    });
    near
}

/// "text message at 2026-06-03T14:05:00Z: $212.02 at COSTCO WHSE #0412".
fn describe_sent(n: &StoredNotification) -> String {
    let what = summary(n);
    format!(
        "{} at {}{}{what}",
        n.record.channel.spoken(),
        format_time(n.record.sent_at),
        if what.is_empty() { "" } else { ": " },
    )
}

/// Evidence naming what we did send around the claimed time (at most three), so the agent can
/// tell a confused genuine customer from an attacker.
fn sent_nearby(near: &[&(&StoredNotification, Eval)]) -> Vec<Evidence> {
    near.iter()
        .take(3)
        .map(|(n, e)| {
            let bad = e.mismatched();
            let differs = if bad.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} differ{})",
                    bad.join(", ").replace('_', " "),
                    if bad.len() == 1 { "s" } else { "" }
                )
            };
            ev(
                "sent_nearby",
                CueResult::Mismatch,
                None,
                Some(format!("{}/{}", n.record.source, n.record.id)),
                format!(
                    "we sent a {} — not what the caller describes{differs}",
                    describe_sent(n)
                ),
            )
        })
        .collect()
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
    let answer = |verdict: Verdict,
                  reason: Option<&'static str>,
                  confidence: f64,
                  finding: String,
                  action: Action,
                  matched: Option<NotificationView>,
                  evidence: Vec<Evidence>| Verification {
        verdict,
        reason,
        confidence: round2(confidence),
        matched,
        evidence,
        guidance: compose(&finding, action),
        action,
        finding,
        ledger_fresh_until: fresh_until.clone(),
        window: window_view(window),
        campaign_id: None,
    };
    const NEUTRAL: &str = "Treat the message as neither proof nor a red flag.";
    let cannot = |reason: &'static str, why: String| {
        answer(
            Verdict::CannotConfirm,
            Some(reason),
            0.0,
            format!("{why} {NEUTRAL}"),
            Action::Proceed,
            None,
            Vec::new(),
        )
    };

    if let Some(t) = claim.received_at {
        if t > now + cfg.reaction_floor_ms.max(60_000) {
            return cannot(
                "claim_time_in_future",
                "The time given is in the future; check the date and time zone with the caller."
                    .into(),
            );
        }
        if t + cfg.time_tolerance_ms < ctx.retention_start {
            return cannot(
                "outside_retention",
                "That is older than the notification record we keep.".into(),
            );
        }
    }
    if !ctx.customer_known {
        return cannot(
            "unknown_customer",
            "We hold no notification record for this customer.".into(),
        );
    }

    let key = ctx.body_hmac_key;
    let evals: Vec<(&StoredNotification, Eval)> = ctx
        .candidates
        .iter()
        .filter(|c| c.record.sent_at >= window.from && c.record.sent_at <= window.to)
        .map(|c| (c, evaluate(claim, c, cfg, key)))
        .collect();
    let best = evals
        .iter()
        .filter(|(_, e)| e.describes())
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
                "Part of that time is older than the notification record we keep.".into(),
            ));
        }
        if fresh.sources == 0 {
            return Some(cannot(
                "no_feed_for_channel",
                format!(
                    "No notification feed for {} is connected, so we cannot tell whether we sent it.",
                    claim
                        .channel
                        .map_or("any channel".to_string(), |c| format!("{c} messages"))
                ),
            ));
        }
        if fresh.complete_since.is_none_or(|cs| cs > window.from) {
            return Some(cannot(
                "before_feed_start",
                "Our notification record does not reach back to that time.".into(),
            ));
        }
        let needed = window.to.min(now - cfg.reaction_floor_ms);
        if fresh.fresh_until.is_none_or(|w| w < needed) {
            return Some(cannot(
                "ledger_stale",
                format!(
                    "Our notification record is behind (feed `{}` is delayed), so a recent message may be missing.",
                    fresh.laggard.as_deref().unwrap_or("?")
                ),
            ));
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
            return answer(
                Verdict::Confirmed,
                None,
                confidence,
                format!(
                    "We did send this {what} ({when}). The notification is genuine, but knowing about it does not prove who is calling."
                ),
                Action::Proceed,
                Some(view),
                e.evidence.clone(),
            );
        }
        // The caller names another channel than the one we used: only a complete record for the
        // claimed channel can say no such message exists there.
        if !e.channel_ok && !e.lookalike && !e.failed {
            if let Some(v) = incomplete() {
                return v;
            }
        }
        let (reason, finding) = if e.failed {
            ("delivery_failed", format!("We tried to send {a_what} ({when}) but it was never delivered, yet the caller knows of it."))
        } else if e.lookalike {
            ("sender_lookalike", format!("We sent {a_what} ({when}), but the sender the caller saw imitates ours: the message they describe may be a spoof."))
        } else if !e.channel_ok {
            (
                "channel_mismatch",
                format!("We sent this as {a_what} ({when}), not the way the caller describes."),
            )
        } else {
            let bad = e.mismatched().join(", ").replace('_', " ");
            ("cue_mismatch", format!("We sent {a_what} around then ({when}), but the caller's {bad} does not match what we sent."))
        };
        let action = if e.strong() {
            Action::Callback
        } else {
            Action::StepUp
        };
        let confidence = 0.6 + 0.3 * (e.negative / 3.0).min(1.0);
        return answer(
            Verdict::Partial,
            Some(reason),
            confidence,
            finding,
            action,
            Some(view),
            e.evidence.clone(),
        );
    }

    // Nothing we sent fits. Say `not_sent` only if the record is provably complete.
    if let Some(v) = incomplete() {
        return v;
    }
    let kind = claim
        .channel
        .map_or("notification".to_string(), |c| c.spoken().to_string());
    let mut evidence = vec![ev(
        "ledger",
        CueResult::Absent,
        None,
        None,
        format!(
            "no {kind} matching what the caller describes to this customer between {} and {}; {} other notification(s) in that time",
            format_time(window.from),
            format_time(window.to),
            evals.len()
        ),
    )];
    let near = nearest(claim, &evals, now);
    let also = match near.first() {
        Some((n, _)) if near.len() == 1 => format!(
            " We sent one other notification around then, a {}, which is not what the caller describes.",
            describe_sent(n)
        ),
        Some((n, _)) => format!(
            " We sent {} other notifications around then (the closest a {}), none of them what the caller describes.",
            near.len(),
            describe_sent(n)
        ),
        None => String::new(),
    };
    evidence.extend(sent_nearby(&near));
    let confidence = 0.9 + 0.02 * claim.cue_count().min(4) as f64;
    answer(
        Verdict::NotSent,
        None,
        confidence,
        format!("We did not send this: nothing we sent matches what the caller describes.{also}"),
        Action::Callback,
        None,
        evidence,
    )
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
    v.finding = format!(
        "This is a known scam: it matches smishing campaign {campaign_id}, which customers have reported. That message did not come from us."
    );
    v.set_action(v.action.max(Action::Callback));
}
