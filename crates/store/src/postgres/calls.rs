//! Calls, claim verdicts and account events on PostgreSQL, and the call context read as five
//! statements pipelined on one connection.

use super::*;
use crate::{CallContext, CallKey, CallRecord, Velocity};
use tokio_postgres::types::ToSql;

const CALL_COLS: &str = "call_id, customer_id, ani, started_at, doc";

fn call_row(r: &Row) -> StoreResult<CallRecord> {
    Ok(CallRecord {
        call_id: col(r, 0)?,
        customer_id: col(r, 1)?,
        ani: col(r, 2)?,
        started_at: col(r, 3)?,
        doc: col(r, 4)?,
    })
}

#[async_trait]
impl CallStore for PgStore {
    async fn put_call(&self, call: CallRecord, wait: bool) -> StoreResult<bool> {
        // Committed before it returns either way (visible to every node at once); without
        // `wait` the commit does not wait for the WAL flush: scoring never waits for a disk.
        let c = if wait {
            self.client().await?
        } else {
            self.lazy_client().await?
        };
        let stmt = c
            .prepare_cached(&format!(
                "INSERT INTO calls ({CALL_COLS}) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (call_id) DO NOTHING"
            ))
            .await?;
        let n = c
            .execute(
                &stmt,
                &[
                    &call.call_id,
                    &call.customer_id,
                    &call.ani,
                    &call.started_at,
                    &call.doc,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn update_call(&self, call_id: &str, doc: String, wait: bool) -> StoreResult<bool> {
        let c = if wait {
            self.client().await?
        } else {
            self.lazy_client().await?
        };
        let stmt = c
            .prepare_cached("UPDATE calls SET doc = $2 WHERE call_id = $1")
            .await?;
        Ok(c.execute(&stmt, &[&call_id, &doc]).await? == 1)
    }

    async fn get_call(&self, call_id: &str) -> StoreResult<Option<CallRecord>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!("SELECT {CALL_COLS} FROM calls WHERE call_id = $1"))
            .await?;
        c.query_opt(&stmt, &[&call_id])
            .await?
            .map(|r| call_row(&r))
            .transpose()
    }

    async fn calls_since(&self, since: Millis, limit: usize) -> StoreResult<Vec<CallRecord>> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {CALL_COLS} FROM calls WHERE started_at >= $1
                     ORDER BY started_at, call_id LIMIT $2"
                ),
                &[&since, &(limit as i64)],
            )
            .await?;
        rows.iter().map(call_row).collect()
    }

    async fn call_keys_since(&self, since: Millis) -> StoreResult<Vec<CallKey>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT call_id, customer_id, ani, started_at FROM calls WHERE started_at >= $1
                 ORDER BY started_at, call_id",
                &[&since],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CallKey {
                    call_id: col(r, 0)?,
                    customer_id: col(r, 1)?,
                    ani: col(r, 2)?,
                    started_at: col(r, 3)?,
                })
            })
            .collect()
    }

    async fn add_account_events(&self, events: Vec<(String, String, Millis)>) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut cols = (Vec::new(), Vec::new(), Vec::new());
        for (c, k, at) in &events {
            cols.0.push(c.as_str());
            cols.1.push(k.as_str());
            cols.2.push(*at);
        }
        let c = self.client().await?;
        c.execute(
            "INSERT INTO account_events (customer_id, kind, at)
             SELECT c, k, at FROM UNNEST($1::text[], $2::text[], $3::bigint[])
                 WITH ORDINALITY AS u(c, k, at, i)
             ORDER BY i",
            &[&cols.0, &cols.1, &cols.2],
        )
        .await?;
        Ok(())
    }

    async fn call_context(
        &self,
        call_id: &str,
        customer_id: Option<&str>,
        numbers: (Millis, Millis),
        events_since: Millis,
    ) -> StoreResult<CallContext> {
        let c = self.client().await?;
        let exists = c
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM calls WHERE call_id = $1)")
            .await?;
        let Some(cust) = customer_id else {
            let r = c.query_one(&exists, &[&call_id]).await?;
            return Ok(CallContext {
                call_exists: col(&r, 0)?,
                ..Default::default()
            });
        };
        let profile = c
            .prepare_cached("SELECT profile FROM profiles WHERE customer_id = $1")
            .await?;
        let recipients = c
            .prepare_cached(
                "SELECT number FROM customer_numbers
                 WHERE customer_id = $1 AND last_sent_at >= $2 AND last_sent_at <= $3
                 ORDER BY last_sent_at DESC, number LIMIT 50",
            )
            .await?;
        let events = c
            .prepare_cached(
                "SELECT kind, at FROM account_events WHERE customer_id = $1 AND at >= $2
                 ORDER BY at DESC, id DESC LIMIT 100",
            )
            .await?;
        let reports = c
            .prepare_cached(
                "SELECT (SELECT COUNT(*) FROM smish_reports WHERE customer_id = $1 AND received_at >= $2)
                      + (SELECT COUNT(*) FROM text_checks
                         WHERE customer_id = $1 AND forged AND at >= $2 AND report_id IS NULL)",
            )
            .await?;
        // Pipelined on one connection: one round trip's wait for all five.
        let (p_call, p_cust): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 1]) =
            ([&call_id], [&cust]);
        let p_numbers: [&(dyn ToSql + Sync); 3] = [&cust, &numbers.0, &numbers.1];
        let p_since: [&(dyn ToSql + Sync); 2] = [&cust, &events_since];
        let (e, p, n, ev, rep) = tokio::try_join!(
            c.query_one(&exists, &p_call),
            c.query_opt(&profile, &p_cust),
            c.query(&recipients, &p_numbers),
            c.query(&events, &p_since),
            c.query_one(&reports, &p_since),
        )?;
        Ok(CallContext {
            call_exists: col(&e, 0)?,
            profile: p.map(|r| col(&r, 0)).transpose()?,
            sms_recipients: n.iter().map(|r| col(r, 0)).collect::<StoreResult<_>>()?,
            account_events: ev
                .iter()
                .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
                .collect::<StoreResult<_>>()?,
            smish_reports: u32::try_from(count(&rep, 0)?).unwrap_or(u32::MAX),
        })
    }

    async fn add_claim_verdict(&self, call_id: &str, verdict: &str, at: Millis) -> StoreResult<()> {
        let c = self.lazy_client().await?;
        let stmt = c
            .prepare_cached("INSERT INTO claim_verdicts (call_id, verdict, at) VALUES ($1, $2, $3)")
            .await?;
        c.execute(&stmt, &[&call_id, &verdict, &at]).await?;
        Ok(())
    }

    async fn claim_verdict_times(&self, verdict: &str, since: Millis) -> StoreResult<Vec<Millis>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT at FROM claim_verdicts WHERE verdict = $1 AND at >= $2 ORDER BY at",
                &[&verdict, &since],
            )
            .await?;
        rows.iter().map(|r| col(r, 0)).collect()
    }

    async fn call_velocity(
        &self,
        call_id: &str,
        ani: &str,
        customer: Option<&str>,
        since_24h: Millis,
        since_7d: Millis,
    ) -> StoreResult<Velocity> {
        let c = self.client().await?;
        let by_ani = c
            .prepare_cached(
                "SELECT COUNT(DISTINCT customer_id) FILTER (WHERE started_at >= $3),
                        COUNT(DISTINCT customer_id)
                 FROM calls WHERE ani = $1 AND started_at >= $4 AND call_id <> $5
                   AND customer_id IS DISTINCT FROM $2",
            )
            .await?;
        let by_customer = c
            .prepare_cached(
                "SELECT COUNT(DISTINCT ani) FROM calls
                 WHERE customer_id = $1 AND started_at >= $2 AND ani <> $3 AND call_id <> $4",
            )
            .await?;
        let p_ani: [&(dyn ToSql + Sync); 5] = [&ani, &customer, &since_24h, &since_7d, &call_id];
        let p_cust: [&(dyn ToSql + Sync); 4] = [&customer, &since_24h, &ani, &call_id];
        // Pipelined: one round trip.
        let (a, b) = tokio::try_join!(
            c.query_one(&by_ani, &p_ani),
            c.query_one(&by_customer, &p_cust)
        )?;
        let n = |r: &Row, i| count(r, i).map(|v| u32::try_from(v).unwrap_or(u32::MAX));
        Ok(Velocity {
            ani_customers_24h: n(&a, 0)?,
            ani_customers_7d: n(&a, 1)?,
            customer_anis_24h: if customer.is_some() { n(&b, 0)? } else { 0 },
        })
    }

    async fn claim_counts(
        &self,
        verdicts: &[&str],
        since: Millis,
        hour_ago: Millis,
        now: Millis,
    ) -> StoreResult<(u64, u64)> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT COUNT(*) FILTER (WHERE at >= $3), COUNT(*) FILTER (WHERE at < $3)
                 FROM claim_verdicts WHERE verdict = ANY($1) AND at >= $2 AND at <= $4",
            )
            .await?;
        let r = c
            .query_one(&stmt, &[&verdicts, &since, &hour_ago, &now])
            .await?;
        Ok((count(&r, 0)?, count(&r, 1)?))
    }
}
