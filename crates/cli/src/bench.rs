//! `countersign bench`: benchmarks that drive the real server over loopback HTTP and the bare
//! storage engine, with the ledger preloaded, and print the figures BENCHMARKS.md records.
//! Timings are reported, never asserted: machines are shared and noisy, so compare ratios
//! within one run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use countersign_core::validate::{format_time, BodyRetention};
use countersign_core::{Channel, DeliveryStatus, Facts, Millis, Money, Notification};
use countersign_server::auth::{hash_key, ApiKeyConfig, Scope};
use countersign_server::config::ServerConfig;
use countersign_server::{now_ms, AppState};
use countersign_store::prelude::*;
use countersign_store::sqlite::{SqliteOptions, SqliteStore, DB_FILE};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// The preloaded history spans 30 days.
pub(crate) const HISTORY_MS: Millis = 30 * 86_400_000;
pub(crate) const BENCH_KEY: &str = "cs_bench_key_not_secret";
const MERCHANTS: &[&str] = &[
    "BESTBUY #1123",
    "SHELL OIL 57442",
    "AMAZON MKTPLACE",
    "TARGET T-1887",
    "UBER TRIP",
];

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Data directory for the benchmark ledger (reused between runs so the preload is paid once).
    #[arg(long, default_value = "bench-data")]
    pub data_dir: PathBuf,
    /// Notifications stored before measuring.
    #[arg(long, default_value_t = 10_000_000)]
    pub preload: usize,
    /// Distinct customers in the ledger.
    #[arg(long, default_value_t = 1_000_000)]
    pub customers: usize,
    /// Notifications ingested over HTTP in the measured run.
    #[arg(long, default_value_t = 1_000_000)]
    pub ingest: usize,
    /// Records per ingest request (NDJSON).
    #[arg(long, default_value_t = 10_000)]
    pub batch: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Verifications over HTTP in the measured run.
    #[arg(long, default_value_t = 50_000)]
    pub verifications: usize,
    /// Ingest→verify round trips for the "verifiable after ack" figure.
    #[arg(long, default_value_t = 1_000)]
    pub visibility: usize,
    /// Records for the on-disk size figure (facts_only, fresh directory).
    #[arg(long, default_value_t = 1_000_000)]
    pub size_records: usize,
    /// SQLite page size for a new benchmark ledger.
    #[arg(long, default_value_t = SqliteOptions::default().page_size)]
    pub page_size: u32,
    /// Memory-map up to this many MiB of the database in each reader (0: off).
    #[arg(long, default_value_t = SqliteOptions::default().reader_mmap_mib)]
    pub reader_mmap_mib: i64,
    /// WAL pages between checkpoints.
    #[arg(long, default_value_t = SqliteOptions::default().wal_autocheckpoint_pages)]
    pub wal_autocheckpoint: u32,
    /// SMS verdicts over HTTP in the measured run (batches of 1,000; 1,000 brands, 5,000 IDs).
    #[arg(long, default_value_t = 500_000)]
    pub sms: usize,
    /// Calls stored before measuring call scoring.
    #[arg(long, default_value_t = 1_000_000)]
    pub calls_preload: usize,
    /// Calls scored over HTTP in the measured run.
    #[arg(long, default_value_t = 30_000)]
    pub calls: usize,
    /// Clients in all for the scale phase (comma-separated): one node against two at each, and
    /// at the end each configuration's best rate over all of them (its capacity). Below
    /// capacity the figure is what each call costs; at capacity, what the hardware scores.
    #[arg(long, default_value = "8,32,128", value_delimiter = ',')]
    pub scale_clients: Vec<usize>,
    /// Smishing reports clustered in process (and stored before the HTTP run).
    #[arg(long, default_value_t = 1_000_000)]
    pub reports_preload: usize,
    /// Smishing reports over HTTP in the measured run.
    #[arg(long, default_value_t = 30_000)]
    pub reports: usize,
    /// The store to measure: `sqlite` (the embedded default, in --data-dir) or `postgres`
    /// (--database-url; parts preload, ingest, verify, calls and scale).
    #[arg(long, default_value = "sqlite")]
    pub store: String,
    /// PostgreSQL to measure with `--store postgres` (a database of its own: the benchmark
    /// writes millions of rows).
    #[arg(long, env = "COUNTERSIGN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Only these parts: any of preload, ingest, verify, visibility, size, sms, calls, stir,
    /// reports, console, checks, kafka (not by default: Kafka → ledger through librdkafka's mock cluster)
    /// — and scale, on PostgreSQL (comma-separated).
    #[arg(
        long,
        default_value = "preload,ingest,verify,visibility,size,sms,calls,stir,reports,console,checks"
    )]
    pub only: String,
}

pub(crate) fn opts(a: &BenchArgs) -> SqliteOptions {
    SqliteOptions {
        page_size: a.page_size,
        wal_autocheckpoint_pages: a.wal_autocheckpoint,
        reader_mmap_mib: a.reader_mmap_mib,
        ..SqliteOptions::default()
    }
}

pub(crate) fn customer(i: usize) -> String {
    format!("cust-{i:07}")
}

/// A realistic card-authorisation SMS, already validated (the preload skips HTTP), sent up to
/// `spread_ms` before `now` (30 days for the history, a minute for live traffic).
pub(crate) fn notification(
    tag: &str,
    i: usize,
    customers: usize,
    now: Millis,
    spread_ms: Millis,
    rng: &mut fastrand::Rng,
) -> Notification {
    let minor = rng.i64(100..100_000);
    let merchant = MERCHANTS[rng.usize(0..MERCHANTS.len())];
    let card = format!("{:04}", rng.u32(0..10_000));
    let c = rng.usize(0..customers);
    // A customer's texts go to their phone, one in twenty to a second number (a partner's, a
    // new phone): the few numbers a bank has on file, not a new number per text.
    let area = if rng.u8(0..20) == 0 { 628 } else { 415 };
    Notification {
        source: "bench-cards".into(),
        id: format!("{tag}-{i}"),
        customer_id: customer(c),
        channel: Channel::Sms,
        sender: Some("ACMEBANK".into()),
        recipient: Some(format!("+1{area}{:07}", c % 10_000_000)),
        sent_at: now - rng.i64(0..spread_ms.max(1)),
        category: Some("card_auth".into()),
        template_id: Some("card-auth-v3".into()),
        facts: Facts {
            amount: Some(Money {
                minor,
                currency: Some("USD".into()),
            }),
            merchant: Some(merchant.into()),
            card_last4: Some(card.clone()),
            ..Default::default()
        },
        body: Some(format!(
            "ACME Bank: Did you authorise ${}.{:02} at {merchant} on card ending {card}? Reply Y or N.",
            minor / 100,
            minor % 100
        )),
        body_mac: Some([0u8; 16]),
        status: DeliveryStatus::Sent,
    }
}

/// The same record as a producer sends it over HTTP.
pub(crate) fn wire(n: &Notification) -> String {
    json!({"source": n.source, "id": n.id, "customer_id": n.customer_id, "channel": "sms",
        "sender": n.sender, "recipient": n.recipient, "sent_at": format_time(n.sent_at),
        "category": n.category, "template_id": n.template_id, "body": n.body})
    .to_string()
}

pub(crate) fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{what} {{wide_bar}} {{pos}}/{{len}} {{per_sec}} eta {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

pub(crate) struct Running {
    pub(crate) base: String,
    pub(crate) store: Arc<dyn Store>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// The benchmark server's configuration: one admin key, no per-key budget.
pub(crate) fn bench_config(dir: &Path, retention: BodyRetention) -> ServerConfig {
    ServerConfig {
        data_dir: dir.to_path_buf(),
        retention_days: 3650,
        body_retention: retention,
        api_keys: vec![ApiKeyConfig {
            name: "bench".into(),
            sha256: hash_key(BENCH_KEY),
            scopes: vec![Scope::Admin],
        }],
        // The benchmark drives one key as fast as the server answers: no per-key budget.
        limits: countersign_server::config::Limits {
            rate_ingest_per_sec: 0,
            rate_agent_per_sec: 0,
            rate_sms_per_sec: 0,
            rate_admin_per_sec: 0,
            ..Default::default()
        },
        ..ServerConfig::default()
    }
}

pub(crate) async fn start(
    dir: &Path,
    retention: BodyRetention,
    opts: SqliteOptions,
) -> anyhow::Result<Running> {
    let store = Arc::new(SqliteStore::open(dir, opts)?);
    serve_on(store, &bench_config(dir, retention)).await
}

/// Serve `store` on a free loopback port, in this process, once it is ready.
pub(crate) async fn serve_on(
    store: Arc<dyn Store>,
    config: &ServerConfig,
) -> anyhow::Result<Running> {
    let state = Arc::new(AppState::new(config, store.clone(), vec![7u8; 32])?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(countersign_server::serve(listener, state, None, async {
        let _ = rx.await;
    }));
    // The server loads its in-memory windows (recent calls, claims) before it answers: wait for
    // that here so start-up is not counted in the measured run.
    let ready = format!("{base}/readyz");
    let t0 = Instant::now();
    tokio::task::spawn_blocking(move || {
        ureq::get(&ready)
            .timeout(Duration::from_secs(600))
            .call()
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("server did not get ready: {e}"))
    })
    .await??;
    eprintln!("server ready in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(Running {
        base,
        store,
        stop,
        task,
    })
}

impl Running {
    pub(crate) async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await??;
        self.store.close();
        Ok(())
    }
}

pub(crate) fn post(
    agent: &ureq::Agent,
    url: &str,
    ctype: &str,
    body: &str,
) -> anyhow::Result<serde_json::Value> {
    Ok(agent
        .post(url)
        .set("authorization", &format!("Bearer {BENCH_KEY}"))
        .set("content-type", ctype)
        .send_string(body)?
        .into_json()?)
}

pub(crate) fn quantiles(h: &Histogram<u64>) -> String {
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms (n={})",
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.value_at_quantile(0.999) as f64 / 1000.0,
        h.max() as f64 / 1000.0,
        h.len()
    )
}

pub(crate) fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant, valid histogram bounds")
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.store.as_str() {
        "sqlite" => {}
        "postgres" => {
            let url = args
                .database_url
                .clone()
                .context("--store postgres needs --database-url (or COUNTERSIGN_DATABASE_URL)")?;
            return crate::bench_pg::run(&args, &url);
        }
        other => anyhow::bail!("--store {other:?}: expected sqlite or postgres"),
    }
    let parts: Vec<&str> = args.only.split(',').map(str::trim).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "machine: {} logical CPUs; countersign {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        env!("CARGO_PKG_VERSION")
    );
    let now = now_ms();
    std::fs::create_dir_all(&args.data_dir)?;
    let main_dir = args.data_dir.join("ledger");

    if parts.contains(&"preload") {
        rt.block_on(preload(&main_dir, &args, now))?;
    }
    if parts.contains(&"ingest") {
        rt.block_on(ingest_http(&main_dir, &args, now))?;
    }
    if parts.contains(&"verify") {
        rt.block_on(async {
            let running = start(&main_dir, BodyRetention::Full, opts(&args)).await?;
            verify_http(running, &args, now).await
        })?;
    }
    if parts.contains(&"visibility") {
        rt.block_on(visibility(&main_dir, &args))?;
    }
    if parts.contains(&"sms") {
        rt.block_on(sms_http(&args.data_dir.join("sms"), &args))?;
    }
    if parts.contains(&"calls") {
        rt.block_on(calls_http(&main_dir, &args, now))?;
    }
    if parts.contains(&"stir") {
        rt.block_on(crate::bench_stir::stir_http(&main_dir, &args, now))?;
    }
    if parts.contains(&"reports") {
        rt.block_on(crate::bench_reports::over_http(
            &args.data_dir.join("reports"),
            &args,
            now,
        ))?;
    }
    if parts.contains(&"console") {
        // On the preloaded ledger: the call screen's figure is taken with 10M+ stored.
        rt.block_on(crate::bench_console::console_http(&main_dir, &args, now))?;
    }
    if parts.contains(&"checks") {
        rt.block_on(crate::bench_console::checks_http(&main_dir, &args, now))?;
    }
    if parts.contains(&"kafka") {
        #[cfg(feature = "kafka")]
        rt.block_on(crate::bench_kafka::kafka(
            &args.data_dir.join("kafka"),
            &args,
            now,
        ))?;
        #[cfg(not(feature = "kafka"))]
        anyhow::bail!("--only kafka: this build has no Kafka support");
    }
    if parts.contains(&"size") {
        rt.block_on(size(&args.data_dir.join("size"), &args, now))?;
    }
    Ok(())
}

async fn preload(dir: &Path, args: &BenchArgs, now: Millis) -> anyhow::Result<()> {
    let store = SqliteStore::open(dir, opts(args))?;
    let have = store.stats().await?.notifications as usize;
    if have >= args.preload {
        println!(
            "preload: {have} notifications already stored in {}",
            dir.display()
        );
        store.close();
        return Ok(());
    }
    let pb = bar((args.preload - have) as u64, "preload");
    let started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(have as u64);
    let mut i = have;
    while i < args.preload {
        let n = 20_000.min(args.preload - i);
        let batch: Vec<Notification> = (i..i + n)
            .map(|k| notification("pre", k, args.customers, now, HISTORY_MS, &mut rng))
            .collect();
        store.ingest(batch, now).await?;
        i += n;
        pb.inc(n as u64);
    }
    pb.finish_and_clear();
    store
        .set_watermark("bench-cards", now, Some(now - 40 * 86_400_000), now)
        .await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "preload: {} notifications stored through the store API in {secs:.0} s ({:.0}/s); {} in the ledger",
        args.preload - have,
        (args.preload - have) as f64 / secs,
        store.stats().await?.notifications
    );
    store.close();
    Ok(())
}

async fn ingest_http(dir: &Path, args: &BenchArgs, now: Millis) -> anyhow::Result<()> {
    let stored_before = {
        let s = SqliteStore::open(dir, opts(args))?;
        let n = s.stats().await?.notifications;
        s.close();
        n
    };
    // Build the request bodies first: generating them is not what is measured.
    let tag = format!("run{}", now);
    let mut rng = fastrand::Rng::with_seed(now as u64);
    let mut rows: Vec<Notification> = Vec::with_capacity(args.ingest);
    for k in 0..args.ingest {
        // Live traffic: sent within the last minute, as a producer streams it.
        rows.push(notification(&tag, k, args.customers, now, 60_000, &mut rng));
    }
    let bodies: Vec<String> = rows
        .chunks(args.batch)
        .map(|c| c.iter().map(wire).collect::<Vec<_>>().join("\n"))
        .collect();
    let bytes: usize = bodies.iter().map(String::len).sum();

    let running = start(dir, BodyRetention::Full, opts(args)).await?;
    let (accepted, req, secs) = ingest_bodies(&running.base, bodies, args.clients, args.ingest)?;
    running.shutdown().await?;
    let http_rate = accepted as f64 / secs;
    println!(
        "ingest over HTTP: {accepted} notifications ({:.0} MB NDJSON, batches of {}, {} clients) onto {stored_before} stored \
         in {secs:.1} s = {http_rate:.0}/s, durable (fsync per group commit); request latency {}",
        bytes as f64 / 1e6,
        args.batch,
        args.clients,
        quantiles(&req)
    );

    // The bare engine: the same rows, same schema and indexes, same durability, one transaction
    // per batch, straight through rusqlite — the ceiling the ingest path is measured against.
    let mut conn = countersign_store::sqlite::Connection::open(dir.join(DB_FILE))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -(512 * 1024))?;
    let source_id: i64 = conn
        .query_row(
            "SELECT id FROM sources WHERE name = 'bench-cards'",
            [],
            |r| r.get(0),
        )
        .context("bench source missing")?;
    let started = Instant::now();
    for chunk in rows.chunks(args.batch) {
        let tx = conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO notifications (source_id, ext_id, customer_id, channel, sender, recipient, sent_at, acked_at,
                    category, template_id, facts, body, body_mac, status, status_at, sent_day)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?7, ?15)",
            )?;
            let mut known = tx.prepare_cached(
                "INSERT OR IGNORE INTO customers (customer_id, first_sent_at) VALUES (?1, ?2)",
            )?;
            let mut learn = tx.prepare_cached(countersign_store::sqlite::LEARN_NUMBER_SQL)?;
            for n in chunk {
                st.execute(countersign_store::sqlite::params![
                    source_id,
                    format!("bare-{}", n.id),
                    n.customer_id,
                    n.channel.code(),
                    n.sender,
                    n.recipient,
                    n.sent_at,
                    now,
                    n.category,
                    n.template_id,
                    serde_json::to_string(&n.facts)?,
                    n.body,
                    n.body_mac.as_ref().map(|m| m.as_slice()),
                    n.status.code(),
                    countersign_store::sqlite::day_of(n.sent_at)
                ])?;
                known.execute(countersign_store::sqlite::params![n.customer_id, n.sent_at])?;
                if let Some(number) = &n.recipient {
                    learn.execute(countersign_store::sqlite::params![
                        n.customer_id,
                        number,
                        n.sent_at
                    ])?;
                }
            }
        }
        tx.commit()?;
    }
    let bare_secs = started.elapsed().as_secs_f64();
    let bare_rate = rows.len() as f64 / bare_secs;
    // Remove the bare rows so the ledger keeps only what went through the API.
    conn.execute(
        "DELETE FROM notifications WHERE ext_id LIKE 'bare-%' AND source_id = ?1",
        [source_id],
    )?;
    println!(
        "bare engine (rusqlite, same rows/indexes/fsync, batches of {}): {bare_rate:.0}/s; HTTP ingest reaches {:.0}% of it",
        args.batch,
        100.0 * http_rate / bare_rate
    );
    Ok(())
}

/// POST NDJSON ingest bodies from `clients` threads: records accepted, request latency (µs),
/// seconds taken. Shared by the embedded and the PostgreSQL ingest figures.
pub(crate) fn ingest_bodies(
    base: &str,
    bodies: Vec<String>,
    clients: usize,
    records: usize,
) -> anyhow::Result<(usize, Histogram<u64>, f64)> {
    let url = format!("{base}/v1/notifications");
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let pb = bar(records as u64, "ingest over HTTP");
    let started = Instant::now();
    let mut threads = Vec::new();
    for _ in 0..clients {
        let (bodies, next, accepted, url, pb) = (
            bodies.clone(),
            next.clone(),
            accepted.clone(),
            url.clone(),
            pb.clone(),
        );
        threads.push(std::thread::spawn(
            move || -> anyhow::Result<Histogram<u64>> {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(300))
                    .build();
                let mut h = hist();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let t = Instant::now();
                    let v = post(&agent, &url, "application/x-ndjson", body)?;
                    h.saturating_record(t.elapsed().as_micros() as u64);
                    let n = v["accepted"].as_u64().unwrap_or(0) as usize;
                    accepted.fetch_add(n, Ordering::Relaxed);
                    pb.inc(n as u64);
                }
                Ok(h)
            },
        ));
    }
    let mut req = hist();
    for t in threads {
        let h = t
            .join()
            .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
        req.add(&h).ok();
    }
    let secs = started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    Ok((accepted.load(Ordering::Relaxed), req, secs))
}

/// Verifications over HTTP against a running server holding the preloaded ledger.
pub(crate) async fn verify_http(
    running: Running,
    args: &BenchArgs,
    now: Millis,
) -> anyhow::Result<()> {
    running
        .store
        .set_watermark("bench-cards", now_ms(), None, now_ms())
        .await?;
    let stored = running.store.stats().await?.notifications;
    let url = format!("{}/v1/verify", running.base);
    let next = Arc::new(AtomicUsize::new(0));
    let total = args.verifications;
    let customers = args.customers;
    let pb = bar(total as u64, "verify over HTTP");
    let started = Instant::now();
    let mut threads = Vec::new();
    for t in 0..args.clients {
        let (next, url, pb) = (next.clone(), url.clone(), pb.clone());
        threads.push(std::thread::spawn(move || -> anyhow::Result<(Histogram<u64>, usize)> {
            let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
            let mut rng = fastrand::Rng::with_seed(t as u64);
            let mut h = hist();
            let mut verdicts = 0;
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let claim = json!({"customer_id": customer(rng.usize(0..customers)), "channel": "sms",
                    "received_at": format_time(now - rng.i64(0..20 * 86_400_000)),
                    "mentions": {"amount": format!("${}", rng.u32(1..1000)), "merchant": "Best Buy"}})
                .to_string();
                let t = Instant::now();
                let v = post(&agent, &url, "application/json", &claim)?;
                h.saturating_record(t.elapsed().as_micros() as u64);
                verdicts += v["verdict"].is_string() as usize;
                pb.inc(1);
            }
            Ok((h, verdicts))
        }));
    }
    let mut client = hist();
    let mut answered = 0;
    for t in threads {
        let (h, n) = t
            .join()
            .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
        client.add(&h).ok();
        answered += n;
    }
    let secs = started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let metrics = ureq::get(&format!("{}/metrics", running.base))
        .set("authorization", &format!("Bearer {BENCH_KEY}"))
        .call()?
        .into_string()?;
    let server_q: Vec<String> = metrics
        .lines()
        .filter(|l| l.starts_with("countersign_verify_seconds{"))
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap_or((l, "0"));
            let q = k
                .trim_start_matches("countersign_verify_seconds{quantile=\"")
                .trim_end_matches("\"}");
            format!(
                "p{} {:.3} ms",
                (q.parse::<f64>().unwrap_or(0.0) * 100.0),
                v.parse::<f64>().unwrap_or(0.0) * 1000.0
            )
        })
        .collect();
    running.shutdown().await?;
    println!(
        "verify over HTTP: {answered} verifications with {stored} stored, {} clients: {:.0}/s; client-side {}",
        args.clients,
        answered as f64 / secs,
        quantiles(&client)
    );
    println!(
        "verify inside the server (parse, store read, decision, audit): {}",
        server_q.join(", ")
    );
    Ok(())
}

async fn visibility(dir: &Path, args: &BenchArgs) -> anyhow::Result<()> {
    let running = start(dir, BodyRetention::Full, opts(args)).await?;
    let base = running.base.clone();
    let n = args.visibility;
    let h = tokio::task::spawn_blocking(move || -> anyhow::Result<(Histogram<u64>, usize)> {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
        let mut h = hist();
        let mut first_try = 0;
        for i in 0..n {
            let now = now_ms();
            let cust = format!("vis-{now}-{i}");
            let rec = json!({"source": "bench-cards", "id": format!("vis-{now}-{i}"), "customer_id": cust, "channel": "sms",
                "sender": "ACMEBANK", "sent_at": format_time(now - 1000),
                "body": "ACME Bank: Did you authorise $12.34 at SHELL OIL 57442 on card ending 1234?"});
            post(&agent, &format!("{base}/v1/notifications"), "application/json", &rec.to_string())?;
            let acked = Instant::now();
            let claim = json!({"customer_id": cust, "channel": "sms", "mentions": {"amount": "12.34"}}).to_string();
            let mut tries = 0;
            loop {
                tries += 1;
                let v = post(&agent, &format!("{base}/v1/verify"), "application/json", &claim)?;
                if v["verdict"] == "confirmed" {
                    break;
                }
                if acked.elapsed() > Duration::from_secs(10) {
                    anyhow::bail!("record {i} not verifiable 10 s after its acknowledgement: {v}");
                }
            }
            first_try += (tries == 1) as usize;
            h.saturating_record(acked.elapsed().as_micros() as u64);
        }
        Ok((h, first_try))
    })
    .await??;
    running.shutdown().await?;
    println!(
        "ack → verifiable (`confirmed`): {}; confirmed on the first verification after the ack in {}/{} cases",
        quantiles(&h.0),
        h.1,
        n
    );
    Ok(())
}

async fn size(dir: &Path, args: &BenchArgs, now: Millis) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    let store = SqliteStore::open(dir, opts(args))?;
    let mut rng = fastrand::Rng::with_seed(42);
    let pb = bar(args.size_records as u64, "facts_only size");
    let mut i = 0;
    while i < args.size_records {
        let n = 20_000.min(args.size_records - i);
        let batch: Vec<Notification> = (i..i + n)
            .map(|k| {
                let mut r = notification(
                    "size",
                    k,
                    (args.size_records / 10).max(1),
                    now,
                    HISTORY_MS,
                    &mut rng,
                );
                r.body = None; // facts_only: the body never reaches the store
                r
            })
            .collect();
        store.ingest(batch, now).await?;
        i += n;
        pb.inc(n as u64);
    }
    pb.finish_and_clear();
    store.close();
    // Checkpoint the WAL into the database so the file size is the steady-state size.
    let conn = countersign_store::sqlite::Connection::open(dir.join(DB_FILE))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    drop(conn);
    let bytes: u64 = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "on-disk size, facts_only: {} notifications (10 per customer) in {:.1} MB = {:.0} bytes/notification (database, indexes, customers table)",
        args.size_records,
        bytes as f64 / 1e6,
        bytes as f64 / args.size_records as f64
    );
    Ok(())
}

/// SMS verdicts over HTTP: 1,000 brands with 5 IDs each, batches of 1,000 mixed messages.
async fn sms_http(dir: &Path, args: &BenchArgs) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    let running = start(dir, BodyRetention::Full, opts(args)).await?;
    let base = running.base.clone();
    let total = args.sms;
    let clients = args.clients;
    let (rate, ids) = tokio::task::spawn_blocking(move || -> anyhow::Result<(f64, usize)> {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
        let syll = ["AC", "ME", "NOR", "TH", "WIN", "DO", "CON", "TO", "SO", "FAB", "RI", "KAM", "LIT", "WA", "RE", "PRO", "SE", "VAL", "TEK", "ZU"];
        let mut rng = fastrand::Rng::with_seed(42);
        let mut used = std::collections::HashSet::new();
        let mut all_ids = Vec::new();
        for b in 0..1000 {
            let mut ids = Vec::new();
            while ids.len() < 5 {
                let id: String = (0..rng.usize(3..6)).map(|_| syll[rng.usize(0..syll.len())]).collect::<String>().chars().take(11).collect();
                if id.len() >= 6 && used.insert(id.clone()) {
                    ids.push(id);
                }
            }
            all_ids.extend(ids.iter().cloned());
            agent
                .put(&format!("{base}/v1/brands/b{b}"))
                .set("authorization", &format!("Bearer {BENCH_KEY}"))
                .send_json(json!({"display_names": [format!("{} Group", ids[0])], "sender_ids": ids, "domains": [format!("brand{b}.com")]}))?;
        }
        let batch: Vec<serde_json::Value> = (0..1000)
            .map(|i| {
                let id = &all_ids[(i * 7) % all_ids.len()];
                match i % 4 {
                    0 => json!({"sender": id, "body": format!("{id}: your code is {:06}. Never share it.", i * 7919 % 1_000_000)}),
                    1 => json!({"sender": id.replacen('O', "0", 1), "body": "Your account is on hold. Verify now"}),
                    2 => json!({"sender": format!("SHOP{}", i % 97), "body": "Spring sale: 20% off everything this weekend"}),
                    _ => json!({"sender": "+14155550123", "body": format!("Hi, it's Sam. Running late, see you at {}", i % 12 + 1)}),
                }
            })
            .collect();
        let body = Arc::new(serde_json::to_string(&batch)?);
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut threads = Vec::new();
        for _ in 0..clients {
            let (body, next, url) = (body.clone(), next.clone(), format!("{base}/v1/sms/evaluate"));
            threads.push(std::thread::spawn(move || -> anyhow::Result<usize> {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
                let mut done = 0;
                while next.fetch_add(1000, Ordering::Relaxed) < total {
                    let v = post(&agent, &url, "application/json", &body)?;
                    done += v["results"].as_array().map_or(0, Vec::len);
                }
                Ok(done)
            }));
        }
        let mut done = 0;
        for t in threads {
            done += t.join().map_err(|_| anyhow::anyhow!("client thread panicked"))??;
        }
        Ok((done as f64 / started.elapsed().as_secs_f64(), all_ids.len()))
    })
    .await??;
    running.shutdown().await?;
    println!(
        "sms verdicts over HTTP: {total} messages in batches of 1000, {clients} clients, 1000 brands / {ids} protected IDs: {rate:.0}/s"
    );
    Ok(())
}

/// Call scoring over HTTP with `calls_preload` calls already stored (besides the ledger).
async fn calls_http(dir: &Path, args: &BenchArgs, now: Millis) -> anyhow::Result<()> {
    // Preload calls straight through SQLite: they are only there to make the velocity queries
    // work on a realistic table.
    {
        let s = SqliteStore::open(dir, opts(args))?;
        s.close();
        let mut conn = countersign_store::sqlite::Connection::open(dir.join(DB_FILE))?;
        let have: i64 = conn.query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0))?;
        if (have as usize) < args.calls_preload {
            let started = Instant::now();
            let mut rng = fastrand::Rng::with_seed(9);
            let tx = conn.transaction()?;
            {
                let mut st = tx.prepare("INSERT OR IGNORE INTO calls (call_id, customer_id, ani, started_at, doc) VALUES (?1, ?2, ?3, ?4, '{}')")?;
                for i in have as usize..args.calls_preload {
                    st.execute(countersign_store::sqlite::params![
                        format!("pre-{i}"),
                        customer(rng.usize(0..args.customers)),
                        format!("+1628{:07}", rng.u32(0..2_000_000)),
                        now - rng.i64(0..7 * 86_400_000)
                    ])?;
                }
            }
            tx.commit()?;
            println!(
                "calls preload: {} calls in {:.0} s",
                args.calls_preload - have as usize,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let running = start(dir, BodyRetention::Full, opts(args)).await?;
    score_calls_http(running, args, now).await
}

/// Calls started and scored over HTTP against a running server (calls preloaded).
pub(crate) async fn score_calls_http(
    running: Running,
    args: &BenchArgs,
    now: Millis,
) -> anyhow::Result<()> {
    let customers = args.customers;
    let d = drive(
        &[format!("{}/v1/calls", running.base)],
        args.clients,
        args.calls,
        // Another sequence each run: runs repeated on one store must not call about the same
        // customers from the same numbers, piling up velocity rows no real day would have.
        now as u64,
        move |i, rng| {
            json!({"call_id": format!("bench-{now}-{i}"), "customer_id": customer(rng.usize(0..customers)),
                "ani": format!("+1628{:07}", rng.u32(0..2_000_000)), "verstat": "TN-Validation-Passed-B", "intent": "wire"})
            .to_string()
        },
        |v| v["band"].is_string(),
    )?;
    let q = server_quantiles(&running.base, "score")?;
    let stored = running.store.stats().await?.notifications;
    running.shutdown().await?;
    println!(
        "call scoring over HTTP: {} calls scored with {} calls and {stored} notifications stored, {} clients: {:.0}/s; client-side {}",
        d.ok,
        args.calls_preload,
        args.clients,
        d.ok as f64 / d.secs,
        quantiles(&d.client)
    );
    println!("call scoring inside the server: {q}");
    Ok(())
}

/// What [`drive`] measured.
pub(crate) struct Driven {
    /// Answers that passed the check.
    pub(crate) ok: usize,
    /// Client-side latency, µs.
    pub(crate) client: Histogram<u64>,
    pub(crate) secs: f64,
}

/// POST `total` JSON bodies (body `i` made by `make`) from `clients` threads, counting the
/// answers for which `ok` holds. With several nodes' `urls` the clients are spread over them
/// (client `t` posts to `urls[t % len]`), every client taking the next body from one queue, as
/// behind a load balancer: no node idles while another still has work.
pub(crate) fn drive(
    urls: &[impl AsRef<str>],
    clients: usize,
    total: usize,
    seed: u64,
    make: impl Fn(usize, &mut fastrand::Rng) -> String + Send + Sync + 'static,
    ok: impl Fn(&serde_json::Value) -> bool + Send + Sync + 'static,
) -> anyhow::Result<Driven> {
    anyhow::ensure!(!urls.is_empty(), "no server to drive");
    let next = Arc::new(AtomicUsize::new(0));
    let (make, ok) = (Arc::new(make), Arc::new(ok));
    let started = Instant::now();
    let mut threads = Vec::new();
    for t in 0..clients {
        let url = urls[t % urls.len()].as_ref().to_string();
        let (next, make, ok) = (next.clone(), make.clone(), ok.clone());
        threads.push(std::thread::spawn(
            move || -> anyhow::Result<(Histogram<u64>, usize)> {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(30))
                    .build();
                let mut rng = fastrand::Rng::with_seed(seed + t as u64);
                let mut h = hist();
                let mut n = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let body = make(i, &mut rng);
                    let t0 = Instant::now();
                    let v = post(&agent, &url, "application/json", &body)?;
                    h.saturating_record(t0.elapsed().as_micros() as u64);
                    n += usize::from(ok(&v));
                }
                Ok((h, n))
            },
        ));
    }
    let mut client = hist();
    let mut passed = 0;
    for t in threads {
        let (h, n) = t
            .join()
            .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
        client.add(&h).ok();
        passed += n;
    }
    Ok(Driven {
        ok: passed,
        client,
        secs: started.elapsed().as_secs_f64(),
    })
}

/// The server's own quantiles of `countersign_{name}_seconds`, from `/metrics`.
pub(crate) fn server_quantiles(base: &str, name: &str) -> anyhow::Result<String> {
    let metrics = ureq::get(&format!("{base}/metrics"))
        .set("authorization", &format!("Bearer {BENCH_KEY}"))
        .call()?
        .into_string()?;
    let prefix = format!("countersign_{name}_seconds{{");
    Ok(metrics
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .collect::<Vec<_>>()
        .join(", "))
}
