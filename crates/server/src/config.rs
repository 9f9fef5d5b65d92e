//! Server configuration: one TOML file (every key optional, unknown keys rejected), overridden by
//! `COUNTERSIGN_*` environment variables, validated as a whole before the server starts.

use countersign_core::campaign::ClusterConfig;
use std::net::SocketAddr;
use std::path::PathBuf;

use countersign_core::extract::{parse_region, ExtractConfig};
use countersign_core::sender::FilterPolicy;
use countersign_core::validate::{BodyRetention, FieldLimits, ValidationConfig};
use countersign_core::verify::VerifyConfig;
use countersign_core::Millis;
use serde::Deserialize;

use crate::auth::ApiKeyConfig;

/// Request limits. Each breach is answered with a specific 413 or 422 problem.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most records in one ingest request.
    pub max_records_per_request: usize,
    /// Memory budget for ingest bodies read at once, in bytes (a body costs about three times
    /// its size while parsed). A body that does not fit waits up to 2 s, then is answered
    /// `503 server_busy` with `Retry-After`, so concurrent large uploads cannot exhaust memory.
    pub max_concurrent_body_bytes: usize,
    /// Largest single record (one JSON object), in bytes.
    pub max_record_bytes: usize,
    /// Largest body of a one-object request (a claim, a call, a report, a watermark, a
    /// profile), in bytes: these are small, so a large one is a mistake or an attack.
    pub max_json_body_bytes: usize,
    /// A client must send a request's headers within this many seconds — also the longest a
    /// kept-alive connection may sit idle. A slow or silent client cannot hold a connection.
    pub header_read_timeout_secs: u64,
    /// A request's body must arrive within this many seconds (`408 body_timeout` otherwise):
    /// 32 MiB at 1 MiB/s, generous for producers on a LAN, short for a client trickling bytes.
    pub body_read_timeout_secs: u64,
    /// On shutdown, requests in flight get this many seconds to finish before they are cut.
    pub shutdown_grace_secs: u64,
    /// Connections served at once; past it a connection is answered `503 server_busy` (health
    /// checks still 200) and closed, so idle or slow clients can never lock everyone out.
    pub max_connections: usize,
    /// Requests per second each API key may make, by the key's scope (its first one): separate
    /// budgets, so an ingest burst never starves agents' verifications and a leaked key cannot
    /// walk every customer's timeline at the store's speed. Beyond it: `429 rate_limited` with
    /// `Retry-After`. 0 = unlimited.
    pub rate_ingest_per_sec: u32,
    pub rate_agent_per_sec: u32,
    pub rate_sms_per_sec: u32,
    pub rate_admin_per_sec: u32,
    /// Per-field limits on records (`[limits.fields]`).
    pub fields: FieldLimits,
}

impl Limits {
    /// The ingest bodies' memory budget in KiB: the permits of `AppState::body_budget`.
    pub fn body_budget_kib(&self) -> usize {
        (self.max_concurrent_body_bytes / 1024).min(tokio::sync::Semaphore::MAX_PERMITS)
    }

    /// How long a request's body may take to arrive.
    pub fn body_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.body_read_timeout_secs.max(1))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 * 1024 * 1024,
            max_records_per_request: 50_000,
            max_concurrent_body_bytes: 128 * 1024 * 1024,
            max_record_bytes: 16 * 1024,
            max_json_body_bytes: 64 * 1024,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            shutdown_grace_secs: 10,
            max_connections: 4_096,
            rate_ingest_per_sec: 1_000,
            rate_agent_per_sec: 1_000,
            rate_sms_per_sec: 2_000,
            rate_admin_per_sec: 200,
            fields: FieldLimits::default(),
        }
    }
}

/// Everything `countersign serve` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the ledger lives: `sqlite` (the embedded default, in `data_dir`) or `postgres`
    /// (`database_url`; several nodes may share it — README "Running several nodes").
    pub store: StoreKind,
    /// Data directory of the embedded store.
    pub data_dir: PathBuf,
    /// The PostgreSQL connection string (`store = "postgres"`), e.g.
    /// `postgres://countersign@db.internal:5432/countersign`; or `COUNTERSIGN_DATABASE_URL`
    /// (a password belongs there or in `database_url_file`, not in the file).
    pub database_url: Option<String>,
    /// A file holding `database_url` (a mounted secret).
    pub database_url_file: Option<PathBuf>,
    /// Most PostgreSQL connections in each of this node's two pools (the scoring reader holds
    /// half as many; README, Running several nodes).
    pub database_pool_max: usize,
    /// PEM certificate(s) of the CA that signed the database server's certificate, for a
    /// `database_url` with `sslmode=require` (the Mozilla roots are trusted besides).
    pub database_ca_file: Option<PathBuf>,
    /// This node's name among those sharing a database (heartbeats, `/metrics`); default: the
    /// host name and process id. `COUNTERSIGN_NODE_NAME`.
    pub node_name: Option<String>,
    /// How long notifications are kept, in days; older ones are purged.
    pub retention_days: u32,
    /// How often the background purge runs, in seconds (0 disables it).
    pub purge_interval_secs: u64,
    /// `full` keeps message bodies; `facts_only` keeps only extracted facts and a keyed hash.
    pub body_retention: BodyRetention,
    /// Hex-encoded key for the body HMAC (≥ 32 hex chars). When absent, a key is generated in
    /// the data directory on first start (`body-hmac.key`) and reused after.
    pub body_hmac_key: Option<String>,
    /// ISO 3166 region for phone numbers written without a country code.
    pub default_region: String,
    /// How far in the future a `sent_at` may be before it is rejected, in seconds.
    pub future_skew_secs: i64,
    /// Claim matching.
    pub verify: VerifySettings,
    pub limits: Limits,
    /// API keys (hashed). More can come from `COUNTERSIGN_API_KEYS`.
    pub api_keys: Vec<ApiKeyConfig>,
    /// The SMS filter's global policy (`[sms]`).
    pub sms: FilterPolicy,
    /// Legitimate sender IDs of other organisations for the audit's false-positive check, one per
    /// line; default: the built-in corpus.
    pub sms_legit_ids_file: Option<PathBuf>,
    /// The call-scoring policy (TOML); default: the built-in policy. Reload with
    /// `POST /v1/policy/reload`.
    pub policy_file: Option<PathBuf>,
    /// Contact-centre adapters (`[adapters]`).
    pub adapters: crate::adapters::AdapterSettings,
    /// Smishing report intake and campaign clustering (`[smish]`).
    pub smish: SmishSettings,
    /// Customer alerts and their webhook (`[alerts]`).
    pub alerts: crate::alerts::AlertSettings,
    /// The console (`[console]`): sessions, sign-in links, framing.
    pub console: crate::console::ConsoleSettings,
    /// Serve HTTPS with this certificate (`[tls]`); absent: plain HTTP (behind a proxy).
    pub tls: Option<crate::tls::TlsSettings>,
    /// A file holding `body_hmac_key` (a mounted secret).
    pub body_hmac_key_file: Option<PathBuf>,
    /// For a staging server that `countersign simulate --server` drives: the admin key may set
    /// the server's clock (`PUT /v1/admin/clock`), so a simulated month replays through the
    /// API. Never in production: every decision follows the clock set.
    pub settable_clock: bool,
    /// The customer's own checks (`[checks]`).
    pub checks: crate::text_checks::CheckSettings,
    /// Consume notification records from Kafka too (`[kafka]`; README "Feeding from Kafka").
    pub kafka: Option<crate::kafka::KafkaSettings>,
    /// Verify the STIR/SHAKEN PASSporTs calls carry (`[stir]`; README "Verifying the caller's
    /// PASSporT").
    pub stir: Option<crate::stir::StirSettings>,
}

/// The storage backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// The embedded SQLite store in `data_dir`: one node, nothing else to run.
    Sqlite,
    /// A PostgreSQL database at `database_url`, shared by any number of nodes.
    Postgres,
}

/// Claim-matching settings, in human units.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifySettings {
    /// Tolerance around a claimed time, in minutes.
    pub time_tolerance_mins: i64,
    /// The tolerance grows by this share (percent) of how long ago the claimed time is.
    pub time_tolerance_age_percent: i64,
    /// For a source that never declares a watermark: how far behind its newest record the
    /// derived watermark is placed, in minutes.
    pub derived_watermark_margin_mins: i64,
    /// `not_sent` needs every feed of the channel complete up to this many seconds before the
    /// question (a producer declaring a watermark every few seconds stays within it).
    pub watermark_slack_secs: i64,
    /// Most candidate notifications examined per claim.
    pub candidates_max: usize,
}

impl Default for VerifySettings {
    fn default() -> Self {
        let d = VerifyConfig::default();
        VerifySettings {
            time_tolerance_mins: d.time_tolerance_ms / 60_000,
            time_tolerance_age_percent: d.time_tolerance_age_percent,
            derived_watermark_margin_mins: d.derived_watermark_margin_ms / 60_000,
            watermark_slack_secs: d.reaction_floor_ms / 1000,
            candidates_max: d.candidates_max,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7700)),
            store: StoreKind::Sqlite,
            data_dir: PathBuf::from("countersign-data"),
            database_url: None,
            database_url_file: None,
            database_pool_max: 16,
            database_ca_file: None,
            node_name: None,
            retention_days: 90,
            purge_interval_secs: 3600,
            body_retention: BodyRetention::Full,
            body_hmac_key: None,
            default_region: "US".into(),
            future_skew_secs: 300,
            verify: VerifySettings::default(),
            limits: Limits::default(),
            api_keys: Vec::new(),
            sms: FilterPolicy::default(),
            sms_legit_ids_file: None,
            policy_file: None,
            adapters: Default::default(),
            smish: Default::default(),
            alerts: Default::default(),
            console: Default::default(),
            tls: None,
            body_hmac_key_file: None,
            settable_clock: false,
            checks: Default::default(),
            kafka: None,
            stir: None,
        }
    }
}

/// Environment variables read by [`ServerConfig::apply_env`], documented in the README.
pub const ENV_VARS: &[&str] = &[
    "COUNTERSIGN_LISTEN",
    "COUNTERSIGN_DATA_DIR",
    "COUNTERSIGN_STORE",
    "COUNTERSIGN_DATABASE_URL",
    "COUNTERSIGN_NODE_NAME",
    "COUNTERSIGN_RETENTION_DAYS",
    "COUNTERSIGN_BODY_RETENTION",
    "COUNTERSIGN_BODY_HMAC_KEY",
    "COUNTERSIGN_DEFAULT_REGION",
    "COUNTERSIGN_API_KEYS",
];

impl ServerConfig {
    /// Parse a TOML configuration file's text.
    pub fn from_toml(text: &str) -> anyhow::Result<ServerConfig> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
    }

    /// Override from the environment (`get` is `std::env::var` in production).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        let bad = |k: &str, v: &str, why: &str| anyhow::anyhow!("{k}={v:?}: {why}");
        if let Some(v) = get("COUNTERSIGN_LISTEN") {
            self.listen = v
                .parse()
                .map_err(|_| bad("COUNTERSIGN_LISTEN", &v, "expected HOST:PORT"))?;
        }
        if let Some(v) = get("COUNTERSIGN_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("COUNTERSIGN_STORE") {
            self.store = match v.as_str() {
                "sqlite" => StoreKind::Sqlite,
                "postgres" => StoreKind::Postgres,
                _ => return Err(bad("COUNTERSIGN_STORE", &v, "expected sqlite or postgres")),
            };
        }
        if let Some(v) = get("COUNTERSIGN_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = get("COUNTERSIGN_NODE_NAME") {
            self.node_name = Some(v);
        }
        if let Some(v) = get("COUNTERSIGN_DATABASE_URL_FILE") {
            self.database_url_file = Some(v.into());
        }
        if let Some(v) = get("COUNTERSIGN_RETENTION_DAYS") {
            self.retention_days = v.parse().map_err(|_| {
                bad(
                    "COUNTERSIGN_RETENTION_DAYS",
                    &v,
                    "expected a number of days",
                )
            })?;
        }
        if let Some(v) = get("COUNTERSIGN_BODY_RETENTION") {
            self.body_retention = match v.as_str() {
                "full" => BodyRetention::Full,
                "facts_only" => BodyRetention::FactsOnly,
                _ => {
                    return Err(bad(
                        "COUNTERSIGN_BODY_RETENTION",
                        &v,
                        "expected full or facts_only",
                    ))
                }
            };
        }
        if let Some(v) = get("COUNTERSIGN_BODY_HMAC_KEY") {
            self.body_hmac_key = Some(v);
        }
        if let Some(v) = get("COUNTERSIGN_DEFAULT_REGION") {
            self.default_region = v;
        }
        // Secrets may come from the environment (a secret store) rather than the config file.
        if let Some(v) = get("COUNTERSIGN_WEBHOOK_SECRET") {
            self.alerts.webhook_secret = Some(v);
        }
        if let Some(v) = get("COUNTERSIGN_TWILIO_AUTH_TOKEN") {
            self.adapters.twilio_auth_token = Some(v);
        }
        if let Some(v) = get("COUNTERSIGN_WEBHOOK_SECRET_FILE") {
            self.alerts.webhook_secret_file = Some(v.into());
        }
        if let Some(v) = get("COUNTERSIGN_TWILIO_AUTH_TOKEN_FILE") {
            self.adapters.twilio_auth_token_file = Some(v.into());
        }
        if let Some(v) = get("COUNTERSIGN_BODY_HMAC_KEY_FILE") {
            self.body_hmac_key_file = Some(v.into());
        }
        if let Some(o) = self.console.oidc.as_mut() {
            if let Some(v) = get("COUNTERSIGN_OIDC_CLIENT_SECRET") {
                o.client_secret = Some(v);
            }
            if let Some(v) = get("COUNTERSIGN_OIDC_CLIENT_SECRET_FILE") {
                o.client_secret_file = Some(v.into());
            }
        }
        let (oidc_secret_file, mut oidc_secret) = match &self.console.oidc {
            Some(o) => (o.client_secret_file.clone(), o.client_secret.clone()),
            None => (None, None),
        };
        // A `*_file` form wins over the value (a mounted secret replaces a placeholder).
        for (path, value) in [
            (
                &self.alerts.webhook_secret_file,
                &mut self.alerts.webhook_secret,
            ),
            (
                &self.adapters.twilio_auth_token_file,
                &mut self.adapters.twilio_auth_token,
            ),
            (&self.body_hmac_key_file, &mut self.body_hmac_key),
            (&self.database_url_file, &mut self.database_url),
            (&oidc_secret_file, &mut oidc_secret),
        ] {
            if let Some(p) = path {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("secret file {}: {e}", p.display()))?;
                *value = Some(text.trim_end_matches(['\n', '\r']).to_string());
            }
        }
        if let Some(o) = self.console.oidc.as_mut() {
            o.client_secret = oidc_secret;
        }
        if let Some(v) = get("COUNTERSIGN_API_KEYS") {
            for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                self.api_keys.push(ApiKeyConfig::parse_compact(item).map_err(|e| {
                    anyhow::anyhow!("COUNTERSIGN_API_KEYS: {e} (expected name:scope+scope:sha256hex, comma-separated)")
                })?);
            }
        }
        Ok(())
    }

    /// Check the whole configuration; every problem is reported, not just the first.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        if self.retention_days == 0 {
            problems.push("retention_days must be at least 1".to_string());
        }
        if parse_region(&self.default_region).is_none() {
            problems.push(format!(
                "default_region {:?} is not an ISO 3166 region code",
                self.default_region
            ));
        }
        if self.future_skew_secs < 0 {
            problems.push("future_skew_secs must not be negative".into());
        }
        if let Some(k) = &self.body_hmac_key {
            match hex::decode(k) {
                Ok(b) if b.len() >= 16 => {}
                _ => problems.push("body_hmac_key must be at least 32 hex characters".into()),
            }
        }
        if self.store == StoreKind::Postgres {
            match &self.database_url {
                None => problems.push(
                    "store = \"postgres\" needs database_url (or COUNTERSIGN_DATABASE_URL)".into(),
                ),
                Some(u) => {
                    if let Err(e) = countersign_store::postgres::parse_url(u) {
                        problems.push(e.to_string());
                    }
                }
            }
            // Every node must compute the same MACs (a text check on one node, its report on
            // another): the key is shared configuration, never generated per node.
            if self.body_hmac_key.is_none() {
                problems.push(
                    "store = \"postgres\" needs body_hmac_key (or COUNTERSIGN_BODY_HMAC_KEY, or body_hmac_key_file) shared by every node".into(),
                );
            }
            if self.database_pool_max == 0 {
                problems.push("database_pool_max must be at least 1".into());
            }
        }
        if let Some(k) = &self.kafka {
            problems.extend(k.problems());
        }
        let l = &self.limits;
        if l.max_concurrent_body_bytes < l.max_body_bytes {
            problems.push(format!(
                "limits.max_concurrent_body_bytes ({}) must be at least limits.max_body_bytes ({})",
                l.max_concurrent_body_bytes, l.max_body_bytes
            ));
        }
        if l.max_body_bytes < 1024 || l.max_records_per_request == 0 || l.max_record_bytes < 256 {
            problems.push("limits are too small to accept a single record".into());
        }
        if self.checks.calling_now_max_mins <= 0 {
            problems.push("checks.calling_now_max_mins must be positive".into());
        }
        if !(0..=100).contains(&self.verify.time_tolerance_age_percent) {
            problems.push("verify.time_tolerance_age_percent is between 0 and 100".into());
        }
        if self.verify.time_tolerance_mins <= 0 || self.verify.candidates_max == 0 {
            problems.push(
                "verify.time_tolerance_mins and verify.candidates_max must be positive".into(),
            );
        }
        if let Err(e) = self.alerts.check() {
            problems.push(e);
        }
        if let Err(e) = self.console.check() {
            problems.push(e);
        }
        let c = &self.smish;
        if !(c.shape_similarity > 0.0 && c.shape_similarity <= 1.0) || c.min_reports == 0 {
            problems.push(
                "smish.shape_similarity must be in (0, 1] and smish.min_reports at least 1".into(),
            );
        }
        let mut names = std::collections::HashSet::new();
        for k in &self.api_keys {
            if !names.insert(k.name.as_str()) {
                problems.push(format!("api key name {:?} appears twice", k.name));
            }
            if let Err(e) = k.hash_bytes() {
                problems.push(format!("api key {:?}: {e}", k.name));
            }
            if k.scopes.is_empty() {
                problems.push(format!("api key {:?} has no scopes", k.name));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("invalid configuration:\n  - {}", problems.join("\n  - "))
        }
    }

    /// The false-positive corpus: the configured file, else the built-in one.
    pub fn legit_sender_ids(&self) -> anyhow::Result<Vec<String>> {
        match &self.sms_legit_ids_file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("sms_legit_ids_file {}: {e}", p.display()))?;
                Ok(countersign_core::variants::parse_id_list(&text))
            }
            None => Ok(countersign_core::variants::legit_sender_ids()),
        }
    }

    pub fn retention_ms(&self) -> Millis {
        self.retention_days as Millis * 86_400_000
    }

    pub fn extract(&self) -> ExtractConfig {
        ExtractConfig {
            default_region: parse_region(&self.default_region)
                .unwrap_or(ExtractConfig::default().default_region),
        }
    }

    pub fn verify_config(&self) -> VerifyConfig {
        VerifyConfig {
            time_tolerance_ms: self.verify.time_tolerance_mins * 60_000,
            time_tolerance_age_percent: self.verify.time_tolerance_age_percent,
            derived_watermark_margin_ms: self.verify.derived_watermark_margin_mins * 60_000,
            reaction_floor_ms: self.verify.watermark_slack_secs.max(1) * 1000,
            candidates_max: self.verify.candidates_max,
        }
    }

    /// The validation settings, given the resolved body HMAC key.
    pub fn validation(&self, body_hmac_key: Vec<u8>) -> ValidationConfig {
        ValidationConfig {
            limits: self.limits.fields,
            retention: self.body_retention,
            future_skew_ms: self.future_skew_secs * 1000,
            extract: self.extract(),
            body_hmac_key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_are_reported() {
        assert!(ServerConfig::from_toml("listen = \"127.0.0.1:1\"\nbogus = 1").is_err());
        let mut c = ServerConfig::from_toml("retention_days = 0\ndefault_region = \"XX\"").unwrap();
        c.apply_env(|k| (k == "COUNTERSIGN_API_KEYS").then(|| "desk:agent:abcd".to_string()))
            .unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("retention_days"), "{err}");
        assert!(err.contains("default_region"), "{err}");
        assert!(err.contains("desk"), "{err}");
    }

    #[test]
    fn secrets_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("webhook");
        std::fs::write(&secret, "a-secret-from-a-mounted-file\n").unwrap();
        let token = dir.path().join("twilio");
        std::fs::write(&token, "twilio-token-from-a-file").unwrap();
        let mut c = ServerConfig::from_toml(&format!(
            "[alerts]\nwebhook_secret = \"placeholder\"\nwebhook_secret_file = {secret:?}\n"
        ))
        .unwrap();
        let t = token.display().to_string();
        c.apply_env(|k| (k == "COUNTERSIGN_TWILIO_AUTH_TOKEN_FILE").then(|| t.clone()))
            .unwrap();
        assert_eq!(
            c.alerts.webhook_secret.as_deref(),
            Some("a-secret-from-a-mounted-file")
        );
        assert_eq!(
            c.adapters.twilio_auth_token.as_deref(),
            Some("twilio-token-from-a-file")
        );
        let err = c
            .apply_env(|k| (k == "COUNTERSIGN_BODY_HMAC_KEY_FILE").then(|| "/nonexistent/k".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/k"), "{err}");
    }

    #[test]
    fn env_overrides_file() {
        let mut c =
            ServerConfig::from_toml("retention_days = 30\n[limits]\nmax_records_per_request = 10")
                .unwrap();
        c.apply_env(|k| match k {
            "COUNTERSIGN_RETENTION_DAYS" => Some("7".into()),
            "COUNTERSIGN_BODY_RETENTION" => Some("facts_only".into()),
            "COUNTERSIGN_WEBHOOK_SECRET" => Some("a-secret-from-the-environment".into()),
            "COUNTERSIGN_TWILIO_AUTH_TOKEN" => Some("twilio-token".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.retention_days, 7);
        assert_eq!(
            c.alerts.webhook_secret.as_deref(),
            Some("a-secret-from-the-environment")
        );
        assert_eq!(
            c.adapters.twilio_auth_token.as_deref(),
            Some("twilio-token")
        );
        assert_eq!(c.body_retention, BodyRetention::FactsOnly);
        assert_eq!(c.limits.max_records_per_request, 10);
        assert!(c.validate().is_ok());
        assert!(c
            .apply_env(|k| (k == "COUNTERSIGN_BODY_RETENTION").then(|| "some".to_string()))
            .is_err());
    }
}

/// Settings of report intake and clustering (`[smish]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmishSettings {
    /// How customers see the institution's name ("ACME Bank"), for the `brand` indicator and the
    /// shape; the brand registry's display names and aliases are used too.
    pub brand_names: Vec<String>,
    /// The 7726 flow: a reporter's second message within this many seconds names the sender of
    /// the first and is joined to it.
    pub join_window_secs: u64,
    /// A genuine notification is "of a kind a campaign spoofs" when at least this share of its
    /// shape's words and word pairs appear in the campaign's (see `Campaigns::spoofing`).
    pub spoof_containment: f64,
    /// When a campaign is listed or confirmed, customers sent a genuine SMS of the kind it
    /// imitates within this many days are warned.
    pub spoof_sweep_days: u32,
    /// Estimated Jaccard similarity of two texts' shapes (word pairs) to be one campaign.
    pub shape_similarity: f64,
    /// Reports before a cluster is listed as a campaign (a lone spam text is not one).
    pub min_reports: u64,
}

impl SmishSettings {
    pub fn cluster(&self) -> ClusterConfig {
        ClusterConfig {
            shape_similarity: self.shape_similarity,
            min_reports: self.min_reports,
        }
    }
}

impl Default for SmishSettings {
    fn default() -> Self {
        SmishSettings {
            brand_names: Vec::new(),
            join_window_secs: 600,
            spoof_containment: 0.3,
            spoof_sweep_days: 3,
            shape_similarity: ClusterConfig::default().shape_similarity,
            min_reports: ClusterConfig::default().min_reports,
        }
    }
}
