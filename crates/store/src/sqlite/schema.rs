//! The embedded schema: migrations as an ordered table of versions (`PRAGMA user_version`
//! counts how many ran; a newer database than the binary is refused), and the state readers
//! keep in memory loaded from it.

use super::*;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many have run.
/// Never edit a released migration: append a new one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the ledger.
    "CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        channels_mask INTEGER NOT NULL DEFAULT 0,
        declared_watermark INTEGER,
        watermark_updated_at INTEGER,
        complete_since INTEGER,
        first_acked_at INTEGER,
        last_acked_at INTEGER,
        last_sent_at INTEGER,
        records_total INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE notifications (
        pk INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL,
        ext_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        channel INTEGER NOT NULL,
        sender TEXT,
        recipient TEXT,
        sent_at INTEGER NOT NULL,
        acked_at INTEGER NOT NULL,
        category TEXT,
        template_id TEXT,
        facts TEXT,
        body TEXT,
        body_mac BLOB,
        status INTEGER NOT NULL,
        status_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX notifications_key ON notifications (source_id, ext_id);
    CREATE INDEX notifications_customer ON notifications (customer_id, sent_at);
    CREATE TABLE source_minutes (
        source_id INTEGER NOT NULL,
        minute INTEGER NOT NULL,
        records INTEGER NOT NULL,
        lag BLOB NOT NULL,
        PRIMARY KEY (source_id, minute)
    ) WITHOUT ROWID;
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        customer_id TEXT,
        detail TEXT
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('notifications_live', 0);",
    // 2: the sender-ID brand registry.
    "CREATE TABLE brands (
        name TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 3: the customer index leads with the day a notification was sent, so live ingest (random
    // customers, today's date) only touches today's region of the index instead of a random
    // page of all of it; customers get their own table for "is this customer known?".
    "ALTER TABLE notifications ADD COLUMN sent_day INTEGER NOT NULL DEFAULT 0;
    UPDATE notifications SET sent_day = (sent_at - ((sent_at % 86400000) + 86400000) % 86400000) / 86400000;
    CREATE INDEX notifications_day_customer ON notifications (sent_day, customer_id, sent_at);
    DROP INDEX notifications_customer;
    CREATE TABLE customers (customer_id TEXT PRIMARY KEY, first_sent_at INTEGER NOT NULL) WITHOUT ROWID;
    INSERT OR IGNORE INTO customers (customer_id, first_sent_at)
        SELECT customer_id, MIN(sent_at) FROM notifications GROUP BY customer_id;",
    // 4: customer profiles (numbers and e-mails on file, locale, app installed).
    "CREATE TABLE profiles (
        customer_id TEXT PRIMARY KEY,
        profile TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 5: inbound calls, account events and claim verdicts, for call scoring.
    "CREATE TABLE calls (
        call_id TEXT PRIMARY KEY,
        customer_id TEXT,
        ani TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        doc TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX calls_ani ON calls (ani, started_at);
    CREATE INDEX calls_customer ON calls (customer_id, started_at);
    CREATE TABLE account_events (
        id INTEGER PRIMARY KEY,
        customer_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX account_events_customer ON account_events (customer_id, at);
    CREATE TABLE claim_verdicts (
        id INTEGER PRIMARY KEY,
        call_id TEXT NOT NULL,
        verdict TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX claim_verdicts_at ON claim_verdicts (verdict, at);",
    // 6: velocities come from the in-memory window of recent calls, rebuilt at start from the
    // calls of the last days: index calls by start time, not by number or customer (two random
    // index writes per call that nothing reads any more).
    "DROP INDEX calls_ani;
    DROP INDEX calls_customer;
    CREATE INDEX calls_started ON calls (started_at);",
    // 7: the numbers the ledger has sent SMS to, per customer, with the last time: call scoring
    // reads a customer's learned numbers with one seek instead of one per day of notifications.
    "CREATE TABLE customer_numbers (
        customer_id TEXT NOT NULL,
        number TEXT NOT NULL,
        last_sent_at INTEGER NOT NULL,
        PRIMARY KEY (customer_id, number)
    ) WITHOUT ROWID;
    INSERT INTO customer_numbers (customer_id, number, last_sent_at)
        SELECT customer_id, recipient, MAX(sent_at) FROM notifications
        WHERE channel = 1 AND recipient LIKE '+%' GROUP BY customer_id, recipient;",
    // 8: smishing reports (clustered into campaigns in memory, replayed in id order at start),
    // campaign events (status changes, merges), customer alerts and the webhook outbox.
    "CREATE TABLE smish_reports (
        id INTEGER PRIMARY KEY,
        received_at INTEGER NOT NULL,
        customer_id TEXT,
        campaign_id INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX smish_reports_customer ON smish_reports (customer_id, received_at)
        WHERE customer_id IS NOT NULL;
    CREATE TABLE campaign_events (
        id INTEGER PRIMARY KEY,
        campaign_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT,
        at INTEGER NOT NULL
    );
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        dedupe_key TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        doc TEXT NOT NULL,
        read_at INTEGER,
        acked_at INTEGER,
        UNIQUE (customer_id, dedupe_key)
    );
    CREATE INDEX alerts_customer ON alerts (customer_id, created_at);
    CREATE TABLE outbox (
        alert_id TEXT PRIMARY KEY,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        delivered_at INTEGER,
        last_error TEXT
    );
    CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;",
    // 9: smishing reports' idempotency keys and the answer a retry gets again.
    "ALTER TABLE smish_reports ADD COLUMN idempotency_key TEXT;
    ALTER TABLE smish_reports ADD COLUMN answer TEXT;
    CREATE UNIQUE INDEX smish_reports_key ON smish_reports (idempotency_key)
        WHERE idempotency_key IS NOT NULL;",
    // 10: the feed set-up guard: records kept from before a source's record is complete, and
    // its earliest record (to say what `complete_since` a backfill could declare).
    "ALTER TABLE sources ADD COLUMN records_before_complete INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sources ADD COLUMN first_sent_at INTEGER;
    UPDATE sources SET
        first_sent_at = (SELECT MIN(n.sent_at) FROM notifications n WHERE n.source_id = sources.id),
        records_before_complete = (SELECT COUNT(*) FROM notifications n WHERE n.source_id = sources.id
            AND n.sent_at < COALESCE(sources.complete_since, sources.first_acked_at));",
    // 11: the console's sign-in links and browser sessions, by the hash of their secret.
    "CREATE TABLE console_links (
        token_hash TEXT PRIMARY KEY,
        person TEXT NOT NULL,
        role TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE console_sessions (
        id_hash TEXT PRIMARY KEY,
        person TEXT NOT NULL,
        role TEXT NOT NULL,
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 12: the analyst's latest alerts across customers.
    "CREATE INDEX alerts_created ON alerts (created_at);",
    // 13: customers' own checks of texts: what each found, never the text.
    "CREATE TABLE text_checks (
        id INTEGER PRIMARY KEY,
        customer_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        forged INTEGER NOT NULL,
        campaign_id INTEGER,
        indicators TEXT NOT NULL
    );
    CREATE INDEX text_checks_customer ON text_checks (customer_id, at) WHERE forged = 1;
    CREATE INDEX text_checks_campaign ON text_checks (campaign_id) WHERE campaign_id IS NOT NULL;",
    // 14: a smishing report filed from a check (one tap), and the MAC that ties it to the text.
    "ALTER TABLE text_checks ADD COLUMN text_mac BLOB;
    ALTER TABLE text_checks ADD COLUMN report_id INTEGER;",
    // 15: exercise runs' after-action reports (the console's exercise page).
    "CREATE TABLE exercise_reports (
        run TEXT PRIMARY KEY,
        started_at INTEGER NOT NULL,
        name TEXT NOT NULL,
        overall TEXT NOT NULL,
        doc TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX exercise_reports_started ON exercise_reports (started_at);",
    // 16: calls in a rowid table. A call's document runs to kilobytes, and a WITHOUT ROWID
    // table keeps whole rows in its key's b-tree — a few calls per leaf, the rest of each in
    // overflow pages — so a lookup by id walked leaves far beyond the page cache; the id's
    // index now holds ids alone (BENCHMARKS.md, the simulator).
    "CREATE TABLE calls_v16 (
        id INTEGER PRIMARY KEY,
        call_id TEXT NOT NULL UNIQUE,
        customer_id TEXT,
        ani TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    INSERT INTO calls_v16 (call_id, customer_id, ani, started_at, doc)
        SELECT call_id, customer_id, ani, started_at, doc FROM calls ORDER BY started_at;
    DROP TABLE calls;
    ALTER TABLE calls_v16 RENAME TO calls;
    CREATE INDEX calls_started ON calls (started_at);",
];

/// Days since the epoch (UTC) of a time: the leading key of the customer index.
pub fn day_of(t: Millis) -> i64 {
    t.div_euclid(86_400_000)
}

/// The schema version this build writes.
pub fn schema_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// Apply pending migrations. Returns `(version before, version after)`.
pub fn migrate(conn: &mut Connection) -> anyhow::Result<(u32, u32)> {
    migrate_to(conn, schema_version())
}

/// Apply the migrations up to `target` (tests build a database of an earlier version with it).
pub fn migrate_to(conn: &mut Connection, target: u32) -> anyhow::Result<(u32, u32)> {
    let before: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let target = target.min(schema_version());
    if before > schema_version() {
        anyhow::bail!(
            "the database is at schema version {before}, newer than this build of countersign understands ({target}); \
             upgrade countersign"
        );
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(before as usize)
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
        tx.commit()?;
    }
    Ok((before, target))
}

pub(super) fn load_shared(conn: &Connection) -> anyhow::Result<Shared> {
    let mut sh = Shared::default();
    let mut stmt = conn.prepare(
        "SELECT id, name, channels_mask, declared_watermark, watermark_updated_at, complete_since,
                first_acked_at, last_acked_at, last_sent_at, records_total, records_before_complete,
                first_sent_at FROM sources",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(SourceRow {
            id: r.get(0)?,
            state: SourceState {
                source: r.get(1)?,
                channels_mask: r.get(2)?,
                declared_watermark: r.get(3)?,
                watermark_updated_at: r.get(4)?,
                complete_since: r.get(5)?,
                first_acked_at: r.get(6)?,
                last_acked_at: r.get(7)?,
                last_sent_at: r.get(8)?,
                records_total: r.get(9)?,
                records_before_complete: r.get(10)?,
                first_sent_at: r.get(11)?,
                derived_cap: None,
            },
        })
    })?;
    for row in rows {
        let row = row?;
        sh.names.insert(row.id, row.state.source.clone());
        sh.sources.insert(row.state.source.clone(), row);
    }
    Ok(sh)
}
