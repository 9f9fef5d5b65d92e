//! Inbound-call scoring end to end through the public API: the paired attack, a spoofed own
//! number, one ANI calling about ten customers, a genuine customer, a stale feed, account events,
//! outcomes, and policy reload.

use crate::common::*;
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;

fn world(s: &Server, now: i64) {
    s.send(
        "PUT",
        "/v1/customers/maria",
        INGEST_KEY,
        Some(&json!({"phones": ["+14155550100"]})),
    );
    s.maria_card_alert(now);
}

fn start(s: &Server, body: Value) -> Value {
    s.ok("POST", "/v1/calls", AGENT_KEY, &body)
}

#[test]
fn the_paired_pattern_and_the_genuine_customer() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    world(&s, now);

    // The attacker: unknown number, B attestation, cites a forged text seconds into the call.
    let v = start(
        &s,
        json!({"call_id": "atk-1", "customer_id": "maria", "ani": "+1 (628) 555-0142",
        "verstat": "TN-Validation-Passed-B", "intent": "wire"}),
    );
    let signals = signals(&v);
    assert_eq!(signals.len(), 2, "{v}");
    assert!(
        signals.iter().any(|x| x == "ani_not_on_file")
            && signals.iter().any(|x| x == "high_risk_intent"),
        "{v}"
    );
    assert_eq!(v["band"], "medium");
    let (st, a) = s.send("POST", "/v1/calls/atk-1/claims", AGENT_KEY, Some(&json!({"channel": "sms",
        "received_at": rfc3339(now - 40 * 60_000), "sender_seen": "ACMEBNK",
        "mentions": {"amount": "$480", "merchant": "Best Buy", "callback_number": "888-555-0142"}})));
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["verification"]["verdict"], "not_sent");
    assert!(
        matches!(a["score"]["band"].as_str(), Some("high") | Some("critical")),
        "{a}"
    );
    assert_eq!(
        a["score"]["action"],
        if a["score"]["band"] == "high" {
            "callback"
        } else {
            "block"
        }
    );
    assert_eq!(a["score"]["reasons"][0]["signal"], "claim_not_sent");
    assert!(a["score"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["signal"] == "claim_not_sent_early"));
    let (_, call) = s.send("GET", "/v1/calls/atk-1", AGENT_KEY, None);
    eventually("the call read in the audit log", 10, || {
        let (_, _, log) = s.get("/v1/audit-log?limit=20", Some(ADMIN_KEY));
        let seen = log.as_array().unwrap().iter().any(|e| {
            e["action"] == "call" && e["customer_id"] == "maria" && e["detail"] == "call_id=atk-1"
        });
        seen.then_some(())
    });
    assert_eq!(call["scores"].as_array().unwrap().len(), 2);
    assert_eq!(call["claims"][0]["verdict"], "not_sent");
    let (st, _) = s.send(
        "POST",
        "/v1/calls/atk-1/outcome",
        AGENT_KEY,
        Some(&json!({"outcome": "fraud", "note": "hung up at callback"})),
    );
    assert_eq!(st, 200);
    s.refused(
        "POST",
        "/v1/calls/atk-1/outcome",
        AGENT_KEY,
        Some(&json!({"outcome": "maybe"})),
        422,
        "invalid_outcome",
    );

    // The genuine customer: own number, A attestation, a real text with imperfect recall.
    start(
        &s,
        json!({"call_id": "ok-1", "customer_id": "maria", "ani": "415-555-0100",
        "verstat": "TN-Validation-Passed-A", "intent": "dispute"}),
    );
    let (_, a) = s.send(
        "POST",
        "/v1/calls/ok-1/claims",
        AGENT_KEY,
        Some(&json!({"channel": "sms",
        "mentions": {"amount": "480", "merchant": "best buy"}})),
    );
    assert_eq!(a["verification"]["verdict"], "confirmed", "{a}");
    assert_eq!(
        (a["score"]["band"].as_str(), a["score"]["action"].as_str()),
        (Some("low"), Some("proceed")),
        "{a}"
    );

    // Duplicates and unknown calls.
    s.refused(
        "POST",
        "/v1/calls",
        AGENT_KEY,
        Some(&json!({"call_id": "ok-1", "ani": "+14155550100"})),
        409,
        "call_exists",
    );
    assert_eq!(
        s.send("GET", "/v1/calls/nope", AGENT_KEY, None).1["code"],
        "unknown_call"
    );
    s.refused(
        "POST",
        "/v1/calls",
        AGENT_KEY,
        Some(&json!({"call_id": "x"})),
        422,
        "missing_field",
    );
}

/// Start a call, then cite a claim in it: the claim's answer.
fn claim_in_call(s: &Server, call: Value, claim: Value) -> Value {
    let id = call["call_id"].as_str().unwrap().to_string();
    start(s, call);
    s.ok("POST", &format!("/v1/calls/{id}/claims"), AGENT_KEY, &claim)
}

/// The verification's instruction and the call's action are one: same action, and the guidance
/// ends with the score's instruction.
fn one_instruction(a: &Value) {
    assert_eq!(a["verification"]["action"], a["score"]["action"], "{a}");
    let guidance = a["verification"]["guidance"].as_str().unwrap();
    assert!(
        guidance.ends_with(a["score"]["guidance"].as_str().unwrap()),
        "{a}"
    );
    let ends_call = matches!(a["score"]["action"].as_str(), Some("callback" | "block"));
    assert_eq!(guidance.contains("end the call"), ends_call, "{a}");
}

#[test]
fn the_paired_pattern_around_a_genuine_text() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    s.send(
        "PUT",
        "/v1/customers/dana",
        INGEST_KEY,
        Some(&json!({"phones": ["+14155550123"]})),
    );
    // A genuine card alert 30 minutes ago, with our callback number.
    s.ingest(&[sms(
        "cards",
        "costco-1",
        "dana",
        now - 30 * 60_000,
        "$212.02",
        "COSTCO WHSE #0412",
        "0412",
    )]);
    s.watermark("cards", now, Some(now - 72 * HOUR));

    // The attacker: a number not on file, no attestation, asks to change the phone number and
    // cites a forged alert in the first seconds.
    start(
        &s,
        json!({"call_id": "pp-1", "customer_id": "dana", "ani": "+1 628 555 0142",
        "verstat": "No-TN-Validation", "intent": "change_phone"}),
    );
    let a = s.ok("POST", "/v1/calls/pp-1/claims", AGENT_KEY, &json!({"channel": "sms",
        "received_at": rfc3339(now - 10 * 60_000),
        "mentions": {"amount": "$1,480.00", "merchant": "Best Buy", "callback_number": "888-555-0199"}}));
    let v = &a["verification"];
    assert_eq!(v["verdict"], "not_sent", "{a}");
    let nearby: Vec<&Value> = v["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cue"] == "sent_nearby")
        .collect();
    assert_eq!(nearby.len(), 1, "{a}");
    assert!(
        nearby[0]["detail"]
            .as_str()
            .unwrap()
            .contains("COSTCO WHSE #0412"),
        "{a}"
    );
    assert!(v["guidance"].as_str().unwrap().contains("COSTCO"), "{a}");
    assert!(
        matches!(a["score"]["band"].as_str(), Some("high" | "critical")),
        "{a}"
    );
    assert!(
        matches!(a["score"]["action"].as_str(), Some("callback" | "block")),
        "{a}"
    );
    let sig = signals(&a["score"]);
    assert!(sig.iter().any(|x| x == "ani_not_on_file_unattested"), "{a}");
    one_instruction(&a);

    // The genuine customer, own number, attested, cites that text imperfectly.
    let a = claim_in_call(
        &s,
        json!({"call_id": "pp-ok", "customer_id": "dana", "ani": "415-555-0123",
        "verstat": "TN-Validation-Passed-A", "intent": "dispute"}),
        json!({"channel": "sms", "mentions": {"amount": "about 210 dollars", "merchant": "Costco"}}),
    );
    assert_eq!(a["verification"]["verdict"], "confirmed", "{a}");
    assert!(
        matches!(a["score"]["band"].as_str(), Some("low" | "medium")),
        "{a}"
    );
    one_instruction(&a);

    // Our alert, but the caller's copy says to call another number: end the call even though
    // everything else about the call looks fine.
    let a = claim_in_call(
        &s,
        json!({"call_id": "pp-copy", "customer_id": "dana", "ani": "+14155550123",
        "verstat": "TN-Validation-Passed-A", "intent": "balance"}),
        json!({"channel": "sms",
        "mentions": {"amount": "212.02", "merchant": "Costco", "callback_number": "888-555-0199"}}),
    );
    assert_eq!(
        (
            a["verification"]["verdict"].as_str(),
            a["verification"]["reason"].as_str()
        ),
        (Some("partial"), Some("cue_mismatch")),
        "{a}"
    );
    assert!(
        matches!(a["score"]["action"].as_str(), Some("callback" | "block")),
        "{a}"
    );
    assert!(signals(&a["score"])
        .iter()
        .any(|x| x == "claim_contradicted"));
    one_instruction(&a);

    // Caller-ID signals: withheld, and an international number for a domestic customer.
    let w = start(
        &s,
        json!({"call_id": "pp-anon", "customer_id": "dana", "ani": "anonymous"}),
    );
    assert!(signals(&w).iter().any(|x| x == "caller_id_withheld"), "{w}");
    assert!(!signals(&w).iter().any(|x| x == "ani_not_on_file"), "{w}");
    let i = start(
        &s,
        json!({"call_id": "pp-intl", "customer_id": "dana", "ani": "+44 7700 900123",
        "verstat": "TN-Validation-Passed-B", "line_type": "nonFixedVoip"}),
    );
    let sig = signals(&i);
    assert!(
        sig.iter().any(|x| x == "ani_international")
            && sig.iter().any(|x| x == "ani_non_fixed_voip"),
        "{i}"
    );
}

#[test]
fn spoofed_own_number_velocity_events_stale_feed_and_policy_reload() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../policy/default.toml"
        ))
        .unwrap(),
    )
    .unwrap();
    let s = Server::start(
        &dir.path().join("d"),
        Some(&format!("policy_file = {:?}\n", policy.to_str().unwrap())),
    );
    let now = now_ms();
    world(&s, now);

    // The customer's own number, unattested, after a SIM swap yesterday.
    let (_, ev) = s.send(
        "POST",
        "/v1/account-events",
        INGEST_KEY,
        Some(&json!([
            {"customer_id": "maria", "kind": "sim_swap", "at": rfc3339(now - 20 * HOUR)},
            {"customer_id": "maria", "kind": "teleport", "at": rfc3339(now)},
        ])),
    );
    assert_eq!(
        (ev["accepted"].as_u64(), ev["errors"][0]["code"].as_str()),
        (Some(1), Some("invalid_kind")),
        "{ev}"
    );
    let v = start(
        &s,
        json!({"call_id": "sp-1", "customer_id": "maria", "ani": "+14155550100", "verstat": "No-TN-Validation", "intent": "change_phone"}),
    );
    let signals = signals(&v);
    assert!(
        signals.iter().any(|x| x == "ani_on_file_unattested")
            && signals.iter().any(|x| x == "sim_swap"),
        "{v}"
    );
    assert!(
        matches!(v["band"].as_str(), Some("high") | Some("critical")),
        "{v}"
    );

    // One number calling about ten customers.
    let mut last = Value::Null;
    for i in 0..10 {
        last = start(
            &s,
            json!({"call_id": format!("vel-{i}"), "customer_id": format!("cust-{i}"), "ani": "+16285550199", "verstat": "TN-Validation-Passed-A"}),
        );
    }
    assert_eq!(last["reasons"][0]["signal"], "ani_velocity", "{last}");
    assert!(last["band"] != "low", "{last}");
    // Ten withheld callers are ten people, not one line's velocity (the simulator found
    // every withheld caller flagged for velocity before).
    for i in 0..10 {
        last = start(
            &s,
            json!({"call_id": format!("anon-{i}"), "customer_id": format!("cust-{i}"), "ani": "anonymous"}),
        );
    }
    let withheld = crate::common::signals(&last);
    assert!(withheld.iter().any(|x| x == "caller_id_withheld"), "{last}");
    assert!(
        !withheld.iter().any(|x| x.starts_with("ani_velocity")),
        "{last}"
    );

    // A stale feed: the claim cannot be checked, so it escalates nothing on its own.
    s.send(
        "PUT",
        "/v1/customers/john",
        INGEST_KEY,
        Some(&json!({"phones": ["+14155550111"]})),
    );
    s.ingest(&[json!({"source": "mailer", "id": "e1", "customer_id": "john", "channel": "email", "sent_at": rfc3339(now - 30 * HOUR)})]);
    s.watermark("mailer", now - 6 * HOUR, Some(now - 72 * HOUR));
    start(
        &s,
        json!({"call_id": "st-1", "customer_id": "john", "ani": "+14155550111", "verstat": "TN-Validation-Passed-A", "intent": "balance"}),
    );
    let (_, a) = s.send(
        "POST",
        "/v1/calls/st-1/claims",
        AGENT_KEY,
        Some(&json!({"channel": "email", "received_at": rfc3339(now - HOUR)})),
    );
    assert_eq!(a["verification"]["verdict"], "cannot_confirm", "{a}");
    assert_eq!(a["score"]["band"], "low", "{a}");

    // Policy reload: a broken file is refused and the old policy stays; a good one applies.
    let (_, p) = s.send("GET", "/v1/policy", AGENT_KEY, None);
    assert_eq!(p["version"], "default-2026-11");
    std::fs::write(&policy, "version = \"v2\"\n[weights]\nsim_swapp = 1.0\n").unwrap();
    let (st, v) = s.send("POST", "/v1/policy/reload", ADMIN_KEY, None);
    assert_eq!(
        (st, v["code"].as_str()),
        (422, Some("invalid_policy")),
        "{v}"
    );
    assert!(v["detail"].as_str().unwrap().contains("sim_swapp"));
    std::fs::write(&policy, "version = \"v2\"\n[weights]\nsim_swap = 4.0\n").unwrap();
    let (st, v) = s.send("POST", "/v1/policy/reload", ADMIN_KEY, None);
    assert_eq!((st, v["version"].as_str()), (200, Some("v2")));
    let v = start(
        &s,
        json!({"call_id": "sp-2", "customer_id": "maria", "ani": "+14155550100", "verstat": "TN-Validation-Passed-A"}),
    );
    assert_eq!(v["policy_version"], "v2");
    assert_eq!(s.send("POST", "/v1/policy/reload", AGENT_KEY, None).0, 403);

    // After a restart the window of recent calls is rebuilt from the store: the same number is
    // still known to have called about ten customers.
    drop(s);
    let s = Server::start(
        &dir.path().join("d"),
        Some(&format!("policy_file = {:?}\n", policy.to_str().unwrap())),
    );
    let v = start(
        &s,
        json!({"call_id": "vel-10", "customer_id": "cust-10", "ani": "+16285550199", "verstat": "TN-Validation-Passed-A"}),
    );
    assert_eq!(v["reasons"][0]["signal"], "ani_velocity", "{v}");
    assert!(
        v["reasons"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("11 customers"),
        "{v}"
    );
}

#[test]
fn a_surge_of_forged_text_claims_is_an_alert_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    world(&s, now);
    let (_, quiet) = s.send("GET", "/v1/surge", AGENT_KEY, None);
    assert_eq!(
        (quiet["last_hour"].as_u64(), quiet["active"].as_bool()),
        (Some(0), Some(false)),
        "{quiet}"
    );
    let claim = json!({"channel": "sms", "received_at": rfc3339(now - 20 * 60_000),
        "mentions": {"amount": "$950", "merchant": "Apple Store"}});
    let mut last = Value::Null;
    for i in 0..6 {
        start(
            &s,
            json!({"call_id": format!("wave-{i}"), "customer_id": "maria", "ani": format!("+1628555{i:04}"), "verstat": "TN-Validation-Passed-C"}),
        );
        let (st, a) = s.send(
            "POST",
            &format!("/v1/calls/wave-{i}/claims"),
            AGENT_KEY,
            Some(&claim),
        );
        assert_eq!(
            (st, a["verification"]["verdict"].as_str()),
            (200, Some("not_sent")),
            "{a}"
        );
        last = a;
    }
    // Six forged-text claims in an hour on a system that usually sees none: 7× usual.
    assert_eq!(last["score"]["alerts"], json!(["not_sent_surge"]), "{last}");
    assert!(
        last["score"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["signal"] == "not_sent_surge"),
        "{last}"
    );
    let (st, v) = s.send("GET", "/v1/surge", AGENT_KEY, None);
    assert_eq!(st, 200);
    assert_eq!(
        (v["last_hour"].as_u64(), v["active"].as_bool()),
        (Some(6), Some(true)),
        "{v}"
    );
    let (_, _, m) = s.get("/metrics", Some(ADMIN_KEY));
    assert!(
        m.as_str()
            .unwrap()
            .contains("countersign_not_sent_surge_active 1"),
        "{m}"
    );
    // Rebuilt from the stored verdicts after a restart.
    drop(s);
    let s = Server::start(&dir.path().join("d"), None);
    let (_, v) = s.send("GET", "/v1/surge", AGENT_KEY, None);
    assert_eq!(
        (v["last_hour"].as_u64(), v["active"].as_bool()),
        (Some(6), Some(true)),
        "{v}"
    );
    // A call without a claim still carries the alert, for the agent's screen.
    let v = start(
        &s,
        json!({"call_id": "after", "customer_id": "maria", "ani": "+14155550100", "verstat": "TN-Validation-Passed-A"}),
    );
    assert_eq!(v["alerts"], json!(["not_sent_surge"]), "{v}");
}

#[test]
fn policy_fit_learns_from_outcome_labels() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let now = now_ms();
    {
        let s = Server::start(&data, None);
        world(&s, now);
        // 25 attacks (unknown number, forged text) and 25 genuine calls (own number, real text),
        // plus a few genuine callers from other numbers and a few attackers on a real text.
        for i in 0..60 {
            let fraud = i % 2 == 0;
            let odd = i % 10 == 9 || i % 10 == 8;
            let ani = if fraud != odd {
                format!("+1628555{:04}", i)
            } else {
                "+14155550100".into()
            };
            start(
                &s,
                json!({"call_id": format!("c{i}"), "customer_id": "maria", "ani": ani, "verstat": "TN-Validation-Passed-A"}),
            );
            let claim = if fraud && !odd {
                json!({"channel": "sms", "received_at": rfc3339(now - 40 * 60_000), "mentions": {"amount": "$999"}})
            } else {
                json!({"channel": "sms", "mentions": {"amount": "$480", "merchant": "Best Buy"}})
            };
            s.send(
                "POST",
                &format!("/v1/calls/c{i}/claims"),
                AGENT_KEY,
                Some(&claim),
            );
            let outcome = if fraud { "fraud" } else { "legitimate" };
            s.send(
                "POST",
                &format!("/v1/calls/c{i}/outcome"),
                AGENT_KEY,
                Some(&json!({"outcome": outcome})),
            );
        }
    }
    let out = dir.path().join("fitted.toml");
    let o = bin()
        .args(["policy", "fit", "--data-dir"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .env("COUNTERSIGN_LOG", "warn")
        .output()
        .unwrap();
    let text = ok_stdout(&o);
    assert!(
        text.contains("60 labelled (30 fraud, 30 legitimate)"),
        "{text}"
    );
    assert!(
        text.contains("before: Brier") && text.contains("after : Brier"),
        "{text}"
    );
    let fitted: countersign_core::score::Policy =
        toml::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(fitted.version.starts_with("fit-"));
    assert!(
        fitted.weights.claim_not_sent > 0.0 && fitted.weights.claim_confirmed < 0.0,
        "{:?}",
        fitted.weights
    );
    // Too few labels: a clear error.
    let empty = dir.path().join("e");
    let o = bin()
        .args(["policy", "fit", "--data-dir"])
        .arg(&empty)
        .arg("--out")
        .arg(dir.path().join("x.toml"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least 20 labelled calls"));
}
