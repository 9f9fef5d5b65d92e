//! The call service: a call started and scored, claims cited in it verified and the call
//! re-scored, the agent's outcome recorded, the call's document kept — shared by the calls API,
//! the platform adapters and the console — and the in-memory windows (recent calls, forged-text
//! claims) the velocity and surge signals read. Nothing here knows of HTTP requests.

use std::sync::Arc;

use axum::http::StatusCode;
use countersign_core::alerts::{money_text, AlertRule, PatternVars};
use countersign_core::call::{validate_call, CallIn};
use countersign_core::profile::Contacts;
use countersign_core::recent::ClaimRate;
use countersign_core::score::{
    caller_id_withheld, international_caller, non_fixed_voip, parse_attestation, score,
    AccountEventKind, CallFacts, CitedClaim, Policy, Score, StirFacts, Surge,
};
use countersign_core::validate::{format_time, parse_time};
use countersign_core::verify::{validate_claim, ClaimIn, Verdict, Verification};
use countersign_core::Millis;
use countersign_store::{CallContext, CallRecord, ScoringQuery};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::api_types::{CallDoc, ClaimEntry, OutcomeIn, ScoreEntry};
use crate::problem::Problem;
use crate::services::campaigns::brand_names;
use crate::verification::verify_claim;
use crate::SharedState;

const HOUR: Millis = 3_600_000;
const DAY: Millis = 24 * HOUR;
/// How far back the velocity signals look.
pub const RECENT_WINDOW_MS: Millis = 7 * 24 * HOUR;

/// Rebuild the recent-calls window from the store (at start).
pub async fn load_recent_calls(st: &SharedState) -> Result<(), Problem> {
    if st.store.shared() {
        // Nodes sharing a store read velocity and the surge from it, not from memory.
        return Ok(());
    }
    let now = st.now();
    let calls = st.store.call_keys_since(now - RECENT_WINDOW_MS).await?;
    if let Ok(mut r) = st.recent_calls.lock() {
        for c in &calls {
            r.add(&c.call_id, &c.ani, c.customer_id.as_deref(), c.started_at);
        }
        tracing::info!(
            calls = r.len(),
            "recent calls loaded for the velocity signals"
        );
    }
    for verdict in FORGED_TEXT {
        let times = st
            .store
            .claim_verdict_times(verdict.as_str(), now - ClaimRate::WINDOW_MS)
            .await?;
        if let Ok(mut r) = st.claim_rate.lock() {
            for at in times {
                r.record(at);
            }
        }
    }
    Ok(())
}

/// Verdicts that mean the caller cites a text we never sent: they make the surge, and the real
/// customer is told.
const FORGED_TEXT: [Verdict; 2] = [Verdict::NotSent, Verdict::KnownScam];

/// The `not_sent` surge now, across all customers — from this node's memory, or from the
/// shared store's verdicts when several nodes share it; its start and end are logged once each.
pub async fn surge(st: &SharedState, now: Millis) -> Result<Surge, Problem> {
    let s = if st.store.shared() {
        let verdicts = FORGED_TEXT.map(|v| v.as_str());
        let counts = st
            .store
            .claim_counts(&verdicts, now - ClaimRate::WINDOW_MS, now - HOUR, now)
            .await?;
        stored_surge(st, counts)
    } else {
        let p = policy(st);
        st.claim_rate
            .lock()
            .map(|mut r| r.surge(now, &p.thresholds))
            .unwrap_or_else(|_| Surge::new(0, 0, &p.thresholds))
    };
    Ok(announce(st, s))
}

/// The surge from a shared store's two counts (last hour, the week before it).
fn stored_surge(st: &SharedState, (last_hour, before): (u64, u64)) -> Surge {
    Surge::new(
        u32::try_from(last_hour).unwrap_or(u32::MAX),
        u32::try_from(before).unwrap_or(u32::MAX),
        &policy(st).thresholds,
    )
}

/// Log the surge's start and end, once each.
fn announce(st: &SharedState, s: Surge) -> Surge {
    let was = st
        .surge_alerting
        .swap(s.active, std::sync::atomic::Ordering::Relaxed);
    if s.active && !was {
        tracing::warn!(
            last_hour = s.last_hour,
            usual_per_hour = s.usual_per_hour,
            ratio = s.ratio,
            "ALERT not_sent_surge: forged-text claims well above their usual rate"
        );
    } else if was && !s.active {
        tracing::info!(ratio = s.ratio, "not_sent_surge over");
    }
    s
}

/// Read and check a policy file (TOML; unknown keys rejected).
pub fn load_policy(path: &std::path::Path) -> anyhow::Result<Policy> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("policy file {}: {e}", path.display()))?;
    Policy::parse(&text).map_err(|e| anyhow::anyhow!("policy file {}: {e}", path.display()))
}

pub fn policy(st: &SharedState) -> Arc<Policy> {
    st.policy
        .read()
        .map(|p| p.clone())
        .unwrap_or_else(|p| p.into_inner().clone())
}

/// The answer when a call starts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallScore {
    pub call_id: String,
    #[serde(flatten)]
    pub score: Score,
}

/// The answer to a claim cited during a call.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClaimAnswer {
    pub verification: Verification,
    pub score: Score,
}

fn recent_count(
    st: &SharedState,
    f: impl Fn(&countersign_core::recent::RecentCalls) -> u32,
) -> u32 {
    st.recent_calls.lock().map(|r| f(&r)).unwrap_or(0)
}

/// What the velocity and surge signals read about a call: distinct customers its number called
/// about (24 h, 7 d), distinct numbers that called about its customer (24 h), and the surge —
/// from this node's memory (which already holds the call), or, when several nodes share the
/// store, from the stored calls and verdicts plus the call's own parties ([`shared_reads`]):
/// the same answer on every node.
struct Windows {
    ani_customers_24h: u32,
    ani_customers_7d: u32,
    customer_anis_24h: u32,
    surge: Surge,
}

/// The windows from this node's memory (the embedded store).
async fn windows(st: &SharedState, doc: &CallDoc, now: Millis) -> Result<Windows, Problem> {
    // Withheld callers share no line: "anonymous" calling many customers is many people, not
    // one number's velocity.
    let withheld = caller_id_withheld(&doc.ani);
    let by_ani = |since| {
        if withheld {
            0
        } else {
            recent_count(st, |r| r.ani_customers(&doc.ani, since))
        }
    };
    Ok(Windows {
        ani_customers_24h: by_ani(now - DAY),
        ani_customers_7d: by_ani(now - 7 * DAY),
        customer_anis_24h: doc
            .customer_id
            .as_deref()
            .map_or(0, |c| recent_count(st, |r| r.customer_anis(c, now - DAY))),
        surge: surge(st, now).await?,
    })
}

/// Everything a call is scored with when several nodes share the store: its context, its
/// velocity and the surge, read from the store at once (one statement on PostgreSQL); the
/// store's velocity leaves the call itself out (by its id), so its own parties are added here.
async fn shared_reads(
    st: &SharedState,
    doc: &CallDoc,
    now: Millis,
) -> Result<(CallContext, Windows), Problem> {
    let (numbers, events_since) = context_windows(st, now);
    let verdicts = FORGED_TEXT.map(|v| v.as_str());
    let customer = doc.customer_id.as_deref();
    let q = ScoringQuery {
        call_id: &doc.call_id,
        customer_id: customer,
        ani: &doc.ani,
        numbers,
        events_since,
        since_24h: now - DAY,
        since_7d: now - 7 * DAY,
        verdicts: &verdicts,
        surge_since: now - ClaimRate::WINDOW_MS,
        hour_ago: now - HOUR,
        now,
    };
    let r = st.store.scoring_reads(&q).await.map_err(Problem::store)?;
    let withheld = caller_id_withheld(&doc.ani);
    let own = u32::from(customer.is_some());
    let by_ani = |n: u32| if withheld { 0 } else { n + own };
    let windows = Windows {
        ani_customers_24h: by_ani(r.velocity.ani_customers_24h),
        ani_customers_7d: by_ani(r.velocity.ani_customers_7d),
        customer_anis_24h: r.velocity.customer_anis_24h + own,
        surge: announce(st, stored_surge(st, r.surge)),
    };
    Ok((r.context, windows))
}

/// The context's windows under the policy: the SMS recipients' (from, to) and where the
/// account events start.
fn context_windows(st: &SharedState, now: Millis) -> ((Millis, Millis), Millis) {
    let w = policy(st).windows.clone();
    (
        (
            now - Millis::from(w.learned_number_days) * DAY,
            now + st.validation.future_skew_ms,
        ),
        now - Millis::from(w.account_event_days) * DAY,
    )
}

/// Read what scoring the call needs from the store, in one round trip.
async fn context(
    st: &SharedState,
    call_id: &str,
    customer_id: Option<&str>,
    now: Millis,
) -> Result<CallContext, Problem> {
    let (numbers, events_since) = context_windows(st, now);
    st.store
        .call_context(call_id, customer_id, numbers, events_since)
        .await
        .map_err(Problem::store)
}

/// Score a call from its document, what the store holds about it and the windows.
fn score_call(st: &SharedState, doc: &CallDoc, ctx: CallContext, w: Windows, now: Millis) -> Score {
    let p = policy(st);
    // Our own verification of the PASSporT, when it checked something, replaces the platform's.
    let stir = doc.stir.as_ref().and_then(StirFacts::from_result);
    let mut facts = CallFacts {
        attestation: Some(match &stir {
            Some(s) => s.attestation(),
            None => parse_attestation(doc.verstat.as_deref(), doc.attestation.as_deref()),
        }),
        intent: doc.intent.clone(),
        stir,
        ..Default::default()
    };
    facts.withheld = caller_id_withheld(&doc.ani);
    facts.ani_customers_24h = w.ani_customers_24h;
    facts.ani_customers_7d = w.ani_customers_7d;
    facts.customer_anis_24h = w.customer_anis_24h;
    facts.non_fixed_voip = doc.line_type.as_deref().is_some_and(non_fixed_voip);
    if doc.customer_id.is_some() {
        let known = Contacts::new(ctx.profile.as_deref(), ctx.sms_recipients);
        let numbers: Vec<&str> = known.numbers().map(String::as_str).collect();
        // A withheld number is neither on file nor off it: it has its own signal.
        if !numbers.is_empty() && !facts.withheld {
            facts.ani_on_file = Some(numbers.contains(&doc.ani.as_str()));
            facts.international = st
                .home_calling_code
                .is_some_and(|home| international_caller(&doc.ani, numbers.iter().copied(), home));
        }
        facts.reported_smish = ctx.smish_reports;
        for (kind, at) in ctx.account_events {
            if let Ok(k) = serde_json::from_value::<AccountEventKind>(Value::String(kind)) {
                facts.events.push((k, at));
            }
        }
    }
    facts.not_sent_surge = w.surge.ratio;
    facts.surge_active = w.surge.active;
    if let Some(last) = doc.claims.last() {
        facts.claim = Some(CitedClaim {
            verdict: last.verdict,
            seconds_into_call: last.seconds_into_call,
            action: last.action.unwrap_or_else(|| last.verdict.least_action()),
        });
    }
    score(&facts, &p, now)
}

/// Store the call's document; `wait` for durability (outcomes), or queue it (scores).
/// Each save bumps the revision and tells the call's open screens.
async fn save(st: &SharedState, doc: &mut CallDoc, wait: bool) -> Result<(), Problem> {
    doc.revision += 1;
    let json = crate::problem::to_json(doc)?;
    st.store.update_call(&doc.call_id, json, wait).await?;
    st.call_updates.notify(&doc.call_id, doc.revision);
    Ok(())
}

/// Who is watching which call: one broadcast channel per call with an open screen, carrying
/// the call's revision after each change.
#[derive(Default)]
pub struct CallUpdates {
    watched:
        std::sync::Mutex<std::collections::HashMap<String, tokio::sync::broadcast::Sender<u64>>>,
}

impl CallUpdates {
    /// Tell the call's watchers (if any) that it is now at `revision`.
    pub fn notify(&self, call_id: &str, revision: u64) {
        let mut w = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = w.get(call_id) {
            if tx.send(revision).is_err() {
                // Nobody listens any more.
                w.remove(call_id);
            }
        }
    }

    /// Watch a call's revisions.
    pub fn subscribe(&self, call_id: &str) -> tokio::sync::broadcast::Receiver<u64> {
        let mut w = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        w.retain(|_, tx| tx.receiver_count() > 0);
        w.entry(call_id.to_string())
            .or_insert_with(|| tokio::sync::broadcast::channel(16).0)
            .subscribe()
    }
}

fn push_score(doc: &mut CallDoc, s: &Score, trigger: &str, now: Millis) {
    doc.scores.push(ScoreEntry {
        at: format_time(now),
        trigger: trigger.into(),
        score: s.clone(),
    });
}

/// Validate, record and score a new call (shared with the platform adapters).
pub async fn start_call(st: &SharedState, c: CallIn) -> Result<CallScore, Problem> {
    let now = st.now();
    let v = validate_call(
        &c,
        now,
        &st.validation.extract,
        st.validation.limits.id_chars_max,
    )
    .map_err(Problem::invalid)?;
    let (call_id, customer_id, ani, started) = (
        v.call_id.clone(),
        v.customer_id.clone(),
        v.ani.clone(),
        v.started_at,
    );
    let mut doc = CallDoc {
        call_id: call_id.clone(),
        customer_id: customer_id.clone(),
        ani: ani.clone(),
        dnis: c.dnis,
        started_at: format_time(started),
        verstat: c.verstat,
        attestation: c.attestation,
        line_type: c.line_type,
        intent: v.intent,
        claims: Vec::new(),
        scores: Vec::new(),
        outcome: None,
        stir: None,
        revision: 1,
    };
    if let (Some(v), false) = (&st.stir, c.identity.is_empty()) {
        let called = doc.dnis.clone();
        doc.stir = Some(
            v.verify(
                &c.identity,
                &doc.ani,
                called.as_deref(),
                now.div_euclid(1000),
            )
            .await,
        );
    }
    let exists = || {
        Problem::new(
            StatusCode::CONFLICT,
            "call_exists",
            format!("call {call_id:?} was already started"),
        )
    };
    // This node's window of recent calls (on a shared store the stored calls are the window).
    let shared = st.store.shared();
    let in_window = !shared
        && st
            .recent_calls
            .lock()
            .map(|r| r.contains(&call_id))
            .unwrap_or(false);
    if in_window {
        return Err(exists());
    }
    let (ctx, w) = if shared {
        // On a shared store nothing below reads this node's memory: the context, the surge and
        // the velocity are read at once (the call is counted in its own velocity).
        let (ctx, w) = shared_reads(st, &doc, now).await?;
        if ctx.call_exists {
            return Err(exists());
        }
        (ctx, w)
    } else {
        let ctx = context(st, &call_id, customer_id.as_deref(), now).await?;
        if ctx.call_exists {
            return Err(exists());
        }
        // The call joins this node's window before its velocity is counted.
        let added = st
            .recent_calls
            .lock()
            .map(|mut r| {
                r.prune(now);
                r.add(&call_id, &doc.ani, doc.customer_id.as_deref(), started)
            })
            .unwrap_or(true);
        if !added {
            return Err(exists());
        }
        (ctx, windows(st, &doc, now).await?)
    };
    let s = score_call(st, &doc, ctx, w, now);
    push_score(&mut doc, &s, "call_started", now);
    let json = crate::problem::to_json(&doc)?;
    // Queued, not awaited: the score must not wait for an fsync; the record is committed with
    // the writer's next group commit, milliseconds later.
    let stored = st
        .store
        .put_call(
            CallRecord {
                call_id: call_id.clone(),
                customer_id,
                ani,
                started_at: started,
                doc: json,
            },
            false,
        )
        .await?;
    if !stored {
        // Another node started the same call between the check and this write.
        return Err(exists());
    }
    Ok(CallScore { call_id, score: s })
}

pub async fn load_call(st: &SharedState, call_id: &str) -> Result<CallDoc, Problem> {
    // Read your writes: the call's latest record may still be queued with the group commit.
    st.store.flush().await?;
    let rec = st.store.get_call(call_id).await?.ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "unknown_call",
            format!("no call {call_id:?}"),
        )
    })?;
    serde_json::from_str(&rec.doc).map_err(Problem::internal)
}

/// A claim the caller cites during a call, by `who`: verified (audit-logged), counted for the
/// surge, the customer alerted when it is a forged text, the call re-scored and saved; the
/// verification's instruction is the call's (one instruction).
pub async fn add_claim(
    st: &SharedState,
    call_id: &str,
    mut raw: ClaimIn,
    who: &str,
) -> Result<ClaimAnswer, Problem> {
    let call_id = call_id.to_string();
    let mut doc = load_call(st, &call_id).await?;
    if raw.customer_id.is_none() {
        raw.customer_id = doc.customer_id.clone();
    }
    let claim = validate_claim(
        &raw,
        &st.validation.extract,
        st.validation.limits.id_chars_max,
    )
    .map_err(Problem::invalid)?;
    let mut v = verify_claim(st, &claim, who).await?;
    let now = st.now();
    let started = parse_time("started_at", &doc.started_at).unwrap_or(now);
    st.store
        .add_claim_verdict(&call_id, v.verdict.as_str(), now)
        .await?;
    if FORGED_TEXT.contains(&v.verdict) {
        // A forged-text claim: part of the surge (the stored verdict is the surge's record on
        // a shared store), and the real customer is told out of band.
        if !st.store.shared() {
            if let Ok(mut r) = st.claim_rate.lock() {
                r.record(now);
            }
        }
        if let Some(c) = &doc.customer_id {
            let vars = PatternVars {
                brand: brand_names(st).first().cloned(),
                amount: claim.amount.as_ref().map(money_text),
                // As the caller said it (the claim keeps a normalised form for matching).
                merchant: raw.mentions.merchant.clone(),
                callback_number: claim.callback_number.clone(),
            };
            crate::alerts::raise(
                st,
                c,
                AlertRule::CallAboutYou,
                &format!("call:{call_id}"),
                vars,
                v.campaign_id,
                Some(call_id.clone()),
            )
            .await?;
        }
    }
    doc.claims.push(ClaimEntry {
        at: format_time(now),
        seconds_into_call: (now - started) / 1000,
        verdict: v.verdict,
        reason: v.reason.map(str::to_string),
        action: Some(v.action),
        finding: Some(v.finding.clone()),
        evidence: v
            .evidence
            .iter()
            .take(3)
            .map(|e| e.detail.clone())
            .collect(),
        ledger_fresh_until: v.ledger_fresh_until.clone(),
        campaign_id: v.campaign_id,
        cited: cited_words(&raw),
    });
    let (ctx, w) = if st.store.shared() {
        shared_reads(st, &doc, now).await?
    } else {
        // Independent reads, asked at once (the call is already in this node's window).
        tokio::try_join!(
            context(st, &call_id, doc.customer_id.as_deref(), now),
            windows(st, &doc, now)
        )?
    };
    let s = score_call(st, &doc, ctx, w, now);
    push_score(&mut doc, &s, "claim", now);
    save(st, &mut doc, false).await?;
    // One instruction: the call's action (never less than the claim's) is the guidance's.
    v.set_action(s.action);
    Ok(ClaimAnswer {
        verification: v,
        score: s,
    })
}

/// What the caller cited, in a line: the cues as the agent entered them.
fn cited_words(raw: &ClaimIn) -> Option<String> {
    let m = &raw.mentions;
    let mut parts: Vec<String> = Vec::new();
    if let Some(c) = &raw.channel {
        parts.push(c.clone());
    }
    if let Some(a) = &m.amount {
        parts.push(format!(
            "amount {}",
            a.as_str().map_or_else(|| a.to_string(), str::to_string)
        ));
    }
    if let Some(s) = &raw.sender_seen {
        parts.push(format!("from {s}"));
    }
    for (label, v) in [
        ("merchant", &m.merchant),
        ("card", &m.card_last4),
        ("number", &m.callback_number),
        ("link", &m.url),
        ("code", &m.code),
    ] {
        if let Some(v) = v {
            parts.push(format!("{label} {v}"));
        }
    }
    if let Some(q) = &m.text {
        parts.push(format!("“{q}”"));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// The agent's outcome for a call (a label), durable; a fraud outcome tells the customer.
pub async fn record_outcome(
    st: &SharedState,
    call_id: &str,
    o: OutcomeIn,
) -> Result<CallDoc, Problem> {
    let call_id = call_id.to_string();
    if !matches!(o.outcome.as_str(), "fraud" | "legitimate" | "unsure") {
        return Err(Problem::unprocessable(
            "invalid_outcome",
            "`outcome` is fraud, legitimate or unsure",
        ));
    }
    let mut doc = load_call(st, &call_id).await?;
    let fraud = o.outcome == "fraud";
    doc.outcome = Some(o);
    save(st, &mut doc, true).await?;
    if let (true, Some(c)) = (fraud, &doc.customer_id) {
        let vars = PatternVars {
            brand: brand_names(st).first().cloned(),
            ..Default::default()
        };
        crate::alerts::raise(
            st,
            c,
            AlertRule::CallAboutYou,
            &format!("call:{call_id}"),
            vars,
            None,
            Some(call_id.clone()),
        )
        .await?;
    }
    Ok(doc)
}
