//! Customer alerts and the webhook outbox on SQLite.

use super::*;

pub(super) const ALERT_COLS: &str = "alerts.id, alerts.customer_id, alerts.dedupe_key, alerts.created_at, alerts.doc, alerts.read_at, alerts.acked_at";

pub(super) fn alert_from_row(r: &Row<'_>) -> rusqlite::Result<crate::AlertRow> {
    Ok(crate::AlertRow {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        dedupe_key: r.get(2)?,
        created_at: r.get(3)?,
        doc: r.get(4)?,
        read_at: r.get(5)?,
        acked_at: r.get(6)?,
    })
}

#[async_trait]
impl AlertStore for SqliteStore {
    async fn put_alert(
        &self,
        alert: crate::AlertRow,
        since: Millis,
        max: u32,
        outbox: bool,
    ) -> StoreResult<crate::AlertOutcome> {
        let code = self
            .write(move |tx| {
                let exists = tx
                    .prepare_cached("SELECT 1 FROM alerts WHERE customer_id = ?1 AND dedupe_key = ?2")?
                    .exists(params![alert.customer_id, alert.dedupe_key])?;
                if exists {
                    return Ok(1);
                }
                let recent: i64 = tx
                    .prepare_cached(
                        "SELECT COUNT(*) FROM alerts WHERE customer_id = ?1 AND created_at >= ?2",
                    )?
                    .query_row(params![alert.customer_id, since], |r| r.get(0))?;
                if recent >= i64::from(max) {
                    return Ok(2);
                }
                tx.prepare_cached(
                    "INSERT INTO alerts (id, customer_id, dedupe_key, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    alert.id,
                    alert.customer_id,
                    alert.dedupe_key,
                    alert.created_at,
                    alert.doc
                ])?;
                if outbox {
                    tx.prepare_cached(
                        "INSERT INTO outbox (alert_id, next_attempt_at) VALUES (?1, ?2)",
                    )?
                    .execute(params![alert.id, alert.created_at])?;
                }
                Ok(0)
            })
            .await?;
        Ok(match code {
            0 => crate::AlertOutcome::Created,
            1 => crate::AlertOutcome::Duplicate,
            _ => crate::AlertOutcome::RateLimited,
        })
    }

    async fn customer_alerts(
        &self,
        customer_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<crate::AlertRow>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ALERT_COLS} FROM alerts WHERE customer_id = ?1 ORDER BY created_at DESC, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![customer_id, limit as i64], alert_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn recent_alerts(&self, limit: usize) -> StoreResult<Vec<crate::AlertRow>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ALERT_COLS} FROM alerts ORDER BY created_at DESC, id LIMIT ?1"
            ))?;
            let rows = stmt.query_map(params![limit as i64], alert_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn alert(
        &self,
        customer_id: &str,
        alert_id: &str,
    ) -> StoreResult<Option<crate::AlertRow>> {
        let (customer_id, alert_id) = (customer_id.to_string(), alert_id.to_string());
        self.read(move |conn, _| {
            conn.prepare_cached(&format!(
                "SELECT {ALERT_COLS} FROM alerts WHERE customer_id = ?1 AND id = ?2"
            ))?
            .query_row(params![customer_id, alert_id], alert_from_row)
            .optional()
        })
        .await
    }

    async fn mark_alert(
        &self,
        customer_id: &str,
        alert_id: &str,
        acknowledged: bool,
        at: Millis,
    ) -> StoreResult<bool> {
        let (customer_id, alert_id) = (customer_id.to_string(), alert_id.to_string());
        self.write(move |tx| {
            let sql = if acknowledged {
                "UPDATE alerts SET read_at = COALESCE(read_at, ?3), acked_at = COALESCE(acked_at, ?3)
                 WHERE customer_id = ?1 AND id = ?2"
            } else {
                "UPDATE alerts SET read_at = COALESCE(read_at, ?3) WHERE customer_id = ?1 AND id = ?2"
            };
            tx.prepare_cached(sql)?
                .execute(params![customer_id, alert_id, at])
                .map(|n| n as i64)
        })
        .await
        .map(|n| n > 0)
    }

    async fn claim_deliveries(
        &self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
    ) -> StoreResult<Vec<crate::Delivery>> {
        self.write(move |tx| {
            let due = {
                let mut stmt = tx.prepare_cached(&format!(
                    "SELECT {ALERT_COLS}, o.attempts FROM outbox o JOIN alerts ON alerts.id = o.alert_id
                     WHERE o.delivered_at IS NULL AND o.next_attempt_at <= ?1
                     ORDER BY o.next_attempt_at, o.alert_id LIMIT ?2"
                ))?;
                let rows = stmt.query_map(params![now, limit as i64], |r| {
                    Ok(crate::Delivery {
                        alert: alert_from_row(r)?,
                        attempts: r.get(7)?,
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            let mut lease =
                tx.prepare_cached("UPDATE outbox SET next_attempt_at = ?2 WHERE alert_id = ?1")?;
            for d in &due {
                lease.execute(params![d.alert.id, lease_until])?;
            }
            Ok(due)
        })
        .await
    }

    async fn delivery_attempt(
        &self,
        alert_id: &str,
        result: Result<Millis, (Millis, String)>,
    ) -> StoreResult<()> {
        let alert_id = alert_id.to_string();
        self.write(move |tx| {
            match result {
                Ok(at) => tx
                    .prepare_cached(
                        "UPDATE outbox SET attempts = attempts + 1, delivered_at = ?2, last_error = NULL WHERE alert_id = ?1",
                    )?
                    .execute(params![alert_id, at])?,
                Err((next, error)) => tx
                    .prepare_cached(
                        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE alert_id = ?1",
                    )?
                    .execute(params![alert_id, next, error])?,
            };
            Ok(0)
        })
        .await
        .map(|_| ())
    }

    async fn outbox_stats(&self) -> StoreResult<crate::OutboxStats> {
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT COALESCE(SUM(delivered_at IS NULL), 0), COALESCE(SUM(delivered_at IS NOT NULL), 0),
                        MIN(CASE WHEN delivered_at IS NULL THEN next_attempt_at END),
                        COALESCE(MAX(CASE WHEN delivered_at IS NULL THEN attempts END), 0)
                 FROM outbox",
            )?
            .query_row([], |r| {
                Ok(crate::OutboxStats {
                    pending: r.get::<_, i64>(0)? as u64,
                    delivered: r.get::<_, i64>(1)? as u64,
                    oldest_pending_at: r.get(2)?,
                    most_attempts: r.get::<_, i64>(3)? as u32,
                })
            })
        })
        .await
    }
}
