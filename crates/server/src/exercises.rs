//! Exercises over HTTP: `DELETE /v1/exercises/{run}` removes everything an exercise run wrote
//! (admin scope; audit-logged). The runner itself is the CLI (`countersign exercise`), a client
//! of the public API like any other.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use countersign_core::namespace::valid_run_id;
use countersign_store::AuditEntry;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Scope;
use crate::http::Path;
use crate::problem::Problem;
use crate::{Auth, SharedState};

/// Records removed, per table group.
#[derive(Debug, Serialize, ToSchema)]
pub struct Removed {
    pub notifications: u64,
    pub sources: u64,
    pub customers: u64,
    pub calls: u64,
    pub claim_verdicts: u64,
    pub account_events: u64,
    pub smish_reports: u64,
    pub campaigns_retired: u64,
    pub alerts: u64,
    pub text_checks: u64,
}

/// What a purge removed and what it kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurgeAnswer {
    pub run: String,
    pub removed: Removed,
    /// Records removed in all.
    pub total: u64,
    /// The run's smishing reports kept because real reports share their campaign.
    pub kept_reports: u64,
    /// Why anything was kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[utoipa::path(delete, path = "/v1/exercises/{run}", tag = "exercises",
    params(("run" = String, Path, description = "The run id (`ex-…`), as `countersign exercise run` printed it")),
    responses(
        (status = 200, description = "Everything keyed in the run's namespace removed (a second purge removes nothing)", body = PurgeAnswer),
        (status = 422, description = "`invalid_run`: not a run id", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn delete_exercise(
    State(st): State<SharedState>,
    auth: Auth,
    Path(run): Path<String>,
) -> Result<Json<PurgeAnswer>, Problem> {
    let who = auth.require(Scope::Admin)?.name.clone();
    if !valid_run_id(&run) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_run",
            format!(
                "{run:?} is not an exercise run id: `ex-` then lower-case letters, digits and dashes, at most {} characters",
                countersign_core::namespace::RUN_ID_MAX
            ),
        ));
    }
    let p = crate::services::exercises::purge(&st, &run).await?;
    let c = p.counts;
    let total = c.total();
    st.store
        .audit(AuditEntry {
            at: st.now(),
            actor: who,
            action: "exercise_purge".into(),
            customer_id: None,
            detail: Some(format!("{run}: {total} records removed")),
        })
        .await?;
    tracing::info!(
        run,
        total,
        kept_reports = p.kept_reports,
        "exercise run purged"
    );
    Ok(Json(PurgeAnswer {
        note: (p.kept_reports > 0).then(|| {
            "reports kept: real reports joined their campaign after them, and removing them would change that campaign".into()
        }),
        run,
        total,
        kept_reports: p.kept_reports,
        removed: Removed {
            notifications: c.notifications,
            sources: c.sources,
            customers: c.customers,
            calls: c.calls,
            claim_verdicts: c.claim_verdicts,
            account_events: c.account_events,
            smish_reports: c.smish_reports,
            campaigns_retired: c.campaigns_retired,
            alerts: c.alerts,
            text_checks: c.text_checks,
        },
    }))
}

pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(delete_exercise))
}
