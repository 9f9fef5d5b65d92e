//! Sender-ID protection end to end through the public API and the CLI: registry → evaluate →
//! audit → export, with bad registry input, batches, scopes and an offline audit.

use crate::common::*;
use serde_json::{json, Value};

fn acme() -> Value {
    json!({
        "display_names": ["ACME Bank"],
        "aliases": ["Acme Financial"],
        "sender_ids": ["ACMEBANK", "ACMEBK", "72263", "+18005550199"],
        "callback_numbers": ["1-800-555-0199"],
        "domains": ["acmebank.com"],
        "templates": ["ACME Bank: {#var#} is your code. Never share it.", "ACME Bank: did you authorise {#var#} at {#var#}? Reply Y or N."],
        "unregistered_policy": "block"
    })
}

#[test]
fn registry_evaluate_audit_export() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);

    // Registry: bad input gets specific errors; good input is created then replaced.
    for (patch, code) in [
        (
            json!({"sender_ids": ["ACMEBANKSECURE"]}),
            "sender_id_too_long",
        ),
        (json!({"sender_ids": ["ACME✓"]}), "sender_id_not_gsm7"),
        (
            json!({"sender_ids": ["ACME"], "templates": ["code {#number#}"]}),
            "invalid_template",
        ),
        (
            json!({"sender_ids": ["ACME"], "colour": "red"}),
            "invalid_request",
        ),
    ] {
        let (st, v) = s.send("PUT", "/v1/brands/acme", ADMIN_KEY, Some(&patch));
        assert_eq!((st, v["code"].as_str()), (422, Some(code)), "{v}");
    }
    assert_eq!(
        s.send("PUT", "/v1/brands/acme", SMS_KEY, Some(&acme())).0,
        403,
        "the registry is admin-only"
    );
    assert_eq!(
        s.send("PUT", "/v1/brands/acme", ADMIN_KEY, Some(&acme())).0,
        201
    );
    assert_eq!(
        s.send("PUT", "/v1/brands/acme", ADMIN_KEY, Some(&acme())).0,
        200
    );
    let nw = json!({"display_names": ["Northwind Telecom"], "sender_ids": ["NORTHWIND"], "unregistered_policy": "label"});
    assert_eq!(
        s.send("PUT", "/v1/brands/northwind", ADMIN_KEY, Some(&nw))
            .0,
        201
    );
    let (_, list) = s.send("GET", "/v1/brands", SMS_KEY, None);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (_, one) = s.send("GET", "/v1/brands/acme", SMS_KEY, None);
    assert_eq!(one["sender_ids"][0], "ACMEBANK");

    verdicts_one_and_many(&s);
    // The audit, as JSON, text and the carrier's CSV.
    let (st, rep) = s.send("GET", "/v1/brands/acme/variants", SMS_KEY, None);
    assert_eq!(st, 200, "{rep}");
    assert!(rep["variants"].as_u64().unwrap() > 300);
    for f in rep["families"].as_array().unwrap() {
        assert!(f["coverage"].as_f64().unwrap() >= 0.99, "{f}");
    }
    assert!(rep["false_positives"]["total"].as_u64().unwrap() >= 500);
    assert!(rep["false_positives"]["rate"].as_f64().unwrap() <= 0.001);
    let (_, _, text) = s.get("/v1/brands/acme/variants?format=text", Some(SMS_KEY));
    assert!(text.as_str().unwrap().contains("coverage"), "{text}");
    let (_, ct, csv) = s.get("/v1/brands/acme/variants?format=csv", Some(SMS_KEY));
    assert!(ct.starts_with("text/csv"));
    let csv = csv.as_str().unwrap();
    assert!(csv.starts_with("sender_id,brand,protected_id,family,action\n"));
    assert!(
        csv.lines()
            .any(|l| l.starts_with("ACMEBNK,acme,ACMEBANK,omission,block")),
        "{}",
        &csv[..300]
    );
    assert_eq!(
        s.send("GET", "/v1/brands/nope/variants", SMS_KEY, None).1["code"],
        "unknown_brand"
    );

    // Delete, and the filter forgets.
    assert_eq!(
        s.send("DELETE", "/v1/brands/northwind", ADMIN_KEY, None).0,
        204
    );
    assert_eq!(
        s.send("DELETE", "/v1/brands/northwind", ADMIN_KEY, None).0,
        404
    );
    let (_, v) = s.send(
        "POST",
        "/v1/sms/evaluate",
        SMS_KEY,
        Some(&json!({"sender": "N0RTHWIND", "body": "x"})),
    );
    assert_eq!(v["reasons"][0]["code"], "unregistered_alphanumeric");

    // A caller citing a text from a lookalike sender: the verification names the spoof even
    // though no stored notification was there to compare with.
    let now = now_ms();
    s.ingest(&[sms(
        "cards",
        "n1",
        "maria",
        now - 30 * 3_600_000,
        "$12.40",
        "STARBUCKS",
        "4417",
    )]);
    s.watermark("cards", now, Some(now - 72 * 3_600_000));
    let v = s.verify(&json!({"customer_id": "maria", "channel": "sms", "received_at": rfc3339(now - 1_800_000), "sender_seen": "ACMEBNK"}));
    assert_eq!(v["verdict"], "not_sent", "{v}");
    let ev = v["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["cue"] == "sender")
        .unwrap()
        .clone();
    assert_eq!(
        (ev["result"].as_str(), ev["recorded"].as_str()),
        (Some("mismatch"), Some("ACMEBANK")),
        "{ev}"
    );

    // The registry survives a restart.
    drop(s);
    let s = Server::start(&dir.path().join("d"), None);
    let (_, v) = s.send(
        "POST",
        "/v1/sms/evaluate",
        SMS_KEY,
        Some(&json!({"sender": "ACME8ANK", "body": ""})),
    );
    assert_eq!(v["verdict"], "block");
}

/// Verdicts on one message and on a batch, in order, with a bad message among good ones.
fn verdicts_one_and_many(s: &Server) {
    // Verdicts, one message.
    let (st, v) = s.send("POST", "/v1/sms/evaluate", SMS_KEY, Some(&json!({"sender": "ACMEBANK", "body": "ACME Bank: 123456 is your code. Never share it."})));
    assert_eq!((st, v["verdict"].as_str()), (200, Some("allow")), "{v}");
    let (_, v) = s.send(
        "POST",
        "/v1/sms/evaluate",
        SMS_KEY,
        Some(&json!({"sender": "ACMEBNK", "body": "Your card is blocked"})),
    );
    assert_eq!(v["verdict"], "block");
    assert_eq!(v["reasons"][0]["code"], "lookalike_sender");
    assert_eq!(v["reasons"][0]["lookalike"]["protected_id"], "ACMEBANK");
    assert_eq!(v["reasons"][0]["lookalike"]["transformation"], "edit");
    let (st, v) = s.send(
        "POST",
        "/v1/sms/evaluate",
        SMS_KEY,
        Some(&json!({"body": "no sender"})),
    );
    assert_eq!((st, v["code"].as_str()), (422, Some("missing_field")));
    assert_eq!(
        s.send(
            "POST",
            "/v1/sms/evaluate",
            AGENT_KEY,
            Some(&json!({"sender": "X"}))
        )
        .0,
        403
    );

    // A batch, in order, one bad message among good ones.
    let (st, v) = s.send(
        "POST",
        "/v1/sms/evaluate",
        SMS_KEY,
        Some(&json!([
            {"sender": "N0RTHWIND", "body": "Your bill"},
            {"sender": "+14155550123", "body": "ACME Bank: unusual sign-in, call 1-888-555-0142"},
            {"body": "missing sender"},
            {"sender": "GYMSHARK", "body": "Sale now on"},
            {"sender": "ACMEBANK", "body": "ACME Bank: your account is locked"},
        ])),
    );
    assert_eq!(st, 200);
    let r = v["results"].as_array().unwrap();
    assert_eq!(
        (
            r[0]["verdict"].as_str(),
            r[0]["reasons"][0]["code"].as_str()
        ),
        (Some("label"), Some("lookalike_sender"))
    );
    let codes: Vec<&str> = r[1]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        vec![
            "brand_mention_unregistered_sender",
            "unofficial_callback_number"
        ]
    );
    assert_eq!(
        (r[2]["index"].as_u64(), r[2]["code"].as_str()),
        (Some(2), Some("missing_field"))
    );
    assert_eq!(r[3]["reasons"][0]["code"], "unregistered_alphanumeric");
    assert_eq!(r[4]["reasons"][1]["code"], "template_mismatch");
}

#[test]
fn cli_loads_a_registry_and_audits_online_and_offline() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("brands.json");
    std::fs::write(
        &file,
        json!({"acme": acme(), "broken": {"sender_ids": ["TOOLONGSENDERID"]}}).to_string(),
    )
    .unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let out = bin()
        .args(["brands", "load"])
        .arg(&file)
        .args(["--server", &s.base, "--key", ADMIN_KEY])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "one brand was rejected");
    assert!(text.contains("acme: created"), "{text}");
    assert!(text.contains("broken: 422 sender_id_too_long"), "{text}");

    let csv = dir.path().join("blocked.csv");
    let json_out = dir.path().join("audit.json");
    let out = bin()
        .args([
            "audit",
            "sender-ids",
            "--brand",
            "acme",
            "--server",
            &s.base,
            "--key",
            SMS_KEY,
            "--export",
        ])
        .arg(&csv)
        .arg("--json")
        .arg(&json_out)
        .output()
        .unwrap();
    let text = ok_stdout(&out);
    assert!(
        text.contains("Sender-ID audit: acme") && text.contains("false positives on"),
        "{text}"
    );
    assert!(std::fs::read_to_string(&csv).unwrap().lines().count() > 300);
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    assert_eq!(rep["brand"], "acme");

    // Offline, from the registry file alone (the broken brand is reported, not skipped silently).
    let out = bin()
        .args(["audit", "sender-ids", "--brand", "acme", "--registry"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sender_id_too_long"));
    std::fs::write(&file, json!({"acme": acme()}).to_string()).unwrap();
    let out = bin()
        .args(["audit", "sender-ids", "--brand", "acme", "--registry"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no misses"));
}
