//! Inbound calls, their claims' verdicts, and account events (tables `calls`, `claim_verdicts`,
//! `account_events`): the [`CallStore`] sub-trait of
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

/// How many distinct parties recent calls involved (the velocity signals), read from the stored
/// calls when the store is shared by several nodes ([`crate::Store::shared`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Velocity {
    /// Distinct other customers calls from the number were about, in the last 24 h and 7 d.
    pub ani_customers_24h: u32,
    pub ani_customers_7d: u32,
    /// Distinct other numbers that called about the customer in the last 24 h.
    pub customer_anis_24h: u32,
}

/// Everything scoring a call reads from a shared store, asked at once
/// ([`CallStore::scoring_reads`]): the arguments of [`CallStore::call_context`],
/// [`CallStore::call_velocity`] and [`CallStore::claim_counts`] together.
#[derive(Debug, Clone, Copy)]
pub struct ScoringQuery<'a> {
    pub call_id: &'a str,
    pub customer_id: Option<&'a str>,
    pub ani: &'a str,
    /// The SMS recipients' window (from, to).
    pub numbers: (Millis, Millis),
    /// Where the account events' (and smishing reports') window starts.
    pub events_since: Millis,
    /// Where the velocity's two windows start.
    pub since_24h: Millis,
    pub since_7d: Millis,
    /// The surge's verdicts and its window: `since <= at < hour_ago` and `hour_ago <= at <= now`.
    pub verdicts: &'a [&'a str],
    pub surge_since: Millis,
    pub hour_ago: Millis,
    pub now: Millis,
}

/// What [`CallStore::scoring_reads`] answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScoringReads {
    pub context: CallContext,
    pub velocity: Velocity,
    /// The surge's counts: (last hour, before it).
    pub surge: (u64, u64),
}

/// Inbound calls, their claims' verdicts, and account events. Tables: `calls`,
/// `claim_verdicts`, `account_events`.
#[async_trait]
pub trait CallStore: Send + Sync {
    /// Record a new call; `false` (nothing written) when the call id exists. With `wait` false the
    /// write is queued and committed with the writer's next group commit (milliseconds later, like
    /// audit entries) without waiting for the disk: scoring must not wait for an fsync. A queued
    /// write may answer `true` for an id that turns out to exist (the embedded store answers
    /// when it queues; PostgreSQL after the batch's statement, knowing).
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

    /// The velocity of a call from the stored calls, other than `call_id` itself: distinct
    /// customers other than `customer` that calls from `ani` were about since `since_24h` and
    /// `since_7d`, and distinct numbers other than `ani` that called about `customer` since
    /// `since_24h` (the caller adds the call's own party). What a shared store's nodes score
    /// with instead of their own memory.
    async fn call_velocity(
        &self,
        call_id: &str,
        ani: &str,
        customer: Option<&str>,
        since_24h: Millis,
        since_7d: Millis,
    ) -> StoreResult<Velocity>;

    /// Claims given any of `verdicts` with `hour_ago <= at <= now`, and with
    /// `since <= at < hour_ago`: the surge's two counts, from the store.
    async fn claim_counts(
        &self,
        verdicts: &[&str],
        since: Millis,
        hour_ago: Millis,
        now: Millis,
    ) -> StoreResult<(u64, u64)>;

    /// The call's context, its velocity and the surge's counts in one answer: what a node of a
    /// shared store scores a call with. The same as asking the three methods; a backend answers
    /// it in one statement where a round trip costs more than the reads (PostgreSQL).
    async fn scoring_reads(&self, q: &ScoringQuery<'_>) -> StoreResult<ScoringReads> {
        let context = self
            .call_context(q.call_id, q.customer_id, q.numbers, q.events_since)
            .await?;
        let velocity = self
            .call_velocity(q.call_id, q.ani, q.customer_id, q.since_24h, q.since_7d)
            .await?;
        let surge = self
            .claim_counts(q.verdicts, q.surge_since, q.hour_ago, q.now)
            .await?;
        Ok(ScoringReads {
            context,
            velocity,
            surge,
        })
    }
}
