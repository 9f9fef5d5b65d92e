//! Exercises over HTTP: `DELETE /v1/exercises/{run}` removes everything an exercise run wrote
//! (admin scope; audit-logged); `PUT /v1/exercises/{run}/report` keeps a run's after-action
//! report for the console's exercise page, `GET /v1/exercises` lists runs and
//! `GET /v1/exercises/{run}/report` answers one. The runner itself is the CLI
//! (`countersign exercise`), a client of the public API like any other.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use countersign_core::namespace::valid_run_id;
use countersign_exercise::aar::Aar;
use countersign_store::AuditEntry;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Scope;
use crate::http::{JsonBody, Path};
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
    params(("run" = String, Path, pattern = r"^ex-[a-z0-9-]{1,45}$", description = "The run id (`ex-…`), as `countersign exercise run` printed it")),
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
    check_run(&run)?;
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

fn check_run(run: &str) -> Result<(), Problem> {
    if valid_run_id(run) {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_run",
        format!(
            "{run:?} is not an exercise run id: `ex-` then lower-case letters, digits and dashes, at most {} characters",
            countersign_core::namespace::RUN_ID_MAX
        ),
    ))
}

/// A run in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunSummary {
    pub run: String,
    pub exercise: String,
    pub started_at: String,
    /// The lowest rating of any objective.
    pub overall: String,
}

#[utoipa::path(put, path = "/v1/exercises/{run}/report", tag = "exercises",
    params(("run" = String, Path, pattern = r"^ex-[a-z0-9-]{1,45}$", description = "The run id (`ex-…`)")),
    request_body(content = Object, description = "The run's `aar.json`, as `countersign exercise run` wrote it"),
    responses(
        (status = 204, description = "Stored (a later report for the same run replaces it)"),
        (status = 422, description = "`invalid_run`, `invalid_report` (not an after-action report, or for another run)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn put_report(
    State(st): State<SharedState>,
    auth: Auth,
    Path(run): Path<String>,
    JsonBody(doc): JsonBody<serde_json::Value>,
) -> Result<StatusCode, Problem> {
    auth.require(Scope::Admin)?;
    check_run(&run)?;
    let invalid = |d: String| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_report", d);
    let aar: Aar = serde_json::from_value(doc)
        .map_err(|e| invalid(format!("not an after-action report: {e}")))?;
    if aar.run != run {
        return Err(invalid(format!(
            "the report is for run {:?}, not {run:?}",
            aar.run
        )));
    }
    let started_at = countersign_core::validate::parse_time("started_at", &aar.started_at)
        .map_err(|r| invalid(r.detail))?;
    st.store
        .put_exercise_report(countersign_store::ExerciseReportRow {
            run,
            started_at,
            name: aar.exercise.clone(),
            overall: aar.overall.as_str().to_string(),
            doc: crate::problem::to_json(&aar)?,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/exercises", tag = "exercises",
    responses((status = 200, description = "The latest 200 runs with a stored report, newest first", body = [RunSummary])),
    security(("api_key" = [])))]
pub async fn list_runs(
    State(st): State<SharedState>,
    auth: Auth,
) -> Result<Json<Vec<RunSummary>>, Problem> {
    auth.require(Scope::Agent)?;
    Ok(Json(runs(&st).await?))
}

/// The latest runs, newest first.
pub async fn runs(st: &SharedState) -> Result<Vec<RunSummary>, Problem> {
    Ok(st
        .store
        .exercise_reports(200)
        .await?
        .into_iter()
        .map(|r| RunSummary {
            run: r.run,
            exercise: r.name,
            started_at: countersign_core::validate::format_time(r.started_at),
            overall: r.overall,
        })
        .collect())
}

/// One run's report, if stored and readable.
pub async fn report(st: &SharedState, run: &str) -> Result<Option<Aar>, Problem> {
    Ok(st
        .store
        .exercise_report(run)
        .await?
        .and_then(|r| serde_json::from_str(&r.doc).ok()))
}

#[utoipa::path(get, path = "/v1/exercises/{run}/report", tag = "exercises",
    params(("run" = String, Path, pattern = r"^ex-[a-z0-9-]{1,45}$")),
    responses(
        (status = 200, description = "The run's after-action report (`aar.json`)", body = Object),
        (status = 404, description = "`unknown_run`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_run`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn get_report(
    State(st): State<SharedState>,
    auth: Auth,
    Path(run): Path<String>,
) -> Result<Json<Aar>, Problem> {
    auth.require(Scope::Agent)?;
    check_run(&run)?;
    report(&st, &run).await?.map(Json).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "unknown_run",
            format!("no report for run {run:?}"),
        )
    })
}

pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(delete_exercise))
        .routes(routes!(put_report, get_report))
        .routes(routes!(list_runs))
}
