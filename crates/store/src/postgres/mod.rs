//! The PostgreSQL backend, for running several stateless nodes on one shared database: the same
//! [`Store`] traits and the same contract suite as the embedded SQLite backend.
//!
//! Why this shape: PostgreSQL is the system of record and the only shared state, so nothing is
//! cached per node (a source's state, the sequence of text checks) — every read asks the
//! database, and every write returns only after its transaction has committed (PostgreSQL's
//! `synchronous_commit` makes that durable). Each method is one transaction on a pooled
//! connection (`deadpool-postgres`); statements are prepared once per connection and cached;
//! audit entries and new calls are written, and the reads of the calls being scored read, in
//! batches by one task each (`audit_writer`, `calls::call_writer`, `scoring::scoring_reader`).
//!
//! Concurrency between nodes is the database's: a source's row is locked (`FOR UPDATE`, in name
//! order) by the transaction that ingests into it, purges it or moves its watermark, so its
//! counters stay exact; a customer's alerts are serialized by a transaction-level advisory lock.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use countersign_core::lag::LagHistogram;
use countersign_core::{
    Channel, DeliveryStatus, Facts, Millis, Notification, SourceState, StatusUpdate,
    StoredNotification, BODY_MAC_LEN,
};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{NoTls, Row};

use crate::prelude::*;
use crate::{
    AuditEntry, IngestOutcome, LedgerView, SourceActivity, StatusOutcome, StoreError, StoreResult,
    StoreStats,
};

mod calls;
mod campaigns;
mod console;
mod ledger;
mod schema;
mod scoring;

pub use schema::{migrate, schema_version, MIGRATIONS};

/// Tuning of the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most connections in each of this node's two pools (commits that wait for the WAL flush,
    /// and those that do not; the scoring reader holds half as many); callers beyond it wait.
    pub pool_max: usize,
    /// How long to wait for a connection (from the pool or a new one) before the store answers
    /// `Unavailable` — and `/readyz` says not ready.
    pub connect_timeout: Duration,
    /// Apply pending migrations when the store opens (`countersign migrate` does it on its own;
    /// several nodes starting at once take turns on an advisory lock).
    pub migrate: bool,
    /// TLS for a `database_url` with `sslmode=require`: the roots its server certificate must
    /// chain to (the certificate and the host name are always verified, as libpq's
    /// `verify-full`). Other modes connect in plain TCP.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_max: 16,
            connect_timeout: Duration::from_secs(5),
            migrate: true,
            tls: None,
        }
    }
}

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
    /// Connections whose commits do not wait for the WAL flush (see [`pool`]).
    lazy: Pool,
    /// The notification day partitions this node knows exist (days since the epoch, UTC).
    days: std::sync::Mutex<std::collections::HashSet<i64>>,
    /// Audit entries on their way to the database: written in batches by [`audit_writer`], so
    /// that a verification never waits for the insert (as on SQLite, they ride the next write).
    audits: tokio::sync::mpsc::UnboundedSender<AuditMsg>,
    /// New calls queued for [`calls::call_writer`] (`put_call` without `wait`).
    calls: tokio::sync::mpsc::UnboundedSender<calls::CallMsg>,
    /// The scoring reader's connections (see [`GENERIC_PLANS`]).
    scoring_pool: Pool,
    /// Calls waiting to be scored, for [`scoring::scoring_reader`].
    scoring: tokio::sync::mpsc::UnboundedSender<scoring::ScoringMsg>,
    /// Calls whose scoring reads were sent and that are not yet queued for the call writer.
    being_scored: calls::BeingScored,
}

/// Tell every waiter of a batch whose statement failed: each gets the same error.
fn fail_batch<M, T>(batch: Vec<(M, tokio::sync::oneshot::Sender<StoreResult<T>>)>, e: &StoreError) {
    for (_, tx) in batch {
        let _ = tx.send(Err(e.clone()));
    }
}

/// What the audit writer is sent: an entry, or a flush waiting for everything before it.
enum AuditMsg {
    Entry(AuditEntry),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Write queued audit entries, up to 1,000 per statement, on the pool whose commits do not wait
/// for the WAL flush; answer each flush once what came before it is written (or could not be:
/// after three tries an entry is dropped with an error in the log). Ends when the store does.
async fn audit_writer(pool: Pool, mut rx: tokio::sync::mpsc::UnboundedReceiver<AuditMsg>) {
    while let Some(first) = rx.recv().await {
        let (mut entries, mut waiters) = (Vec::new(), Vec::new());
        let mut next = Some(first);
        while let Some(m) = next.take() {
            match m {
                AuditMsg::Entry(e) => entries.push(e),
                AuditMsg::Flush(w) => waiters.push(w),
            }
            if entries.len() < 1000 {
                next = rx.try_recv().ok();
            }
        }
        let mut tries = 0;
        while !entries.is_empty() {
            match write_audits(&pool, &entries).await {
                Ok(()) => break,
                Err(e) if tries < 2 => {
                    tries += 1;
                    tracing::warn!(error = %e, entries = entries.len(), "audit entries not written; will retry");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, entries = entries.len(), "audit entries lost: the database did not take them");
                    break;
                }
            }
        }
        for w in waiters {
            let _ = w.send(());
        }
    }
}

async fn write_audits(pool: &Pool, entries: &[AuditEntry]) -> StoreResult<()> {
    let c = pool.get().await?;
    let stmt = c
        .prepare_cached(
            "INSERT INTO audit_log (at, actor, action, customer_id, detail)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])",
        )
        .await?;
    let at: Vec<Millis> = entries.iter().map(|e| e.at).collect();
    let actor: Vec<&str> = entries.iter().map(|e| e.actor.as_str()).collect();
    let action: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    let customer: Vec<Option<&str>> = entries.iter().map(|e| e.customer_id.as_deref()).collect();
    let detail: Vec<Option<&str>> = entries.iter().map(|e| e.detail.as_deref()).collect();
    c.execute(&stmt, &[&at, &actor, &action, &customer, &detail])
        .await?;
    Ok(())
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // The database's own message (its `DbError`) says more than the driver's summary.
        match e.as_db_error() {
            Some(db) => StoreError::Unavailable(format!("postgres: {}", db.message())),
            None => StoreError::Unavailable(format!("postgres: {e}")),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        // With its causes: "error performing TLS handshake" alone does not say that the
        // certificate was refused, nor why.
        let mut msg = format!("postgres pool: {e}");
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            let text = c.to_string();
            if !msg.ends_with(&text) {
                msg = format!("{msg}: {text}");
            }
            cause = c.source();
        }
        StoreError::Unavailable(msg)
    }
}

/// Parse a `database_url` (`postgres://user@host:port/db`, or key=value form), with a readable
/// error that never echoes a password.
pub fn parse_url(url: &str) -> anyhow::Result<tokio_postgres::Config> {
    url.parse::<tokio_postgres::Config>().map_err(|e| {
        anyhow::anyhow!("database_url is not a PostgreSQL connection string ({e}); expected e.g. postgres://countersign@127.0.0.1:5432/countersign")
    })
}

/// The database a URL names, for logs and messages: user, host, port and database, never the
/// password.
pub fn describe_url(url: &str) -> String {
    let Ok(c) = url.parse::<tokio_postgres::Config>() else {
        return "postgres (an unreadable database_url)".into();
    };
    let host = match c.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    format!(
        "postgres://{}@{host}:{}/{}",
        c.get_user().unwrap_or(""),
        c.get_ports().first().copied().unwrap_or(5432),
        c.get_dbname().unwrap_or("")
    )
}

/// Settings of the pool for the writes the store contract lets ride the next group commit
/// (audit entries, a call's queued scores, claim verdicts, text checks, session touches): its
/// transactions commit without waiting for the WAL flush — visible at once, durable within
/// PostgreSQL's WAL writer delay.
const LAZY: &str = "-c synchronous_commit=off";

/// Settings of the scoring reader's pool: its one statement keeps its generic plan. PostgreSQL
/// would otherwise plan it anew on every execution, because the plan it makes for the arrays
/// it is given (a batch's length known) always looks cheaper than the generic one (ten rows
/// assumed) — 1.5 ms of planning for a read of well under one.
const GENERIC_PLANS: &str = "-c plan_cache_mode=force_generic_plan";

/// A pool of connections to `url` (none opened yet), each with the server `settings` given
/// (`""`, [`LAZY`] or [`GENERIC_PLANS`]).
fn pool(url: &str, opts: &PgOptions, settings: &str) -> anyhow::Result<Pool> {
    let mut cfg = parse_url(url)?;
    if !settings.is_empty() {
        let options = cfg.get_options().unwrap_or("").to_string();
        cfg.options(format!("{options} {settings}").trim());
    }
    cfg.connect_timeout(opts.connect_timeout);
    if cfg.get_application_name().is_none() {
        cfg.application_name("countersign");
    }
    // A dead peer noticed within about 25 s (not the kernel's two hours): a dead node's
    // transaction locks are released, and a node cut off from the database knows it.
    // Settings given in the URL win over these.
    if !url.contains("keepalives") {
        cfg.keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
    }
    let mgr_cfg = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let mgr = if cfg.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
        let Some(tls) = &opts.tls else {
            anyhow::bail!(
                "database_url asks for sslmode=require but no TLS settings were given to the store"
            );
        };
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new((**tls).clone());
        Manager::from_config(cfg, tls, mgr_cfg)
    } else {
        Manager::from_config(cfg, NoTls, mgr_cfg)
    };
    Pool::builder(mgr)
        .max_size(opts.pool_max.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(opts.connect_timeout))
        .create_timeout(Some(opts.connect_timeout))
        .recycle_timeout(Some(opts.connect_timeout))
        .build()
        .map_err(|e| anyhow::anyhow!("postgres pool: {e}"))
}

/// Bring the database at `url` to this build's schema (`countersign migrate`): the version
/// before and after.
pub async fn migrate_url(url: &str, opts: &PgOptions) -> anyhow::Result<(u32, u32)> {
    migrate_url_to(url, opts, schema_version()).await
}

/// Bring the database at `url` to schema version `target` (no further): tests start from each
/// earlier version this way.
pub async fn migrate_url_to(
    url: &str,
    opts: &PgOptions,
    target: u32,
) -> anyhow::Result<(u32, u32)> {
    let pool = pool(
        url,
        &PgOptions {
            pool_max: 1,
            ..opts.clone()
        },
        "",
    )?;
    let mut client = pool
        .get()
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", describe_url(url)))?;
    let result = schema::migrate_to(&mut client, target).await;
    drop(client);
    pool.close();
    result
}

impl PgStore {
    /// Connect to the database at `url`, check it answers, and (with `opts.migrate`) bring its
    /// schema up to date. A database newer than this build is refused.
    pub async fn connect(url: &str, opts: PgOptions) -> anyhow::Result<PgStore> {
        let lazy = pool(url, &opts, LAZY)?;
        let (audits, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(audit_writer(lazy.clone(), rx));
        let being_scored = calls::BeingScored::default();
        let (calls, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(calls::call_writer(lazy.clone(), rx, being_scored.clone()));
        let main = pool(url, &opts, "")?;
        // As many scoring statements at once as the database has cores to run them: half the
        // pool size, which README sets at about twice the database's cores.
        let scoring_opts = PgOptions {
            pool_max: (opts.pool_max / 2).max(1),
            ..opts.clone()
        };
        let scoring_pool = pool(url, &scoring_opts, GENERIC_PLANS)?;
        let (scoring, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(scoring::scoring_reader(
            scoring_pool.clone(),
            rx,
            being_scored.clone(),
        ));
        let store = PgStore {
            pool: main,
            lazy,
            days: Default::default(),
            audits,
            calls,
            scoring_pool,
            scoring,
            being_scored,
        };
        let mut client = store
            .client()
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", describe_url(url)))?;
        if opts.migrate {
            let (before, after) = migrate(&mut client).await?;
            if before != after {
                tracing::info!(before, after, "migrated the PostgreSQL schema");
            }
        } else {
            schema::check_version(&client).await?;
        }
        schema::warn_if_autovacuum_off(&client).await;
        Ok(store)
    }

    /// The day partitions this node knows exist (a poisoned lock still holds a valid set).
    fn known_days(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<i64>> {
        self.days.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue a message for the audit writer.
    fn to_audit_writer(&self, m: AuditMsg) -> StoreResult<()> {
        self.audits
            .send(m)
            .map_err(|_| StoreError::Unavailable("postgres: the audit writer has stopped".into()))
    }

    /// A pooled connection.
    async fn client(&self) -> StoreResult<Object> {
        Ok(self.pool.get().await?)
    }

    /// A pooled connection whose commits do not wait for the WAL flush.
    async fn lazy_client(&self) -> StoreResult<Object> {
        Ok(self.lazy.get().await?)
    }

    /// Close every pooled connection (nothing is queued: each write committed before it
    /// returned).
    pub fn close(&self) {
        self.pool.close();
        self.lazy.close();
        self.scoring_pool.close();
    }
}

/// Read a column, turning a type mismatch into an error instead of a panic.
fn col<'a, T: tokio_postgres::types::FromSql<'a>>(r: &'a Row, i: usize) -> StoreResult<T> {
    Ok(r.try_get(i)?)
}

/// Counts fit `u64`; a negative count would be a bug, read as zero rather than wrapped.
fn count(r: &Row, i: usize) -> StoreResult<u64> {
    Ok(u64::try_from(col::<i64>(r, i)?).unwrap_or(0))
}

#[async_trait]
impl Store for PgStore {
    async fn stats(&self) -> StoreResult<StoreStats> {
        let c = self.client().await?;
        let r = c
            .query_one(
                "SELECT COALESCE(SUM(records_live), 0)::BIGINT,
                        pg_database_size(current_database())::BIGINT
                 FROM sources",
                &[],
            )
            .await?;
        Ok(StoreStats {
            notifications: col(&r, 0)?,
            bytes_on_disk: count(&r, 1)?,
        })
    }

    fn shared(&self) -> bool {
        true
    }

    async fn heartbeat(&self, me: &crate::NodeRow) -> StoreResult<Vec<crate::NodeRow>> {
        let c = self.client().await?;
        let beat = c
            .prepare_cached(
                "INSERT INTO nodes (node, version, started_at, last_seen_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (node) DO UPDATE SET version = EXCLUDED.version,
                     started_at = EXCLUDED.started_at, last_seen_at = EXCLUDED.last_seen_at",
            )
            .await?;
        c.execute(
            &beat,
            &[&me.node, &me.version, &me.started_at, &me.last_seen_at],
        )
        .await?;
        // Nodes gone for a day are forgotten.
        let day_ago = me.last_seen_at - 86_400_000;
        c.execute("DELETE FROM nodes WHERE last_seen_at < $1", &[&day_ago])
            .await?;
        let rows = c
            .query(
                "SELECT node, version, started_at, last_seen_at FROM nodes ORDER BY node",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(crate::NodeRow {
                    node: col(r, 0)?,
                    version: col(r, 1)?,
                    started_at: col(r, 2)?,
                    last_seen_at: col(r, 3)?,
                })
            })
            .collect()
    }

    async fn flush(&self) -> StoreResult<()> {
        // Every other write committed before it returned: only audit entries are queued.
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.to_audit_writer(AuditMsg::Flush(tx))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("postgres: the audit writer has stopped".into()))
    }

    async fn ping(&self) -> StoreResult<()> {
        let c = self.client().await?;
        c.simple_query("SELECT 1").await?;
        Ok(())
    }

    fn close(&self) {
        PgStore::close(self);
    }
}

#[async_trait]
impl RegistryStore for PgStore {
    async fn put_brand(&self, name: &str, spec_json: String, now: Millis) -> StoreResult<bool> {
        let c = self.client().await?;
        // `xmax = 0` only for a row this statement inserted (not one it updated).
        let r = c
            .query_one(
                "INSERT INTO brands (name, spec, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, updated_at = EXCLUDED.updated_at
                 RETURNING (xmax = 0)",
                &[&name, &spec_json, &now],
            )
            .await?;
        col(&r, 0)
    }

    async fn delete_brand(&self, name: &str) -> StoreResult<bool> {
        let c = self.client().await?;
        Ok(c.execute("DELETE FROM brands WHERE name = $1", &[&name])
            .await?
            > 0)
    }

    async fn brands(&self) -> StoreResult<Vec<(String, String)>> {
        let c = self.client().await?;
        let rows = c
            .query("SELECT name, spec FROM brands ORDER BY name", &[])
            .await?;
        rows.iter().map(|r| Ok((col(r, 0)?, col(r, 1)?))).collect()
    }
}

#[async_trait]
impl CustomerStore for PgStore {
    async fn put_profiles(
        &self,
        profiles: Vec<(String, String)>,
        now: Millis,
    ) -> StoreResult<Vec<bool>> {
        if profiles.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO profiles (customer_id, profile, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (customer_id) DO UPDATE SET profile = EXCLUDED.profile,
                     updated_at = EXCLUDED.updated_at
                 RETURNING (xmax = 0)",
            )
            .await?;
        let mut created = Vec::with_capacity(profiles.len());
        for (customer, profile) in &profiles {
            let r = tx.query_one(&stmt, &[customer, profile, &now]).await?;
            created.push(col(&r, 0)?);
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn profile(&self, customer_id: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT profile FROM profiles WHERE customer_id = $1")
            .await?;
        c.query_opt(&stmt, &[&customer_id])
            .await?
            .map(|r| col(&r, 0))
            .transpose()
    }
}

#[async_trait]
impl AuditStore for PgStore {
    async fn audit(&self, e: AuditEntry) -> StoreResult<()> {
        // Rides the audit writer's next batch, as the contract allows: a verification never
        // waits for the insert.
        self.to_audit_writer(AuditMsg::Entry(e))
    }

    async fn audit_log(&self, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        self.flush().await?;
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT at, actor, action, customer_id, detail FROM audit_log
                 ORDER BY id DESC LIMIT $1",
                &[&(limit as i64)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: col(r, 0)?,
                    actor: col(r, 1)?,
                    action: col(r, 2)?,
                    customer_id: col(r, 3)?,
                    detail: col(r, 4)?,
                })
            })
            .collect()
    }
}
