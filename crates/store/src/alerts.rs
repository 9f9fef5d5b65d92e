//! Customer alerts and the webhook outbox. Tables: `alerts`, `outbox`: the [`AlertStore`] sub-trait of
//! [`crate::Store`] and the types it speaks. Each backend implements it in its own file.

use async_trait::async_trait;
use countersign_core::Millis;

use crate::StoreResult;

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

/// Customer alerts and the webhook outbox. Tables: `alerts`, `outbox`.
#[async_trait]
pub trait AlertStore: Send + Sync {
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

    /// The latest alerts of every customer, newest first (the analyst's view).
    async fn recent_alerts(&self, limit: usize) -> StoreResult<Vec<AlertRow>>;

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

    /// Claim up to `limit` undelivered alerts whose next attempt is due at `now`, oldest first:
    /// each claimed one's next attempt moves to `lease_until`, so no other node takes it while
    /// this one tries (rows locked `SKIP LOCKED` on a shared store); if this node dies, the alert
    /// is due again when the lease ends. `delivery_attempt` records the outcome.
    async fn claim_deliveries(
        &self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
    ) -> StoreResult<Vec<Delivery>>;

    /// Record an attempt: delivered at `Ok(at)`, or failed with the next attempt's time.
    async fn delivery_attempt(
        &self,
        alert_id: &str,
        result: Result<Millis, (Millis, String)>,
    ) -> StoreResult<()>;

    async fn outbox_stats(&self) -> StoreResult<OutboxStats>;
}
