//! Verification: "did we send this?" (`/v1/verify`, shared with the calls API) and the agent's
//! timeline of a customer's notifications. Every read of a customer's notifications is
//! audit-logged.

use std::time::Instant;

use crate::http::JsonBody;
use crate::http::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use countersign_core::validate::{format_time, parse_time};
use countersign_core::verify::{
    claim_window, decide, validate_claim, ClaimIn, LedgerContext, NotificationView, Verification,
};
use countersign_store::AuditEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Scope;
use crate::problem::Problem;
use crate::{Auth, SharedState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    JsonBody(raw): JsonBody<ClaimIn>,
) -> Result<Json<Verification>, Problem> {
    let who = auth.require(Scope::Agent)?.name.clone();
    let started = Instant::now();
    let claim = validate_claim(
        &raw,
        &st.validation.extract,
        st.validation.limits.id_chars_max,
    )
    .map_err(Problem::invalid)?;
    let v = verify_claim(&st, &claim, &who).await?;
    st.metrics.verify_latency.record(started.elapsed());
    Ok(Json(v))
}

/// The store's view of a customer's ledger between `from` and `to`, every derived watermark
/// held to the Kafka consumer group's committed progress (`kafka::cap_derived`): what every
/// answer about what was sent reads.
pub async fn ledger_view(
    st: &SharedState,
    customer_id: &str,
    from: countersign_core::Millis,
    to: countersign_core::Millis,
) -> Result<countersign_store::LedgerView, Problem> {
    let mut view = st
        .store
        .ledger_view(customer_id, from, to, st.verify.candidates_max)
        .await?;
    crate::kafka::cap_derived(st, &mut view.sources);
    Ok(view)
}

/// Verify a validated claim against the ledger (and the brand registry), audit-logged as `who`.
pub async fn verify_claim(
    st: &SharedState,
    claim: &countersign_core::verify::Claim,
    who: &str,
) -> Result<Verification, Problem> {
    let now = st.now();
    let window = claim_window(claim, now, st.retention_ms, &st.verify);
    let view = ledger_view(st, &claim.customer_id, window.from, window.to).await?;
    let ctx = LedgerContext {
        customer_known: view.customer_known,
        candidates: &view.candidates,
        sources: &view.sources,
        retention_start: now - st.retention_ms,
        body_hmac_key: &st.validation.body_hmac_key,
    };
    let mut v = decide(claim, now, st.retention_ms, &st.verify, &ctx);
    add_sender_registry_evidence(st, claim, &mut v);
    if let Some((campaign, why)) = crate::services::campaigns::claim_campaign(st, claim) {
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
        .await?;
    st.metrics.count_verdict(v.verdict.as_str());
    Ok(v)
}

fn add_sender_registry_evidence(
    st: &SharedState,
    claim: &countersign_core::verify::Claim,
    v: &mut Verification,
) {
    let reg = crate::sender_ids::registry(st);
    v.evidence
        .extend(countersign_core::verify::registry_evidence(
            claim,
            &v.evidence,
            &reg.index,
        ));
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
    let now = st.now();
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
        .await?;
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
        .await?;
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

/// This resource's routes, each registered with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(post_verify))
        .routes(routes!(get_timeline))
}
