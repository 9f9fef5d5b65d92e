//! Smishing reports and campaign events (replayed at start): the [`CampaignStore`] sub-trait of
//! [`crate::Store`] and the types it speaks. Each backend implements it in its own file.

use async_trait::async_trait;
use countersign_core::Millis;

use crate::StoreResult;

/// A smishing report as stored. Its id is its place in arrival order (clustering is replayed in
/// id order at start); `doc` is the server's JSON (report, indicators, assignment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmishReportRow {
    pub id: i64,
    pub received_at: Millis,
    pub customer_id: Option<String>,
    /// The campaign it was assigned on arrival: persisted, so a replay that assigns otherwise is
    /// detected rather than silently moving analysts' statuses to other reports.
    pub campaign_id: i64,
    pub doc: String,
    /// The client's idempotency key, unique among reports.
    pub idempotency_key: Option<String>,
    /// The answer the first request got (JSON), which a retry with the same key gets again.
    pub answer: Option<String>,
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

/// How a new report is planned under the intake order (see
/// [`CampaignStore::add_smish_report_in_order`]): given the reports stored since the caller last
/// looked, the row to store (its id the next of the gap-free sequence) and the campaign events
/// its assignment caused — or `None` to store nothing.
pub type ReportPlan<'a> = Box<
    dyn FnOnce(Vec<SmishReportRow>) -> Option<(SmishReportRow, Vec<CampaignEvent>)> + Send + 'a,
>;

/// Smishing reports and campaign events (replayed at start). Tables: `smish_reports`,
/// `campaign_events`.
#[async_trait]
pub trait CampaignStore: Send + Sync {
    /// Store a report (durable) and the campaign events its assignment caused.
    async fn add_smish_report(
        &self,
        report: SmishReportRow,
        events: Vec<CampaignEvent>,
    ) -> StoreResult<()>;

    /// Store a report in the one order every node clusters in: under the intake lock (a
    /// transaction-level lock on a shared store; the caller's own serialization on an embedded
    /// one), `plan` sees the reports stored after `after` — by other nodes since the caller last
    /// looked — and answers the report to store, whose id must be one more than the last stored
    /// (gap-free: replaying by id is replaying in intake order). `true` when it was stored.
    async fn add_smish_report_in_order<'a>(
        &'a self,
        after: i64,
        plan: ReportPlan<'a>,
    ) -> StoreResult<bool>;

    /// Campaign events with an id above `after`, oldest first, with their ids (a node catching
    /// up with the others' status changes).
    async fn campaign_events_after(&self, after: i64) -> StoreResult<Vec<(i64, CampaignEvent)>>;

    /// The report stored under an idempotency key, if any.
    async fn smish_report_by_key(&self, key: &str) -> StoreResult<Option<SmishReportRow>>;

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
}
