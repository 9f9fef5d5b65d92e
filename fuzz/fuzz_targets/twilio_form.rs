//! Twilio's form-encoded voice webhook read into a call, then validated.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let (call, _params) = countersign_core::platform::twilio_call(data);
    let x = countersign_core::extract::ExtractConfig::default();
    let _ = countersign_core::call::validate_call(&call, common::NOW, &x, 128);
});
