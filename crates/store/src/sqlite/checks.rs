//! Customers' text checks on SQLite.

use super::*;

#[async_trait]
impl CheckStore for SqliteStore {
    async fn add_text_check(&self, c: crate::TextCheckRow) -> StoreResult<i64> {
        let id = self
            .next_check_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.queue(move |tx| {
            tx.prepare_cached(
                "INSERT INTO text_checks (id, customer_id, at, verdict, forged, campaign_id, indicators, text_mac)
                 VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                c.customer_id,
                c.at,
                c.verdict,
                c.forged,
                c.campaign_id.map(|i| i as i64),
                c.indicators,
                c.text_mac,
                id
            ])?;
            Ok(())
        })
        .await?;
        Ok(id)
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

    async fn text_check(&self, id: i64) -> StoreResult<Option<crate::StoredTextCheck>> {
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT customer_id, at, verdict, forged, campaign_id, indicators, text_mac, report_id
                 FROM text_checks WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok(crate::StoredTextCheck {
                    id,
                    row: crate::TextCheckRow {
                        customer_id: r.get(0)?,
                        at: r.get(1)?,
                        verdict: r.get(2)?,
                        forged: r.get(3)?,
                        campaign_id: r.get::<_, Option<i64>>(4)?.map(|c| c as u64),
                        indicators: r.get(5)?,
                        text_mac: r.get(6)?,
                    },
                    report_id: r.get(7)?,
                })
            })
            .optional()
        })
        .await
    }

    async fn link_text_check_report(
        &self,
        id: i64,
        report_id: i64,
        campaign_id: Option<u64>,
    ) -> StoreResult<()> {
        self.write(move |tx| {
            tx.prepare_cached(
                "UPDATE text_checks SET report_id = ?2, campaign_id = COALESCE(campaign_id, ?3)
                 WHERE id = ?1",
            )?
            .execute(params![id, report_id, campaign_id.map(|c| c as i64)])?;
            Ok(())
        })
        .await
    }
}
