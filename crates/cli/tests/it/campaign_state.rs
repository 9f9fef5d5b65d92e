//! Campaign state that cannot drift from the disk: a report whose write fails changes nothing in
//! memory, so after a restart every campaign keeps its id and the analyst's status (the failure
//! is a real SQLite error, raised by a trigger installed from a second connection); retried
//! reports with a `report_id` or `Idempotency-Key` are stored once and answered as the first
//! time; and a restart whose clustering no longer reproduces the stored campaign ids refuses
//! campaign decisions, loudly, instead of moving statuses to other texts.

use serde_json::{json, Value};

use crate::common::*;

const BANK: &str = "[smish]\nbrand_names = [\"ACME Bank\"]\n";

/// Four kinds of scam text, each with its own callback number; `n` varies the amount.
fn text(family: char, n: u32) -> String {
    match family {
        'A' => format!("ACME Bank: Did you authorise ${}.00 at Best Buy? If not call 888-555-0142", 400 + n),
        'B' => format!("USPS: your parcel is held, pay ${}.99 customs at usps-redelivery-{n}.top", n),
        // One wording a report, and one number each: only the shape links them.
        'E' => format!(
            "ACME Bank: Did you {} $480.00 at Best Buy? If not call 888-555-01{n:02}",
            ["authorise", "approve", "make", "expect"][n as usize % 4]
        ),
        'C' => format!("ACME Bank ALERT: your account is locked after {n} failed logins. Verify now at acme-secure-login.co"),
        _ => format!("Toll notice: ${}.50 unpaid. Avoid fees, call 877-555-0190 today", n),
    }
}

fn report(s: &Server, body: &str, key: Option<&str>) -> (u16, Value) {
    let mut r = json!({"reported_via": "app", "body": body, "customer_id": "rosa"});
    if let Some(k) = key {
        r["report_id"] = json!(k);
    }
    s.post("/v1/smish-reports", INGEST_KEY, &r)
}

fn campaign_of(s: &Server, family: char) -> Value {
    let (status, list) = s.send("GET", "/v1/campaigns", AGENT_KEY, None);
    assert_eq!(status, 200, "{list}");
    let needle = match family {
        'A' => "+18885550142",
        'C' => "acme-secure-login.co",
        'E' => "+18885550101",
        _ => "+18775550190",
    };
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c.to_string().contains(needle))
        .cloned()
        .unwrap_or_else(|| panic!("no campaign of family {family} in {list}"))
}

/// Make the next inserts of smishing reports fail as a full disk would (`None` lifts it).
fn fail_report_writes(dir: &std::path::Path, on: bool) {
    let db = rusqlite::Connection::open(dir.join("ledger.sqlite3")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    if on {
        db.execute_batch(
            "CREATE TRIGGER disk_full BEFORE INSERT ON smish_reports
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        )
        .unwrap();
    } else {
        db.execute_batch("DROP TRIGGER disk_full").unwrap();
    }
}

#[test]
fn a_failed_report_write_then_a_restart_keeps_every_campaign_id_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let s = Server::start(&d, Some(BANK));
    for n in 1..=3 {
        assert_eq!(report(&s, &text('A', n), None).0, 200);
    }
    // The parcel scam's first report fails to be written: the client is told so.
    fail_report_writes(&d, true);
    let (status, p) = report(&s, &text('B', 1), Some("app-b1"));
    assert_eq!(
        (status, p["code"].as_str()),
        (503, Some("store_unavailable")),
        "{p}"
    );
    fail_report_writes(&d, false);
    // The lockout scam arrives next and is confirmed by an analyst.
    for n in 1..=3 {
        assert_eq!(report(&s, &text('C', n), None).0, 200);
    }
    let c = campaign_of(&s, 'C');
    let c_id = c["id"].as_u64().unwrap();
    let a_id = campaign_of(&s, 'A')["id"].as_u64().unwrap();
    assert_eq!(
        (a_id, c_id),
        (1, 2),
        "the failed report took no campaign id: memory holds only what the disk holds"
    );
    s.ok(
        "POST",
        &format!("/v1/campaigns/{c_id}/status"),
        ADMIN_KEY,
        &json!({"status": "confirmed", "note": "lockout phish"}),
    );
    // The client retries the failed report: stored once however often it retries.
    let (status, first) = report(&s, &text('B', 1), Some("app-b1"));
    assert_eq!(status, 200, "{first}");
    let (status, again) = report(&s, &text('B', 1), Some("app-b1"));
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["report_id"], first["report_id"]);
    assert_eq!(again["campaign_id"], first["campaign_id"]);
    assert_eq!(
        (first["replayed"].as_bool(), again["replayed"].as_bool()),
        (Some(false), Some(true))
    );
    // The header is the same key.
    let by_header: Value = ureq::post(&s.url("/v1/smish-reports"))
        .set("authorization", &format!("Bearer {INGEST_KEY}"))
        .set("idempotency-key", "app-b1")
        .send_json(json!({"reported_via": "app", "body": text('B', 1), "customer_id": "rosa"}))
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(by_header["report_id"], first["report_id"]);
    // Another report under a used key is refused, not stored.
    let (status, p) = report(&s, &text('B', 2), Some("app-b1"));
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("idempotency_key_reused")),
        "{p}"
    );
    let before: Vec<Value> = ['A', 'C'].iter().map(|f| campaign_of(&s, *f)).collect();
    let blocked_before = s.ok("GET", "/v1/campaigns/indicators", AGENT_KEY, &json!(null));
    drop(s);

    let s = Server::start(&d, Some(BANK));
    let after: Vec<Value> = ['A', 'C'].iter().map(|f| campaign_of(&s, *f)).collect();
    assert_eq!(
        after, before,
        "ids, statuses and counts survive the restart"
    );
    assert_eq!(after[1]["status"], "confirmed");
    assert_eq!(after[1]["reports"], 3);
    let blocked = s.ok("GET", "/v1/campaigns/indicators", AGENT_KEY, &json!(null));
    assert_eq!(blocked, blocked_before);
    assert_eq!(blocked["domains"], json!(["acme-secure-login.co"]));
    let metrics = s.get("/metrics", Some(ADMIN_KEY)).2;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("countersign_campaign_replay_mismatches 0"),
        "{metrics}"
    );
}

#[test]
fn a_replay_that_no_longer_reproduces_the_stored_ids_refuses_campaign_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let s = Server::start(&d, Some(BANK));
    for n in 1..=4 {
        assert_eq!(report(&s, &text('E', n), None).0, 200);
        assert_eq!(report(&s, &text('D', n * 7), None).0, 200);
    }
    let a = campaign_of(&s, 'E');
    assert_eq!(a["reports"], 4, "{a}");
    s.ok(
        "POST",
        &format!("/v1/campaigns/{}/status", a["id"]),
        ADMIN_KEY,
        &json!({"status": "confirmed"}),
    );
    drop(s);
    // Restarted with stricter clustering, the same reports would form other campaigns.
    let stricter = format!("{BANK}shape_similarity = 0.99\n");
    let s = Server::start(&d, Some(&stricter));
    for path in [
        "/v1/campaigns",
        "/v1/campaigns/1",
        "/v1/campaigns/indicators",
    ] {
        let (status, p) = s.send("GET", path, AGENT_KEY, None);
        assert_eq!(
            (status, p["code"].as_str()),
            (503, Some("campaign_state_inconsistent")),
            "{path}: {p}"
        );
        assert!(
            p["detail"].as_str().unwrap().contains("shape_similarity"),
            "{p}"
        );
    }
    let (status, p) = report(&s, &text('E', 9), None);
    assert_eq!(
        (status, p["code"].as_str()),
        (503, Some("campaign_state_inconsistent"))
    );
    let metrics = s.get("/metrics", Some(ADMIN_KEY)).2;
    assert!(
        !metrics
            .as_str()
            .unwrap()
            .contains("countersign_campaign_replay_mismatches 0\n"),
        "{metrics}"
    );
    // The SMS filter no longer blocks on the confirmed campaign's number: a status that may now
    // name other texts is not applied (sender-ID checks go on).
    let blocks_campaign = |s: &Server| {
        let (status, v) = s.post(
            "/v1/sms/evaluate",
            SMS_KEY,
            &json!({"sender": "+12025550100", "body": "Fraud alert: call 888-555-0101 now"}),
        );
        assert_eq!(status, 200, "{v}");
        v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "campaign_indicator")
    };
    assert!(!blocks_campaign(&s));
    drop(s);
    // The settings the reports were clustered with, restored: everything is back.
    let s = Server::start(&d, Some(BANK));
    assert_eq!(campaign_of(&s, 'E'), a_with_status(a, "confirmed"));
    assert!(blocks_campaign(&s));
}

fn a_with_status(mut c: Value, status: &str) -> Value {
    c["status"] = json!(status);
    c
}
