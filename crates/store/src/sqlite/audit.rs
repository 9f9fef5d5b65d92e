//! The audit log on SQLite (entries ride the writer's next group commit).

use super::*;

#[async_trait]
impl AuditStore for SqliteStore {
    async fn audit(&self, entry: AuditEntry) -> StoreResult<()> {
        let e = entry;
        self.queue(move |tx| {
            tx.prepare_cached("INSERT INTO audit_log (at, actor, action, customer_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![e.at, e.actor, e.action, e.customer_id, e.detail])?;
            Ok(())
        })
        .await
    }

    async fn audit_log(&self, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT at, actor, action, customer_id, detail FROM audit_log ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit as i64], |r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    customer_id: r.get(3)?,
                    detail: r.get(4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}
