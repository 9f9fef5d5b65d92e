//! Smishing reports and campaign events on SQLite.

use super::*;

pub(super) fn insert_campaign_event(
    tx: &Connection,
    e: &crate::CampaignEvent,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT INTO campaign_events (campaign_id, kind, detail, at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![e.campaign_id, e.kind, e.detail, e.at])
}

const REPORT_COLUMNS: &str =
    "id, received_at, customer_id, campaign_id, doc, idempotency_key, answer";

fn report_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<crate::SmishReportRow> {
    Ok(crate::SmishReportRow {
        id: r.get(0)?,
        received_at: r.get(1)?,
        customer_id: r.get(2)?,
        campaign_id: r.get(3)?,
        doc: r.get(4)?,
        idempotency_key: r.get(5)?,
        answer: r.get(6)?,
    })
}

#[async_trait]
impl CampaignStore for SqliteStore {
    async fn add_smish_report(
        &self,
        report: crate::SmishReportRow,
        events: Vec<crate::CampaignEvent>,
    ) -> StoreResult<()> {
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO smish_reports (id, received_at, customer_id, campaign_id, doc, idempotency_key, answer)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                report.id,
                report.received_at,
                report.customer_id,
                report.campaign_id,
                report.doc,
                report.idempotency_key,
                report.answer
            ])?;
            for e in events {
                insert_campaign_event(tx, &e)?;
            }
            Ok(0)
        })
        .await
        .map(|_| ())
    }

    async fn add_smish_report_in_order<'a>(
        &'a self,
        after: i64,
        plan: crate::ReportPlan<'a>,
    ) -> StoreResult<bool> {
        // One process writes an embedded store: its caller's serialization is the order.
        let newer = self.smish_reports_after(after, usize::MAX).await?;
        let last = newer.last().map_or(after, |r| r.id);
        let Some((row, events)) = plan(newer) else {
            return Ok(false);
        };
        if row.id != last + 1 {
            return Err(StoreError::Unavailable(format!(
                "report id {} is not the next of the sequence ({})",
                row.id,
                last + 1
            )));
        }
        self.add_smish_report(row, events).await?;
        Ok(true)
    }

    async fn campaign_events_after(
        &self,
        after: i64,
    ) -> StoreResult<Vec<(i64, crate::CampaignEvent)>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, campaign_id, kind, detail, at FROM campaign_events WHERE id > ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([after], |r| {
                Ok((
                    r.get(0)?,
                    crate::CampaignEvent {
                        campaign_id: r.get(1)?,
                        kind: r.get(2)?,
                        detail: r.get(3)?,
                        at: r.get(4)?,
                    },
                ))
            })?;
            rows.collect()
        })
        .await
    }

    async fn smish_report_by_key(&self, key: &str) -> StoreResult<Option<crate::SmishReportRow>> {
        let key = key.to_string();
        self.read(move |conn, _| {
            conn.prepare_cached(&format!(
                "SELECT {REPORT_COLUMNS} FROM smish_reports WHERE idempotency_key = ?1"
            ))?
            .query_row(params![key], report_row)
            .optional()
        })
        .await
    }

    async fn update_smish_report(&self, id: i64, doc: String) -> StoreResult<bool> {
        self.write(move |tx| {
            tx.prepare_cached("UPDATE smish_reports SET doc = ?2 WHERE id = ?1")?
                .execute(params![id, doc])
                .map(|n| n as i64)
        })
        .await
        .map(|n| n > 0)
    }

    async fn smish_reports_after(
        &self,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<crate::SmishReportRow>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {REPORT_COLUMNS} FROM smish_reports WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![after, limit as i64], report_row)?;
            rows.collect()
        })
        .await
    }

    async fn add_campaign_event(&self, event: crate::CampaignEvent) -> StoreResult<()> {
        self.write(move |tx| insert_campaign_event(tx, &event).map(|_| 0))
            .await
            .map(|_| ())
    }

    async fn campaign_events(&self) -> StoreResult<Vec<crate::CampaignEvent>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT campaign_id, kind, detail, at FROM campaign_events ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(crate::CampaignEvent {
                    campaign_id: r.get(0)?,
                    kind: r.get(1)?,
                    detail: r.get(2)?,
                    at: r.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}
