//! An Amazon Connect contact-flow event read into a call, then validated.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(call) = countersign_core::platform::connect_call(&event) {
        let x = countersign_core::extract::ExtractConfig::default();
        let _ = countersign_core::call::validate_call(&call, common::NOW, &x, 128);
    }
});
