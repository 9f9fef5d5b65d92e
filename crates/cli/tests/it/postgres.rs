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
