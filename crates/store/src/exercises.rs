//! Exercise runs: their after-action reports (table `exercise_reports`), and removing what a run
//! wrote — every record in the run's namespace (`<run>.`, see [`countersign_core::namespace`])
//! across the table groups, in one transaction. The [`ExerciseStore`] sub-trait of
//! [`crate::Store`].

use async_trait::async_trait;
use countersign_core::Millis;

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

/// A run's after-action report as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExerciseReportRow {
    pub run: String,
    pub started_at: Millis,
    pub name: String,
    /// The overall rating (`Performed`, …).
    pub overall: String,
    /// The report as JSON.
    pub doc: String,
}

/// Exercise runs.
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

    /// Store (or replace) a run's after-action report. Durable.
    async fn put_exercise_report(&self, r: ExerciseReportRow) -> StoreResult<()>;

    /// The latest `limit` runs' reports, newest first.
    async fn exercise_reports(&self, limit: usize) -> StoreResult<Vec<ExerciseReportRow>>;

    /// One run's report.
    async fn exercise_report(&self, run: &str) -> StoreResult<Option<ExerciseReportRow>>;
}
