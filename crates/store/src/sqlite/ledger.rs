//! The ledger group on SQLite: notifications, sources, per-minute activity, the customer index
//! and learned numbers, purge.

use super::*;

pub(super) const SELECT_COLS: &str =
    "source_id, ext_id, customer_id, channel, sender, recipient, sent_at, acked_at, category, \
     template_id, facts, body, body_mac, status, status_at";

pub(super) fn row_to_stored(
    r: &Row<'_>,
    names: &HashMap<i64, String>,
) -> rusqlite::Result<StoredNotification> {
    let source_id: i64 = r.get(0)?;
    let channel: i64 = r.get(3)?;
    let facts: Option<String> = r.get(10)?;
    let mac: Option<Vec<u8>> = r.get(12)?;
    let status: i64 = r.get(13)?;
    let bad = |what: &str| {
        rusqlite::Error::InvalidColumnType(0, what.to_string(), rusqlite::types::Type::Integer)
    };
    let body_mac = match mac {
        Some(b) if b.len() == BODY_MAC_LEN => {
            let mut a = [0u8; BODY_MAC_LEN];
            a.copy_from_slice(&b);
            Some(a)
        }
        _ => None,
    };
    Ok(StoredNotification {
        record: Notification {
            source: names
                .get(&source_id)
                .cloned()
                .unwrap_or_else(|| format!("#{source_id}")),
            id: r.get(1)?,
            customer_id: r.get(2)?,
            channel: Channel::from_code(channel).ok_or_else(|| bad("channel"))?,
            sender: r.get(4)?,
            recipient: r.get(5)?,
            sent_at: r.get(6)?,
            category: r.get(8)?,
            template_id: r.get(9)?,
            facts: match facts {
                Some(s) => serde_json::from_str(&s).map_err(|_| bad("facts"))?,
                None => Facts::default(),
            },
            body: r.get(11)?,
            body_mac,
            status: DeliveryStatus::from_code(status).ok_or_else(|| bad("status"))?,
        },
        acked_at: r.get(7)?,
        status_at: r.get(14)?,
    })
}

/// The first and last day that hold any notification. Two statements: SQLite answers a lone
/// MIN() or MAX() from the index in O(log n), but not both in one query.
pub(super) fn day_span(conn: &Connection) -> rusqlite::Result<Option<(i64, i64)>> {
    let lo: Option<i64> = conn
        .prepare_cached("SELECT MIN(sent_day) FROM notifications")?
        .query_row([], |r| r.get(0))?;
    let hi: Option<i64> = conn
        .prepare_cached("SELECT MAX(sent_day) FROM notifications")?
        .query_row([], |r| r.get(0))?;
    Ok(lo.zip(hi))
}

/// Record that the ledger texted a customer's number. The last-sent time moves only by more than
/// a day, so the day's further texts to one number cost a page read, not a page write (the
/// learned window is counted in days; purge may forget a number up to a day before its last text
/// leaves retention).
pub const LEARN_NUMBER_SQL: &str =
    "INSERT INTO customer_numbers (customer_id, number, last_sent_at)
    VALUES (?1, ?2, ?3)
    ON CONFLICT DO UPDATE SET last_sent_at = excluded.last_sent_at
    WHERE excluded.last_sent_at > last_sent_at + 86400000";

/// Distinct numbers the ledger last sent SMS to within `[from, to]`, most recent first, at most
/// `limit`: one seek in `customer_numbers`.
pub(super) fn sms_recipient_rows(
    conn: &Connection,
    customer_id: &str,
    from: Millis,
    to: Millis,
    limit: usize,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT number FROM customer_numbers
         WHERE customer_id = ?1 AND last_sent_at >= ?2 AND last_sent_at <= ?3
         ORDER BY last_sent_at DESC LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![customer_id, from, to, limit as i64], |r| r.get(0))?;
    rows.collect()
}

pub(super) fn customer_rows(
    conn: &Connection,
    names: &HashMap<i64, String>,
    customer_id: &str,
    from: Millis,
    to: Millis,
    limit: usize,
) -> rusqlite::Result<Vec<StoredNotification>> {
    // One index seek per day, newest day first, within the days that hold any data.
    let Some((lo, hi)) = day_span(conn)? else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SELECT_COLS} FROM notifications
         WHERE sent_day = ?1 AND customer_id = ?2 AND sent_at >= ?3 AND sent_at <= ?4
         ORDER BY sent_at DESC LIMIT ?5"
    ))?;
    let mut out = Vec::new();
    let mut day = day_of(to).min(hi);
    let first = day_of(from).max(lo);
    while day >= first && out.len() < limit {
        let rows = stmt.query_map(
            params![day, customer_id, from, to, (limit - out.len()) as i64],
            |r| row_to_stored(r, names),
        )?;
        for r in rows {
            out.push(r?);
        }
        day -= 1;
    }
    Ok(out)
}

#[async_trait]
impl LedgerStore for SqliteStore {
    async fn ingest(
        &self,
        batch: Vec<Notification>,
        acked_at: Millis,
    ) -> StoreResult<Vec<IngestOutcome>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        self.call(|reply| Cmd::Ingest {
            batch,
            acked_at,
            reply,
        })
        .await
    }

    async fn update_status(&self, updates: Vec<StatusUpdate>) -> StoreResult<Vec<StatusOutcome>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        self.call(|reply| Cmd::Status { updates, reply }).await
    }

    async fn set_watermark(
        &self,
        source: &str,
        watermark: Millis,
        complete_since: Option<Millis>,
        now: Millis,
    ) -> StoreResult<SourceState> {
        let source = source.to_string();
        self.call(|reply| Cmd::Watermark {
            source,
            watermark,
            complete_since,
            now,
            reply,
        })
        .await
    }

    async fn sources(&self) -> StoreResult<Vec<SourceState>> {
        let sh = self
            .shared
            .read()
            .map_err(|_| StoreError::Unavailable("poisoned lock".into()))?;
        Ok(sh.sources.values().map(|r| r.state.clone()).collect())
    }

    async fn source_activity(&self, since: Millis) -> StoreResult<Vec<SourceActivity>> {
        let minute = since.div_euclid(60_000) * 60_000;
        self.read(move |conn, sh| {
            let mut out: BTreeMap<String, SourceActivity> = BTreeMap::new();
            let mut stmt = conn.prepare_cached(
                "SELECT source_id, records, lag, minute FROM source_minutes WHERE minute >= ?1",
            )?;
            let mut rows = stmt.query([minute])?;
            while let Some(r) = rows.next()? {
                let sid: i64 = r.get(0)?;
                let records: i64 = r.get(1)?;
                let lag: Vec<u8> = r.get(2)?;
                let name = sh
                    .names
                    .get(&sid)
                    .cloned()
                    .unwrap_or_else(|| format!("#{sid}"));
                let a = out.entry(name.clone()).or_insert_with(|| SourceActivity {
                    source: name,
                    ..Default::default()
                });
                a.records += records as u64;
                a.lag.merge(&LagHistogram::from_bytes(&lag));
                let at: Millis = r.get(3)?;
                *a.per_hour
                    .entry(at.div_euclid(3_600_000) * 3_600_000)
                    .or_default() += records as u64;
            }
            Ok(out.into_values().collect())
        })
        .await
    }

    async fn customer_notifications(
        &self,
        customer_id: &str,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> StoreResult<Vec<StoredNotification>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn, sh| customer_rows(conn, &sh.names, &customer_id, from, to, limit))
            .await
    }

    async fn ledger_view(
        &self,
        customer_id: &str,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> StoreResult<LedgerView> {
        let customer_id = customer_id.to_string();
        self.read(move |conn, sh| {
            let candidates = customer_rows(conn, &sh.names, &customer_id, from, to, limit)?;
            let customer_known = !candidates.is_empty()
                || conn
                    .prepare_cached("SELECT 1 FROM customers WHERE customer_id = ?1")?
                    .exists([&customer_id])?
                || conn
                    .prepare_cached("SELECT 1 FROM profiles WHERE customer_id = ?1")?
                    .exists([&customer_id])?;
            Ok(LedgerView {
                customer_known,
                candidates,
                sources: sh.sources.values().map(|r| r.state.clone()).collect(),
            })
        })
        .await
    }

    async fn purge(&self, before: Millis) -> StoreResult<u64> {
        // Find old rows through the day-leading index on a reader, delete them in bounded
        // chunks through the writer so that ingest keeps flowing between chunks.
        let mut deleted = 0u64;
        let last_day = day_of(before);
        loop {
            let pks = self
                .read(move |conn, _| {
                    let mut stmt = conn.prepare_cached(
                        "SELECT pk FROM notifications WHERE sent_day <= ?1 AND sent_at < ?2 LIMIT 10000",
                    )?;
                    let rows = stmt.query_map(params![last_day, before], |r| r.get::<_, i64>(0))?;
                    rows.collect::<rusqlite::Result<Vec<i64>>>()
                })
                .await?;
            if pks.is_empty() {
                break;
            }
            let n = self
                .call(|reply| Cmd::Delete {
                    pks,
                    minutes_before: before,
                    reply,
                })
                .await?;
            deleted += n;
            if n == 0 {
                break;
            }
        }
        Ok(deleted)
    }

    async fn sms_kinds_since(&self, since: Millis) -> StoreResult<Vec<(String, String)>> {
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT COALESCE(template_id, category) AS kind, MAX(body) FROM notifications
                 WHERE sent_day >= ?1 AND sent_at >= ?2 AND channel = ?3 AND body IS NOT NULL
                   AND COALESCE(template_id, category) IS NOT NULL
                 GROUP BY kind",
            )?;
            let rows = stmt.query_map(params![day_of(since), since, Channel::Sms.code()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect()
        })
        .await
    }

    async fn sms_recipients_of_kind(
        &self,
        kind: &str,
        since: Millis,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let kind = kind.to_string();
        self.read(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT customer_id FROM notifications
                 WHERE sent_day >= ?1 AND sent_at >= ?2 AND channel = ?3
                   AND COALESCE(template_id, category) = ?4
                 LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![
                    day_of(since),
                    since,
                    Channel::Sms.code(),
                    kind,
                    limit as i64
                ],
                |r| r.get(0),
            )?;
            rows.collect()
        })
        .await
    }
}
