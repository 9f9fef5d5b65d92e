//! `countersign bench --store postgres --database-url URL`: the scale-out figures on a real
//! PostgreSQL — the ledger preloaded through the store, durable HTTP ingest against the bare
//! `UNNEST` insert of the same rows in the same run, verification with the ledger stored, call
//! scoring with velocity read from the shared tables, and two nodes against one on the same
//! cores. Timings are printed, never asserted.

use std::sync::Arc;
use std::time::Instant;

use countersign_core::validate::BodyRetention;
use countersign_core::{Millis, Notification};
use countersign_server::now_ms;
use countersign_store::postgres::{PgOptions, PgStore};
use countersign_store::prelude::*;
use serde_json::json;

use crate::bench::{
    bar, bench_config, customer, drive, ingest_bodies, notification, quantiles, score_calls_http,
    serve_on, verify_http, wire, BenchArgs, Running, HISTORY_MS,
};

/// Connections for the whole bench, as for this database: about twice its cores (it runs on
/// this machine). More only add runnable backends competing for the same cores: scoring at 8
/// clients measured 5,643 and 5,356/s with 4, against 4,993 and 5,120/s with 32 (BENCHMARKS.md).
fn database_connections() -> usize {
    2 * std::thread::available_parallelism().map_or(2, |n| n.get())
}

async fn connect(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    connect_sized(url, database_connections()).await
}

async fn connect_sized(url: &str, pool_max: usize) -> anyhow::Result<Arc<dyn Store>> {
    Ok(Arc::new(
        PgStore::connect(
            url,
            PgOptions {
                pool_max,
                ..PgOptions::default()
            },
        )
        .await?,
    ))
}

async fn node(url: &str, args: &BenchArgs) -> anyhow::Result<Running> {
    node_sized(url, args, database_connections()).await
}

async fn node_sized(url: &str, args: &BenchArgs, pool_max: usize) -> anyhow::Result<Running> {
    serve_on(
        connect_sized(url, pool_max).await?,
        &bench_config(&args.data_dir, BodyRetention::Full),
    )
    .await
}

pub fn run(args: &BenchArgs, url: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = args.only.split(',').map(str::trim).collect();
    // Refused before any part runs, not after a long preload.
    anyhow::ensure!(
        args.scale_clients.iter().all(|&c| c > 0),
        "--scale-clients: every count must be at least 1"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "machine: {} logical CPUs; countersign {}; store {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        env!("CARGO_PKG_VERSION"),
        countersign_store::postgres::describe_url(url)
    );
    let now = now_ms();
    rt.block_on(async {
        if parts.contains(&"preload") {
            preload(url, args, now).await?;
        }
        if parts.contains(&"ingest") {
            ingest(url, args, now).await?;
        }
        if parts.contains(&"verify") {
            verify_http(node(url, args).await?, args, now).await?;
        }
        if parts.contains(&"calls") {
            preload_calls(url, args, now).await?;
            score_calls_http(node(url, args).await?, args, now).await?;
        }
        if parts.contains(&"scale") {
            scale(url, args, now).await?;
        }
        anyhow::Ok(())
    })
}

async fn preload(url: &str, args: &BenchArgs, now: Millis) -> anyhow::Result<()> {
    let store = connect(url).await?;
    let have = store.stats().await?.notifications as usize;
    if have < args.preload {
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
        let secs = started.elapsed().as_secs_f64();
        println!(
            "preload: {} notifications through the store API in {secs:.0} s ({:.0}/s)",
            args.preload - have,
            (args.preload - have) as f64 / secs
        );
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        analyze(&client).await?;
    }
    store
        .set_watermark("bench-cards", now, Some(now - 40 * 86_400_000), now)
        .await?;
    println!(
        "preload: {} notifications stored",
        store.stats().await?.notifications
    );
    store.close();
    Ok(())
}

/// Durable ingest over HTTP, then the bare engine on the same rows: one `UNNEST` insert per
/// batch into the same tables and indexes (notifications, the customer index, learned numbers),
/// one transaction each — the ceiling the ingest path is measured against.
async fn ingest(url: &str, args: &BenchArgs, now: Millis) -> anyhow::Result<()> {
    let tag = format!("run{now}");
    let mut rng = fastrand::Rng::with_seed(now as u64);
    let rows: Vec<Notification> = (0..args.ingest)
        .map(|k| notification(&tag, k, args.customers, now, 60_000, &mut rng))
        .collect();
    let bodies: Vec<String> = rows
        .chunks(args.batch)
        .map(|c| c.iter().map(wire).collect::<Vec<_>>().join("\n"))
        .collect();
    let running = node(url, args).await?;
    let stored = running.store.stats().await?.notifications;
    let (accepted, req, secs) = ingest_bodies(&running.base, bodies, args.clients, args.ingest)?;
    running.shutdown().await?;
    let http_rate = accepted as f64 / secs;
    println!(
        "ingest over HTTP (PostgreSQL): {accepted} onto {stored} stored, batches of {}, {} clients, in {secs:.1} s = {http_rate:.0}/s, committed before each answer; request latency {}",
        args.batch,
        args.clients,
        quantiles(&req)
    );

    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let sid: i64 = client
        .query_one("SELECT id FROM sources WHERE name = 'bench-cards'", &[])
        .await?
        .get(0);
    let started = Instant::now();
    for chunk in rows.chunks(args.batch) {
        client.batch_execute("BEGIN").await?;
        let ids: Vec<String> = chunk.iter().map(|n| format!("bare-{}", n.id)).collect();
        let custs: Vec<&str> = chunk.iter().map(|n| n.customer_id.as_str()).collect();
        let sent: Vec<i64> = chunk.iter().map(|n| n.sent_at).collect();
        let recips: Vec<Option<&str>> = chunk.iter().map(|n| n.recipient.as_deref()).collect();
        let bodies: Vec<Option<&str>> = chunk.iter().map(|n| n.body.as_deref()).collect();
        let facts: Vec<String> = chunk
            .iter()
            .map(|n| serde_json::to_string(&n.facts).unwrap_or_default())
            .collect();
        // The store's own shape: the key first (a conflict skipped), then the day-partitioned row.
        client
            .execute(
                "SELECT countersign_notification_day(d)
                 FROM (SELECT DISTINCT floor(s / 86400000.0)::BIGINT AS d FROM UNNEST($1::bigint[]) s) days",
                &[&sent],
            )
            .await?;
        client
            .execute(
                "WITH u AS (SELECT * FROM UNNEST($3::text[], $4::text[], $5::text[], $6::bigint[],
                    $7::text[], $8::text[]) AS u(ext, cust, rcpt, sent, facts, body)),
                 k AS (INSERT INTO notification_keys (source_id, ext_id, sent_at)
                    SELECT $1, ext, sent FROM u ON CONFLICT DO NOTHING RETURNING ext_id)
                 INSERT INTO notifications (source_id, ext_id, customer_id, channel, recipient, sent_at,
                    acked_at, facts, body, status, status_at)
                 SELECT $1, u.ext, u.cust, 1, u.rcpt, u.sent, $2, u.facts, u.body, 1, u.sent
                 FROM u JOIN k ON k.ext_id = u.ext",
                &[&sid, &now, &ids, &custs, &recips, &sent, &facts, &bodies],
            )
            .await?;
        client
            .execute(
                "INSERT INTO customers (customer_id, first_sent_at)
                 SELECT DISTINCT ON (c) c, s FROM UNNEST($1::text[], $2::bigint[]) AS u(c, s)
                 ON CONFLICT DO NOTHING",
                &[&custs, &sent],
            )
            .await?;
        client.batch_execute("COMMIT").await?;
    }
    let bare_rate = rows.len() as f64 / started.elapsed().as_secs_f64();
    client
        .execute(
            "DELETE FROM notifications
             WHERE source_id = $1 AND starts_with(ext_id, 'bare-') AND sent_at >= $2",
            &[&sid, &rows.iter().map(|n| n.sent_at).min().unwrap_or(now)],
        )
        .await?;
    client
        .execute(
            "DELETE FROM notification_keys WHERE source_id = $1 AND starts_with(ext_id, 'bare-')",
            &[&sid],
        )
        .await?;
    println!(
        "bare UNNEST insert (same rows, tables and indexes, one transaction per batch of {}): {bare_rate:.0}/s; HTTP ingest reaches {:.0}% of it",
        args.batch,
        100.0 * http_rate / bare_rate
    );
    Ok(())
}

/// Calls already stored, so that the velocity queries run on a realistic table.
async fn preload_calls(url: &str, args: &BenchArgs, now: Millis) -> anyhow::Result<()> {
    // A new database gets its schema first, so `--only calls` works on its own.
    countersign_store::postgres::migrate_url(url, &PgOptions::default()).await?;
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let have: i64 = client
        .query_one("SELECT COUNT(*) FROM calls", &[])
        .await?
        .get(0);
    let mut rng = fastrand::Rng::with_seed(9);
    let started = Instant::now();
    let mut i = have as usize;
    while i < args.calls_preload {
        let n = 50_000.min(args.calls_preload - i);
        let ids: Vec<String> = (i..i + n).map(|k| format!("pre-{k}")).collect();
        let custs: Vec<String> = (0..n)
            .map(|_| customer(rng.usize(0..args.customers)))
            .collect();
        let anis: Vec<String> = (0..n)
            .map(|_| format!("+1628{:07}", rng.u32(0..2_000_000)))
            .collect();
        let at: Vec<i64> = (0..n).map(|_| now - rng.i64(0..7 * 86_400_000)).collect();
        client
            .execute(
                "INSERT INTO calls (call_id, customer_id, ani, started_at, doc)
                 SELECT i, c, a, t, '{}' FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[])
                    AS u(i, c, a, t)
                 ON CONFLICT DO NOTHING",
                &[&ids, &custs, &anis, &at],
            )
            .await?;
        i += n;
    }
    if (have as usize) < args.calls_preload {
        println!(
            "calls preload: {} calls in {:.0} s",
            args.calls_preload - have as usize,
            started.elapsed().as_secs_f64()
        );
        analyze(&client).await?;
    }
    Ok(())
}

/// What an operator does after a bulk load (and autovacuum does by itself where it is on):
/// fresh planner statistics. Without them PostgreSQL answers point reads with bitmap scans,
/// and the figures measure the missing statistics rather than Countersign.
async fn analyze(client: &tokio_postgres::Client) -> anyhow::Result<()> {
    let started = Instant::now();
    client.batch_execute("ANALYZE").await?;
    println!(
        "statistics refreshed (ANALYZE) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Pairs of rounds [`scale_at`] runs: one node, then two, or the other way round.
const SCALE_PAIRS: usize = 6;

/// One node against two sharing the same cores and database, at each of `--scale-clients`
/// ([`scale_at`]), then each configuration's capacity: the best of its median rates over those
/// client counts. Below capacity two nodes spend more CPU per call than one (each node's call
/// writer batches only its own calls, so two nodes commit more inserts; BENCHMARKS.md,
/// 2026-12-06, third look); at capacity the comparison is what the same hardware scores in all.
async fn scale(url: &str, args: &BenchArgs, now: Millis) -> anyhow::Result<()> {
    preload_calls(url, args, now).await?;
    let mut measured = Vec::new();
    for &clients in &args.scale_clients {
        measured.push((clients, scale_at(url, args, now, clients).await?));
    }
    // Configuration `k`'s best median rate, and at how many clients.
    let best = |k: usize| {
        measured
            .iter()
            .map(|&(clients, rates)| (rates[k], clients))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap_or((f64::NAN, 0))
    };
    if measured.len() > 1 {
        let ((one, one_at), (two, two_at)) = (best(0), best(1));
        let counts: Vec<String> = args.scale_clients.iter().map(ToString::to_string).collect();
        println!(
            "scale: capacity (the best median rate over {} clients): two nodes {two:.0}/s (at {two_at}) against one node {one:.0}/s (at {one_at}) = {:.2}×",
            counts.join(", "),
            two / one
        );
    }
    Ok(())
}

/// Calls scored by one node and by two nodes at `clients` clients in all: pairs of rounds back
/// to back, in alternating order (1–2, 2–1, …), so that neither gains from going first or from
/// the machine's speed drifting (on a shared virtual machine one configuration's rate moved by
/// a quarter within a run). Each pair gives the ratio of its two rates; the median ratio is the
/// figure, printed with the lowest and highest, and with each configuration's transactions and
/// machine CPU per call. Returns the median rates, one node's first.
async fn scale_at(
    url: &str,
    args: &BenchArgs,
    now: Millis,
    clients: usize,
) -> anyhow::Result<[f64; 2]> {
    let mut rates: [Vec<f64>; 2] = Default::default();
    let mut per_call: [Vec<f64>; 2] = Default::default();
    let mut cpu: [Vec<f64>; 2] = Default::default();
    let mut ratios = Vec::new();
    for pair in 0..SCALE_PAIRS {
        let order = if pair % 2 == 0 { [1, 2] } else { [2, 1] };
        let mut rate = [0.0; 2];
        for nodes in order {
            let round = Round {
                nodes,
                clients,
                number: pair,
            };
            let r = scale_round(url, args, now, round).await?;
            rate[nodes - 1] = r.rate;
            rates[nodes - 1].push(r.rate);
            per_call[nodes - 1].push(r.per_call);
            cpu[nodes - 1].extend(r.cpu.map(|(machine, _)| machine));
        }
        ratios.push(rate[1] / rate[0]);
    }
    let (lowest, highest) = ratios
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| {
            (lo.min(r), hi.max(r))
        });
    let (one, two) = (median(&mut rates[0]), median(&mut rates[1]));
    let ratio = median(&mut ratios);
    let (tx1, tx2) = (median(&mut per_call[0]), median(&mut per_call[1]));
    let cpu_note = match (median(&mut cpu[0]), median(&mut cpu[1])) {
        (one, two) if one.is_finite() && two.is_finite() => {
            format!("; {two:.0} against {one:.0} µs of this machine's CPU per call")
        }
        _ => String::new(),
    };
    println!(
        "scale: at {clients} clients two nodes on the same two cores reach {ratio:.2}× one node's rate (median of {SCALE_PAIRS} pairs of rounds, {lowest:.2}–{highest:.2}; median rates {two:.0} against {one:.0}/s; {tx2:.2} against {tx1:.2} transactions per call{cpu_note})"
    );
    Ok([one, two])
}

/// Which round of [`scale_at`]: how many nodes, how many clients in all, which pair.
#[derive(Clone, Copy)]
struct Round {
    nodes: usize,
    clients: usize,
    number: usize,
}

/// The middle value of `v` (sorted in place), or the mean of the middle two; NaN when empty.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n => (v[(n - 1) / 2] + v[n / 2]) / 2.0,
    }
}

/// One round of [`scale_at`]: `nodes` nodes, the clients spread over them, warmed up first (new
/// connections, caches and prepared statements, as a node that has been running has them) with
/// a fifth as many calls again; the total rate of the calls after.
async fn scale_round(
    url: &str,
    args: &BenchArgs,
    now: Millis,
    round: Round,
) -> anyhow::Result<ScaleRound> {
    let Round {
        nodes,
        clients,
        number: round,
    } = round;
    let customers = args.customers;
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let committed_before = committed(&client).await?;
    let cpu_before = CpuTicks::now();
    let mut running = Vec::new();
    for _ in 0..nodes {
        // The database's connections shared among the nodes, as README advises for
        // production: more nodes do not make the database's cores more.
        let pool = (database_connections() / nodes).max(1);
        running.push(node_sized(url, args, pool).await?);
    }
    let urls: Vec<String> = running
        .iter()
        .map(|r| format!("{}/v1/calls", r.base))
        .collect();
    let calls = move |tag: &'static str| {
        move |i, rng: &mut fastrand::Rng| {
            json!({"call_id": format!("scale-{now}-{clients}-{round}-{nodes}-{tag}{i}"),
                "customer_id": customer(rng.usize(0..customers)),
                "ani": format!("+1628{:07}", rng.u32(0..2_000_000)),
                "verstat": "TN-Validation-Passed-B"})
            .to_string()
        }
    };
    // A sequence of its own: no two rounds repeat one.
    let seed =
        (now as u64).wrapping_add(1_000 * ((clients * SCALE_PAIRS + round) * 4 + nodes) as u64);
    let scored = |v: &serde_json::Value| v["band"].is_string();
    let warm = drive(
        &urls,
        clients,
        (args.calls / 5).max(1),
        seed + 500,
        calls("w"),
        scored,
    )?;
    let d = drive(&urls, clients, args.calls, seed, calls(""), scored)?;
    let rate = d.ok as f64 / d.secs;
    for r in running {
        r.shutdown().await?;
    }
    // A backend reports its transactions when it ends: give the nodes' a moment to.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let calls = (warm.ok + d.ok) as f64;
    let per_call = (committed(&client).await? - committed_before) as f64 / calls;
    let us = |ticks: u64| ticks as f64 * 1e6 / USER_HZ / calls;
    let cpu = cpu_before.zip(CpuTicks::now()).map(|(a, b)| {
        (
            us(b.machine.saturating_sub(a.machine)),
            us(b.process.saturating_sub(a.process)),
        )
    });
    let cpu_line = cpu.map_or(String::new(), |(machine, process)| {
        format!("; CPU per call {machine:.0} µs on this machine, {process:.0} µs of it in this process (nodes and clients)")
    });
    println!(
        "scale: {nodes} node(s) on one database, {clients} clients in all: {} calls scored at {rate:.0}/s, {per_call:.2} transactions per call{cpu_line} (warm-up included); client-side {}",
        d.ok,
        quantiles(&d.client)
    );
    Ok(ScaleRound {
        rate,
        per_call,
        cpu,
    })
}

/// What one round of [`scale_at`] measured.
struct ScaleRound {
    /// Calls scored per second.
    rate: f64,
    /// Transactions the database committed per call scored: the round trips that batching
    /// saves, counted by the database (`pg_stat_database`) rather than timed.
    per_call: f64,
    /// CPU per call scored, µs: the whole machine's and this process's (see [`CpuTicks`]).
    cpu: Option<(f64, f64)>,
}

/// CPU time spent so far, in clock ticks, read from Linux's `/proc` (`None` elsewhere): by the
/// whole machine (all its time but idle, I/O wait and steal) and by this process. With the
/// database on the same machine, the difference between the two is mostly the database's.
struct CpuTicks {
    machine: u64,
    process: u64,
}

impl CpuTicks {
    fn now() -> Option<CpuTicks> {
        CpuTicks::parse(
            &std::fs::read_to_string("/proc/stat").ok()?,
            &std::fs::read_to_string("/proc/self/stat").ok()?,
        )
    }

    /// From the text of `/proc/stat` and of `/proc/self/stat`.
    fn parse(stat: &str, own: &str) -> Option<CpuTicks> {
        // cpu  user nice system idle iowait irq softirq steal …: busy is all but idle and
        // I/O wait among the first seven (steal is time the hypervisor gave to others).
        let all: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .take(7)
            .map(|v| v.parse().ok())
            .collect::<Option<_>>()?;
        let machine = all
            .iter()
            .sum::<u64>()
            .checked_sub(all.get(3)? + all.get(4)?)?;
        // pid (comm) state … utime stime: fields 14 and 15, counted after the command's ')'.
        let f: Vec<&str> = own.rsplit_once(')')?.1.split_whitespace().collect();
        let process = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        Some(CpuTicks { machine, process })
    }
}

/// Clock ticks per second in `/proc`: 100 on every Linux this runs on (`USER_HZ`).
const USER_HZ: f64 = 100.0;

/// Transactions committed in this database so far.
async fn committed(client: &tokio_postgres::Client) -> anyhow::Result<i64> {
    Ok(client
        .query_one(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await?
        .get(0))
}

#[cfg(test)]
mod tests {
    use super::{median, CpuTicks};

    #[test]
    fn cpu_ticks_from_proc() {
        let stat = "cpu  100 5 50 1000 20 3 2 7 0 0\ncpu0 50 2 25 500 10 1 1 3 0 0\n";
        let own = "4242 (count ersign) S 1 4242 4242 0 -1 4194304 10 0 0 0 70 30 0 0 20 0 9 0";
        let t = CpuTicks::parse(stat, own).expect("parsed");
        // 100 + 5 + 50 + 3 + 2: idle, I/O wait and steal left out.
        assert_eq!(t.machine, 160);
        // utime 70 + stime 30, the command's name holding a space.
        assert_eq!(t.process, 100);
        assert!(CpuTicks::parse("intr 1 2 3", own).is_none());
        assert!(CpuTicks::parse(stat, "4242 (x) S 1").is_none());
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        // An even count: the mean of the middle two, not the upper one.
        assert!((median(&mut [0.74, 1.38, 0.80, 1.00, 0.95, 1.01]) - 0.975).abs() < 1e-12);
        assert_eq!(median(&mut [5.0]), 5.0);
        assert!(median(&mut []).is_nan());
    }
}
