//! Console sign-in links and sessions on SQLite.

use super::*;

fn session_row(r: &Row<'_>) -> rusqlite::Result<crate::SessionRow> {
    Ok(crate::SessionRow {
        id_hash: r.get(0)?,
        person: r.get(1)?,
        role: r.get(2)?,
        csrf_token: r.get(3)?,
        created_at: r.get(4)?,
        last_seen_at: r.get(5)?,
    })
}

#[async_trait]
impl ConsoleStore for SqliteStore {
    async fn add_login_link(&self, link: crate::LoginLink) -> StoreResult<()> {
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO console_links (token_hash, person, role, expires_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![link.token_hash, link.person, link.role, link.expires_at])
            .map(|n| n as i64)
        })
        .await
        .map(|_| ())
    }

    async fn redeem_login_link(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<(String, String)>> {
        let token_hash = token_hash.to_string();
        let found = std::sync::Arc::new(Mutex::new(None));
        let out = found.clone();
        self.write(move |tx| {
            // Deleted whatever it answers: a link is tried once.
            let row: Option<(String, String, Millis)> = tx
                .prepare_cached(
                    "DELETE FROM console_links WHERE token_hash = ?1 RETURNING person, role, expires_at",
                )?
                .query_row(params![token_hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            if let Some((person, role, expires_at)) = row {
                if expires_at > now {
                    *out.lock().unwrap_or_else(|p| p.into_inner()) = Some((person, role));
                }
            }
            Ok(0)
        })
        .await?;
        let answer = found.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(answer)
    }

    async fn add_session(&self, s: crate::SessionRow) -> StoreResult<()> {
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO console_sessions (id_hash, person, role, csrf_token, created_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                s.id_hash,
                s.person,
                s.role,
                s.csrf_token,
                s.created_at,
                s.last_seen_at
            ])
            .map(|n| n as i64)
        })
        .await
        .map(|_| ())
    }

    async fn session(&self, id_hash: &str) -> StoreResult<Option<crate::SessionRow>> {
        let id_hash = id_hash.to_string();
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT id_hash, person, role, csrf_token, created_at, last_seen_at
                 FROM console_sessions WHERE id_hash = ?1",
            )?
            .query_row(params![id_hash], session_row)
            .optional()
        })
        .await
    }

    async fn touch_session(&self, id_hash: &str, at: Millis) -> StoreResult<()> {
        let id_hash = id_hash.to_string();
        self.queue(move |tx| {
            tx.prepare_cached(
                "UPDATE console_sessions SET last_seen_at = MAX(last_seen_at, ?2) WHERE id_hash = ?1",
            )?
            .execute(params![id_hash, at])?;
            Ok(())
        })
        .await
    }

    async fn end_session(&self, id_hash: &str) -> StoreResult<bool> {
        let id_hash = id_hash.to_string();
        self.write(move |tx| {
            tx.prepare_cached("DELETE FROM console_sessions WHERE id_hash = ?1")?
                .execute(params![id_hash])
                .map(|n| n as i64)
        })
        .await
        .map(|n| n > 0)
    }

    async fn purge_sessions(
        &self,
        idle_before: Millis,
        created_before: Millis,
    ) -> StoreResult<u64> {
        self.write(move |tx| {
            let n = tx
                .prepare_cached(
                    "DELETE FROM console_sessions WHERE last_seen_at < ?1 OR created_at < ?2",
                )?
                .execute(params![idle_before, created_before])?;
            tx.prepare_cached("DELETE FROM console_links WHERE expires_at < ?1")?
                .execute(params![idle_before])?;
            Ok(n as i64)
        })
        .await
        .map(|n| n as u64)
    }
}
