//! The agent's reads: claim verification, the customer's notification timeline, feed health per
//! source, and the audit log. Every read of a customer's notifications is audit-logged.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use countersign_core::validate::{format_time, parse_time};
use countersign_core::verify::{
    claim_window, complete_since, decide, effective_watermark, validate_claim, ClaimIn,
    LedgerContext, NotificationView, Verification, VerifyConfig, WatermarkKind,
};
use countersign_core::{Channel, Millis, SourceState};
use countersign_store::{AuditEntry, SourceActivity};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Scope;
use crate::ingest::read_body;
use crate::problem::{parse_json, Problem};
use crate::{now_ms, Auth, SharedState};

/// Feed health of one source.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceView {
    pub source: String,
    /// Channels this source has sent on.
    pub channels: Vec<Channel>,
    /// The effective watermark: declared by the source, else derived from its traffic.
    pub watermark: Option<String>,
    /// `declared`, `derived` (the source never sent one: newest record minus a margin) or `none`.
    pub watermark_kind: WatermarkKind,
    pub watermark_updated_at: Option<String>,
    /// How far the watermark trails now, in seconds.
    pub watermark_age_secs: Option<i64>,
    /// From when this source's record is complete.
    pub complete_since: Option<String>,
    /// When the newest record was acknowledged.
    pub last_record_at: Option<String>,
    /// The newest `sent_at`.
    pub last_sent_at: Option<String>,
    pub records_total: i64,
    pub records_last_hour: u64,
    /// Ingest lag (acknowledged − sent) over the last hour, in ms (log buckets, ≤ 19 % error).
    pub lag_p50_ms: Option<i64>,
    pub lag_p99_ms: Option<i64>,
}

pub fn source_view(
    s: &SourceState,
    act: Option<&SourceActivity>,
    cfg: &VerifyConfig,
    now: Millis,
) -> SourceView {
    let (w, kind) = effective_watermark(s, cfg);
    SourceView {
        source: s.source.clone(),
        channels: s.channels(),
        watermark: w.map(format_time),
        watermark_kind: kind,
        watermark_updated_at: s.watermark_updated_at.map(format_time),
        watermark_age_secs: w.map(|w| (now - w) / 1000),
        complete_since: complete_since(s).map(format_time),
        last_record_at: s.last_acked_at.map(format_time),
        last_sent_at: s.last_sent_at.map(format_time),
        records_total: s.records_total,
        records_last_hour: act.map_or(0, |a| a.records),
        lag_p50_ms: act.and_then(|a| a.lag.quantile(0.5)),
        lag_p99_ms: act.and_then(|a| a.lag.quantile(0.99)),
    }
}

#[utoipa::path(
    get, path = "/v1/sources", tag = "ledger",
    responses((status = 200, description = "Every source's feed health", body = [SourceView])),
    security(("api_key" = []))
)]
pub async fn get_sources(
    State(st): State<SharedState>,
    auth: Auth,
) -> Result<Json<Vec<SourceView>>, Problem> {
    auth.require_any(&[Scope::Agent, Scope::Ingest])?;
    let now = now_ms();
    let sources = st.store.sources().await.map_err(Problem::store)?;
    let activity = st
        .store
        .source_activity(now - 3_600_000)
        .await
        .map_err(Problem::store)?;
    Ok(Json(
        sources
            .iter()
            .map(|s| {
                source_view(
                    s,
                    activity.iter().find(|a| a.source == s.source),
                    &st.verify,
                    now,
                )
            })
            .collect(),
    ))
}

#[utoipa::path(
    post, path = "/v1/verify", tag = "verification",
    request_body = ClaimIn,
    responses(
        (status = 200, description = "The verdict, its evidence and what the agent should say", body = Verification),
        (status = 422, description = "`invalid_request`, `missing_field`, `invalid_channel`, `invalid_time`, `invalid_amount`, …", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn post_verify(
    State(st): State<SharedState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Verification>, Problem> {
    let who = auth.require(Scope::Agent)?.name.clone();
    let started = Instant::now();
    let bytes = read_body(&headers, body, 64 * 1024).await?;
    let raw: ClaimIn = parse_json(&bytes)?;
    let claim = validate_claim(&raw, &st.validation.extract).map_err(Problem::invalid)?;
    let v = verify_claim(&st, &claim, &who).await?;
    st.metrics.verify_latency.record(started.elapsed());
    Ok(Json(v))
}

/// Verify a validated claim against the ledger (and the brand registry), audit-logged as `who`.
pub async fn verify_claim(
    st: &SharedState,
    claim: &countersign_core::verify::Claim,
    who: &str,
) -> Result<Verification, Problem> {
    let now = now_ms();
    let window = claim_window(claim, now, st.retention_ms, &st.verify);
    let view = st
        .store
        .ledger_view(
            &claim.customer_id,
            window.from,
            window.to,
            st.verify.candidates_max,
        )
        .await
        .map_err(Problem::store)?;
    let ctx = LedgerContext {
        customer_known: view.customer_known,
        candidates: &view.candidates,
        sources: &view.sources,
        retention_start: now - st.retention_ms,
        body_hmac_key: &st.validation.body_hmac_key,
    };
    let mut v = decide(claim, now, st.retention_ms, &st.verify, &ctx);
    add_sender_registry_evidence(st, claim, &mut v);
    if let Some((campaign, why)) = crate::smish::claim_campaign(st, claim) {
        countersign_core::verify::apply_campaign(&mut v, campaign, why);
    }
    st.store
        .audit(AuditEntry {
            at: now,
            actor: who.to_string(),
            action: "verify".into(),
            customer_id: Some(claim.customer_id.clone()),
            detail: Some(format!("verdict={}", v.verdict.as_str())),
        })
        .await
        .map_err(Problem::store)?;
    st.metrics.count_verdict(v.verdict.as_str());
    Ok(v)
}

/// When no stored notification was compared with the sender the caller saw, the brand registry
/// still knows whether that sender imitates one of ours: say so (it is evidence of a spoof).
fn add_sender_registry_evidence(
    st: &SharedState,
    claim: &countersign_core::verify::Claim,
    v: &mut Verification,
) {
    let Some(seen) = claim.sender_seen.as_deref() else {
        return;
    };
    if v.evidence.iter().any(|e| e.cue == "sender") {
        return;
    }
    let reg = st
        .registry
        .read()
        .map(|r| r.clone())
        .unwrap_or_else(|p| p.into_inner().clone());
    if let Some(l) = reg.index.untwist(seen) {
        v.evidence.push(countersign_core::verify::Evidence {
            cue: "sender",
            result: countersign_core::verify::CueResult::Mismatch,
            claimed: Some(seen.to_string()),
            recorded: Some(l.protected_id.clone()),
            detail: format!(
                "{seen} is not our sender: it imitates {}'s registered sender {} ({}): evidence of a spoofed text",
                l.brand, l.protected_id, l.transformation
            ),
        });
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    /// RFC 3339; default: the start of retention.
    pub since: Option<String>,
    /// RFC 3339; default: now.
    pub until: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// The agent's view of a customer's notifications.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Timeline {
    pub customer_id: String,
    pub since: String,
    pub until: String,
    /// Newest first.
    pub notifications: Vec<NotificationView>,
    /// True when `limit` cut the list short.
    pub truncated: bool,
}

#[utoipa::path(
    get, path = "/v1/customers/{customer_id}/notifications", tag = "verification",
    params(("customer_id" = String, Path), TimelineParams),
    responses(
        (status = 200, body = Timeline),
        (status = 422, description = "`invalid_time`, `invalid_request`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn get_timeline(
    State(st): State<SharedState>,
    auth: Auth,
    Path(customer_id): Path<String>,
    Query(q): Query<TimelineParams>,
) -> Result<Json<Timeline>, Problem> {
    let who = auth.require(Scope::Agent)?.name.clone();
    let now = now_ms();
    let since = match q.since.as_deref() {
        Some(s) => parse_time("since", s).map_err(Problem::invalid)?,
        None => now - st.retention_ms,
    };
    let until = match q.until.as_deref() {
        Some(s) => parse_time("until", s).map_err(Problem::invalid)?,
        None => now + st.validation.future_skew_ms,
    };
    if since > until {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "`since` is after `until`",
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "`limit` must be 1..=1000",
        ));
    }
    let mut rows = st
        .store
        .customer_notifications(&customer_id, since, until, limit + 1)
        .await
        .map_err(Problem::store)?;
    let truncated = rows.len() > limit;
    rows.truncate(limit);
    st.store
        .audit(AuditEntry {
            at: now,
            actor: who,
            action: "timeline".into(),
            customer_id: Some(customer_id.clone()),
            detail: Some(format!("rows={}", rows.len())),
        })
        .await
        .map_err(Problem::store)?;
    Ok(Json(Timeline {
        customer_id,
        since: format_time(since),
        until: format_time(until),
        notifications: rows
            .iter()
            .map(|n| NotificationView::from_stored(n, true))
            .collect(),
        truncated,
    }))
}

/// One audit-log entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditView {
    pub at: String,
    /// The API key's name.
    pub actor: String,
    pub action: String,
    pub customer_id: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Newest first, at most this many (default 100, at most 10000).
    pub limit: Option<usize>,
}

#[utoipa::path(
    get, path = "/v1/audit-log", tag = "operations",
    params(AuditParams),
    responses((status = 200, description = "Reads of customer data and administrative actions, newest first", body = [AuditView])),
    security(("api_key" = []))
)]
pub async fn get_audit_log(
    State(st): State<SharedState>,
    auth: Auth,
    Query(q): Query<AuditParams>,
) -> Result<Json<Vec<AuditView>>, Problem> {
    auth.require(Scope::Admin)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let log = st.store.audit_log(limit).await.map_err(Problem::store)?;
    Ok(Json(
        log.into_iter()
            .map(|e| AuditView {
                at: format_time(e.at),
                actor: e.actor,
                action: e.action,
                customer_id: e.customer_id,
                detail: e.detail,
            })
            .collect(),
    ))
}
