//! The one error envelope: RFC 9457 `application/problem+json` with a stable machine `code`.
//! Codes are part of the public contract; the catalogue is in the README.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use countersign_core::validate::Rejection;
use serde::Serialize;
use utoipa::ToSchema;

/// A problem answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`urn:countersign:problem:<code>`).
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    /// Stable machine-readable code, e.g. `body_too_large`.
    pub code: String,
    /// What went wrong and how to fix it, for a human.
    pub detail: String,
    /// Seconds until a retry can succeed (sent as `Retry-After`).
    #[serde(skip)]
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    /// `422` with a stable `code`: input the server understood but cannot take.
    pub fn unprocessable(code: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
        Problem {
            type_: format!("urn:countersign:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            code: code.to_string(),
            detail: detail.into(),
            retry_after_secs: None,
        }
    }

    /// A bug or an impossible state: 500, with the cause logged and not shown.
    pub fn internal(e: impl std::fmt::Display) -> Problem {
        tracing::error!(error = %e, "internal error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; it has been logged",
        )
    }

    pub fn unauthorized() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "an API key is required: send `Authorization: Bearer <key>`",
        )
    }

    pub fn forbidden(scope: &str) -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this API key lacks the `{scope}` scope needed here"),
        )
    }

    pub fn store(e: countersign_store::StoreError) -> Problem {
        tracing::error!(error = %e, "store error");
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the ledger store is unavailable; nothing was acknowledged, retry later",
        )
    }

    pub fn invalid(r: Rejection) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, r.code, r.detail)
    }
}

/// A store failure is the store's problem (503, `store_unavailable`), so handlers use `?`.
impl From<countersign_store::StoreError> for Problem {
    fn from(e: countersign_store::StoreError) -> Problem {
        Problem::store(e)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

/// Parse a JSON request body into `T`, mapping every failure to a specific problem.
pub fn parse_json<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, Problem> {
    serde_json::from_slice(body).map_err(|e| {
        let code = if e.is_data() {
            "invalid_request"
        } else {
            "malformed_json"
        };
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            format!("request body: {e}"),
        )
    })
}

/// A stored document as JSON (serialising our own types cannot fail short of a bug).
pub fn to_json<T: serde::Serialize>(v: &T) -> Result<String, Problem> {
    serde_json::to_string(v).map_err(Problem::internal)
}
