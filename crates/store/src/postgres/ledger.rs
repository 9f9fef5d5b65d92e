//! The ledger group on PostgreSQL: ingest as one `UNNEST … ON CONFLICT DO NOTHING RETURNING`
//! statement per batch into `notification_keys` and the day-partitioned `notifications` (a
//! duplicate told from a conflict by the stored record's content), status updates, watermarks and
//! source state kept exact under a row lock, the reads of verification and the timeline,
//! retention by dropping whole days and deleting the rest in bounded chunks.

use std::collections::hash_map::Entry;

use deadpool_postgres::Transaction;

use super::schema::DAY_MS;
use super::*;
use crate::{facts_json, learned_number};

const SELECT_COLS: &str = "s.name, n.ext_id, n.customer_id, n.channel, n.sender, n.recipient, \
     n.sent_at, n.acked_at, n.category, n.template_id, n.facts, n.body, n.body_mac, n.status, \
     n.status_at FROM notifications n JOIN sources s ON s.id = n.source_id";

/// How many times a batch is retried after its day was dropped under it.
const DAY_RETRIES: u64 = 5;

/// Key of the transaction-level lock retention runs under ("CSPURGE").
const PURGE_LOCK: i64 = 0x0043_5350_5552_4745;

const SOURCE_COLS: &str = "id, name, channels_mask, declared_watermark, watermark_updated_at, \
     complete_since, first_acked_at, last_acked_at, last_sent_at, records_total, \
     records_before_complete, first_sent_at";

fn bad(what: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "postgres: a stored notification has an unreadable {what}"
    ))
}

fn stored(r: &Row) -> StoreResult<StoredNotification> {
    let facts: Option<String> = col(r, 10)?;
    let mac: Option<Vec<u8>> = col(r, 12)?;
    let body_mac = mac.and_then(|b| <[u8; BODY_MAC_LEN]>::try_from(b.as_slice()).ok());
    Ok(StoredNotification {
        record: Notification {
            source: col(r, 0)?,
            id: col(r, 1)?,
            customer_id: col(r, 2)?,
            channel: Channel::from_code(col(r, 3)?).ok_or_else(|| bad("channel"))?,
            sender: col(r, 4)?,
            recipient: col(r, 5)?,
            sent_at: col(r, 6)?,
            category: col(r, 8)?,
            template_id: col(r, 9)?,
            facts: match facts {
                Some(s) => serde_json::from_str(&s).map_err(|_| bad("facts"))?,
                None => Facts::default(),
            },
            body: col(r, 11)?,
            body_mac,
            status: DeliveryStatus::from_code(col(r, 13)?).ok_or_else(|| bad("status"))?,
        },
        acked_at: col(r, 7)?,
        status_at: col(r, 14)?,
    })
}

fn source_state(r: &Row) -> StoreResult<(i64, SourceState)> {
    Ok((
        col(r, 0)?,
        SourceState {
            source: col(r, 1)?,
            channels_mask: col(r, 2)?,
            declared_watermark: col(r, 3)?,
            watermark_updated_at: col(r, 4)?,
            complete_since: col(r, 5)?,
            first_acked_at: col(r, 6)?,
            last_acked_at: col(r, 7)?,
            last_sent_at: col(r, 8)?,
            records_total: col(r, 9)?,
            records_before_complete: col(r, 10)?,
            first_sent_at: col(r, 11)?,
            derived_cap: None,
        },
    ))
}

/// A source's row, locked for this transaction, with what the transaction changes in it.
struct LockedSource {
    id: i64,
    state: SourceState,
    live_delta: i64,
}

/// Create the named sources if missing and lock their rows, in name order (every writer locks
/// in the same order, so two writers never wait on each other in a cycle).
async fn lock_sources(
    tx: &Transaction<'_>,
    names: &[&str],
) -> StoreResult<BTreeMap<String, LockedSource>> {
    let mut names: Vec<&str> = names.to_vec();
    names.sort_unstable();
    names.dedup();
    let insert = tx
        .prepare_cached(
            "INSERT INTO sources (name) SELECT * FROM UNNEST($1::text[]) ON CONFLICT (name) DO NOTHING",
        )
        .await?;
    tx.execute(&insert, &[&names]).await?;
    let select = tx
        .prepare_cached(&format!(
            "SELECT {SOURCE_COLS} FROM sources WHERE name = ANY($1) ORDER BY name FOR UPDATE"
        ))
        .await?;
    let mut out = BTreeMap::new();
    for r in tx.query(&select, &[&names]).await? {
        let (id, state) = source_state(&r)?;
        out.insert(
            state.source.clone(),
            LockedSource {
                id,
                state,
                live_delta: 0,
            },
        );
    }
    Ok(out)
}

/// Write back what the transaction changed in its locked sources.
async fn save_sources(
    tx: &Transaction<'_>,
    sources: &BTreeMap<String, LockedSource>,
) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached(
            "UPDATE sources SET channels_mask = $2, declared_watermark = $3, watermark_updated_at = $4,
                complete_since = $5, first_acked_at = $6, last_acked_at = $7, last_sent_at = $8,
                records_total = $9, records_before_complete = $10, first_sent_at = $11,
                records_live = records_live + $12
             WHERE id = $1",
        )
        .await?;
    for l in sources.values() {
        let s = &l.state;
        tx.execute(
            &stmt,
            &[
                &l.id,
                &s.channels_mask,
                &s.declared_watermark,
                &s.watermark_updated_at,
                &s.complete_since,
                &s.first_acked_at,
                &s.last_acked_at,
                &s.last_sent_at,
                &s.records_total,
                &s.records_before_complete,
                &s.first_sent_at,
                &l.live_delta,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Insert the first occurrence of each key; the keys that were inserted, or `None` when a
/// record's day has no partition (dropped by retention since this node made it; the transaction
/// is then aborted).
async fn insert_new(
    tx: &Transaction<'_>,
    rows: &[(i64, &Notification)],
    acked_at: Millis,
) -> StoreResult<Option<std::collections::HashSet<(i64, String)>>> {
    let mut cols = (
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
    );
    let mut more = (
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
    );
    for (sid, n) in rows {
        cols.0.push(*sid);
        cols.1.push(n.id.as_str());
        cols.2.push(n.customer_id.as_str());
        cols.3.push(n.channel.code());
        cols.4.push(n.sender.as_deref());
        cols.5.push(n.recipient.as_deref());
        cols.6.push(n.sent_at);
        more.0.push(n.category.as_deref());
        more.1.push(n.template_id.as_deref());
        more.2.push(facts_json(&n.facts));
        more.3.push(n.body.as_deref());
        more.4.push(n.body_mac.as_ref().map(|m| m.as_slice()));
        more.5.push(n.status.code());
    }
    let stmt = tx
        .prepare_cached(
            "WITH u AS (SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[],
                $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[],
                $11::text[], $12::bytea[], $13::bigint[])
                AS u(sid, ext, cust, ch, sender, rcpt, sent, cat, tpl, facts, body, mac, st)),
             k AS (INSERT INTO notification_keys (source_id, ext_id, sent_at)
                SELECT sid, ext, sent FROM u
                ON CONFLICT (source_id, ext_id) DO NOTHING
                RETURNING source_id, ext_id)
             INSERT INTO notifications (source_id, ext_id, customer_id, channel, sender, recipient,
                sent_at, acked_at, category, template_id, facts, body, body_mac, status, status_at)
             SELECT u.sid, u.ext, u.cust, u.ch, u.sender, u.rcpt, u.sent, $14, u.cat, u.tpl,
                u.facts, u.body, u.mac, u.st, u.sent
             FROM u JOIN k ON k.source_id = u.sid AND k.ext_id = u.ext
             RETURNING source_id, ext_id",
        )
        .await?;
    let inserted = tx
        .query(
            &stmt,
            &[
                &cols.0, &cols.1, &cols.2, &cols.3, &cols.4, &cols.5, &cols.6, &more.0, &more.1,
                &more.2, &more.3, &more.4, &more.5, &acked_at,
            ],
        )
        .await;
    // A row no partition takes is a check violation (23514); these tables have no CHECK
    // constraint, so it means only that. Told by its code, not its (localized) message.
    let inserted = match inserted {
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION) => {
            return Ok(None)
        }
        r => r?,
    };
    inserted
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
        .collect::<StoreResult<_>>()
        .map(Some)
}

/// The stored records under keys that were already taken.
async fn existing(
    tx: &Transaction<'_>,
    keys: &[(i64, &str)],
) -> StoreResult<HashMap<(String, String), Notification>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let (sids, exts): (Vec<i64>, Vec<&str>) = keys.iter().copied().unzip();
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {SELECT_COLS}
             JOIN notification_keys k
               ON n.sent_at = k.sent_at AND n.source_id = k.source_id AND n.ext_id = k.ext_id
             JOIN UNNEST($1::bigint[], $2::text[]) AS q(sid, ext)
               ON k.source_id = q.sid AND k.ext_id = q.ext"
        ))
        .await?;
    let mut out = HashMap::new();
    for r in tx.query(&stmt, &[&sids, &exts]).await? {
        let n = stored(&r)?.record;
        out.insert((n.source.clone(), n.id.clone()), n);
    }
    Ok(out)
}

/// What an accepted batch adds to the customer index and the learned numbers: sorted (so that
/// concurrent writers take row locks in one order) and one row per key (one statement may not
/// touch a row twice).
async fn index_customers(tx: &Transaction<'_>, accepted: &[&Notification]) -> StoreResult<()> {
    let mut customers: BTreeMap<&str, Millis> = BTreeMap::new();
    let mut numbers: BTreeMap<(&str, &str), Millis> = BTreeMap::new();
    for n in accepted {
        let first = customers.entry(&n.customer_id).or_insert(n.sent_at);
        *first = (*first).min(n.sent_at);
        if let Some(number) = learned_number(n.channel, n.recipient.as_deref()) {
            let last = numbers.entry((&n.customer_id, number)).or_insert(n.sent_at);
            *last = (*last).max(n.sent_at);
        }
    }
    let (ids, firsts): (Vec<&str>, Vec<Millis>) = customers.into_iter().unzip();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO customers (customer_id, first_sent_at)
             SELECT * FROM UNNEST($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING",
        )
        .await?;
    tx.execute(&stmt, &[&ids, &firsts]).await?;
    if numbers.is_empty() {
        return Ok(());
    }
    let mut cols = (Vec::new(), Vec::new(), Vec::new());
    for ((c, n), at) in numbers {
        cols.0.push(c);
        cols.1.push(n);
        cols.2.push(at);
    }
    // The last-sent time moves only by more than a day (as in the embedded store).
    let stmt = tx
        .prepare_cached(
            "INSERT INTO customer_numbers AS cn (customer_id, number, last_sent_at)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[])
             ON CONFLICT (customer_id, number) DO UPDATE SET last_sent_at = EXCLUDED.last_sent_at
             WHERE EXCLUDED.last_sent_at > cn.last_sent_at + 86400000",
        )
        .await?;
    tx.execute(&stmt, &[&cols.0, &cols.1, &cols.2]).await?;
    Ok(())
}

/// Add this batch's records and lag to the source's minute of acknowledgement.
async fn record_minute(
    tx: &Transaction<'_>,
    sid: i64,
    minute: Millis,
    records: i64,
    lag: &LagHistogram,
) -> StoreResult<()> {
    let read = tx
        .prepare_cached(
            "SELECT records, lag FROM source_minutes WHERE source_id = $1 AND minute = $2",
        )
        .await?;
    let (mut total, mut hist) = match tx.query_opt(&read, &[&sid, &minute]).await? {
        Some(r) => (
            col::<i64>(&r, 0)?,
            LagHistogram::from_bytes(&col::<Vec<u8>>(&r, 1)?),
        ),
        None => (0, LagHistogram::default()),
    };
    total += records;
    hist.merge(lag);
    let write = tx
        .prepare_cached(
            "INSERT INTO source_minutes (source_id, minute, records, lag) VALUES ($1, $2, $3, $4)
             ON CONFLICT (source_id, minute) DO UPDATE SET records = EXCLUDED.records, lag = EXCLUDED.lag",
        )
        .await?;
    tx.execute(&write, &[&sid, &minute, &total, &hist.to_bytes()])
        .await?;
    Ok(())
}

impl PgStore {
    async fn ingest_tx(
        &self,
        batch: &[Notification],
        acked_at: Millis,
    ) -> StoreResult<Option<Vec<IngestOutcome>>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let names: Vec<&str> = batch.iter().map(|n| n.source.as_str()).collect();
        let mut sources = lock_sources(&tx, &names).await?;
        // The first occurrence of each key is tried; later ones in the batch are judged
        // against whatever ends up stored under the key.
        let mut first: HashMap<(&str, &str), usize> = HashMap::new();
        let mut tried = Vec::new();
        for (i, n) in batch.iter().enumerate() {
            if let Entry::Vacant(v) = first.entry((n.source.as_str(), n.id.as_str())) {
                v.insert(i);
                let sid = sources.get(&n.source).map_or(0, |s| s.id);
                tried.push((sid, n));
            }
        }
        let Some(inserted) = insert_new(&tx, &tried, acked_at).await? else {
            return Ok(None);
        };
        let taken: Vec<(i64, &str)> = tried
            .iter()
            .filter(|(sid, n)| !inserted.contains(&(*sid, n.id.clone())))
            .map(|(sid, n)| (*sid, n.id.as_str()))
            .collect();
        let before = existing(&tx, &taken).await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut accepted: Vec<&Notification> = Vec::new();
        let mut lags: HashMap<i64, (i64, LagHistogram)> = HashMap::new();
        let minute = acked_at.div_euclid(60_000) * 60_000;
        for (i, n) in batch.iter().enumerate() {
            let key = (n.source.as_str(), n.id.as_str());
            let is_first = first.get(&key) == Some(&i);
            let Some(src) = sources.get_mut(&n.source) else {
                return Err(StoreError::Unavailable(format!(
                    "postgres: source {:?} was not locked",
                    n.source
                )));
            };
            if is_first && inserted.contains(&(src.id, n.id.clone())) {
                src.state.record_accepted(n.channel, n.sent_at, acked_at);
                src.live_delta += 1;
                let l = lags.entry(src.id).or_default();
                l.0 += 1;
                l.1.record(acked_at - n.sent_at);
                accepted.push(n);
                outcomes.push(IngestOutcome::Accepted);
                continue;
            }
            // Stored before this batch, or by this batch's first occurrence of the key.
            let stored = before
                .get(&(n.source.clone(), n.id.clone()))
                .or_else(|| first.get(&key).map(|j| &batch[*j]));
            outcomes.push(match stored {
                Some(s) if s.same_content(n) => IngestOutcome::Duplicate,
                _ => IngestOutcome::Conflict,
            });
        }
        if !accepted.is_empty() {
            index_customers(&tx, &accepted).await?;
        }
        for (sid, (records, lag)) in &lags {
            record_minute(&tx, *sid, minute, *records, lag).await?;
        }
        save_sources(&tx, &sources).await?;
        tx.commit().await?;
        Ok(Some(outcomes))
    }

    /// Make sure the day partitions of a batch's `sent_at` times exist. A node remembers the
    /// days it has made or seen; `fresh` forgets them first (another node's retention may have
    /// dropped one since).
    async fn ensure_days(&self, batch: &[Notification], fresh: bool) -> StoreResult<()> {
        let wanted: Vec<i64> = {
            let mut known = self.known_days();
            if fresh {
                known.clear();
            }
            let mut v: Vec<i64> = batch
                .iter()
                .map(|n| n.sent_at.div_euclid(DAY_MS))
                .filter(|d| !known.contains(d))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        if wanted.is_empty() {
            return Ok(());
        }
        let c = self.client().await?;
        c.execute(
            "SELECT countersign_notification_day(d) FROM UNNEST($1::bigint[]) AS d",
            &[&wanted],
        )
        .await?;
        self.known_days().extend(wanted);
        Ok(())
    }

    /// Retention's whole days: the oldest day partition that ends at or before `before`,
    /// counted out of its sources, its keys and the numbers last texted before the cut deleted,
    /// and the partition dropped — all in one transaction, the drop last (it takes the table's
    /// exclusive lock, held until the commit). How many records went; `None` when no whole day
    /// is left.
    async fn drop_day(&self, before: Millis) -> StoreResult<Option<u64>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PURGE_LOCK])
            .await?;
        let day = tx
            .query_opt(
                "SELECT day FROM notification_days WHERE (day + 1) * $2 <= $1 ORDER BY day LIMIT 1",
                &[&before, &DAY_MS],
            )
            .await?;
        let Some(day) = day else {
            return Ok(None);
        };
        let day: i64 = col(&day, 0)?;
        let (from, to) = (day * DAY_MS, (day + 1) * DAY_MS);
        let mut sources = lock_all_sources(&tx).await?;
        let (sids, cuts): (Vec<i64>, Vec<Option<Millis>>) = sources
            .values()
            .map(|l| (l.id, l.state.complete_since.or(l.state.first_acked_at)))
            .unzip();
        // Per source: its records that day, and those before its completeness (the rule of
        // `SourceState::before_complete`).
        let counts = tx
            .query(
                "SELECT n.source_id, COUNT(*), COUNT(*) FILTER (WHERE n.sent_at < t.cut)
                 FROM notifications n LEFT JOIN UNNEST($3::bigint[], $4::bigint[]) AS t(sid, cut)
                   ON t.sid = n.source_id
                 WHERE n.sent_at >= $1 AND n.sent_at < $2 GROUP BY n.source_id",
                &[&from, &to, &sids, &cuts],
            )
            .await?;
        let mut gone = 0;
        for r in &counts {
            let (sid, all, early): (i64, i64, i64) = (col(r, 0)?, col(r, 1)?, col(r, 2)?);
            if let Some(l) = sources.values_mut().find(|l| l.id == sid) {
                l.state.records_before_complete -= early;
                l.live_delta -= all;
            }
            gone += u64::try_from(all).unwrap_or(0);
        }
        // The numbers `learned_number` took from that day's texts.
        tx.execute(
            "DELETE FROM customer_numbers cn USING
                (SELECT DISTINCT customer_id, recipient FROM notifications
                 WHERE sent_at >= $1 AND sent_at < $2 AND channel = $3
                   AND starts_with(recipient, '+')) g
             WHERE cn.customer_id = g.customer_id AND cn.number = g.recipient
               AND cn.last_sent_at < $4",
            &[&from, &to, &Channel::Sms.code(), &before],
        )
        .await?;
        tx.execute(
            "DELETE FROM notification_keys WHERE sent_at >= $1 AND sent_at < $2",
            &[&from, &to],
        )
        .await?;
        tx.execute("DELETE FROM source_minutes WHERE minute < $1", &[&before])
            .await?;
        save_sources(&tx, &sources).await?;
        tx.execute("SELECT countersign_drop_notification_day($1)", &[&day])
            .await?;
        tx.commit().await?;
        self.known_days().remove(&day);
        Ok(Some(gone))
    }

    /// One chunk of retention inside the day the cut falls in: at most 10,000 of the oldest
    /// records sent before `before`, with their keys, their sources' counters and the numbers
    /// last texted before the cut. How many went.
    async fn purge_chunk(&self, before: Millis) -> StoreResult<u64> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // One purge at a time across the nodes (each node's timer runs it): a second waits,
        // then finds the chunk gone.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PURGE_LOCK])
            .await?;
        let mut sources = lock_all_sources(&tx).await?;
        let stmt = tx
            .prepare_cached(
                "DELETE FROM notifications WHERE (sent_at, pk) IN
                    (SELECT sent_at, pk FROM notifications WHERE sent_at < $1 LIMIT 10000)
                 RETURNING customer_id, channel, recipient, source_id, sent_at, ext_id",
            )
            .await?;
        let gone = tx.query(&stmt, &[&before]).await?;
        if gone.is_empty() {
            return Ok(0);
        }
        let by_id: HashMap<i64, String> = sources
            .iter()
            .map(|(name, s)| (s.id, name.clone()))
            .collect();
        let mut forget: std::collections::BTreeSet<(String, String)> = Default::default();
        let mut keys: (Vec<i64>, Vec<String>) = Default::default();
        for r in &gone {
            let (customer, channel, recipient, sid, sent_at): (
                String,
                i64,
                Option<String>,
                i64,
                Millis,
            ) = (col(r, 0)?, col(r, 1)?, col(r, 2)?, col(r, 3)?, col(r, 4)?);
            keys.0.push(sid);
            keys.1.push(col(r, 5)?);
            if let Some(src) = by_id.get(&sid).and_then(|n| sources.get_mut(n)) {
                if src.state.before_complete(sent_at) {
                    src.state.records_before_complete -= 1;
                }
                src.live_delta -= 1;
            }
            let number =
                Channel::from_code(channel).and_then(|c| learned_number(c, recipient.as_deref()));
            if let Some(number) = number {
                forget.insert((customer, number.to_string()));
            }
        }
        tx.execute(
            "DELETE FROM notification_keys k USING UNNEST($1::bigint[], $2::text[]) AS q(sid, ext)
             WHERE k.source_id = q.sid AND k.ext_id = q.ext",
            &[&keys.0, &keys.1],
        )
        .await?;
        let (cs, ns): (Vec<String>, Vec<String>) = forget.into_iter().unzip();
        tx.execute(
            "DELETE FROM customer_numbers cn USING UNNEST($1::text[], $2::text[]) AS k(c, n)
             WHERE cn.customer_id = k.c AND cn.number = k.n AND cn.last_sent_at < $3",
            &[&cs, &ns, &before],
        )
        .await?;
        tx.execute("DELETE FROM source_minutes WHERE minute < $1", &[&before])
            .await?;
        save_sources(&tx, &sources).await?;
        tx.commit().await?;
        Ok(gone.len() as u64)
    }
}

/// Every source, locked first (the order ingest locks in) so that retention keeps the
/// counters exact.
async fn lock_all_sources(tx: &Transaction<'_>) -> StoreResult<BTreeMap<String, LockedSource>> {
    let all: Vec<String> = tx
        .query("SELECT name FROM sources", &[])
        .await?
        .iter()
        .map(|r| col(r, 0))
        .collect::<StoreResult<_>>()?;
    let names: Vec<&str> = all.iter().map(String::as_str).collect();
    lock_sources(tx, &names).await
}

async fn all_sources(c: &Object) -> StoreResult<Vec<SourceState>> {
    let stmt = c
        .prepare_cached(&format!("SELECT {SOURCE_COLS} FROM sources ORDER BY name"))
        .await?;
    c.query(&stmt, &[])
        .await?
        .iter()
        .map(|r| Ok(source_state(r)?.1))
        .collect()
}

async fn customer_rows(
    c: &Object,
    customer_id: &str,
    from: Millis,
    to: Millis,
    limit: usize,
) -> StoreResult<Vec<StoredNotification>> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {SELECT_COLS}
             WHERE n.customer_id = $1 AND n.sent_at >= $2 AND n.sent_at <= $3
             ORDER BY n.sent_at DESC, n.pk DESC LIMIT $4"
        ))
        .await?;
    c.query(&stmt, &[&customer_id, &from, &to, &(limit as i64)])
        .await?
        .iter()
        .map(stored)
        .collect()
}

#[async_trait]
impl LedgerStore for PgStore {
    async fn ingest(
        &self,
        batch: Vec<Notification>,
        acked_at: Millis,
    ) -> StoreResult<Vec<IngestOutcome>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        self.ensure_days(&batch, false).await?;
        let mut attempt = 0;
        loop {
            if let Some(outcomes) = self.ingest_tx(&batch, acked_at).await? {
                return Ok(outcomes);
            }
            // A day this node remembered was dropped by retention (here or on another node):
            // nothing of the batch was stored (its transaction rolled back); make the day again
            // and retry. Only a record sent before the retention cut meets this, and only while
            // a purge runs; a batch that keeps meeting it is refused (unacknowledged, so its
            // sender retries) rather than retried forever.
            if attempt == DAY_RETRIES {
                return Err(StoreError::Unavailable(
                    "postgres: no partition for a record's day (retention keeps dropping it); send the batch again".into(),
                ));
            }
            attempt += 1;
            tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
            self.ensure_days(&batch, true).await?;
        }
    }

    async fn update_status(&self, updates: Vec<StatusUpdate>) -> StoreResult<Vec<StatusOutcome>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let sid = tx
            .prepare_cached("SELECT id FROM sources WHERE name = $1")
            .await?;
        // A late, out-of-order update never overwrites a newer one.
        let update = tx
            .prepare_cached(
                "UPDATE notifications n SET status = $3, status_at = $4 FROM notification_keys k
                 WHERE k.source_id = $1 AND k.ext_id = $2 AND n.sent_at = k.sent_at
                   AND n.source_id = k.source_id AND n.ext_id = k.ext_id AND n.status_at <= $4",
            )
            .await?;
        let exists = tx
            .prepare_cached("SELECT 1 FROM notification_keys WHERE source_id = $1 AND ext_id = $2")
            .await?;
        let mut ids: HashMap<String, Option<i64>> = HashMap::new();
        let mut out = Vec::with_capacity(updates.len());
        for u in &updates {
            let id = match ids.get(&u.source) {
                Some(id) => *id,
                None => {
                    let id = match tx.query_opt(&sid, &[&u.source]).await? {
                        Some(r) => Some(col::<i64>(&r, 0)?),
                        None => None,
                    };
                    ids.insert(u.source.clone(), id);
                    id
                }
            };
            let Some(id) = id else {
                out.push(StatusOutcome::NotFound);
                continue;
            };
            let found = tx
                .execute(&update, &[&id, &u.id, &u.status.code(), &u.at])
                .await?
                == 1
                || tx.query_opt(&exists, &[&id, &u.id]).await?.is_some();
            out.push(if found {
                StatusOutcome::Updated
            } else {
                StatusOutcome::NotFound
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn set_watermark(
        &self,
        source: &str,
        watermark: Millis,
        complete_since: Option<Millis>,
        now: Millis,
    ) -> StoreResult<SourceState> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let mut sources = lock_sources(&tx, &[source]).await?;
        let Some(l) = sources.get_mut(source) else {
            return Err(StoreError::Unavailable(format!(
                "postgres: source {source:?} was not locked"
            )));
        };
        let s = &mut l.state;
        s.declared_watermark = Some(s.declared_watermark.map_or(watermark, |w| w.max(watermark)));
        s.watermark_updated_at = Some(now);
        if let Some(cs) = complete_since {
            // Completeness can only be extended backwards by an explicit declaration.
            let before = s.complete_since.or(s.first_acked_at);
            s.complete_since = Some(s.complete_since.map_or(cs, |v| v.min(cs)));
            if s.complete_since != before {
                let cut = s.complete_since.unwrap_or(cs);
                let r = tx
                    .query_one(
                        "SELECT COUNT(*) FROM notifications WHERE source_id = $1 AND sent_at < $2",
                        &[&l.id, &cut],
                    )
                    .await?;
                s.records_before_complete = col(&r, 0)?;
            }
        }
        let state = s.clone();
        save_sources(&tx, &sources).await?;
        tx.commit().await?;
        Ok(state)
    }

    async fn sources(&self) -> StoreResult<Vec<SourceState>> {
        all_sources(&self.client().await?).await
    }

    async fn source_activity(&self, since: Millis) -> StoreResult<Vec<SourceActivity>> {
        let minute = since.div_euclid(60_000) * 60_000;
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT s.name, m.records, m.lag, m.minute FROM source_minutes m
                 JOIN sources s ON s.id = m.source_id WHERE m.minute >= $1",
                &[&minute],
            )
            .await?;
        let mut out: BTreeMap<String, SourceActivity> = BTreeMap::new();
        for r in &rows {
            let name: String = col(r, 0)?;
            let records = count(r, 1)?;
            let a = out.entry(name.clone()).or_insert_with(|| SourceActivity {
                source: name,
                ..Default::default()
            });
            a.records += records;
            a.lag
                .merge(&LagHistogram::from_bytes(&col::<Vec<u8>>(r, 2)?));
            let at: Millis = col(r, 3)?;
            *a.per_hour
                .entry(at.div_euclid(3_600_000) * 3_600_000)
                .or_default() += records;
        }
        Ok(out.into_values().collect())
    }

    async fn customer_notifications(
        &self,
        customer_id: &str,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> StoreResult<Vec<StoredNotification>> {
        let c = self.client().await?;
        customer_rows(&c, customer_id, from, to, limit).await
    }

    async fn ledger_view(
        &self,
        customer_id: &str,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> StoreResult<LedgerView> {
        let c = self.client().await?;
        let known = c
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM customers WHERE customer_id = $1)
                     OR EXISTS (SELECT 1 FROM profiles WHERE customer_id = $1)",
            )
            .await?;
        // Three statements pipelined on one connection: one round trip's wait.
        let (candidates, known, sources) = tokio::try_join!(
            customer_rows(&c, customer_id, from, to, limit),
            async { Ok::<_, StoreError>(c.query_one(&known, &[&customer_id]).await?) },
            all_sources(&c),
        )?;
        Ok(LedgerView {
            customer_known: !candidates.is_empty() || col(&known, 0)?,
            candidates,
            sources,
        })
    }

    async fn purge(&self, before: Millis) -> StoreResult<u64> {
        // Whole days dropped, then the day the cut falls in deleted in bounded chunks: each its
        // own transaction, so that ingest flows between them.
        let mut deleted = 0;
        while let Some(n) = self.drop_day(before).await? {
            deleted += n;
        }
        loop {
            let n = self.purge_chunk(before).await?;
            deleted += n;
            if n == 0 {
                return Ok(deleted);
            }
        }
    }

    async fn sms_kinds_since(&self, since: Millis) -> StoreResult<Vec<(String, String)>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT COALESCE(template_id, category) AS kind, MAX(body COLLATE \"C\")
                 FROM notifications
                 WHERE sent_at >= $1 AND channel = $2 AND body IS NOT NULL
                   AND COALESCE(template_id, category) IS NOT NULL
                 GROUP BY kind",
                &[&since, &Channel::Sms.code()],
            )
            .await?;
        rows.iter().map(|r| Ok((col(r, 0)?, col(r, 1)?))).collect()
    }

    async fn sms_recipients_of_kind(
        &self,
        kind: &str,
        since: Millis,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT DISTINCT customer_id FROM notifications
                 WHERE sent_at >= $1 AND channel = $2 AND COALESCE(template_id, category) = $3
                 LIMIT $4",
                &[&since, &Channel::Sms.code(), &kind, &(limit as i64)],
            )
            .await?;
        rows.iter().map(|r| col(r, 0)).collect()
    }
}
