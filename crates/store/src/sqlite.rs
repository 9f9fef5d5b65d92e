//! The embedded backend: one SQLite database (WAL, `synchronous=FULL`) in the data directory,
//! one writer thread doing group commit, and a small pool of read connections.
//!
//! Why this shape: SQLite allows one writer at a time, so every write goes through one thread
//! that drains all pending commands into one transaction and fsyncs once for all of them (group
//! commit). That is what makes durable ingest fast: 100k records cost a handful of fsyncs, not
//! 100k. Readers never block the writer (WAL), and see a commit as soon as it returns, which is
//! what makes a record verifiable right after its acknowledgement.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use async_trait::async_trait;
use countersign_core::lag::LagHistogram;
use countersign_core::{
    Channel, DeliveryStatus, Facts, Millis, Notification, SourceState, StatusUpdate,
    StoredNotification, BODY_MAC_LEN,
};
pub use rusqlite::{params, Connection};
use rusqlite::{OpenFlags, OptionalExtension, Row, Transaction};
use tokio::sync::mpsc::{channel, Receiver, Sender};
use tokio::sync::oneshot;

use crate::{
    AuditEntry, IngestOutcome, LedgerView, SourceActivity, StatusOutcome, Store, StoreError,
    StoreResult, StoreStats,
};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "ledger.sqlite3";

/// Schema migrations, applied in order; `PRAGMA user_version` records how many have run.
/// Never edit a released migration: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the ledger.
    "CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        channels_mask INTEGER NOT NULL DEFAULT 0,
        declared_watermark INTEGER,
        watermark_updated_at INTEGER,
        complete_since INTEGER,
        first_acked_at INTEGER,
        last_acked_at INTEGER,
        last_sent_at INTEGER,
        records_total INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE notifications (
        pk INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL,
        ext_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        channel INTEGER NOT NULL,
        sender TEXT,
        recipient TEXT,
        sent_at INTEGER NOT NULL,
        acked_at INTEGER NOT NULL,
        category TEXT,
        template_id TEXT,
        facts TEXT,
        body TEXT,
        body_mac BLOB,
        status INTEGER NOT NULL,
        status_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX notifications_key ON notifications (source_id, ext_id);
    CREATE INDEX notifications_customer ON notifications (customer_id, sent_at);
    CREATE TABLE source_minutes (
        source_id INTEGER NOT NULL,
        minute INTEGER NOT NULL,
        records INTEGER NOT NULL,
        lag BLOB NOT NULL,
        PRIMARY KEY (source_id, minute)
    ) WITHOUT ROWID;
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        customer_id TEXT,
        detail TEXT
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('notifications_live', 0);",
    // 2: the sender-ID brand registry.
    "CREATE TABLE brands (
        name TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 3: the customer index leads with the day a notification was sent, so live ingest (random
    // customers, today's date) only touches today's region of the index instead of a random
    // page of all of it; customers get their own table for "is this customer known?".
    "ALTER TABLE notifications ADD COLUMN sent_day INTEGER NOT NULL DEFAULT 0;
    UPDATE notifications SET sent_day = (sent_at - ((sent_at % 86400000) + 86400000) % 86400000) / 86400000;
    CREATE INDEX notifications_day_customer ON notifications (sent_day, customer_id, sent_at);
    DROP INDEX notifications_customer;
    CREATE TABLE customers (customer_id TEXT PRIMARY KEY, first_sent_at INTEGER NOT NULL) WITHOUT ROWID;
    INSERT OR IGNORE INTO customers (customer_id, first_sent_at)
        SELECT customer_id, MIN(sent_at) FROM notifications GROUP BY customer_id;",
    // 4: customer profiles (numbers and e-mails on file, locale, app installed).
    "CREATE TABLE profiles (
        customer_id TEXT PRIMARY KEY,
        profile TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 5: inbound calls, account events and claim verdicts, for call scoring.
    "CREATE TABLE calls (
        call_id TEXT PRIMARY KEY,
        customer_id TEXT,
        ani TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        doc TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX calls_ani ON calls (ani, started_at);
    CREATE INDEX calls_customer ON calls (customer_id, started_at);
    CREATE TABLE account_events (
        id INTEGER PRIMARY KEY,
        customer_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX account_events_customer ON account_events (customer_id, at);
    CREATE TABLE claim_verdicts (
        id INTEGER PRIMARY KEY,
        call_id TEXT NOT NULL,
        verdict TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX claim_verdicts_at ON claim_verdicts (verdict, at);",
    // 6: velocities come from the in-memory window of recent calls, rebuilt at start from the
    // calls of the last days: index calls by start time, not by number or customer (two random
    // index writes per call that nothing reads any more).
    "DROP INDEX calls_ani;
    DROP INDEX calls_customer;
    CREATE INDEX calls_started ON calls (started_at);",
    // 7: the numbers the ledger has sent SMS to, per customer, with the last time: call scoring
    // reads a customer's learned numbers with one seek instead of one per day of notifications.
    "CREATE TABLE customer_numbers (
        customer_id TEXT NOT NULL,
        number TEXT NOT NULL,
        last_sent_at INTEGER NOT NULL,
        PRIMARY KEY (customer_id, number)
    ) WITHOUT ROWID;
    INSERT INTO customer_numbers (customer_id, number, last_sent_at)
        SELECT customer_id, recipient, MAX(sent_at) FROM notifications
        WHERE channel = 1 AND recipient LIKE '+%' GROUP BY customer_id, recipient;",
    // 8: smishing reports (clustered into campaigns in memory, replayed in id order at start),
    // campaign events (status changes, merges), customer alerts and the webhook outbox.
    "CREATE TABLE smish_reports (
        id INTEGER PRIMARY KEY,
        received_at INTEGER NOT NULL,
        customer_id TEXT,
        campaign_id INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX smish_reports_customer ON smish_reports (customer_id, received_at)
        WHERE customer_id IS NOT NULL;
    CREATE TABLE campaign_events (
        id INTEGER PRIMARY KEY,
        campaign_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT,
        at INTEGER NOT NULL
    );
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        dedupe_key TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        doc TEXT NOT NULL,
        read_at INTEGER,
        acked_at INTEGER,
        UNIQUE (customer_id, dedupe_key)
    );
    CREATE INDEX alerts_customer ON alerts (customer_id, created_at);
    CREATE TABLE outbox (
        alert_id TEXT PRIMARY KEY,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        delivered_at INTEGER,
        last_error TEXT
    );
    CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;",
];

/// Days since the epoch (UTC) of a time: the leading key of the customer index.
pub fn day_of(t: Millis) -> i64 {
    t.div_euclid(86_400_000)
}

/// The schema version this build writes.
pub fn schema_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// Apply pending migrations. Returns `(version before, version after)`.
pub fn migrate(conn: &mut Connection) -> anyhow::Result<(u32, u32)> {
    let before: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let target = schema_version();
    if before > target {
        anyhow::bail!(
            "the database is at schema version {before}, newer than this build of countersign understands ({target}); \
             upgrade countersign"
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(before as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
        tx.commit()?;
    }
    Ok((before, target))
}

/// Tuning of the embedded store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Page cache of the writer connection, in MiB (indexes of a large ledger want it in memory).
    pub writer_cache_mib: i64,
    /// Page cache of each reader connection, in MiB.
    pub reader_cache_mib: i64,
    /// Memory-map up to this much of the database in each reader, in MiB (0: off, the default).
    /// Measured off: with the writer committing and the file growing, mapped readers verified at
    /// half the rate (BENCHMARKS.md); kept as a knob for read-mostly deployments.
    pub reader_mmap_mib: i64,
    /// Most commands folded into one transaction.
    pub group_commit_max: usize,
    /// Depth of the writer's queue before callers wait.
    pub queue_depth: usize,
    /// Page size of a new database, in bytes.
    pub page_size: u32,
    /// Checkpoint the WAL into the database once it holds this many pages.
    pub wal_autocheckpoint_pages: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            writer_cache_mib: 512,
            reader_cache_mib: 64,
            reader_mmap_mib: 0,
            group_commit_max: 512,
            queue_depth: 1024,
            page_size: 4096,
            wal_autocheckpoint_pages: 8192,
        }
    }
}

#[derive(Debug, Clone)]
struct SourceRow {
    id: i64,
    state: SourceState,
}

/// State shared between the writer and readers: sources are few and read by every verification,
/// so they live in memory, updated by the writer right after each commit.
#[derive(Debug, Default, Clone)]
struct Shared {
    sources: BTreeMap<String, SourceRow>,
    names: HashMap<i64, String>,
}

type Reply<T> = oneshot::Sender<StoreResult<T>>;
type WriteFn = Box<dyn FnOnce(&Transaction<'_>) -> rusqlite::Result<i64> + Send>;

enum Cmd {
    Ingest {
        batch: Vec<Notification>,
        acked_at: Millis,
        reply: Reply<Vec<IngestOutcome>>,
    },
    Status {
        updates: Vec<StatusUpdate>,
        reply: Reply<Vec<StatusOutcome>>,
    },
    Watermark {
        source: String,
        watermark: Millis,
        complete_since: Option<Millis>,
        now: Millis,
        reply: Reply<SourceState>,
    },
    Delete {
        pks: Vec<i64>,
        minutes_before: Millis,
        reply: Reply<u64>,
    },
    Audit(AuditEntry),
    /// Any other durable write, run inside the group's transaction; answers a number.
    Write {
        f: WriteFn,
        reply: Reply<i64>,
    },
    PutBrand {
        name: String,
        spec: String,
        now: Millis,
        reply: Reply<bool>,
    },
    DeleteBrand {
        name: String,
        reply: Reply<bool>,
    },
    PutProfiles {
        profiles: Vec<(String, String)>,
        now: Millis,
        reply: Reply<Vec<bool>>,
    },
    PutCall {
        call: crate::CallRecord,
        reply: Reply<bool>,
    },
    UpdateCall {
        call_id: String,
        doc: String,
        reply: Reply<bool>,
    },
    AccountEvents {
        events: Vec<(String, String, Millis)>,
        reply: Reply<bool>,
    },
    ClaimVerdict {
        call_id: String,
        verdict: String,
        at: Millis,
        reply: Reply<bool>,
    },
    /// No write: answered once everything queued before it is committed.
    Flush(Reply<bool>),
}

/// The embedded SQLite store.
pub struct SqliteStore {
    tx: Mutex<Option<Sender<Cmd>>>,
    shared: Arc<RwLock<Shared>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: PathBuf,
    /// (page cache, mmap) of reader connections, in MiB.
    reader_mib: (i64, i64),
    writer: Mutex<Option<JoinHandle<()>>>,
}

fn unavailable(what: &str) -> StoreError {
    StoreError::Unavailable(format!("{what}: the store's writer has stopped"))
}

/// Pragmas of the writer connection.
#[derive(Clone, Copy)]
struct WriterPragmas {
    page_size: u32,
    wal_autocheckpoint_pages: u32,
}

fn open_conn(
    path: &Path,
    cache_mib: i64,
    mmap_mib: i64,
    writer: Option<WriterPragmas>,
) -> rusqlite::Result<Connection> {
    let read_only = writer.is_none();
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "cache_size", -(cache_mib * 1024))?;
    if mmap_mib > 0 {
        // SQLite caps this at its compile-time SQLITE_MAX_MMAP_SIZE (see .cargo/config.toml).
        conn.pragma_update(None, "mmap_size", mmap_mib << 20)?;
    }
    if let Some(w) = writer {
        // Only takes effect on a new database (before the first table exists).
        conn.pragma_update(None, "page_size", w.page_size)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: the WAL is fsync'd at every commit, so an acknowledged write survives power loss.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "wal_autocheckpoint", w.wal_autocheckpoint_pages)?;
        // The WAL is reset after each full checkpoint; cap what it keeps on disk meanwhile.
        conn.pragma_update(None, "journal_size_limit", 1i64 << 30)?;
    }
    Ok(conn)
}

impl SqliteStore {
    /// Open (creating if needed) the store in `data_dir`, applying pending migrations.
    pub fn open(data_dir: &Path, opts: SqliteOptions) -> anyhow::Result<SqliteStore> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            anyhow::anyhow!("cannot create data directory {}: {e}", data_dir.display())
        })?;
        let path = data_dir.join(DB_FILE);
        let pragmas = WriterPragmas {
            page_size: opts.page_size,
            wal_autocheckpoint_pages: opts.wal_autocheckpoint_pages,
        };
        let mut conn = open_conn(&path, opts.writer_cache_mib, 0, Some(pragmas))
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        let (before, after) = migrate(&mut conn)?;
        if before != after {
            tracing::info!(before, after, "migrated the ledger schema");
        }
        let shared = Arc::new(RwLock::new(load_shared(&conn)?));
        let (tx, rx) = channel(opts.queue_depth.max(1));
        let writer_shared = shared.clone();
        let max = opts.group_commit_max.max(1);
        let writer = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer_loop(conn, rx, writer_shared, max))?;
        Ok(SqliteStore {
            tx: Mutex::new(Some(tx)),
            shared,
            readers: Arc::new(Mutex::new(Vec::new())),
            path,
            reader_mib: (opts.reader_cache_mib, opts.reader_mmap_mib),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Stop the writer after it has finished what is queued (everything acknowledged is durable).
    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    async fn send(&self, cmd: Cmd) -> StoreResult<()> {
        let tx = self
            .tx
            .lock()
            .map_err(|_| unavailable("send"))?
            .clone()
            .ok_or_else(|| unavailable("send"))?;
        // Waiting here is the back-pressure: it only happens when the writer is saturated.
        tx.send(cmd).await.map_err(|_| unavailable("send"))
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Cmd) -> StoreResult<T> {
        let (reply, rx) = oneshot::channel();
        self.send(make(reply)).await?;
        rx.await.map_err(|_| unavailable("reply"))?
    }

    /// Run `f` in the writer's next group commit and wait until it is durable.
    async fn write(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<i64> + Send + 'static,
    ) -> StoreResult<i64> {
        self.call(|reply| Cmd::Write {
            f: Box::new(f),
            reply,
        })
        .await
    }

    /// Run `f` on a pooled read connection, off the async runtime.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &Shared) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let readers = self.readers.clone();
        let shared = self.shared.clone();
        let path = self.path.clone();
        let (cache, mmap) = self.reader_mib;
        tokio::task::spawn_blocking(move || {
            let conn = readers.lock().ok().and_then(|mut r| r.pop());
            let conn = match conn {
                Some(c) => c,
                None => open_conn(&path, cache, mmap, None)?,
            };
            let result = {
                let sh = shared
                    .read()
                    .map_err(|_| StoreError::Unavailable("poisoned lock".into()))?;
                f(&conn, &sh)
            };
            if let Ok(mut r) = readers.lock() {
                r.push(conn);
            }
            Ok(result?)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("reader task failed: {e}")))?
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

fn load_shared(conn: &Connection) -> anyhow::Result<Shared> {
    let mut sh = Shared::default();
    let mut stmt = conn.prepare(
        "SELECT id, name, channels_mask, declared_watermark, watermark_updated_at, complete_since,
                first_acked_at, last_acked_at, last_sent_at, records_total FROM sources",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(SourceRow {
            id: r.get(0)?,
            state: SourceState {
                source: r.get(1)?,
                channels_mask: r.get(2)?,
                declared_watermark: r.get(3)?,
                watermark_updated_at: r.get(4)?,
                complete_since: r.get(5)?,
                first_acked_at: r.get(6)?,
                last_acked_at: r.get(7)?,
                last_sent_at: r.get(8)?,
                records_total: r.get(9)?,
            },
        })
    })?;
    for row in rows {
        let row = row?;
        sh.names.insert(row.id, row.state.source.clone());
        sh.sources.insert(row.state.source.clone(), row);
    }
    Ok(sh)
}

/// What one command will answer once the transaction commits.
enum Pending {
    Ingest(Reply<Vec<IngestOutcome>>, Vec<IngestOutcome>),
    Status(Reply<Vec<StatusOutcome>>, Vec<StatusOutcome>),
    Watermark(Reply<SourceState>, String),
    Delete(Reply<u64>, u64),
    Flag(Reply<bool>, bool),
    Flags(Reply<Vec<bool>>, Vec<bool>),
    Value(Reply<i64>, i64),
    None,
}

impl Pending {
    fn fail(self, e: &str) {
        let err = || StoreError::Unavailable(e.to_string());
        match self {
            Pending::Ingest(r, _) => drop(r.send(Err(err()))),
            Pending::Status(r, _) => drop(r.send(Err(err()))),
            Pending::Watermark(r, _) => drop(r.send(Err(err()))),
            Pending::Delete(r, _) => drop(r.send(Err(err()))),
            Pending::Flag(r, _) => drop(r.send(Err(err()))),
            Pending::Flags(r, _) => drop(r.send(Err(err()))),
            Pending::Value(r, _) => drop(r.send(Err(err()))),
            Pending::None => {}
        }
    }
}

fn writer_loop(
    mut conn: Connection,
    mut rx: Receiver<Cmd>,
    shared: Arc<RwLock<Shared>>,
    max: usize,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut cmds = vec![first];
        while cmds.len() < max {
            match rx.try_recv() {
                Ok(c) => cmds.push(c),
                Err(_) => break,
            }
        }
        let mut work = match shared.read() {
            Ok(s) => s.clone(),
            Err(_) => return,
        };
        let mut pending = Vec::with_capacity(cmds.len());
        let result = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut live_delta = 0i64;
            let mut minutes: HashMap<(i64, i64), (u64, LagHistogram)> = HashMap::new();
            let mut touched: Vec<i64> = Vec::new();
            for cmd in cmds {
                pending.push(apply(
                    &tx,
                    &mut work,
                    cmd,
                    &mut live_delta,
                    &mut minutes,
                    &mut touched,
                )?);
            }
            flush_minutes(&tx, &minutes)?;
            touched.sort_unstable();
            touched.dedup();
            for id in touched {
                if let Some(name) = work.names.get(&id) {
                    if let Some(row) = work.sources.get(name) {
                        save_source(&tx, row)?;
                    }
                }
            }
            if live_delta != 0 {
                tx.prepare_cached(
                    "UPDATE meta SET value = value + ?1 WHERE key = 'notifications_live'",
                )?
                .execute([live_delta])?;
            }
            tx.commit()
        })();
        match result {
            Ok(()) => {
                let states: HashMap<String, SourceState> = work
                    .sources
                    .iter()
                    .map(|(k, v)| (k.clone(), v.state.clone()))
                    .collect();
                if let Ok(mut s) = shared.write() {
                    *s = work;
                }
                for p in pending {
                    match p {
                        Pending::Ingest(r, o) => drop(r.send(Ok(o))),
                        Pending::Status(r, o) => drop(r.send(Ok(o))),
                        Pending::Watermark(r, name) => {
                            let st = states.get(&name).cloned().unwrap_or_default();
                            drop(r.send(Ok(st)))
                        }
                        Pending::Delete(r, n) => drop(r.send(Ok(n))),
                        Pending::Flag(r, b) => drop(r.send(Ok(b))),
                        Pending::Flags(r, b) => drop(r.send(Ok(b))),
                        Pending::Value(r, v) => drop(r.send(Ok(v))),
                        Pending::None => {}
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "ledger transaction failed; nothing in it was acknowledged");
                let msg = e.to_string();
                for p in pending {
                    p.fail(&msg);
                }
            }
        }
    }
}

fn source_id(tx: &Transaction<'_>, work: &mut Shared, name: &str) -> rusqlite::Result<i64> {
    if let Some(row) = work.sources.get(name) {
        return Ok(row.id);
    }
    tx.prepare_cached("INSERT INTO sources (name) VALUES (?1)")?
        .execute([name])?;
    let id = tx.last_insert_rowid();
    work.names.insert(id, name.to_string());
    work.sources.insert(
        name.to_string(),
        SourceRow {
            id,
            state: SourceState {
                source: name.to_string(),
                ..Default::default()
            },
        },
    );
    Ok(id)
}

fn save_source(tx: &Transaction<'_>, row: &SourceRow) -> rusqlite::Result<()> {
    let s = &row.state;
    tx.prepare_cached(
        "UPDATE sources SET channels_mask = ?2, declared_watermark = ?3, watermark_updated_at = ?4,
            complete_since = ?5, first_acked_at = ?6, last_acked_at = ?7, last_sent_at = ?8, records_total = ?9
         WHERE id = ?1",
    )?
    .execute(params![
        row.id,
        s.channels_mask,
        s.declared_watermark,
        s.watermark_updated_at,
        s.complete_since,
        s.first_acked_at,
        s.last_acked_at,
        s.last_sent_at,
        s.records_total
    ])?;
    Ok(())
}

fn flush_minutes(
    tx: &Transaction<'_>,
    minutes: &HashMap<(i64, i64), (u64, LagHistogram)>,
) -> rusqlite::Result<()> {
    for ((source_id, minute), (records, lag)) in minutes {
        let existing: Option<(i64, Vec<u8>)> = tx
            .prepare_cached(
                "SELECT records, lag FROM source_minutes WHERE source_id = ?1 AND minute = ?2",
            )?
            .query_row([source_id, minute], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (mut total, mut hist) = match existing {
            Some((n, b)) => (n as u64, LagHistogram::from_bytes(&b)),
            None => (0, LagHistogram::default()),
        };
        total += records;
        hist.merge(lag);
        tx.prepare_cached("INSERT OR REPLACE INTO source_minutes (source_id, minute, records, lag) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![source_id, minute, total as i64, hist.to_bytes()])?;
    }
    Ok(())
}

fn facts_json(f: &Facts) -> Option<String> {
    if *f == Facts::default() {
        None
    } else {
        serde_json::to_string(f).ok()
    }
}

const SELECT_COLS: &str =
    "source_id, ext_id, customer_id, channel, sender, recipient, sent_at, acked_at, category, \
     template_id, facts, body, body_mac, status, status_at";

fn row_to_stored(
    r: &Row<'_>,
    names: &HashMap<i64, String>,
) -> rusqlite::Result<StoredNotification> {
    let source_id: i64 = r.get(0)?;
    let channel: i64 = r.get(3)?;
    let facts: Option<String> = r.get(10)?;
    let mac: Option<Vec<u8>> = r.get(12)?;
    let status: i64 = r.get(13)?;
    let bad = |what: &str| {
        rusqlite::Error::InvalidColumnType(0, what.to_string(), rusqlite::types::Type::Integer)
    };
    let body_mac = match mac {
        Some(b) if b.len() == BODY_MAC_LEN => {
            let mut a = [0u8; BODY_MAC_LEN];
            a.copy_from_slice(&b);
            Some(a)
        }
        _ => None,
    };
    Ok(StoredNotification {
        record: Notification {
            source: names
                .get(&source_id)
                .cloned()
                .unwrap_or_else(|| format!("#{source_id}")),
            id: r.get(1)?,
            customer_id: r.get(2)?,
            channel: Channel::from_code(channel).ok_or_else(|| bad("channel"))?,
            sender: r.get(4)?,
            recipient: r.get(5)?,
            sent_at: r.get(6)?,
            category: r.get(8)?,
            template_id: r.get(9)?,
            facts: match facts {
                Some(s) => serde_json::from_str(&s).map_err(|_| bad("facts"))?,
                None => Facts::default(),
            },
            body: r.get(11)?,
            body_mac,
            status: DeliveryStatus::from_code(status).ok_or_else(|| bad("status"))?,
        },
        acked_at: r.get(7)?,
        status_at: r.get(14)?,
    })
}

fn apply(
    tx: &Transaction<'_>,
    work: &mut Shared,
    cmd: Cmd,
    live_delta: &mut i64,
    minutes: &mut HashMap<(i64, i64), (u64, LagHistogram)>,
    touched: &mut Vec<i64>,
) -> rusqlite::Result<Pending> {
    match cmd {
        Cmd::Ingest {
            batch,
            acked_at,
            reply,
        } => {
            let mut outcomes = Vec::with_capacity(batch.len());
            for n in batch {
                let sid = source_id(tx, work, &n.source)?;
                let inserted = tx
                    .prepare_cached(
                        "INSERT INTO notifications (source_id, ext_id, customer_id, channel, sender, recipient, sent_at,
                            acked_at, category, template_id, facts, body, body_mac, status, status_at, sent_day)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?7, ?15)
                         ON CONFLICT (source_id, ext_id) DO NOTHING",
                    )?
                    .execute(params![
                        sid,
                        n.id,
                        n.customer_id,
                        n.channel.code(),
                        n.sender,
                        n.recipient,
                        n.sent_at,
                        acked_at,
                        n.category,
                        n.template_id,
                        facts_json(&n.facts),
                        n.body,
                        n.body_mac.as_ref().map(|m| m.as_slice()),
                        n.status.code(),
                        day_of(n.sent_at),
                    ])?;
                if inserted == 1 {
                    *live_delta += 1;
                    // A no-op for a customer already known: no page is written.
                    tx.prepare_cached("INSERT OR IGNORE INTO customers (customer_id, first_sent_at) VALUES (?1, ?2)")?
                        .execute(params![n.customer_id, n.sent_at])?;
                    if let Some(number) = learned_number(n.channel, n.recipient.as_deref()) {
                        tx.prepare_cached(LEARN_NUMBER_SQL)?.execute(params![
                            n.customer_id,
                            number,
                            n.sent_at
                        ])?;
                    }
                    touched.push(sid);
                    let minute = acked_at.div_euclid(60_000) * 60_000;
                    let m = minutes.entry((sid, minute)).or_default();
                    m.0 += 1;
                    m.1.record(acked_at - n.sent_at);
                    if let Some(row) = work.sources.get_mut(&n.source) {
                        let s = &mut row.state;
                        s.channels_mask |= n.channel.bit();
                        s.first_acked_at =
                            Some(s.first_acked_at.map_or(acked_at, |v| v.min(acked_at)));
                        s.last_acked_at =
                            Some(s.last_acked_at.map_or(acked_at, |v| v.max(acked_at)));
                        s.last_sent_at =
                            Some(s.last_sent_at.map_or(n.sent_at, |v| v.max(n.sent_at)));
                        s.records_total += 1;
                    }
                    outcomes.push(IngestOutcome::Accepted);
                } else {
                    let existing = tx
                        .prepare_cached(&format!(
                            "SELECT {SELECT_COLS} FROM notifications WHERE source_id = ?1 AND ext_id = ?2"
                        ))?
                        .query_row(params![sid, n.id], |r| row_to_stored(r, &work.names))?;
                    outcomes.push(if existing.record.same_content(&n) {
                        IngestOutcome::Duplicate
                    } else {
                        IngestOutcome::Conflict
                    });
                }
            }
            Ok(Pending::Ingest(reply, outcomes))
        }
        Cmd::Status { updates, reply } => {
            let mut outcomes = Vec::with_capacity(updates.len());
            for u in updates {
                let Some(sid) = work.sources.get(&u.source).map(|r| r.id) else {
                    outcomes.push(StatusOutcome::NotFound);
                    continue;
                };
                // A late, out-of-order update never overwrites a newer one.
                let n = tx
                    .prepare_cached(
                        "UPDATE notifications SET status = ?3, status_at = ?4
                         WHERE source_id = ?1 AND ext_id = ?2 AND status_at <= ?4",
                    )?
                    .execute(params![sid, u.id, u.status.code(), u.at])?;
                let found = n == 1
                    || tx
                        .prepare_cached(
                            "SELECT 1 FROM notifications WHERE source_id = ?1 AND ext_id = ?2",
                        )?
                        .exists(params![sid, u.id])?;
                outcomes.push(if found {
                    StatusOutcome::Updated
                } else {
                    StatusOutcome::NotFound
                });
            }
            Ok(Pending::Status(reply, outcomes))
        }
        Cmd::Watermark {
            source,
            watermark,
            complete_since,
            now,
            reply,
        } => {
            let sid = source_id(tx, work, &source)?;
            if let Some(row) = work.sources.get_mut(&source) {
                let s = &mut row.state;
                s.declared_watermark =
                    Some(s.declared_watermark.map_or(watermark, |w| w.max(watermark)));
                s.watermark_updated_at = Some(now);
                if let Some(cs) = complete_since {
                    // Completeness can only be extended backwards by an explicit declaration.
                    s.complete_since = Some(s.complete_since.map_or(cs, |v| v.min(cs)));
                }
            }
            touched.push(sid);
            Ok(Pending::Watermark(reply, source))
        }
        Cmd::Delete {
            pks,
            minutes_before,
            reply,
        } => {
            let mut n = 0u64;
            {
                let mut stmt = tx.prepare_cached(
                    "DELETE FROM notifications WHERE pk = ?1 RETURNING customer_id, channel, recipient",
                )?;
                let mut forget = tx.prepare_cached(
                    "DELETE FROM customer_numbers WHERE customer_id = ?1 AND number = ?2 AND last_sent_at < ?3",
                )?;
                for pk in pks {
                    let gone: Option<(String, i64, Option<String>)> = stmt
                        .query_row([pk], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                        .optional()?;
                    let Some((customer, channel, recipient)) = gone else {
                        continue;
                    };
                    n += 1;
                    let number = Channel::from_code(channel)
                        .and_then(|c| learned_number(c, recipient.as_deref()));
                    if let Some(number) = number {
                        forget.execute(params![customer, number, minutes_before])?;
                    }
                }
            }
            tx.prepare_cached("DELETE FROM source_minutes WHERE minute < ?1")?
                .execute([minutes_before])?;
            *live_delta -= n as i64;
            Ok(Pending::Delete(reply, n))
        }
        Cmd::Write { f, reply } => Ok(Pending::Value(reply, f(tx)?)),
        Cmd::PutBrand {
            name,
            spec,
            now,
            reply,
        } => {
            let existed = tx
                .prepare_cached("SELECT 1 FROM brands WHERE name = ?1")?
                .exists([&name])?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO brands (name, spec, updated_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![name, spec, now])?;
            Ok(Pending::Flag(reply, !existed))
        }
        Cmd::DeleteBrand { name, reply } => {
            let n = tx
                .prepare_cached("DELETE FROM brands WHERE name = ?1")?
                .execute([&name])?;
            Ok(Pending::Flag(reply, n > 0))
        }
        Cmd::PutProfiles {
            profiles,
            now,
            reply,
        } => {
            let mut created = Vec::with_capacity(profiles.len());
            for (customer, profile) in profiles {
                let existed = tx
                    .prepare_cached("SELECT 1 FROM profiles WHERE customer_id = ?1")?
                    .exists([&customer])?;
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO profiles (customer_id, profile, updated_at) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![customer, profile, now])?;
                created.push(!existed);
            }
            Ok(Pending::Flags(reply, created))
        }
        Cmd::PutCall { call, reply } => {
            let n = tx
                .prepare_cached(
                    "INSERT INTO calls (call_id, customer_id, ani, started_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (call_id) DO NOTHING",
                )?
                .execute(params![call.call_id, call.customer_id, call.ani, call.started_at, call.doc])?;
            Ok(Pending::Flag(reply, n == 1))
        }
        Cmd::UpdateCall {
            call_id,
            doc,
            reply,
        } => {
            let n = tx
                .prepare_cached("UPDATE calls SET doc = ?2 WHERE call_id = ?1")?
                .execute(params![call_id, doc])?;
            Ok(Pending::Flag(reply, n == 1))
        }
        Cmd::AccountEvents { events, reply } => {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO account_events (customer_id, kind, at) VALUES (?1, ?2, ?3)",
            )?;
            for (c, k, at) in events {
                stmt.execute(params![c, k, at])?;
            }
            Ok(Pending::Flag(reply, true))
        }
        Cmd::ClaimVerdict {
            call_id,
            verdict,
            at,
            reply,
        } => {
            tx.prepare_cached(
                "INSERT INTO claim_verdicts (call_id, verdict, at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![call_id, verdict, at])?;
            Ok(Pending::Flag(reply, true))
        }
        Cmd::Flush(reply) => Ok(Pending::Flag(reply, true)),
        Cmd::Audit(e) => {
            tx.prepare_cached("INSERT INTO audit_log (at, actor, action, customer_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![e.at, e.actor, e.action, e.customer_id, e.detail])?;
            Ok(Pending::None)
        }
    }
}

fn call_from_row(r: &Row<'_>) -> rusqlite::Result<crate::CallRecord> {
    Ok(crate::CallRecord {
        call_id: r.get(0)?,
        customer_id: r.get(1)?,
        ani: r.get(2)?,
        started_at: r.get(3)?,
        doc: r.get(4)?,
    })
}

const ALERT_COLS: &str = "alerts.id, alerts.customer_id, alerts.dedupe_key, alerts.created_at, alerts.doc, alerts.read_at, alerts.acked_at";

fn alert_from_row(r: &Row<'_>) -> rusqlite::Result<crate::AlertRow> {
    Ok(crate::AlertRow {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        dedupe_key: r.get(2)?,
        created_at: r.get(3)?,
        doc: r.get(4)?,
        read_at: r.get(5)?,
        acked_at: r.get(6)?,
    })
}

fn insert_campaign_event(
    tx: &Transaction<'_>,
    e: &crate::CampaignEvent,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT INTO campaign_events (campaign_id, kind, detail, at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![e.campaign_id, e.kind, e.detail, e.at])
}

/// The first and last day that hold any notification. Two statements: SQLite answers a lone
/// MIN() or MAX() from the index in O(log n), but not both in one query.
fn day_span(conn: &Connection) -> rusqlite::Result<Option<(i64, i64)>> {
    let lo: Option<i64> = conn
        .prepare_cached("SELECT MIN(sent_day) FROM notifications")?
        .query_row([], |r| r.get(0))?;
    let hi: Option<i64> = conn
        .prepare_cached("SELECT MAX(sent_day) FROM notifications")?
        .query_row([], |r| r.get(0))?;
    Ok(lo.zip(hi))
}

/// Record that the ledger texted a customer's number. The last-sent time moves only by more than
/// a day, so the day's further texts to one number cost a page read, not a page write (the
/// learned window is counted in days; purge may forget a number up to a day before its last text
/// leaves retention).
pub const LEARN_NUMBER_SQL: &str =
    "INSERT INTO customer_numbers (customer_id, number, last_sent_at)
    VALUES (?1, ?2, ?3)
    ON CONFLICT DO UPDATE SET last_sent_at = excluded.last_sent_at
    WHERE excluded.last_sent_at > last_sent_at + 86400000";

/// The number an SMS notification was sent to, when it is one (E.164): what the ledger learns
/// about the customer's numbers.
fn learned_number(channel: Channel, recipient: Option<&str>) -> Option<&str> {
    recipient.filter(|r| channel == Channel::Sms && r.starts_with('+'))
}

/// Distinct numbers the ledger last sent SMS to within `[from, to]`, most recent first, at most
/// `limit`: one seek in `customer_numbers`.
fn sms_recipient_rows(
    conn: &Connection,
    customer_id: &str,
    from: Millis,
    to: Millis,
    limit: usize,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT number FROM customer_numbers
         WHERE customer_id = ?1 AND last_sent_at >= ?2 AND last_sent_at <= ?3
         ORDER BY last_sent_at DESC LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![customer_id, from, to, limit as i64], |r| r.get(0))?;
    rows.collect()
}

fn profile_row(conn: &Connection, customer_id: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT profile FROM profiles WHERE customer_id = ?1")?
        .query_row([customer_id], |r| r.get(0))
        .optional()
}

fn account_event_rows(
    conn: &Connection,
    customer_id: &str,
    since: Millis,
) -> rusqlite::Result<Vec<(String, Millis)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, at FROM account_events WHERE customer_id = ?1 AND at >= ?2 ORDER BY at DESC LIMIT 100",
    )?;
    let rows = stmt.query_map(params![customer_id, since], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

fn customer_rows(
    conn: &Connection,
    names: &HashMap<i64, String>,
    customer_id: &str,
    from: Millis,
    to: Millis,
    limit: usize,
) -> rusqlite::Result<Vec<StoredNotification>> {
    // One index seek per day, newest day first, within the days that hold any data.
    let Some((lo, hi)) = day_span(conn)? else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SELECT_COLS} FROM notifications
         WHERE sent_day = ?1 AND customer_id = ?2 AND sent_at >= ?3 AND sent_at <= ?4
         ORDER BY sent_at DESC LIMIT ?5"
    ))?;
    let mut out = Vec::new();
    let mut day = day_of(to).min(hi);
    let first = day_of(from).max(lo);
    while day >= first && out.len() < limit {
        let rows = stmt.query_map(
            params![day, customer_id, from, to, (limit - out.len()) as i64],
            |r| row_to_stored(r, names),
        )?;
        for r in rows {
            out.push(r?);
        }
        day -= 1;
    }
    Ok(out)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ingest(
        &self,
        batch: Vec<Notification>,
        acked_at: Millis,
    ) -> StoreResult<Vec<IngestOutcome>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        self.call(|reply| Cmd::Ingest {
            batch,
            acked_at,
            reply,
        })
        .await
    }

    async fn update_status(&self, updates: Vec<StatusUpdate>) -> StoreResult<Vec<StatusOutcome>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        self.call(|reply| Cmd::Status { updates, reply }).await
    }

    async fn set_watermark(
        &self,
        source: &str,
        watermark: Millis,
        complete_since: Option<Millis>,
        now: Millis,
    ) -> StoreResult<SourceState> {
        let source = source.to_string();
        self.call(|reply| Cmd::Watermark {
            source,
            watermark,
            complete_since,
            now,
            reply,
        })
        .await
    }

    async fn sources(&self) -> StoreResult<Vec<SourceState>> {
        let sh = self
            .shared
            .read()
            .map_err(|_| StoreError::Unavailable("poisoned lock".into()))?;
        Ok(sh.sources.values().map(|r| r.state.clone()).collect())
    }

    async fn source_activity(&self, since: Millis) -> StoreResult<Vec<SourceActivity>> {
        let minute = since.div_euclid(60_000) * 60_000;
        self.read(move |conn, sh| {
            let mut out: BTreeMap<String, SourceActivity> = BTreeMap::new();
            let mut stmt = conn.prepare_cached(
                "SELECT source_id, records, lag FROM source_minutes WHERE minute >= ?1",
            )?;
            let mut rows = stmt.query([minute])?;
            while let Some(r) = rows.next()? {
                let sid: i64 = r.get(0)?;
                let records: i64 = r.get(1)?;
                let lag: Vec<u8> = r.get(2)?;
                let name = sh
                    .names
                    .get(&sid)
                    .cloned()
                    .unwrap_or_else(|| format!("#{sid}"));
                let a = out.entry(name.clone()).or_insert_with(|| SourceActivity {
                    source: name,
                    ..Default::default()
                });
                a.records += records as u64;
                a.lag.merge(&LagHistogram::from_bytes(&lag));
            }
            Ok(out.into_values().collect())
        })
        .await
    }

    async fn customer_notifications(
        &self,
        customer_id: &str,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> StoreResult<Vec<StoredNotification>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn, sh| customer_rows(conn, &sh.names, &customer_id, from, to, limit))
            .await
    }

    async fn ledger_view(
        &self,
        customer_id: &str,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> StoreResult<LedgerView> {
        let customer_id = customer_id.to_string();
        self.read(move |conn, sh| {
            let candidates = customer_rows(conn, &sh.names, &customer_id, from, to, limit)?;
            let customer_known = !candidates.is_empty()
                || conn
                    .prepare_cached("SELECT 1 FROM customers WHERE customer_id = ?1")?
                    .exists([&customer_id])?
                || conn
                    .prepare_cached("SELECT 1 FROM profiles WHERE customer_id = ?1")?
                    .exists([&customer_id])?;
            Ok(LedgerView {
                customer_known,
                candidates,
                sources: sh.sources.values().map(|r| r.state.clone()).collect(),
            })
        })
        .await
    }

    async fn purge(&self, before: Millis) -> StoreResult<u64> {
        // Find old rows through the day-leading index on a reader, delete them in bounded
        // chunks through the writer so that ingest keeps flowing between chunks.
        let mut deleted = 0u64;
        let last_day = day_of(before);
        loop {
            let pks = self
                .read(move |conn, _| {
                    let mut stmt = conn.prepare_cached(
                        "SELECT pk FROM notifications WHERE sent_day <= ?1 AND sent_at < ?2 LIMIT 10000",
                    )?;
                    let rows = stmt.query_map(params![last_day, before], |r| r.get::<_, i64>(0))?;
                    rows.collect::<rusqlite::Result<Vec<i64>>>()
                })
                .await?;
            if pks.is_empty() {
                break;
            }
            let n = self
                .call(|reply| Cmd::Delete {
                    pks,
                    minutes_before: before,
                    reply,
                })
                .await?;
            deleted += n;
            if n == 0 {
                break;
            }
        }
        Ok(deleted)
    }

    async fn put_brand(&self, name: &str, spec_json: String, now: Millis) -> StoreResult<bool> {
        let name = name.to_string();
        self.call(|reply| Cmd::PutBrand {
            name,
            spec: spec_json,
            now,
            reply,
        })
        .await
    }

    async fn delete_brand(&self, name: &str) -> StoreResult<bool> {
        let name = name.to_string();
        self.call(|reply| Cmd::DeleteBrand { name, reply }).await
    }

    async fn brands(&self) -> StoreResult<Vec<(String, String)>> {
        self.read(|conn, _| {
            let mut stmt = conn.prepare_cached("SELECT name, spec FROM brands ORDER BY name")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .await
    }

    async fn put_profiles(
        &self,
        profiles: Vec<(String, String)>,
        now: Millis,
    ) -> StoreResult<Vec<bool>> {
        if profiles.is_empty() {
            return Ok(Vec::new());
        }
        self.call(|reply| Cmd::PutProfiles {
            profiles,
            now,
            reply,
        })
        .await
    }

    async fn profile(&self, customer_id: &str) -> StoreResult<Option<String>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn, _| profile_row(conn, &customer_id))
            .await
    }

    async fn put_call(&self, call: crate::CallRecord, wait: bool) -> StoreResult<bool> {
        if wait {
            return self.call(|reply| Cmd::PutCall { call, reply }).await;
        }
        let (reply, _rx) = oneshot::channel();
        self.send(Cmd::PutCall { call, reply }).await?;
        Ok(true)
    }

    async fn update_call(&self, call_id: &str, doc: String, wait: bool) -> StoreResult<bool> {
        let call_id = call_id.to_string();
        if wait {
            return self
                .call(|reply| Cmd::UpdateCall {
                    call_id,
                    doc,
                    reply,
                })
                .await;
        }
        let (reply, _rx) = oneshot::channel();
        self.send(Cmd::UpdateCall {
            call_id,
            doc,
            reply,
        })
        .await?;
        Ok(true)
    }

    async fn get_call(&self, call_id: &str) -> StoreResult<Option<crate::CallRecord>> {
        let call_id = call_id.to_string();
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT call_id, customer_id, ani, started_at, doc FROM calls WHERE call_id = ?1",
            )?
            .query_row([&call_id], call_from_row)
            .optional()
        })
        .await
    }

    async fn calls_since(
        &self,
        since: Millis,
        limit: usize,
    ) -> StoreResult<Vec<crate::CallRecord>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT call_id, customer_id, ani, started_at, doc FROM calls WHERE started_at >= ?1
                 ORDER BY started_at LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![since, limit as i64], call_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn call_keys_since(&self, since: Millis) -> StoreResult<Vec<crate::CallKey>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT call_id, customer_id, ani, started_at FROM calls WHERE started_at >= ?1 ORDER BY started_at",
            )?;
            let rows = stmt.query_map([since], |r| {
                Ok(crate::CallKey {
                    call_id: r.get(0)?,
                    customer_id: r.get(1)?,
                    ani: r.get(2)?,
                    started_at: r.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn add_account_events(&self, events: Vec<(String, String, Millis)>) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.call(|reply| Cmd::AccountEvents { events, reply })
            .await
            .map(|_| ())
    }

    async fn call_context(
        &self,
        call_id: &str,
        customer_id: Option<&str>,
        numbers: (Millis, Millis),
        events_since: Millis,
    ) -> StoreResult<crate::CallContext> {
        let call_id = call_id.to_string();
        let customer_id = customer_id.map(str::to_string);
        self.read(move |conn, _| {
            let call_exists = conn
                .prepare_cached("SELECT 1 FROM calls WHERE call_id = ?1")?
                .exists([&call_id])?;
            let Some(c) = customer_id else {
                return Ok(crate::CallContext {
                    call_exists,
                    ..Default::default()
                });
            };
            Ok(crate::CallContext {
                call_exists,
                profile: profile_row(conn, &c)?,
                sms_recipients: sms_recipient_rows(conn, &c, numbers.0, numbers.1, 50)?,
                account_events: account_event_rows(conn, &c, events_since)?,
                smish_reports: conn
                    .prepare_cached(
                        "SELECT COUNT(*) FROM smish_reports WHERE customer_id = ?1 AND received_at >= ?2",
                    )?
                    .query_row(params![c, events_since], |r| r.get(0))?,
            })
        })
        .await
    }

    async fn sms_kinds_since(&self, since: Millis) -> StoreResult<Vec<(String, String)>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT COALESCE(template_id, category) AS kind, MAX(body) FROM notifications
                 WHERE sent_day >= ?1 AND sent_at >= ?2 AND channel = ?3 AND body IS NOT NULL
                   AND COALESCE(template_id, category) IS NOT NULL
                 GROUP BY kind",
            )?;
            let rows = stmt.query_map(params![day_of(since), since, Channel::Sms.code()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect()
        })
        .await
    }

    async fn sms_recipients_of_kind(
        &self,
        kind: &str,
        since: Millis,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let kind = kind.to_string();
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT customer_id FROM notifications
                 WHERE sent_day >= ?1 AND sent_at >= ?2 AND channel = ?3
                   AND COALESCE(template_id, category) = ?4
                 LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![
                    day_of(since),
                    since,
                    Channel::Sms.code(),
                    kind,
                    limit as i64
                ],
                |r| r.get(0),
            )?;
            rows.collect()
        })
        .await
    }

    async fn add_smish_report(
        &self,
        report: crate::SmishReportRow,
        events: Vec<crate::CampaignEvent>,
    ) -> StoreResult<()> {
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO smish_reports (id, received_at, customer_id, campaign_id, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                report.id,
                report.received_at,
                report.customer_id,
                report.campaign_id,
                report.doc
            ])?;
            for e in events {
                insert_campaign_event(tx, &e)?;
            }
            Ok(0)
        })
        .await
        .map(|_| ())
    }

    async fn update_smish_report(&self, id: i64, doc: String) -> StoreResult<bool> {
        self.write(move |tx| {
            tx.prepare_cached("UPDATE smish_reports SET doc = ?2 WHERE id = ?1")?
                .execute(params![id, doc])
                .map(|n| n as i64)
        })
        .await
        .map(|n| n > 0)
    }

    async fn smish_reports_after(
        &self,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<crate::SmishReportRow>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, received_at, customer_id, campaign_id, doc FROM smish_reports
                 WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limit as i64], |r| {
                Ok(crate::SmishReportRow {
                    id: r.get(0)?,
                    received_at: r.get(1)?,
                    customer_id: r.get(2)?,
                    campaign_id: r.get(3)?,
                    doc: r.get(4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn add_campaign_event(&self, event: crate::CampaignEvent) -> StoreResult<()> {
        self.write(move |tx| insert_campaign_event(tx, &event).map(|_| 0))
            .await
            .map(|_| ())
    }

    async fn campaign_events(&self) -> StoreResult<Vec<crate::CampaignEvent>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT campaign_id, kind, detail, at FROM campaign_events ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(crate::CampaignEvent {
                    campaign_id: r.get(0)?,
                    kind: r.get(1)?,
                    detail: r.get(2)?,
                    at: r.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn put_alert(
        &self,
        alert: crate::AlertRow,
        since: Millis,
        max: u32,
        outbox: bool,
    ) -> StoreResult<crate::AlertOutcome> {
        let code = self
            .write(move |tx| {
                let exists = tx
                    .prepare_cached("SELECT 1 FROM alerts WHERE customer_id = ?1 AND dedupe_key = ?2")?
                    .exists(params![alert.customer_id, alert.dedupe_key])?;
                if exists {
                    return Ok(1);
                }
                let recent: i64 = tx
                    .prepare_cached(
                        "SELECT COUNT(*) FROM alerts WHERE customer_id = ?1 AND created_at >= ?2",
                    )?
                    .query_row(params![alert.customer_id, since], |r| r.get(0))?;
                if recent >= i64::from(max) {
                    return Ok(2);
                }
                tx.prepare_cached(
                    "INSERT INTO alerts (id, customer_id, dedupe_key, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    alert.id,
                    alert.customer_id,
                    alert.dedupe_key,
                    alert.created_at,
                    alert.doc
                ])?;
                if outbox {
                    tx.prepare_cached(
                        "INSERT INTO outbox (alert_id, next_attempt_at) VALUES (?1, ?2)",
                    )?
                    .execute(params![alert.id, alert.created_at])?;
                }
                Ok(0)
            })
            .await?;
        Ok(match code {
            0 => crate::AlertOutcome::Created,
            1 => crate::AlertOutcome::Duplicate,
            _ => crate::AlertOutcome::RateLimited,
        })
    }

    async fn customer_alerts(
        &self,
        customer_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<crate::AlertRow>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ALERT_COLS} FROM alerts WHERE customer_id = ?1 ORDER BY created_at DESC, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![customer_id, limit as i64], alert_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn alert(
        &self,
        customer_id: &str,
        alert_id: &str,
    ) -> StoreResult<Option<crate::AlertRow>> {
        let (customer_id, alert_id) = (customer_id.to_string(), alert_id.to_string());
        self.read(move |conn, _| {
            conn.prepare_cached(&format!(
                "SELECT {ALERT_COLS} FROM alerts WHERE customer_id = ?1 AND id = ?2"
            ))?
            .query_row(params![customer_id, alert_id], alert_from_row)
            .optional()
        })
        .await
    }

    async fn mark_alert(
        &self,
        customer_id: &str,
        alert_id: &str,
        acknowledged: bool,
        at: Millis,
    ) -> StoreResult<bool> {
        let (customer_id, alert_id) = (customer_id.to_string(), alert_id.to_string());
        self.write(move |tx| {
            let sql = if acknowledged {
                "UPDATE alerts SET read_at = COALESCE(read_at, ?3), acked_at = COALESCE(acked_at, ?3)
                 WHERE customer_id = ?1 AND id = ?2"
            } else {
                "UPDATE alerts SET read_at = COALESCE(read_at, ?3) WHERE customer_id = ?1 AND id = ?2"
            };
            tx.prepare_cached(sql)?
                .execute(params![customer_id, alert_id, at])
                .map(|n| n as i64)
        })
        .await
        .map(|n| n > 0)
    }

    async fn due_deliveries(&self, now: Millis, limit: usize) -> StoreResult<Vec<crate::Delivery>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ALERT_COLS}, o.attempts FROM outbox o JOIN alerts ON alerts.id = o.alert_id
                 WHERE o.delivered_at IS NULL AND o.next_attempt_at <= ?1
                 ORDER BY o.next_attempt_at LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![now, limit as i64], |r| {
                Ok(crate::Delivery {
                    alert: alert_from_row(r)?,
                    attempts: r.get(7)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn delivery_attempt(
        &self,
        alert_id: &str,
        result: Result<Millis, (Millis, String)>,
    ) -> StoreResult<()> {
        let alert_id = alert_id.to_string();
        self.write(move |tx| {
            match result {
                Ok(at) => tx
                    .prepare_cached(
                        "UPDATE outbox SET attempts = attempts + 1, delivered_at = ?2, last_error = NULL WHERE alert_id = ?1",
                    )?
                    .execute(params![alert_id, at])?,
                Err((next, error)) => tx
                    .prepare_cached(
                        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE alert_id = ?1",
                    )?
                    .execute(params![alert_id, next, error])?,
            };
            Ok(0)
        })
        .await
        .map(|_| ())
    }

    async fn outbox_stats(&self) -> StoreResult<crate::OutboxStats> {
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT COALESCE(SUM(delivered_at IS NULL), 0), COALESCE(SUM(delivered_at IS NOT NULL), 0),
                        MIN(CASE WHEN delivered_at IS NULL THEN next_attempt_at END),
                        COALESCE(MAX(CASE WHEN delivered_at IS NULL THEN attempts END), 0)
                 FROM outbox",
            )?
            .query_row([], |r| {
                Ok(crate::OutboxStats {
                    pending: r.get::<_, i64>(0)? as u64,
                    delivered: r.get::<_, i64>(1)? as u64,
                    oldest_pending_at: r.get(2)?,
                    most_attempts: r.get::<_, i64>(3)? as u32,
                })
            })
        })
        .await
    }

    async fn add_claim_verdict(&self, call_id: &str, verdict: &str, at: Millis) -> StoreResult<()> {
        let (call_id, verdict) = (call_id.to_string(), verdict.to_string());
        let (reply, _rx) = oneshot::channel();
        self.send(Cmd::ClaimVerdict {
            call_id,
            verdict,
            at,
            reply,
        })
        .await
    }

    async fn claim_verdict_times(&self, verdict: &str, since: Millis) -> StoreResult<Vec<Millis>> {
        let verdict = verdict.to_string();
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT at FROM claim_verdicts WHERE verdict = ?1 AND at >= ?2 ORDER BY at",
            )?;
            let rows = stmt.query_map(params![verdict, since], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    async fn audit(&self, entry: AuditEntry) -> StoreResult<()> {
        self.send(Cmd::Audit(entry)).await
    }

    async fn audit_log(&self, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT at, actor, action, customer_id, detail FROM audit_log ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit as i64], |r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    customer_id: r.get(3)?,
                    detail: r.get(4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        let path = self.path.clone();
        self.read(move |conn, _| {
            let notifications: i64 = conn.query_row(
                "SELECT value FROM meta WHERE key = 'notifications_live'",
                [],
                |r| r.get(0),
            )?;
            let mut bytes = 0;
            for suffix in ["", "-wal"] {
                let p = PathBuf::from(format!("{}{suffix}", path.display()));
                bytes += std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            }
            Ok(StoreStats {
                notifications,
                bytes_on_disk: bytes,
            })
        })
        .await
    }

    async fn flush(&self) -> StoreResult<()> {
        self.call(Cmd::Flush).await.map(|_| ())
    }

    async fn ping(&self) -> StoreResult<()> {
        if self.tx.lock().map(|t| t.is_none()).unwrap_or(true) {
            return Err(unavailable("ping"));
        }
        self.read(|conn, _| conn.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }
}
