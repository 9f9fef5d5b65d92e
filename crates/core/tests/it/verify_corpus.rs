//! The matching corpus: claims as callers phrase them (genuine with imperfect recall,
//! contradicted, forged, unanswerable) against a small ledger, each with the verdict a careful
//! analyst would give. Reports accuracy per verdict; a false `not_sent` fails outright.
//! Cases live in `corpus/verify_corpus.json` (regenerate with `corpus/generate.py`).

use std::collections::BTreeMap;

use countersign_core::extract::ExtractConfig;
use countersign_core::guidance::Action;
use countersign_core::score::{score, Attestation, CallFacts, CitedClaim, Policy};
use countersign_core::validate::{
    parse_time, validate_notification, BodyRetention, FieldLimits, NotificationIn, ValidationConfig,
};
use countersign_core::verify::{
    claim_window, decide, validate_claim, ClaimIn, LedgerContext, Verification, VerifyConfig,
};
use countersign_core::{SourceState, StoredNotification};
use serde_json::Value;

#[test]
fn matching_corpus() {
    let corpus: Value = serde_json::from_str(include_str!("../corpus/verify_corpus.json")).unwrap();
    let now = parse_time("now", corpus["now"].as_str().unwrap()).unwrap();
    let retention_ms = corpus["retention_days"].as_i64().unwrap() * 86_400_000;
    let key = b"corpus-hmac-key".to_vec();
    let vcfg = ValidationConfig {
        limits: FieldLimits::default(),
        retention: BodyRetention::Full,
        future_skew_ms: 300_000,
        extract: ExtractConfig::default(),
        body_hmac_key: key.clone(),
    };
    let cfg = VerifyConfig::default();

    let mut ledger: Vec<StoredNotification> = Vec::new();
    let mut sources: BTreeMap<String, SourceState> = BTreeMap::new();
    for r in corpus["ledger"].as_array().unwrap() {
        let raw: NotificationIn = serde_json::from_value(r.clone()).unwrap();
        let n = validate_notification(&raw, &vcfg, now).unwrap();
        let acked = n.sent_at + 2_000;
        let s = sources
            .entry(n.source.clone())
            .or_insert_with(|| SourceState {
                source: n.source.clone(),
                ..Default::default()
            });
        s.channels_mask |= n.channel.bit();
        s.records_total += 1;
        s.last_sent_at = Some(s.last_sent_at.map_or(n.sent_at, |v| v.max(n.sent_at)));
        s.first_acked_at = Some(s.first_acked_at.map_or(acked, |v| v.min(acked)));
        ledger.push(StoredNotification {
            status_at: n.sent_at,
            record: n,
            acked_at: acked,
        });
    }
    for s in corpus["sources"].as_array().unwrap() {
        let st = sources.get_mut(s["source"].as_str().unwrap()).unwrap();
        st.declared_watermark = Some(parse_time("w", s["watermark"].as_str().unwrap()).unwrap());
        st.complete_since = Some(parse_time("c", s["complete_since"].as_str().unwrap()).unwrap());
    }
    let sources: Vec<SourceState> = sources.into_values().collect();

    // expected verdict -> (cases, correct)
    let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut false_not_sent = Vec::new();
    let cases = corpus["cases"].as_array().unwrap();
    for c in cases {
        let raw: ClaimIn = serde_json::from_value(c["claim"].clone()).unwrap();
        let claim = validate_claim(&raw, &vcfg.extract, vcfg.limits.id_chars_max)
            .unwrap_or_else(|e| panic!("{}: {}", c["name"], e.detail));
        let w = claim_window(&claim, now, retention_ms, &cfg);
        let candidates: Vec<StoredNotification> = ledger
            .iter()
            .filter(|n| {
                n.record.customer_id == claim.customer_id
                    && n.record.sent_at >= w.from
                    && n.record.sent_at <= w.to
            })
            .cloned()
            .collect();
        let ctx = LedgerContext {
            customer_known: ledger
                .iter()
                .any(|n| n.record.customer_id == claim.customer_id),
            candidates: &candidates,
            sources: &sources,
            retention_start: now - retention_ms,
            body_hmac_key: &key,
        };
        let v = decide(&claim, now, retention_ms, &cfg, &ctx);
        let expect = c["expect"].as_str().unwrap();
        let got = v.verdict.as_str();
        let reason_ok = c
            .get("expect_reason")
            .and_then(Value::as_str)
            .is_none_or(|r| Some(r) == v.reason)
            && c.get("expect_action")
                .and_then(Value::as_str)
                .is_none_or(|a| a == v.action.as_str());
        one_instruction(&v, now, c["name"].as_str().unwrap());
        let t = tally.entry(expect.to_string()).or_default();
        t.0 += 1;
        if got == expect && reason_ok {
            t.1 += 1;
        } else {
            misses.push(format!(
                "  {} — expected {expect}{}, got {got}{} (\"{}\")",
                c["name"].as_str().unwrap(),
                c.get("expect_reason")
                    .map(|r| format!("/{}", r.as_str().unwrap()))
                    .unwrap_or_default()
                    + &c.get("expect_action")
                        .map(|a| format!(" → {}", a.as_str().unwrap()))
                        .unwrap_or_default(),
                v.reason.map(|r| format!("/{r}")).unwrap_or_default()
                    + &format!(" → {}", v.action.as_str()),
                c["said"].as_str().unwrap()
            ));
        }
        if got == "not_sent" {
            assert!(
                v.evidence.iter().any(|e| e.cue == "ledger"),
                "{}: not_sent names what was searched",
                c["name"]
            );
        }
        if got == "not_sent" && expect != "not_sent" {
            false_not_sent.push(c["name"].as_str().unwrap().to_string());
        }
    }
    let total: usize = tally.values().map(|t| t.0).sum();
    let correct: usize = tally.values().map(|t| t.1).sum();
    println!(
        "matching corpus: {correct}/{total} correct ({:.1}%)",
        100.0 * correct as f64 / total as f64
    );
    for (verdict, (n, ok)) in &tally {
        println!(
            "  {verdict:<15} {ok:>3}/{n:<3} {:.1}%",
            100.0 * *ok as f64 / *n as f64
        );
    }
    if !misses.is_empty() {
        println!("misses:\n{}", misses.join("\n"));
    }
    assert!(total >= 200, "the corpus must hold at least 200 cases");
    assert!(
        false_not_sent.is_empty(),
        "false not_sent (the worst bug): {false_not_sent:?}"
    );
    for (verdict, (n, ok)) in &tally {
        let acc = *ok as f64 / *n as f64;
        assert!(
            acc >= 1.0,
            "{verdict}: accuracy {:.1}% is under 100%",
            acc * 100.0
        );
    }
}

/// The verification's own guidance ends with its action's instruction; and in a call, over
/// intents and caller-ID situations, the call's action is never less than the claim's and the
/// guidance the agent reads is the call's action's — never two instructions.
fn one_instruction(v: &Verification, now: i64, name: &str) {
    assert!(
        v.guidance.ends_with(v.action.instruction()),
        "{name}: guidance {:?} does not end with the {:?} instruction",
        v.guidance,
        v.action
    );
    let p = Policy::default();
    for intent in [
        None,
        Some("balance"),
        Some("dispute"),
        Some("wire"),
        Some("change_phone"),
    ] {
        for (on_file, attestation) in [
            (Some(true), Attestation::A),
            (Some(false), Attestation::None),
            (None, Attestation::B),
        ] {
            for secs in [5, 400] {
                let facts = CallFacts {
                    ani_on_file: on_file,
                    attestation: Some(attestation),
                    intent: intent.map(str::to_string),
                    claim: Some(CitedClaim {
                        verdict: v.verdict,
                        seconds_into_call: secs,
                        action: v.action,
                    }),
                    not_sent_surge: 1.0,
                    ..Default::default()
                };
                let s = score(&facts, &p, now);
                assert!(
                    s.action >= v.action,
                    "{name}: call action below the claim's"
                );
                let mut shown = v.clone();
                shown.set_action(s.action);
                let ends_call = shown.guidance.contains("end the call");
                assert_eq!(
                    ends_call,
                    s.action >= Action::Callback,
                    "{name} / {intent:?}: guidance {:?} vs action {:?}",
                    shown.guidance,
                    s.action
                );
                assert!(shown.guidance.ends_with(s.guidance.as_str()), "{name}");
                assert_eq!(
                    shown.guidance.contains("step-up"),
                    s.action == Action::StepUp,
                    "{name}: {:?}",
                    shown.guidance
                );
            }
        }
    }
}

/// Every verdict × reason × the action it can carry, through a call with every intent and
/// caller-ID situation (inside `one_instruction`): the agent never reads two instructions.
#[test]
fn every_verdict_and_reason_gives_one_instruction() {
    use countersign_core::guidance::compose;
    use countersign_core::verify::{apply_campaign, Verdict, WindowView};
    let make = |verdict: Verdict, reason: Option<&'static str>, action: Action| {
        let finding = format!("{verdict:?} {reason:?}.");
        Verification {
            verdict,
            reason,
            confidence: 0.9,
            matched: None,
            evidence: Vec::new(),
            guidance: compose(&finding, action),
            action,
            finding,
            ledger_fresh_until: None,
            window: WindowView {
                from: "2026-06-03T10:00:00Z".into(),
                to: "2026-06-03T12:00:00Z".into(),
            },
            campaign_id: None,
        }
    };
    let now = parse_time("now", "2026-06-03T12:00:00Z").unwrap();
    let mut all = vec![
        make(Verdict::Confirmed, None, Action::Proceed),
        make(Verdict::NotSent, None, Action::Callback),
    ];
    for reason in ["cue_mismatch", "channel_mismatch"] {
        all.push(make(Verdict::Partial, Some(reason), Action::StepUp));
    }
    for reason in ["cue_mismatch", "sender_lookalike", "delivery_failed"] {
        all.push(make(Verdict::Partial, Some(reason), Action::Callback));
    }
    for reason in [
        "ledger_stale",
        "unknown_customer",
        "outside_retention",
        "no_feed_for_channel",
        "before_feed_start",
        "claim_time_in_future",
        "text_not_retained",
    ] {
        all.push(make(Verdict::CannotConfirm, Some(reason), Action::Proceed));
    }
    // A campaign match turns anything short of confirmed into known_scam, at least callback.
    let scams: Vec<Verification> = all
        .iter()
        .filter(|v| v.verdict != Verdict::Confirmed)
        .map(|v| {
            let mut v = v.clone();
            apply_campaign(&mut v, 7, "matches campaign 7".into());
            assert_eq!(v.verdict, Verdict::KnownScam);
            assert!(v.action >= Action::Callback, "{v:?}");
            v
        })
        .collect();
    all.extend(scams);
    for v in &all {
        one_instruction(
            v,
            now,
            &format!("{:?}/{:?}/{:?}", v.verdict, v.reason, v.action),
        );
    }
}
