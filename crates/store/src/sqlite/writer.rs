//! The one writer thread and its group commit: every queued command is applied inside one
//! `BEGIN IMMEDIATE` transaction and one fsync, and each caller is answered only after the
//! commit. Ledger commands that touch the in-memory source state have their own variants;
//! everything else is a closure run in the transaction (`Cmd::Write`).

use super::*;

#[derive(Debug, Clone)]
pub(super) struct SourceRow {
    pub(super) id: i64,
    pub(super) state: SourceState,
}

/// State shared between the writer and readers: sources are few and read by every verification,
/// so they live in memory, updated by the writer right after each commit.
#[derive(Debug, Default, Clone)]
pub(super) struct Shared {
    pub(super) sources: BTreeMap<String, SourceRow>,
    pub(super) names: HashMap<i64, String>,
}

pub(super) type Reply<T> = oneshot::Sender<StoreResult<T>>;
/// Called once the group holding a write has committed (`Ok`) or failed (`Err`, the reason).
pub(super) type Done = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A write run inside the group's transaction; it answers with what to do once the group ends.
pub(super) type WriteFn = Box<dyn FnOnce(&Connection) -> rusqlite::Result<Done> + Send>;

pub(super) enum Cmd {
    Ingest {
        batch: Vec<Notification>,
        acked_at: Millis,
        reply: Reply<Vec<IngestOutcome>>,
    },
    Status {
        updates: Vec<StatusUpdate>,
        reply: Reply<Vec<StatusOutcome>>,
    },
    Watermark {
        source: String,
        watermark: Millis,
        complete_since: Option<Millis>,
        now: Millis,
        reply: Reply<SourceState>,
    },
    Delete {
        pks: Vec<i64>,
        minutes_before: Millis,
        reply: Reply<u64>,
    },
    /// Any other write, run inside the group's transaction; its closure answers the caller once
    /// the group has committed or failed (see [`Done`]).
    Write(WriteFn),
}

/// What one command will answer once the transaction commits.
pub(super) enum Pending {
    Ingest(Reply<Vec<IngestOutcome>>, Vec<IngestOutcome>),
    Status(Reply<Vec<StatusOutcome>>, Vec<StatusOutcome>),
    Watermark(Reply<SourceState>, String),
    Delete(Reply<u64>, u64),
    Done(Done),
}

impl Pending {
    fn fail(self, e: &str) {
        let err = || StoreError::Unavailable(e.to_string());
        match self {
            Pending::Ingest(r, _) => drop(r.send(Err(err()))),
            Pending::Status(r, _) => drop(r.send(Err(err()))),
            Pending::Watermark(r, _) => drop(r.send(Err(err()))),
            Pending::Delete(r, _) => drop(r.send(Err(err()))),
            Pending::Done(done) => done(Err(e.to_string())),
        }
    }
}

pub(super) fn writer_loop(
    conn: Connection,
    mut rx: Receiver<Cmd>,
    shared: Arc<RwLock<Shared>>,
    max: usize,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut cmds = vec![first];
        while cmds.len() < max {
            match rx.try_recv() {
                Ok(c) => cmds.push(c),
                Err(_) => break,
            }
        }
        if !commit_group(&conn, cmds, &shared, Bounds::Transaction) {
            return;
        }
    }
}

/// Where a group's writes begin and end: its own transaction (the writer thread), or a
/// savepoint inside the inline store's open transaction, committed later (`SqliteOptions::inline`).
#[derive(Clone, Copy)]
pub(super) enum Bounds {
    Transaction,
    Savepoint,
}

impl Bounds {
    fn sql(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Bounds::Transaction => ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"),
            Bounds::Savepoint => (
                "SAVEPOINT cmd",
                "RELEASE cmd",
                "ROLLBACK TO cmd; RELEASE cmd",
            ),
        }
    }
}

/// Apply `cmds` in one transaction (or savepoint), then answer each (done or failed); `false`
/// when the shared state is poisoned and the writer must stop.
pub(super) fn commit_group(
    conn: &Connection,
    cmds: Vec<Cmd>,
    shared: &RwLock<Shared>,
    bounds: Bounds,
) -> bool {
    let (begin, end, undo) = bounds.sql();
    let mut work = match shared.read() {
        Ok(s) => s.clone(),
        Err(_) => return false,
    };
    let mut pending = Vec::with_capacity(cmds.len());
    let result = (|| -> rusqlite::Result<()> {
        conn.execute_batch(begin)?;
        let mut live_delta = 0i64;
        let mut minutes: HashMap<(i64, i64), (u64, LagHistogram)> = HashMap::new();
        let mut touched: Vec<i64> = Vec::new();
        for cmd in cmds {
            pending.push(apply(
                conn,
                &mut work,
                cmd,
                &mut live_delta,
                &mut minutes,
                &mut touched,
            )?);
        }
        flush_minutes(conn, &minutes)?;
        touched.sort_unstable();
        touched.dedup();
        for id in touched {
            if let Some(name) = work.names.get(&id) {
                if let Some(row) = work.sources.get(name) {
                    save_source(conn, row)?;
                }
            }
        }
        if live_delta != 0 {
            conn.prepare_cached(
                "UPDATE meta SET value = value + ?1 WHERE key = 'notifications_live'",
            )?
            .execute([live_delta])?;
        }
        conn.execute_batch(end)
    })();
    match result {
        Ok(()) => {
            let states: HashMap<String, SourceState> = work
                .sources
                .iter()
                .map(|(k, v)| (k.clone(), v.state.clone()))
                .collect();
            if let Ok(mut s) = shared.write() {
                *s = work;
            }
            for p in pending {
                match p {
                    Pending::Ingest(r, o) => drop(r.send(Ok(o))),
                    Pending::Status(r, o) => drop(r.send(Ok(o))),
                    Pending::Watermark(r, name) => {
                        let st = states.get(&name).cloned().unwrap_or_default();
                        drop(r.send(Ok(st)))
                    }
                    Pending::Delete(r, n) => drop(r.send(Ok(n))),
                    Pending::Done(done) => done(Ok(())),
                }
            }
        }
        Err(e) => {
            if !conn.is_autocommit() {
                // Nothing of the group stays: a failed statement may leave its transaction
                // (or savepoint) open.
                let _ = conn.execute_batch(undo);
            }
            tracing::error!(error = %e, "ledger transaction failed; nothing in it was acknowledged");
            let msg = e.to_string();
            for p in pending {
                p.fail(&msg);
            }
        }
    }
    true
}

pub(super) fn source_id(tx: &Connection, work: &mut Shared, name: &str) -> rusqlite::Result<i64> {
    if let Some(row) = work.sources.get(name) {
        return Ok(row.id);
    }
    tx.prepare_cached("INSERT INTO sources (name) VALUES (?1)")?
        .execute([name])?;
    let id = tx.last_insert_rowid();
    work.names.insert(id, name.to_string());
    work.sources.insert(
        name.to_string(),
        SourceRow {
            id,
            state: SourceState {
                source: name.to_string(),
                ..Default::default()
            },
        },
    );
    Ok(id)
}

pub(super) fn save_source(tx: &Connection, row: &SourceRow) -> rusqlite::Result<()> {
    let s = &row.state;
    tx.prepare_cached(
        "UPDATE sources SET channels_mask = ?2, declared_watermark = ?3, watermark_updated_at = ?4,
            complete_since = ?5, first_acked_at = ?6, last_acked_at = ?7, last_sent_at = ?8, records_total = ?9,
            records_before_complete = ?10, first_sent_at = ?11
         WHERE id = ?1",
    )?
    .execute(params![
        row.id,
        s.channels_mask,
        s.declared_watermark,
        s.watermark_updated_at,
        s.complete_since,
        s.first_acked_at,
        s.last_acked_at,
        s.last_sent_at,
        s.records_total,
        s.records_before_complete,
        s.first_sent_at
    ])?;
    Ok(())
}

pub(super) fn flush_minutes(
    tx: &Connection,
    minutes: &HashMap<(i64, i64), (u64, LagHistogram)>,
) -> rusqlite::Result<()> {
    for ((source_id, minute), (records, lag)) in minutes {
        let existing: Option<(i64, Vec<u8>)> = tx
            .prepare_cached(
                "SELECT records, lag FROM source_minutes WHERE source_id = ?1 AND minute = ?2",
            )?
            .query_row([source_id, minute], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (mut total, mut hist) = match existing {
            Some((n, b)) => (n as u64, LagHistogram::from_bytes(&b)),
            None => (0, LagHistogram::default()),
        };
        total += records;
        hist.merge(lag);
        tx.prepare_cached("INSERT OR REPLACE INTO source_minutes (source_id, minute, records, lag) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![source_id, minute, total as i64, hist.to_bytes()])?;
    }
    Ok(())
}

pub(super) fn apply(
    tx: &Connection,
    work: &mut Shared,
    cmd: Cmd,
    live_delta: &mut i64,
    minutes: &mut HashMap<(i64, i64), (u64, LagHistogram)>,
    touched: &mut Vec<i64>,
) -> rusqlite::Result<Pending> {
    match cmd {
        Cmd::Ingest {
            batch,
            acked_at,
            reply,
        } => {
            let outcomes = ingest(tx, work, batch, acked_at, live_delta, minutes, touched)?;
            Ok(Pending::Ingest(reply, outcomes))
        }
        Cmd::Status { updates, reply } => Ok(Pending::Status(reply, status(tx, work, updates)?)),
        Cmd::Watermark {
            source,
            watermark,
            complete_since,
            now,
            reply,
        } => {
            let sid = source_id(tx, work, &source)?;
            set_watermark(tx, work, sid, &source, watermark, complete_since, now)?;
            touched.push(sid);
            Ok(Pending::Watermark(reply, source))
        }
        Cmd::Delete {
            pks,
            minutes_before,
            reply,
        } => {
            let n = delete(tx, work, touched, pks, minutes_before)?;
            *live_delta -= n as i64;
            Ok(Pending::Delete(reply, n))
        }
        Cmd::Write(f) => Ok(Pending::Done(f(tx)?)),
    }
}

/// Insert a batch (`ON CONFLICT DO NOTHING`; a conflict is told from a duplicate by content),
/// keeping the customer index, learned numbers, per-minute activity and source state.
fn ingest(
    tx: &Connection,
    work: &mut Shared,
    batch: Vec<Notification>,
    acked_at: Millis,
    live_delta: &mut i64,
    minutes: &mut HashMap<(i64, i64), (u64, LagHistogram)>,
    touched: &mut Vec<i64>,
) -> rusqlite::Result<Vec<IngestOutcome>> {
    let mut outcomes = Vec::with_capacity(batch.len());
    for n in batch {
        let sid = source_id(tx, work, &n.source)?;
        let inserted = tx
            .prepare_cached(
                "INSERT INTO notifications (source_id, ext_id, customer_id, channel, sender, recipient, sent_at,
                    acked_at, category, template_id, facts, body, body_mac, status, status_at, sent_day)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?7, ?15)
                 ON CONFLICT (source_id, ext_id) DO NOTHING",
            )?
            .execute(params![
                sid,
                n.id,
                n.customer_id,
                n.channel.code(),
                n.sender,
                n.recipient,
                n.sent_at,
                acked_at,
                n.category,
                n.template_id,
                facts_json(&n.facts),
                n.body,
                n.body_mac.as_ref().map(|m| m.as_slice()),
                n.status.code(),
                day_of(n.sent_at),
            ])?;
        if inserted == 1 {
            *live_delta += 1;
            // A no-op for a customer already known: no page is written.
            tx.prepare_cached(
                "INSERT OR IGNORE INTO customers (customer_id, first_sent_at) VALUES (?1, ?2)",
            )?
            .execute(params![n.customer_id, n.sent_at])?;
            if let Some(number) = learned_number(n.channel, n.recipient.as_deref()) {
                tx.prepare_cached(LEARN_NUMBER_SQL)?.execute(params![
                    n.customer_id,
                    number,
                    n.sent_at
                ])?;
            }
            touched.push(sid);
            let minute = acked_at.div_euclid(60_000) * 60_000;
            let m = minutes.entry((sid, minute)).or_default();
            m.0 += 1;
            m.1.record(acked_at - n.sent_at);
            if let Some(row) = work.sources.get_mut(&n.source) {
                row.state.record_accepted(n.channel, n.sent_at, acked_at);
            }
            outcomes.push(IngestOutcome::Accepted);
        } else {
            let existing = tx
                .prepare_cached(&format!(
                    "SELECT {SELECT_COLS} FROM notifications WHERE source_id = ?1 AND ext_id = ?2"
                ))?
                .query_row(params![sid, n.id], |r| row_to_stored(r, &work.names))?;
            outcomes.push(if existing.record.same_content(&n) {
                IngestOutcome::Duplicate
            } else {
                IngestOutcome::Conflict
            });
        }
    }
    Ok(outcomes)
}

/// Apply delivery-status updates; a late, older update never overwrites a newer one.
fn status(
    tx: &Connection,
    work: &Shared,
    updates: Vec<StatusUpdate>,
) -> rusqlite::Result<Vec<StatusOutcome>> {
    let mut outcomes = Vec::with_capacity(updates.len());
    for u in updates {
        let Some(sid) = work.sources.get(&u.source).map(|r| r.id) else {
            outcomes.push(StatusOutcome::NotFound);
            continue;
        };
        // A late, out-of-order update never overwrites a newer one.
        let n = tx
            .prepare_cached(
                "UPDATE notifications SET status = ?3, status_at = ?4
                 WHERE source_id = ?1 AND ext_id = ?2 AND status_at <= ?4",
            )?
            .execute(params![sid, u.id, u.status.code(), u.at])?;
        let found = n == 1
            || tx
                .prepare_cached("SELECT 1 FROM notifications WHERE source_id = ?1 AND ext_id = ?2")?
                .exists(params![sid, u.id])?;
        outcomes.push(if found {
            StatusOutcome::Updated
        } else {
            StatusOutcome::NotFound
        });
    }
    Ok(outcomes)
}

/// Move a source's watermark forward (never back) and extend its completeness backwards
/// (recounting the records kept from before it).
fn set_watermark(
    tx: &Connection,
    work: &mut Shared,
    sid: i64,
    source: &str,
    watermark: Millis,
    complete_since: Option<Millis>,
    now: Millis,
) -> rusqlite::Result<()> {
    if let Some(row) = work.sources.get_mut(source) {
        let s = &mut row.state;
        s.declared_watermark = Some(s.declared_watermark.map_or(watermark, |w| w.max(watermark)));
        s.watermark_updated_at = Some(now);
        if let Some(cs) = complete_since {
            // Completeness can only be extended backwards by an explicit declaration.
            let before = s.complete_since.or(s.first_acked_at);
            s.complete_since = Some(s.complete_since.map_or(cs, |v| v.min(cs)));
            if s.complete_since != before {
                let cut = s.complete_since.unwrap_or(cs);
                s.records_before_complete = tx
                    .prepare_cached(
                        "SELECT COUNT(*) FROM notifications
                         WHERE sent_day <= ?1 AND sent_at < ?2 AND source_id = ?3",
                    )?
                    .query_row(params![day_of(cut), cut, sid], |r| r.get(0))?;
            }
        }
    }
    Ok(())
}

/// Delete notifications by key (retention), forgetting learned numbers last texted before the
/// cut, and the per-minute activity before it.
fn delete(
    tx: &Connection,
    work: &mut Shared,
    touched: &mut Vec<i64>,
    pks: Vec<i64>,
    minutes_before: Millis,
) -> rusqlite::Result<u64> {
    let mut n = 0u64;
    {
        let mut stmt = tx.prepare_cached(
            "DELETE FROM notifications WHERE pk = ?1
             RETURNING customer_id, channel, recipient, source_id, sent_at",
        )?;
        let mut forget = tx.prepare_cached(
            "DELETE FROM customer_numbers WHERE customer_id = ?1 AND number = ?2 AND last_sent_at < ?3",
        )?;
        for pk in pks {
            let gone: Option<(String, i64, Option<String>, i64, Millis)> = stmt
                .query_row([pk], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()?;
            let Some((customer, channel, recipient, sid, sent_at)) = gone else {
                continue;
            };
            n += 1;
            if let Some(row) = work.sources.values_mut().find(|r| r.id == sid) {
                if row.state.before_complete(sent_at) {
                    row.state.records_before_complete -= 1;
                }
                touched.push(sid);
            }
            let number =
                Channel::from_code(channel).and_then(|c| learned_number(c, recipient.as_deref()));
            if let Some(number) = number {
                forget.execute(params![customer, number, minutes_before])?;
            }
        }
    }
    tx.prepare_cached("DELETE FROM source_minutes WHERE minute < ?1")?
        .execute([minutes_before])?;
    Ok(n)
}
