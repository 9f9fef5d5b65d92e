//! Console sign-in links and sessions, and exercise runs (their reports, and the purge of a
//! run's namespace in one transaction) on PostgreSQL.

use super::*;
use crate::{ExerciseReportRow, LoginLink, PurgeCounts, SessionRow};

fn session_row(r: &Row) -> StoreResult<SessionRow> {
    Ok(SessionRow {
        id_hash: col(r, 0)?,
        person: col(r, 1)?,
        role: col(r, 2)?,
        csrf_token: col(r, 3)?,
        created_at: col(r, 4)?,
        last_seen_at: col(r, 5)?,
    })
}

#[async_trait]
impl ConsoleStore for PgStore {
    async fn add_login_link(&self, l: LoginLink) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO console_links (token_hash, person, role, expires_at) VALUES ($1, $2, $3, $4)",
            &[&l.token_hash, &l.person, &l.role, &l.expires_at],
        )
        .await?;
        Ok(())
    }

    async fn redeem_login_link(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<(String, String)>> {
        let c = self.client().await?;
        // Deleted whatever it answers: a link is tried once, on whichever node.
        let row = c
            .query_opt(
                "DELETE FROM console_links WHERE token_hash = $1 RETURNING person, role, expires_at",
                &[&token_hash],
            )
            .await?;
        let Some(r) = row else { return Ok(None) };
        let expires_at: Millis = col(&r, 2)?;
        Ok((expires_at > now)
            .then(|| Ok::<_, StoreError>((col(&r, 0)?, col(&r, 1)?)))
            .transpose()?)
    }

    async fn add_session(&self, s: SessionRow) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO console_sessions (id_hash, person, role, csrf_token, created_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &s.id_hash,
                &s.person,
                &s.role,
                &s.csrf_token,
                &s.created_at,
                &s.last_seen_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn session(&self, id_hash: &str) -> StoreResult<Option<SessionRow>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT id_hash, person, role, csrf_token, created_at, last_seen_at
                 FROM console_sessions WHERE id_hash = $1",
            )
            .await?;
        c.query_opt(&stmt, &[&id_hash])
            .await?
            .map(|r| session_row(&r))
            .transpose()
    }

    async fn touch_session(&self, id_hash: &str, at: Millis) -> StoreResult<()> {
        let c = self.lazy_client().await?;
        let stmt = c
            .prepare_cached(
                "UPDATE console_sessions SET last_seen_at = GREATEST(last_seen_at, $2) WHERE id_hash = $1",
            )
            .await?;
        c.execute(&stmt, &[&id_hash, &at]).await?;
        Ok(())
    }

    async fn end_session(&self, id_hash: &str) -> StoreResult<bool> {
        let c = self.client().await?;
        Ok(c.execute(
            "DELETE FROM console_sessions WHERE id_hash = $1",
            &[&id_hash],
        )
        .await?
            > 0)
    }

    async fn purge_sessions(
        &self,
        idle_before: Millis,
        created_before: Millis,
    ) -> StoreResult<u64> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let n = tx
            .execute(
                "DELETE FROM console_sessions WHERE last_seen_at < $1 OR created_at < $2",
                &[&idle_before, &created_before],
            )
            .await?;
        tx.execute(
            "DELETE FROM console_links WHERE expires_at < $1",
            &[&idle_before],
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }
}

/// A purge counter to add a statement's deleted rows to (`$1` is the namespace prefix).
type Counter = Option<fn(&mut PurgeCounts) -> &mut u64>;

/// Each table the purge clears of a run's customers, and the counter it adds to.
const BY_CUSTOMER: [(&str, Counter); 7] = [
    (
        "DELETE FROM profiles WHERE starts_with(customer_id, $1)",
        Some(|c| &mut c.customers),
    ),
    ("DELETE FROM customers WHERE starts_with(customer_id, $1)", None),
    (
        "DELETE FROM customer_numbers WHERE starts_with(customer_id, $1)",
        None,
    ),
    (
        "DELETE FROM account_events WHERE starts_with(customer_id, $1)",
        Some(|c| &mut c.account_events),
    ),
    (
        "DELETE FROM outbox WHERE alert_id IN (SELECT id FROM alerts WHERE starts_with(customer_id, $1))",
        None,
    ),
    (
        "DELETE FROM alerts WHERE starts_with(customer_id, $1)",
        Some(|c| &mut c.alerts),
    ),
    (
        "DELETE FROM text_checks WHERE starts_with(customer_id, $1)",
        Some(|c| &mut c.text_checks),
    ),
];

#[async_trait]
impl ExerciseStore for PgStore {
    async fn purge_run(
        &self,
        run: &str,
        reports: Vec<i64>,
        retire: Vec<i64>,
    ) -> StoreResult<PurgeCounts> {
        let prefix = format!("{run}.");
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let mut n = PurgeCounts::default();
        // The run's sources, locked like any writer's (in name order), then gone.
        let ids: Vec<i64> = tx
            .query(
                "SELECT id FROM sources WHERE starts_with(name, $1) ORDER BY name FOR UPDATE",
                &[&prefix],
            )
            .await?
            .iter()
            .map(|r| col(r, 0))
            .collect::<StoreResult<_>>()?;
        n.notifications = tx
            .execute(
                "DELETE FROM notifications WHERE source_id = ANY($1)",
                &[&ids],
            )
            .await?;
        tx.execute(
            "DELETE FROM notification_keys WHERE source_id = ANY($1)",
            &[&ids],
        )
        .await?;
        tx.execute(
            "DELETE FROM source_minutes WHERE source_id = ANY($1)",
            &[&ids],
        )
        .await?;
        n.sources = tx
            .execute("DELETE FROM sources WHERE id = ANY($1)", &[&ids])
            .await?;
        for (sql, counter) in BY_CUSTOMER {
            let k = tx.execute(sql, &[&prefix]).await?;
            if let Some(f) = counter {
                *f(&mut n) += k;
            }
        }
        let calls = "SELECT call_id FROM calls
                     WHERE starts_with(call_id, $1) OR starts_with(customer_id, $1)";
        // Each hour's count goes down with its verdicts (one statement, one snapshot).
        let deleted: i64 = tx
            .query_one(
                &format!(
                    "WITH d AS (DELETE FROM claim_verdicts WHERE call_id IN ({calls})
                                RETURNING verdict, at),
                     g AS (SELECT verdict, countersign_verdict_hour(at) AS hour, COUNT(*) AS k
                           FROM d GROUP BY 1, 2),
                     u AS (UPDATE claim_verdict_hours h SET n = h.n - g.k FROM g
                           WHERE h.verdict = g.verdict AND h.hour = g.hour)
                     SELECT COALESCE(SUM(k), 0)::BIGINT FROM g"
                ),
                &[&prefix],
            )
            .await?
            .get(0);
        n.claim_verdicts = u64::try_from(deleted).unwrap_or(0);
        n.calls = tx
            .execute(
                &format!("DELETE FROM calls WHERE call_id IN ({calls})"),
                &[&prefix],
            )
            .await?;
        n.smish_reports = tx
            .execute("DELETE FROM smish_reports WHERE id = ANY($1)", &[&reports])
            .await?;
        for id in &retire {
            tx.execute("DELETE FROM campaign_events WHERE campaign_id = $1", &[id])
                .await?;
            tx.execute(
                "INSERT INTO campaign_events (campaign_id, kind, detail, at) VALUES ($1, 'retired', $2, 0)",
                &[id, &prefix],
            )
            .await?;
            n.campaigns_retired += 1;
        }
        tx.commit().await?;
        Ok(n)
    }

    async fn retired_campaigns(&self) -> StoreResult<Vec<i64>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT DISTINCT campaign_id FROM campaign_events WHERE kind = 'retired' ORDER BY 1",
                &[],
            )
            .await?;
        rows.iter().map(|r| col(r, 0)).collect()
    }

    async fn put_exercise_report(&self, r: ExerciseReportRow) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO exercise_reports (run, started_at, name, overall, doc) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (run) DO UPDATE SET started_at = EXCLUDED.started_at, name = EXCLUDED.name,
                 overall = EXCLUDED.overall, doc = EXCLUDED.doc",
            &[&r.run, &r.started_at, &r.name, &r.overall, &r.doc],
        )
        .await?;
        Ok(())
    }

    async fn exercise_reports(&self, limit: usize) -> StoreResult<Vec<ExerciseReportRow>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT run, started_at, name, overall, doc FROM exercise_reports
                 ORDER BY started_at DESC, run DESC LIMIT $1",
                &[&(limit as i64)],
            )
            .await?;
        rows.iter().map(exercise_row).collect()
    }

    async fn exercise_report(&self, run: &str) -> StoreResult<Option<ExerciseReportRow>> {
        let c = self.client().await?;
        c.query_opt(
            "SELECT run, started_at, name, overall, doc FROM exercise_reports WHERE run = $1",
            &[&run],
        )
        .await?
        .map(|r| exercise_row(&r))
        .transpose()
    }
}

fn exercise_row(r: &Row) -> StoreResult<ExerciseReportRow> {
    Ok(ExerciseReportRow {
        run: col(r, 0)?,
        started_at: col(r, 1)?,
        name: col(r, 2)?,
        overall: col(r, 3)?,
        doc: col(r, 4)?,
    })
}
