//! Countersign's HTTP API: authentication, problem+json errors, ledger ingest, claim
//! verification, feed health, operations endpoints and the OpenAPI document. Handlers are thin:
//! they parse, call the pure core and the store, and shape the answer.

pub use axum::http;

pub mod adapters;
pub mod alerts;
pub mod auth;
pub mod calls;
pub mod config;
pub mod customers;
pub mod ingest;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod problem;
pub mod query;
pub mod smish;
pub mod sms;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::Router;
use countersign_core::validate::ValidationConfig;
use countersign_core::verify::VerifyConfig;
use countersign_core::Millis;
use countersign_store::Store;
use tokio::net::TcpListener;

use crate::auth::{KeyRing, Principal, Scope};
use crate::config::{Limits, ServerConfig};
use crate::metrics::Metrics;
use crate::problem::Problem;

/// Wall-clock now, in ms since the epoch. The only clock read in the server.
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// Everything a handler needs, shared.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub keys: KeyRing,
    pub validation: ValidationConfig,
    pub verify: VerifyConfig,
    pub limits: Limits,
    pub retention_ms: Millis,
    pub metrics: Metrics,
    /// The compiled sender-ID registry, swapped whole on every change.
    pub registry: std::sync::RwLock<Arc<countersign_core::sender::Registry>>,
    pub sms_policy: countersign_core::sender::FilterPolicy,
    /// Legitimate IDs of other organisations, for the audit's false-positive check.
    pub legit_sender_ids: Arc<Vec<String>>,
    /// The call-scoring policy in force (reloadable).
    pub policy: std::sync::RwLock<Arc<countersign_core::score::Policy>>,
    pub policy_file: Option<std::path::PathBuf>,
    pub adapters: adapters::AdapterSettings,
    /// Recent calls (7 days) for the velocity signals, rebuilt from the store at start.
    pub recent_calls: std::sync::Mutex<countersign_core::recent::RecentCalls>,
    /// Recent `not_sent` claims for the surge, rebuilt from the store at start.
    pub claim_rate: std::sync::Mutex<countersign_core::recent::ClaimRate>,
    /// Smishing campaigns and the 7726 flow.
    pub smish: smish::SmishState,
    pub smish_settings: smish::SmishSettings,
    pub alert_settings: alerts::AlertSettings,
    /// Wakes the webhook delivery task when an alert is created.
    pub outbox_wake: tokio::sync::Notify,
    /// Whether the surge alert is raised (to log its start and end once).
    pub surge_alerting: std::sync::atomic::AtomicBool,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn new(
        cfg: &ServerConfig,
        store: Arc<dyn Store>,
        body_hmac_key: Vec<u8>,
    ) -> anyhow::Result<AppState> {
        cfg.validate()?;
        Ok(AppState {
            store,
            keys: KeyRing::new(&cfg.api_keys).map_err(|e| anyhow::anyhow!(e))?,
            validation: cfg.validation(body_hmac_key),
            verify: cfg.verify_config(),
            limits: cfg.limits.clone(),
            retention_ms: cfg.retention_ms(),
            metrics: Metrics::default(),
            registry: std::sync::RwLock::new(Arc::new(countersign_core::sender::Registry::new(
                Vec::new(),
                cfg.sms.clone(),
            ))),
            sms_policy: cfg.sms.clone(),
            legit_sender_ids: Arc::new(cfg.legit_sender_ids()?),
            policy: std::sync::RwLock::new(Arc::new(match &cfg.policy_file {
                Some(p) => calls::load_policy(p)?,
                None => countersign_core::score::Policy::default(),
            })),
            policy_file: cfg.policy_file.clone(),
            adapters: cfg.adapters.clone(),
            recent_calls: std::sync::Mutex::new(countersign_core::recent::RecentCalls::new(
                calls::RECENT_WINDOW_MS,
            )),
            claim_rate: std::sync::Mutex::new(countersign_core::recent::ClaimRate::default()),
            surge_alerting: std::sync::atomic::AtomicBool::new(false),
            smish: smish::SmishState::new(cfg.smish.cluster()),
            smish_settings: cfg.smish.clone(),
            alert_settings: cfg.alerts.clone(),
            outbox_wake: tokio::sync::Notify::new(),
        })
    }
}

/// The authenticated caller, extracted from `Authorization: Bearer` or `X-Api-Key`.
pub struct Auth(pub Principal);

impl Auth {
    pub fn require(&self, scope: Scope) -> Result<&Principal, Problem> {
        if self.0.allows(scope) {
            Ok(&self.0)
        } else {
            Err(Problem::forbidden(scope.as_str()))
        }
    }
    /// Allowed when the key has any of `scopes`.
    pub fn require_any(&self, scopes: &[Scope]) -> Result<&Principal, Problem> {
        if scopes.iter().any(|s| self.0.allows(*s)) {
            Ok(&self.0)
        } else {
            Err(Problem::forbidden(
                &scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("` or `"),
            ))
        }
    }
}

impl FromRequestParts<SharedState> for Auth {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let h = &parts.headers;
        let presented = h
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .or_else(|| h.get("x-api-key").and_then(|v| v.to_str().ok()))
            .map(str::trim)
            .ok_or_else(Problem::unauthorized)?;
        state.keys.authenticate(presented).map(Auth).ok_or_else(|| {
            Problem::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the API key is not valid",
            )
        })
    }
}

/// The API's routes.
pub fn router(state: SharedState) -> Router {
    Router::new()
        .route("/v1/notifications", post(ingest::post_notifications))
        .route("/v1/notifications/status", post(ingest::post_status))
        .route(
            "/v1/sources/{source}/watermark",
            post(ingest::post_watermark),
        )
        .route("/v1/sources", get(query::get_sources))
        .route("/v1/verify", post(query::post_verify))
        .route(
            "/v1/customers/{customer_id}/notifications",
            get(query::get_timeline),
        )
        .route("/v1/customers", post(customers::post_customers))
        .route(
            "/v1/customers/{customer_id}",
            get(customers::get_customer).put(customers::put_customer),
        )
        .route("/v1/audit-log", get(query::get_audit_log))
        .route("/v1/calls", post(calls::post_call))
        .route("/v1/calls/{call_id}", get(calls::get_call))
        .route("/v1/calls/{call_id}/claims", post(calls::post_claim))
        .route("/v1/calls/{call_id}/outcome", post(calls::post_outcome))
        .route("/v1/account-events", post(calls::post_account_events))
        .route("/v1/adapters/twilio/voice", post(adapters::twilio_voice))
        .route("/v1/adapters/connect", post(adapters::connect))
        .route("/v1/adapters/genesys", post(adapters::genesys))
        .route("/v1/policy", get(calls::get_policy))
        .route("/v1/surge", get(calls::get_surge))
        .route("/v1/smish-reports", post(smish::post_report))
        .route("/v1/campaigns", get(smish::list_campaigns))
        .route("/v1/campaigns/indicators", get(smish::get_indicators))
        .route("/v1/campaigns/{id}", get(smish::get_campaign))
        .route("/v1/campaigns/{id}/status", post(smish::post_status))
        .route(
            "/v1/customers/{customer_id}/alerts",
            get(alerts::get_alerts),
        )
        .route(
            "/v1/customers/{customer_id}/alerts/{alert_id}/{mark}",
            post(alerts::mark_alert),
        )
        .route("/v1/alerts/outbox", get(alerts::get_outbox))
        .route("/v1/policy/reload", post(calls::reload_policy))
        .route("/v1/brands", get(sms::list_brands))
        .route(
            "/v1/brands/{brand}",
            get(sms::get_brand)
                .put(sms::put_brand)
                .delete(sms::delete_brand),
        )
        .route("/v1/brands/{brand}/variants", get(sms::get_variants))
        .route("/v1/sms/evaluate", post(sms::post_evaluate))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi_json))
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .with_state(state)
}

/// Serve until `shutdown` resolves; also runs the retention purge every `purge_interval`.
pub async fn serve(
    listener: TcpListener,
    state: SharedState,
    purge_interval: Option<Duration>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    sms::reload_registry(&state)
        .await
        .map_err(|p| anyhow::anyhow!("cannot load the brand registry: {}", p.detail))?;
    calls::load_recent_calls(&state)
        .await
        .map_err(|p| anyhow::anyhow!("cannot load recent calls: {}", p.detail))?;
    smish::load(&state)
        .await
        .map_err(|p| anyhow::anyhow!("cannot replay smishing reports: {}", p.detail))?;
    let delivery = tokio::spawn(alerts::deliver_forever(state.clone()));
    let spoof_alerts = tokio::spawn(smish::spoof_alerts_forever(state.clone()));
    if let Some(every) = purge_interval {
        let st = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let cut = now_ms() - st.retention_ms;
                match st.store.purge(cut).await {
                    Ok(n) if n > 0 => tracing::info!(deleted = n, "retention purge"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "retention purge failed; will retry"),
                }
            }
        });
    }
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    delivery.abort();
    spoof_alerts.abort();
    served?;
    Ok(())
}
