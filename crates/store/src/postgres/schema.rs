//! The PostgreSQL schema: migrations as an ordered list of versions (the `countersign_schema`
//! row records how many have run; a newer database than the binary is refused), applied under
//! an advisory lock so that nodes starting together take turns.

use deadpool_postgres::Object;

/// Key of the session-level advisory lock migrations run under ("CSMIGRAT" in ASCII).
const MIGRATION_LOCK: i64 = 0x4353_4d49_4752_4154;

/// Schema migrations, applied in order, each in its own transaction. Never edit a released
/// migration: append a new one. Times are milliseconds since the epoch (`BIGINT`), documents
/// are the server's JSON as text (kept byte for byte).
pub const MIGRATIONS: &[&str] = &[
    // 1: everything the embedded store holds at its schema version 15, in one step.
    "CREATE TABLE sources (
        id BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        channels_mask BIGINT NOT NULL DEFAULT 0,
        declared_watermark BIGINT,
        watermark_updated_at BIGINT,
        complete_since BIGINT,
        first_acked_at BIGINT,
        last_acked_at BIGINT,
        last_sent_at BIGINT,
        records_total BIGINT NOT NULL DEFAULT 0,
        records_before_complete BIGINT NOT NULL DEFAULT 0,
        first_sent_at BIGINT,
        records_live BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE notifications (
        pk BIGSERIAL PRIMARY KEY,
        source_id BIGINT NOT NULL,
        ext_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        channel BIGINT NOT NULL,
        sender TEXT,
        recipient TEXT,
        sent_at BIGINT NOT NULL,
        acked_at BIGINT NOT NULL,
        category TEXT,
        template_id TEXT,
        facts TEXT,
        body TEXT,
        body_mac BYTEA,
        status BIGINT NOT NULL,
        status_at BIGINT NOT NULL,
        UNIQUE (source_id, ext_id)
    );
    CREATE INDEX notifications_customer ON notifications (customer_id, sent_at);
    CREATE INDEX notifications_sent ON notifications (sent_at);
    CREATE TABLE source_minutes (
        source_id BIGINT NOT NULL,
        minute BIGINT NOT NULL,
        records BIGINT NOT NULL,
        lag BYTEA NOT NULL,
        PRIMARY KEY (source_id, minute)
    );
    CREATE TABLE customers (customer_id TEXT PRIMARY KEY, first_sent_at BIGINT NOT NULL);
    CREATE TABLE customer_numbers (
        customer_id TEXT NOT NULL,
        number TEXT NOT NULL,
        last_sent_at BIGINT NOT NULL,
        PRIMARY KEY (customer_id, number)
    );
    CREATE TABLE audit_log (
        id BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        customer_id TEXT,
        detail TEXT
    );
    CREATE TABLE brands (name TEXT PRIMARY KEY, spec TEXT NOT NULL, updated_at BIGINT NOT NULL);
    CREATE TABLE profiles (
        customer_id TEXT PRIMARY KEY,
        profile TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE TABLE calls (
        call_id TEXT PRIMARY KEY,
        customer_id TEXT,
        ani TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX calls_started ON calls (started_at);
    -- The velocity signals read these on every call (nodes share no memory of recent calls).
    CREATE INDEX calls_ani ON calls (ani, started_at);
    CREATE INDEX calls_customer ON calls (customer_id, started_at);
    CREATE TABLE account_events (
        id BIGSERIAL PRIMARY KEY,
        customer_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        at BIGINT NOT NULL
    );
    CREATE INDEX account_events_customer ON account_events (customer_id, at);
    CREATE TABLE claim_verdicts (
        id BIGSERIAL PRIMARY KEY,
        call_id TEXT NOT NULL,
        verdict TEXT NOT NULL,
        at BIGINT NOT NULL
    );
    CREATE INDEX claim_verdicts_at ON claim_verdicts (verdict, at);
    CREATE INDEX claim_verdicts_call ON claim_verdicts (call_id);
    CREATE TABLE smish_reports (
        id BIGINT PRIMARY KEY,
        received_at BIGINT NOT NULL,
        customer_id TEXT,
        campaign_id BIGINT NOT NULL,
        doc TEXT NOT NULL,
        idempotency_key TEXT UNIQUE,
        answer TEXT
    );
    CREATE INDEX smish_reports_customer ON smish_reports (customer_id, received_at)
        WHERE customer_id IS NOT NULL;
    CREATE TABLE campaign_events (
        id BIGSERIAL PRIMARY KEY,
        campaign_id BIGINT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT,
        at BIGINT NOT NULL
    );
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        dedupe_key TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        doc TEXT NOT NULL,
        read_at BIGINT,
        acked_at BIGINT,
        UNIQUE (customer_id, dedupe_key)
    );
    CREATE INDEX alerts_customer ON alerts (customer_id, created_at);
    CREATE INDEX alerts_created ON alerts (created_at);
    CREATE TABLE outbox (
        alert_id TEXT PRIMARY KEY,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        delivered_at BIGINT,
        last_error TEXT
    );
    CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
    CREATE TABLE console_links (
        token_hash TEXT PRIMARY KEY,
        person TEXT NOT NULL,
        role TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE TABLE console_sessions (
        id_hash TEXT PRIMARY KEY,
        person TEXT NOT NULL,
        role TEXT NOT NULL,
        csrf_token TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL
    );
    CREATE TABLE text_checks (
        id BIGSERIAL PRIMARY KEY,
        customer_id TEXT NOT NULL,
        at BIGINT NOT NULL,
        verdict TEXT NOT NULL,
        forged BOOLEAN NOT NULL,
        campaign_id BIGINT,
        indicators TEXT NOT NULL,
        text_mac BYTEA,
        report_id BIGINT
    );
    CREATE INDEX text_checks_customer ON text_checks (customer_id, at) WHERE forged;
    CREATE INDEX text_checks_campaign ON text_checks (campaign_id) WHERE campaign_id IS NOT NULL;
    CREATE TABLE exercise_reports (
        run TEXT PRIMARY KEY,
        started_at BIGINT NOT NULL,
        name TEXT NOT NULL,
        overall TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX exercise_reports_started ON exercise_reports (started_at);
    -- The nodes sharing the database, as their heartbeats leave them (for /metrics).
    CREATE TABLE nodes (
        node TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL
    );",
    // 2: notifications partitioned by day (UTC) of `sent_at`, so that retention drops a day's
    // partition instead of deleting its rows. PostgreSQL's unique constraints on a partitioned
    // table must include the partition key, and a redelivered id must be told apart (duplicate or
    // conflict) whatever its `sent_at` says: the keys move to `notification_keys`, one narrow
    // row per record with the `sent_at` that finds its partition. Partitions are created on
    // demand by `countersign_notification_day` (serialized by an advisory lock, listed in
    // `notification_days`) and dropped by `countersign_drop_notification_day`.
    "ALTER TABLE notifications RENAME TO notifications_v1;
    ALTER INDEX notifications_customer RENAME TO notifications_v1_customer;
    ALTER INDEX notifications_sent RENAME TO notifications_v1_sent;
    CREATE SEQUENCE notification_pk;
    SELECT setval('notification_pk', COALESCE((SELECT MAX(pk) FROM notifications_v1), 0) + 1, false);
    -- The same columns in the same order (so `SELECT *` copies across), without the old key.
    CREATE TABLE notifications (LIKE notifications_v1) PARTITION BY RANGE (sent_at);
    ALTER TABLE notifications ALTER COLUMN pk SET DEFAULT nextval('notification_pk');
    ALTER SEQUENCE notification_pk OWNED BY notifications.pk;
    CREATE INDEX notifications_customer ON notifications (customer_id, sent_at);
    -- Retention's partial day, and a key's row found by its `sent_at`.
    CREATE INDEX notifications_sent ON notifications (sent_at, pk);
    CREATE TABLE notification_keys (
        source_id BIGINT NOT NULL,
        ext_id TEXT NOT NULL,
        sent_at BIGINT NOT NULL,
        PRIMARY KEY (source_id, ext_id)
    );
    CREATE INDEX notification_keys_sent ON notification_keys (sent_at);
    CREATE TABLE notification_days (day BIGINT PRIMARY KEY);
    CREATE FUNCTION countersign_notification_table(d BIGINT) RETURNS TEXT
    LANGUAGE sql STABLE AS $f$
        SELECT CASE WHEN d >= 0
            THEN 'notifications_' || to_char(to_timestamp(d * 86400) AT TIME ZONE 'UTC', 'YYYYMMDD')
            ELSE 'notifications_m' || (-d)::text END
    $f$;
    CREATE FUNCTION countersign_notification_day(d BIGINT) RETURNS VOID
    LANGUAGE plpgsql AS $f$
    BEGIN
        -- CSPARTNS: nodes creating the same day take turns; the second finds it made.
        PERFORM pg_advisory_xact_lock(4851309465092509267);
        IF EXISTS (SELECT 1 FROM notification_days WHERE day = d) THEN RETURN; END IF;
        EXECUTE format('CREATE TABLE %I PARTITION OF notifications FOR VALUES FROM (%s) TO (%s)',
            countersign_notification_table(d), d * 86400000, (d + 1) * 86400000);
        INSERT INTO notification_days (day) VALUES (d);
    END $f$;
    CREATE FUNCTION countersign_drop_notification_day(d BIGINT) RETURNS VOID
    LANGUAGE plpgsql AS $f$
    BEGIN
        EXECUTE format('DROP TABLE IF EXISTS %I', countersign_notification_table(d));
        DELETE FROM notification_days WHERE day = d;
    END $f$;
    SELECT countersign_notification_day(d)
        FROM (SELECT DISTINCT floor(sent_at / 86400000.0)::BIGINT AS d FROM notifications_v1) days;
    INSERT INTO notifications SELECT * FROM notifications_v1;
    INSERT INTO notification_keys (source_id, ext_id, sent_at)
        SELECT source_id, ext_id, sent_at FROM notifications_v1;
    DROP TABLE notifications_v1;",
    // 3: the claim verdicts counted by hour (UTC, `floor(at / 3600000)`), kept in the
    // transaction that adds or deletes a verdict: the surge's week is read as 168 counts and
    // two partial hours, not as every verdict of the week, for each call scored.
    // `countersign_verdict_hour` is the one definition of a verdict's hour.
    "CREATE FUNCTION countersign_verdict_hour(at BIGINT) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE AS $f$ SELECT floor(at / 3600000.0)::BIGINT $f$;
    CREATE TABLE claim_verdict_hours (
        verdict TEXT NOT NULL,
        hour BIGINT NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (verdict, hour)
    );
    INSERT INTO claim_verdict_hours (verdict, hour, n)
        SELECT verdict, countersign_verdict_hour(at), COUNT(*)
        FROM claim_verdicts GROUP BY 1, 2;",
];

/// Milliseconds in a notification partition's day.
pub const DAY_MS: i64 = 86_400_000;

/// The schema version this build writes.
pub fn schema_version() -> u32 {
    MIGRATIONS.len() as u32
}

async fn current(client: &Object) -> anyhow::Result<u32> {
    let exists: bool = client
        .query_one("SELECT to_regclass('countersign_schema') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    let v: i32 = client
        .query_one("SELECT version FROM countersign_schema", &[])
        .await?
        .try_get(0)?;
    Ok(u32::try_from(v).unwrap_or(0))
}

fn newer(before: u32, target: u32) -> anyhow::Error {
    anyhow::anyhow!(
        "the database is at schema version {before}, newer than this build of countersign understands ({target}); upgrade countersign"
    )
}

/// Refuse a database whose schema this build does not match (a node started with
/// `migrate = false` before `countersign migrate` ran, or after a newer one did).
pub async fn check_version(client: &Object) -> anyhow::Result<()> {
    let (v, target) = (current(client).await?, schema_version());
    if v > target {
        return Err(newer(v, target));
    }
    if v < target {
        anyhow::bail!(
            "the database is at schema version {v}, this build needs {target}: run `countersign migrate`"
        );
    }
    Ok(())
}

/// Apply pending migrations under the migration lock. Returns `(version before, version after)`.
pub async fn migrate(client: &mut Object) -> anyhow::Result<(u32, u32)> {
    migrate_to(client, schema_version()).await
}

/// Apply the migrations up to `target` (tests build each earlier version this way).
pub async fn migrate_to(client: &mut Object, target: u32) -> anyhow::Result<(u32, u32)> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = migrate_locked(client, target).await;
    // Released whatever happened (a session lock outlives a failed transaction).
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    result
}

async fn migrate_locked(client: &mut Object, target: u32) -> anyhow::Result<(u32, u32)> {
    let exists: bool = client
        .query_one("SELECT to_regclass('countersign_schema') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    if !exists {
        client
            .batch_execute(
                "CREATE TABLE countersign_schema (version INT NOT NULL);
                 INSERT INTO countersign_schema (version) VALUES (0);",
            )
            .await?;
    }
    let before = current(client).await?;
    if before > schema_version() {
        return Err(newer(before, schema_version()));
    }
    let target = target.max(before);
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(before as usize)
    {
        let tx = client.transaction().await?;
        tx.batch_execute(sql)
            .await
            .map_err(|e| anyhow::anyhow!("migration {}: {e}", i + 1))?;
        tx.execute(
            "UPDATE countersign_schema SET version = $1",
            &[&((i + 1) as i32)],
        )
        .await?;
        tx.commit().await?;
    }
    if before > 0 && target > before {
        // A migration that moved rows left tables the planner knows nothing about: without
        // statistics it picks bitmap scans for point lookups, several times slower, until
        // autovacuum gets to them (or never, where it is off).
        client.batch_execute("ANALYZE").await?;
    }
    Ok((before, target))
}

/// Warn when autovacuum is off: the planner's statistics then go stale as tables grow (or never
/// exist for new day partitions), and verification and call scoring slow down several-fold
/// (measured: scoring 2,276/s before an `ANALYZE`, 2,769/s after, same data).
pub async fn warn_if_autovacuum_off(client: &Object) {
    if let Ok(row) = client.query_one("SHOW autovacuum", &[]).await {
        if row.try_get::<_, String>(0).is_ok_and(|v| v == "off") {
            tracing::warn!(
                "PostgreSQL's autovacuum is off: table statistics will go stale and reads slow \
                 down; turn it on (the default) or run ANALYZE regularly"
            );
        }
    }
}
