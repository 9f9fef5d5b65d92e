//! `countersign bench --only reports`: smishing reports clustered in process (throughput, and
//! assignment latency as the index grows to `--reports-preload`), then the same reports stored
//! and replayed by a real server, and new reports over HTTP with them all stored.

use std::path::Path;
use std::time::Instant;

use countersign_core::campaign::{indicators, Campaigns, ClusterConfig, Indicators};
use countersign_core::extract::ExtractConfig;
use countersign_core::validate::{format_time, BodyRetention};
use countersign_core::Millis;
use countersign_server::api_types::ReportDoc;
use countersign_store::sqlite::{SqliteStore, DB_FILE};
use hdrhistogram::Histogram;
use serde_json::json;

use crate::bench::{bar, drive, hist, opts, quantiles, server_quantiles, start, BenchArgs};

const CAMPAIGNS: usize = 10;
const WORDS: &[&str] = &[
    "hello",
    "meeting",
    "tomorrow",
    "lunch",
    "package",
    "delivery",
    "weekend",
    "party",
    "coffee",
    "please",
    "thanks",
    "office",
    "dinner",
    "school",
    "pickup",
    "game",
    "tickets",
    "music",
    "holiday",
    "flight",
    "hotel",
    "booking",
    "movie",
    "tonight",
    "birthday",
    "gift",
    "card",
    "photo",
    "video",
    "call",
    "later",
    "soon",
    "morning",
    "evening",
    "shopping",
    "market",
    "doctor",
    "appointment",
    "reminder",
    "payment",
    "invoice",
    "project",
    "deadline",
    "team",
    "garden",
    "kitchen",
    "recipe",
    "running",
    "training",
    "bike",
    "car",
    "train",
    "bus",
    "weather",
    "rain",
    "sunny",
    "beach",
    "mountain",
    "river",
    "dog",
    "cat",
    "kids",
    "homework",
];
/// Ten campaigns as they arrive: each rotates amounts, merchants, numbers and domains.
const TEMPLATES: &[&str] = &[
    "{brand}: Did you authorise a purchase of {amount} at {merchant}? If not, call us now at {number}.",
    "{brand} alert: your online banking has been suspended due to unusual activity. Restore access at https://{domain}/login",
    "USPS: Your package is on hold due to an incomplete address. Update it within 24 hours at {domain}/track",
    "E-ZPass: You have an unpaid toll balance of {amount}. Pay now at {domain} to avoid a late fee of $50.",
    "IRS notice: you are eligible for a tax refund of {amount}. Claim it before Friday at {domain}/refund",
    "Congratulations! You were selected as the winner of a {amount} gift card from {merchant}. Claim: {domain}",
    "Your crypto wallet shows a pending withdrawal of {amount}. If this was not you call support at {number}",
    "Hiring now: remote assistant role paying {amount} per week, no experience needed. Reply or text {number}",
    "Final notice: your electricity will be disconnected today for an overdue bill of {amount}. Call {number}",
    "Verizon: your line will be deactivated unless you confirm your account details at {domain} today",
];

/// A campaign's text with its rotating parts, or (for `None`) an unrelated message.
fn synthetic(i: usize, rng: &mut fastrand::Rng) -> (Option<usize>, String) {
    if rng.u8(0..10) < 3 {
        let n = rng.usize(10..18);
        let words: Vec<&str> = (0..n).map(|_| WORDS[rng.usize(0..WORDS.len())]).collect();
        return (None, format!("{} {}", words.join(" "), i));
    }
    let c = rng.usize(0..CAMPAIGNS);
    let text = TEMPLATES[c]
        .replace("{brand}", ["ACME Bank", "ACME"][rng.usize(0..2)])
        .replace(
            "{amount}",
            &format!("${}.{:02}", rng.u32(5..3000), rng.u32(0..100)),
        )
        .replace(
            "{merchant}",
            ["Best Buy", "Walmart", "Target", "Costco"][rng.usize(0..4)],
        )
        .replace(
            "{number}",
            &format!("8{:02}-555-01{:02}", 33 + c, rng.u8(0..5)),
        )
        .replace("{domain}", &format!("secure-{c}-{}.top", rng.u8(0..3)));
    (Some(c), text)
}

/// Cluster `--reports-preload` reports in process; returns them for the stored run.
fn in_process(args: &BenchArgs) -> anyhow::Result<Vec<(Millis, String, Indicators, u64)>> {
    let n = args.reports_preload;
    let cfg = ExtractConfig::default();
    let brands = vec!["ACME Bank".to_string()];
    let mut rng = fastrand::Rng::with_seed(5);
    let texts: Vec<(Option<usize>, String)> = (0..n).map(|i| synthetic(i, &mut rng)).collect();
    let now = countersign_server::now_ms();
    let mut c = Campaigns::new(ClusterConfig::default());
    let mut all = hist();
    let mut last = hist();
    let mut out = Vec::with_capacity(n);
    let pb = bar(n as u64, "reports clustered in process");
    let started = Instant::now();
    for (i, (_, text)) in texts.iter().enumerate() {
        let t0 = Instant::now();
        let ind = indicators(text, &brands, &cfg);
        let at = now - (n - i) as Millis * 100;
        let a = c.assign(&ind, None, at);
        let ns = t0.elapsed().as_nanos() as u64;
        all.saturating_record(ns.max(1));
        if i >= n - n / 10 {
            last.saturating_record(ns.max(1));
        }
        out.push((at, text.clone(), ind, a.campaign_id));
        if i % 10_000 == 0 {
            pb.set_position(i as u64);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    // Quality: how the truth's campaigns map onto the listed ones.
    let mut split = 0;
    let mut found = std::collections::BTreeSet::new();
    for t in 0..CAMPAIGNS {
        let ids: std::collections::BTreeSet<u64> = texts
            .iter()
            .zip(&out)
            .filter(|((truth, _), _)| *truth == Some(t))
            .map(|(_, (_, _, _, id))| c.resolve(*id))
            .collect();
        split += usize::from(ids.len() > 1);
        found.extend(ids);
    }
    let listed = c.list().len();
    let ns = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "reports clustered in process: {n} in {secs:.1} s = {:.0}/s (indicators, shape, MinHash, LSH, assignment; one core)",
        n as f64 / secs
    );
    println!(
        "assignment latency: all p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs; last 10% (≥ {} stored) p50 {:.1} µs, p99 {:.1} µs",
        ns(&all, 0.5),
        ns(&all, 0.99),
        ns(&all, 0.999),
        all.max() as f64 / 1000.0,
        n - n / 10,
        ns(&last, 0.5),
        ns(&last, 0.99)
    );
    println!(
        "clustering: {CAMPAIGNS} true campaigns → {} campaign ids ({split} split), {listed} listed (≥ {} reports); unrelated messages {}",
        found.len(),
        ClusterConfig::default().min_reports,
        texts.iter().filter(|t| t.0.is_none()).count()
    );
    Ok(out)
}

/// Store the clustered reports, start a server (replay), and post new reports over HTTP.
pub async fn over_http(dir: &Path, args: &BenchArgs, now: Millis) -> anyhow::Result<()> {
    let rows = in_process(args)?;
    {
        let s = SqliteStore::open(dir, opts(args))?;
        s.close();
        let mut conn = countersign_store::sqlite::Connection::open(dir.join(DB_FILE))?;
        let have: i64 = conn.query_row("SELECT COUNT(*) FROM smish_reports", [], |r| r.get(0))?;
        if have == 0 {
            let started = Instant::now();
            let tx = conn.transaction()?;
            {
                let mut st = tx.prepare(
                    "INSERT INTO smish_reports (id, received_at, customer_id, campaign_id, doc) VALUES (?1, ?2, NULL, ?3, ?4)",
                )?;
                for (i, (at, text, ind, campaign)) in rows.into_iter().enumerate() {
                    let doc = ReportDoc {
                        id: i as i64 + 1,
                        received_at: format_time(at),
                        customer_id: None,
                        reporter_number: None,
                        sender: None,
                        body: text,
                        reported_via: "app".into(),
                        indicators: ind,
                        campaign_id: campaign,
                    };
                    st.execute(countersign_store::sqlite::params![
                        i as i64 + 1,
                        at,
                        campaign as i64,
                        serde_json::to_string(&doc)?
                    ])?;
                }
            }
            tx.commit()?;
            println!(
                "reports stored: {} in {:.0} s",
                args.reports_preload,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let t0 = Instant::now();
    let running = start(dir, BodyRetention::Full, opts(args)).await?;
    println!(
        "server start with {} reports stored (replayed into campaigns): {:.1} s",
        args.reports_preload,
        t0.elapsed().as_secs_f64()
    );
    let d = drive(
        &[format!("{}/v1/smish-reports", running.base)],
        args.clients,
        args.reports,
        900,
        move |i, rng| {
            let (_, text) = synthetic(10_000_000 + i, rng);
            json!({"customer_id": format!("cust-{}", rng.u32(0..1_000_000)),
                "body": text, "reported_via": "app", "received_at": format_time(now)})
            .to_string()
        },
        |v| v["campaign_id"].is_u64(),
    )?;
    let q = server_quantiles(&running.base, "report")?;
    running.shutdown().await?;
    println!(
        "reports over HTTP: {} reports (durable, clustered, customer alert) with {} stored, {} clients: {:.0}/s; client-side {}",
        d.ok,
        args.reports_preload,
        args.clients,
        d.ok as f64 / d.secs,
        quantiles(&d.client)
    );
    println!("report intake inside the server: {q}");
    Ok(())
}
