//! Inbound calls over HTTP: a call starts and is scored (`POST /v1/calls`), the caller cites a
//! notification and the claim is verified and the call re-scored (`/claims`), the agent records
//! the outcome as a label (`/outcome`), account events feed later calls, the policy and the
//! surge. The work is [`crate::services::calls`]; these handlers authenticate and shape answers.

use std::sync::Arc;

use crate::http::Path;
use crate::http::{JsonBody, RecordsBody};
use axum::extract::State;
use axum::Json;
use countersign_core::call::{validate_account_event, AccountEventIn, CallIn};
use countersign_core::score::Surge;
use countersign_core::verify::ClaimIn;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::api_types::{CallDoc, OutcomeIn};
use crate::auth::Scope;
use crate::http::{parse_record, RecordError};
use crate::problem::Problem;
use crate::services::calls::policy;
pub use crate::services::calls::{
    add_claim, load_call, load_policy, load_recent_calls, record_outcome, start_call, surge,
    CallScore, ClaimAnswer, RECENT_WINDOW_MS,
};
use crate::{Auth, SharedState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[utoipa::path(get, path = "/v1/surge", tag = "calls",
    responses((status = 200, description = "`not_sent` claims in the last hour against their usual hourly level; `active` when the policy's alert level is reached", body = Surge)),
    security(("api_key" = [])))]
pub async fn get_surge(State(st): State<SharedState>, auth: Auth) -> Result<Json<Surge>, Problem> {
    auth.require(Scope::Agent)?;
    Ok(Json(surge(&st, st.now()).await?))
}

#[utoipa::path(post, path = "/v1/calls", tag = "calls",
    request_body = CallIn,
    responses(
        (status = 200, description = "The call's score: 0–100, band, action, reasons by contribution, policy version", body = CallScore),
        (status = 409, description = "`call_exists`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`missing_field`, `invalid_time`, `invalid_request`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn post_call(
    State(st): State<SharedState>,
    auth: Auth,
    JsonBody(c): JsonBody<CallIn>,
) -> Result<Json<CallScore>, Problem> {
    auth.require(Scope::Agent)?;
    let started = std::time::Instant::now();
    let r = start_call(&st, c).await.map(Json);
    st.metrics.score_latency.record(started.elapsed());
    r
}

#[utoipa::path(post, path = "/v1/calls/{call_id}/claims", tag = "calls",
    params(("call_id" = String, Path)),
    request_body(description = "A claim as for /v1/verify; `customer_id` defaults to the call's.", content = ClaimIn),
    responses(
        (status = 200, description = "The verification and the new score", body = ClaimAnswer),
        (status = 404, description = "`unknown_call`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn post_claim(
    State(st): State<SharedState>,
    auth: Auth,
    Path(call_id): Path<String>,
    JsonBody(raw): JsonBody<ClaimIn>,
) -> Result<Json<ClaimAnswer>, Problem> {
    let who = auth.require(Scope::Agent)?.name.clone();
    add_claim(&st, &call_id, raw, &who).await.map(Json)
}

#[utoipa::path(post, path = "/v1/calls/{call_id}/outcome", tag = "calls",
    params(("call_id" = String, Path)), request_body = OutcomeIn,
    responses((status = 200, body = CallDoc), (status = 422, description = "`invalid_outcome`", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn post_outcome(
    State(st): State<SharedState>,
    auth: Auth,
    Path(call_id): Path<String>,
    JsonBody(o): JsonBody<OutcomeIn>,
) -> Result<Json<CallDoc>, Problem> {
    auth.require(Scope::Agent)?;
    record_outcome(&st, &call_id, o).await.map(Json)
}

#[utoipa::path(get, path = "/v1/calls/{call_id}", tag = "calls",
    params(("call_id" = String, Path)),
    responses((status = 200, description = "The call with its claims, score history and outcome", body = CallDoc),
        (status = 404, description = "`unknown_call`", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn get_call(
    State(st): State<SharedState>,
    auth: Auth,
    Path(call_id): Path<String>,
) -> Result<Json<CallDoc>, Problem> {
    let who = auth.require(Scope::Agent)?.name.clone();
    let doc = load_call(&st, &call_id).await?;
    // A call's document holds the customer's claims and scores: a PII read, audit-logged.
    st.store
        .audit(countersign_store::AuditEntry {
            at: st.now(),
            actor: who,
            action: "call".into(),
            customer_id: doc.customer_id.clone(),
            detail: Some(format!("call_id={call_id}")),
        })
        .await?;
    Ok(Json(doc))
}

/// Answer to account events.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventsAnswer {
    pub accepted: usize,
    pub rejected: usize,
    pub errors: Vec<RecordError>,
}

#[utoipa::path(post, path = "/v1/account-events", tag = "calls",
    request_body(description = "One event, a JSON array, or NDJSON.", content((Vec<AccountEventIn> = "application/json"))),
    responses((status = 200, body = EventsAnswer)),
    security(("api_key" = [])))]
pub async fn post_account_events(
    State(st): State<SharedState>,
    auth: Auth,
    body: RecordsBody,
) -> Result<Json<EventsAnswer>, Problem> {
    auth.require(Scope::Ingest)?;
    let raws = body.split(st.limits.max_records_per_request)?;
    let now = st.now();
    let mut good = Vec::new();
    let mut errors = Vec::new();
    for r in &raws {
        let parsed = parse_record::<AccountEventIn>(r, st.limits.max_record_bytes).and_then(|e| {
            validate_account_event(
                &e,
                now,
                st.validation.future_skew_ms,
                st.validation.limits.id_chars_max,
            )
            .map_err(|r| (r.code, r.detail))
        });
        match parsed {
            Ok(e) => good.push(e),
            Err((code, detail)) => errors.push(RecordError::at(r, code, detail)),
        }
    }
    let accepted = good.len();
    st.store.add_account_events(good).await?;
    Ok(Json(EventsAnswer {
        accepted,
        rejected: errors.len(),
        errors,
    }))
}

#[utoipa::path(get, path = "/v1/policy", tag = "calls",
    responses((status = 200, description = "The scoring policy in force")), security(("api_key" = [])))]
pub async fn get_policy(State(st): State<SharedState>, auth: Auth) -> Result<Json<Value>, Problem> {
    auth.require(Scope::Agent)?;
    Ok(Json(
        serde_json::to_value(&*policy(&st)).unwrap_or(Value::Null),
    ))
}

#[utoipa::path(post, path = "/v1/policy/reload", tag = "calls",
    responses((status = 200, description = "Reloaded: the new version"),
        (status = 422, description = "`invalid_policy`: the file is wrong; the old policy stays in force", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn reload_policy(
    State(st): State<SharedState>,
    auth: Auth,
) -> Result<Json<Value>, Problem> {
    auth.require(Scope::Admin)?;
    let Some(path) = st.policy_file.clone() else {
        return Err(Problem::unprocessable(
            "invalid_policy",
            "no policy_file is configured; the built-in policy is in force",
        ));
    };
    let p = load_policy(&path).map_err(|e| {
        Problem::unprocessable(
            "invalid_policy",
            format!("{e:#}; the previous policy stays in force"),
        )
    })?;
    let version = p.version.clone();
    if let Ok(mut cur) = st.policy.write() {
        *cur = Arc::new(p);
    }
    tracing::info!(version = %version, "scoring policy reloaded");
    Ok(Json(serde_json::json!({"version": version})))
}

/// This resource's routes, each registered with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(post_call))
        .routes(routes!(get_call))
        .routes(routes!(post_claim))
        .routes(routes!(post_outcome))
        .routes(routes!(post_account_events))
        .routes(routes!(get_policy))
        .routes(routes!(reload_policy))
        .routes(routes!(get_surge))
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_core::score::Policy;

    #[test]
    fn the_shipped_policy_file_is_the_built_in_policy() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policy/default.toml");
        assert_eq!(load_policy(&path).unwrap(), Policy::default());
        let bad = Policy::parse("version = \"x\"\n[weights]\nsim_swapp = 1.0\n");
        assert!(bad.unwrap_err().contains("sim_swapp"));
    }
}
