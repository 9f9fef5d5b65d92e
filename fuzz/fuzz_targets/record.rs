//! An ingest body (JSON object, array or NDJSON) split into records, each parsed, validated and
//! its facts extracted; an amount read from any text is a real amount or absent.
#![no_main]

use countersign_core::records::{parse, split};
use countersign_core::validate::{validate_notification, NotificationIn};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let cfg = common::validation();
    for ctype in ["application/json", "application/x-ndjson"] {
        let Ok(records) = split(ctype, data, 1_000) else {
            continue;
        };
        for r in &records {
            if let Ok(raw) = parse::<NotificationIn>(r, 16 * 1024) {
                let _ = validate_notification(&raw, &cfg, common::NOW);
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(m) = countersign_core::extract::parse_amount(text) {
            assert!(m.minor >= 0, "a negative amount from {text:?}");
        }
        let _ = countersign_core::extract::extract_from_body(text, &cfg.extract);
    }
});
