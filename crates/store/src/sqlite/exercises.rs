//! Exercise clean-up on SQLite: one transaction through the writer, then the in-memory source
//! map follows.

use super::*;
use crate::exercises::{ExerciseReportRow, ExerciseStore, PurgeCounts};

#[async_trait]
impl ExerciseStore for SqliteStore {
    async fn purge_run(
        &self,
        run: &str,
        reports: Vec<i64>,
        retire: Vec<i64>,
    ) -> StoreResult<PurgeCounts> {
        let prefix = format!("{run}.");
        let (counts, dropped) = self
            .write(move |tx| {
                // `substr(x, 1, n) = prefix` matches the namespace exactly (no LIKE wildcards).
                let n = prefix.chars().count() as i64;
                let mut c = PurgeCounts::default();
                let exec = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> rusqlite::Result<u64> {
                    Ok(tx.prepare(sql)?.execute(p)? as u64)
                };
                let ids: Vec<(i64, String)> = {
                    let mut stmt =
                        tx.prepare("SELECT id, name FROM sources WHERE substr(name, 1, ?1) = ?2")?;
                    let rows = stmt.query_map(params![n, prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect::<rusqlite::Result<_>>()?
                };
                for (id, _) in &ids {
                    c.notifications +=
                        exec("DELETE FROM notifications WHERE source_id = ?1", &[id])?;
                    exec("DELETE FROM source_minutes WHERE source_id = ?1", &[id])?;
                    c.sources += exec("DELETE FROM sources WHERE id = ?1", &[id])?;
                }
                let by_customer = "substr(customer_id, 1, ?1) = ?2";
                c.customers += exec(
                    &format!("DELETE FROM profiles WHERE {by_customer}"),
                    &[&n, &prefix],
                )?;
                exec(
                    &format!("DELETE FROM customers WHERE {by_customer}"),
                    &[&n, &prefix],
                )?;
                exec(
                    &format!("DELETE FROM customer_numbers WHERE {by_customer}"),
                    &[&n, &prefix],
                )?;
                let calls = format!(
                    "SELECT call_id FROM calls WHERE substr(call_id, 1, ?1) = ?2 OR {by_customer}"
                );
                c.claim_verdicts += exec(
                    &format!("DELETE FROM claim_verdicts WHERE call_id IN ({calls})"),
                    &[&n, &prefix],
                )?;
                c.calls += exec(
                    &format!("DELETE FROM calls WHERE call_id IN ({calls})"),
                    &[&n, &prefix],
                )?;
                c.account_events += exec(
                    &format!("DELETE FROM account_events WHERE {by_customer}"),
                    &[&n, &prefix],
                )?;
                exec(
                    &format!(
                        "DELETE FROM outbox WHERE alert_id IN (SELECT id FROM alerts WHERE {by_customer})"
                    ),
                    &[&n, &prefix],
                )?;
                c.alerts += exec(
                    &format!("DELETE FROM alerts WHERE {by_customer}"),
                    &[&n, &prefix],
                )?;
                c.text_checks += exec(
                    &format!("DELETE FROM text_checks WHERE {by_customer}"),
                    &[&n, &prefix],
                )?;
                for id in &reports {
                    c.smish_reports += exec("DELETE FROM smish_reports WHERE id = ?1", &[id])?;
                }
                for id in &retire {
                    exec("DELETE FROM campaign_events WHERE campaign_id = ?1", &[id])?;
                    exec(
                        "INSERT INTO campaign_events (campaign_id, kind, detail, at)
                         VALUES (?1, 'retired', ?2, 0)",
                        &[id, &prefix],
                    )?;
                    c.campaigns_retired += 1;
                }
                Ok((c, ids))
            })
            .await?;
        let mut sh = self
            .shared
            .write()
            .map_err(|_| StoreError::Unavailable("poisoned lock".into()))?;
        for (id, name) in dropped {
            sh.sources.remove(&name);
            sh.names.remove(&id);
        }
        Ok(counts)
    }

    async fn retired_campaigns(&self) -> StoreResult<Vec<i64>> {
        self.read(|conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT campaign_id FROM campaign_events WHERE kind = 'retired' ORDER BY 1",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    async fn put_exercise_report(&self, r: ExerciseReportRow) -> StoreResult<()> {
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO exercise_reports (run, started_at, name, overall, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![r.run, r.started_at, r.name, r.overall, r.doc])?;
            Ok(())
        })
        .await
    }

    async fn exercise_reports(&self, limit: usize) -> StoreResult<Vec<ExerciseReportRow>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT run, started_at, name, overall, doc FROM exercise_reports
                 ORDER BY started_at DESC, run DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map(params![limit as i64], report_row)?;
            rows.collect()
        })
        .await
    }

    async fn exercise_report(&self, run: &str) -> StoreResult<Option<ExerciseReportRow>> {
        let run = run.to_string();
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT run, started_at, name, overall, doc FROM exercise_reports WHERE run = ?1",
            )?
            .query_row(params![run], report_row)
            .optional()
        })
        .await
    }
}

fn report_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ExerciseReportRow> {
    Ok(ExerciseReportRow {
        run: r.get(0)?,
        started_at: r.get(1)?,
        name: r.get(2)?,
        overall: r.get(3)?,
        doc: r.get(4)?,
    })
}
