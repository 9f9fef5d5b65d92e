//! End-to-end tests through the public HTTP API of the real server binary: ingest in all three
//! body shapes with bad lines, duplicates, conflicts and limits; every verdict; stale feeds;
//! auth; status updates; feed health; timeline and audit; OpenAPI.

use crate::common::*;
use serde_json::{json, Value};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

#[test]
fn ingest_accepts_object_array_and_ndjson_and_reports_bad_records_by_index() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();

    // One object.
    let one = sms("cards", "o1", "c1", now - HOUR, "$10.00", "SHELL", "1111");
    let (st, v) = s.post("/v1/notifications", INGEST_KEY, &one);
    assert_eq!((st, v["accepted"].as_u64()), (200, Some(1)), "{v}");

    // An array with a bad element between good ones.
    let arr = json!([
        sms("cards", "a1", "c1", now - HOUR, "$1.00", "X", "1111"),
        {"source": "cards", "id": "a2", "customer_id": "c1", "channel": "pigeon", "sent_at": rfc3339(now)},
        sms("cards", "a3", "c1", now - HOUR, "$3.00", "Y", "1111"),
        "not an object",
    ]);
    let (st, v) = s.post("/v1/notifications", INGEST_KEY, &arr);
    assert_eq!(st, 200);
    assert_eq!(v["accepted"], 2, "{v}");
    assert_eq!(v["rejected"], 2);
    assert_eq!(v["errors"][0]["index"], 1);
    assert_eq!(v["errors"][0]["code"], "invalid_channel");
    assert_eq!(v["errors"][0]["id"], "a2");
    assert_eq!(v["errors"][1]["index"], 3);
    assert_eq!(v["errors"][1]["code"], "invalid_record");

    // NDJSON with a malformed line, a future record, a duplicate and a conflict.
    let mut conflict = sms("cards", "o1", "c1", now - HOUR, "$99.00", "SHELL", "1111");
    conflict["category"] = "changed".into();
    let body = [
        sms("cards", "n1", "c2", now - MIN, "$5.00", "Z", "2222").to_string(),
        "{\"source\": \"cards\", \"id\": ".to_string(),
        sms("cards", "n2", "c2", now + 30 * MIN, "$5.00", "Z", "2222").to_string(),
        String::new(),
        one.to_string(),
        conflict.to_string(),
        json!({"source": "cards", "id": "n3", "customer_id": "c2", "channel": "sms", "sent_at": rfc3339(now), "colour": "red"}).to_string(),
    ]
    .join("\n");
    let (st, _, v) = s.post_raw(
        "/v1/notifications",
        Some(INGEST_KEY),
        "application/x-ndjson",
        body.as_bytes(),
    );
    assert_eq!(st, 200);
    assert_eq!(
        (
            v["accepted"].as_u64(),
            v["duplicates"].as_u64(),
            v["rejected"].as_u64()
        ),
        (Some(1), Some(1), Some(4)),
        "{v}"
    );
    let codes: Vec<(u64, u64, &str)> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["line"].as_u64().unwrap(),
                e["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            (1, 2, "malformed_json"),
            (2, 3, "sent_at_in_future"),
            (4, 6, "conflict"),
            (5, 7, "invalid_record")
        ]
    );

    // The same batch again: nothing new is stored.
    let (_, _, v) = s.post_raw(
        "/v1/notifications",
        Some(INGEST_KEY),
        "application/x-ndjson",
        body.as_bytes(),
    );
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
    let (_, _, t) = s.get("/v1/customers/c1/notifications", Some(AGENT_KEY));
    assert_eq!(
        t["notifications"].as_array().unwrap().len(),
        3,
        "no second row for a retried record"
    );

    // A malformed array cannot be split into records: nothing stored, a clear problem.
    let (st, ct, v) = s.post_raw(
        "/v1/notifications",
        Some(INGEST_KEY),
        "application/json",
        b"[{\"a\":1},",
    );
    assert_eq!((st, v["code"].as_str()), (422, Some("malformed_json")));
    assert_eq!(ct, "application/problem+json");
    let (st, _, v) = s.post_raw("/v1/notifications", Some(INGEST_KEY), "text/csv", b"a,b");
    assert_eq!(
        (st, v["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
}

#[test]
fn limits_are_enforced_with_specific_problems() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = "[limits]\nmax_body_bytes = 20000\nmax_records_per_request = 5\nmax_record_bytes = 1500\n[limits.fields]\nsender_chars_max = 20\n";
    let s = Server::start(&dir.path().join("d"), Some(cfg));
    let now = now_ms();
    let big = "x".repeat(30_000);
    let (st, _, v) = s.post_raw(
        "/v1/notifications",
        Some(INGEST_KEY),
        "application/x-ndjson",
        big.as_bytes(),
    );
    assert_eq!(
        (st, v["code"].as_str()),
        (413, Some("body_too_large")),
        "{v}"
    );

    let six: Vec<Value> = (0..6)
        .map(|i| sms("cards", &format!("l{i}"), "c1", now, "$1", "X", "1111"))
        .collect();
    let (st, v) = s.post("/v1/notifications", INGEST_KEY, &Value::Array(six));
    assert_eq!(
        (st, v["code"].as_str()),
        (413, Some("too_many_records")),
        "{v}"
    );

    let mut fat = sms("cards", "fat", "c1", now, "$1", "X", "1111");
    fat["body"] = "y".repeat(2000).into();
    let mut long_sender = sms("cards", "ls", "c1", now, "$1", "X", "1111");
    long_sender["sender"] = "S".repeat(25).into();
    let ok = sms("cards", "ok", "c1", now, "$1", "X", "1111");
    let v = s.ingest(&[fat, long_sender, ok]);
    assert_eq!(v["accepted"], 1);
    assert_eq!(v["errors"][0]["code"], "record_too_large");
    assert_eq!(v["errors"][1]["code"], "field_too_long");
}

#[test]
fn every_endpoint_but_health_needs_a_key_with_the_right_scope() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let (st, _, v) = s.get("/healthz", None);
    assert_eq!((st, v["status"].as_str()), (200, Some("ok")));
    assert_eq!(s.get("/readyz", None).0, 200);
    // The scheme is case-insensitive; `X-Api-Key` works too.
    for (header, value) in [
        ("authorization", format!("BEARER {ADMIN_KEY}")),
        ("authorization", format!("bearer {ADMIN_KEY}")),
        ("x-api-key", ADMIN_KEY.to_string()),
    ] {
        let r = ureq::get(&s.url("/v1/sources")).set(header, &value).call();
        assert_eq!(r.map(|r| r.status()).ok(), Some(200), "{header}: {value}");
    }
    for (path, key, want, code) in [
        ("/v1/sources", None, 401, "unauthorized"),
        ("/v1/sources", Some("cs_wrong"), 401, "unauthorized"),
        (
            "/v1/customers/c1/notifications",
            Some(INGEST_KEY),
            403,
            "forbidden",
        ),
        ("/v1/audit-log", Some(AGENT_KEY), 403, "forbidden"),
        ("/metrics", Some(AGENT_KEY), 403, "forbidden"),
        ("/v1/nowhere", Some(ADMIN_KEY), 404, "not_found"),
        // Bad query and path parameters answer in the same envelope.
        (
            "/v1/customers/c1/notifications?limit=many",
            Some(AGENT_KEY),
            422,
            "invalid_query",
        ),
        (
            "/v1/audit-log?limit=-1",
            Some(ADMIN_KEY),
            422,
            "invalid_query",
        ),
        (
            "/v1/campaigns/not-a-number",
            Some(ADMIN_KEY),
            422,
            "invalid_path",
        ),
    ] {
        let (st, ct, v) = s.get(path, key);
        assert_eq!((st, v["code"].as_str()), (want, Some(code)), "{path}: {v}");
        assert_eq!(ct, "application/problem+json", "{path}");
    }
    let (st, v) = s.post("/v1/notifications", AGENT_KEY, &json!([]));
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")));
    let (st, v) = s.post("/v1/verify", INGEST_KEY, &json!({"customer_id": "c1"}));
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")));
    let (st, _, _) = s.post_raw("/v1/verify", None, "application/json", b"{}");
    assert_eq!(st, 401);
    assert_eq!(s.get("/v1/sources", Some(ADMIN_KEY)).0, 200);
    // Every answer carries a request id: the client's when it is a plain token, else a new one.
    let resp = ureq::get(&s.url("/v1/customers/maria-7731/notifications"))
        .set("authorization", &format!("Bearer {AGENT_KEY}"))
        .set("x-request-id", "desk-42.call-9")
        .call();
    let resp = match resp {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(resp.header("x-request-id"), Some("desk-42.call-9"));
    let resp = ureq::get(&s.url("/healthz"))
        .set("x-request-id", "not a token; rm -rf")
        .call()
        .unwrap();
    let id = resp.header("x-request-id").unwrap();
    assert!(id.len() > 8 && !id.contains(' '), "{id}");
    let (st, _, text) = s.get("/metrics", Some(ADMIN_KEY));
    assert_eq!(st, 200);
    let text = text.as_str().unwrap();
    assert!(text.contains("countersign_verify_seconds"));
    // Per-route histograms and status counts, by route template, never by customer id.
    assert!(
        text.contains("# TYPE countersign_http_request_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("countersign_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/customers/{customer_id}/notifications\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("countersign_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(
        text.contains("countersign_http_requests_total{method=\"POST\",route=\"/v1/verify\",status=\"403\"} 1"),
        "{text}"
    );
    assert!(text.contains("route=\"unmatched\""), "{text}");
    assert!(!text.contains("maria-7731"), "no customer id in metrics");
}

/// A world with one customer and fresh, complete feeds.
fn seeded(s: &Server, now: i64) {
    s.ingest(&[
        sms("cards", "n1", "maria", now - 3 * HOUR, "$479.99", "BESTBUY #1123", "4417"),
        sms("cards", "n2", "maria", now - 30 * HOUR, "$12.40", "STARBUCKS #22871", "4417"),
        json!({"source": "app", "id": "p1", "customer_id": "maria", "channel": "push", "sender": "ACME app",
               "sent_at": rfc3339(now - 2 * HOUR), "body": "New sign-in from an iPhone. Not you? Open the app."}),
        sms("cards", "n3", "john", now - 50 * HOUR, "$20.00", "SHELL OIL 57442", "9001"),
    ]);
    s.watermark("cards", now, Some(now - 72 * HOUR));
    s.watermark("app", now, Some(now - 72 * HOUR));
}

#[test]
fn every_verdict_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    seeded(&s, now);

    // Genuine, imperfect recall.
    let v = s.verify(&json!({"customer_id": "maria", "channel": "sms", "received_at": rfc3339(now - 150 * MIN),
        "sender_seen": "ACMEBANK", "mentions": {"amount": "480", "merchant": "Best Buy", "card_last4": "4417"}}));
    assert_eq!(v["verdict"], "confirmed", "{v}");
    assert_eq!(v["matched"]["id"], "n1");
    assert!(v["confidence"].as_f64().unwrap() > 0.8);
    assert!(v["ledger_fresh_until"].is_string());
    assert!(v["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["cue"] == "merchant" && e["result"] == "match"));

    // The right message, but the caller cites another card: partial.
    let v = s.verify(
        &json!({"customer_id": "maria", "channel": "sms", "received_at": rfc3339(now - 3 * HOUR),
        "mentions": {"amount": "$479.99", "merchant": "Best Buy", "card_last4": "0000"}}),
    );
    assert_eq!(v["verdict"], "partial", "{v}");
    assert!(v["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["cue"] == "card_last4" && e["result"] == "mismatch"));

    // A near-miss sender is evidence of a spoof.
    let v = s.verify(
        &json!({"customer_id": "maria", "channel": "sms", "received_at": rfc3339(now - 3 * HOUR),
        "sender_seen": "ACMEBNK", "mentions": {"amount": "$479.99"}}),
    );
    assert_eq!(v["verdict"], "partial", "{v}");
    assert_eq!(v["reason"], "sender_lookalike");

    // Forged: nothing like it in a fresh window.
    let v = s.verify(&json!({"customer_id": "maria", "channel": "sms", "received_at": rfc3339(now - 40 * MIN),
        "sender_seen": "ACMEBNK", "mentions": {"amount": "$480", "merchant": "Best Buy", "callback_number": "888-555-0142"}}));
    assert_eq!(v["verdict"], "not_sent", "{v}");
    assert!(
        v["guidance"].as_str().unwrap().contains("call you back"),
        "{v}"
    );

    // Unknown customer.
    let v =
        s.verify(&json!({"customer_id": "nobody", "channel": "sms", "mentions": {"amount": "$5"}}));
    assert_eq!(
        (v["verdict"].as_str(), v["reason"].as_str()),
        (Some("cannot_confirm"), Some("unknown_customer"))
    );

    // Outside retention.
    let v = s.verify(&json!({"customer_id": "maria", "channel": "sms", "received_at": rfc3339(now - 400 * 24 * HOUR)}));
    assert_eq!(
        (v["verdict"].as_str(), v["reason"].as_str()),
        (Some("cannot_confirm"), Some("outside_retention"))
    );

    // No source sends on that channel.
    let v = s.verify(
        &json!({"customer_id": "maria", "channel": "voice", "received_at": rfc3339(now - HOUR)}),
    );
    assert_eq!(
        (v["verdict"].as_str(), v["reason"].as_str()),
        (Some("cannot_confirm"), Some("no_feed_for_channel"))
    );

    // Before the feed's record is complete.
    let v = s.verify(&json!({"customer_id": "maria", "channel": "sms", "received_at": rfc3339(now - 100 * HOUR)}));
    assert_eq!(v["verdict"], "cannot_confirm", "{v}");

    // Bad claims get specific problems.
    let (st, v) = s.post("/v1/verify", AGENT_KEY, &json!({"channel": "sms"}));
    assert_eq!((st, v["code"].as_str()), (422, Some("missing_field")));
    let (st, v) = s.post(
        "/v1/verify",
        AGENT_KEY,
        &json!({"customer_id": "maria", "received_at": "last tuesday"}),
    );
    assert_eq!((st, v["code"].as_str()), (422, Some("invalid_time")));
    let (st, v) = s.post(
        "/v1/verify",
        AGENT_KEY,
        &json!({"customer_id": "maria", "mood": "angry"}),
    );
    assert_eq!((st, v["code"].as_str()), (422, Some("invalid_request")));
    let (st, _, v) = s.post_raw(
        "/v1/verify",
        Some(AGENT_KEY),
        "application/json",
        b"{not json",
    );
    assert_eq!((st, v["code"].as_str()), (422, Some("malformed_json")));
}

#[test]
fn a_backfill_before_completeness_is_named_with_how_to_declare_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    // Ten days of history loaded on the first day, and a watermark without `complete_since`.
    let backfill: Vec<Value> = (1..=10)
        .map(|d| {
            sms(
                "cards",
                &format!("b{d}"),
                "maria",
                now - d * 24 * HOUR,
                "$12.40",
                "STARBUCKS",
                "4417",
            )
        })
        .collect();
    s.ingest(&backfill);
    let w = s.watermark("cards", now, None);
    assert_eq!(w["records_before_complete"], 10, "{w}");
    let advice = w["setup_advice"].as_str().unwrap();
    assert!(
        advice.contains("complete_since") && advice.contains("/v1/sources/cards/watermark"),
        "{advice}"
    );
    // A forged claim about three days ago cannot be refuted yet: honest, not `not_sent`.
    let claim = json!({"customer_id": "maria", "channel": "sms", "received_at": rfc3339(now - 72 * HOUR),
        "mentions": {"amount": "$480", "merchant": "Best Buy"}});
    assert_eq!(s.verify(&claim)["verdict"], "cannot_confirm");
    // The integrator declares what the advice names: the backfill is complete.
    let first = w["first_sent_at"].as_str().unwrap().to_string();
    let (st, w) = s.post(
        "/v1/sources/cards/watermark",
        INGEST_KEY,
        &json!({"watermark": rfc3339(now), "complete_since": first}),
    );
    assert_eq!(st, 200, "{w}");
    assert_eq!(w["records_before_complete"], 0, "{w}");
    assert!(w.get("setup_advice").is_none(), "{w}");
    assert_eq!(s.verify(&claim)["verdict"], "not_sent");
    let (_, _, src) = s.get("/v1/sources", Some(AGENT_KEY));
    assert_eq!(src[0]["records_before_complete"], 0, "{src}");
}

#[test]
fn a_stale_feed_never_yields_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    s.ingest(&[sms(
        "cards",
        "n1",
        "maria",
        now - 30 * HOUR,
        "$12.40",
        "STARBUCKS",
        "4417",
    )]);
    // The source declared completeness only up to four hours ago.
    s.watermark("cards", now - 4 * HOUR, Some(now - 72 * HOUR));
    let claim = json!({"customer_id": "maria", "channel": "sms", "received_at": rfc3339(now - HOUR),
        "mentions": {"amount": "$480", "merchant": "Best Buy"}});
    let v = s.verify(&claim);
    assert_eq!(
        (v["verdict"].as_str(), v["reason"].as_str()),
        (Some("cannot_confirm"), Some("ledger_stale")),
        "{v}"
    );
    // An older watermark is ignored: watermarks never move back.
    let st = s.watermark("cards", now - 10 * HOUR, None);
    assert_eq!(
        st["watermark"].as_str(),
        Some(rfc3339(now - 4 * HOUR).as_str())
    );
    // Once the feed catches up, the same claim is `not_sent`.
    s.watermark("cards", now, None);
    assert_eq!(s.verify(&claim)["verdict"], "not_sent");

    // A source that never declares a watermark gets a derived one, and says so.
    s.ingest(&[
        json!({"source": "mailer", "id": "e1", "customer_id": "maria", "channel": "email",
        "sent_at": rfc3339(now - 5 * HOUR), "body": "Your statement is ready"}),
    ]);
    let (_, _, src) = s.get("/v1/sources", Some(AGENT_KEY));
    let mailer = src
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == "mailer")
        .unwrap();
    assert_eq!(mailer["watermark_kind"], "derived");
    assert_eq!(mailer["records_last_hour"], 1);
    assert!(mailer["lag_p50_ms"].as_i64().unwrap() >= 5 * HOUR - 1000);
    // Its record only starts with its first acknowledged record (just now), and its derived
    // watermark trails its newest record: either way, no `not_sent`.
    let v = s.verify(&json!({"customer_id": "maria", "channel": "email", "received_at": rfc3339(now - 20 * MIN)}));
    assert_eq!(
        (v["verdict"].as_str(), v["reason"].as_str()),
        (Some("cannot_confirm"), Some("before_feed_start")),
        "{v}"
    );
    s.watermark("mailer", now - 3 * HOUR, Some(now - 72 * HOUR));
    let v = s.verify(&json!({"customer_id": "maria", "channel": "email", "received_at": rfc3339(now - 20 * MIN)}));
    assert_eq!(
        (v["verdict"].as_str(), v["reason"].as_str()),
        (Some("cannot_confirm"), Some("ledger_stale")),
        "{v}"
    );
}

#[test]
fn status_updates_sources_timeline_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    seeded(&s, now);
    let body = format!(
        "{}\n{}\n{}\n",
        json!({"source": "cards", "id": "n1", "status": "delivered", "at": rfc3339(now - 179 * MIN)}),
        json!({"source": "cards", "id": "missing", "status": "delivered"}),
        json!({"source": "cards", "id": "n2", "status": "lost"}),
    );
    let (st, _, v) = s.post_raw(
        "/v1/notifications/status",
        Some(INGEST_KEY),
        "application/x-ndjson",
        body.as_bytes(),
    );
    assert_eq!(st, 200);
    assert_eq!(
        (
            v["updated"].as_u64(),
            v["not_found"].as_u64(),
            v["rejected"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{v}"
    );

    let (_, _, src) = s.get("/v1/sources", Some(INGEST_KEY));
    let cards = src
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == "cards")
        .unwrap();
    assert_eq!(cards["watermark_kind"], "declared");
    assert_eq!(cards["records_total"], 3);
    assert_eq!(cards["channels"], json!(["sms"]));
    assert!(cards["last_record_at"].is_string() && cards["lag_p99_ms"].is_i64());

    let (st, _, t) = s.get(
        &format!(
            "/v1/customers/maria/notifications?since={}",
            rfc3339(now - 4 * HOUR)
        ),
        Some(AGENT_KEY),
    );
    assert_eq!(st, 200);
    let ns = t["notifications"].as_array().unwrap();
    assert_eq!(ns.len(), 2, "{t}");
    assert_eq!(ns[0]["id"], "p1", "newest first");
    assert_eq!(ns[1]["status"], "delivered");
    assert_eq!(ns[1]["facts"]["card_last4"], "4417");
    let (st, _, v) = s.get(
        "/v1/customers/maria/notifications?since=yesterday",
        Some(AGENT_KEY),
    );
    assert_eq!((st, v["code"].as_str()), (422, Some("invalid_time")));

    s.verify(&json!({"customer_id": "john", "channel": "sms"}));
    // Audit entries are committed with the writer's next group commit.
    let log = eventually("the verify read in the audit log", 10, || {
        let (_, _, log) = s.get("/v1/audit-log?limit=10", Some(ADMIN_KEY));
        let seen = log.as_array().unwrap().iter().any(|e| {
            e["action"] == "verify" && e["customer_id"] == "john" && e["actor"] == "agent"
        });
        seen.then_some(log)
    });
    assert!(log
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "timeline" && e["customer_id"] == "maria"));
}

#[test]
fn facts_only_retention_never_stores_the_body_but_still_matches_exact_text() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), Some("body_retention = \"facts_only\"\nbody_hmac_key = \"00112233445566778899aabbccddeeff\"\n"));
    let now = now_ms();
    let rec = sms(
        "cards",
        "n1",
        "maria",
        now - HOUR,
        "$479.99",
        "BESTBUY #1123",
        "4417",
    );
    let body = rec["body"].as_str().unwrap().to_string();
    s.ingest(&[rec]);
    s.watermark("cards", now, Some(now - 72 * HOUR));
    let (_, _, t) = s.get("/v1/customers/maria/notifications", Some(AGENT_KEY));
    assert!(
        t["notifications"][0]
            .get("body")
            .is_none_or(|b| b.is_null()),
        "{t}"
    );
    assert_eq!(t["notifications"][0]["facts"]["amount"]["minor"], 47999);
    let v =
        s.verify(&json!({"customer_id": "maria", "channel": "sms", "mentions": {"text": body}}));
    assert_eq!(v["verdict"], "confirmed", "{v}");
    // A paraphrase is matched on the facts it quotes (amount, number, card) …
    let v = s.verify(&json!({"customer_id": "maria", "channel": "sms",
        "mentions": {"text": "something about $480 on my card ending 4417"}}));
    assert_eq!(v["verdict"], "confirmed", "{v}");
    // … a paraphrase with none cannot be checked: never a false not_sent …
    let v = s.verify(&json!({"customer_id": "maria", "channel": "sms",
        "received_at": rfc3339(now - HOUR), "mentions": {"text": "it asked me to confirm a purchase"}}));
    assert_eq!(
        (v["verdict"].as_str(), v["reason"].as_str()),
        (Some("cannot_confirm"), Some("text_not_retained")),
        "{v}"
    );
    // … and a quote whose facts contradict ours is still caught.
    let v = s.verify(&json!({"customer_id": "maria", "channel": "sms",
        "received_at": rfc3339(now - HOUR), "mentions": {"text": "Your account is locked, call 888-555-0142 now"}}));
    assert_eq!(v["verdict"], "not_sent", "{v}");
    drop(s);
    // The body text is nowhere in the data directory.
    let mut found = false;
    for e in std::fs::read_dir(dir.path().join("d")).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        found |= bytes.windows(20).any(|w| w == &body.as_bytes()[..20]);
    }
    assert!(!found, "the message body reached the disk");
}

#[test]
fn openapi_describes_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let (st, _, doc) = s.get("/openapi.json", None);
    assert_eq!(st, 200);
    for p in [
        "/v1/notifications",
        "/v1/verify",
        "/v1/sources",
        "/v1/sources/{source}/watermark",
        "/v1/customers/{customer_id}/notifications",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing");
    }
    assert!(doc["components"]["schemas"].get("Problem").is_some());
    assert!(doc["components"]["securitySchemes"]
        .get("api_key")
        .is_some());
}

#[test]
fn slow_idle_and_silent_clients_are_cut_off_and_others_are_served() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("d"),
        Some("[limits]\nheader_read_timeout_secs = 1\nbody_read_timeout_secs = 1\n"),
    );
    let addr = s.base.trim_start_matches("http://").to_string();
    let closed_within = |mut c: TcpStream, secs: u64| -> (bool, String) {
        c.set_read_timeout(Some(Duration::from_secs(secs))).unwrap();
        let started = Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => return (false, String::from_utf8_lossy(&got).into()),
            }
        }
        (
            started.elapsed() < Duration::from_secs(secs),
            String::from_utf8_lossy(&got).into(),
        )
    };
    // Silent: connects and sends nothing.
    let silent = TcpStream::connect(&addr).unwrap();
    // Slow headers: a request line, then nothing more.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // Slow body: headers promise 100 bytes, 10 arrive.
    let trickle = s.half_sent(
        "/v1/verify",
        AGENT_KEY,
        "application/json",
        100,
        "{\"custome",
    );
    // Meanwhile everyone else is served.
    assert_eq!(s.get("/healthz", None).0, 200);
    let (st, _, _) = s.get("/v1/sources", Some(AGENT_KEY));
    assert_eq!(st, 200);
    let (gone, _) = closed_within(silent, 8);
    assert!(gone, "a silent connection stayed open");
    let (gone, _) = closed_within(slow, 8);
    assert!(gone, "a connection with half its headers stayed open");
    let (_, answer) = closed_within(trickle, 8);
    assert!(
        answer.starts_with("HTTP/1.1 408") && answer.contains("body_timeout"),
        "{answer}"
    );
}

#[test]
fn large_bodies_share_a_memory_budget_and_small_requests_are_unaffected() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("d"),
        Some("[limits]\nmax_body_bytes = 1048576\nmax_concurrent_body_bytes = 1048576\n"),
    );
    // One upload declares the whole budget and sends its body slowly.
    let big = s.half_sent(
        "/v1/notifications",
        INGEST_KEY,
        "application/x-ndjson",
        1_048_576,
        "{",
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    // Another ingest body does not fit: told to come back, not queued without bound.
    let record = sms(
        "cards",
        "n1",
        "maria",
        now_ms() - HOUR,
        "$1.00",
        "SHOP",
        "4417",
    );
    let (st, v) = s.post("/v1/notifications", INGEST_KEY, &json!([record]));
    assert_eq!((st, v["code"].as_str()), (503, Some("server_busy")), "{v}");
    // One-object requests are not part of that budget: agents are served.
    assert_eq!(s.get("/v1/sources", Some(AGENT_KEY)).0, 200);
    // The upload ends (here: its client goes away); the budget is free again.
    big.shutdown(std::net::Shutdown::Both).unwrap();
    drop(big);
    let accepted = eventually("the budget released", 10, || {
        let (st, v) = s.post("/v1/notifications", INGEST_KEY, &json!([record]));
        (st == 200).then_some(v)
    });
    assert_eq!(accepted["accepted"], 1, "{accepted}");
}

#[test]
fn each_key_has_a_request_budget_and_budgets_are_independent() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("d"),
        Some("[limits]\nrate_agent_per_sec = 5\n"),
    );
    let mut limited = None;
    for _ in 0..30 {
        let r = ureq::get(&s.url("/v1/sources"))
            .set("authorization", &format!("Bearer {AGENT_KEY}"))
            .call();
        if let Err(ureq::Error::Status(429, resp)) = r {
            limited = Some(resp);
            break;
        }
    }
    let resp = limited.expect("30 quick requests on a 5/s budget were never limited");
    let retry: u64 = resp.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_eq!(
        resp.header("content-type"),
        Some("application/problem+json")
    );
    let v: Value = serde_json::from_str(&resp.into_string().unwrap()).unwrap();
    assert_eq!(v["code"], "rate_limited", "{v}");
    // The ingest key's budget is its own: an agent over budget does not starve producers.
    assert_eq!(s.get("/v1/sources", Some(INGEST_KEY)).0, 200);
    let (_, _, m) = s.get("/metrics", Some(ADMIN_KEY));
    let line = m
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.starts_with("countersign_rate_limited_total "))
        .unwrap()
        .to_string();
    assert_ne!(line, "countersign_rate_limited_total 0");
}

#[test]
fn past_the_connection_limit_health_checks_still_answer() {
    use std::net::TcpStream;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("d"),
        Some("[limits]\nmax_connections = 2\n"),
    );
    let addr = s.base.trim_start_matches("http://").to_string();
    // Two idle clients take both slots (until the header-read timeout frees them).
    let _a = TcpStream::connect(&addr).unwrap();
    let _b = TcpStream::connect(&addr).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (st, _, v) = s.get("/v1/sources", Some(AGENT_KEY));
    assert_eq!((st, v["code"].as_str()), (503, Some("server_busy")), "{v}");
    assert_eq!(s.get("/healthz", None).0, 200);
}
