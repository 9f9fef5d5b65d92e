//! HTTP plumbing every handler shares: the request body within its limit, a body of many
//! records (object, array or NDJSON) split by `countersign_core::records` with per-record
//! errors, and `Query`/`Path` extractors whose rejections are problem+json like every other
//! error. Knows nothing of any resource.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use countersign_core::records::{self, SplitError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::problem::{parse_json, Problem};
use crate::SharedState;

pub use countersign_core::records::{parse as parse_record, RawRecord};

/// Read a request body within `max` bytes and `timeout` (a client trickling bytes gets
/// `408 body_timeout`, and the connection back).
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    max: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, Problem> {
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
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, max)).await {
        Ok(read) => read.map_err(|_| too_large()),
        Err(_) => Err(Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!(
                "the request body did not arrive within {} s",
                timeout.as_secs()
            ),
        )),
    }
}

/// Split a body of `content_type` into records (`core::records`); the body's problems
/// (`unsupported_media_type`, `invalid_utf8`, `malformed_json`, `too_many_records`) answer for the
/// whole request, a bad record only for itself.
fn split_records<'a>(
    ctype: &str,
    body: &'a [u8],
    max_records: usize,
) -> Result<Vec<RawRecord<'a>>, Problem> {
    records::split(ctype, body, max_records).map_err(|e| match e {
        SplitError::UnsupportedMediaType(ctype) => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send application/json (an object or an array) or application/x-ndjson; got {ctype:?}"),
        ),
        SplitError::InvalidUtf8 => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_utf8",
            "the body is not UTF-8",
        ),
        SplitError::MalformedArray(e) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed_json",
            format!("the JSON array cannot be read ({e}); no record was stored"),
        ),
        SplitError::TooMany { count, max } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_records",
            format!("{count} records in one request; the limit is {max}"),
        ),
    })
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

/// A one-object JSON body, read within `limits.max_json_body_bytes` (`body_too_large`) and
/// parsed into `T` (`malformed_json`, or `invalid_request` naming the field).
pub struct JsonBody<T>(pub T);

impl<T> FromRequest<SharedState> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(req: Request, st: &SharedState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = read_body(
            &parts.headers,
            body,
            st.limits.max_json_body_bytes,
            st.limits.body_timeout(),
        )
        .await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A body of many records (one object, a JSON array, or NDJSON) read within
/// `limits.max_body_bytes`; [`RecordsBody::split`] gives its records, each with its position.
pub struct RecordsBody {
    content_type: String,
    bytes: Bytes,
    /// Its share of the body memory budget, held until the request is answered.
    _budget: tokio::sync::OwnedSemaphorePermit,
}

/// Take a body's share of the memory budget (its declared length, else the largest allowed),
/// waiting up to 2 s; `503 server_busy` when it does not fit.
async fn body_budget(
    st: &SharedState,
    headers: &HeaderMap,
) -> Result<tokio::sync::OwnedSemaphorePermit, Problem> {
    let max = st.limits.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(max)
        .min(max);
    let total = st.limits.body_budget_kib();
    let kib = u32::try_from((declared / 1024).clamp(1, total.max(1))).unwrap_or(u32::MAX);
    match tokio::time::timeout(
        std::time::Duration::from_secs(2),
        st.body_budget.clone().acquire_many_owned(kib),
    )
    .await
    {
        Ok(Ok(permit)) => Ok(permit),
        _ => {
            let mut p = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                "other large request bodies are being read (limits.max_concurrent_body_bytes); retry shortly",
            );
            p.retry_after_secs = Some(1);
            Err(p)
        }
    }
}

impl FromRequest<SharedState> for RecordsBody {
    type Rejection = Problem;

    async fn from_request(req: Request, st: &SharedState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let budget = body_budget(st, &parts.headers).await?;
        let bytes = read_body(
            &parts.headers,
            body,
            st.limits.max_body_bytes,
            st.limits.body_timeout(),
        )
        .await?;
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        Ok(RecordsBody {
            content_type,
            bytes,
            _budget: budget,
        })
    }
}

impl RecordsBody {
    /// The records, at most `max_records`.
    pub fn split(&self, max_records: usize) -> Result<Vec<RawRecord<'_>>, Problem> {
        split_records(&self.content_type, &self.bytes, max_records)
    }
}

/// Query-string parameters, like axum's `Query`, but a bad parameter is a problem+json 422
/// (`invalid_query`) naming it.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| rejected("invalid_query", "query string", e.body_text()))
    }
}

/// Path parameters, like axum's `Path`, but a bad segment is a problem+json 422
/// (`invalid_path`) naming it.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| rejected("invalid_path", "path", e.body_text()))
    }
}

/// The framework's rejection of a query or path, in the one envelope.
fn rejected(code: &str, what: &str, why: String) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        code,
        format!("{what}: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shapes are `core::records`' table; here, each body problem's status and code.
    #[test]
    fn body_problems_are_specific() {
        for (ctype, body, max, code, status) in [
            (
                "application/x-ndjson",
                &b"{}\n{}\n{}\n"[..],
                2,
                "too_many_records",
                413,
            ),
            ("application/json", b"[{}, ", 10, "malformed_json", 422),
            ("text/csv", b"a,b", 10, "unsupported_media_type", 415),
            ("application/json", b"[\xff]", 10, "invalid_utf8", 422),
        ] {
            let e = split_records(ctype, body, max).unwrap_err();
            assert_eq!((e.code.as_str(), e.status), (code, status), "{ctype}");
        }
        let e = split_records("application/x-ndjson", b"{}\n{}\n{}\n", 2).unwrap_err();
        assert!(e.detail.starts_with("3 records"), "{}", e.detail);
        assert_eq!(split_records("", b"{}\n{}", 10).unwrap().len(), 2);
    }
}
