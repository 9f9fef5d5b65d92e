//! Every request's id and its per-route metrics: a middleware that gives each request an id
//! (the client's `X-Request-Id` when it is a plain token, else a new one), runs the handler in a
//! tracing span carrying the id, the method and the route *template* (never a customer id from
//! the path), answers the id in `X-Request-Id`, and counts the request in Prometheus histograms
//! (`countersign_http_request_duration_seconds_bucket/_sum/_count`) and counters by status.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tracing::Instrument;

use crate::SharedState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    method: String,
    route: String,
    status: u16,
}

fn latency_histogram() -> Histogram {
    // 100 µs … ~6 s in 12 buckets (×2.5).
    Histogram::new(exponential_buckets(0.000_1, 2.5, 12))
}

/// Request metrics by route, in their own Prometheus registry.
pub struct HttpMetrics {
    registry: Registry,
    requests: Family<StatusLabels, Counter>,
    duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    next_id: AtomicU64,
    /// Distinguishes this process's ids from an earlier run's.
    epoch: u64,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<StatusLabels, Counter>::default();
        let duration = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "countersign_http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        registry.register(
            "countersign_http_request_duration_seconds",
            "HTTP request handling time, by method and route template",
            duration.clone(),
        );
        HttpMetrics {
            registry,
            requests,
            duration,
            next_id: AtomicU64::new(1),
            epoch: crate::now_ms() as u64 % 0x1_0000_0000,
        }
    }
}

impl HttpMetrics {
    /// The Prometheus text of these metrics (without OpenMetrics' `# EOF`, so that it can follow
    /// the other metrics in one exposition).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            return String::new();
        }
        // The classic text format names a counter's family with its `_total` suffix.
        out.lines()
            .filter(|l| *l != "# EOF")
            .map(|l| {
                let l = l
                    .replace(
                        "# HELP countersign_http_requests ",
                        "# HELP countersign_http_requests_total ",
                    )
                    .replace(
                        "# TYPE countersign_http_requests ",
                        "# TYPE countersign_http_requests_total ",
                    );
                format!("{l}\n")
            })
            .collect()
    }

    fn new_id(&self) -> String {
        format!(
            "{:08x}-{:x}",
            self.epoch,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// A client's request id is kept when it is a short plain token (it ends up in logs).
fn client_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
    .then(|| s.to_string())
}

/// The middleware (see the module documentation).
pub async fn track(State(st): State<SharedState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let m = &st.metrics.http;
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(client_id)
        .unwrap_or_else(|| m.new_id());
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| tracing::debug!(status, micros = elapsed.as_micros() as u64, "answered"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    m.duration
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    m.requests
        .get_or_create(&StatusLabels {
            method,
            route,
            status,
        })
        .inc();
    resp
}
