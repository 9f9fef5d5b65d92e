//! The campaign service: the clusterer and the 7726 flow's pending first messages, held in
//! memory and rebuilt at start by replaying the stored reports; report intake (cluster, store,
//! alert); the confirmed campaigns' blocked indicators for the SMS filter; a claim's matching
//! campaign for verification; and the spoofed-kind check on ingest with its background sweep.
//! Handlers call it; it knows nothing of HTTP requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use countersign_core::alerts::{money_text, AlertRule, PatternVars};
use countersign_core::campaign::{
    indicators, Assignment, Blocked, Campaign, CampaignStatus, Campaigns, ClusterConfig, Indicators,
};
use countersign_core::report::{names_sender, Report};
use countersign_core::validate::format_time;
use countersign_core::Millis;
use countersign_store::{CampaignEvent, SmishReportRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use axum::http::StatusCode;

use crate::api_types::ReportDoc;
use crate::problem::Problem;
use crate::SharedState;

/// A campaign spoofing a kind of notification, and what an alert about it may name.
type SpoofHit = (u64, PatternVars);

/// The clusterer and the 7726 flow's pending first messages.
pub struct SmishState {
    pub campaigns: Mutex<Campaigns>,
    next_id: Mutex<i64>,
    /// The last campaign event applied (a node sharing the store catches up from it).
    events_through: Mutex<i64>,
    /// Reporter number → (report id, received) of a 7726 report still waiting for its sender.
    pending: Mutex<HashMap<String, (i64, Millis)>>,
    /// Reporter number → (report id, sender, when) of a 7726 report just joined, so that the
    /// second message sent again is answered, not stored as a new report.
    joined: Mutex<HashMap<String, (i64, String, Millis)>>,
    /// Reports are taken one at a time (plan, store, apply).
    pub(crate) intake: tokio::sync::Mutex<()>,
    /// Reports the start-up replay assigned to another campaign than the stored one: while
    /// above zero, campaign decisions are refused (see [`decisions_available`]).
    pub replay_mismatches: std::sync::atomic::AtomicU64,
    /// Confirmed campaigns' numbers and domains, for the SMS filter.
    blocked: Mutex<std::sync::Arc<countersign_core::campaign::Blocked>>,
    /// See [`brand_names`].
    brand_names: Mutex<Arc<Vec<String>>>,
    /// Template (or category) → (checked at, the campaign spoofing it), for ingest.
    spoof_cache: Mutex<HashMap<String, (Millis, Option<SpoofHit>)>>,
    /// Customers to warn about a spoofed genuine notification, for the background task.
    spoof_tx: tokio::sync::mpsc::Sender<(String, u64, PatternVars)>,
    pub spoof_rx: Mutex<Option<tokio::sync::mpsc::Receiver<(String, u64, PatternVars)>>>,
}

impl SmishState {
    pub fn new(cfg: ClusterConfig) -> Self {
        let (spoof_tx, rx) = tokio::sync::mpsc::channel(10_000);
        SmishState {
            brand_names: Mutex::new(Arc::new(Vec::new())),
            spoof_cache: Mutex::new(HashMap::new()),
            spoof_tx,
            spoof_rx: Mutex::new(Some(rx)),
            campaigns: Mutex::new(Campaigns::new(cfg)),
            next_id: Mutex::new(1),
            events_through: Mutex::new(0),
            pending: Mutex::new(HashMap::new()),
            joined: Mutex::new(HashMap::new()),
            intake: tokio::sync::Mutex::new(()),
            replay_mismatches: std::sync::atomic::AtomicU64::new(0),
            blocked: Mutex::new(Default::default()),
        }
    }
}

/// What happened to a report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportAnswer {
    pub report_id: i64,
    /// The campaign it belongs to now (`campaign_id`), how it was found, what merged.
    #[serde(flatten)]
    pub assignment: Assignment,
    pub indicators: Indicators,
    /// This message was the 7726 flow's second step: the sender of an earlier report.
    pub joined: bool,
    /// A 7726 report still waiting for the reporter to name the sender.
    pub awaiting_sender: bool,
    /// This answer was given before: a retry (same `report_id`, or the 7726 flow's second
    /// message again); nothing was stored twice.
    #[serde(default)]
    pub replayed: bool,
}

/// Brand names for indicators and shapes (every report and every verified claim reads them).
pub fn brand_names(st: &SharedState) -> Arc<Vec<String>> {
    lock(&st.smish.brand_names).clone()
}

/// Recompute the brand names when the registry changes: the configured ones and the registry's
/// display names and aliases, longest first so "ACME Bank" is named before "ACME".
pub fn refresh_brand_names(st: &SharedState, reg: &countersign_core::sender::Registry) {
    let mut names = st.smish_settings.brand_names.clone();
    for b in reg.brands.values() {
        names.extend(b.spec.display_names.iter().cloned());
        names.extend(b.spec.aliases.iter().cloned());
    }
    names.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    names.dedup();
    *lock(&st.smish.brand_names) = Arc::new(names);
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Replay stored reports and campaign events (at start, and after an exercise purge) into a
/// fresh clusterer, which then replaces the one in memory.
pub async fn load(st: &SharedState) -> Result<(), Problem> {
    let now = st.now();
    let retired: std::collections::BTreeSet<u64> = st
        .store
        .retired_campaigns()
        .await?
        .into_iter()
        .map(|id| id as u64)
        .collect();
    let mut fresh = Campaigns::new(st.smish_settings.cluster());
    lock(&st.smish.pending).clear();
    let mut after = 0i64;
    let (mut n, mut moved) = (0u64, 0u64);
    loop {
        let rows = st.store.smish_reports_after(after, 10_000).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for row in &rows {
            if let Some(m) = replay_row(st, &mut fresh, row, &retired, now) {
                if moved < 5 {
                    tracing::error!(
                        report = row.id,
                        stored = row.campaign_id,
                        replayed = m,
                        "replay assigned a report to another campaign than the stored one"
                    );
                }
                moved += 1;
            }
            n += 1;
        }
    }
    fresh.skip_retired(&retired);
    {
        // Report ids are never given twice, even after an exercise purge removed the last ones.
        let mut next = lock(&st.smish.next_id);
        *next = (*next).max(after + 1);
    }
    let events = st.store.campaign_events_after(0).await?;
    let mut c = lock(&st.smish.campaigns);
    *c = fresh;
    for (_, e) in &events {
        apply_status(&mut c, e);
    }
    drop(c);
    *lock(&st.smish.events_through) = events.last().map_or(0, |(id, _)| *id);
    refresh_blocked(st);
    let c = lock(&st.smish.campaigns);
    if n > 0 {
        tracing::info!(
            reports = n,
            campaigns = c.list().len(),
            "smishing reports replayed"
        );
    }
    drop(c);
    st.smish
        .replay_mismatches
        .store(moved, std::sync::atomic::Ordering::Relaxed);
    st.metrics
        .campaign_replay_mismatches
        .store(moved, std::sync::atomic::Ordering::Relaxed);
    if moved > 0 {
        refresh_blocked(st);
        tracing::error!(
            reports = moved,
            "CAMPAIGN DECISIONS REFUSED: {}",
            inconsistent_detail(moved)
        );
    }
    Ok(())
}

/// Apply one stored report to a clusterer (the start-up replay, and a node catching up with the
/// reports other nodes took): the campaign it now falls in when that differs from the stored
/// one. A 7726 report still waiting for its sender is remembered.
fn replay_row(
    st: &SharedState,
    c: &mut Campaigns,
    row: &SmishReportRow,
    retired: &std::collections::BTreeSet<u64>,
    now: Millis,
) -> Option<u64> {
    let Ok(doc) = serde_json::from_str::<ReportDoc>(&row.doc) else {
        tracing::warn!(id = row.id, "unreadable smishing report skipped");
        return None;
    };
    c.skip_retired(retired);
    let a = c.assign(&doc.indicators, doc.customer_id.as_deref(), row.received_at);
    let window = st.smish_settings.join_window_secs as Millis * 1000;
    if doc.reported_via == "7726" && doc.sender.is_none() && row.received_at >= now - window {
        if let Some(r) = &doc.reporter_number {
            lock(&st.smish.pending).insert(r.clone(), (row.id, row.received_at));
        }
    }
    (a.campaign_id as i64 != row.campaign_id).then_some(a.campaign_id)
}

/// A `status` event's new status, applied.
fn apply_status(c: &mut Campaigns, e: &CampaignEvent) -> bool {
    if e.kind != "status" {
        return false;
    }
    let Some(s) = e
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .and_then(|v| serde_json::from_value::<CampaignStatus>(v["status"].clone()).ok())
    else {
        return false;
    };
    c.set_status(e.campaign_id as u64, s);
    true
}

/// On a store several nodes share: apply the reports and campaign events the others stored
/// since this node last looked (in id order, as the replay does), so every node's campaigns
/// are the same. A purge's retirement elsewhere rebuilds from the store.
pub async fn catch_up(st: &SharedState) -> Result<(), Problem> {
    let _one_at_a_time = st.smish.intake.lock().await;
    let now = st.now();
    loop {
        let after = *lock(&st.smish.next_id) - 1;
        let rows = st.store.smish_reports_after(after, 10_000).await?;
        let Some(last) = rows.last().map(|r| r.id) else {
            break;
        };
        let mut moved = 0;
        {
            let mut c = lock(&st.smish.campaigns);
            for row in &rows {
                moved += u64::from(replay_row(st, &mut c, row, &Default::default(), now).is_some());
            }
        }
        *lock(&st.smish.next_id) = last + 1;
        note_mismatches(st, moved);
    }
    let after = *lock(&st.smish.events_through);
    let events = st.store.campaign_events_after(after).await?;
    let Some((last, _)) = events.last() else {
        return Ok(());
    };
    *lock(&st.smish.events_through) = *last;
    if events.iter().any(|(_, e)| e.kind == "retired") {
        drop(_one_at_a_time);
        return load(st).await;
    }
    let changed = {
        let mut c = lock(&st.smish.campaigns);
        events
            .iter()
            .fold(false, |any, (_, e)| apply_status(&mut c, e) || any)
    };
    if changed {
        refresh_blocked(st);
    }
    Ok(())
}

/// Reports a catch-up clustered otherwise than stored turn campaign decisions off, as at start.
fn note_mismatches(st: &SharedState, moved: u64) {
    if moved == 0 {
        return;
    }
    let total = st
        .smish
        .replay_mismatches
        .fetch_add(moved, std::sync::atomic::Ordering::Relaxed)
        + moved;
    st.metrics
        .campaign_replay_mismatches
        .store(total, std::sync::atomic::Ordering::Relaxed);
    tracing::error!(
        reports = total,
        "CAMPAIGN DECISIONS REFUSED: {}",
        inconsistent_detail(total)
    );
}

fn inconsistent_detail(moved: u64) -> String {
    format!(
        "{moved} stored smishing reports were clustered into other campaigns on replay than when \
         they arrived, so analysts' statuses and campaign ids would now name other texts. Campaign \
         listings, status changes, the indicator export, report intake and campaign-based SMS \
         blocking and claim evidence are off until the [smish] clustering settings \
         (shape_similarity) are restored to those the reports were clustered with and the server \
         restarted"
    )
}

/// Campaign decisions are served only while the replay agreed with the stored campaign ids;
/// otherwise `503 campaign_state_inconsistent`.
pub fn decisions_available(st: &SharedState) -> Result<(), Problem> {
    match st
        .smish
        .replay_mismatches
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        0 => Ok(()),
        moved => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "campaign_state_inconsistent",
            inconsistent_detail(moved),
        )),
    }
}

/// Take a validated report: join it to the reporter's waiting 7726 report when it only names
/// the sender, else cluster it, store it (durable) and alert the customer. Reports are taken one
/// at a time: the report is planned into a campaign, made durable with that campaign id, and
/// only then applied to the clusterer, so a failed write leaves memory as the disk is. A report
/// with an idempotency key already stored answers what it answered the first time.
pub async fn report(st: &SharedState, r: Report) -> Result<ReportAnswer, Problem> {
    decisions_available(st)?;
    let _one_at_a_time = st.smish.intake.lock().await;
    if let Some(key) = &r.key {
        if let Some(row) = st.store.smish_report_by_key(key).await? {
            return retried(st, &r, row).await;
        }
    }
    let now = st.now();
    let extract = &st.validation.extract;
    let received = r.received_at;
    let window = st.smish_settings.join_window_secs as Millis * 1000;
    if let (Some(rep), Some(named)) = (&r.reporter, names_sender(&r, extract)) {
        let waiting = lock(&st.smish.pending)
            .get(rep)
            .copied()
            .filter(|(_, at)| received - at <= window);
        if let Some((id, _)) = waiting {
            return join(st, rep, id, named).await;
        }
        let joined = lock(&st.smish.joined)
            .get(rep)
            .filter(|(_, sender, at)| *sender == named && received - at <= window)
            .map(|(id, _, _)| *id);
        if let Some(id) = joined {
            // The reporter's second message again (a retry): the join already happened.
            return join(st, rep, id, named).await;
        }
    }
    let body = r.text().map_err(Problem::invalid)?;
    let ind = indicators(body, &brand_names(st), extract);
    // Planned and stored in the one order every node sharing the store clusters in: the
    // reports others took since this node last looked are applied first.
    let after = *lock(&st.smish.next_id) - 1;
    let mut planned = None;
    let mut failed = None;
    st.store
        .add_smish_report_in_order(
            after,
            Box::new(|newer| {
                let mut c = lock(&st.smish.campaigns);
                let mut moved = 0;
                for row in &newer {
                    moved +=
                        u64::from(replay_row(st, &mut c, row, &Default::default(), now).is_some());
                }
                let id = newer.last().map_or(after, |r| r.id) + 1;
                *lock(&st.smish.next_id) = id;
                note_mismatches(st, moved);
                let plan = c.plan(&ind);
                match report_rows(&r, body, &ind, id, &plan.assignment, now) {
                    Ok((row, events, answer)) => {
                        planned = Some((plan, id, answer));
                        Some((row, events))
                    }
                    Err(p) => {
                        failed = Some(p);
                        None
                    }
                }
            }),
        )
        .await?;
    if let Some(p) = failed {
        return Err(p);
    }
    let (plan, id, answer) =
        planned.ok_or_else(|| Problem::internal("a report was not planned"))?;
    let a = plan.assignment.clone();
    // Durable: now memory follows.
    *lock(&st.smish.next_id) = id + 1;
    let (applied, confirmed_campaign) = {
        let mut c = lock(&st.smish.campaigns);
        let applied = c.apply(plan, &ind, r.customer_id.as_deref(), received);
        let confirmed = c
            .get(applied.campaign_id)
            .is_some_and(|x| x.status == CampaignStatus::Confirmed);
        (applied, confirmed)
    };
    if applied != a {
        // Cannot happen while reports are taken one at a time; say so loudly if it ever does.
        tracing::error!(
            report = id,
            stored = a.campaign_id,
            applied = applied.campaign_id,
            "a report was clustered otherwise than stored"
        );
    }
    if confirmed_campaign {
        refresh_blocked(st);
    }
    if a.newly_listed {
        st.tasks.spawn(sweep_spoofed(st.clone(), a.campaign_id));
    }
    for m in &a.merged {
        tracing::info!(from = m, into = a.campaign_id, "campaigns merged");
    }
    if answer.awaiting_sender {
        if let Some(rep) = &r.reporter {
            let mut pending = lock(&st.smish.pending);
            // Reporters who never answer are forgotten once past the window.
            if pending.len() >= 10_000 {
                pending.retain(|_, (_, at)| *at >= now - window);
            }
            pending.insert(rep.clone(), (id, received));
        }
    }
    alert_reporter(st, &r, &ind, a.campaign_id).await?;
    Ok(answer)
}

/// The stored row, the campaign events and the answer of a report planned into `a`.
fn report_rows(
    r: &Report,
    body: &str,
    ind: &Indicators,
    id: i64,
    a: &Assignment,
    now: Millis,
) -> Result<(SmishReportRow, Vec<CampaignEvent>, ReportAnswer), Problem> {
    let doc = ReportDoc {
        id,
        received_at: format_time(r.received_at),
        customer_id: r.customer_id.clone(),
        reporter_number: r.reporter.clone(),
        sender: r.sender.clone(),
        body: body.to_string(),
        reported_via: r.via.clone(),
        indicators: ind.clone(),
        campaign_id: a.campaign_id,
    };
    let answer = ReportAnswer {
        report_id: id,
        assignment: a.clone(),
        indicators: ind.clone(),
        joined: false,
        awaiting_sender: r.awaits_sender(),
        replayed: false,
    };
    let events = a
        .merged
        .iter()
        .map(|m| CampaignEvent {
            campaign_id: a.campaign_id as i64,
            kind: "merged".into(),
            detail: Some(m.to_string()),
            at: now,
        })
        .collect();
    let row = SmishReportRow {
        id,
        received_at: r.received_at,
        customer_id: r.customer_id.clone(),
        campaign_id: a.campaign_id as i64,
        doc: crate::problem::to_json(&doc)?,
        idempotency_key: r.key.clone(),
        answer: Some(crate::problem::to_json(&answer)?),
    };
    Ok((row, events, answer))
}

/// A report whose idempotency key is already stored: the same report answers the first answer
/// (and its customer's alert is raised again — alerts are deduplicated — in case the first
/// request failed after the report was stored); another report under the key is refused.
async fn retried(
    st: &SharedState,
    r: &Report,
    row: SmishReportRow,
) -> Result<ReportAnswer, Problem> {
    let doc: ReportDoc = serde_json::from_str(&row.doc).map_err(Problem::internal)?;
    let same = doc.customer_id == r.customer_id
        && doc.reporter_number == r.reporter
        && doc.reported_via == r.via
        && r.body.as_deref().is_none_or(|b| b == doc.body)
        && (r.sender.is_none() || r.sender == doc.sender);
    if !same {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            format!(
                "report_id {:?} was already used for report {} with other content; a retry must \
                 send the same report, and a new report needs a new report_id",
                r.key.as_deref().unwrap_or_default(),
                row.id
            ),
        ));
    }
    let mut answer: ReportAnswer = row
        .answer
        .as_deref()
        .ok_or_else(|| Problem::internal("a keyed report without its answer"))
        .and_then(|a| serde_json::from_str(a).map_err(Problem::internal))?;
    answer.replayed = true;
    alert_reporter(st, r, &doc.indicators, doc.campaign_id).await?;
    Ok(answer)
}

/// Tell the reporting customer (when known) that the text they reported is a scam pattern.
async fn alert_reporter(
    st: &SharedState,
    r: &Report,
    ind: &Indicators,
    campaign_id: u64,
) -> Result<(), Problem> {
    let Some(c) = &r.customer_id else {
        return Ok(());
    };
    let vars = PatternVars {
        brand: ind.brand.clone(),
        amount: ind.amounts.first().map(money_text),
        merchant: ind.merchant.clone(),
        callback_number: ind.callback_numbers.first().cloned(),
    };
    crate::alerts::raise(
        st,
        c,
        AlertRule::ReportedSmish,
        &format!("campaign:{campaign_id}"),
        vars,
        Some(campaign_id),
        None,
    )
    .await
    .map(|_| ())
}

async fn join(
    st: &SharedState,
    reporter: &str,
    id: i64,
    sender: String,
) -> Result<ReportAnswer, Problem> {
    let rows = st.store.smish_reports_after(id - 1, 1).await?;
    let row = rows.into_iter().find(|r| r.id == id).ok_or_else(|| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "pending report missing",
        )
    })?;
    let mut doc: ReportDoc = serde_json::from_str(&row.doc).map_err(Problem::internal)?;
    let again = doc.sender.as_deref() == Some(sender.as_str());
    if !again {
        doc.sender = Some(sender.clone());
        let json = crate::problem::to_json(&doc)?;
        st.store.update_smish_report(id, json).await?;
    }
    lock(&st.smish.pending).remove(reporter);
    {
        let mut joined = lock(&st.smish.joined);
        if joined.len() >= 10_000 {
            joined.clear();
        }
        joined.insert(reporter.to_string(), (id, sender, st.now()));
    }
    let campaign_id = lock(&st.smish.campaigns).resolve(doc.campaign_id);
    Ok(ReportAnswer {
        report_id: id,
        assignment: Assignment {
            campaign_id,
            created: false,
            merged: Vec::new(),
            matched_by: Vec::new(),
            newly_listed: false,
        },
        indicators: doc.indicators,
        joined: true,
        awaiting_sender: false,
        replayed: again,
    })
}

/// An analyst's review of a campaign (by `who`): recorded durably, then applied; confirming
/// blocks its indicators and warns the customers sent the kind of text it imitates.
pub async fn set_status(
    st: &SharedState,
    id: u64,
    status: CampaignStatus,
    note: Option<String>,
    who: &str,
) -> Result<Campaign, Problem> {
    decisions_available(st)?;
    if st.store.shared() {
        // A campaign another node just created is known here before it is reviewed.
        catch_up(st).await?;
    }
    let unknown = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            "unknown_campaign",
            format!("no campaign {id}"),
        )
    };
    let target = {
        let c = lock(&st.smish.campaigns);
        c.get(id).map(|x| x.id).ok_or_else(unknown)?
    };
    let detail = serde_json::json!({"status": status, "note": note, "by": who}).to_string();
    st.store
        .add_campaign_event(CampaignEvent {
            campaign_id: target as i64,
            kind: "status".into(),
            detail: Some(detail),
            at: st.now(),
        })
        .await?;
    let campaign = {
        let mut c = lock(&st.smish.campaigns);
        c.set_status(target, status);
        c.get(target).cloned()
    };
    refresh_blocked(st);
    if status == CampaignStatus::Confirmed {
        st.tasks.spawn(sweep_spoofed(st.clone(), target));
    }
    campaign.ok_or_else(unknown)
}

/// Confirmed campaigns' indicators, rebuilt only when a confirmed campaign changed.
pub fn blocked(st: &SharedState) -> std::sync::Arc<Blocked> {
    lock(&st.smish.blocked).clone()
}

/// Rebuild the blocked indicators (after a status change or a report to a confirmed campaign).
pub(crate) fn refresh_blocked(st: &SharedState) {
    let b = if decisions_available(st).is_ok() {
        lock(&st.smish.campaigns).blocked()
    } else {
        Blocked::default()
    };
    *lock(&st.smish.blocked) = std::sync::Arc::new(b);
}

/// The campaign a claim's cues match, if any: `(campaign id, why)`.
pub fn claim_campaign(
    st: &SharedState,
    claim: &countersign_core::verify::Claim,
) -> Option<(u64, String)> {
    decisions_available(st).ok()?;
    let extract = &st.validation.extract;
    let mut numbers: Vec<String> = claim.callback_number.iter().cloned().collect();
    let mut domains: Vec<String> = claim.domain.iter().cloned().collect();
    if let Some(t) = &claim.text {
        let (n, d) = countersign_core::extract::extract_contacts(t, extract, None);
        numbers.extend(n);
        domains.extend(d);
    }
    let names = brand_names(st);
    let c = lock(&st.smish.campaigns);
    c.matching(&numbers, &domains, claim.text.as_deref(), &names)
        .map(|(camp, why)| (camp.id, why))
}

/// What an alert about a campaign (not a particular text) may name: its brand and a number it
/// gives.
fn campaign_vars(c: &Campaign) -> PatternVars {
    PatternVars {
        brand: c.brands.iter().next().cloned(),
        callback_number: c.callback_numbers.iter().next().cloned(),
        ..Default::default()
    }
}

const SPOOF_CACHE_MS: Millis = 10 * 60_000;
const SPOOF_ACTIVE_MS: Millis = 7 * 24 * 3_600_000;

/// Genuine SMS in a batch of a kind an active campaign spoofs: `(index, customer, campaign,
/// what to name)`. Checked once per template (or category) every ten minutes, so ingest pays a
/// hash lookup per record.
pub fn spoofed_in(
    st: &SharedState,
    batch: &[countersign_core::Notification],
) -> Vec<(usize, String, u64, PatternVars)> {
    let mut out = Vec::new();
    if !st
        .alert_settings
        .rules
        .contains(&AlertRule::SpoofedNotification)
        || decisions_available(st).is_err()
    {
        return out;
    }
    let now = st.now();
    let mut cache = lock(&st.smish.spoof_cache);
    for (i, n) in batch.iter().enumerate() {
        if n.channel != countersign_core::Channel::Sms {
            continue;
        }
        let (Some(key), Some(body)) = (
            n.template_id.as_deref().or(n.category.as_deref()),
            n.body.as_deref(),
        ) else {
            continue;
        };
        let fresh = cache
            .get(key)
            .filter(|(at, _)| now - at < SPOOF_CACHE_MS)
            .map(|(_, hit)| hit.clone());
        let hit = match fresh {
            Some(hit) => hit,
            None => {
                let genuine = countersign_core::campaign::shape(body, &brand_names(st));
                let hit = lock(&st.smish.campaigns)
                    .spoofing(
                        &genuine,
                        st.smish_settings.spoof_containment,
                        now - SPOOF_ACTIVE_MS,
                    )
                    .map(|c| (c.id, campaign_vars(c)));
                cache.insert(key.to_string(), (now, hit.clone()));
                hit
            }
        };
        if let Some((campaign, vars)) = hit {
            out.push((i, n.customer_id.clone(), campaign, vars));
        }
    }
    out
}

/// Queue the `spoofed_notification` alerts of the records that were accepted; a background task
/// writes them, so ingest never waits for alerts (a full queue drops the alert and counts it).
pub fn warn_spoofed(
    st: &SharedState,
    spoofed: Vec<(usize, String, u64, PatternVars)>,
    outcomes: &[countersign_store::IngestOutcome],
) {
    for (i, customer, campaign, vars) in spoofed {
        if outcomes.get(i) == Some(&countersign_store::IngestOutcome::Accepted)
            && st
                .smish
                .spoof_tx
                .try_send((customer, campaign, vars))
                .is_err()
        {
            crate::metrics::Metrics::add(&st.metrics.alerts_dropped, 1);
        }
    }
}

/// A campaign just became worth listing (or was confirmed): customers sent a genuine SMS of a
/// kind it imitates within `spoof_sweep_days` are queued for a `spoofed_notification` alert —
/// the texts they just received are the ones the fakes copy. Runs in the background.
pub async fn sweep_spoofed(st: SharedState, campaign: u64) {
    if !st
        .alert_settings
        .rules
        .contains(&AlertRule::SpoofedNotification)
    {
        return;
    }
    // Ingest re-checks its templates against the new campaign from now on.
    lock(&st.smish.spoof_cache).clear();
    let now = st.now();
    let since = now - st.smish_settings.spoof_sweep_days as Millis * 24 * 3_600_000;
    let kinds = match st.store.sms_kinds_since(since).await {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(error = %e, "spoofed-kind sweep skipped");
            return;
        }
    };
    let names = brand_names(&st);
    let mut queued = 0usize;
    for (kind, body) in kinds {
        if st.stopping.is_cancelled() {
            tracing::warn!(campaign, "spoofed-kind sweep cut by shutdown");
            return;
        }
        let genuine = countersign_core::campaign::shape(&body, &names);
        let vars = {
            let c = lock(&st.smish.campaigns);
            let target = c.resolve(campaign);
            c.spoofing(
                &genuine,
                st.smish_settings.spoof_containment,
                now - SPOOF_ACTIVE_MS,
            )
            .filter(|hit| hit.id == target)
            .map(campaign_vars)
        };
        let Some(vars) = vars else { continue };
        let customers = match st
            .store
            .sms_recipients_of_kind(&kind, since, 1_000_000)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, kind, "spoofed-kind sweep: recipients not read");
                continue;
            }
        };
        for customer in customers {
            if st
                .smish
                .spoof_tx
                .send((customer, campaign, vars.clone()))
                .await
                .is_err()
            {
                return;
            }
            queued += 1;
        }
    }
    if queued > 0 {
        tracing::info!(
            campaign,
            customers = queued,
            "customers warned about a campaign imitating texts they were sent"
        );
    }
}

/// Write the queued `spoofed_notification` alerts (once per customer and campaign).
pub async fn spoof_alerts_forever(st: SharedState) {
    let Some(mut rx) = lock(&st.smish.spoof_rx).take() else {
        return;
    };
    let mut told: std::collections::HashSet<(String, u64)> = std::collections::HashSet::new();
    loop {
        // On shutdown, what is already queued is still written (within the drain deadline).
        let next = tokio::select! {
            biased;
            item = rx.recv() => item,
            _ = st.stopping.cancelled() => rx.try_recv().ok(),
        };
        let Some((customer, campaign, vars)) = next else {
            return;
        };
        if told.len() > 1_000_000 {
            told.clear();
        }
        if !told.insert((customer.clone(), campaign)) {
            continue;
        }
        if let Err(p) = crate::alerts::raise(
            &st,
            &customer,
            AlertRule::SpoofedNotification,
            &format!("spoof:campaign:{campaign}"),
            vars,
            Some(campaign),
            None,
        )
        .await
        {
            tracing::warn!(error = %p.detail, "spoofed-notification alert not written");
            told.remove(&(customer, campaign));
        }
    }
}
