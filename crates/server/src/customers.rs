//! Customer profiles over HTTP: `PUT /v1/customers/{id}`, bulk `POST /v1/customers` (object,
//! array or NDJSON, per-record errors), and `GET /v1/customers/{id}` — the profile plus the numbers
//! the ledger has texted, marked as learned rather than on file. Reads are audit-logged.

use crate::http::Path;
use crate::http::{JsonBody, RecordsBody};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use countersign_core::profile::{validate_profile, Contacts, Profile, ProfileIn};
use countersign_core::validate::required;
use countersign_core::{Channel, Millis};
use countersign_store::AuditEntry;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Scope;
use crate::http::{parse_record, IngestResponse, RecordError};
use crate::problem::Problem;
use crate::{Auth, SharedState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A customer id in the path: 1 to the configured `id_chars_max` characters.
pub(crate) fn check_id(id: &str, max: usize) -> Result<(), Problem> {
    if id.trim().is_empty() || id.chars().count() > max {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_customer_id",
            format!("a customer id is 1–{max} characters"),
        ));
    }
    Ok(())
}

#[utoipa::path(put, path = "/v1/customers/{customer_id}", tag = "customers",
    params(("customer_id" = String, Path)),
    request_body = ProfileIn,
    responses(
        (status = 201, description = "Created", body = Profile),
        (status = 200, description = "Replaced", body = Profile),
        (status = 422, description = "`invalid_phone`, `invalid_email`, `invalid_locale`, `too_many_contacts`, `invalid_request`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn put_customer(
    State(st): State<SharedState>,
    auth: Auth,
    Path(customer_id): Path<String>,
    JsonBody(raw): JsonBody<ProfileIn>,
) -> Result<Response, Problem> {
    auth.require(Scope::Ingest)?;
    check_id(&customer_id, st.validation.limits.id_chars_max)?;
    if raw.customer_id.as_deref().is_some_and(|c| c != customer_id) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "`customer_id` in the body differs from the path",
        ));
    }
    let profile = validate_profile(&raw, &st.validation.extract).map_err(Problem::invalid)?;
    let created = st
        .store
        .put_profiles(
            vec![(customer_id, crate::problem::to_json(&profile)?)],
            st.now(),
        )
        .await?;
    let status = if created.first() == Some(&true) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(profile)).into_response())
}

#[utoipa::path(post, path = "/v1/customers", tag = "customers",
    request_body(description = "Profiles with `customer_id`: one object, a JSON array, or NDJSON.",
        content((Vec<ProfileIn> = "application/json"), (ProfileIn = "application/x-ndjson"))),
    responses(
        (status = 200, description = "`accepted` profiles written (created or replaced), each rejected one by index", body = IngestResponse),
        (status = 413, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn post_customers(
    State(st): State<SharedState>,
    auth: Auth,
    body: RecordsBody,
) -> Result<Json<IngestResponse>, Problem> {
    auth.require(Scope::Ingest)?;
    let raws = body.split(st.limits.max_records_per_request)?;
    let mut errors = Vec::new();
    let mut good = Vec::new();
    for raw in &raws {
        let p: ProfileIn = match parse_record(raw, st.limits.max_record_bytes) {
            Ok(p) => p,
            Err((code, detail)) => {
                errors.push(RecordError::at(raw, code, detail));
                continue;
            }
        };
        let id = match required(
            "customer_id",
            &p.customer_id,
            st.validation.limits.id_chars_max,
        ) {
            Ok(id) => id.to_string(),
            Err(r) => {
                errors.push(RecordError::at(raw, r.code, r.detail));
                continue;
            }
        };
        match validate_profile(&p, &st.validation.extract) {
            Ok(v) => good.push((id, crate::problem::to_json(&v)?)),
            Err(r) => errors.push(RecordError {
                id: Some(id),
                ..RecordError::at(raw, r.code, r.detail)
            }),
        }
    }
    let written = st.store.put_profiles(good, st.now()).await?;
    Ok(Json(IngestResponse {
        accepted: written.len(),
        duplicates: 0,
        rejected: errors.len(),
        errors,
    }))
}

/// The customer's contacts for the profile view, from the newest `scan` notifications in
/// retention, and how many notifications were looked at.
async fn contacts(
    st: &SharedState,
    customer_id: &str,
    now: Millis,
    scan: usize,
) -> Result<(Contacts, usize), Problem> {
    let profile = st.store.profile(customer_id).await?;
    let recent = st
        .store
        .customer_notifications(
            customer_id,
            now - st.retention_ms,
            now + st.validation.future_skew_ms,
            scan,
        )
        .await?;
    let seen = recent.len();
    let recipients = recent
        .into_iter()
        .filter(|n| n.record.channel == Channel::Sms)
        .filter_map(|n| n.record.recipient);
    Ok((Contacts::new(profile.as_deref(), recipients), seen))
}

/// What the institution knows about a customer's contact points.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerView {
    pub customer_id: String,
    /// The profile on file, if any.
    pub profile: Option<Profile>,
    /// Numbers the ledger has sent SMS to that are not on file: learned, not verified.
    pub learned_numbers: Vec<String>,
    /// Notifications held for the customer (at most the last 1,000 looked at).
    pub notifications_seen: usize,
}

#[utoipa::path(get, path = "/v1/customers/{customer_id}", tag = "customers",
    params(("customer_id" = String, Path)),
    responses(
        (status = 200, body = CustomerView),
        (status = 404, description = "`unknown_customer`: no profile and no notification", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn get_customer(
    State(st): State<SharedState>,
    auth: Auth,
    Path(customer_id): Path<String>,
) -> Result<Json<CustomerView>, Problem> {
    let who = auth.require(Scope::Agent)?.name.clone();
    let now = st.now();
    let (known, seen) = contacts(&st, &customer_id, now, 1000).await?;
    if known.profile.is_none() && seen == 0 {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "unknown_customer",
            format!("no profile and no notification for {customer_id:?}"),
        ));
    }
    st.store
        .audit(AuditEntry {
            at: now,
            actor: who,
            action: "profile".into(),
            customer_id: Some(customer_id.clone()),
            detail: None,
        })
        .await?;
    Ok(Json(CustomerView {
        customer_id,
        profile: known.profile,
        learned_numbers: known.learned_numbers,
        notifications_seen: seen,
    }))
}

/// This resource's routes, each registered with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(post_customers))
        .routes(routes!(get_customer, put_customer))
}
