//! A text as a customer pastes it into the app: cleaned (headers, wrappers, rewritten links) and
//! turned into a claim, which must validate or be refused — never panic.
#![no_main]

use countersign_core::textcheck::clean_pasted;
use countersign_core::verify::{validate_claim, ClaimIn, MentionsIn};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let p = clean_pasted(text);
    // Cleaning is idempotent on what it keeps: one line, no wrapper lines left.
    assert!(!p.text.contains('\n'));
    let claim = ClaimIn {
        customer_id: Some("c".into()),
        channel: Some("sms".into()),
        received_at: None,
        sender_seen: p.sender.clone(),
        mentions: MentionsIn {
            text: Some(p.text.chars().take(1_024).collect()),
            ..Default::default()
        },
    };
    let x = countersign_core::extract::ExtractConfig::default();
    let _ = validate_claim(&claim, &x, 128);
});
