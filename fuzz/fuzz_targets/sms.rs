//! An SMS as the carrier's filter sees it (sender, then a newline, then the body) evaluated
//! against a registry with one brand.
#![no_main]

use countersign_core::sender::{evaluate, validate_brand, BrandIn, FilterPolicy, Registry, SmsAction};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (sender, body) = text.split_once('\n').unwrap_or((text, ""));
    let x = countersign_core::extract::ExtractConfig::default();
    let reg = REGISTRY.get_or_init(registry);
    let _ = evaluate(sender, body, reg, &x);
    let _ = countersign_core::sender::validate_sender_id(sender, &x);
});

/// Compiled once: building the registry's indexes is not what is being fuzzed.
static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();

fn registry() -> Registry {
    let x = countersign_core::extract::ExtractConfig::default();
    let acme = validate_brand(
        "acme",
        BrandIn {
            display_names: vec!["ACME Bank".into()],
            sender_ids: vec!["ACMEBANK".into(), "72263".into()],
            callback_numbers: vec!["1-800-555-0199".into()],
            domains: vec!["acmebank.com".into()],
            templates: vec!["ACME Bank: your code is {#var#}. Never share it.".into()],
            unregistered_policy: SmsAction::Block,
            ..Default::default()
        },
        &x,
    )
    .expect("a fixed brand");
    Registry::new(vec![acme], FilterPolicy::default())
}
