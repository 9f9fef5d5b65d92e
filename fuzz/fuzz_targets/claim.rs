//! A claim as an agent's desktop sends it, validated and decided against a small ledger (every
//! matching cue runs on the fuzzed text).
#![no_main]

use countersign_core::validate::{validate_notification, NotificationIn};
use countersign_core::verify::{
    claim_window, decide, validate_claim, ClaimIn, LedgerContext, VerifyConfig,
};
use countersign_core::{SourceState, StoredNotification};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = serde_json::from_slice::<ClaimIn>(data) else {
        return;
    };
    let vcfg = common::validation();
    let Ok(claim) = validate_claim(&raw, &vcfg.extract, vcfg.limits.id_chars_max) else {
        return;
    };
    let hour = 3_600_000;
    let record: NotificationIn = serde_json::from_value(serde_json::json!({
        "source": "cards", "id": "n1", "customer_id": claim.customer_id, "channel": "sms",
        "sender": "72263", "sent_at": countersign_core::validate::format_time(common::NOW - 3 * hour),
        "body": "ACME Bank: $479.99 at BESTBUY #1123 on card ending 4417. Not you? Call 1-800-555-0199."
    }))
    .expect("a fixed record");
    let n = validate_notification(&record, &vcfg, common::NOW).expect("a valid record");
    let candidates = vec![StoredNotification {
        status_at: n.sent_at,
        acked_at: n.sent_at + 1_000,
        record: n,
    }];
    let sources = vec![SourceState {
        source: "cards".into(),
        channels_mask: countersign_core::Channel::Sms.bit(),
        declared_watermark: Some(common::NOW),
        complete_since: Some(common::NOW - 72 * hour),
        first_acked_at: Some(common::NOW - 72 * hour),
        ..Default::default()
    }];
    let cfg = VerifyConfig::default();
    let retention = 90 * 24 * hour;
    let _ = claim_window(&claim, common::NOW, retention, &cfg);
    let ctx = LedgerContext {
        customer_known: true,
        candidates: &candidates,
        sources: &sources,
        retention_start: common::NOW - retention,
        body_hmac_key: &vcfg.body_hmac_key,
    };
    let v = decide(&claim, common::NOW, retention, &cfg, &ctx);
    assert!(v.guidance.contains(v.action.instruction()), "one instruction: {v:?}");
});
