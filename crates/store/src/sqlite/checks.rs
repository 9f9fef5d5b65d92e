//! Customers' text checks on SQLite.

use super::*;

#[async_trait]
impl CheckStore for SqliteStore {
    async fn add_text_check(&self, c: crate::TextCheckRow) -> StoreResult<i64> {
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO text_checks (customer_id, at, verdict, forged, campaign_id, indicators)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                c.customer_id,
                c.at,
                c.verdict,
                c.forged,
                c.campaign_id.map(|i| i as i64),
                c.indicators
            ])?;
            Ok(tx.last_insert_rowid())
        })
        .await
    }

    async fn text_checks_by_campaign(&self) -> StoreResult<Vec<(u64, u64)>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT campaign_id, COUNT(*) FROM text_checks WHERE campaign_id IS NOT NULL
                 GROUP BY campaign_id ORDER BY campaign_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
            })?;
            rows.collect()
        })
        .await
    }
}
