//! Customer profiles end to end: PUT, bulk import through the CLI, the learned numbers, and a
//! profile making a customer known to verification before any notification.

use crate::common::*;
use serde_json::json;

const HOUR: i64 = 3_600_000;

#[test]
fn profiles_make_customers_known_and_numbers_learned() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    let profile = json!({"phones": ["(415) 555-0100"], "emails": ["Maria@Example.com"], "locale": "es-MX", "app_installed": true});
    let (st, v) = s.send("PUT", "/v1/customers/maria", INGEST_KEY, Some(&profile));
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["phones"][0], "+14155550100");
    assert_eq!(
        s.send("PUT", "/v1/customers/maria", INGEST_KEY, Some(&profile))
            .0,
        200
    );
    let (st, v) = s.send(
        "PUT",
        "/v1/customers/maria",
        INGEST_KEY,
        Some(&json!({"phones": ["call me"]})),
    );
    assert_eq!((st, v["code"].as_str()), (422, Some("invalid_phone")));
    assert_eq!(
        s.send("PUT", "/v1/customers/maria", AGENT_KEY, Some(&profile))
            .0,
        403
    );

    // Known before any notification: with a fresh feed, a cited text is `not_sent`, not
    // `unknown_customer`.
    s.ingest(&[sms(
        "cards",
        "n0",
        "someone-else",
        now - 30 * HOUR,
        "$1",
        "X",
        "1111",
    )]);
    s.watermark("cards", now, Some(now - 72 * HOUR));
    let v = s.verify(
        &json!({"customer_id": "maria", "channel": "sms", "received_at": rfc3339(now - HOUR)}),
    );
    assert_eq!(v["verdict"], "not_sent", "{v}");
    let v = s.verify(
        &json!({"customer_id": "stranger", "channel": "sms", "received_at": rfc3339(now - HOUR)}),
    );
    assert_eq!(v["reason"], "unknown_customer");

    // A number the ledger texted that is not on file is learned.
    let mut rec = sms("cards", "n1", "maria", now - 2 * HOUR, "$5", "Y", "2222");
    rec["recipient"] = "+1 (628) 555-0177".into();
    s.ingest(&[
        rec,
        sms("cards", "n2", "maria", now - 3 * HOUR, "$5", "Y", "2222"),
    ]);
    let (st, _, c) = s.get("/v1/customers/maria", Some(AGENT_KEY));
    assert_eq!(st, 200);
    assert_eq!(c["profile"]["locale"], "es-MX");
    assert_eq!(c["learned_numbers"], json!(["+16285550177"]), "{c}");
    assert_eq!(
        s.get("/v1/customers/nobody", Some(AGENT_KEY)).2["code"],
        "unknown_customer"
    );
    eventually("the profile read in the audit log", 10, || {
        let (_, _, log) = s.get("/v1/audit-log", Some(ADMIN_KEY));
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "profile" && e["customer_id"] == "maria")
            .then_some(())
    });

    // Bulk import through the CLI, CSV with one bad row.
    let csv = dir.path().join("profiles.csv");
    std::fs::write(
        &csv,
        "customer_id,phones,emails,locale,app_installed\n\
         c1,+14155550101;+14155550102,c1@example.com,en-US,yes\n\
         c2,not-a-number,,en,no\n\
         c3,,c3@example.org,fr-FR,true\n",
    )
    .unwrap();
    let out = bin()
        .args(["customers", "import"])
        .arg(&csv)
        .args(["--server", &s.base, "--key", INGEST_KEY])
        .env("COUNTERSIGN_LOG", "warn")
        .output()
        .unwrap();
    let text = ok_stdout(&out);
    assert!(
        text.contains("2 accepted, 0 duplicates, 1 rejected"),
        "{text}"
    );
    assert!(text.contains("line 3: invalid_phone"), "{text}");
    let (_, _, c1) = s.get("/v1/customers/c1", Some(AGENT_KEY));
    assert_eq!(
        c1["profile"]["phones"],
        json!(["+14155550101", "+14155550102"])
    );
    assert_eq!(c1["profile"]["app_installed"], true);
}
