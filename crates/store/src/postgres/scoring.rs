//! What scoring a call reads on PostgreSQL — its context, velocity and the surge's counts — as
//! one statement for every call waiting to be scored on this node: a reader task coalesces
//! concurrent requests, as group commit does for writes.

use tokio::sync::{mpsc, oneshot};

use super::*;
use crate::{CallContext, ScoringQuery, ScoringReads, Velocity};

/// Everything the calls in `$1…$11` (one array element per call) are scored with: each read a
/// scalar subquery or a lateral aggregate on its own index, evaluated once per call. One round
/// trip, one snapshot and one executor start serve the whole batch: measured with pgbench on
/// 1M customers and calls, one statement for the reads replaced eight (14.5k against 8.5k sets
/// of reads per second), and a batch of four reads twice as many calls per second as four
/// statements (7.5–8k batches against 14–15k statements). A call with no customer (NULL) finds
/// nothing of a customer's, as [`CallStore::call_context`] answers. `$12` holds the surge's
/// verdicts, the same for every call of a batch. The surge's week before the last hour is
/// counted row by row only at its two ends, and by whole hours from `claim_verdict_hours`
/// between `$13` and `$14` ([`whole_hours`]): a campaign's hundred thousand verdicts in a week
/// cost a read of 168 rows, not of every verdict, for each call scored.
const SCORING_READS: &str = "
SELECT q.i, EXISTS (SELECT 1 FROM calls WHERE call_id = q.call_id),
    (SELECT profile FROM profiles WHERE customer_id = q.customer_id),
    ARRAY(SELECT number FROM customer_numbers
          WHERE customer_id = q.customer_id
            AND last_sent_at >= q.numbers_from AND last_sent_at <= q.numbers_to
          ORDER BY last_sent_at DESC, number LIMIT 50),
    ev.kinds, ev.ats,
    (SELECT COUNT(*) FROM smish_reports
     WHERE customer_id = q.customer_id AND received_at >= q.events_since)
      + (SELECT COUNT(*) FROM text_checks
         WHERE customer_id = q.customer_id AND forged AND at >= q.events_since
           AND report_id IS NULL),
    va.a24, va.a7, vc.c24, su.s_hour, su.s_before
FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
            $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[],
            $13::bigint[], $14::bigint[])
    WITH ORDINALITY AS q(call_id, customer_id, ani, numbers_from, numbers_to, events_since,
                         since_24h, since_7d, surge_since, hour_ago, now, hours_from, hours_to,
                         i),
LATERAL (
    SELECT array_agg(kind ORDER BY at DESC, id DESC) AS kinds,
           array_agg(at ORDER BY at DESC, id DESC) AS ats
    FROM (SELECT kind, at, id FROM account_events
          WHERE customer_id = q.customer_id AND at >= q.events_since
          ORDER BY at DESC, id DESC LIMIT 100) e) ev,
LATERAL (
    SELECT COUNT(DISTINCT customer_id) FILTER (WHERE started_at >= q.since_24h) AS a24,
           COUNT(DISTINCT customer_id) AS a7
    FROM calls WHERE ani = q.ani AND started_at >= q.since_7d AND call_id <> q.call_id
      AND customer_id IS DISTINCT FROM q.customer_id) va,
LATERAL (
    SELECT COUNT(DISTINCT ani) AS c24 FROM calls
    WHERE customer_id = q.customer_id AND started_at >= q.since_24h AND ani <> q.ani
      AND call_id <> q.call_id) vc,
LATERAL (
    SELECT (SELECT COUNT(*) FROM claim_verdicts
            WHERE verdict = ANY($12) AND at >= q.hour_ago AND at >= q.surge_since
              AND at <= q.now) AS s_hour,
           (SELECT COUNT(*) FROM claim_verdicts
            WHERE verdict = ANY($12) AND at >= q.surge_since AND at < q.hours_from
              AND at < q.hour_ago)
           + (SELECT COUNT(*) FROM claim_verdicts
              WHERE verdict = ANY($12) AND at >= q.hours_to AND at >= q.surge_since
                AND at < q.hour_ago)
           + (SELECT COALESCE(SUM(n), 0)::BIGINT FROM claim_verdict_hours
              WHERE verdict = ANY($12) AND hour >= countersign_verdict_hour(q.hours_from)
                AND hour < countersign_verdict_hour(q.hours_to)) AS s_before) su";

/// Milliseconds in an hour of `claim_verdict_hours` (a verdict's hour is
/// `countersign_verdict_hour(at)`, `floor(at / HOUR_MS)`, in the schema).
const HOUR_MS: Millis = 3_600_000;

/// The whole hours in `[since, until)`, as `(from, to)`: the verdicts of `[since, from)` and of
/// `[to, until)` are counted row by row, and those of the hours `from / HOUR_MS` up to (not
/// including) `to / HOUR_MS` from their hours' counts. With no whole hour between them, `from`
/// and `to` are both `until` (every verdict counted row by row). Saturates instead of
/// overflowing (a context read passes `Millis::MAX`).
fn whole_hours(since: Millis, until: Millis) -> (Millis, Millis) {
    let up = since
        .div_euclid(HOUR_MS)
        .saturating_add(Millis::from(since.rem_euclid(HOUR_MS) != 0))
        .saturating_mul(HOUR_MS);
    let from = up.min(until);
    let to = until.div_euclid(HOUR_MS).saturating_mul(HOUR_MS).max(from);
    (from, to)
}

/// Most calls read by one statement.
const BATCH_MAX: usize = 64;

/// A [`ScoringQuery`] that can wait in a queue.
pub(super) struct Query {
    call_id: String,
    customer_id: Option<String>,
    ani: String,
    /// In the statement's order (`$4…$11`, then `$13`, `$14`): the SMS recipients' window
    /// (from, to), where the account events start, the velocity's 24 h and 7 d, the surge's
    /// start, an hour ago, now, and the whole hours between the surge's start and an hour ago.
    times: [Millis; 10],
    verdicts: Vec<String>,
}

impl Query {
    pub(super) fn new(q: &ScoringQuery<'_>) -> Query {
        let (hours_from, hours_to) = whole_hours(q.surge_since, q.hour_ago);
        Query {
            call_id: q.call_id.to_string(),
            customer_id: q.customer_id.map(str::to_string),
            ani: q.ani.to_string(),
            times: [
                q.numbers.0,
                q.numbers.1,
                q.events_since,
                q.since_24h,
                q.since_7d,
                q.surge_since,
                q.hour_ago,
                q.now,
                hours_from,
                hours_to,
            ],
            verdicts: q.verdicts.iter().map(|v| v.to_string()).collect(),
        }
    }
}

/// A call's reads on their way to the database, and who waits for them.
pub(super) type ScoringMsg = (Query, oneshot::Sender<StoreResult<ScoringReads>>);

/// Run the queued scoring reads: every query waiting when a connection of `pool` is free goes
/// into its next statement (up to [`BATCH_MAX`], those with the surge's verdicts of the first).
/// The pool is small (half the store's), so that under load queries wait here and share a
/// statement rather than each taking a connection and a database core; when idle a query is
/// read at once, alone. Ends when the store does.
pub(super) async fn scoring_reader(
    pool: Pool,
    mut rx: mpsc::UnboundedReceiver<ScoringMsg>,
    scored: super::calls::BeingScored,
) {
    let mut carried: Option<ScoringMsg> = None;
    loop {
        let first = match carried.take() {
            Some(m) => m,
            None => match rx.recv().await {
                Some(m) => m,
                None => return,
            },
        };
        // A connection first: what arrives while waiting for one joins this batch.
        let conn = pool.get().await;
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok(m) if m.0.verdicts == batch[0].0.verdicts => batch.push(m),
                Ok(m) => {
                    carried = Some(m);
                    break;
                }
                Err(_) => break,
            }
        }
        scored.add(batch.len());
        let scored = scored.clone();
        tokio::spawn(async move {
            let result = match conn {
                Ok(c) => read_batch(&c, &batch).await,
                Err(e) => Err(e.into()),
            };
            match result {
                Ok(reads) => {
                    // A call stored already will not be written: counted off before its caller wakes.
                    scored.sub(reads.iter().filter(|r| r.context.call_exists).count());
                    // One read per query, in the batch's order (`read_batch` checks).
                    for ((_, tx), r) in batch.into_iter().zip(reads) {
                        let _ = tx.send(Ok(r));
                    }
                }
                Err(e) => {
                    scored.sub(batch.len());
                    fail_batch(batch, &e)
                }
            }
        });
    }
}

/// One statement for the batch; the reads in the batch's order.
async fn read_batch(c: &Object, batch: &[ScoringMsg]) -> StoreResult<Vec<ScoringReads>> {
    let stmt = c.prepare_cached(SCORING_READS).await?;
    let queries = batch.iter().map(|(q, _)| q);
    let ids: Vec<&str> = queries.clone().map(|q| q.call_id.as_str()).collect();
    let customers: Vec<Option<&str>> = queries.clone().map(|q| q.customer_id.as_deref()).collect();
    let anis: Vec<&str> = queries.clone().map(|q| q.ani.as_str()).collect();
    let times: Vec<Vec<Millis>> = (0..10)
        .map(|k| queries.clone().map(|q| q.times[k]).collect())
        .collect();
    let verdicts = &batch[0].0.verdicts;
    let rows = c
        .query(
            &stmt,
            &[
                &ids, &customers, &anis, &times[0], &times[1], &times[2], &times[3], &times[4],
                &times[5], &times[6], &times[7], verdicts, &times[8], &times[9],
            ],
        )
        .await?;
    let mut reads = vec![None; batch.len()];
    for r in &rows {
        let i: i64 = col(r, 0)?;
        let slot = usize::try_from(i - 1)
            .ok()
            .and_then(|i| reads.get_mut(i))
            .ok_or_else(|| StoreError::Unavailable(format!("postgres: scoring row {i}")))?;
        *slot = Some(decode(r)?);
    }
    reads
        .into_iter()
        .map(|r| {
            r.ok_or_else(|| StoreError::Unavailable("postgres: a scoring read went missing".into()))
        })
        .collect()
}

/// One call's reads from its row (column 0 is its place in the batch).
fn decode(r: &Row) -> StoreResult<ScoringReads> {
    let kinds: Option<Vec<String>> = col(r, 4)?;
    let ats: Option<Vec<Millis>> = col(r, 5)?;
    let n = |i| count(r, i).map(|v| u32::try_from(v).unwrap_or(u32::MAX));
    Ok(ScoringReads {
        context: CallContext {
            call_exists: col(r, 1)?,
            profile: col(r, 2)?,
            sms_recipients: col(r, 3)?,
            account_events: kinds
                .unwrap_or_default()
                .into_iter()
                .zip(ats.unwrap_or_default())
                .collect(),
            smish_reports: n(6)?,
        },
        velocity: Velocity {
            ani_customers_24h: n(7)?,
            ani_customers_7d: n(8)?,
            customer_anis_24h: n(9)?,
        },
        surge: (count(r, 10)?, count(r, 11)?),
    })
}

#[cfg(test)]
mod tests {
    use super::{whole_hours, HOUR_MS};
    use countersign_core::Millis;

    /// Every instant near the edges is counted once: row by row at either end, or by its hour.
    #[test]
    fn whole_hours_split_a_window_exactly() {
        let h = HOUR_MS;
        let t0: Millis = 1_780_488_000_000; // on the hour
        let edges = [
            t0,
            t0 + 1,
            t0 - 1,
            t0 + h / 2,
            t0 + 3 * h,
            t0 + 3 * h + 7,
            t0 - 2 * h - 5,
        ];
        for &since in &edges {
            for &until in &edges {
                let (from, to) = whole_hours(since, until);
                assert!(from <= to, "{since} {until}");
                let mut instants: Vec<Millis> =
                    edges.iter().flat_map(|&e| [e - 1, e, e + 1]).collect();
                instants.extend((-3..7).map(|k| t0 + k * h));
                instants.extend((-3..7).map(|k| t0 + k * h - 1));
                for at in instants {
                    let row_start = at >= since && at < from && at < until;
                    let row_end = at >= to && at >= since && at < until;
                    let hour = at.div_euclid(h);
                    let by_hour = hour >= from.div_euclid(h) && hour < to.div_euclid(h);
                    let ways = [row_start, row_end, by_hour].iter().filter(|&&w| w).count();
                    let inside = at >= since && at < until;
                    assert_eq!(ways, usize::from(inside), "{since} {until} {at}");
                }
            }
        }
        // The context read's "no surge" window does not overflow.
        assert_eq!(
            whole_hours(Millis::MAX, Millis::MAX),
            (Millis::MAX, Millis::MAX)
        );
    }
}
