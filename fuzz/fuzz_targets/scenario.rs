//! An exercise scenario file (TOML) parsed and checked, its expectations compiled as CEL.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = countersign_exercise::parse(text);
    }
});
