//! A platform's JSON call event — an Amazon Connect contact-flow event, a Bandwidth voice
//! callback — read into a call, then validated.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let x = countersign_core::extract::ExtractConfig::default();
    for call in [
        countersign_core::platform::connect_call(&event),
        countersign_core::platform::bandwidth_call(&event),
    ]
    .into_iter()
    .flatten()
    {
        let _ = countersign_core::call::validate_call(&call, common::NOW, &x, 128);
    }
});
