//! `countersign simulate`: draw the paired-pattern world for a seed, load its ledger into a fresh
//! embedded store, replay every smishing report and call through the real server services in
//! time order (on a clock the run sets), and write the detection report against the baselines.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use countersign_core::alerts::AlertRule;
use countersign_core::call::CallIn;
use countersign_core::profile::{validate_profile, ProfileIn};
use countersign_core::report::{validate_report, ReportIn};
use countersign_core::score::{Policy, Score};
use countersign_core::validate::validate_notification;
use countersign_core::verify::ClaimIn;
use countersign_core::Millis;
use countersign_server::config::ServerConfig;
use countersign_server::services::calls::{add_claim, start_call};
use countersign_server::{AppState, SharedState};
use countersign_sim::report::{self, Check, Outcome, RunInfo};
use countersign_sim::world::{Event, World};
use countersign_sim::SimConfig;
use countersign_store::prelude::*;
use countersign_store::sqlite::{SqliteOptions, SqliteStore};

use crate::bench::bar;

#[derive(clap::Args, Clone)]
pub struct SimArgs {
    /// The world's parameters (TOML; every key optional, unknown keys refused). Defaults are
    /// published figures; `report.md` lists each with its source.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The run is the same for the same seed and parameters.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Calls to simulate (overrides the config).
    #[arg(long)]
    pub calls: Option<usize>,
    /// Customers (overrides the config).
    #[arg(long)]
    pub customers: Option<usize>,
    /// Where the report goes.
    #[arg(long, default_value = "sim-report")]
    pub out: PathBuf,
    /// Drive a running server over the public API instead of the services in process (slower;
    /// a deployment check). The server needs `settable_clock = true` and a fresh data
    /// directory; the key needs the ingest, agent and admin scopes.
    #[arg(long)]
    pub server: Option<String>,
    #[arg(long, env = "COUNTERSIGN_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// The world ends at this time (RFC 3339; default: the start of today, UTC), so two runs of
    /// one seed on one day — or with one `--end` — are the same world.
    #[arg(long)]
    pub end: Option<String>,
    /// The obvious scenario instead: every attacker cites a card alert that never existed, and
    /// full Countersign must flag every one (the run fails otherwise).
    #[arg(long)]
    pub sanity: bool,
    /// Also sweep what no one has published, one re-drawn run per value on the same seed: the
    /// share of attacker calls citing a text (0.1, 0.3, 0.6, 0.9), the base rate (1 in 2,500,
    /// 961, 599) and the delay from the fake text to the call (minutes to a week) — the
    /// config's `[sweep]` values. Writes `sweep.md` and `sweep.csv`.
    #[arg(long)]
    pub sweep: bool,
    /// Also fit the policy (as `policy fit` does on agents' labels) on another seed's run, and
    /// compare it with the default on this seed — held out. Writes `fit.md` and `fitted.toml`.
    #[arg(long)]
    pub fit: bool,
}

/// What a run produced.
pub struct RunResult {
    pub outcomes: Vec<Outcome>,
    pub checks: Vec<Check>,
    pub summary: Vec<report::DefenceSummary>,
}

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let cfg = config(&args)?;
    let problems = cfg.sweep_problems();
    if args.sweep && !problems.is_empty() {
        anyhow::bail!("--sweep: {}", problems.join("; "));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let end = match &args.end {
        Some(t) => countersign_core::validate::parse_time("--end", t)
            .map_err(|r| anyhow::anyhow!("{}", r.detail))?,
        None => countersign_server::now_ms().div_euclid(86_400_000) * 86_400_000,
    };
    let target = match &args.server {
        Some(url) => Target::Server {
            base: url.trim_end_matches('/').to_string(),
            key: args.key.clone().context(
                "--server needs --key (or COUNTERSIGN_API_KEY) with ingest, agent and admin scopes",
            )?,
        },
        None => Target::InProcess,
    };
    let r = rt.block_on(simulate(
        &cfg, args.seed, end, &target, None, &args.out, true,
    ))?;
    if args.sweep {
        rt.block_on(sweep(&cfg, args.seed, end, &target, &args.out))?;
    }
    if args.fit {
        rt.block_on(fit(&cfg, args.seed, end, &r, &args.out))?;
    }
    println!("\n{}", table(&r));
    println!("report: {}", args.out.join("report.md").display());
    let failed: Vec<&Check> = r.checks.iter().filter(|c| !c.passes()).collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "validation failed — the run does not reproduce its own targets: {}",
            failed
                .iter()
                .map(|c| format!(
                    "{} configured {:.4}, observed {:.4} (n = {})",
                    c.what, c.configured, c.observed, c.n
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    if args.sanity {
        let missed = r
            .outcomes
            .iter()
            .filter(|o| o.truth.fraud && o.action < 2)
            .count();
        if missed > 0 {
            anyhow::bail!("sanity scenario: {missed} fraud calls citing a text never sent were not sent to a call-back");
        }
        println!(
            "sanity scenario: every fraud call citing a text never sent was sent to a call-back"
        );
    }
    Ok(())
}

/// One run per value swept, each re-drawn on the same seed with one parameter changed; for
/// each, detection at 1% of genuine calls flagged (with its interval) by the full defence and
/// without the ledger, and the precision there. Writes `sweep.md` and `sweep.csv`.
async fn sweep(
    cfg: &SimConfig,
    seed: u64,
    end: Millis,
    target: &Target,
    out: &Path,
) -> anyhow::Result<()> {
    let mut md = String::from(
        "# Sweeps: what no one has published\n\n\
         Each row is a run re-drawn on the same seed with one parameter changed (the rest as configured); detection is at 1% of genuine calls flagged, with its 95% interval and the number of fraud calls behind it; precision is at the same point, at the row's base rate.\n",
    );
    let mut csv = String::from(
        "parameter,value,defence,fraud_calls,tpr_at_1pct,tpr_low,tpr_high,fpr,precision\n",
    );
    let mut runs: Vec<(&str, String, SimConfig)> = Vec::new();
    let sw = &cfg.sweep;
    for &share in &sw.cite_shares {
        let mut c = cfg.clone();
        c.fraud.cite_share = share;
        runs.push(("attacker calls citing a text", format!("{share}"), c));
    }
    for &rate in &sw.base_rates {
        let mut c = cfg.clone();
        c.base_rate = rate;
        runs.push(("base rate", format!("1 in {:.0}", 1.0 / rate), c));
    }
    for &mins in &sw.delay_mins {
        let mut c = cfg.clone();
        c.fraud.delay_mins = Some(mins);
        runs.push((
            "delay from the fake text to the call",
            countersign_sim::config::delay_words(mins),
            c,
        ));
    }
    let mut section = "";
    for (i, (what, value, c)) in runs.iter().enumerate() {
        if *what != section {
            section = what;
            md.push_str(&format!(
                "\n## {}{}\n\n| {what} | fraud calls | detected, with the ledger | without the ledger | precision with the ledger |\n|---|---|---|---|---|\n",
                what[..1].to_uppercase(),
                &what[1..]
            ));
        }
        println!("sweep {}/{}: {what} = {value}", i + 1, runs.len());
        let dir = out.join(format!("sweep-{}", i + 1));
        let r = simulate(c, seed, end, target, None, &dir, true).await?;
        let frauds = r.outcomes.iter().filter(|o| o.truth.fraud).count();
        for d in &r.summary[2..] {
            let a = d.at[2];
            csv.push_str(&format!(
                "{what},{value},{},{frauds},{:.6},{:.6},{:.6},{:.6},{:.6}\n",
                d.name, a.point.tpr, a.ci.0, a.ci.1, a.point.fpr, a.point.precision
            ));
        }
        let pct = |d: &report::DefenceSummary| {
            let a = d.at[2];
            format!(
                "{:.1}% ({:.1}–{:.1})",
                a.point.tpr * 100.0,
                a.ci.0 * 100.0,
                a.ci.1 * 100.0
            )
        };
        let (full, without) = (&r.summary[3], &r.summary[2]);
        md.push_str(&format!(
            "| {value} | {frauds} | {} | {} | {:.1}% |\n",
            pct(full),
            pct(without),
            full.at[2].point.precision * 100.0
        ));
    }
    std::fs::write(out.join("sweep.md"), md)?;
    std::fs::write(out.join("sweep.csv"), csv)?;
    println!("sweep: {}", out.join("sweep.md").display());
    Ok(())
}

/// Fit on seed + 1, then score this seed with the fitted policy; `base` is this seed's run with
/// the default policy.
async fn fit(
    cfg: &SimConfig,
    seed: u64,
    end: Millis,
    base: &RunResult,
    out: &Path,
) -> anyhow::Result<()> {
    let train_seed = seed.wrapping_add(1);
    println!("fit: training on seed {train_seed}");
    let train = simulate(
        cfg,
        train_seed,
        end,
        &Target::InProcess,
        None,
        &out.join("fit-train"),
        true,
    )
    .await?;
    let labelled: Vec<(Vec<(String, f64)>, bool)> = train
        .outcomes
        .iter()
        .map(|o| (o.features.clone(), o.truth.fraud))
        .collect();
    let fitted = crate::fit::fit_labelled(&labelled, &Policy::default(), 20)?;
    std::fs::write(out.join("fitted.toml"), toml::to_string(&fitted)?)?;
    println!("fit: scoring the held-out seed {seed} with the fitted policy");
    let held = simulate(
        cfg,
        seed,
        end,
        &Target::InProcess,
        Some(&fitted),
        &out.join("fit-heldout"),
        true,
    )
    .await?;
    let mut md = format!(
        "# The default policy against one fitted on another seed\n\nFitted on seed {train_seed} ({} calls, every one labelled with its truth) by the same logistic regression as `countersign policy fit`; both scored on seed {seed}, which the fit never saw. `fitted.toml` is the fitted policy.\n\n| policy | detected @0.1% | @0.5% | @1% | average precision | call back or block: fraud | genuine |\n|---|---|---|---|---|---|---|\n",
        train.outcomes.len()
    );
    for (name, r) in [("default", base), ("fitted", &held)] {
        let d = &r.summary[3];
        let (tpr, fpr) = report::operating_point(&r.outcomes, 2, false);
        md.push_str(&format!(
            "| {name} | {:.1}% | {:.1}% | {:.1}% | {:.3} | {:.1}% | {:.1}% |\n",
            d.at[0].point.tpr * 100.0,
            d.at[1].point.tpr * 100.0,
            d.at[2].point.tpr * 100.0,
            d.average_precision,
            tpr * 100.0,
            fpr * 100.0
        ));
    }
    std::fs::write(out.join("fit.md"), md)?;
    println!("fit: {}", out.join("fit.md").display());
    Ok(())
}

/// The parameters: the sanity scenario or the file (or the defaults), with the overrides.
pub fn config(args: &SimArgs) -> anyhow::Result<SimConfig> {
    let mut cfg = if args.sanity {
        countersign_sim::world::sanity_config()
    } else if let Some(p) = &args.config {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
    } else {
        SimConfig::default()
    };
    if let Some(n) = args.calls {
        cfg.calls = n;
    }
    if let Some(n) = args.customers {
        cfg.customers = n;
    }
    let problems = cfg.problems();
    if !problems.is_empty() {
        anyhow::bail!("the simulation's parameters:\n  {}", problems.join("\n  "));
    }
    Ok(cfg)
}

/// The short table printed at the end of a run.
pub fn table(r: &RunResult) -> String {
    let mut s = format!(
        "{:<32} {:>14} {:>14} {:>14} {:>8}\n",
        "defence", "detected@0.1%", "@0.5%", "@1%", "AP"
    );
    for d in &r.summary {
        s.push_str(&format!(
            "{:<32} {:>13.1}% {:>13.1}% {:>13.1}% {:>8.3}\n",
            d.name,
            d.at[0].point.tpr * 100.0,
            d.at[1].point.tpr * 100.0,
            d.at[2].point.tpr * 100.0,
            d.average_precision
        ));
    }
    s
}

/// Where the calls are scored.
pub enum Target {
    /// The server's services in this process, on a fresh embedded store.
    InProcess,
    /// A running server (with `settable_clock`), over its public API.
    Server { base: String, key: String },
}

/// Draw, load, replay and report; files in `out`.
pub async fn simulate(
    cfg: &SimConfig,
    seed: u64,
    end: Millis,
    target: &Target,
    policy: Option<&Policy>,
    out: &Path,
    progress: bool,
) -> anyhow::Result<RunResult> {
    let t0 = Instant::now();
    let world = World::generate(cfg, seed, end);
    let world_secs = t0.elapsed().as_secs_f64();
    let data = tempfile::tempdir()?;
    let mut store = None;
    let t1 = Instant::now();
    let (driver, notifications) = match target {
        Target::InProcess => {
            // Loaded through the writer thread (validation and writing on both cores), then
            // replayed on one inline connection (one sequential caller: BENCHMARKS.md).
            let s = Arc::new(SqliteStore::open(data.path(), sim_store_options(false))?);
            let loader = Arc::new(local_state(cfg, s.clone(), world.end)?);
            let n = load_local(&loader, &world, progress).await?;
            s.flush().await?;
            s.close();
            let s = Arc::new(SqliteStore::open(data.path(), sim_store_options(true))?);
            store = Some(s.clone());
            let st = Arc::new(local_state(cfg, s, world.end)?);
            if let Some(p) = policy {
                *st.policy.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(p.clone());
            }
            countersign_server::prepare(&st).await?;
            (Driver::Local(st), n)
        }
        Target::Server { .. } if policy.is_some() => {
            anyhow::bail!("a fitted policy is tried in process only (run --fit without --server)")
        }
        Target::Server { base, key } => {
            let r = crate::sim_http::Remote::new(base, key);
            let n = tokio::task::block_in_place(|| r.load(&world, progress))?;
            (Driver::Remote(r), n)
        }
    };
    let load_secs = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let (outcomes, reports) = replay(&driver, &world, progress).await?;
    let score_secs = t2.elapsed().as_secs_f64();
    if let Some(store) = store {
        store.flush().await?;
        store.close();
    }
    let checks = checks(cfg, &world, &outcomes, reports);
    let summary = report::summarise(&outcomes, cfg);
    let info = RunInfo {
        seed,
        notifications,
        reports,
        world_secs,
        load_secs,
        score_secs,
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let files = [
        (
            "report.md",
            report::markdown(cfg, &info, &outcomes, &summary, &checks),
        ),
        ("summary.csv", report::summary_csv(&summary)),
        ("roc.csv", report::curve_csv(&summary, false)),
        ("pr.csv", report::curve_csv(&summary, true)),
        ("roc.svg", report::svg(&summary, false)),
        ("pr.svg", report::svg(&summary, true)),
    ];
    for (name, text) in files {
        std::fs::write(out.join(name), text)
            .with_context(|| format!("cannot write {}", out.join(name).display()))?;
    }
    Ok(RunResult {
        outcomes,
        checks,
        summary,
    })
}

/// The simulation's two ways in: the services in process, or a server's API.
pub enum Driver {
    Local(SharedState),
    Remote(crate::sim_http::Remote),
}

/// The server's state for a run on `store`, its clock at `now`: the server's defaults, with
/// retention long enough for the world and without the spoofed-notification alerts (an output
/// to customers that nothing scored reads, swept in the background on its own schedule, which
/// a replay on a set clock cannot order).
fn local_state(cfg: &SimConfig, store: Arc<SqliteStore>, now: Millis) -> anyhow::Result<AppState> {
    let mut scfg = ServerConfig {
        retention_days: (cfg.days + 30).max(ServerConfig::default().retention_days),
        ..ServerConfig::default()
    };
    scfg.alerts
        .rules
        .retain(|r| *r != AlertRule::SpoofedNotification);
    // A fixed key: the same quotes hash the same way in every run.
    let key = vec![0x5a; 32];
    Ok(AppState::new(&scfg, store, key)?.with_manual_clock(now))
}

impl Driver {
    fn set_now(&self, at: Millis) -> anyhow::Result<()> {
        match self {
            Driver::Local(st) => {
                st.set_now(at);
                Ok(())
            }
            Driver::Remote(r) => tokio::task::block_in_place(|| r.set_now(at)),
        }
    }

    async fn report(&self, at: Millis, r: &ReportIn) -> anyhow::Result<()> {
        match self {
            Driver::Local(st) => {
                let report = validate_report(
                    r,
                    at,
                    &st.validation.extract,
                    st.validation.limits.id_chars_max,
                )
                .map_err(|r| anyhow::anyhow!("report: {}", r.detail))?;
                countersign_server::services::campaigns::report(st, report)
                    .await
                    .map_err(|p| anyhow::anyhow!("report: {}", p.detail))?;
                Ok(())
            }
            Driver::Remote(rem) => tokio::task::block_in_place(|| rem.report(r)),
        }
    }

    async fn start_call(&self, c: &CallIn) -> anyhow::Result<(String, Score)> {
        match self {
            Driver::Local(st) => {
                let s = start_call(st, c.clone())
                    .await
                    .map_err(|p| anyhow::anyhow!("call {:?}: {}", c.call_id, p.detail))?;
                Ok((s.call_id, s.score))
            }
            Driver::Remote(r) => tokio::task::block_in_place(|| r.start_call(c)),
        }
    }

    async fn claim(&self, call_id: &str, claim: &ClaimIn) -> anyhow::Result<(String, Score)> {
        match self {
            Driver::Local(st) => {
                let a = add_claim(st, call_id, claim.clone(), "simulator")
                    .await
                    .map_err(|p| anyhow::anyhow!("claim on {call_id}: {}", p.detail))?;
                Ok((a.verification.verdict.as_str().to_string(), a.score))
            }
            Driver::Remote(r) => tokio::task::block_in_place(|| r.claim(call_id, claim)),
        }
    }
}

/// The bank's brand, the customers' profiles and the genuine notifications, through the same
/// validation as the API; the feeds declared complete to the end of the world.
async fn load_local(st: &SharedState, world: &World, progress: bool) -> anyhow::Result<usize> {
    let now = world.end;
    st.store
        .put_brand("acme", crate::demo::acme_brand().to_string(), now)
        .await?;
    let extract = &st.validation.extract;
    for chunk in world.customers.chunks(5_000) {
        let mut rows = Vec::with_capacity(chunk.len());
        for c in chunk {
            let p = validate_profile(
                &ProfileIn {
                    customer_id: None,
                    phones: c.phones.clone(),
                    emails: vec![format!("{}@mail.example", c.id)],
                    locale: Some("en-US".into()),
                    app_installed: Some(c.app),
                },
                extract,
            )
            .map_err(|r| anyhow::anyhow!("profile of {}: {}", c.id, r.detail))?;
            rows.push((c.id.clone(), serde_json::to_string(&p)?));
        }
        st.store.put_profiles(rows, now).await?;
    }
    let total: usize = world.sent.iter().map(Vec::len).sum();
    let pb = progress.then(|| bar(total as u64, "ledger"));
    let mut batch = Vec::with_capacity(20_000);
    for (i, sent) in world.sent.iter().enumerate() {
        for k in 0..sent.len() {
            let n = validate_notification(&world.record(i, k), &st.validation, now)
                .map_err(|r| anyhow::anyhow!("notification {i}/{k}: {}", r.detail))?;
            batch.push(n);
            if batch.len() == 20_000 {
                st.store.ingest(std::mem::take(&mut batch), now).await?;
                if let Some(pb) = &pb {
                    pb.inc(20_000);
                }
            }
        }
    }
    st.store.ingest(batch, now).await?;
    for source in ["cards", "messaging"] {
        st.store
            .set_watermark(source, now, Some(world.start - 86_400_000), now)
            .await?;
    }
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    Ok(total)
}

/// Every event in time order through the real services: reports into the campaign clusterer,
/// calls started and scored, cited claims verified and the call re-scored.
async fn replay(
    driver: &Driver,
    world: &World,
    progress: bool,
) -> anyhow::Result<(Vec<Outcome>, usize)> {
    let pb = progress.then(|| bar(world.events.len() as u64, "calls"));
    let mut outcomes = Vec::new();
    let mut reports = 0;
    for (i, e) in world.events.iter().enumerate() {
        if i % 1_000 == 0 {
            if let Some(pb) = &pb {
                pb.set_position(i as u64);
            }
        }
        driver.set_now(e.at())?;
        match e {
            Event::Report(at, r) => {
                driver.report(*at, r).await?;
                reports += 1;
            }
            Event::Call(c) => outcomes.push(call(driver, c).await?),
        }
    }
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    Ok((outcomes, reports))
}

fn features(s: &Score) -> Vec<(String, f64)> {
    s.reasons
        .iter()
        .map(|r| (r.signal.clone(), r.value))
        .collect()
}

fn is_caller_id_signal(signal: &str) -> bool {
    signal.starts_with("ani_") || signal.starts_with("caller_id") || signal.starts_with("verstat")
}

async fn call(driver: &Driver, c: &countersign_sim::world::SimCall) -> anyhow::Result<Outcome> {
    let (call_id, s0) = driver.start_call(&c.call).await?;
    let mut o = Outcome {
        at: c.at,
        truth: c.truth,
        start_score: s0.score,
        start_action: s0.action as u8,
        caller_id_logit: s0
            .reasons
            .iter()
            .filter(|r| is_caller_id_signal(&r.signal))
            .map(|r| r.contribution)
            .sum(),
        score: s0.score,
        action: s0.action as u8,
        verdict: None,
        top_reason: s0.reasons.first().map(|r| r.signal.clone()),
        features: features(&s0),
    };
    if let Some((claim, secs)) = &c.claim {
        driver.set_now(c.at + secs * 1_000 as Millis)?;
        let (verdict, s) = driver.claim(&call_id, claim).await?;
        o.score = s.score;
        o.action = s.action as u8;
        o.verdict = Some(verdict);
        o.top_reason = s.reasons.first().map(|r| r.signal.clone());
        o.features = features(&s);
    }
    Ok(o)
}

/// The run's own rates beside the configured ones.
fn checks(cfg: &SimConfig, world: &World, outcomes: &[Outcome], reports: usize) -> Vec<Check> {
    let share = |what, configured, hits: usize, n: usize| Check {
        what,
        configured,
        observed: hits as f64 / n.max(1) as f64,
        n: n as u64,
    };
    let frauds: Vec<&Outcome> = outcomes.iter().filter(|o| o.truth.fraud).collect();
    let genuine: Vec<&Outcome> = outcomes.iter().filter(|o| !o.truth.fraud).collect();
    let exact: Vec<bool> = genuine
        .iter()
        .filter_map(|o| o.truth.amount_exact)
        .collect();
    let recipients: usize = world.campaigns.iter().map(|c| c.recipients.len()).sum();
    vec![
        // The number of fraud calls is set, not drawn: it must be the configured share exactly
        // (to rounding).
        Check {
            what: "fraud calls per call",
            configured: cfg.base_rate,
            observed: frauds.len() as f64 / outcomes.len().max(1) as f64,
            n: outcomes.len() as u64,
        },
        share(
            "fraudsters passing knowledge questions",
            cfg.kba.fraud_pass,
            frauds.iter().filter(|o| o.truth.kba_pass).count(),
            frauds.len(),
        ),
        share(
            "genuine callers failing knowledge questions",
            cfg.kba.genuine_fail,
            genuine.iter().filter(|o| !o.truth.kba_pass).count(),
            genuine.len(),
        ),
        share(
            "genuine citers saying the amount exactly",
            cfg.genuine.amount_exact,
            exact.iter().filter(|e| **e).count(),
            exact.len(),
        ),
        share(
            "smish recipients who respond",
            cfg.campaigns.response_rate,
            world.smish_responded,
            recipients,
        ),
        share(
            "smish recipients who report it",
            cfg.campaigns.report_rate,
            reports,
            recipients,
        ),
    ]
}

/// The store's options for a run: no fsync (a throwaway store); for the replay, inline (one
/// sequential caller: no thread hand-off per call) with a commit every 65,536 writes and a
/// page cache that holds them (SQLite walks its whole page-cache hash at each commit, so
/// commits must be rare for a large cache to pay; measured in BENCHMARKS.md).
fn sim_store_options(inline: bool) -> SqliteOptions {
    SqliteOptions {
        writer_cache_mib: if inline { 256 } else { 64 },
        group_commit_max: if inline { 65_536 } else { 512 },
        reader_cache_mib: 4,
        durable: false,
        inline,
        ..SqliteOptions::default()
    }
}
