//! The embedded backend: one SQLite database (WAL, `synchronous=FULL`) in the data directory,
//! one writer thread doing group commit, and a small pool of read connections.
//!
//! Why this shape: SQLite allows one writer at a time, so every write goes through one thread
//! that drains all pending commands into one transaction and fsyncs once for all of them (group
//! commit). That is what makes durable ingest fast: 100k records cost a handful of fsyncs, not
//! 100k. Readers never block the writer (WAL), and see a commit as soon as it returns, which is
//! what makes a record verifiable right after its acknowledgement.
//!
//! The simulator's throwaway store runs `inline` instead: one connection on the caller's thread
//! for reads and writes alike (`SqliteOptions::inline`), the same SQL and the same contract.

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
use rusqlite::{OpenFlags, OptionalExtension, Row};
use tokio::sync::mpsc::{channel, Receiver, Sender};
use tokio::sync::oneshot;

use crate::prelude::*;
use crate::{
    AuditEntry, IngestOutcome, LedgerView, SourceActivity, StatusOutcome, StoreError, StoreResult,
    StoreStats,
};

mod alerts;
mod audit;
mod calls;
mod campaigns;
mod checks;
mod console;
mod customers;
mod exercises;
mod ledger;
mod registry;
mod schema;
mod writer;

pub use ledger::LEARN_NUMBER_SQL;
pub use schema::{day_of, migrate, migrate_to, schema_version};
// Shared between the group files (each file `use super::*`).
use crate::{facts_json, learned_number};
use customers::profile_row;
use ledger::{row_to_stored, sms_recipient_rows, SELECT_COLS};
use schema::load_shared;
use writer::{writer_loop, Bounds, Cmd, Reply, Shared, SourceRow};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "ledger.sqlite3";

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
    /// Most read connections open at once (each with up to `reader_cache_mib` of page cache):
    /// reads beyond it wait for one, so memory and file handles stay bounded under any load.
    pub readers_max: usize,
    /// fsync every commit (`synchronous=FULL`). Off only for throwaway stores — the simulator's
    /// — where nothing acknowledged has to survive a power cut.
    pub durable: bool,
    /// Run every read and write on the caller's thread over one connection, instead of the
    /// writer thread and the reader pool: writes go into one open transaction (each in its own
    /// savepoint, so a failed one leaves nothing), committed every `group_commit_max` writes and
    /// at `close` — so a write is answered before it is durable, and `flush` only makes what
    /// came before visible (as every write already is to the next read). For one sequential
    /// caller of a throwaway store only — the simulator, where a thread hand-off and a commit
    /// per call cost more than the work (BENCHMARKS.md) — never for the server.
    pub inline: bool,
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
            readers_max: 16,
            durable: true,
            inline: false,
        }
    }
}

/// The embedded SQLite store.
pub struct SqliteStore {
    tx: Mutex<Option<Sender<Cmd>>>,
    shared: Arc<RwLock<Shared>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// One permit per read connection that may be open (`readers_max`).
    reader_slots: Arc<tokio::sync::Semaphore>,
    path: PathBuf,
    /// (page cache, mmap) of reader connections, in MiB.
    reader_mib: (i64, i64),
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The next text check's id: given out at once, so a check's row rides the next group
    /// commit instead of waiting for it.
    next_check_id: std::sync::atomic::AtomicI64,
    /// The one connection of an inline store (`SqliteOptions::inline`); `None` inside once closed.
    inline: Option<Mutex<Option<Inline>>>,
}

/// An inline store's connection and the writes in its open transaction.
struct Inline {
    conn: Connection,
    uncommitted: usize,
    max: usize,
}

impl Inline {
    /// Commit the open transaction, if any.
    fn commit(&mut self) -> StoreResult<()> {
        self.uncommitted = 0;
        if self.conn.is_autocommit() {
            return Ok(());
        }
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}

fn unavailable(what: &str) -> StoreError {
    StoreError::Unavailable(format!("{what}: the store's writer has stopped"))
}

/// Pragmas of the writer connection.
#[derive(Clone, Copy)]
struct WriterPragmas {
    page_size: u32,
    wal_autocheckpoint_pages: u32,
    durable: bool,
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
        // SQLite caps this at its compile-time SQLITE_MAX_MMAP_SIZE (2 GiB in the bundled build).
        conn.pragma_update(None, "mmap_size", mmap_mib << 20)?;
    }
    if let Some(w) = writer {
        // Only takes effect on a new database (before the first table exists).
        conn.pragma_update(None, "page_size", w.page_size)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: the WAL is fsync'd at every commit, so an acknowledged write survives power loss.
        conn.pragma_update(None, "synchronous", if w.durable { "FULL" } else { "OFF" })?;
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
            durable: opts.durable,
        };
        let mut conn = open_conn(&path, opts.writer_cache_mib, 0, Some(pragmas))
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        if opts.inline {
            // The one connection: no file lock taken and released around every transaction
            // (the WAL index lives in its memory), and each write's savepoint journal in memory.
            conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
                .and_then(|()| conn.pragma_update(None, "temp_store", "MEMORY"))
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        }
        let (before, after) = migrate(&mut conn)?;
        if before != after {
            tracing::info!(before, after, "migrated the ledger schema");
        }
        let shared = Arc::new(RwLock::new(load_shared(&conn)?));
        let next_check_id = std::sync::atomic::AtomicI64::new(conn.query_row(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM text_checks",
            [],
            |r| r.get(0),
        )?);
        if opts.inline {
            return Ok(SqliteStore {
                tx: Mutex::new(None),
                shared,
                readers: Arc::new(Mutex::new(Vec::new())),
                reader_slots: Arc::new(tokio::sync::Semaphore::new(1)),
                path,
                reader_mib: (opts.reader_cache_mib, opts.reader_mmap_mib),
                next_check_id,
                writer: Mutex::new(None),
                inline: Some(Mutex::new(Some(Inline {
                    conn,
                    uncommitted: 0,
                    max: opts.group_commit_max.max(1),
                }))),
            });
        }
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
            reader_slots: Arc::new(tokio::sync::Semaphore::new(opts.readers_max.max(1))),
            path,
            reader_mib: (opts.reader_cache_mib, opts.reader_mmap_mib),
            next_check_id,
            writer: Mutex::new(Some(writer)),
            inline: None,
        })
    }

    /// Stop the writer after it has finished what is queued (everything acknowledged is durable).
    pub fn close(&self) {
        if let Some(inline) = &self.inline {
            if let Some(mut i) = inline.lock().unwrap_or_else(|p| p.into_inner()).take() {
                if let Err(e) = i.commit() {
                    tracing::error!(error = %e, "the inline store's last writes were not committed");
                }
            }
        }
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    async fn send(&self, cmd: Cmd) -> StoreResult<()> {
        if let Some(inline) = &self.inline {
            let mut guard = inline.lock().map_err(|_| unavailable("send"))?;
            let i = guard.as_mut().ok_or_else(|| unavailable("send"))?;
            if i.conn.is_autocommit() {
                i.conn
                    .execute_batch("BEGIN IMMEDIATE")
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            }
            if !writer::commit_group(&i.conn, vec![cmd], &self.shared, Bounds::Savepoint) {
                return Err(unavailable("send"));
            }
            i.uncommitted += 1;
            if i.uncommitted >= i.max {
                i.commit()?;
            }
            return Ok(());
        }
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

    /// Run `f` in the writer's next group commit and answer its value once that is durable.
    /// Every write that needs no special handling goes this way (one write style).
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Write(write_fn(f, reply))).await?;
        rx.await.map_err(|_| unavailable("reply"))?
    }

    /// Queue `f` with the writer's next group commit (milliseconds later) without waiting for
    /// it: for audit entries and a call's scores, which must not wait for an fsync.
    async fn queue(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<()> + Send + 'static,
    ) -> StoreResult<()> {
        let (reply, _rx) = oneshot::channel();
        self.send(Cmd::Write(write_fn(f, reply))).await
    }

    /// Run `f` on a pooled read connection, off the async runtime.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &Shared) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        if let Some(inline) = &self.inline {
            let guard = inline.lock().map_err(|_| unavailable("read"))?;
            let i = guard.as_ref().ok_or_else(|| unavailable("read"))?;
            let sh = self
                .shared
                .read()
                .map_err(|_| StoreError::Unavailable("poisoned lock".into()))?;
            return Ok(f(&i.conn, &sh)?);
        }
        let readers = self.readers.clone();
        let shared = self.shared.clone();
        let path = self.path.clone();
        let (cache, mmap) = self.reader_mib;
        // A permit per open connection: at most `readers_max` reads run (and connections exist).
        let permit = self
            .reader_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| unavailable("read"))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
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

/// Box `f` for the writer: it runs in the transaction and, once the group ends, answers `reply`
/// with its value (committed) or the reason (failed).
fn write_fn<T: Send + 'static>(
    f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    reply: Reply<T>,
) -> writer::WriteFn {
    Box::new(move |tx| match f(tx) {
        Ok(v) => Ok(Box::new(move |outcome: Result<(), String>| {
            let _ = reply.send(outcome.map(|()| v).map_err(StoreError::Unavailable));
        }) as writer::Done),
        Err(e) => {
            let _ = reply.send(Err(StoreError::Unavailable(e.to_string())));
            Err(e)
        }
    })
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

#[async_trait]
impl Store for SqliteStore {
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
        if self.inline.is_some() {
            // Every write is already visible to the next read on the one connection, and an
            // inline store answers writes before they are durable (`SqliteOptions::inline`).
            return Ok(());
        }
        // A write of nothing: answered once everything queued before it is committed.
        self.write(|_| Ok(())).await
    }

    async fn ping(&self) -> StoreResult<()> {
        if self.inline.is_none() && self.tx.lock().map(|t| t.is_none()).unwrap_or(true) {
            return Err(unavailable("ping"));
        }
        self.read(|conn, _| conn.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }

    fn close(&self) {
        SqliteStore::close(self);
    }
}
