//! Customer education alerts: created by the rules (a reported smish, a suspicious call about
//! the customer, a genuine notification of a kind a campaign spoofs), deduplicated per customer
//! and pattern, rate-limited per customer, shown in the app's feed
//! (`GET /v1/customers/{id}/alerts`, read/acknowledged marks) and pushed to a webhook through a
//! durable outbox: at-least-once, retried with backoff, one idempotency key per alert.

use std::time::Duration;

use crate::http::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use countersign_core::alerts::{render, AlertRule, Message, PatternVars};
use countersign_core::profile::Profile;
use countersign_core::validate::format_time;
use countersign_core::Millis;
use countersign_store::{AlertOutcome, AlertRow, AuditEntry};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::auth::Scope;
use crate::problem::Problem;
use crate::{Auth, SharedState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Alert rules and delivery (`[alerts]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// Rules that create alerts (default: all three).
    pub rules: Vec<AlertRule>,
    /// At most this many alerts per customer in 24 hours; more are dropped and counted.
    pub max_per_customer_per_day: u32,
    /// Where alerts are pushed (`https://` in production; `http://` for a receiver on the same
    /// host or network segment). None: feed only.
    pub webhook_url: Option<String>,
    /// PEM CA certificate(s) trusted for an `https://` receiver besides the public (Mozilla)
    /// roots: the institution's own CA.
    pub webhook_ca_file: Option<std::path::PathBuf>,
    /// Key of the `X-Countersign-Signature` HMAC. Required with `webhook_url`.
    pub webhook_secret: Option<String>,
    /// A file holding `webhook_secret` (a mounted secret); trailing newline ignored.
    pub webhook_secret_file: Option<std::path::PathBuf>,
    /// Longest wait between two attempts, in seconds (the backoff doubles up to it).
    pub retry_max_backoff_secs: u64,
    /// How long one delivery attempt may take, in seconds.
    pub webhook_timeout_secs: u64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            rules: AlertRule::ALL.to_vec(),
            max_per_customer_per_day: 3,
            webhook_url: None,
            webhook_ca_file: None,
            webhook_secret: None,
            webhook_secret_file: None,
            retry_max_backoff_secs: 600,
            webhook_timeout_secs: 10,
        }
    }
}

impl AlertSettings {
    pub fn check(&self) -> Result<(), String> {
        if let Some(u) = &self.webhook_url {
            // What can never be delivered is refused before the server starts, not retried
            // forever; a receiver that is merely down is retried with backoff.
            match url::Url::parse(u) {
                Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => {}
                Ok(_) => {
                    return Err(format!(
                        "alerts.webhook_url {u:?} must be an http:// or https:// URL with a host"
                    ))
                }
                Err(e) => return Err(format!("alerts.webhook_url {u:?} is not a URL: {e}")),
            }
            if let Err(e) =
                crate::tls::client_config(self.webhook_ca_file.as_deref(), "alerts.webhook_ca_file")
            {
                return Err(e.to_string());
            }
            if self.webhook_secret.as_deref().is_none_or(|s| s.len() < 16) {
                return Err("alerts.webhook_secret (at least 16 characters) is required with alerts.webhook_url".into());
            }
        }
        if self.retry_max_backoff_secs == 0 || self.webhook_timeout_secs == 0 {
            return Err(
                "alerts.retry_max_backoff_secs and alerts.webhook_timeout_secs must be positive"
                    .into(),
            );
        }
        Ok(())
    }
}

/// An alert as the app and the webhook receive it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    /// Stable per customer and pattern: also the webhook's idempotency key.
    pub id: String,
    pub customer_id: String,
    pub rule: AlertRule,
    pub created_at: String,
    #[serde(flatten)]
    pub message: Message,
    pub pattern: PatternVars,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// Feed state (not in webhook payloads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<String>,
}

/// The id of the alert for a customer and pattern: the same pattern always gets the same id.
fn alert_id(customer_id: &str, key: &str) -> String {
    let h = Sha256::digest(format!("{customer_id}\u{1f}{key}").as_bytes());
    format!("al_{}", hex::encode(&h[..12]))
}

/// Create an alert for `customer_id` under `rule` if the rule is on, the customer has not had
/// one for `key`, and the rate limit allows it. Durable (with its outbox entry) when it returns.
pub async fn raise(
    st: &SharedState,
    customer_id: &str,
    rule: AlertRule,
    key: &str,
    pattern: PatternVars,
    campaign_id: Option<u64>,
    call_id: Option<String>,
) -> Result<Option<AlertOutcome>, Problem> {
    let cfg = &st.alert_settings;
    if !cfg.rules.contains(&rule) {
        return Ok(None);
    }
    let now = st.now();
    let locale = st
        .store
        .profile(customer_id)
        .await?
        .and_then(|p| serde_json::from_str::<Profile>(&p).ok())
        .and_then(|p| p.locale);
    let id = alert_id(customer_id, key);
    let alert = Alert {
        id: id.clone(),
        customer_id: customer_id.to_string(),
        rule,
        created_at: format_time(now),
        message: render(rule, &pattern, locale.as_deref()),
        pattern,
        campaign_id,
        call_id,
        read_at: None,
        acknowledged_at: None,
    };
    let doc = crate::problem::to_json(&alert)?;
    let outcome = st
        .store
        .put_alert(
            AlertRow {
                id,
                customer_id: customer_id.to_string(),
                dedupe_key: key.to_string(),
                created_at: now,
                doc,
                read_at: None,
                acked_at: None,
            },
            now - 24 * 3_600_000,
            cfg.max_per_customer_per_day,
            cfg.webhook_url.is_some(),
        )
        .await?;
    let m = &st.metrics;
    match outcome {
        AlertOutcome::Created => {
            crate::metrics::Metrics::add(&m.alerts_created, 1);
            st.outbox_wake.notify_one();
        }
        AlertOutcome::Duplicate => crate::metrics::Metrics::add(&m.alerts_duplicate, 1),
        AlertOutcome::RateLimited => crate::metrics::Metrics::add(&m.alerts_rate_limited, 1),
    }
    Ok(Some(outcome))
}

fn view(row: AlertRow) -> Option<Alert> {
    let mut a: Alert = serde_json::from_str(&row.doc).ok()?;
    a.read_at = row.read_at.map(format_time);
    a.acknowledged_at = row.acked_at.map(format_time);
    Some(a)
}

#[utoipa::path(get, path = "/v1/customers/{customer_id}/alerts", tag = "alerts",
    params(("customer_id" = String, Path)),
    responses((status = 200, description = "The customer's alerts, newest first, with read/acknowledged state", body = [Alert])),
    security(("api_key" = [])))]
pub async fn get_alerts(
    State(st): State<SharedState>,
    auth: Auth,
    Path(customer_id): Path<String>,
) -> Result<Json<Vec<Alert>>, Problem> {
    let who = auth.require(Scope::Agent)?.name.clone();
    let rows = st.store.customer_alerts(&customer_id, 100).await?;
    st.store
        .audit(AuditEntry {
            at: st.now(),
            actor: who,
            action: "alerts".into(),
            customer_id: Some(customer_id),
            detail: Some(format!("{} alerts", rows.len())),
        })
        .await?;
    Ok(Json(rows.into_iter().filter_map(view).collect()))
}

#[utoipa::path(post, path = "/v1/customers/{customer_id}/alerts/{alert_id}/{mark}", tag = "alerts",
    params(("customer_id" = String, Path), ("alert_id" = String, Path), ("mark" = String, Path, description = "`read` or `acknowledged`")),
    responses((status = 200, body = Alert), (status = 404, description = "`unknown_alert`", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn mark_alert(
    State(st): State<SharedState>,
    auth: Auth,
    Path((customer_id, alert_id, mark)): Path<(String, String, String)>,
) -> Result<Json<Alert>, Problem> {
    auth.require(Scope::Agent)?;
    let acknowledged = match mark.as_str() {
        "read" => false,
        "acknowledged" | "ack" => true,
        other => {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{other:?} is not a mark: use read or acknowledged"),
            ))
        }
    };
    let unknown = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            "unknown_alert",
            format!("customer {customer_id:?} has no alert {alert_id:?}"),
        )
    };
    if !st
        .store
        .mark_alert(&customer_id, &alert_id, acknowledged, st.now())
        .await?
    {
        return Err(unknown());
    }
    st.store
        .alert(&customer_id, &alert_id)
        .await?
        .and_then(view)
        .map(Json)
        .ok_or_else(unknown)
}

/// The outbox at a glance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboxView {
    pub webhook_configured: bool,
    pub pending: u64,
    pub delivered: u64,
    pub oldest_pending_next_attempt: Option<String>,
    pub most_attempts: u32,
}

#[utoipa::path(get, path = "/v1/alerts/outbox", tag = "alerts",
    responses((status = 200, body = OutboxView)),
    security(("api_key" = [])))]
pub async fn get_outbox(
    State(st): State<SharedState>,
    auth: Auth,
) -> Result<Json<OutboxView>, Problem> {
    auth.require(Scope::Admin)?;
    let s = st.store.outbox_stats().await?;
    Ok(Json(OutboxView {
        webhook_configured: st.alert_settings.webhook_url.is_some(),
        pending: s.pending,
        delivered: s.delivered,
        oldest_pending_next_attempt: s.oldest_pending_at.map(format_time),
        most_attempts: s.most_attempts,
    }))
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver recomputes it with the
/// shared secret and rejects old timestamps (replays).
pub fn signature(secret: &str, unix_secs: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{unix_secs}.{body}").as_bytes());
    format!(
        "t={unix_secs},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Wait before attempt `attempts + 1`: 1 s, 2 s, 4 s, … up to the configured maximum.
pub fn backoff_ms(attempts: u32, max_secs: u64) -> Millis {
    let secs = 1u64
        .checked_shl(attempts.min(30))
        .unwrap_or(u64::MAX)
        .min(max_secs);
    secs as Millis * 1000
}

/// Deliver due alerts until shutdown: woken when an alert is created, and every second for
/// retries. Each alert is posted until the receiver answers 2xx; a crash between the receiver's
/// 2xx and our record of it means one more delivery with the same idempotency key.
pub async fn deliver_forever(st: SharedState) {
    let Some(url) = st.alert_settings.webhook_url.clone() else {
        return;
    };
    let secret = st.alert_settings.webhook_secret.clone().unwrap_or_default();
    let timeout = Duration::from_secs(st.alert_settings.webhook_timeout_secs);
    let tls = match crate::tls::client_config(
        st.alert_settings.webhook_ca_file.as_deref(),
        "alerts.webhook_ca_file",
    ) {
        Ok(t) => t,
        Err(e) => {
            // Checked at start; a CA file removed since is reported, not retried.
            tracing::error!(error = %e, "webhook delivery is off");
            return;
        }
    };
    let agent = ureq::AgentBuilder::new()
        .timeout(timeout)
        .tls_config(tls)
        .build();
    while !st.stopping.is_cancelled() {
        // Claimed for as long as trying each of them could take: no other node sends them
        // meanwhile, and if this one dies they are due again when the lease ends.
        let now = st.now();
        let lease = now + (BATCH as Millis) * (timeout.as_millis() as Millis) + 5_000;
        let due = match st.store.claim_deliveries(now, BATCH, lease).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "outbox read failed; will retry");
                Vec::new()
            }
        };
        for d in &due {
            if st.stopping.is_cancelled() {
                // What is not delivered stays in the outbox for the next start.
                return;
            }
            let Some(alert) = view(d.alert.clone()) else {
                continue;
            };
            let body = serde_json::to_string(&alert).unwrap_or_default();
            let now = st.now();
            let sig = signature(&secret, now / 1000, &body);
            let (agent, url, id) = (agent.clone(), url.clone(), alert.id.clone());
            let attempt = d.attempts + 1;
            let sent = tokio::task::spawn_blocking(move || {
                agent
                    .post(&url)
                    .set("content-type", "application/json")
                    .set("idempotency-key", &id)
                    .set("x-countersign-signature", &sig)
                    .set("x-countersign-attempt", &attempt.to_string())
                    .send_string(&body)
                    .map(|_| ())
                    .map_err(|e| match e {
                        ureq::Error::Status(code, _) => format!("HTTP {code}"),
                        other => other.to_string(),
                    })
            })
            .await;
            let result = match sent {
                Ok(r) => r.map(|()| st.now()),
                Err(e) => Err(e.to_string()),
            };
            let record = match result {
                Ok(at) => {
                    crate::metrics::Metrics::add(&st.metrics.webhook_delivered, 1);
                    Ok(at)
                }
                Err(e) => {
                    crate::metrics::Metrics::add(&st.metrics.webhook_failed_attempts, 1);
                    let next =
                        st.now() + backoff_ms(d.attempts, st.alert_settings.retry_max_backoff_secs);
                    tracing::warn!(alert = %alert.id, attempt, error = %e, "webhook delivery failed; will retry");
                    Err((next, e))
                }
            };
            if let Err(e) = st.store.delivery_attempt(&alert.id, record).await {
                tracing::warn!(error = %e, "cannot record a delivery attempt");
            }
        }
        if due.len() < BATCH {
            tokio::select! {
                _ = tokio::time::timeout(Duration::from_secs(1), st.outbox_wake.notified()) => {}
                _ = st.stopping.cancelled() => return,
            }
        }
    }
}

/// Alerts claimed from the outbox at a time.
const BATCH: usize = 5;

/// This resource's routes, each registered with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(get_alerts))
        .routes(routes!(mark_alert))
        .routes(routes!(get_outbox))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_the_client_cannot_reach_is_refused_before_start() {
        let with = |url: &str| AlertSettings {
            webhook_url: Some(url.into()),
            webhook_secret: Some("a-shared-secret-of-32-characters".into()),
            ..Default::default()
        };
        assert!(with("http://127.0.0.1:9000/hook").check().is_ok());
        assert!(with("https://app.example.com/hook").check().is_ok());
        assert!(with("ftp://x").check().is_err());
        assert!(with("not a url").check().is_err());
    }

    #[test]
    fn ids_backoff_and_signature() {
        assert_eq!(alert_id("c1", "campaign:1"), alert_id("c1", "campaign:1"));
        assert_ne!(alert_id("c1", "campaign:1"), alert_id("c2", "campaign:1"));
        assert_eq!(
            (0..5).map(|a| backoff_ms(a, 10)).collect::<Vec<_>>(),
            vec![1000, 2000, 4000, 8000, 10_000]
        );
        assert_eq!(backoff_ms(200, 600), 600_000);
        // Computed independently: python3 -c "import hmac,hashlib;
        // print(hmac.new(b'secret-secret-16', b'1700000000.{}', hashlib.sha256).hexdigest())"
        assert_eq!(
            signature("secret-secret-16", 1_700_000_000, "{}"),
            "t=1700000000,v1=1e90ede544640b565decc9712e3b08cbaee207bc3a885da19d18e2f314d94e17"
        );
    }
}
