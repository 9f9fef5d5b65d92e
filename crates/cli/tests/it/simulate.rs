//! `countersign simulate` end to end on a small world (seconds): the report's files, the
//! validation passing, full Countersign beating every baseline, the obvious scenario caught in
//! full, parameters refused with every problem named, and the same scores through a running
//! server's API as through the services in process.

use std::path::{Path, PathBuf};

use crate::common::*;

/// `countersign simulate ARGS --config DIR/sim.toml --out DIR/OUT` on the world `config` (TOML);
/// the output directory and stdout (the run must succeed).
fn simulate(dir: &Path, config: &str, out: &str, args: &[&str]) -> (PathBuf, String) {
    let cfg = dir.join("sim.toml");
    std::fs::write(&cfg, config).unwrap();
    let out = dir.join(out);
    let o = bin()
        .arg("simulate")
        .args(args)
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    (out, ok_stdout(&o))
}

#[test]
fn a_small_run_writes_the_report_and_the_ledger_beats_every_baseline() {
    let dir = tempfile::tempdir().unwrap();
    // More fraud than life (1 in 50) so a small run has enough fraud calls to compare.
    let world = "customers = 1500\ndays = 14\ncalls = 8000\nbase_rate = 0.02\n[campaigns]\ncount = 6\ntargets_per_campaign = 600\n";
    let (out, stdout) = simulate(dir.path(), world, "report", &["--seed", "3"]);
    assert!(stdout.contains("Countersign with the ledger"), "{stdout}");
    for f in [
        "report.md",
        "summary.csv",
        "roc.csv",
        "pr.csv",
        "roc.svg",
        "pr.svg",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(!md.contains("MISMATCH"), "{md}");
    assert!(md.contains("The three largest groups"), "{md}");
    // summary.csv: defence, budget, tpr, …, average_precision (column 10).
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let rows: Vec<Vec<String>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let metric = |defence: &str, budget: &str, col: usize| -> f64 {
        rows.iter()
            .find(|r| r[0] == defence && r[1] == budget)
            .unwrap_or_else(|| panic!("{defence} {budget} in {csv}"))[col]
            .parse()
            .unwrap()
    };
    let full = "Countersign with the ledger";
    for baseline in [
        "Caller ID only",
        "Knowledge questions only",
        "Countersign without the ledger",
    ] {
        assert!(
            metric(full, "0.01", 9) > metric(baseline, "0.01", 9),
            "average precision: the ledger beats {baseline}\n{csv}"
        );
        assert!(
            metric(full, "0.01", 2) > metric(baseline, "0.01", 2),
            "detection at 1%: the ledger beats {baseline}\n{csv}"
        );
    }
    // The same seed gives the same figures.
    let (again, _) = simulate(dir.path(), world, "again", &["--seed", "3"]);
    assert_eq!(
        std::fs::read_to_string(again.join("summary.csv")).unwrap(),
        csv
    );
}

#[test]
fn the_obvious_scenario_is_caught_in_full_and_bad_parameters_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["simulate", "--sanity", "--out"])
        .arg(dir.path().join("sanity"))
        .output()
        .unwrap();
    assert!(ok_stdout(&o).contains("every fraud call citing a text never sent"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "base_rate = 2.0\n[kba]\nfraud_pass = -1\n").unwrap();
    let o = bin()
        .args(["simulate", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("base_rate") && err.contains("kba.fraud_pass"),
        "{err}"
    );
    std::fs::write(&bad, "calls = 10\nfraud_rate = 0.1\n").unwrap();
    let o = bin()
        .args(["simulate", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("fraud_rate"),
        "unknown keys refused"
    );
}

#[test]
fn the_api_and_the_services_in_process_give_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    let world = "customers = 300\ndays = 7\ncalls = 1200\nbase_rate = 0.03\n[campaigns]\ncount = 3\ntargets_per_campaign = 150\nreport_rate = 0.05\n";
    // One world for both runs, whatever the time of day.
    let end = rfc3339(now_ms().div_euclid(86_400_000) * 86_400_000);
    let run = |out: &str, server: Option<&Server>| {
        let mut args = vec!["--seed", "5", "--end", &end];
        if let Some(s) = server {
            args.extend(["--server", &s.base, "--key", SIM_KEY]);
        }
        let (out, _) = simulate(dir.path(), world, out, &args);
        std::fs::read_to_string(out.join("roc.csv")).unwrap()
    };
    let local = run("local", None);
    // A staging server for simulation: its clock settable, its request rates unlimited (the
    // client also waits out a 429, but a replay at full speed should not have to).
    let s = Server::spawn(
        &dir.path().join("d"),
        Some("settable_clock = true\n[limits]\nrate_ingest_per_sec = 0\nrate_agent_per_sec = 0\nrate_admin_per_sec = 0\n"),
    );
    let remote = run("remote", Some(&s));
    assert_eq!(
        local, remote,
        "every defence's curve is the same either way"
    );

    // A server on the system clock refuses to have it moved.
    let plain = Server::start(&dir.path().join("p"), None);
    let (code, body) = plain.send(
        "PUT",
        "/v1/admin/clock",
        ADMIN_KEY,
        Some(&serde_json::json!({"now": end})),
    );
    assert_eq!(
        (code, body["code"].as_str()),
        (409, Some("clock_not_settable"))
    );
}

#[test]
fn the_sweep_redraws_a_run_per_value_and_writes_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let world = "customers = 300\ndays = 7\ncalls = 1200\nbase_rate = 0.05\n[campaigns]\ncount = 3\ntargets_per_campaign = 150\n[sweep]\ncite_shares = [0.3, 0.9]\nbase_rates = [0.02, 0.05]\ndelay_mins = [[1, 20], [1440, 2880]]\n";
    let (out, _) = simulate(dir.path(), world, "out", &["--sweep"]);
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    // Two defences × six runs, and a report per run.
    assert_eq!(csv.lines().count(), 1 + 2 * 6, "{csv}");
    for run in 1..=6 {
        assert!(out.join(format!("sweep-{run}/report.md")).exists());
    }
    // Each run is re-drawn: the base-rate rows have the fraud calls their rate gives.
    let frauds: Vec<(String, String)> = csv
        .lines()
        .filter(|l| l.starts_with("base rate,"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].to_string(), f[3].to_string())
        })
        .collect();
    assert!(
        frauds.contains(&("1 in 50".into(), "24".into())),
        "{frauds:?}"
    );
    assert!(
        frauds.contains(&("1 in 20".into(), "60".into())),
        "{frauds:?}"
    );
    let md = std::fs::read_to_string(out.join("sweep.md")).unwrap();
    for row in ["| 0.9 |", "| 1 in 50 |", "| 1–2 days |", "| 1–20 minutes |"] {
        assert!(md.contains(row), "{row} in {md}");
    }
    // A sweep whose base rate gives the world no fraud call is refused up front.
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, "calls = 100\n").unwrap();
    let o = bin()
        .args(["simulate", "--sweep", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no fraud call"));
}

#[test]
fn a_policy_fitted_on_one_seed_is_compared_on_another() {
    let dir = tempfile::tempdir().unwrap();
    let world = "customers = 400\ndays = 7\ncalls = 2000\nbase_rate = 0.04\n[campaigns]\ncount = 3\ntargets_per_campaign = 200\n";
    let (out, _) = simulate(dir.path(), world, "out", &["--fit"]);
    let md = std::fs::read_to_string(out.join("fit.md")).unwrap();
    assert!(
        md.contains("| default |") && md.contains("| fitted |"),
        "{md}"
    );
    assert!(
        md.contains("Fitted on seed 2") && md.contains("scored on seed 1"),
        "{md}"
    );
    // The fitted policy is one the server loads.
    let text = std::fs::read_to_string(out.join("fitted.toml")).unwrap();
    let p = countersign_core::score::Policy::parse(&text).unwrap();
    assert!(p.version.starts_with("fit-"), "{}", p.version);
    assert_ne!(
        p.weights,
        countersign_core::score::Policy::default().weights
    );
}
