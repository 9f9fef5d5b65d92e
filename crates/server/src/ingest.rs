//! Ledger ingest: notifications (one object, a JSON array, or NDJSON), delivery-status updates
//! and source watermarks. Every record is validated on its own: a bad one is reported with its
//! index and reason while its good neighbours are stored, and nothing is acknowledged before the
//! store has made it durable.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use countersign_core::validate::{
    format_time, parse_time, validate_notification, validate_status, NotificationIn,
    StatusUpdateIn, ValidationConfig,
};
use countersign_core::{Millis, Notification};
use countersign_store::{IngestOutcome, StatusOutcome};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::auth::Scope;
use crate::metrics::Metrics;
use crate::problem::Problem;
use crate::query::{source_view, SourceView};
use crate::{now_ms, Auth, SharedState};

/// One record of a request body, before parsing.
#[derive(Debug)]
pub struct RawRecord<'a> {
    /// Zero-based position among the request's records.
    pub index: usize,
    /// One-based line number, for NDJSON bodies.
    pub line: Option<usize>,
    /// The record's JSON text, or why it could not be read.
    pub text: Result<&'a str, &'static str>,
}

/// Read a request body within the configured limit.
pub async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, Problem> {
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the request body is over the {max}-byte limit; split it into smaller requests"
            ),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > max {
            return Err(too_large());
        }
    }
    axum::body::to_bytes(body, max)
        .await
        .map_err(|_| too_large())
}

/// Split a body into records by its shape: a JSON array, one object, or NDJSON.
pub fn split_records<'a>(
    headers: &HeaderMap,
    body: &'a [u8],
    max_records: usize,
) -> Result<Vec<RawRecord<'a>>, Problem> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let ndjson_type =
        ctype.contains("ndjson") || ctype.contains("jsonl") || ctype.contains("json-seq");
    if !ctype.is_empty() && !ctype.contains("json") && !ctype.starts_with("text/plain") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send application/json (an object or an array) or application/x-ndjson; got {ctype:?}"),
        ));
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let too_many = |n: usize| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_records",
            format!("{n} records in one request; the limit is {max_records}"),
        )
    };
    let records = if !ndjson_type && first == Some(b'[') {
        let text = std::str::from_utf8(body).map_err(|_| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_utf8",
                "the body is not UTF-8",
            )
        })?;
        let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "malformed_json",
                format!("the JSON array cannot be read ({e}); no record was stored"),
            )
        })?;
        if items.len() > max_records {
            return Err(too_many(items.len()));
        }
        items
            .into_iter()
            .enumerate()
            .map(|(index, v)| RawRecord {
                index,
                line: None,
                text: Ok(v.get()),
            })
            .collect()
    } else {
        let mut out = Vec::new();
        for (i, line) in body.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            if out.len() == max_records {
                let total = out.len()
                    + body[..]
                        .split(|b| *b == b'\n')
                        .skip(i)
                        .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
                        .count();
                return Err(too_many(total));
            }
            out.push(RawRecord {
                index: out.len(),
                line: Some(i + 1),
                text: std::str::from_utf8(line).map_err(|_| "the line is not UTF-8"),
            });
        }
        out
    };
    Ok(records)
}

/// Why one record was not stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordError {
    /// Zero-based position among the request's records.
    pub index: usize,
    /// One-based line number (NDJSON bodies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Stable code, e.g. `missing_field`, `sent_at_in_future`, `conflict`.
    pub code: String,
    pub detail: String,
}

/// The answer to an ingest request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IngestResponse {
    /// Records stored by this request (durable).
    pub accepted: usize,
    /// Records already stored with the same content (retries); nothing written.
    pub duplicates: usize,
    /// Records not stored; each is listed in `errors`.
    pub rejected: usize,
    pub errors: Vec<RecordError>,
}

impl RecordError {
    /// An error for one raw record of a request, with no `(source, id)` known.
    pub fn at(raw: &RawRecord<'_>, code: &str, detail: impl Into<String>) -> RecordError {
        RecordError {
            index: raw.index,
            line: raw.line,
            source: None,
            id: None,
            code: code.into(),
            detail: detail.into(),
        }
    }
}

/// Parse one raw record as `T`: `invalid_utf8`, `record_too_large`, `malformed_json` or
/// `invalid_record` (wrong type, unknown field) otherwise.
pub fn parse_record<T: serde::de::DeserializeOwned>(
    raw: &RawRecord<'_>,
    max_bytes: usize,
) -> Result<T, (&'static str, String)> {
    let text = raw.text.map_err(|e| ("invalid_utf8", e.to_string()))?;
    if text.len() > max_bytes {
        return Err((
            "record_too_large",
            format!(
                "the record is {} bytes; the limit is {max_bytes}",
                text.len()
            ),
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            ("invalid_record", e.to_string())
        } else {
            ("malformed_json", e.to_string())
        }
    })
}

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
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>, Problem> {
    auth.require(Scope::Ingest)?;
    let started = Instant::now();
    let bytes = read_body(&headers, body, st.limits.max_body_bytes).await?;
    let raws = split_records(&headers, &bytes, st.limits.max_records_per_request)?;
    let mut prepared = prepare_batch(&raws, &st.validation, st.limits.max_record_bytes, now_ms());
    let batch = std::mem::take(&mut prepared.valid);
    // Genuine texts of a kind a campaign spoofs, found before the batch moves into the store.
    let spoofed = crate::smish::spoofed_in(&st, &batch);
    let outcomes = st
        .store
        .ingest(batch, now_ms())
        .await
        .map_err(Problem::store)?;
    crate::smish::warn_spoofed(&st, spoofed, &outcomes);
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
    headers: HeaderMap,
    body: Body,
) -> Result<Json<StatusResponse>, Problem> {
    auth.require(Scope::Ingest)?;
    let bytes = read_body(&headers, body, st.limits.max_body_bytes).await?;
    let raws = split_records(&headers, &bytes, st.limits.max_records_per_request)?;
    let now = now_ms();
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
    let outcomes = st
        .store
        .update_status(valid)
        .await
        .map_err(Problem::store)?;
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

/// A source's declaration: everything it sent up to `watermark` has been delivered to the ledger.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WatermarkIn {
    /// RFC 3339. Watermarks never move back; an older one is ignored.
    pub watermark: String,
    /// RFC 3339: the record is complete from this time on (e.g. when a backfill began).
    /// Without it, completeness starts at the source's first acknowledged record.
    #[serde(default)]
    pub complete_since: Option<String>,
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
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SourceView>, Problem> {
    auth.require(Scope::Ingest)?;
    let bytes = read_body(&headers, body, 64 * 1024).await?;
    let w: WatermarkIn = crate::problem::parse_json(&bytes)?;
    let now = now_ms();
    let source = source.trim().to_string();
    if source.is_empty() || source.chars().count() > st.validation.limits.id_chars_max {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_source",
            "the source name is empty or too long",
        ));
    }
    let watermark = parse_time("watermark", &w.watermark).map_err(Problem::invalid)?;
    if watermark > now + st.validation.future_skew_ms {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "watermark_in_future",
            format!(
                "the watermark {} is ahead of the ledger clock ({}); a watermark may only cover what was already sent",
                format_time(watermark),
                format_time(now)
            ),
        ));
    }
    let complete_since = w
        .complete_since
        .as_deref()
        .map(|s| parse_time("complete_since", s))
        .transpose()
        .map_err(Problem::invalid)?;
    if complete_since.is_some_and(|c| c > watermark) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "`complete_since` must not be after `watermark`",
        ));
    }
    let state = st
        .store
        .set_watermark(&source, watermark, complete_since, now)
        .await
        .map_err(Problem::store)?;
    let activity = st
        .store
        .source_activity(now - 3_600_000)
        .await
        .map_err(Problem::store)?;
    let act = activity.into_iter().find(|a| a.source == state.source);
    Ok(Json(source_view(&state, act.as_ref(), &st.verify, now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
        h
    }

    #[test]
    fn body_shapes() {
        let r = split_records(&h("application/json"), br#"{"a":1}"#, 10).unwrap();
        assert_eq!(r.len(), 1);
        let r =
            split_records(&h("application/json"), br#" [{"a":1}, {"b":[1,2]}, 3]"#, 10).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].text, Ok(r#"{"b":[1,2]}"#));
        let r = split_records(
            &h("application/x-ndjson"),
            b"{\"a\":1}\n\n{bad\n{\"c\":3}\n",
            10,
        )
        .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].line, Some(3));
        assert_eq!(r[2].index, 2);
        let e = split_records(&h("application/x-ndjson"), b"{}\n{}\n{}\n", 2).unwrap_err();
        assert_eq!(e.code, "too_many_records");
        assert!(e.detail.starts_with("3 records"), "{}", e.detail);
        assert_eq!(
            split_records(&h("application/json"), b"[{}, ", 10)
                .unwrap_err()
                .code,
            "malformed_json"
        );
        assert_eq!(
            split_records(&h("text/csv"), b"a,b", 10).unwrap_err().code,
            "unsupported_media_type"
        );
        assert_eq!(
            split_records(&HeaderMap::new(), b"{}\n{}", 10)
                .unwrap()
                .len(),
            2
        );
    }
}
