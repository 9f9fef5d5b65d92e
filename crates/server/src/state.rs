//! The state every handler shares (`AppState`: the store, keys, configuration, the in-memory
//! windows and services) and the `Auth` extractor that authenticates each request. The one clock
//! read of the server, `now_ms`, lives here too.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use countersign_core::validate::ValidationConfig;
use countersign_core::verify::VerifyConfig;
use countersign_core::Millis;
use countersign_store::prelude::*;

use crate::auth::{KeyRing, Principal, Scope};
use crate::config::{Limits, ServerConfig};
use crate::metrics::Metrics;
use crate::problem::Problem;
use crate::{adapters, alerts, calls, services};

/// Wall-clock now, in ms since the epoch. The only clock read in the server.
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// Where the server's "now" comes from: the system clock, or — for the simulator, which replays
/// a month of calls through the real services in time order — a clock it sets.
#[derive(Debug, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(std::sync::atomic::AtomicI64),
}

/// Everything a handler needs, shared.
pub struct AppState {
    /// "Now" for every decision (verification windows, scoring, velocity, the surge).
    pub clock: Clock,
    pub store: Arc<dyn Store>,
    pub keys: KeyRing,
    pub validation: ValidationConfig,
    pub verify: VerifyConfig,
    pub limits: Limits,
    /// The memory budget of ingest bodies being read, in KiB permits
    /// (`limits.max_concurrent_body_bytes`).
    pub body_budget: Arc<tokio::sync::Semaphore>,
    /// Per-key request budgets (`[limits] rate_*_per_sec`).
    pub rate_limits: crate::ratelimit::RateLimits,
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
    pub smish: services::campaigns::SmishState,
    pub smish_settings: crate::config::SmishSettings,
    pub alert_settings: alerts::AlertSettings,
    /// Wakes the webhook delivery task when an alert is created.
    pub outbox_wake: tokio::sync::Notify,
    /// Whether the surge alert is raised (to log its start and end once).
    pub surge_alerting: std::sync::atomic::AtomicBool,
    /// The country calling code of `default_region` (for the international-caller signal).
    pub home_calling_code: Option<u16>,
    /// The console's settings.
    pub console: crate::console::ConsoleSettings,
    /// What the Kafka consumer did (`/metrics`), and its settings when it runs.
    pub kafka: crate::kafka::KafkaStats,
    pub kafka_settings: Option<crate::kafka::KafkaSettings>,
    /// The STIR/SHAKEN verifier (`[stir]`): the trust list and the certificate cache.
    pub stir: Option<Arc<crate::stir::StirVerifier>>,
    /// This node's name among those sharing the store (heartbeats, `/metrics`).
    pub node: String,
    /// The nodes sharing the store, as the last heartbeat read them.
    pub nodes: std::sync::Mutex<Vec<countersign_store::NodeRow>>,
    /// Open call screens, told of each change to their call.
    pub call_updates: services::calls::CallUpdates,
    /// The customer's own checks (`[checks]`).
    pub checks: crate::text_checks::CheckSettings,
    /// Their budget per customer.
    pub check_limits: crate::ratelimit::PerCustomer,
    /// The institution's IdP for console sign-in (`[console.oidc]`).
    pub oidc: Option<Arc<crate::console::oidc::Oidc>>,
    /// The server's TLS (`[tls]`); None: plain HTTP.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Background work (delivery, sweeps, purge), drained with a deadline on shutdown.
    pub tasks: tokio_util::task::TaskTracker,
    /// Cancelled when the server stops: background loops finish what they hold and return.
    pub stopping: tokio_util::sync::CancellationToken,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    /// The time every decision is taken at.
    pub fn now(&self) -> Millis {
        match &self.clock {
            Clock::System => now_ms(),
            Clock::Manual(t) => t.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Run on a clock the caller sets (the simulator); starts at `at`.
    pub fn with_manual_clock(mut self, at: Millis) -> Self {
        self.clock = Clock::Manual(std::sync::atomic::AtomicI64::new(at));
        self
    }

    /// Move a manual clock (a system clock cannot be set).
    pub fn set_now(&self, at: Millis) {
        if let Clock::Manual(t) = &self.clock {
            t.store(at, std::sync::atomic::Ordering::Relaxed);
        }
    }

    pub fn new(
        cfg: &ServerConfig,
        store: Arc<dyn Store>,
        body_hmac_key: Vec<u8>,
    ) -> anyhow::Result<AppState> {
        cfg.validate()?;
        let validation = cfg.validation(body_hmac_key);
        let home_calling_code =
            countersign_core::extract::calling_code(validation.extract.default_region);
        if cfg.settable_clock {
            tracing::warn!("settable_clock is on: the admin key can move this server's clock (simulation only, never production)");
        }
        Ok(AppState {
            clock: if cfg.settable_clock {
                Clock::Manual(std::sync::atomic::AtomicI64::new(now_ms()))
            } else {
                Clock::System
            },
            store,
            keys: KeyRing::new(&cfg.api_keys).map_err(|e| anyhow::anyhow!(e))?,
            validation,
            verify: cfg.verify_config(),
            limits: cfg.limits.clone(),
            rate_limits: crate::ratelimit::RateLimits::new(&cfg.limits),
            body_budget: Arc::new(tokio::sync::Semaphore::new(cfg.limits.body_budget_kib())),
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
            home_calling_code,
            smish: services::campaigns::SmishState::new(cfg.smish.cluster()),
            smish_settings: cfg.smish.clone(),
            alert_settings: cfg.alerts.clone(),
            outbox_wake: tokio::sync::Notify::new(),
            console: cfg.console.clone(),
            call_updates: Default::default(),
            node: cfg.node_name.clone().unwrap_or_else(default_node_name),
            nodes: Default::default(),
            kafka: Default::default(),
            kafka_settings: cfg.kafka.clone(),
            stir: match &cfg.stir {
                Some(s) => Some(Arc::new(crate::stir::StirVerifier::new(s)?)),
                None => None,
            },
            checks: cfg.checks.clone(),
            check_limits: crate::ratelimit::PerCustomer::new(cfg.checks.per_customer_per_min),
            oidc: cfg
                .console
                .oidc
                .clone()
                .map(|o| crate::console::oidc::Oidc::new(o).map(Arc::new))
                .transpose()?,
            tls: cfg.tls.as_ref().map(crate::tls::acceptor).transpose()?,
            tasks: tokio_util::task::TaskTracker::new(),
            stopping: tokio_util::sync::CancellationToken::new(),
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
                // The auth scheme is case-insensitive (RFC 9110 §11.1): `BEARER` is `Bearer`.
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(token)
            })
            .or_else(|| h.get("x-api-key").and_then(|v| v.to_str().ok()))
            .map(str::trim)
            .ok_or_else(Problem::unauthorized)?;
        let principal = state.keys.authenticate(presented).ok_or_else(|| {
            Problem::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the API key is not valid",
            )
        })?;
        if let Err(p) = state.rate_limits.check(&principal) {
            state
                .metrics
                .rate_limited
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(p);
        }
        Ok(Auth(principal))
    }
}

/// A node's default name: the host's name and the process id (unique among nodes on one host).
fn default_node_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    format!("{host}-{}", std::process::id())
}
