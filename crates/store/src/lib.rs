//! The ledger store: the [`Store`] trait every backend implements, the embedded SQLite backend
//! ([`sqlite::SqliteStore`]), and the shared contract test suite ([`contract`]) that every backend
//! must pass. The store knows nothing of HTTP; it persists validated records from the core.
//!
//! Invariant: a method that writes returns `Ok` only once the write is durable (fsync'd).

pub mod contract;
pub mod sqlite;

use async_trait::async_trait;
use countersign_core::lag::LagHistogram;
use countersign_core::{Millis, Notification, SourceState, StatusUpdate, StoredNotification};

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

/// One source's recent ingest activity (records acknowledged, and their lag) since a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceActivity {
    pub source: String,
    pub records: u64,
    pub lag: LagHistogram,
}

/// An inbound call as stored: indexed columns plus the call's document (its facts, claims,
/// score history and outcome, as JSON owned by the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub call_id: String,
    pub customer_id: Option<String>,
    pub ani: String,
    pub started_at: Millis,
    pub doc: String,
}

/// What identifies a call for the velocity signals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallKey {
    pub call_id: String,
    pub customer_id: Option<String>,
    pub ani: String,
    pub started_at: Millis,
}

/// Everything call scoring reads from the store about one call, in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// A call with this id is already stored.
    pub call_exists: bool,
    /// The customer's profile document, if any.
    pub profile: Option<String>,
    /// Distinct numbers the ledger sent SMS to for the customer in the asked window, newest
    /// first (at most 50).
    pub sms_recipients: Vec<String>,
    /// The customer's account events in the asked window, newest first (at most 100).
    pub account_events: Vec<(String, Millis)>,
    /// Smishing reports the customer made since the account-event window's start.
    pub smish_reports: u32,
}

/// A smishing report as stored. Its id is its place in arrival order (clustering is replayed in
/// id order at start); `doc` is the server's JSON (report, indicators, assignment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmishReportRow {
    pub id: i64,
    pub received_at: Millis,
    pub customer_id: Option<String>,
    pub campaign_id: i64,
    pub doc: String,
}

/// Something that happened to a campaign: `status` (detail: the new status and note as JSON) or
/// `merged` (detail: the campaign folded into this one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignEvent {
    pub campaign_id: i64,
    pub kind: String,
    pub detail: Option<String>,
    pub at: Millis,
}

/// A customer alert: the app's feed entry and the webhook's payload (`doc`, JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    pub id: String,
    pub customer_id: String,
    /// One alert per customer and key (e.g. `campaign:12`): the same pattern is never told twice.
    pub dedupe_key: String,
    pub created_at: Millis,
    pub doc: String,
    pub read_at: Option<Millis>,
    pub acked_at: Option<Millis>,
}

/// What became of an alert that was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertOutcome {
    Created,
    /// The customer already has an alert with this key.
    Duplicate,
    /// The customer had the most alerts allowed in the rate window.
    RateLimited,
}

/// An alert waiting in the webhook outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub alert: AlertRow,
    pub attempts: u32,
}

/// The webhook outbox at a glance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    pub pending: u64,
    pub delivered: u64,
    pub oldest_pending_at: Option<Millis>,
    pub most_attempts: u32,
}

/// Size of what is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub notifications: i64,
    /// Bytes on disk for the whole store (database and journal).
    pub bytes_on_disk: u64,
}

/// Store failures. Input problems never reach the store (the core validates first).
#[derive(Debug, thiserror::Error)]
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

/// The ledger's persistence contract. Implemented by the embedded SQLite backend today and by a
/// PostgreSQL backend for scale-out; [`contract`] holds the tests both must pass.
#[async_trait]
pub trait Store: Send + Sync + 'static {
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

    /// Create or replace a brand's registry entry (its validated spec, as JSON). Durable on
    /// `Ok`; `true` when the brand is new.
    async fn put_brand(&self, name: &str, spec_json: String, now: Millis) -> StoreResult<bool>;

    /// Remove a brand; `false` when there was none.
    async fn delete_brand(&self, name: &str) -> StoreResult<bool>;

    /// Every brand as `(name, spec JSON)`, by name.
    async fn brands(&self) -> StoreResult<Vec<(String, String)>>;

    /// Create or replace customer profiles `(customer_id, validated profile JSON)`; durable on
    /// `Ok`. One flag per profile: `true` when the customer had none.
    async fn put_profiles(
        &self,
        profiles: Vec<(String, String)>,
        now: Millis,
    ) -> StoreResult<Vec<bool>>;

    /// A customer's profile JSON, if any.
    async fn profile(&self, customer_id: &str) -> StoreResult<Option<String>>;

    /// Record a new call; `false` (nothing written) when the call id exists. With `wait` false the
    /// write is queued and committed with the writer's next group commit (milliseconds later, like
    /// audit entries) and `true` is returned: scoring must not wait for an fsync.
    async fn put_call(&self, call: CallRecord, wait: bool) -> StoreResult<bool>;

    /// Replace a call's document; `false` when there is no such call. `wait` as for `put_call`.
    async fn update_call(&self, call_id: &str, doc: String, wait: bool) -> StoreResult<bool>;

    async fn get_call(&self, call_id: &str) -> StoreResult<Option<CallRecord>>;

    /// Calls started since `since`, oldest first, at most `limit` (for `policy fit`).
    async fn calls_since(&self, since: Millis, limit: usize) -> StoreResult<Vec<CallRecord>>;

    /// The keys of the calls started since `since` (no documents): what the in-memory window
    /// of recent calls is rebuilt from at start.
    async fn call_keys_since(&self, since: Millis) -> StoreResult<Vec<CallKey>>;

    /// Record account events `(customer_id, kind, at)`. Durable on `Ok`.
    async fn add_account_events(&self, events: Vec<(String, String, Millis)>) -> StoreResult<()>;

    /// Record a claim verdict of a call, for the `not_sent` surge signal (queued with the next
    /// group commit).
    /// What scoring a call needs: whether `call_id` exists and, for `customer_id`, the profile,
    /// the SMS recipients sent to within `numbers` (from, to) and the account events since
    /// `events_since`. One round trip instead of four.
    async fn call_context(
        &self,
        call_id: &str,
        customer_id: Option<&str>,
        numbers: (Millis, Millis),
        events_since: Millis,
    ) -> StoreResult<CallContext>;

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

    /// Store a report (durable) and the campaign events its assignment caused.
    async fn add_smish_report(
        &self,
        report: SmishReportRow,
        events: Vec<CampaignEvent>,
    ) -> StoreResult<()>;

    /// Replace a report's document (the 7726 flow's second message); `false` if unknown.
    async fn update_smish_report(&self, id: i64, doc: String) -> StoreResult<bool>;

    /// Reports with an id above `after`, in id order, at most `limit` (replay at start).
    async fn smish_reports_after(
        &self,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<SmishReportRow>>;

    /// Record a campaign event (durable).
    async fn add_campaign_event(&self, event: CampaignEvent) -> StoreResult<()>;

    /// Every campaign event, oldest first.
    async fn campaign_events(&self) -> StoreResult<Vec<CampaignEvent>>;

    /// Create an alert unless the customer has one with its key, or already `max` created since
    /// `since`; with `outbox`, queue it for the webhook in the same transaction.
    async fn put_alert(
        &self,
        alert: AlertRow,
        since: Millis,
        max: u32,
        outbox: bool,
    ) -> StoreResult<AlertOutcome>;

    /// A customer's alerts, newest first.
    async fn customer_alerts(&self, customer_id: &str, limit: usize) -> StoreResult<Vec<AlertRow>>;

    /// One of a customer's alerts.
    async fn alert(&self, customer_id: &str, alert_id: &str) -> StoreResult<Option<AlertRow>>;

    /// Mark a customer's alert read (or acknowledged, which implies read); `false` if unknown.
    async fn mark_alert(
        &self,
        customer_id: &str,
        alert_id: &str,
        acknowledged: bool,
        at: Millis,
    ) -> StoreResult<bool>;

    /// Undelivered alerts whose next attempt is due at `now`, oldest first.
    async fn due_deliveries(&self, now: Millis, limit: usize) -> StoreResult<Vec<Delivery>>;

    /// Record an attempt: delivered at `Ok(at)`, or failed with the next attempt's time.
    async fn delivery_attempt(
        &self,
        alert_id: &str,
        result: Result<Millis, (Millis, String)>,
    ) -> StoreResult<()>;

    async fn outbox_stats(&self) -> StoreResult<OutboxStats>;

    async fn add_claim_verdict(&self, call_id: &str, verdict: &str, at: Millis) -> StoreResult<()>;

    /// When claims were given `verdict` since `since`, oldest first (the surge window is
    /// rebuilt from it at start).
    async fn claim_verdict_times(&self, verdict: &str, since: Millis) -> StoreResult<Vec<Millis>>;

    /// Append to the audit log. May be batched with the next durable write.
    async fn audit(&self, entry: AuditEntry) -> StoreResult<()>;

    /// The newest audit entries, newest first.
    async fn audit_log(&self, limit: usize) -> StoreResult<Vec<AuditEntry>>;

    async fn stats(&self) -> StoreResult<StoreStats>;

    /// Wait until every write queued before this call is committed.
    async fn flush(&self) -> StoreResult<()>;

    /// Cheap liveness check of the engine (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
}
