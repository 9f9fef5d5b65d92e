//! The ledger store: the [`Store`] trait every backend implements, the embedded SQLite backend
//! ([`sqlite::SqliteStore`]), and the shared contract test suite ([`contract`]) that every backend
//! must pass. The store knows nothing of HTTP; it persists validated records from the core.
//!
//! Invariant: a method that writes returns `Ok` only once the write is durable (fsync'd).

pub mod alerts;
pub mod audit;
pub mod calls;
pub mod campaigns;
pub mod checks;
pub mod console;
#[cfg(feature = "testsuite")]
pub mod contract;
pub mod customers;
pub mod exercises;
pub mod ledger;
pub mod postgres;
pub mod registry;
pub mod sqlite;

pub use alerts::{AlertOutcome, AlertRow, AlertStore, Delivery, OutboxStats};
pub use audit::{AuditEntry, AuditStore};
pub use calls::{
    CallContext, CallKey, CallRecord, CallStore, ScoringQuery, ScoringReads, Velocity,
};
pub use campaigns::{CampaignEvent, CampaignStore, ReportPlan, SmishReportRow};
pub use checks::{CheckStore, StoredTextCheck, TextCheckRow};
pub use console::{ConsoleStore, LoginLink, SessionRow};
pub use customers::CustomerStore;
pub use exercises::{ExerciseReportRow, ExerciseStore, PurgeCounts};
pub use ledger::{IngestOutcome, LedgerStore, LedgerView, SourceActivity, StatusOutcome};
pub use registry::RegistryStore;

/// Every store trait, for callers that hold a `dyn Store` and call methods of its groups.
pub mod prelude {
    pub use crate::{
        AlertStore, AuditStore, CallStore, CampaignStore, CheckStore, ConsoleStore, CustomerStore,
        ExerciseStore, LedgerStore, RegistryStore, Store,
    };
}

use async_trait::async_trait;
use countersign_core::Millis;

/// Size of what is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub notifications: i64,
    /// Bytes on disk for the whole store (database and journal).
    pub bytes_on_disk: u64,
}

/// A node sharing the store, as its last heartbeat left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub node: String,
    pub version: String,
    pub started_at: Millis,
    pub last_seen_at: Millis,
}

/// A notification's facts as stored: compact JSON, or nothing for none (both backends).
pub(crate) fn facts_json(f: &countersign_core::Facts) -> Option<String> {
    if *f == countersign_core::Facts::default() {
        None
    } else {
        serde_json::to_string(f).ok()
    }
}

/// The number an SMS notification was sent to, when it is one (E.164): what the ledger learns
/// about the customer's numbers (both backends).
pub(crate) fn learned_number(
    channel: countersign_core::Channel,
    recipient: Option<&str>,
) -> Option<&str> {
    recipient.filter(|r| channel == countersign_core::Channel::Sms && r.starts_with('+'))
}

/// Store failures. Input problems never reach the store (the core validates first). `Clone`: a
/// batch that fails answers each of its waiters with the same error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed or is gone; nothing was acknowledged.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The ledger's persistence contract: one sub-trait per table group, so a backend is written
/// (and a new method added) one group at a time. Implemented by the embedded SQLite backend and,
/// for scale-out, by a PostgreSQL backend; [`contract`] (feature `testsuite`) holds the tests
/// every backend must pass.
#[async_trait]
pub trait Store:
    LedgerStore
    + RegistryStore
    + CustomerStore
    + CallStore
    + CampaignStore
    + AlertStore
    + AuditStore
    + ConsoleStore
    + CheckStore
    + ExerciseStore
    + Send
    + Sync
    + 'static
{
    async fn stats(&self) -> StoreResult<StoreStats>;

    /// Wait until every write queued before this call is committed.
    async fn flush(&self) -> StoreResult<()>;

    /// Whether several nodes share this store: the velocity windows, the surge, the campaigns'
    /// order and the webhook outbox are then coordinated through it, not each node's memory.
    fn shared(&self) -> bool {
        false
    }

    /// Record that `me` is alive now and answer every node seen in the last day (the others'
    /// health, for `/metrics`). An embedded store has one node: itself.
    async fn heartbeat(&self, me: &NodeRow) -> StoreResult<Vec<NodeRow>> {
        Ok(vec![me.clone()])
    }

    /// Cheap liveness check of the engine (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    /// Finish what is queued and release the backend (the embedded writer thread, the pooled
    /// connections): everything acknowledged is durable when it returns.
    fn close(&self);
}
