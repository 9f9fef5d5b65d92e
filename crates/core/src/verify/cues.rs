//! The claim compared with one notification, one small function per cue (each returns its
//! evidence; the caller adds its weight), whether the notification is the message the caller
//! describes, and the words that name what we did send.

use super::*;

/// Cue weights: how much a matching cue says "this is the one we sent".
pub(super) mod weight {
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
pub(super) const CONTENT_CUES: [&str; 7] = [
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
pub(super) const CONTACT_CUES: [&str; 3] = ["callback_number", "url", "code"];

/// How one candidate notification compares with the claim.
pub(super) struct Eval {
    pub(super) evidence: Vec<Evidence>,
    pub(super) positive: f64,
    pub(super) negative: f64,
    /// A cue other than channel/time fits (used when the claim has no comparable content cue).
    pub(super) related: bool,
    /// Some content cue could be compared with this notification.
    pub(super) content_compared: bool,
    /// A content cue (other than a loosely similar quote) matches or is close.
    pub(super) content_hit: bool,
    /// The quote is loosely similar (shared template words), not a match.
    pub(super) text_close: bool,
    /// A content cue other than the quote contradicts this notification.
    pub(super) content_mismatch: bool,
    pub(super) channel_ok: bool,
    /// The caller gave only a quote, and this notification's text is not kept (`facts_only`):
    /// nothing in the claim could be compared with it.
    pub(super) unchecked_quote: bool,
    pub(super) lookalike: bool,
    pub(super) failed: bool,
}

impl Eval {
    pub(super) fn new() -> Self {
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
            unchecked_quote: false,
            lookalike: false,
            failed: false,
        }
    }

    pub(super) fn add(&mut self, evd: Evidence, w: f64) {
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
    pub(super) fn describes(&self) -> bool {
        if self.content_compared {
            self.content_hit || (self.text_close && !self.content_mismatch)
        } else {
            // A quote that could not be compared does not make this the message either.
            self.related && !self.unchecked_quote
        }
    }

    /// Contradicted cues, by name.
    pub(super) fn mismatched(&self) -> Vec<&'static str> {
        self.evidence
            .iter()
            .filter(|x| x.result == CueResult::Mismatch)
            .map(|x| x.cue)
            .collect()
    }

    /// A contradiction that means "end the call": a number, link or code that is not ours, a
    /// lookalike sender, or a failed delivery the caller nonetheless knows of.
    pub(super) fn strong(&self) -> bool {
        self.lookalike
            || self.failed
            || self
                .evidence
                .iter()
                .any(|x| x.result == CueResult::Mismatch && CONTACT_CUES.contains(&x.cue))
    }
}

pub(super) fn ev(
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

pub(super) fn fmt_minutes(ms: Millis) -> String {
    let m = ms.abs() / 60_000;
    if m < 60 {
        format!("{m} min")
    } else {
        format!("{} h {} min", m / 60, m % 60)
    }
}

pub(super) fn cue_channel(claimed: Channel, ours: Channel) -> Evidence {
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
pub(super) fn cue_time(claimed: Millis, sent_at: Millis, tolerance_ms: Millis) -> (Evidence, f64) {
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

/// The sender cue, and whether the sender the caller saw imitates ours.
pub(super) fn cue_sender(seen: &str, ours: Option<&str>) -> (Evidence, bool) {
    let claimed = Some(seen.to_string());
    let Some(ours) = ours else {
        let evd = ev(
            "sender",
            CueResult::Absent,
            claimed,
            None,
            "we did not record the sender".into(),
        );
        return (evd, false);
    };
    let recorded = Some(ours.to_string());
    match sender_relation(seen, ours) {
        SenderRelation::Same => (
            ev("sender", CueResult::Match, claimed, recorded, "our sender".into()),
            false,
        ),
        SenderRelation::Lookalike { distance } => (
            ev(
                "sender",
                CueResult::Mismatch,
                claimed,
                recorded,
                format!(
                    "{seen} imitates our sender {ours} (edit distance {distance}): evidence of a spoofed text"
                ),
            ),
            true,
        ),
        SenderRelation::Different => (
            ev(
                "sender",
                CueResult::Mismatch,
                claimed,
                recorded,
                format!("we sent it from {ours}, not {seen}"),
            ),
            false,
        ),
    }
}

pub(super) fn cue_amount(claimed: &Money, ours: Option<&Money>) -> Evidence {
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

/// `names`: the claimed merchant's names ([`crate::text::merchant_names`]), worked out once
/// per claim.
pub(super) fn cue_merchant(claimed: &str, names: &[String], ours: Option<&str>) -> Evidence {
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
    let sim = merchant_similarity_to(names, ours);
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

pub(super) fn cue_card(claimed: &str, ours: Option<&str>) -> Evidence {
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

pub(super) fn cue_callback(claimed: &str, ours: &[String]) -> Evidence {
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

pub(super) fn cue_url(claimed: &str, ours: &[String]) -> Evidence {
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

pub(super) fn cue_code(claimed: &str, ours: Option<&str>) -> Evidence {
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
pub(super) fn cue_text(
    quote: &str,
    body: Option<&str>,
    mac: Option<&[u8; 16]>,
    key: &[u8],
) -> Evidence {
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
/// `merchant_names`: the claimed merchant's names, worked out once per claim.
pub(super) fn evaluate(
    claim: &Claim,
    merchant_names: &[String],
    cand: &StoredNotification,
    cfg: &VerifyConfig,
    key: &[u8],
) -> Eval {
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
        let (evd, lookalike) = cue_sender(seen, r.sender.as_deref());
        e.lookalike = lookalike;
        e.add(evd, weight::SENDER);
    }
    if let Some(a) = &claim.amount {
        e.add(cue_amount(a, f.amount.as_ref()), weight::AMOUNT);
    }
    if let Some(m) = &claim.merchant {
        e.add(
            cue_merchant(m, merchant_names, f.merchant.as_deref()),
            weight::MERCHANT,
        );
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
    e.unchecked_quote = claim.text.is_some() && !e.content_compared;
    e
}

/// What a notification said, in the words an agent can check with the caller (never the code).
pub(super) fn summary(n: &StoredNotification) -> String {
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
pub(super) fn nearest<'a>(
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
pub(super) fn describe_sent(n: &StoredNotification) -> String {
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
pub(super) fn sent_nearby(near: &[&(&StoredNotification, Eval)]) -> Vec<Evidence> {
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
