//! The notification ledger: ingest, delivery status, watermarks and feed health, the reads: the [`LedgerStore`] sub-trait of
//! [`crate::Store`] and the types it speaks. Each backend implements it in its own file.

use async_trait::async_trait;
use countersign_core::lag::LagHistogram;
use countersign_core::{Millis, Notification, SourceState, StatusUpdate, StoredNotification};

use crate::StoreResult;

/// What happened to one record of an ingest batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    Accepted,
    /// The same record was already stored (a retry): nothing written.
    Duplicate,
    /// A different record is stored under the same `(source, id)`.
    Conflict,
}

/// What happened to one status update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOutcome {
    Updated,
    /// No notification with that `(source, id)`.
    NotFound,
}

/// Everything verification needs from the store, read in one go.
#[derive(Debug, Clone, Default)]
pub struct LedgerView {
    pub customer_known: bool,
    pub candidates: Vec<StoredNotification>,
    pub sources: Vec<SourceState>,
}

/// One source's recent ingest activity (records acknowledged, and their lag) since a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceActivity {
    pub source: String,
    pub records: u64,
    pub lag: LagHistogram,
    /// Records acknowledged per hour (start of the hour → count), for the data-path map.
    pub per_hour: std::collections::BTreeMap<Millis, u64>,
}

/// The notification ledger: ingest, delivery status, watermarks and feed health, the reads
/// of verification and the timeline, retention. Tables: `notifications`, `sources`,
/// `source_minutes`, `customers`, `customer_numbers`.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Persist a batch; one outcome per record, in order. Durable when it returns `Ok`.
    async fn ingest(
        &self,
        batch: Vec<Notification>,
        acked_at: Millis,
    ) -> StoreResult<Vec<IngestOutcome>>;

    /// Apply delivery-status updates; one outcome per update, in order. Durable on `Ok`.
    async fn update_status(&self, updates: Vec<StatusUpdate>) -> StoreResult<Vec<StatusOutcome>>;

    /// Record a source's watermark ("everything sent up to `watermark` is delivered"), and
    /// optionally the time from which its record is complete. Watermarks never move back.
    async fn set_watermark(
        &self,
        source: &str,
        watermark: Millis,
        complete_since: Option<Millis>,
        now: Millis,
    ) -> StoreResult<SourceState>;

    /// Every known source.
    async fn sources(&self) -> StoreResult<Vec<SourceState>>;

    /// Per-source records acknowledged and ingest lag since `since` (minute resolution).
    async fn source_activity(&self, since: Millis) -> StoreResult<Vec<SourceActivity>>;

    /// The customer's notifications with `from <= sent_at <= to`, newest first, at most `limit`.
    async fn customer_notifications(
        &self,
        customer_id: &str,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> StoreResult<Vec<StoredNotification>>;

    /// Verification's read: whether the customer is known (a notification or a profile), their
    /// notifications in the window,
    /// and every source's state — in one round trip.
    async fn ledger_view(
        &self,
        customer_id: &str,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> StoreResult<LedgerView>;

    /// Delete notifications sent before `before`. Returns how many were deleted.
    async fn purge(&self, before: Millis) -> StoreResult<u64>;

    /// The kinds of SMS sent since `since` (template id, else category) with one body of each
    /// (kinds whose bodies were not kept are left out): for finding the kind a campaign spoofs.
    async fn sms_kinds_since(&self, since: Millis) -> StoreResult<Vec<(String, String)>>;

    /// Customers sent an SMS of `kind` (template id or category) since `since`, at most `limit`.
    async fn sms_recipients_of_kind(
        &self,
        kind: &str,
        since: Millis,
        limit: usize,
    ) -> StoreResult<Vec<String>>;
}
