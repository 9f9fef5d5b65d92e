//! Ledger ingest: notifications (one object, a JSON array, or NDJSON), delivery-status updates
//! and source watermarks. Every record is validated on its own: a bad one is reported with its
//! index and reason while its good neighbours are stored, and nothing is acknowledged before the
//! store has made it durable.

use std::time::Instant;

use crate::http::Path;
use crate::http::{JsonBody, RecordsBody};
use axum::extract::State;
use axum::Json;
use countersign_core::validate::{
    format_time, validate_notification, validate_status, validate_watermark, NotificationIn,
    StatusUpdateIn, ValidationConfig, WatermarkIn,
};
use countersign_core::{Millis, Notification};
use countersign_store::{IngestOutcome, StatusOutcome};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Scope;
use crate::http::{parse_record, IngestResponse, RawRecord, RecordError};
use crate::metrics::Metrics;
use crate::problem::Problem;
pub use crate::services::feeds::{source_view, source_views, SourceView};
use crate::{Auth, SharedState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Best effort `(source, id)` of an unparseable record, to help the producer find it.
fn key_of(raw: &RawRecord<'_>) -> (Option<String>, Option<String>) {
    #[derive(Deserialize)]
    struct Key {
        source: Option<String>,
        id: Option<String>,
    }
    match raw
        .text
        .ok()
        .and_then(|t| serde_json::from_str::<Key>(t).ok())
    {
        Some(k) => (k.source, k.id),
        None => (None, None),
    }
}

/// Where a record sat in its request: index, line, source, id.
type Position = (usize, Option<usize>, Option<String>, Option<String>);

/// A batch parsed and validated, ready for the store.
pub struct Prepared {
    pub valid: Vec<Notification>,
    /// For each valid record: its index, line, source and id in the request.
    positions: Vec<Position>,
    errors: Vec<RecordError>,
}

/// Parse and validate every record on its own; bad ones become errors, good ones go on.
pub fn prepare_batch(
    raws: &[RawRecord<'_>],
    cfg: &ValidationConfig,
    max_record_bytes: usize,
    now: Millis,
) -> Prepared {
    let mut p = Prepared {
        valid: Vec::with_capacity(raws.len()),
        positions: Vec::with_capacity(raws.len()),
        errors: Vec::new(),
    };
    for raw in raws {
        match parse_record::<NotificationIn>(raw, max_record_bytes) {
            Err((code, detail)) => {
                let (source, id) = key_of(raw);
                p.errors.push(RecordError {
                    index: raw.index,
                    line: raw.line,
                    source,
                    id,
                    code: code.into(),
                    detail,
                });
            }
            Ok(rec) => match validate_notification(&rec, cfg, now) {
                Ok(n) => {
                    p.valid.push(n);
                    p.positions.push((raw.index, raw.line, rec.source, rec.id));
                }
                Err(r) => p.errors.push(RecordError {
                    index: raw.index,
                    line: raw.line,
                    source: rec.source,
                    id: rec.id,
                    code: r.code.into(),
                    detail: r.detail,
                }),
            },
        }
    }
    p
}

impl Prepared {
    /// Combine the store's outcomes (one per valid record) with the validation errors.
    pub fn finish(self, outcomes: Vec<IngestOutcome>) -> IngestResponse {
        let mut errors = self.errors;
        let (mut accepted, mut duplicates) = (0, 0);
        for (o, (index, line, source, id)) in outcomes.into_iter().zip(self.positions) {
            match o {
                IngestOutcome::Accepted => accepted += 1,
                IngestOutcome::Duplicate => duplicates += 1,
                IngestOutcome::Conflict => errors.push(RecordError {
                    index,
                    line,
                    source,
                    id,
                    code: "conflict".into(),
                    detail: "a different record is already stored under this (source, id); records are immutable — \
                             send status changes to /v1/notifications/status"
                        .into(),
                }),
            }
        }
        errors.sort_by_key(|e| e.index);
        IngestResponse {
            accepted,
            duplicates,
            rejected: errors.len(),
            errors,
        }
    }
}

#[utoipa::path(
    post, path = "/v1/notifications", tag = "ledger",
    request_body(description = "One record, a JSON array of records, or NDJSON (`application/x-ndjson`), one record per line.",
        content((Vec<NotificationIn> = "application/json"), (NotificationIn = "application/x-ndjson"))),
    responses(
        (status = 200, description = "Processed; counts, and each rejected record with its index and reason", body = IngestResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`body_too_large` or `too_many_records`", body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`malformed_json`: the array itself cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`: nothing acknowledged", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn post_notifications(
    State(st): State<SharedState>,
    auth: Auth,
    body: RecordsBody,
) -> Result<Json<IngestResponse>, Problem> {
    auth.require(Scope::Ingest)?;
    let started = Instant::now();
    let raws = body.split(st.limits.max_records_per_request)?;
    let mut prepared = prepare_batch(&raws, &st.validation, st.limits.max_record_bytes, st.now());
    let batch = std::mem::take(&mut prepared.valid);
    // Genuine texts of a kind a campaign spoofs, found before the batch moves into the store.
    let spoofed = crate::services::campaigns::spoofed_in(&st, &batch);
    let outcomes = st.store.ingest(batch, st.now()).await?;
    crate::services::campaigns::warn_spoofed(&st, spoofed, &outcomes);
    let resp = prepared.finish(outcomes);
    let m = &st.metrics;
    Metrics::add(&m.ingest_requests, 1);
    Metrics::add(&m.records_accepted, resp.accepted as u64);
    Metrics::add(&m.records_duplicate, resp.duplicates as u64);
    Metrics::add(&m.records_rejected, resp.rejected as u64);
    m.ingest_latency.record(started.elapsed());
    Ok(Json(resp))
}
/// The answer to a status-update request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusResponse {
    pub updated: usize,
    /// Updates naming no stored notification.
    pub not_found: usize,
    pub rejected: usize,
    /// Rejected and not-found updates, with their index and reason.
    pub errors: Vec<RecordError>,
}

#[utoipa::path(
    post, path = "/v1/notifications/status", tag = "ledger",
    request_body(description = "One update, a JSON array, or NDJSON.",
        content((Vec<StatusUpdateIn> = "application/json"), (StatusUpdateIn = "application/x-ndjson"))),
    responses(
        (status = 200, body = StatusResponse),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn post_status(
    State(st): State<SharedState>,
    auth: Auth,
    body: RecordsBody,
) -> Result<Json<StatusResponse>, Problem> {
    auth.require(Scope::Ingest)?;
    let raws = body.split(st.limits.max_records_per_request)?;
    let now = st.now();
    let mut errors = Vec::new();
    let mut valid = Vec::new();
    let mut positions = Vec::new();
    for raw in &raws {
        let res = parse_record::<StatusUpdateIn>(raw, st.limits.max_record_bytes).and_then(|u| {
            validate_status(&u, &st.validation.limits, now)
                .map_err(|r| (r.code, r.detail))
                .and_then(|v| {
                    if v.at > now + st.validation.future_skew_ms {
                        Err((
                            "at_in_future",
                            format!("`at` {} is ahead of the ledger clock", format_time(v.at)),
                        ))
                    } else {
                        Ok(v)
                    }
                })
        });
        match res {
            Ok(u) => {
                positions.push((raw.index, raw.line, u.source.clone(), u.id.clone()));
                valid.push(u);
            }
            Err((code, detail)) => {
                let (source, id) = key_of(raw);
                errors.push(RecordError {
                    index: raw.index,
                    line: raw.line,
                    source,
                    id,
                    code: code.into(),
                    detail,
                });
            }
        }
    }
    let rejected = errors.len();
    let outcomes = st.store.update_status(valid).await?;
    let (mut updated, mut not_found) = (0, 0);
    for (o, (index, line, source, id)) in outcomes.into_iter().zip(positions) {
        match o {
            StatusOutcome::Updated => updated += 1,
            StatusOutcome::NotFound => {
                not_found += 1;
                errors.push(RecordError {
                    index,
                    line,
                    source: Some(source),
                    id: Some(id),
                    code: "not_found".into(),
                    detail: "no stored notification has this (source, id)".into(),
                })
            }
        }
    }
    errors.sort_by_key(|e| e.index);
    Ok(Json(StatusResponse {
        updated,
        not_found,
        rejected,
        errors,
    }))
}

#[utoipa::path(
    post, path = "/v1/sources/{source}/watermark", tag = "ledger",
    params(("source" = String, Path, description = "The source's name, as in its records")),
    request_body = WatermarkIn,
    responses(
        (status = 200, description = "The source's state after the update", body = SourceView),
        (status = 422, description = "`invalid_time`, `watermark_in_future`, `invalid_request`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn post_watermark(
    State(st): State<SharedState>,
    auth: Auth,
    Path(source): Path<String>,
    JsonBody(w): JsonBody<WatermarkIn>,
) -> Result<Json<SourceView>, Problem> {
    auth.require(Scope::Ingest)?;
    let now = st.now();
    let (source, watermark, complete_since) =
        validate_watermark(&source, &w, now, &st.validation).map_err(Problem::invalid)?;
    let state = st
        .store
        .set_watermark(&source, watermark, complete_since, now)
        .await?;
    let activity = st.store.source_activity(now - 3_600_000).await?;
    let act = activity.into_iter().find(|a| a.source == state.source);
    Ok(Json(source_view(&state, act.as_ref(), &st.verify, now)))
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
    Ok(Json(source_views(&st, st.now()).await?))
}

/// This resource's routes, each registered with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(post_notifications))
        .routes(routes!(post_status))
        .routes(routes!(post_watermark))
        .routes(routes!(get_sources))
}
