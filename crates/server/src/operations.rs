//! Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document, and the
//! problem answers for unknown routes and methods.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Scope;
use crate::http::Query;
use crate::problem::Problem;
use crate::{Auth, SharedState};
use countersign_core::validate::format_time;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "The store answers", body = Health),
    (status = 503, description = "`store_unavailable`", body = Problem, content_type = "application/problem+json")))]
pub async fn readyz(State(st): State<SharedState>) -> Result<Json<Health>, Problem> {
    st.store.ping().await?;
    Ok(Json(Health {
        status: "ready",
        version: env!("CARGO_PKG_VERSION"),
    }))
}

/// Every node sharing the store, from the last heartbeat: how long since each checked in (a node
/// past a few seconds is down or cut off from the database), and how many are alive.
fn nodes_metrics(st: &SharedState, now: countersign_core::Millis) -> String {
    let nodes = st.nodes.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut out = String::from(
        "# HELP countersign_node_heartbeat_age_seconds Seconds since each node sharing the database last checked in (every second while it runs).\n\
         # TYPE countersign_node_heartbeat_age_seconds gauge\n",
    );
    let mut alive = 0;
    for n in &nodes {
        let age = (now - n.last_seen_at).max(0) as f64 / 1000.0;
        alive += u32::from(age <= 10.0);
        let name = n.node.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str(&format!(
            "countersign_node_heartbeat_age_seconds{{node=\"{name}\",version=\"{}\",this=\"{}\"}} {age}\n",
            n.version,
            u8::from(n.node == st.node)
        ));
    }
    out.push_str(&format!(
        "# HELP countersign_nodes_alive Nodes that checked in within 10 seconds.\n# TYPE countersign_nodes_alive gauge\ncountersign_nodes_alive {alive}\n"
    ));
    out
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")),
    security(("api_key" = [])))]
pub async fn metrics(State(st): State<SharedState>, auth: Auth) -> Result<Response, Problem> {
    auth.require(Scope::Admin)?;
    let stats = st.store.stats().await?;
    let mut text = st.metrics.render(stats.notifications, stats.bytes_on_disk);
    let s = crate::calls::surge(&st, crate::now_ms()).await?;
    text.push_str(&format!(
        "# TYPE countersign_not_sent_last_hour gauge\ncountersign_not_sent_last_hour {}\n\
         # TYPE countersign_not_sent_surge_ratio gauge\ncountersign_not_sent_surge_ratio {}\n\
         # TYPE countersign_not_sent_surge_active gauge\ncountersign_not_sent_surge_active {}\n",
        s.last_hour,
        s.ratio,
        u8::from(s.active)
    ));
    if st.store.shared() {
        text.push_str(&nodes_metrics(&st, crate::now_ms()));
    }
    text.push_str(&st.kafka.render());
    if let Some(v) = &st.stir {
        text.push_str(&v.render());
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "This document")))]
pub async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document()
            .to_pretty_json()
            .unwrap_or_default(),
    )
        .into_response()
}

/// Past `limits.max_connections`: come back later (health checks are still answered).
pub async fn server_busy() -> Problem {
    let mut p = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_busy",
        "the server is at its connection limit; retry shortly",
    );
    p.retry_after_secs = Some(1);
    p
}

pub async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /openapi.json",
    )
}

pub async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; see /openapi.json",
    )
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
    let log = st.store.audit_log(limit).await?;
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

/// The server's clock, set by a simulation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockIn {
    /// RFC 3339.
    pub now: String,
}

#[utoipa::path(
    put, path = "/v1/admin/clock", tag = "operations",
    request_body = ClockIn,
    responses(
        (status = 204, description = "Every decision from now on is taken at this time"),
        (status = 409, description = "`clock_not_settable`: the server runs on the system clock (`settable_clock` is off)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_time`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn put_clock(
    State(st): State<SharedState>,
    auth: Auth,
    crate::http::JsonBody(c): crate::http::JsonBody<ClockIn>,
) -> Result<axum::http::StatusCode, Problem> {
    auth.require(Scope::Admin)?;
    let at = countersign_core::validate::parse_time("now", &c.now).map_err(Problem::invalid)?;
    if !matches!(st.clock, crate::state::Clock::Manual(_)) {
        return Err(Problem::new(
            axum::http::StatusCode::CONFLICT,
            "clock_not_settable",
            "this server runs on the system clock; `settable_clock = true` is for simulation servers only",
        ));
    }
    st.set_now(at);
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// This resource's routes, each registered with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
        .routes(routes!(get_audit_log))
        .routes(routes!(put_clock))
}
