//! Smishing reports and campaigns over HTTP: `POST /v1/smish-reports` (with the 7726 two-step
//! flow), `GET /v1/campaigns`, `GET /v1/campaigns/{id}`, `POST /v1/campaigns/{id}/status` and
//! `GET /v1/campaigns/indicators`. Clustering is `countersign_core::campaign`, in memory; reports
//! are durable before they are acknowledged and replayed in arrival order at start.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::http::{Path, Query};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use countersign_core::alerts::{AlertRule, PatternVars};
use countersign_core::campaign::{
    indicators, Assignment, Campaign, CampaignStatus, Campaigns, ClusterConfig, Indicators,
};
use countersign_core::extract::normalize_phone;
use countersign_core::validate::{format_time, parse_time};
use countersign_core::Millis;
use countersign_store::{CampaignEvent, SmishReportRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Scope;
use crate::http::read_body;
use crate::problem::{parse_json, Problem};
use crate::{now_ms, Auth, SharedState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Settings of report intake and clustering (`[smish]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmishSettings {
    /// How customers see the institution's name ("ACME Bank"), for the `brand` indicator and the
    /// shape; the brand registry's display names and aliases are used too.
    pub brand_names: Vec<String>,
    /// The 7726 flow: a reporter's second message within this many seconds names the sender of
    /// the first and is joined to it.
    pub join_window_secs: u64,
    /// A genuine notification is "of a kind a campaign spoofs" when at least this share of its
    /// shape's words and word pairs appear in the campaign's (see `Campaigns::spoofing`).
    pub spoof_containment: f64,
    /// When a campaign is listed or confirmed, customers sent a genuine SMS of the kind it
    /// imitates within this many days are warned.
    pub spoof_sweep_days: u32,
    /// Estimated Jaccard similarity of two texts' shapes (word pairs) to be one campaign.
    pub shape_similarity: f64,
    /// Reports before a cluster is listed as a campaign (a lone spam text is not one).
    pub min_reports: u64,
}

impl SmishSettings {
    pub fn cluster(&self) -> ClusterConfig {
        ClusterConfig {
            shape_similarity: self.shape_similarity,
            min_reports: self.min_reports,
        }
    }
}

impl Default for SmishSettings {
    fn default() -> Self {
        SmishSettings {
            brand_names: Vec::new(),
            join_window_secs: 600,
            spoof_containment: 0.3,
            spoof_sweep_days: 3,
            shape_similarity: ClusterConfig::default().shape_similarity,
            min_reports: ClusterConfig::default().min_reports,
        }
    }
}

/// A campaign spoofing a kind of notification, and what an alert about it may name.
type SpoofHit = (u64, PatternVars);

/// The clusterer and the 7726 flow's pending first messages.
pub struct SmishState {
    pub campaigns: Mutex<Campaigns>,
    next_id: Mutex<i64>,
    /// Reporter number → (report id, received) of a 7726 report still waiting for its sender.
    pending: Mutex<HashMap<String, (i64, Millis)>>,
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
            pending: Mutex::new(HashMap::new()),
            blocked: Mutex::new(Default::default()),
        }
    }
}

/// A report as the carrier, the app or an agent sends it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportIn {
    pub customer_id: Option<String>,
    /// Who reported (the 7726 flow joins two messages from one reporter).
    pub reporter_number: Option<String>,
    /// The sender the text came from (number or alphanumeric ID), when known.
    pub sender: Option<String>,
    /// The text as received.
    pub body: Option<String>,
    /// RFC 3339; default now.
    pub received_at: Option<String>,
    /// `7726`, `app` or `agent`.
    pub reported_via: Option<String>,
}

/// A report as stored and shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportDoc {
    pub id: i64,
    pub received_at: String,
    pub customer_id: Option<String>,
    pub reporter_number: Option<String>,
    pub sender: Option<String>,
    pub body: String,
    pub reported_via: String,
    pub indicators: Indicators,
    /// The campaign it was assigned to on arrival (merges may fold it into an older one since).
    pub campaign_id: u64,
}

/// What happened to a report.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
}

fn bad(code: &str, detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
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

/// Does a 7726 follow-up message look like a sender rather than a text: one alphanumeric ID
/// ("ACMEBNK"), or a number however it is spaced ("+1 833 555 0101")?
fn looks_like_sender(text: &str) -> bool {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let joined: String = tokens.concat();
    let numeric = |t: &str| t.chars().all(|c| c.is_ascii_digit() || "+-().".contains(c));
    !joined.is_empty()
        && joined.len() <= 20
        && joined
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-().".contains(c))
        && (tokens.len() == 1 || tokens.iter().all(|t| numeric(t)))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Replay stored reports and campaign events (at start).
pub async fn load(st: &SharedState) -> Result<(), Problem> {
    let now = now_ms();
    let window = st.smish_settings.join_window_secs as Millis * 1000;
    let mut after = 0i64;
    let (mut n, mut moved) = (0u64, 0u64);
    loop {
        let rows = st.store.smish_reports_after(after, 10_000).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let mut c = lock(&st.smish.campaigns);
        for row in &rows {
            let Ok(doc) = serde_json::from_str::<ReportDoc>(&row.doc) else {
                tracing::warn!(id = row.id, "unreadable smishing report skipped");
                continue;
            };
            let a = c.assign(&doc.indicators, doc.customer_id.as_deref(), row.received_at);
            moved += u64::from(a.campaign_id != doc.campaign_id);
            if doc.reported_via == "7726" && doc.sender.is_none() && row.received_at >= now - window
            {
                if let Some(r) = &doc.reporter_number {
                    lock(&st.smish.pending).insert(r.clone(), (row.id, row.received_at));
                }
            }
            n += 1;
        }
    }
    *lock(&st.smish.next_id) = after + 1;
    let events = st.store.campaign_events().await?;
    let mut c = lock(&st.smish.campaigns);
    for e in events.iter().filter(|e| e.kind == "status") {
        if let Some(s) = e
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .and_then(|v| serde_json::from_value::<CampaignStatus>(v["status"].clone()).ok())
        {
            c.set_status(e.campaign_id as u64, s);
        }
    }
    drop(c);
    refresh_blocked(st);
    let c = lock(&st.smish.campaigns);
    if n > 0 {
        tracing::info!(
            reports = n,
            campaigns = c.list().len(),
            "smishing reports replayed"
        );
    }
    if moved > 0 {
        tracing::warn!(
            reports = moved,
            "replay put some reports in other campaigns than on arrival (clustering settings changed?)"
        );
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/smish-reports", tag = "campaigns",
    request_body = ReportIn,
    responses(
        (status = 200, description = "Durable; the campaign the report was assigned to", body = ReportAnswer),
        (status = 422, description = "`missing_field`, `invalid_field`, `invalid_time`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn post_report(
    State(st): State<SharedState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ReportAnswer>, Problem> {
    auth.require(Scope::Ingest)?;
    let bytes = read_body(&headers, body, 64 * 1024).await?;
    let r: ReportIn = parse_json(&bytes)?;
    let started = std::time::Instant::now();
    let answer = report(&st, r).await;
    st.metrics.report_latency.record(started.elapsed());
    answer.map(Json)
}

/// Validate, join or cluster, store and alert (shared with the benchmark through HTTP only).
pub async fn report(st: &SharedState, r: ReportIn) -> Result<ReportAnswer, Problem> {
    let now = now_ms();
    let via = r
        .reported_via
        .as_deref()
        .map(str::trim)
        .ok_or_else(|| {
            bad(
                "missing_field",
                "`reported_via` (7726, app or agent) is required",
            )
        })?
        .to_ascii_lowercase();
    if !["7726", "app", "agent"].contains(&via.as_str()) {
        return Err(bad(
            "invalid_field",
            format!("`reported_via` {via:?} is not one of 7726, app, agent"),
        ));
    }
    let received = match r.received_at.as_deref() {
        Some(t) => parse_time("received_at", t).map_err(Problem::invalid)?,
        None => now,
    };
    let extract = &st.validation.extract;
    let reporter = r
        .reporter_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| normalize_phone(s, extract).unwrap_or_else(|| s.to_string()));
    if via == "7726" && reporter.is_none() {
        return Err(bad(
            "missing_field",
            "a 7726 report needs `reporter_number` (the flow joins the reporter's two messages)",
        ));
    }
    let customer_id = r
        .customer_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if customer_id
        .as_ref()
        .is_some_and(|c| c.chars().count() > 128)
    {
        return Err(bad(
            "invalid_field",
            "`customer_id` is at most 128 characters",
        ));
    }
    let body = r.body.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let sender = r
        .sender
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);

    // The 7726 flow's second step: the reporter names the sender of the text just forwarded.
    if via == "7726" {
        if let Some(rep) = &reporter {
            let named = match (body, &sender) {
                (None, Some(s)) => Some(s.clone()),
                (Some(b), None) if looks_like_sender(b) => {
                    Some(normalize_phone(b, extract).unwrap_or_else(|| b.to_string()))
                }
                _ => None,
            };
            let waiting = lock(&st.smish.pending).get(rep).copied().filter(|(_, at)| {
                received - at <= st.smish_settings.join_window_secs as Millis * 1000
            });
            if let (Some(named), Some((id, _))) = (named, waiting) {
                return join(st, rep, id, named).await;
            }
        }
    }
    let body =
        body.ok_or_else(|| bad("missing_field", "`body` (the text as received) is required"))?;
    if body.chars().count() > 2_000 {
        return Err(bad("invalid_field", "`body` is at most 2,000 characters"));
    }
    let ind = indicators(body, &brand_names(st), extract);
    let (id, a, confirmed_campaign) = {
        let mut next = lock(&st.smish.next_id);
        let id = *next;
        *next += 1;
        let mut c = lock(&st.smish.campaigns);
        let a = c.assign(&ind, customer_id.as_deref(), received);
        let confirmed = c
            .get(a.campaign_id)
            .is_some_and(|x| x.status == CampaignStatus::Confirmed);
        (id, a, confirmed)
    };
    if confirmed_campaign {
        refresh_blocked(st);
    }
    if a.newly_listed {
        tokio::spawn(sweep_spoofed(st.clone(), a.campaign_id));
    }
    let doc = ReportDoc {
        id,
        received_at: format_time(received),
        customer_id: customer_id.clone(),
        reporter_number: reporter.clone(),
        sender,
        body: body.to_string(),
        reported_via: via.clone(),
        indicators: ind.clone(),
        campaign_id: a.campaign_id,
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
    let json = crate::problem::to_json(&doc)?;
    st.store
        .add_smish_report(
            SmishReportRow {
                id,
                received_at: received,
                customer_id: customer_id.clone(),
                campaign_id: a.campaign_id as i64,
                doc: json,
            },
            events,
        )
        .await?;
    for m in &a.merged {
        tracing::info!(from = m, into = a.campaign_id, "campaigns merged");
    }
    let awaiting = via == "7726" && doc.sender.is_none();
    if awaiting {
        if let Some(rep) = &reporter {
            let mut pending = lock(&st.smish.pending);
            // Reporters who never answer are forgotten once past the window.
            if pending.len() >= 10_000 {
                let cut = now - st.smish_settings.join_window_secs as Millis * 1000;
                pending.retain(|_, (_, at)| *at >= cut);
            }
            pending.insert(rep.clone(), (id, received));
        }
    }
    if let Some(c) = &customer_id {
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
            &format!("campaign:{}", a.campaign_id),
            vars,
            Some(a.campaign_id),
            None,
        )
        .await?;
    }
    Ok(ReportAnswer {
        report_id: id,
        assignment: a,
        indicators: ind,
        joined: false,
        awaiting_sender: awaiting,
    })
}

/// "$480" / "$1,250.50" as a person writes it.
pub fn money_text(m: &countersign_core::Money) -> String {
    let sym = match m.currency.as_deref() {
        Some("USD") | None => "$",
        Some("EUR") => "€",
        Some("GBP") => "£",
        Some(other) => return format!("{other} {}", minor_text(m.minor)),
    };
    format!("{sym}{}", minor_text(m.minor))
}

fn minor_text(minor: i64) -> String {
    let whole = minor / 100;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    if minor % 100 == 0 {
        grouped
    } else {
        format!("{grouped}.{:02}", minor % 100)
    }
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
    doc.sender = Some(sender);
    let json = crate::problem::to_json(&doc)?;
    st.store.update_smish_report(id, json).await?;
    lock(&st.smish.pending).remove(reporter);
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
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only campaigns with this status.
    pub status: Option<CampaignStatus>,
    /// At most this many (default 100).
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns", params(ListQuery),
    responses((status = 200, description = "Campaigns with at least `min_reports` reports or a reviewed status, latest activity first", body = [Campaign])),
    security(("api_key" = [])))]
pub async fn list_campaigns(
    State(st): State<SharedState>,
    auth: Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Campaign>>, Problem> {
    auth.require(Scope::Agent)?;
    let c = lock(&st.smish.campaigns);
    Ok(Json(
        c.list()
            .into_iter()
            .filter(|x| q.status.is_none_or(|s| s == x.status))
            .take(q.limit.unwrap_or(100))
            .cloned()
            .collect(),
    ))
}

#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns",
    params(("id" = u64, Path, description = "A campaign id; a merged id answers the campaign it became part of")),
    responses((status = 200, body = Campaign), (status = 404, description = "`unknown_campaign`", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn get_campaign(
    State(st): State<SharedState>,
    auth: Auth,
    Path(id): Path<u64>,
) -> Result<Json<Campaign>, Problem> {
    auth.require(Scope::Agent)?;
    lock(&st.smish.campaigns)
        .get(id)
        .cloned()
        .map(Json)
        .ok_or_else(|| unknown(id))
}

fn unknown(id: u64) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "unknown_campaign",
        format!("no campaign {id}"),
    )
}

/// An analyst's review.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusIn {
    pub status: Option<CampaignStatus>,
    pub note: Option<String>,
}

#[utoipa::path(post, path = "/v1/campaigns/{id}/status", tag = "campaigns",
    params(("id" = u64, Path)), request_body = StatusIn,
    responses((status = 200, body = Campaign), (status = 404, description = "`unknown_campaign`", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn post_status(
    State(st): State<SharedState>,
    auth: Auth,
    Path(id): Path<u64>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Campaign>, Problem> {
    let who = auth.require(Scope::Admin)?.name.clone();
    let bytes = read_body(&headers, body, 16 * 1024).await?;
    let s: StatusIn = parse_json(&bytes)?;
    let status = s.status.ok_or_else(|| {
        bad(
            "missing_field",
            "`status` (active, confirmed or benign) is required",
        )
    })?;
    let target = {
        let c = lock(&st.smish.campaigns);
        c.get(id).map(|x| x.id).ok_or_else(|| unknown(id))?
    };
    let detail = serde_json::json!({"status": status, "note": s.note, "by": who}).to_string();
    st.store
        .add_campaign_event(CampaignEvent {
            campaign_id: target as i64,
            kind: "status".into(),
            detail: Some(detail),
            at: now_ms(),
        })
        .await?;
    let campaign = {
        let mut c = lock(&st.smish.campaigns);
        c.set_status(target, status);
        c.get(target).cloned()
    };
    refresh_blocked(&st);
    if status == CampaignStatus::Confirmed {
        tokio::spawn(sweep_spoofed(st.clone(), target));
    }
    campaign.map(Json).ok_or_else(|| unknown(id))
}

/// What confirmed campaigns gave away, for filters.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BlockList {
    pub callback_numbers: Vec<String>,
    pub domains: Vec<String>,
}

#[utoipa::path(get, path = "/v1/campaigns/indicators", tag = "campaigns",
    responses((status = 200, description = "Numbers and domains of confirmed campaigns: the SMS filter blocks them", body = BlockList)),
    security(("api_key" = [])))]
pub async fn get_indicators(
    State(st): State<SharedState>,
    auth: Auth,
) -> Result<Json<BlockList>, Problem> {
    if !(auth.0.allows(Scope::Sms) || auth.0.allows(Scope::Agent)) {
        auth.require(Scope::Sms)?;
    }
    let b = blocked(&st);
    let mut callback_numbers: Vec<String> = b.numbers.keys().cloned().collect();
    let mut domains: Vec<String> = b.domains.keys().cloned().collect();
    callback_numbers.sort_unstable();
    domains.sort_unstable();
    Ok(Json(BlockList {
        callback_numbers,
        domains,
    }))
}

/// Confirmed campaigns' indicators, rebuilt only when a confirmed campaign changed.
pub fn blocked(st: &SharedState) -> std::sync::Arc<countersign_core::campaign::Blocked> {
    lock(&st.smish.blocked).clone()
}

/// Rebuild the blocked indicators (after a status change or a report to a confirmed campaign).
fn refresh_blocked(st: &SharedState) {
    let b = lock(&st.smish.campaigns).blocked();
    *lock(&st.smish.blocked) = std::sync::Arc::new(b);
}

/// The campaign a claim's cues match, if any: `(campaign id, why)`.
pub fn claim_campaign(
    st: &SharedState,
    claim: &countersign_core::verify::Claim,
) -> Option<(u64, String)> {
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
    {
        return out;
    }
    let now = now_ms();
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
    let now = now_ms();
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
    while let Some((customer, campaign, vars)) = rx.recv().await {
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

/// This resource's routes, each registered with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(post_report))
        .routes(routes!(list_campaigns))
        .routes(routes!(get_indicators))
        .routes(routes!(get_campaign))
        .routes(routes!(post_status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_answer_and_money() {
        for yes in ["ACMEBNK", "+1 833 555 0101", "(833) 555-0101", "72345"] {
            assert!(looks_like_sender(yes), "{yes}");
        }
        for no in [
            "Call me",
            "I don't know",
            "",
            "ACME Bank alert",
            "a-very-long-sender-id-indeed",
        ] {
            assert!(!looks_like_sender(no), "{no}");
        }
        let m = |minor, c: Option<&str>| countersign_core::Money {
            minor,
            currency: c.map(str::to_string),
        };
        assert_eq!(money_text(&m(48000, Some("USD"))), "$480");
        assert_eq!(money_text(&m(125050, None)), "$1,250.50");
        assert_eq!(money_text(&m(999, Some("EUR"))), "€9.99");
        assert_eq!(money_text(&m(100_000_000, Some("INR"))), "INR 1,000,000");
    }
}
