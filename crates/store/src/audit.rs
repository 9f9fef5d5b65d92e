//! The audit log of PII reads and administrative actions. Table: `audit_log`: the [`AuditStore`] sub-trait of
//! [`crate::Store`] and the types it speaks. Each backend implements it in its own file.

use async_trait::async_trait;
use countersign_core::Millis;

use crate::StoreResult;

/// A PII read or an administrative action, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Millis,
    /// The API key name (never the key).
    pub actor: String,
    /// e.g. `verify`, `timeline`, `purge`.
    pub action: String,
    pub customer_id: Option<String>,
    pub detail: Option<String>,
}

/// The audit log of PII reads and administrative actions. Table: `audit_log`.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Append to the audit log. May be batched with the next durable write.
    async fn audit(&self, entry: AuditEntry) -> StoreResult<()>;

    /// The newest audit entries, newest first.
    async fn audit_log(&self, limit: usize) -> StoreResult<Vec<AuditEntry>>;
}
