//! Sender-ID protection over HTTP: the brand registry (`/v1/brands`), verdicts on messages in
//! transit (`/v1/sms/evaluate`), and the lookalike audit with its blocked-variant export
//! (`/v1/brands/{brand}/variants`). The compiled registry is swapped atomically on every change.

use std::sync::Arc;

use crate::http::{Path, Query};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use countersign_core::sender::{
    block_campaign_contacts, evaluate, validate_brand, BrandIn, Registry, SmsIn, SmsVerdict,
};
use countersign_core::variants::{audit, AuditReport};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Scope;
use crate::http::read_body;
use crate::problem::{parse_json, Problem};
use crate::{now_ms, Auth, SharedState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Rebuild the compiled registry from the store. Entries that no longer validate (a stricter
/// build) are skipped with a warning rather than taking the filter down.
pub async fn reload_registry(st: &SharedState) -> Result<Arc<Registry>, Problem> {
    let rows = st.store.brands().await?;
    let mut brands = Vec::with_capacity(rows.len());
    for (name, spec) in rows {
        match serde_json::from_str::<BrandIn>(&spec)
            .map_err(|e| e.to_string())
            .and_then(|s| validate_brand(&name, s, &st.validation.extract).map_err(|r| r.detail))
        {
            Ok(b) => brands.push(b),
            Err(e) => {
                tracing::warn!(brand = %name, error = %e, "stored brand no longer validates; skipped")
            }
        }
    }
    let reg = Arc::new(Registry::new(brands, st.sms_policy.clone()));
    crate::services::campaigns::refresh_brand_names(st, &reg);
    if let Ok(mut r) = st.registry.write() {
        *r = reg.clone();
    }
    Ok(reg)
}

pub(crate) fn registry(st: &SharedState) -> Arc<Registry> {
    st.registry
        .read()
        .map(|r| r.clone())
        .unwrap_or_else(|p| p.into_inner().clone())
}

/// A brand as stored, with what the registry made of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrandView {
    pub brand: String,
    /// The brand's spec, as `PUT /v1/brands/{brand}` takes it (`BrandIn`), beside `brand`.
    /// (Documented as an open object: `BrandIn` itself refuses unknown fields, `brand` among them.)
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub spec: BrandIn,
}

#[utoipa::path(put, path = "/v1/brands/{brand}", tag = "sender-ids",
    params(("brand" = String, Path, description = "Letters, digits, `-`, `_`, `.`")),
    request_body = BrandIn,
    responses(
        (status = 201, description = "Created", body = BrandView),
        (status = 200, description = "Replaced", body = BrandView),
        (status = 422, description = "`sender_id_too_long`, `sender_id_not_gsm7`, `invalid_sender_id`, `invalid_template`, `invalid_domain`, `invalid_callback_number`, `invalid_policy`, `invalid_brand_name`, `missing_field`, `invalid_request`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn put_brand(
    State(st): State<SharedState>,
    auth: Auth,
    Path(brand): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    auth.require(Scope::Admin)?;
    let bytes = read_body(&headers, body, 1024 * 1024, st.limits.body_timeout()).await?;
    let spec: BrandIn = parse_json(&bytes)?;
    validate_brand(&brand, spec.clone(), &st.validation.extract).map_err(Problem::invalid)?;
    let json = crate::problem::to_json(&spec)?;
    let created = st.store.put_brand(&brand, json, now_ms()).await?;
    reload_registry(&st).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(BrandView { brand, spec })).into_response())
}

#[utoipa::path(get, path = "/v1/brands", tag = "sender-ids",
    responses((status = 200, body = [BrandView])), security(("api_key" = [])))]
pub async fn list_brands(
    State(st): State<SharedState>,
    auth: Auth,
) -> Result<Json<Vec<BrandView>>, Problem> {
    auth.require_any(&[Scope::Sms, Scope::Agent])?;
    let reg = registry(&st);
    let mut out: Vec<BrandView> = reg
        .brands
        .values()
        .map(|b| BrandView {
            brand: b.name.clone(),
            spec: b.spec.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.brand.cmp(&b.brand));
    Ok(Json(out))
}

fn unknown_brand(brand: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "unknown_brand",
        format!("no brand {brand:?} is registered"),
    )
}

#[utoipa::path(get, path = "/v1/brands/{brand}", tag = "sender-ids",
    params(("brand" = String, Path)),
    responses((status = 200, body = BrandView), (status = 404, description = "`unknown_brand`", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn get_brand(
    State(st): State<SharedState>,
    auth: Auth,
    Path(brand): Path<String>,
) -> Result<Json<BrandView>, Problem> {
    auth.require_any(&[Scope::Sms, Scope::Agent])?;
    let reg = registry(&st);
    let b = reg
        .brands
        .get(&brand)
        .ok_or_else(|| unknown_brand(&brand))?;
    Ok(Json(BrandView {
        brand,
        spec: b.spec.clone(),
    }))
}

#[utoipa::path(delete, path = "/v1/brands/{brand}", tag = "sender-ids",
    params(("brand" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, description = "`unknown_brand`", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn delete_brand(
    State(st): State<SharedState>,
    auth: Auth,
    Path(brand): Path<String>,
) -> Result<StatusCode, Problem> {
    auth.require(Scope::Admin)?;
    if !st.store.delete_brand(&brand).await? {
        return Err(unknown_brand(&brand));
    }
    reload_registry(&st).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The answer to `POST /v1/sms/evaluate`: one verdict for one message, or the batch's results.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EvaluateAnswer {
    One(SmsVerdict),
    Batch(SmsBatchResult),
}

/// Answers to a batch, in order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SmsBatchResult {
    pub results: Vec<SmsResult>,
}

/// One message's verdict, or why it could not be judged.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SmsResult {
    Verdict(SmsVerdict),
    Error {
        index: usize,
        code: String,
        detail: String,
    },
}

fn judge(
    st: &SharedState,
    reg: &Registry,
    blocked: &countersign_core::campaign::Blocked,
    raw: &RawValue,
    index: usize,
) -> SmsResult {
    let err = |code: &str, detail: String| SmsResult::Error {
        index,
        code: code.into(),
        detail,
    };
    let m: SmsIn = match serde_json::from_str(raw.get()) {
        Ok(m) => m,
        Err(e) => return err("invalid_record", e.to_string()),
    };
    let Some(sender) = m.sender.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return err("missing_field", "`sender` is required".into());
    };
    let body = m.body.as_deref().unwrap_or("");
    if body.chars().count() > 1600 {
        return err(
            "field_too_long",
            "`body` is over 1600 characters (10 concatenated segments)".into(),
        );
    }
    let mut v = evaluate(sender, body, reg, &st.validation.extract);
    block_campaign_contacts(&mut v, body, blocked, &st.validation.extract);
    SmsResult::Verdict(v)
}

#[utoipa::path(post, path = "/v1/sms/evaluate", tag = "sender-ids",
    request_body(description = "One message, or a JSON array of messages (batch).", content((SmsIn = "application/json"))),
    responses(
        (status = 200, description = "One verdict for one message; `{results: [...]}` in order for a batch", body = EvaluateAnswer),
        (status = 413, description = "`body_too_large`, `too_many_records`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`missing_field`, `invalid_request`, `malformed_json`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn post_evaluate(
    State(st): State<SharedState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    auth.require(Scope::Sms)?;
    let bytes = read_body(
        &headers,
        body,
        st.limits.max_body_bytes,
        st.limits.body_timeout(),
    )
    .await?;
    let reg = registry(&st);
    let blocked = crate::services::campaigns::blocked(&st);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first == Some(b'[') {
        let items: Vec<&RawValue> = parse_json(&bytes)?;
        if items.len() > st.limits.max_records_per_request {
            return Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_records",
                format!(
                    "{} messages in one request; the limit is {}",
                    items.len(),
                    st.limits.max_records_per_request
                ),
            ));
        }
        let results = items
            .iter()
            .enumerate()
            .map(|(i, r)| judge(&st, &reg, &blocked, r, i))
            .collect();
        return Ok(Json(SmsBatchResult { results }).into_response());
    }
    let raw: &RawValue = parse_json(&bytes)?;
    match judge(&st, &reg, &blocked, raw, 0) {
        SmsResult::Verdict(v) => Ok(Json(v).into_response()),
        SmsResult::Error { code, detail, .. } => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            &code,
            detail,
        )),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VariantParams {
    /// `json` (the report), `text` (readable), or `csv` (the blocked-variant list a carrier's
    /// SMS firewall loads).
    pub format: Option<String>,
}

#[utoipa::path(get, path = "/v1/brands/{brand}/variants", tag = "sender-ids",
    params(("brand" = String, Path), VariantParams),
    responses(
        (status = 200, description = "The audit: coverage per family, misses, false-positive rate (JSON); or the report as text; or the blocked-variant CSV", body = AuditReport),
        (status = 404, description = "`unknown_brand`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn get_variants(
    State(st): State<SharedState>,
    auth: Auth,
    Path(brand): Path<String>,
    Query(q): Query<VariantParams>,
) -> Result<Response, Problem> {
    auth.require_any(&[Scope::Sms, Scope::Admin])?;
    let reg = registry(&st);
    if !reg.brands.contains_key(&brand) {
        return Err(unknown_brand(&brand));
    }
    let legit = st.legit_sender_ids.clone();
    let extract = st.validation.extract;
    let (reg2, brand2) = (reg.clone(), brand.clone());
    let report = tokio::task::spawn_blocking(move || {
        audit(&reg2, &brand2, Some(legit.as_slice()), &extract)
    })
    .await
    .map_err(Problem::internal)?
    .ok_or_else(|| unknown_brand(&brand))?;
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(report).into_response()),
        "text" => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            report.render(),
        )
            .into_response()),
        "csv" => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{brand}-blocked-variants.csv\""),
                ),
            ],
            report.export_csv(),
        )
            .into_response()),
        other => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("format {other:?}: use json, text or csv"),
        )),
    }
}

/// This resource's routes, each registered with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(list_brands))
        .routes(routes!(get_brand, put_brand, delete_brand))
        .routes(routes!(get_variants))
        .routes(routes!(post_evaluate))
}
