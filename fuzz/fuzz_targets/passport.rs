//! A caller's PASSporT as a platform hands it over (a bare token, an `Identity` header value or
//! line): split, decoded and verified against no certificate — and the same bytes as a
//! TNAuthList extension — must answer or refuse, never panic.
#![no_main]

use countersign_core::stir::{self, CallNumbers, Rules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = stir::cert::tn_auth_list_spc(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let inputs: Vec<String> = text.lines().map(str::to_string).collect();
    let _ = stir::Passports::parse(&inputs).cert_urls();
    let none = |_: &str| None;
    let r = stir::verify(
        &inputs,
        &CallNumbers {
            calling: "+12155551212",
            called: Some("+18005550100"),
            now_s: 1_796_256_000,
        },
        &none,
        &Rules::default(),
    );
    // Without a certificate nothing can pass.
    assert_ne!(r.verstat, stir::Verstat::Passed);
});
