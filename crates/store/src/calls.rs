//! Inbound calls, their claims' verdicts, and account events. Tables: `calls`,: the [`CallStore`] sub-trait of
//! [`crate::Store`] and the types it speaks. Each backend implements it in its own file.

use async_trait::async_trait;
use countersign_core::Millis;

use crate::StoreResult;

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
    /// Smishing reports the customer made, and forged texts they checked in the app, since the
    /// account-event window's start.
    pub smish_reports: u32,
}

/// Inbound calls, their claims' verdicts, and account events. Tables: `calls`,
/// `claim_verdicts`, `account_events`.
#[async_trait]
pub trait CallStore: Send + Sync {
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

    /// Record a claim verdict of a call, for the `not_sent` surge signal (queued with the next
    /// group commit).
    async fn add_claim_verdict(&self, call_id: &str, verdict: &str, at: Millis) -> StoreResult<()>;

    /// When claims were given `verdict` since `since`, oldest first (the surge window is
    /// rebuilt from it at start).
    async fn claim_verdict_times(&self, verdict: &str, since: Millis) -> StoreResult<Vec<Millis>>;
}
