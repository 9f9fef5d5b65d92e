//! "Did my bank send this?" through the API as the institution's app drives it: a genuine alert
//! pasted back is confirmed; the forged text is not ours, naming the number, link and sender
//! that are not ours, and says nothing of what the customer really got; a reported campaign's
//! text is a known scam; a stale feed is "we can't tell yet"; Spanish for a Spanish profile;
//! numbers and links checked on their own; only the app's key may ask.

use serde_json::{json, Value};

use crate::common::*;

fn world(s: &Server, now: i64) {
    let (code, _) = s.send(
        "PUT",
        "/v1/brands/acme",
        ADMIN_KEY,
        Some(
            &json!({"display_names": ["ACME Bank"], "sender_ids": ["ACMEBANK", "72263"],
            "callback_numbers": ["1-800-555-0199"], "domains": ["acmebank.com"]}),
        ),
    );
    assert_eq!(code, 201);
    s.send(
        "PUT",
        "/v1/customers/lucia",
        INGEST_KEY,
        Some(&json!({"phones": ["+14155550111"], "locale": "es-US"})),
    );
    s.maria_card_alert(now);
}

fn check(s: &Server, customer: &str, body: Value) -> Value {
    s.ok(
        "POST",
        &format!("/v1/customers/{customer}/text-checks"),
        APP_KEY,
        &body,
    )
}

/// Five customers report the forged text from the app, in the last ten minutes: a campaign.
fn report_campaign(s: &Server, now: i64) {
    for i in 0..5 {
        s.ok(
            "POST",
            "/v1/smish-reports",
            INGEST_KEY,
            &json!({"customer_id": format!("r{i}"), "body": FORGED, "reported_via": "app",
                "received_at": rfc3339(now - 60_000 * (10 - i))}),
        );
    }
}

const FORGED: &str = "ACME Bank: Did you authorise $480.00 at Best Buy? If not call 888-555-0142 or visit https://acme-bank.help/stop";

#[test]
fn customers_check_texts_and_are_told_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    world(&s, now);

    // The genuine alert, shared from the phone: confirmed, and nothing else said.
    let genuine = check(
        &s,
        "maria",
        json!({"text": "ACME Bank: Did you authorise $479.99 at BESTBUY #1123 on card ending 4417? Reply Y or N. Call 1-800-555-0199 if not you.\n\nSent from my iPhone",
            "sender": "ACMEBANK"}),
    );
    assert_eq!(genuine["verdict"], "we_sent_this", "{genuine}");
    assert!(genuine["sent_at"].is_string());
    assert_eq!(genuine["not_ours"], json!([]));
    assert_eq!(genuine["can_report"], false);

    // The forged text, forwarded with its lookalike sender in the header.
    let forged = check(
        &s,
        "maria",
        json!({"text": format!("Fwd:\nFrom: ACMEBNK\n\n{FORGED}")}),
    );
    assert_eq!(forged["verdict"], "we_did_not_send_this", "{forged}");
    let not_ours = forged["not_ours"].to_string();
    for want in ["+18885550142", "acme-bank.help", "ACMEBNK"] {
        assert!(not_ours.contains(want), "{want} in {not_ours}");
    }
    assert!(forged["advice"]
        .as_str()
        .unwrap()
        .contains("back of your card"));
    assert_eq!(forged["can_report"], true);
    // No enumeration: nothing of Maria's real alert.
    let text = forged.to_string();
    for secret in ["479.99", "BESTBUY", "4417", "sent_at"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }

    // Spanish for a Spanish profile (no notifications of hers, no feed of hers: honest).
    let es = check(
        &s,
        "lucia",
        json!({"text": FORGED, "received_at": rfc3339(now - 600_000)}),
    );
    assert_eq!(es["verdict"], "we_did_not_send_this", "{es}");
    assert!(
        es["headline"]
            .as_str()
            .unwrap()
            .contains("ACME Bank no le envió"),
        "{es}"
    );
    assert!(
        es["not_ours"][0]
            .as_str()
            .unwrap()
            .contains("no es un número de ACME Bank"),
        "{es}"
    );
    assert!(
        es["advice"]
            .as_str()
            .unwrap()
            .contains("reverso de su tarjeta"),
        "{es}"
    );

    // Reported by customers: a known scam, and its number a scam indicator.
    report_campaign(&s, now);
    let known = check(&s, "maria", json!({"text": FORGED, "sender": "ACMEBNK"}));
    assert_eq!(known["verdict"], "known_scam", "{known}");
    assert!(known["campaign_id"].is_u64());

    // The checks are stored (what they found): the fraud team sees them on the campaign, and a
    // forged text Lucia checked counts for her later calls like a report.
    assert!(known["check_id"].is_i64(), "{known}");
    let analyst = crate::console::Browser::sign_in(&s, "omar", "analyst");
    let page = analyst.get("/console/campaigns");
    assert!(
        page.text.contains("1 checked its texts in the app"),
        "{}",
        page.text
    );
    let call = s.ok(
        "POST",
        "/v1/calls",
        AGENT_KEY,
        &json!({"call_id": "CA-LUCIA", "customer_id": "lucia", "ani": "+14155550111"}),
    );
    assert!(
        signals(&call).iter().any(|x| x == "reported_smish"),
        "{call}"
    );

    contact_checks(&s);

    // Counted by verdict (never the text).
    let (_, _, metrics) = s.get("/metrics", Some(ADMIN_KEY));
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("countersign_text_checks_total{verdict=\"we_did_not_send_this\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("countersign_text_checks_total{verdict=\"known_scam\"} 1"));

    // Bad input and the wrong key.
    s.refused(
        "POST",
        "/v1/customers/maria/text-checks",
        APP_KEY,
        Some(&json!({"text": " "})),
        422,
        "missing_field",
    );
    s.refused(
        "POST",
        "/v1/customers/maria/text-checks",
        APP_KEY,
        Some(&json!({"text": "x".repeat(2_001)})),
        422,
        "text_too_long",
    );
    s.refused(
        "POST",
        "/v1/customers/maria/text-checks",
        AGENT_KEY,
        Some(&json!({"text": FORGED})),
        403,
        "forbidden",
    );
}

#[test]
fn a_checked_text_is_reported_in_one_tap_and_joins_its_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    world(&s, now);
    let report = |customer: &str, id: &Value, body: Value| {
        let id = id.as_i64().map_or("nope".to_string(), |i| i.to_string());
        s.send(
            "POST",
            &format!("/v1/customers/{customer}/text-checks/{id}/report"),
            APP_KEY,
            Some(&body),
        )
    };
    // Customers reported the campaign; Maria checks a variant of its text: a known scam.
    report_campaign(&s, now);
    let variant = FORGED.replace("$480.00", "$612.00");
    let known = check(&s, "maria", json!({"text": variant}));
    assert_eq!(known["verdict"], "known_scam", "{known}");
    let id = &known["check_id"];

    // The tap: the same text again (never kept), filed as an app report in that campaign.
    let (code, first) = report("maria", id, json!({"text": variant, "sender": "ACMEBNK"}));
    assert_eq!(code, 200, "{first}");
    assert_eq!(first["check_id"], *id);
    assert_eq!(first["campaign_id"], known["campaign_id"], "{first}");
    assert_eq!(first["replayed"], false);
    // A second tap is the same report.
    let (_, again) = report("maria", id, json!({"text": variant}));
    assert_eq!(
        (&again["report_id"], &again["replayed"]),
        (&first["report_id"], &json!(true))
    );

    // Another text, another customer's check, our own text, a check that does not exist.
    let (code, p) = report("maria", id, json!({"text": FORGED}));
    assert_eq!((code, p["code"].as_str()), (422, Some("text_differs")));
    let (code, p) = report("lucia", id, json!({"text": variant}));
    assert_eq!((code, p["code"].as_str()), (404, Some("unknown_check")));
    let (code, p) = report("maria", &json!("nope"), json!({"text": variant}));
    assert_eq!((code, p["code"].as_str()), (404, Some("unknown_check")));
    let genuine_text = "ACME Bank: Did you authorise $479.99 at BESTBUY #1123 on card ending 4417? Reply Y or N. Call 1-800-555-0199 if not you.";
    let genuine = check(
        &s,
        "maria",
        json!({"text": genuine_text, "sender": "ACMEBANK"}),
    );
    assert_eq!(genuine["verdict"], "we_sent_this", "{genuine}");
    let (code, p) = report("maria", &genuine["check_id"], json!({"text": genuine_text}));
    assert_eq!((code, p["code"].as_str()), (409, Some("we_sent_this")));
    let (code, p) = report("maria", id, json!({}));
    assert_eq!((code, p["code"].as_str()), (422, Some("missing_field")));
    // Only the app's key.
    let (code, _) = s.send(
        "POST",
        &format!("/v1/customers/maria/text-checks/{id}/report"),
        AGENT_KEY,
        Some(&json!({"text": variant})),
    );
    assert_eq!(code, 403);
}

/// Numbers and links on their own (after the campaign with 888-555-0142 was reported).
fn contact_checks(s: &Server) {
    let contact = |body: Value| s.ok("POST", "/v1/contact-checks", APP_KEY, &body);
    assert_eq!(
        contact(json!({"number": "1 (800) 555-0199"}))["status"],
        "official"
    );
    assert_eq!(
        contact(json!({"number": "888-555-0142"}))["status"],
        "scam_indicator"
    );
    assert_eq!(
        contact(json!({"number": "+1 202 555 0100"}))["status"],
        "unknown"
    );
    let look = contact(json!({"link": "https://acmebank-secure.com/x"}));
    assert_eq!(look["status"], "lookalike", "{look}");
    assert_eq!(look["imitates"], "acmebank");
    assert_eq!(
        contact(json!({"link": "https://www.acmebank.com/help"}))["status"],
        "official"
    );
    s.refused(
        "POST",
        "/v1/contact-checks",
        APP_KEY,
        Some(&json!({"number": "1", "link": "x"})),
        422,
        "invalid_request",
    );
}

#[test]
fn a_stale_feed_is_never_a_false_we_did_not_send_this() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    // The only SMS feed last declared complete three hours ago.
    s.ingest(&[sms(
        "cards",
        "n1",
        "maria",
        now - 5 * 3_600_000,
        "$10.00",
        "Target",
        "1111",
    )]);
    s.watermark("cards", now - 3 * 3_600_000, Some(now - 72 * 3_600_000));
    let v = check(
        &s,
        "maria",
        json!({"text": FORGED, "received_at": rfc3339(now - 600_000)}),
    );
    assert_eq!(v["verdict"], "cannot_tell_yet", "{v}");
    assert_eq!(v["reason"], "ledger_stale");
    assert!(v["advice"].as_str().unwrap().contains("back of your card"));
    // Ten checks a minute per customer (the default): the eleventh waits.
    for _ in 0..9 {
        check(&s, "maria", json!({"text": FORGED}));
    }
    s.refused(
        "POST",
        "/v1/customers/maria/text-checks",
        APP_KEY,
        Some(&json!({"text": FORGED})),
        429,
        "rate_limited",
    );
    // Another customer is not held back by Maria's checks.
    check(&s, "omar", json!({"text": FORGED}));
}

#[test]
fn is_the_bank_calling_me_now() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    let calling = |c: &str| {
        s.ok(
            "GET",
            &format!("/v1/customers/{c}/calling-now"),
            APP_KEY,
            &json!(null),
        )
    };
    // No voice feed at all: we can't tell, so hang up and call us.
    assert_eq!(calling("maria")["status"], "cannot_tell");

    // The dialler records an outbound call to Maria five minutes ago, with the agent's name.
    s.ingest(&[
        json!({"source": "dialler", "id": "v1", "customer_id": "maria", "channel": "voice",
        "sent_at": rfc3339(now - 5 * 60_000), "variables": {"agent_first_name": "Dana"}}),
    ]);
    s.watermark("dialler", now, Some(now - 72 * 3_600_000));
    let c = calling("maria");
    assert_eq!(c["status"], "calling", "{c}");
    assert_eq!(c["agent"], "Dana");
    assert!(
        c["headline"].as_str().unwrap().starts_with("Yes — Dana"),
        "{c}"
    );
    // Nobody is calling Omar: hang up.
    let c = calling("omar");
    assert_eq!(c["status"], "not_calling", "{c}");
    assert!(c["advice"].as_str().unwrap().contains("hang up"));
    // The call ends.
    s.ok(
        "POST",
        "/v1/notifications/status",
        INGEST_KEY,
        &json!({"source": "dialler", "id": "v1", "status": "completed", "at": rfc3339(now - 60_000)}),
    );
    assert_eq!(calling("maria")["status"], "not_calling");
    // Reading whether someone calls a customer is a read of their data: audit-logged.
    let audit = s
        .ok("GET", "/v1/audit-log", ADMIN_KEY, &json!(null))
        .to_string();
    assert!(
        audit.contains("calling_now") && audit.contains("app:app"),
        "{audit}"
    );
}
