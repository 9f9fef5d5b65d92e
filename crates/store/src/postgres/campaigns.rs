//! Smishing reports, campaign events, customer alerts with their webhook outbox, and text checks
//! on PostgreSQL.

use super::*;
use crate::{
    AlertOutcome, AlertRow, CampaignEvent, Delivery, OutboxStats, SmishReportRow, StoredTextCheck,
    TextCheckRow,
};

const REPORT_COLS: &str = "id, received_at, customer_id, campaign_id, doc, idempotency_key, answer";

fn report_row(r: &Row) -> StoreResult<SmishReportRow> {
    Ok(SmishReportRow {
        id: col(r, 0)?,
        received_at: col(r, 1)?,
        customer_id: col(r, 2)?,
        campaign_id: col(r, 3)?,
        doc: col(r, 4)?,
        idempotency_key: col(r, 5)?,
        answer: col(r, 6)?,
    })
}

/// Key of the transaction-level lock report intake runs under ("CSREPORT").
const INTAKE_LOCK: i64 = 0x4353_5245_504f_5254;

async fn insert_report(
    tx: &deadpool_postgres::Transaction<'_>,
    report: &SmishReportRow,
    events: &[CampaignEvent],
) -> StoreResult<()> {
    tx.execute(
        &format!("INSERT INTO smish_reports ({REPORT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
        &[
            &report.id,
            &report.received_at,
            &report.customer_id,
            &report.campaign_id,
            &report.doc,
            &report.idempotency_key,
            &report.answer,
        ],
    )
    .await?;
    let stmt = tx.prepare_cached(INSERT_EVENT).await?;
    for e in events {
        tx.execute(&stmt, &[&e.campaign_id, &e.kind, &e.detail, &e.at])
            .await?;
    }
    Ok(())
}

const INSERT_EVENT: &str =
    "INSERT INTO campaign_events (campaign_id, kind, detail, at) VALUES ($1, $2, $3, $4)";

#[async_trait]
impl CampaignStore for PgStore {
    async fn add_smish_report(
        &self,
        report: SmishReportRow,
        events: Vec<CampaignEvent>,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        insert_report(&tx, &report, &events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_smish_report_in_order<'a>(
        &'a self,
        after: i64,
        plan: crate::ReportPlan<'a>,
    ) -> StoreResult<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // Every node's intake waits here: one report at a time, in id order, across all of them
        // (released at commit or rollback, or when a dead node's connection goes).
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&INTAKE_LOCK])
            .await?;
        let newer: Vec<SmishReportRow> = tx
            .query(
                &format!("SELECT {REPORT_COLS} FROM smish_reports WHERE id > $1 ORDER BY id"),
                &[&after],
            )
            .await?
            .iter()
            .map(report_row)
            .collect::<StoreResult<_>>()?;
        let last = match newer.last() {
            Some(r) => r.id,
            None => {
                let r = tx
                    .query_one(
                        "SELECT COALESCE(MAX(id), 0)::BIGINT FROM smish_reports",
                        &[],
                    )
                    .await?;
                col::<i64>(&r, 0)?.max(after)
            }
        };
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
        insert_report(&tx, &row, &events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn campaign_events_after(&self, after: i64) -> StoreResult<Vec<(i64, CampaignEvent)>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT id, campaign_id, kind, detail, at FROM campaign_events WHERE id > $1 ORDER BY id",
                &[&after],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    col(r, 0)?,
                    CampaignEvent {
                        campaign_id: col(r, 1)?,
                        kind: col(r, 2)?,
                        detail: col(r, 3)?,
                        at: col(r, 4)?,
                    },
                ))
            })
            .collect()
    }

    async fn smish_report_by_key(&self, key: &str) -> StoreResult<Option<SmishReportRow>> {
        let c = self.client().await?;
        c.query_opt(
            &format!("SELECT {REPORT_COLS} FROM smish_reports WHERE idempotency_key = $1"),
            &[&key],
        )
        .await?
        .map(|r| report_row(&r))
        .transpose()
    }

    async fn update_smish_report(&self, id: i64, doc: String) -> StoreResult<bool> {
        let c = self.client().await?;
        Ok(c.execute(
            "UPDATE smish_reports SET doc = $2 WHERE id = $1",
            &[&id, &doc],
        )
        .await?
            > 0)
    }

    async fn smish_reports_after(
        &self,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<SmishReportRow>> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {REPORT_COLS} FROM smish_reports WHERE id > $1 ORDER BY id LIMIT $2"
                ),
                &[&after, &(limit as i64)],
            )
            .await?;
        rows.iter().map(report_row).collect()
    }

    async fn add_campaign_event(&self, e: CampaignEvent) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(INSERT_EVENT, &[&e.campaign_id, &e.kind, &e.detail, &e.at])
            .await?;
        Ok(())
    }

    async fn campaign_events(&self) -> StoreResult<Vec<CampaignEvent>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT campaign_id, kind, detail, at FROM campaign_events ORDER BY id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CampaignEvent {
                    campaign_id: col(r, 0)?,
                    kind: col(r, 1)?,
                    detail: col(r, 2)?,
                    at: col(r, 3)?,
                })
            })
            .collect()
    }
}

const ALERT_COLS: &str =
    "a.id, a.customer_id, a.dedupe_key, a.created_at, a.doc, a.read_at, a.acked_at";

fn alert_row(r: &Row) -> StoreResult<AlertRow> {
    Ok(AlertRow {
        id: col(r, 0)?,
        customer_id: col(r, 1)?,
        dedupe_key: col(r, 2)?,
        created_at: col(r, 3)?,
        doc: col(r, 4)?,
        read_at: col(r, 5)?,
        acked_at: col(r, 6)?,
    })
}

#[async_trait]
impl AlertStore for PgStore {
    async fn put_alert(
        &self,
        alert: AlertRow,
        since: Millis,
        max: u32,
        outbox: bool,
    ) -> StoreResult<AlertOutcome> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // One customer's alerts are decided one at a time across every node: the rate limit
        // counts what the others just created.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&format!("alerts:{}", alert.customer_id)],
        )
        .await?;
        let dup = tx
            .query_opt(
                "SELECT 1 FROM alerts WHERE customer_id = $1 AND dedupe_key = $2",
                &[&alert.customer_id, &alert.dedupe_key],
            )
            .await?;
        if dup.is_some() {
            return Ok(AlertOutcome::Duplicate);
        }
        let recent = tx
            .query_one(
                "SELECT COUNT(*) FROM alerts WHERE customer_id = $1 AND created_at >= $2",
                &[&alert.customer_id, &since],
            )
            .await?;
        if count(&recent, 0)? >= u64::from(max) {
            return Ok(AlertOutcome::RateLimited);
        }
        tx.execute(
            "INSERT INTO alerts (id, customer_id, dedupe_key, created_at, doc) VALUES ($1, $2, $3, $4, $5)",
            &[
                &alert.id,
                &alert.customer_id,
                &alert.dedupe_key,
                &alert.created_at,
                &alert.doc,
            ],
        )
        .await?;
        if outbox {
            tx.execute(
                "INSERT INTO outbox (alert_id, next_attempt_at) VALUES ($1, $2)",
                &[&alert.id, &alert.created_at],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(AlertOutcome::Created)
    }

    async fn customer_alerts(&self, customer_id: &str, limit: usize) -> StoreResult<Vec<AlertRow>> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {ALERT_COLS} FROM alerts a WHERE a.customer_id = $1
                     ORDER BY a.created_at DESC, a.id LIMIT $2"
                ),
                &[&customer_id, &(limit as i64)],
            )
            .await?;
        rows.iter().map(alert_row).collect()
    }

    async fn recent_alerts(&self, limit: usize) -> StoreResult<Vec<AlertRow>> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {ALERT_COLS} FROM alerts a ORDER BY a.created_at DESC, a.id LIMIT $1"
                ),
                &[&(limit as i64)],
            )
            .await?;
        rows.iter().map(alert_row).collect()
    }

    async fn alert(&self, customer_id: &str, alert_id: &str) -> StoreResult<Option<AlertRow>> {
        let c = self.client().await?;
        c.query_opt(
            &format!("SELECT {ALERT_COLS} FROM alerts a WHERE a.customer_id = $1 AND a.id = $2"),
            &[&customer_id, &alert_id],
        )
        .await?
        .map(|r| alert_row(&r))
        .transpose()
    }

    async fn mark_alert(
        &self,
        customer_id: &str,
        alert_id: &str,
        acknowledged: bool,
        at: Millis,
    ) -> StoreResult<bool> {
        let sql = if acknowledged {
            "UPDATE alerts SET read_at = COALESCE(read_at, $3), acked_at = COALESCE(acked_at, $3)
             WHERE customer_id = $1 AND id = $2"
        } else {
            "UPDATE alerts SET read_at = COALESCE(read_at, $3) WHERE customer_id = $1 AND id = $2"
        };
        let c = self.client().await?;
        Ok(c.execute(sql, &[&customer_id, &alert_id, &at]).await? > 0)
    }

    async fn claim_deliveries(
        &self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
    ) -> StoreResult<Vec<Delivery>> {
        let c = self.client().await?;
        // Rows another node is claiming are skipped, not waited for; the lease keeps them
        // from every other node until it ends.
        let rows = c
            .query(
                &format!(
                    "WITH due AS (
                        SELECT alert_id, next_attempt_at FROM outbox
                        WHERE delivered_at IS NULL AND next_attempt_at <= $1
                        ORDER BY next_attempt_at, alert_id LIMIT $2
                        FOR UPDATE SKIP LOCKED
                     ), claimed AS (
                        UPDATE outbox o SET next_attempt_at = $3 FROM due
                        WHERE o.alert_id = due.alert_id
                        RETURNING o.alert_id, o.attempts
                     )
                     SELECT {ALERT_COLS}, claimed.attempts FROM claimed
                     JOIN due ON due.alert_id = claimed.alert_id
                     JOIN alerts a ON a.id = claimed.alert_id
                     ORDER BY due.next_attempt_at, claimed.alert_id"
                ),
                &[&now, &(limit as i64), &lease_until],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    alert: alert_row(r)?,
                    attempts: u32::try_from(count(r, 7)?).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    async fn delivery_attempt(
        &self,
        alert_id: &str,
        result: Result<Millis, (Millis, String)>,
    ) -> StoreResult<()> {
        let c = self.client().await?;
        match result {
            Ok(at) => c
                .execute(
                    "UPDATE outbox SET attempts = attempts + 1, delivered_at = $2, last_error = NULL
                     WHERE alert_id = $1",
                    &[&alert_id, &at],
                )
                .await?,
            Err((next, error)) => c
                .execute(
                    "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3
                     WHERE alert_id = $1",
                    &[&alert_id, &next, &error],
                )
                .await?,
        };
        Ok(())
    }

    async fn outbox_stats(&self) -> StoreResult<OutboxStats> {
        let c = self.client().await?;
        let r = c
            .query_one(
                "SELECT COUNT(*) FILTER (WHERE delivered_at IS NULL),
                        COUNT(*) FILTER (WHERE delivered_at IS NOT NULL),
                        MIN(next_attempt_at) FILTER (WHERE delivered_at IS NULL),
                        COALESCE(MAX(attempts) FILTER (WHERE delivered_at IS NULL), 0)
                 FROM outbox",
                &[],
            )
            .await?;
        Ok(OutboxStats {
            pending: count(&r, 0)?,
            delivered: count(&r, 1)?,
            oldest_pending_at: col(&r, 2)?,
            most_attempts: u32::try_from(count(&r, 3)?).unwrap_or(u32::MAX),
        })
    }
}

#[async_trait]
impl CheckStore for PgStore {
    async fn add_text_check(&self, t: TextCheckRow) -> StoreResult<i64> {
        // Committed (without waiting for the WAL flush, as the contract allows) before the id
        // is answered; ids come from the table's sequence, so they grow across nodes too.
        let c = self.lazy_client().await?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO text_checks (customer_id, at, verdict, forged, campaign_id, indicators, text_mac)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .await?;
        let r = c
            .query_one(
                &stmt,
                &[
                    &t.customer_id,
                    &t.at,
                    &t.verdict,
                    &t.forged,
                    &t.campaign_id.map(|i| i as i64),
                    &t.indicators,
                    &t.text_mac,
                ],
            )
            .await?;
        col(&r, 0)
    }

    async fn text_checks_by_campaign(&self) -> StoreResult<Vec<(u64, u64)>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT campaign_id, COUNT(*) FROM text_checks WHERE campaign_id IS NOT NULL
                 GROUP BY campaign_id ORDER BY campaign_id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((count(r, 0)?, count(r, 1)?)))
            .collect()
    }

    async fn text_check(&self, id: i64) -> StoreResult<Option<StoredTextCheck>> {
        let c = self.client().await?;
        let Some(r) = c
            .query_opt(
                "SELECT customer_id, at, verdict, forged, campaign_id, indicators, text_mac, report_id
                 FROM text_checks WHERE id = $1",
                &[&id],
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(StoredTextCheck {
            id,
            row: TextCheckRow {
                customer_id: col(&r, 0)?,
                at: col(&r, 1)?,
                verdict: col(&r, 2)?,
                forged: col(&r, 3)?,
                campaign_id: col::<Option<i64>>(&r, 4)?.map(|c| c as u64),
                indicators: col(&r, 5)?,
                text_mac: col(&r, 6)?,
            },
            report_id: col(&r, 7)?,
        }))
    }

    async fn link_text_check_report(
        &self,
        id: i64,
        report_id: i64,
        campaign_id: Option<u64>,
    ) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE text_checks SET report_id = $2, campaign_id = COALESCE(campaign_id, $3)
             WHERE id = $1",
            &[&id, &report_id, &campaign_id.map(|c| c as i64)],
        )
        .await?;
        Ok(())
    }
}
