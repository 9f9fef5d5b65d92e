//! Exercises end to end: every shipped scenario run by the real binary against a real server at
//! high speed with its expected ratings; a scenario that must fail (a paused feed, so `not_sent`
//! cannot honestly be given) rated Unable to perform for the right reason; purge removes all a
//! run wrote and nothing else, and the campaign replay still agrees after a restart.

use std::path::Path;

use serde_json::{json, Value};

use crate::common::*;

/// Test servers answer `not_sent` only with every feed complete to 5 s before the question
/// (30 s by default), so the stale-feed scenario's pause shows at 60×.
const CONFIG: &str = "[verify]\nwatermark_slack_secs = 5\n";
const SPEED: &str = "60";

fn server(dir: &Path) -> Server {
    let s = Server::start(dir, Some(CONFIG));
    let brand = json!({"display_names": ["ACME Bank"], "sender_ids": ["ACMEBANK", "72263"],
        "callback_numbers": ["1-800-555-0199"], "domains": ["acmebank.com"], "unregistered_policy": "block"});
    let (status, _) = s.send("PUT", "/v1/brands/acme", ADMIN_KEY, Some(&brand));
    assert!(status == 200 || status == 201, "brand: {status}");
    s
}

/// Run `file` (a path or the scenario text) as `run`; the report's JSON.
fn run(s: &Server, dir: &Path, scenario: &str, run: &str) -> Value {
    let out = bin()
        .args([
            "exercise", "run", scenario, "--server", &s.base, "--key", ADMIN_KEY,
        ])
        .args(["--speed", SPEED, "--run-id", run, "--dir"])
        .arg(dir.join("runs"))
        .output()
        .unwrap();
    let stdout = ok_stdout(&out);
    assert!(stdout.contains("overall:"), "{stdout}");
    let aar = std::fs::read(dir.join("runs").join(run).join("aar.json")).unwrap();
    serde_json::from_slice(&aar).unwrap()
}

fn ratings(aar: &Value) -> Vec<(String, String)> {
    aar["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_string(),
                o["rating"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn scenario_path(name: &str) -> String {
    format!("{}/../../exercises/{name}.toml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_shipped_scenario_performs_against_a_real_server() {
    let names = [
        "paired-pattern",
        "campaign-surge",
        "own-number-spoofed",
        "cold-impersonation",
        "stale-feed",
        "lookalike-sender-campaign",
    ];
    let shipped: Vec<String> =
        std::fs::read_dir(format!("{}/../../exercises", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_suffix(".toml")
                    .map(str::to_string)
            })
            .collect();
    for s in &shipped {
        assert!(
            names.contains(&s.as_str()),
            "{s}.toml is shipped but not run here"
        );
    }
    // One server each (the surge is global to a server), all at once.
    let handles: Vec<_> = names
        .iter()
        .map(|name| {
            let name = name.to_string();
            std::thread::spawn(move || {
                let dir = tempfile::tempdir().unwrap();
                let s = server(dir.path());
                let aar = run(
                    &s,
                    dir.path(),
                    &scenario_path(&name),
                    &format!("ex-test-{name}"),
                );
                (name, aar, dir)
            })
        })
        .collect();
    for h in handles {
        let (name, aar, dir) = h.join().unwrap();
        for (objective, rating) in ratings(&aar) {
            assert_eq!(
                rating, "Performed",
                "{name}: objective {objective}\n{aar:#}"
            );
        }
        assert_eq!(aar["overall"], "Performed", "{name}");
        let run_dir = dir.path().join("runs").join(format!("ex-test-{name}"));
        let md = std::fs::read_to_string(run_dir.join("aar.md")).unwrap();
        for section in [
            "## Objectives and capabilities",
            "## Timeline",
            "## Improvement plan",
            "## Data path",
        ] {
            assert!(md.contains(section), "{name}: {section}");
        }
        let csv = std::fs::read_to_string(run_dir.join("timeline.csv")).unwrap();
        assert!(
            csv.lines().count() > aar["timeline"].as_array().unwrap().len(),
            "{name}: {csv}"
        );
    }
}

#[test]
fn a_paused_feed_makes_not_sent_impossible_and_the_report_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path());
    // The same attack, but the team expects the ledger to say "we never sent that".
    let text = std::fs::read_to_string(scenario_path("stale-feed"))
        .unwrap()
        .replace(
            r#"what = 'verdict != "not_sent"'"#,
            r#"what = 'verdict == "not_sent"'"#,
        );
    let file = dir.path().join("expects-not-sent.toml");
    std::fs::write(&file, text).unwrap();
    let aar = run(&s, dir.path(), file.to_str().unwrap(), "ex-test-fails");
    let honest = aar["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "honest")
        .unwrap();
    assert_eq!(honest["rating"], "Unable to perform", "{aar:#}");
    let because = honest["because"].as_str().unwrap();
    assert!(
        because.contains(r#"verdict = "cannot_confirm""#),
        "{because}"
    );
    assert_eq!(aar["overall"], "Unable to perform");
    let plan = aar["plan"].as_array().unwrap();
    assert!(
        plan.iter().any(|r| r["objective"] == "honest" && r["due"].as_str().is_some_and(|d| d.len() == 10)),
        "{plan:?}"
    );
    // The data-path map names the paused feed as behind.
    let feed = aar["data_path"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["source"] == "ex-test-fails.card-alerts")
        .unwrap()
        .clone();
    assert!(
        feed["worst_watermark_age_secs"].as_f64().unwrap() > 5.0,
        "{feed}"
    );

    // The server keeps the report: the API lists it and the analyst's exercise page shows it.
    let (_, _, runs) = s.get("/v1/exercises", Some(AGENT_KEY));
    assert_eq!(runs[0]["run"], "ex-test-fails", "{runs}");
    assert_eq!(runs[0]["overall"], "Unable to perform");
    let analyst = crate::console::Browser::sign_in(&s, "Ana Lyst", "analyst");
    let list = analyst.get("/console/exercises");
    assert!(
        list.text.contains("ex-test-fails") && list.text.contains("Unable to perform"),
        "{}",
        list.text
    );
    let page = analyst.get("/console/exercises/ex-test-fails");
    assert_eq!(page.status, 200);
    for words in [
        "Unable to perform",
        "honest",
        "cannot_confirm",
        "Improvement plan",
        "ex-test-fails.card-alerts",
    ] {
        assert!(page.text.contains(words), "{words}: {}", page.text);
    }
    assert_eq!(analyst.get("/console/exercises/ex-nope").status, 404);
    let agent = crate::console::Browser::sign_in(&s, "Agent Smith", "agent");
    assert_eq!(agent.get("/console/exercises").status, 403, "analysts only");
    let (status, body) = s.send(
        "PUT",
        "/v1/exercises/ex-other/report",
        ADMIN_KEY,
        Some(&aar),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_report"))
    );
    let (status, body) = s.send(
        "PUT",
        "/v1/exercises/ex-other/report",
        ADMIN_KEY,
        Some(&json!({"run": 5})),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_report"))
    );
}

/// Ids of what the server shows, to compare before and after.
fn footprint(s: &Server) -> Value {
    let get = |p: &str| s.get(p, Some(ADMIN_KEY)).2;
    let sources: Vec<Value> = get("/v1/sources")
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["source"].clone())
        .collect();
    let campaigns: Vec<Value> = get("/v1/campaigns")
        .as_array()
        .unwrap()
        .iter()
        .map(|x| json!([x["id"], x["reports"]]))
        .collect();
    json!({"sources": sources, "campaigns": campaigns,
        "customer": get("/v1/customers/c-real")["profile"], "call": get("/v1/calls/CA-real")["call_id"],
        "alerts": get("/v1/customers/c-real/alerts")})
}

#[test]
fn purge_removes_what_a_run_wrote_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = server(dir.path());
    // The institution's own data: a feed, a customer, a call, a reported campaign.
    let now = now_ms();
    s.ingest(&[json!({"source": "cards", "id": "n-real", "customer_id": "c-real", "channel": "sms",
        "sender": "ACMEBANK", "recipient": "+14155550123", "sent_at": rfc3339(now - 60_000), "body": "ACME Bank: code 1234"})]);
    let profile = json!({"phones": ["+14155550123"]});
    let (status, _) = s.send("PUT", "/v1/customers/c-real", INGEST_KEY, Some(&profile));
    assert_eq!(status, 201);
    let call = json!({"call_id": "CA-real", "customer_id": "c-real", "ani": "+14155550123"});
    let (status, _) = s.send("POST", "/v1/calls", AGENT_KEY, Some(&call));
    assert!((200..300).contains(&status), "{status}");
    for i in 0..3 {
        s.ok("POST", "/v1/smish-reports", INGEST_KEY, &json!({"customer_id": format!("c-real-{i}"), "reported_via": "app",
            "body": "ACME Bank: your parcel is held, pay the fee at https://parcel-acme.example/pay"}));
    }
    let before = footprint(&s);
    let a = run(
        &s,
        dir.path(),
        &scenario_path("campaign-surge"),
        "ex-test-purge",
    );
    assert_eq!(a["overall"], "Performed");
    let (_, _, surge) = s.get("/v1/surge", Some(AGENT_KEY));
    assert_eq!(surge["active"], true);
    assert_ne!(footprint(&s), before, "the run wrote something");

    let removed = s.ok(
        "DELETE",
        "/v1/exercises/ex-test-purge",
        ADMIN_KEY,
        &Value::Null,
    );
    for (table, at_least) in [
        ("calls", 6),
        ("claim_verdicts", 6),
        ("customers", 7),
        ("smish_reports", 3),
        ("campaigns_retired", 1),
        ("alerts", 3),
        ("sources", 1),
        ("notifications", 1),
    ] {
        assert!(
            removed["removed"][table].as_u64().unwrap() >= at_least,
            "{table}: {removed}"
        );
    }
    assert_eq!(footprint(&s), before, "exactly what was there before");
    let (_, _, surge) = s.get("/v1/surge", Some(AGENT_KEY));
    assert_eq!(
        surge["active"], false,
        "the surge came from the run's claims"
    );
    let again = s.ok(
        "DELETE",
        "/v1/exercises/ex-test-purge",
        ADMIN_KEY,
        &Value::Null,
    );
    assert_eq!(again["total"], 0);
    let (status, body) = s.send("DELETE", "/v1/exercises/c-real", ADMIN_KEY, None);
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_run")));

    // A new campaign never takes the retired id, and the replay at start agrees with the disk.
    let retired = a["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "reports")
        .unwrap()["answer"]
        .clone();
    for i in 0..3 {
        s.ok("POST", "/v1/smish-reports", INGEST_KEY, &json!({"customer_id": format!("c-new-{i}"), "reported_via": "app",
            "body": "ACME Bank: your tax refund is ready, claim it at https://refund-acme.example/now"}));
    }
    let after = footprint(&s);
    drop(s);
    s = Server::start(dir.path(), Some(CONFIG));
    assert_eq!(
        footprint(&s),
        after,
        "the replay after purge gives the same campaigns ({retired})"
    );
    let (status, _, _) = s.get("/v1/campaigns", Some(AGENT_KEY));
    assert_eq!(status, 200, "no campaign_state_inconsistent after a purge");
}

#[test]
fn a_broken_scenario_is_refused_with_every_problem_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, "version = 1\n[exercise]\nname = \"x\"\ntype = \"drill\"\n\n[[inject]]\nid = \"a\"\nkind = \"call\"\n").unwrap();
    let out = bin()
        .args([
            "exercise",
            "run",
            file.to_str().unwrap(),
            "--server",
            "http://127.0.0.1:9",
            "--key",
            "k",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("problem(s)") && err.contains("line 2") && err.contains("drill"),
        "{err}"
    );
    assert!(err.contains("inject `a`"), "every problem at once: {err}");
}
