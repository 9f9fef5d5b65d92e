//! The command line, end to end: the crash test (kill -9 during a large ingest), `ingest` of
//! NDJSON and CSV files into a server and into a data directory, `demo`, `purge`, `migrate`,
//! `keygen`, and configuration errors reported before start.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::*;
use serde_json::Value;

const HOUR: i64 = 3_600_000;

fn stored(s: &Server) -> i64 {
    let (_, _, text) = s.get("/metrics", Some(ADMIN_KEY));
    let text = text.as_str().unwrap().to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("countersign_notifications_stored "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn kill_9_during_a_large_ingest_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let mut s = Server::spawn(&data, None);
    let base = s.base.clone();
    let now = now_ms();
    let batch = move |b: usize| -> String {
        (0..2000)
            .map(|i| {
                sms(
                    "cards",
                    &format!("b{b}-{i}"),
                    &format!("c{}", i % 300),
                    now - HOUR,
                    "$4.20",
                    "SHELL",
                    "1111",
                )
                .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let acked: Arc<Mutex<Vec<usize>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (acked, stop, base) = (acked.clone(), stop.clone(), base.clone());
        writers.push(std::thread::spawn(move || {
            let mut b = w;
            while !stop.load(Ordering::Relaxed) && b < 3000 {
                let res = ureq::post(&format!("{base}/v1/notifications"))
                    .set("authorization", &format!("Bearer {INGEST_KEY}"))
                    .set("content-type", "application/x-ndjson")
                    .send_string(&batch(b));
                match res {
                    Ok(r) => {
                        let v: Value = r.into_json().unwrap();
                        assert_eq!(v["accepted"], 2000);
                        acked.lock().unwrap().push(b);
                    }
                    Err(_) => return b, // the server died mid-request: this batch was not acknowledged
                }
                b += 3;
            }
            b
        }));
    }
    // Let a good number of batches be acknowledged, then pull the plug.
    while acked.lock().unwrap().len() < 15 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    s.kill9();
    stop.store(true, Ordering::Relaxed);
    let in_flight: Vec<usize> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let acked: HashSet<usize> = acked.lock().unwrap().iter().copied().collect();
    assert!(acked.len() >= 15);

    let s = Server::spawn(&data, None);
    let after = stored(&s);
    assert!(
        after >= acked.len() as i64 * 2000,
        "{after} stored, {} acknowledged",
        acked.len() * 2000
    );
    // Retry everything, including the batches that were in flight: acknowledged batches come back
    // entirely as duplicates, and nothing is ever stored twice.
    let mut total_accepted = 0;
    for b in acked
        .iter()
        .copied()
        .chain(in_flight.iter().copied().filter(|b| *b < 3000))
    {
        let (_, _, v) = s.post_raw(
            "/v1/notifications",
            Some(INGEST_KEY),
            "application/x-ndjson",
            batch(b).as_bytes(),
        );
        if acked.contains(&b) {
            assert_eq!(
                (v["accepted"].as_u64(), v["duplicates"].as_u64()),
                (Some(0), Some(2000)),
                "batch {b}: {v}"
            );
        }
        assert_eq!(v["rejected"], 0);
        total_accepted += v["accepted"].as_i64().unwrap();
    }
    assert_eq!(stored(&s), after + total_accepted);
    let distinct: HashSet<usize> = acked
        .iter()
        .chain(in_flight.iter())
        .copied()
        .filter(|b| *b < 3000)
        .collect();
    assert_eq!(
        stored(&s),
        distinct.len() as i64 * 2000,
        "every record exactly once"
    );
}

#[test]
fn ingest_files_into_a_server_and_into_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    let ndjson = dir.path().join("n.ndjson");
    let mut lines: Vec<String> = (0..25)
        .map(|i| {
            sms(
                "cards",
                &format!("f{i}"),
                "maria",
                now - HOUR,
                "$1.00",
                "X",
                "1111",
            )
            .to_string()
        })
        .collect();
    lines.insert(3, "{broken".into());
    std::fs::write(&ndjson, lines.join("\n")).unwrap();
    let csv = dir.path().join("n.csv");
    std::fs::write(
        &csv,
        format!(
            "source,id,customer_id,channel,sender,sent_at,variables.amount,variables.merchant,body\n\
             cards,k1,maria,sms,ACMEBANK,{t},$479.99,BESTBUY #1123,\n\
             cards,k2,maria,sms,ACMEBANK,not-a-time,$1,X,\n\
             cards,k3,john,email,alerts@acme.com,{t},,,\"Your statement, at last\"\n",
            t = rfc3339(now - HOUR)
        ),
    )
    .unwrap();

    let s = Server::spawn(&dir.path().join("d"), None);
    let out = bin()
        .args(["ingest"])
        .arg(&ndjson)
        .args(["--server", &s.base, "--batch", "10"])
        .env("COUNTERSIGN_API_KEY", INGEST_KEY)
        .output()
        .unwrap();
    let text = ok_stdout(&out);
    assert!(
        text.contains("25 accepted, 0 duplicates, 1 rejected"),
        "{text}"
    );
    assert!(text.contains("line 4: malformed_json"), "{text}");

    let out = bin()
        .args(["ingest"])
        .arg(&csv)
        .args(["--server", &s.base, "--key", INGEST_KEY])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 accepted, 0 duplicates, 1 rejected"),
        "{text}"
    );
    assert!(text.contains("line 3: invalid_time"), "{text}");
    let (_, _, t) = s.get("/v1/customers/maria/notifications", Some(AGENT_KEY));
    let k1 = t["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "k1")
        .unwrap()
        .clone();
    assert_eq!(k1["facts"]["merchant"], "BESTBUY #1123");
    assert_eq!(k1["facts"]["amount"]["minor"], 47999);

    // No key: a clear error, not a crash.
    let out = bin()
        .args(["ingest"])
        .arg(&csv)
        .args(["--server", &s.base])
        .env_remove("COUNTERSIGN_API_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("API key"));
    drop(s);

    // Straight into a data directory, then served.
    let d2 = dir.path().join("d2");
    let out = bin()
        .args(["ingest"])
        .arg(&csv)
        .arg("--data-dir")
        .arg(&d2)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 accepted"),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s2 = Server::spawn(&d2, None);
    let (_, _, t) = s2.get("/v1/customers/john/notifications", Some(AGENT_KEY));
    assert_eq!(t["notifications"][0]["body"], "Your statement, at last");
}

#[test]
fn verify_command_answers_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::spawn(&dir.path().join("d"), None);
    let now = now_ms();
    s.maria_card_alert(now);
    let verify = |extra: &[&str]| {
        bin()
            .args([
                "verify",
                "--server",
                &s.base,
                "--key",
                AGENT_KEY,
                "--customer",
                "maria",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = verify(&[
        "--channel",
        "sms",
        "--amount",
        "$480",
        "--merchant",
        "best buy",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("CONFIRMED"), "{text}");
    assert!(text.contains("matched: sms from ACMEBANK"), "{text}");
    let out = verify(&["--channel", "carrier-pigeon"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_channel"));
}

#[test]
fn demo_shows_confirmed_not_sent_and_known_scam_verdicts() {
    let out = bin()
        .args(["demo", "--listen", "127.0.0.1:0", "--no-serve"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("export COUNTERSIGN_API_KEY=cs_"), "{text}");
    // The customer's own check of the fake text, answered plainly.
    assert!(
        text.contains("APP  ACME Bank did not send you this message."),
        "{text}"
    );
    assert!(
        text.contains("+18885550142 is not one of ACME Bank's numbers"),
        "{text}"
    );
    assert!(text.contains("curl -s http://127.0.0.1:"), "{text}");
    let verdicts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            ["CONFIRMED", "NOT SENT", "KNOWN SCAM"]
                .iter()
                .any(|v| l.starts_with(v))
        })
        .collect();
    assert_eq!(verdicts.len(), 3, "{text}");
    assert!(
        verdicts[0].starts_with("CONFIRMED")
            && verdicts[1].starts_with("NOT SENT")
            && verdicts[2].starts_with("KNOWN SCAM"),
        "{text}"
    );
}

#[test]
fn purge_migrate_keygen_and_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let out = bin()
        .args(["migrate", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let latest = countersign_store::sqlite::schema_version();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("migrated schema 0 -> {latest}"))
    );
    let out = bin()
        .args(["migrate", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains(&format!("schema is current (version {latest})")));

    let now = now_ms();
    {
        let s = Server::spawn(&data, None);
        s.ingest(&[
            sms(
                "cards",
                "old",
                "maria",
                now - 100 * 24 * HOUR,
                "$1",
                "X",
                "1111",
            ),
            sms("cards", "new", "maria", now - HOUR, "$1", "X", "1111"),
        ]);
    }
    let out = bin()
        .args(["purge", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("purged 1 notifications"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = Server::spawn(&data, None);
    let (_, _, t) = s.get(
        "/v1/customers/maria/notifications?since=2000-01-01T00:00:00Z",
        Some(AGENT_KEY),
    );
    assert_eq!(t["notifications"].as_array().unwrap().len(), 1);
    let (_, _, log) = s.get("/v1/audit-log", Some(ADMIN_KEY));
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "purge"),
        "{log}"
    );
    drop(s);

    let out = bin()
        .args(["keygen", "--name", "desk", "--scopes", "agent,ingest"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("COUNTERSIGN_API_KEYS='desk:agent+ingest:"),
        "{text}"
    );
    let key = text.lines().nth(1).unwrap().trim().to_string();
    let line = text
        .lines()
        .find(|l| l.contains("COUNTERSIGN_API_KEYS="))
        .unwrap();
    let env_val = line
        .trim()
        .trim_start_matches("COUNTERSIGN_API_KEYS='")
        .trim_end_matches('\'');
    // The generated key works against a server configured with the printed line.
    let mut child = bin()
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("k"))
        .args(["--listen", "127.0.0.1:0"])
        .env("COUNTERSIGN_API_KEYS", env_val)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let base = first.trim().trim_start_matches("listening on ");
    let r = ureq::get(&format!("{base}/v1/sources"))
        .set("authorization", &format!("Bearer {key}"))
        .call();
    assert_eq!(r.unwrap().status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();

    // Serving with no key, or with a bad configuration, fails before start with the reason.
    let out = bin()
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no API keys configured"));
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "retention_days = 0\nbody_retention = \"sometimes\"\n").unwrap();
    let out = bin()
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("body_retention"),
        "{err}"
    );
    std::fs::write(&cfg, "retention_days = 0\n").unwrap();
    let out = bin()
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("retention_days must be at least 1"));
}
