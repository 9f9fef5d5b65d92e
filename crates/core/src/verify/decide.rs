//! Deciding a claim, step by step: can it be checked at all; which of our notifications is the
//! message the caller describes; confirmed or partial when one is; and, when none is, `not_sent`
//! only on a record provably complete for the claim's window — else `cannot_confirm`.

use super::*;

/// What a step found, before the window and the ledger's freshness are attached.
pub(super) struct Found {
    verdict: Verdict,
    reason: Option<&'static str>,
    confidence: f64,
    finding: String,
    action: Action,
    matched: Option<NotificationView>,
    evidence: Vec<Evidence>,
}

impl Found {
    fn into_verification(self, fresh_until: Option<String>, window: Window) -> Verification {
        Verification {
            verdict: self.verdict,
            reason: self.reason,
            confidence: round2(self.confidence),
            matched: self.matched,
            evidence: self.evidence,
            guidance: compose(&self.finding, self.action),
            action: self.action,
            finding: self.finding,
            ledger_fresh_until: fresh_until,
            window: window_view(window),
            campaign_id: None,
        }
    }
}

/// `cannot_confirm` for `reason`: neutral, the standard checks.
fn cannot(reason: &'static str, why: &str) -> Found {
    Found {
        verdict: Verdict::CannotConfirm,
        reason: Some(reason),
        confidence: 0.0,
        finding: format!("{why} Treat the message as neither proof nor a red flag."),
        action: Action::Proceed,
        matched: None,
        evidence: Vec::new(),
    }
}

/// A claim nothing can be said about: a time in the future or before retention, or a customer
/// the ledger does not know.
fn unanswerable(
    claim: &Claim,
    now: Millis,
    cfg: &VerifyConfig,
    ctx: &LedgerContext<'_>,
) -> Option<Found> {
    if let Some(t) = claim.received_at {
        if t > now + cfg.reaction_floor_ms.max(60_000) {
            return Some(cannot(
                "claim_time_in_future",
                "The time given is in the future; check the date and time zone with the caller.",
            ));
        }
        if t + cfg.time_tolerance_ms < ctx.retention_start {
            return Some(cannot(
                "outside_retention",
                "That is older than the notification record we keep.",
            ));
        }
    }
    if !ctx.customer_known {
        return Some(cannot(
            "unknown_customer",
            "We hold no notification record for this customer.",
        ));
    }
    None
}

/// Why the record may be incomplete for the claimed channel over the window, if it may be: the
/// rule that keeps `not_sent` honest.
fn incomplete(
    claim: &Claim,
    window: Window,
    fresh: &Freshness,
    now: Millis,
    cfg: &VerifyConfig,
    ctx: &LedgerContext<'_>,
) -> Option<Found> {
    if window.from < ctx.retention_start {
        return Some(cannot(
            "outside_retention",
            "Part of that time is older than the notification record we keep.",
        ));
    }
    if fresh.sources == 0 {
        let what = claim
            .channel
            .map_or("any channel".to_string(), |c| format!("{c} messages"));
        return Some(cannot(
            "no_feed_for_channel",
            &format!(
                "No notification feed for {what} is connected, so we cannot tell whether we sent it."
            ),
        ));
    }
    if fresh.complete_since.is_none_or(|cs| cs > window.from) {
        return Some(cannot(
            "before_feed_start",
            "Our notification record does not reach back to that time.",
        ));
    }
    let needed = window.to.min(now - cfg.reaction_floor_ms);
    if fresh.fresh_until.is_none_or(|w| w < needed) {
        return Some(cannot(
            "ledger_stale",
            &format!(
                "Our notification record is behind (feed `{}` is delayed), so a recent message may be missing.",
                fresh.laggard.as_deref().unwrap_or("?")
            ),
        ));
    }
    None
}

/// The notification that best is the message described (most fitting cues, fewest
/// contradictions, then the latest).
fn best_match<'a>(
    evals: &'a [(&'a StoredNotification, Eval)],
) -> Option<&'a (&'a StoredNotification, Eval)> {
    let rank = |e: &Eval| e.positive - 1.5 * e.negative;
    evals
        .iter()
        .filter(|(_, e)| e.describes())
        .max_by(|(a, ea), (b, eb)| {
            rank(ea)
                .total_cmp(&rank(eb))
                .then(a.record.sent_at.cmp(&b.record.sent_at))
        })
}

/// One of ours is the message: `confirmed` with nothing against it, else `partial` with the
/// contradiction named — or, for another channel than ours, `cannot_confirm` unless the record
/// for the claimed channel is complete.
fn matched(
    cand: &StoredNotification,
    e: &Eval,
    incomplete: impl FnOnce() -> Option<Found>,
) -> Found {
    let view = NotificationView::from_stored(cand, false);
    let when = format_time(cand.record.sent_at);
    let what = cand.record.channel.spoken();
    let a_what = cand.record.channel.spoken_a();
    if e.negative == 0.0 && e.channel_ok {
        return Found {
            verdict: Verdict::Confirmed,
            reason: None,
            confidence: (1.0_f64 - 0.5 * (-e.positive / 1.5).exp()).min(0.99),
            finding: format!(
                "We did send this {what} ({when}). The notification is genuine, but knowing about it does not prove who is calling."
            ),
            action: Action::Proceed,
            matched: Some(view),
            evidence: e.evidence.clone(),
        };
    }
    if !e.channel_ok && !e.lookalike && !e.failed {
        if let Some(f) = incomplete() {
            return f;
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
    Found {
        verdict: Verdict::Partial,
        reason: Some(reason),
        confidence: 0.6 + 0.3 * (e.negative / 3.0).min(1.0),
        finding,
        action: if e.strong() {
            Action::Callback
        } else {
            Action::StepUp
        },
        matched: Some(view),
        evidence: e.evidence.clone(),
    }
}

/// We sent something on the claimed channel then whose text is not kept, and the caller gave
/// only a quote: we cannot say the quote is not ours.
fn unchecked_quote(evals: &[(&StoredNotification, Eval)]) -> Option<Found> {
    evals
        .iter()
        .any(|(_, e)| e.unchecked_quote && e.channel_ok)
        .then(|| {
            cannot(
                "text_not_retained",
                "We keep only the facts of our messages, not their text, so a quote can only be matched word for word: ask the caller for the amount, the merchant or the number the message gave.",
            )
        })
}

/// Nothing we sent is the message (and the record is complete): `not_sent`, naming what we did
/// send around then.
fn not_sent(
    claim: &Claim,
    evals: &[(&StoredNotification, Eval)],
    window: Window,
    now: Millis,
) -> Found {
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
    let near = nearest(claim, evals, now);
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
    Found {
        verdict: Verdict::NotSent,
        reason: None,
        confidence: 0.9 + 0.02 * claim.cue_count().min(4) as f64,
        finding: format!(
            "We did not send this: nothing we sent matches what the caller describes.{also}"
        ),
        action: Action::Callback,
        matched: None,
        evidence,
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
    let fresh = freshness(ctx.sources, claim.channel, Some(&claim.customer_id), cfg);
    let fresh_until = fresh
        .fresh_until
        .filter(|w| *w > Millis::MIN)
        .map(format_time);
    let found = unanswerable(claim, now, cfg, ctx).unwrap_or_else(|| {
        let names = claim
            .merchant
            .as_deref()
            .map(crate::text::merchant_names)
            .unwrap_or_default();
        let evals: Vec<(&StoredNotification, Eval)> = ctx
            .candidates
            .iter()
            .filter(|c| c.record.sent_at >= window.from && c.record.sent_at <= window.to)
            .map(|c| (c, evaluate(claim, &names, c, cfg, ctx.body_hmac_key)))
            .collect();
        let incomplete = || incomplete(claim, window, &fresh, now, cfg, ctx);
        match best_match(&evals) {
            Some((cand, e)) => matched(cand, e, incomplete),
            None => incomplete()
                .or_else(|| unchecked_quote(&evals))
                .unwrap_or_else(|| not_sent(claim, &evals, window, now)),
        }
    });
    found.into_verification(fresh_until, window)
}
