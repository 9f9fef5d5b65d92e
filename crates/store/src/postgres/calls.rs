//! Calls, claim verdicts and account events on PostgreSQL (what scoring a call reads is
//! `scoring`'s).

use super::*;
use crate::{CallContext, CallKey, CallRecord, ScoringQuery, ScoringReads, Velocity};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;
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

/// A new call on its way to the database, and who waits to hear whether it was new.
pub(super) type CallMsg = (CallRecord, tokio::sync::oneshot::Sender<StoreResult<bool>>);

/// How many calls this node is scoring: counted when the scoring reader sends their reads
/// ([`super::scoring::scoring_reader`]), and counted off when they are queued for the call
/// writer (or turn out to be stored already, or their read fails). The writer waits for them
/// (a read's round trip and microseconds of scoring) rather than send its statement without
/// them. Only a hint: a call that never comes (its request was dropped) costs the writer at
/// most [`STRAGGLER_WAIT`] once, after which the count is forgotten; what is stored and when it
/// is acknowledged never depend on it.
#[derive(Clone, Default)]
pub(super) struct BeingScored(std::sync::Arc<Scoring>);

/// [`BeingScored`]'s count and its signal.
#[derive(Default)]
struct Scoring {
    calls: AtomicUsize,
    /// Told whenever calls are counted off.
    counted_off: Notify,
}

impl BeingScored {
    /// `n` more calls are being scored.
    pub(super) fn add(&self, n: usize) {
        self.0.calls.fetch_add(n, Ordering::AcqRel);
    }

    /// `n` of them are no longer (never below zero); a writer waiting for them hears.
    pub(super) fn sub(&self, n: usize) {
        let _ = self
            .0
            .calls
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            });
        self.0.counted_off.notify_one();
    }

    fn count(&self) -> usize {
        self.0.calls.load(Ordering::Acquire)
    }

    /// Until calls are next counted off (at once if they were since it was last asked).
    async fn counted_off(&self) {
        self.0.counted_off.notified().await;
    }

    fn forget(&self) {
        self.0.calls.store(0, Ordering::Release);
    }
}

/// The longest the call writer waits for a call being scored before it writes without it:
/// longer than a scoring read takes (about a millisecond under load here).
const STRAGGLER_WAIT: std::time::Duration = std::time::Duration::from_millis(5);

/// Most calls one insert stores.
const WRITE_MAX: usize = 1000;

/// Insert the calls queued by `put_call` (without `wait`), on the pool whose commits do not
/// wait for the WAL flush: every call queued when a statement ends goes into the next one (up
/// to [`WRITE_MAX`]), and so does every call being scored at that moment ([`BeingScored`]).
/// Under load one statement stores the calls of many requests, so a call costs a row rather
/// than a statement and a commit; when idle a call is inserted at once, alone. Waiting for the
/// calls being scored cut the database's transactions per scored call by a fifth (1.17 to 0.92
/// on one node, 1.52 to 1.30 on two, 8 clients; BENCHMARKS.md, 2026-12-06) without moving the
/// latency. Each waiter hears, after the commit, whether its call was new. Ends when the store
/// does.
pub(super) async fn call_writer(
    pool: Pool,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<CallMsg>,
    scored: BeingScored,
) {
    let drain = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<CallMsg>, batch: &mut Vec<_>| {
        while batch.len() < WRITE_MAX {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
    };
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        drain(&mut rx, &mut batch);
        // Wait for the calls being scored now, not for those read after this point.
        let mut wanted = scored.count();
        let deadline = tokio::time::sleep(STRAGGLER_WAIT);
        tokio::pin!(deadline);
        while wanted > 0 && batch.len() < WRITE_MAX {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => {
                        let before = batch.len();
                        batch.push(m);
                        drain(&mut rx, &mut batch);
                        wanted = wanted.saturating_sub(batch.len() - before);
                    }
                    None => break,
                },
                // One stored already, or its read failed: counted off without coming here.
                _ = scored.counted_off() => {}
                _ = &mut deadline => {
                    scored.forget();
                    break;
                }
            }
            wanted = wanted.min(scored.count());
        }
        let calls: Vec<&CallRecord> = batch.iter().map(|(c, _)| c).collect();
        let result = match pool.get().await {
            Ok(c) => insert_calls(&c, &calls).await,
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(mut inserted) => {
                // The same id twice in one batch is stored once: the first to ask gets `true`.
                for (c, tx) in batch {
                    let _ = tx.send(Ok(inserted.remove(&c.call_id)));
                }
            }
            Err(e) => fail_batch(batch, &e),
        }
    }
}

/// One `UNNEST` insert of calls (a known id left alone); the ids that were new.
async fn insert_calls(
    c: &Object,
    calls: &[&CallRecord],
) -> StoreResult<std::collections::HashSet<String>> {
    let stmt = c
        .prepare_cached(&format!(
            "INSERT INTO calls ({CALL_COLS})
             SELECT id, c, a, t, d
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
                 WITH ORDINALITY AS u(id, c, a, t, d, i)
             ORDER BY i
             ON CONFLICT (call_id) DO NOTHING RETURNING call_id"
        ))
        .await?;
    let calls = calls.iter();
    let ids: Vec<&str> = calls.clone().map(|c| c.call_id.as_str()).collect();
    let customers: Vec<Option<&str>> = calls.clone().map(|c| c.customer_id.as_deref()).collect();
    let anis: Vec<&str> = calls.clone().map(|c| c.ani.as_str()).collect();
    let started: Vec<Millis> = calls.clone().map(|c| c.started_at).collect();
    let docs: Vec<&str> = calls.map(|c| c.doc.as_str()).collect();
    let rows = c
        .query(&stmt, &[&ids, &customers, &anis, &started, &docs])
        .await?;
    rows.iter().map(|r| col(r, 0)).collect()
}

#[async_trait]
impl CallStore for PgStore {
    async fn scoring_reads(&self, q: &ScoringQuery<'_>) -> StoreResult<ScoringReads> {
        // Read by the node's scoring reader, with every other call waiting to be scored.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let gone = || StoreError::Unavailable("postgres: the scoring reader has stopped".into());
        self.scoring
            .send((super::scoring::Query::new(q), tx))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    async fn put_call(&self, call: CallRecord, wait: bool) -> StoreResult<bool> {
        // Committed before it returns either way (visible to every node at once). Without
        // `wait` the call rides the call writer's next statement, whose commit does not wait for
        // the WAL flush: scoring never waits for a disk.
        if !wait {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let gone = || StoreError::Unavailable("postgres: the call writer has stopped".into());
            // Counted off before it is sent, so that the writer never waits for a call it has.
            self.being_scored.sub(1);
            self.calls.send((call, tx)).map_err(|_| gone())?;
            return rx.await.map_err(|_| gone())?;
        }
        let c = self.client().await?;
        Ok(insert_calls(&c, &[&call]).await?.contains(&call.call_id))
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
        // The scoring statement's context, its velocity and surge windows empty (they start after
        // every stored row): one copy of the context's SQL.
        let q = ScoringQuery {
            call_id,
            customer_id,
            ani: "",
            numbers,
            events_since,
            since_24h: Millis::MAX,
            since_7d: Millis::MAX,
            verdicts: &[],
            surge_since: Millis::MAX,
            hour_ago: Millis::MAX,
            now: Millis::MAX,
        };
        Ok(self.scoring_reads(&q).await?.context)
    }

    async fn add_claim_verdict(&self, call_id: &str, verdict: &str, at: Millis) -> StoreResult<()> {
        let c = self.lazy_client().await?;
        // The verdict and its hour's count in one statement: the count is never behind.
        let stmt = c
            .prepare_cached(
                "WITH v AS (INSERT INTO claim_verdicts (call_id, verdict, at) VALUES ($1, $2, $3)
                            RETURNING verdict, at)
                 INSERT INTO claim_verdict_hours (verdict, hour, n)
                 SELECT verdict, countersign_verdict_hour(at), 1 FROM v
                 ON CONFLICT (verdict, hour) DO UPDATE SET n = claim_verdict_hours.n + 1",
            )
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
        // The scoring statement's surge, every other window empty (after every stored row):
        // one copy of the surge's SQL.
        let q = ScoringQuery {
            call_id: "",
            customer_id: None,
            ani: "",
            numbers: (Millis::MAX, Millis::MAX),
            events_since: Millis::MAX,
            since_24h: Millis::MAX,
            since_7d: Millis::MAX,
            verdicts,
            surge_since: since,
            hour_ago,
            now,
        };
        Ok(self.scoring_reads(&q).await?.surge)
    }
}
