//! Customers' own checks of texts ("did my bank send this?"): what each check found, never the
//! text. Table: `text_checks`: the [`CheckStore`] sub-trait of [`crate::Store`] and its row.

use async_trait::async_trait;
use countersign_core::Millis;

use crate::StoreResult;

/// A check as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextCheckRow {
    pub customer_id: String,
    pub at: Millis,
    /// `we_sent_this`, `we_did_not_send_this`, `known_scam`, `cannot_tell_yet`.
    pub verdict: String,
    /// The text was a forgery (not ours, or a known scam): it counts for the customer's later
    /// calls like a smishing report.
    pub forged: bool,
    pub campaign_id: Option<u64>,
    /// What in the text was not ours, as JSON (numbers, links, sender) — never the text.
    pub indicators: String,
    /// A keyed MAC of the cleaned text (never the text): a report filed from the check must
    /// carry the same text.
    pub text_mac: Option<Vec<u8>>,
}

/// A check as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTextCheck {
    pub id: i64,
    pub row: TextCheckRow,
    /// The smishing report the customer filed from it (one tap), if any.
    pub report_id: Option<i64>,
}

/// Customers' text checks. Table: `text_checks`.
#[async_trait]
pub trait CheckStore: Send + Sync {
    /// Store a check; its id, given at once (ids grow). The row rides the next group commit,
    /// milliseconds later, like an audit entry: the customer's answer never waits for an fsync.
    /// Read it back after `flush`.
    async fn add_text_check(&self, row: TextCheckRow) -> StoreResult<i64>;

    /// How many checks found each campaign's texts, by campaign id.
    async fn text_checks_by_campaign(&self) -> StoreResult<Vec<(u64, u64)>>;

    /// One check by id.
    async fn text_check(&self, id: i64) -> StoreResult<Option<StoredTextCheck>>;

    /// Link the smishing report filed from a check, and the campaign it joined when the check
    /// had none (durable). From then on the report, not the check, counts for the customer's
    /// later calls, and the check counts on that campaign.
    async fn link_text_check_report(
        &self,
        id: i64,
        report_id: i64,
        campaign_id: Option<u64>,
    ) -> StoreResult<()>;
}
