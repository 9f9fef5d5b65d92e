//! Removing what an exercise run wrote: every record in the run's namespace (`<run>.`, see
//! [`countersign_core::namespace`]) across the table groups, in one transaction. The
//! [`ExerciseStore`] sub-trait of [`crate::Store`].

use async_trait::async_trait;

use crate::StoreResult;

/// What a purge removed, per table group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    pub notifications: u64,
    pub sources: u64,
    /// Profiles, known-customer rows and learned numbers.
    pub customers: u64,
    pub calls: u64,
    pub claim_verdicts: u64,
    pub account_events: u64,
    pub smish_reports: u64,
    /// Campaigns made only of the run's reports, retired (their ids are never given again).
    pub campaigns_retired: u64,
    pub alerts: u64,
    pub text_checks: u64,
}

impl PurgeCounts {
    pub fn total(&self) -> u64 {
        self.notifications
            + self.sources
            + self.customers
            + self.calls
            + self.claim_verdicts
            + self.account_events
            + self.smish_reports
            + self.campaigns_retired
            + self.alerts
            + self.text_checks
    }
}

/// Exercise clean-up.
#[async_trait]
pub trait ExerciseStore: Send + Sync {
    /// Remove, in one durable transaction, every record keyed in `run`'s namespace: its sources
    /// and their notifications, its customers' profiles, numbers, account events, alerts (with
    /// their outbox rows) and text checks, the calls about them or keyed in the namespace (with
    /// their claim verdicts), and the smishing reports `reports` (the caller decides which are
    /// safe to remove). The campaigns `retire` lose their events and are recorded as retired.
    /// The audit log is never touched.
    async fn purge_run(
        &self,
        run: &str,
        reports: Vec<i64>,
        retire: Vec<i64>,
    ) -> StoreResult<PurgeCounts>;

    /// Campaign ids retired by purges, ascending: a replay never gives them again.
    async fn retired_campaigns(&self) -> StoreResult<Vec<i64>>;
}
