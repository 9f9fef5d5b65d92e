//! Smishing reports and campaigns over HTTP: `POST /v1/smish-reports` (with the 7726 two-step
//! flow), `GET /v1/campaigns`, `GET /v1/campaigns/{id}`, `POST /v1/campaigns/{id}/status` and
//! `GET /v1/campaigns/indicators`. Clustering is `countersign_core::campaign`, in memory; reports
//! are durable before they are acknowledged and replayed in arrival order at start.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use countersign_core::campaign::{Campaign, CampaignStatus};
use countersign_core::report::{validate_report, ReportIn};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Scope;
use crate::http::JsonBody;
use crate::http::{Path, Query};
use crate::problem::Problem;
use crate::services::campaigns::{self, blocked, lock, ReportAnswer};
use crate::{Auth, SharedState};

#[utoipa::path(post, path = "/v1/smish-reports", tag = "campaigns",
    request_body = ReportIn,
    responses(
        (status = 200, description = "Durable; the campaign the report was assigned to", body = ReportAnswer),
        (status = 422, description = "`missing_field`, `invalid_field`, `invalid_time`, `idempotency_key_reused` (a `report_id` already used for another report)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`, `campaign_state_inconsistent` (the start-up replay disagreed with the stored campaign ids)", body = Problem, content_type = "application/problem+json"),
    ),
    params(("Idempotency-Key" = Option<String>, Header, description = "The report's idempotency key, the same as `report_id` in the body")),
    security(("api_key" = [])))]
pub async fn post_report(
    State(st): State<SharedState>,
    auth: Auth,
    headers: axum::http::HeaderMap,
    JsonBody(mut r): JsonBody<ReportIn>,
) -> Result<Json<ReportAnswer>, Problem> {
    auth.require(Scope::Ingest)?;
    let started = std::time::Instant::now();
    if let Some(h) = headers.get("idempotency-key") {
        let key = h
            .to_str()
            .map_err(|_| {
                Problem::unprocessable("invalid_field", "`Idempotency-Key` must be printable ASCII")
            })?
            .to_string();
        match &r.report_id {
            Some(id) if id.trim() != key.trim() => {
                return Err(Problem::unprocessable(
                    "invalid_field",
                    "`Idempotency-Key` and `report_id` differ; send one, or the same in both",
                ))
            }
            _ => r.report_id = Some(key),
        }
    }
    let report = validate_report(
        &r,
        st.now(),
        &st.validation.extract,
        st.validation.limits.id_chars_max,
    )
    .map_err(Problem::invalid)?;
    let answer = campaigns::report(&st, report).await;
    st.metrics.report_latency.record(started.elapsed());
    answer.map(Json)
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
    campaigns::decisions_available(&st)?;
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
    campaigns::decisions_available(&st)?;
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
    JsonBody(s): JsonBody<StatusIn>,
) -> Result<Json<Campaign>, Problem> {
    let who = auth.require(Scope::Admin)?.name.clone();
    let status = s.status.ok_or_else(|| {
        Problem::unprocessable(
            "missing_field",
            "`status` (active, confirmed or benign) is required",
        )
    })?;
    campaigns::set_status(&st, id, status, s.note, &who)
        .await
        .map(Json)
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
    campaigns::decisions_available(&st)?;
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

/// This resource's routes, each registered with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(post_report))
        .routes(routes!(list_campaigns))
        .routes(routes!(get_indicators))
        .routes(routes!(get_campaign))
        .routes(routes!(post_status))
}
