//! Calls, claim verdicts and account events on SQLite, and the one-round-trip call context.

use super::*;

pub(super) fn call_from_row(r: &Row<'_>) -> rusqlite::Result<crate::CallRecord> {
    Ok(crate::CallRecord {
        call_id: r.get(0)?,
        customer_id: r.get(1)?,
        ani: r.get(2)?,
        started_at: r.get(3)?,
        doc: r.get(4)?,
    })
}

pub(super) fn account_event_rows(
    conn: &Connection,
    customer_id: &str,
    since: Millis,
) -> rusqlite::Result<Vec<(String, Millis)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, at FROM account_events WHERE customer_id = ?1 AND at >= ?2 ORDER BY at DESC LIMIT 100",
    )?;
    let rows = stmt.query_map(params![customer_id, since], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

#[async_trait]
impl CallStore for SqliteStore {
    async fn put_call(&self, call: crate::CallRecord, wait: bool) -> StoreResult<bool> {
        let insert = move |tx: &Connection| -> rusqlite::Result<bool> {
            let n = tx
                .prepare_cached(
                    "INSERT INTO calls (call_id, customer_id, ani, started_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (call_id) DO NOTHING",
                )?
                .execute(params![call.call_id, call.customer_id, call.ani, call.started_at, call.doc])?;
            Ok(n == 1)
        };
        if wait {
            return self.write(insert).await;
        }
        self.queue(move |tx| insert(tx).map(|_| ())).await?;
        Ok(true)
    }

    async fn update_call(&self, call_id: &str, doc: String, wait: bool) -> StoreResult<bool> {
        let call_id = call_id.to_string();
        let update = move |tx: &Connection| -> rusqlite::Result<bool> {
            let n = tx
                .prepare_cached("UPDATE calls SET doc = ?2 WHERE call_id = ?1")?
                .execute(params![call_id, doc])?;
            Ok(n == 1)
        };
        if wait {
            return self.write(update).await;
        }
        self.queue(move |tx| update(tx).map(|_| ())).await?;
        Ok(true)
    }

    async fn get_call(&self, call_id: &str) -> StoreResult<Option<crate::CallRecord>> {
        let call_id = call_id.to_string();
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT call_id, customer_id, ani, started_at, doc FROM calls WHERE call_id = ?1",
            )?
            .query_row([&call_id], call_from_row)
            .optional()
        })
        .await
    }

    async fn calls_since(
        &self,
        since: Millis,
        limit: usize,
    ) -> StoreResult<Vec<crate::CallRecord>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT call_id, customer_id, ani, started_at, doc FROM calls WHERE started_at >= ?1
                 ORDER BY started_at LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![since, limit as i64], call_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn call_keys_since(&self, since: Millis) -> StoreResult<Vec<crate::CallKey>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT call_id, customer_id, ani, started_at FROM calls WHERE started_at >= ?1 ORDER BY started_at",
            )?;
            let rows = stmt.query_map([since], |r| {
                Ok(crate::CallKey {
                    call_id: r.get(0)?,
                    customer_id: r.get(1)?,
                    ani: r.get(2)?,
                    started_at: r.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn add_account_events(&self, events: Vec<(String, String, Millis)>) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.write(move |tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO account_events (customer_id, kind, at) VALUES (?1, ?2, ?3)",
            )?;
            for (c, k, at) in events {
                stmt.execute(params![c, k, at])?;
            }
            Ok(())
        })
        .await
    }

    async fn call_context(
        &self,
        call_id: &str,
        customer_id: Option<&str>,
        numbers: (Millis, Millis),
        events_since: Millis,
    ) -> StoreResult<crate::CallContext> {
        let call_id = call_id.to_string();
        let customer_id = customer_id.map(str::to_string);
        self.read(move |conn, _| {
            let call_exists = conn
                .prepare_cached("SELECT 1 FROM calls WHERE call_id = ?1")?
                .exists([&call_id])?;
            let Some(c) = customer_id else {
                return Ok(crate::CallContext {
                    call_exists,
                    ..Default::default()
                });
            };
            Ok(crate::CallContext {
                call_exists,
                profile: profile_row(conn, &c)?,
                sms_recipients: sms_recipient_rows(conn, &c, numbers.0, numbers.1, 50)?,
                account_events: account_event_rows(conn, &c, events_since)?,
                smish_reports: conn
                    .prepare_cached(
                        "SELECT (SELECT COUNT(*) FROM smish_reports WHERE customer_id = ?1 AND received_at >= ?2)
                          + (SELECT COUNT(*) FROM text_checks WHERE customer_id = ?1 AND forged = 1 AND at >= ?2 AND report_id IS NULL)",
                    )?
                    .query_row(params![c, events_since], |r| r.get(0))?,
            })
        })
        .await
    }

    async fn add_claim_verdict(&self, call_id: &str, verdict: &str, at: Millis) -> StoreResult<()> {
        let (call_id, verdict) = (call_id.to_string(), verdict.to_string());
        self.queue(move |tx| {
            tx.prepare_cached(
                "INSERT INTO claim_verdicts (call_id, verdict, at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![call_id, verdict, at])?;
            Ok(())
        })
        .await
    }

    async fn claim_verdict_times(&self, verdict: &str, since: Millis) -> StoreResult<Vec<Millis>> {
        let verdict = verdict.to_string();
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT at FROM claim_verdicts WHERE verdict = ?1 AND at >= ?2 ORDER BY at",
            )?;
            let rows = stmt.query_map(params![verdict, since], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    async fn call_velocity(
        &self,
        call_id: &str,
        ani: &str,
        customer: Option<&str>,
        since_24h: Millis,
        since_7d: Millis,
    ) -> StoreResult<crate::Velocity> {
        // Not used by the embedded store's own server (its windows are in memory; calls are
        // indexed by start time only): a range scan of the week's calls.
        let (call_id, ani, customer) = (
            call_id.to_string(),
            ani.to_string(),
            customer.map(str::to_string),
        );
        self.read(move |conn, _| {
            let (a24, a7): (i64, i64) = conn
                .prepare_cached(
                    "SELECT COUNT(DISTINCT CASE WHEN started_at >= ?3 THEN customer_id END),
                            COUNT(DISTINCT customer_id)
                     FROM calls WHERE started_at >= ?4 AND ani = ?1 AND call_id <> ?5
                       AND customer_id IS NOT ?2",
                )?
                .query_row(params![ani, customer, since_24h, since_7d, call_id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let c24: i64 = match &customer {
                None => 0,
                Some(c) => conn
                    .prepare_cached(
                        "SELECT COUNT(DISTINCT ani) FROM calls
                         WHERE started_at >= ?2 AND customer_id = ?1 AND ani <> ?3 AND call_id <> ?4",
                    )?
                    .query_row(params![c, since_24h, ani, call_id], |r| r.get(0))?,
            };
            Ok(crate::Velocity {
                ani_customers_24h: a24 as u32,
                ani_customers_7d: a7 as u32,
                customer_anis_24h: c24 as u32,
            })
        })
        .await
    }

    async fn claim_counts(
        &self,
        verdicts: &[&str],
        since: Millis,
        hour_ago: Millis,
        now: Millis,
    ) -> StoreResult<(u64, u64)> {
        let verdicts: Vec<String> = verdicts.iter().map(|v| v.to_string()).collect();
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT COALESCE(SUM(at >= ?3), 0), COALESCE(SUM(at < ?3), 0) FROM claim_verdicts
                 WHERE verdict = ?1 AND at >= ?2 AND at <= ?4",
            )?;
            let (mut last, mut before) = (0u64, 0u64);
            for v in &verdicts {
                let (l, b): (i64, i64) = stmt.query_row(params![v, since, hour_ago, now], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
                last += l as u64;
                before += b as u64;
            }
            Ok((last, before))
        })
        .await
    }
}
