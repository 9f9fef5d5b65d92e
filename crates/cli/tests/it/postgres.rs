//! The real `countersign` binary on PostgreSQL (`store = "postgres"`): each test on its own
//! database of the machine's server (see `countersign_store::contract::pg`). What a deployment
//! on a shared database needs first: everything works through the API, survives kill -9 and a
//! restart, and a second node answers at once for what the first acknowledged.
#![allow(clippy::unwrap_used)]

use serde_json::json;

use crate::common::*;

/// A test database, or `None` (skipped, said on stderr) when there is no server outside CI.
fn database() -> Option<countersign_store::contract::pg::TestDb> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(countersign_store::contract::pg::TestDb::create())
}

fn config(url: &str) -> String {
    format!(
        "store = \"postgres\"\ndatabase_url = {url:?}\ndatabase_pool_max = 4\nbody_hmac_key = \"{}\"\n[smish]\nbrand_names = [\"ACME Bank\"]\n",
        "22".repeat(32)
    )
}

const FAKE: &str = "ACME Bank: Did you authorise a purchase of $99.00 at Walmart? If not, call us now at 888-555-0144.";

#[test]
fn postgres_serves_survives_kill9_and_a_second_node_answers_at_once() {
    let Some(db) = database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&db.url);
    let mut a = Server::spawn(&dir.path().join("a"), Some(&cfg));
    let b = Server::spawn(&dir.path().join("b"), Some(&cfg));
    let now = now_ms();
    let hour = 3_600_000;

    // Acknowledged on A, confirmed on B on the first try: no replica, no cache in between.
    a.maria_card_alert(now);
    let claim = json!({"customer_id": "maria", "channel": "sms", "received_at": rfc3339(now - 3 * hour),
        "mentions": {"amount": "$480", "merchant": "Best Buy"}});
    assert_eq!(b.verify(&claim)["verdict"], "confirmed");
    let forged = json!({"customer_id": "maria", "channel": "sms", "received_at": rfc3339(now - 3 * hour),
        "mentions": {"amount": "$99", "merchant": "Walmart"}});
    assert_eq!(b.verify(&forged)["verdict"], "not_sent");
    assert_eq!(
        b.verify(&json!({"customer_id": "nobody", "channel": "sms"}))["verdict"],
        "cannot_confirm",
        "an unknown customer is never told not_sent"
    );

    // A call and its claim on B; a smishing report on A.
    b.ok(
        "POST",
        "/v1/calls",
        AGENT_KEY,
        &json!({"call_id": "CA-pg-1", "customer_id": "maria", "ani": "+14155550199"}),
    );
    let answer = b.ok(
        "POST",
        "/v1/calls/CA-pg-1/claims",
        AGENT_KEY,
        &json!({"channel": "sms", "received_at": rfc3339(now - 3 * hour),
            "mentions": {"amount": "$99", "merchant": "Walmart"}}),
    );
    assert_eq!(answer["verification"]["verdict"], "not_sent");
    let report = a.ok(
        "POST",
        "/v1/smish-reports",
        INGEST_KEY,
        &json!({"reporter_number": "+14155550177", "body": FAKE, "reported_via": "7726"}),
    );
    let campaign = report["campaign_id"].as_u64().unwrap();

    // kill -9 A: everything it acknowledged is on the database.
    a.kill9();
    let (st, call) = b.send("GET", "/v1/calls/CA-pg-1", AGENT_KEY, None);
    assert_eq!(st, 200, "{call}");
    assert_eq!(call["claims"][0]["verdict"], "not_sent");
    let again = Server::spawn(&dir.path().join("a2"), Some(&cfg));
    let dup = again.ingest(&[sms(
        "cards",
        "n1",
        "maria",
        now - 3 * hour,
        "$479.99",
        "BESTBUY #1123",
        "4417",
    )]);
    assert_eq!(
        (dup["accepted"].as_u64(), dup["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    // The restarted node replays the stored reports into the same campaign.
    let (st, c) = again.send("GET", &format!("/v1/campaigns/{campaign}"), AGENT_KEY, None);
    assert_eq!(st, 200, "{c}");
    let (_, _, ready) = again.get("/readyz", None);
    assert_eq!(ready["status"], "ready");
    // The database gone: not ready (a load balancer stops sending it calls), said plainly.
    drop(db);
    let (st, _, v) = again.get("/readyz", None);
    assert_eq!(
        (st, v["code"].as_str()),
        (503, Some("store_unavailable")),
        "{v}"
    );
}

#[test]
fn postgres_refuses_to_start_without_a_shared_hmac_key_or_url() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, "store = \"postgres\"\n").unwrap();
    let out = bin().args(["serve", "--config"]).arg(&p).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("database_url") && err.contains("body_hmac_key"),
        "{err}"
    );
}

/// Three `countersign serve` processes on one database against one embedded node given the
/// same requests: velocity across nodes, campaign ids, a brand registered on one node blocking
/// on another within a second or so; then kill -9 one node under ingest with the webhook down:
/// every acknowledged record is there exactly once, no survivor answers a false `not_sent`, and
/// the survivors deliver every alert once the receiver is back.
#[test]
fn three_nodes_on_one_database_answer_as_one() {
    let Some(db) = database() else { return };
    let hook = crate::campaigns::receiver();
    let alerts = format!(
        "[alerts]\nwebhook_url = {:?}\nwebhook_secret = \"a-shared-secret-of-32-characters\"\nretry_max_backoff_secs = 1\nwebhook_timeout_secs = 1\n",
        hook.url
    );
    let cfg = format!("{}{alerts}", config(&db.url));
    let dir = tempfile::tempdir().unwrap();
    let mut nodes: Vec<Server> = (0..3)
        .map(|i| Server::spawn(&dir.path().join(format!("n{i}")), Some(&cfg)))
        .collect();
    let one = Server::start(
        &dir.path().join("single"),
        Some(&format!("[smish]\nbrand_names = [\"ACME Bank\"]\n{alerts}")),
    );

    // One number calling about ten customers, the calls spread over the nodes, scores as on
    // one node.
    for i in 0..10 {
        let call = json!({"call_id": format!("CA-v{i}"), "customer_id": format!("vel-{i}"),
            "ani": "+12025550147"});
        let shared = nodes[i % 3].ok("POST", "/v1/calls", AGENT_KEY, &call);
        let single = one.ok("POST", "/v1/calls", AGENT_KEY, &call);
        assert_eq!(signals(&shared), signals(&single), "call {i}");
        assert_eq!(shared["score"], single["score"], "call {i}");
        if i == 9 {
            assert!(
                signals(&shared)
                    .iter()
                    .any(|s| s.starts_with("ani_velocity")),
                "{shared}"
            );
        }
    }
    // The same call id started on another node is the same call.
    nodes[1].refused(
        "POST",
        "/v1/calls",
        AGENT_KEY,
        Some(&json!({"call_id": "CA-v0", "customer_id": "vel-0", "ani": "+12025550147"})),
        409,
        "call_exists",
    );

    // Reports taken by whichever node, in one order: the campaign ids of one node replaying them.
    let mut rng = fastrand::Rng::with_seed(11);
    let reports = crate::campaigns::campaign_reports(&mut rng);
    let now = now_ms();
    for (i, (_, text)) in reports.iter().take(45).enumerate() {
        let body = json!({"customer_id": format!("cust-{}", i % 20), "body": text,
            "received_at": rfc3339(now - (60 - i as i64) * 60_000), "reported_via": "app"});
        let shared = nodes[i % 3].ok("POST", "/v1/smish-reports", INGEST_KEY, &body);
        let single = one.ok("POST", "/v1/smish-reports", INGEST_KEY, &body);
        assert_eq!(
            (shared["report_id"].as_u64(), shared["campaign_id"].as_u64()),
            (single["report_id"].as_u64(), single["campaign_id"].as_u64()),
            "report {i}"
        );
    }
    // …and every node lists the same campaigns within a second or so.
    let listing = |s: &Server| {
        let (_, v) = s.send("GET", "/v1/campaigns", AGENT_KEY, None);
        v["campaigns"].clone()
    };
    let expected = listing(&one);
    for n in &nodes {
        eventually("campaigns in step", 10, || {
            (listing(n) == expected).then_some(())
        });
    }

    // A brand registered on one node filters on another.
    let acme = json!({"display_names": ["ACME Bank"], "sender_ids": ["ACMEBANK"]});
    let (st, v) = nodes[0].send("PUT", "/v1/brands/acme", ADMIN_KEY, Some(&acme));
    assert!(st == 200 || st == 201, "{v}");
    let started = std::time::Instant::now();
    eventually("the brand on another node", 10, || {
        let (_, v) = nodes[2].send(
            "POST",
            "/v1/sms/evaluate",
            SMS_KEY,
            Some(&json!({"sender": "ACME8ANK", "body": "ACME Bank: verify your account"})),
        );
        (v["verdict"] == "block").then_some(())
    });
    eprintln!("brand seen on another node after {:?}", started.elapsed());

    // Every node's health on any node's /metrics.
    let alive = |s: &Server, n: usize| {
        let (_, _, v) = s.get("/metrics", Some(ADMIN_KEY));
        v.as_str()
            .is_some_and(|t| t.contains(&format!("countersign_nodes_alive {n}\n")))
            .then_some(())
    };
    eventually("three nodes alive", 10, || alive(&nodes[1], 3));

    kill9_under_load(&mut nodes, &hook, now);
}

/// kill -9 one node under ingest load with the webhook down: every acknowledged record is there
/// exactly once, no survivor answers a false `not_sent`, the survivors see the node down and
/// deliver every alert once the receiver is back.
fn kill9_under_load(nodes: &mut [Server], hook: &crate::campaigns::Receiver, now: i64) {
    use std::sync::atomic::Ordering;
    let alive = |s: &Server, n: usize| {
        let (_, _, v) = s.get("/metrics", Some(ADMIN_KEY));
        v.as_str()
            .is_some_and(|t| t.contains(&format!("countersign_nodes_alive {n}\n")))
            .then_some(())
    };
    // kill -9 one node under load; the webhook down meanwhile.
    nodes[0].maria_card_alert(now);
    let acked: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Default::default();
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let workers: Vec<_> = bases
        .into_iter()
        .enumerate()
        .map(|(w, base)| {
            let acked = acked.clone();
            std::thread::spawn(move || {
                for b in 0..40 {
                    let batch: Vec<_> = (0..50)
                        .map(|i| {
                            sms(
                                "load",
                                &format!("w{w}-{b}-{i}"),
                                &format!("load-{i}"),
                                now - 60_000,
                                "$1.00",
                                "Shop",
                                "0001",
                            )
                        })
                        .collect();
                    let sent = ureq::post(&format!("{base}/v1/notifications"))
                        .set("authorization", &format!("Bearer {INGEST_KEY}"))
                        .timeout(std::time::Duration::from_secs(30))
                        .send_json(serde_json::Value::Array(batch.clone()));
                    match sent {
                        Ok(r) if r.status() == 200 => acked.lock().unwrap().extend(batch),
                        _ => return,
                    }
                }
            })
        })
        .collect();
    eventually("load under way", 30, || {
        (acked.lock().unwrap().len() >= 1_000).then_some(())
    });
    nodes[0].kill9();
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 1_000);
    for s in &nodes[1..] {
        // Every acknowledged record present, once: sent again, each is a duplicate.
        for chunk in acked.chunks(500) {
            let v = s.ingest(chunk);
            assert_eq!(
                (v["accepted"].as_u64(), v["duplicates"].as_u64()),
                (Some(0), Some(chunk.len() as u64)),
                "{v}"
            );
        }
        // No false not_sent: the genuine alert is confirmed on every survivor.
        let claim = json!({"customer_id": "maria", "channel": "sms", "received_at": rfc3339(now - 3 * 3_600_000),
            "mentions": {"amount": "$480", "merchant": "Best Buy"}});
        assert_eq!(s.verify(&claim)["verdict"], "confirmed");
    }
    eventually("the dead node seen as down", 30, || alive(&nodes[2], 2));
    // The webhook is back: the survivors deliver every alert (what the dead node had claimed
    // is due again when its lease ends).
    hook.up.store(true, Ordering::SeqCst);
    let outbox = |s: &Server| s.send("GET", "/v1/alerts/outbox", ADMIN_KEY, None).1;
    eventually("every alert delivered", 90, || {
        let v = outbox(&nodes[1]);
        (v["pending"] == 0 && v["delivered"].as_u64().unwrap_or(0) > 0).then_some(())
    });
    let delivered = outbox(&nodes[2])["delivered"].as_u64().unwrap();
    let got: std::collections::HashSet<String> = hook
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|(k, _, _)| k.clone())
        .collect();
    assert_eq!(
        got.len() as u64,
        delivered,
        "every alert reached the receiver"
    );
}

/// `bench --store postgres` end to end at a tiny size: every part runs against the real server
/// and database and prints its figure, and the scale phase compares one node with two at each
/// client count and then at capacity. (The figures are not judged: timings are never a test.)
#[test]
fn bench_on_postgres_runs_every_part() {
    let Some(db) = database() else { return };
    let out = bin()
        .args(["bench", "--store", "postgres", "--database-url", &db.url])
        .args("--preload 2000 --customers 200 --ingest 2000 --batch 500".split(' '))
        .args("--verifications 200 --calls-preload 500 --calls 100".split(' '))
        .args("--scale-clients 2,4 --only preload,ingest,verify,calls,scale".split(' '))
        .output()
        .unwrap();
    let text = ok_stdout(&out);
    for figure in [
        "preload: 2000 notifications stored",
        "HTTP ingest reaches",
        "verify over HTTP: 200 verifications",
        "call scoring over HTTP: 100 calls scored",
        "scale: at 2 clients two nodes",
        "scale: at 4 clients two nodes",
        "scale: capacity (the best median rate over 2, 4 clients)",
    ] {
        assert!(text.contains(figure), "{figure:?} missing from:\n{text}");
    }
}
