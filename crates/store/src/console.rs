//! People signed in to the console: single-use sign-in links and browser sessions, stored by
//! the hash of their secret only. Tables: `console_links`, `console_sessions`: the
//! [`ConsoleStore`] sub-trait of [`crate::Store`] and the types it speaks.

use async_trait::async_trait;
use countersign_core::Millis;

use crate::StoreResult;

/// A browser session as stored: the SHA-256 of its id (the id itself only ever lives in the
/// person's cookie), who it is, the role, its CSRF token, and its times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: String,
    pub person: String,
    /// `agent` or `analyst`.
    pub role: String,
    pub csrf_token: String,
    pub created_at: Millis,
    pub last_seen_at: Millis,
}

/// A single-use sign-in link as stored (by the hash of its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginLink {
    pub token_hash: String,
    pub person: String,
    pub role: String,
    pub expires_at: Millis,
}

/// Sign-in links and browser sessions. Tables: `console_links`, `console_sessions`.
#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// Store a sign-in link (durable).
    async fn add_login_link(&self, link: LoginLink) -> StoreResult<()>;

    /// Use a link once: its person and role if it exists, is unused and has not expired at
    /// `now`; it can never be used again, whatever the answer.
    async fn redeem_login_link(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<(String, String)>>;

    /// Store a new session (durable).
    async fn add_session(&self, session: SessionRow) -> StoreResult<()>;

    /// A session by the hash of its id.
    async fn session(&self, id_hash: &str) -> StoreResult<Option<SessionRow>>;

    /// Record activity on a session (may ride the next group commit).
    async fn touch_session(&self, id_hash: &str, at: Millis) -> StoreResult<()>;

    /// End a session (sign-out, or expired); `true` if it existed.
    async fn end_session(&self, id_hash: &str) -> StoreResult<bool>;

    /// Forget sessions last seen before `idle_before` or created before `created_before`, and
    /// links expired before `idle_before`; how many sessions were removed.
    async fn purge_sessions(&self, idle_before: Millis, created_before: Millis)
        -> StoreResult<u64>;
}
