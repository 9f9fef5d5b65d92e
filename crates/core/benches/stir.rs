//! Criterion benchmarks for STIR/SHAKEN: a PASSporT verified with its signer's certificate
//! already chain-checked (the server's cache hit: parse, ES256, claims) — the bar is
//! 20,000/s per core — and, beside it, reading and chain-checking a certificate bundle (what a
//! cache miss adds once per certificate). Run with `--features test-pki`. Figures go to
//! BENCHMARKS.md.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use countersign_core::stir::testpki::{pki, sign, Deviation};
use countersign_core::stir::{verify, CallNumbers, Rules, Signer, Verstat};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;

const NOW: i64 = 1_796_256_000;

fn bench(c: &mut Criterion) {
    let p = pki();
    let trust = p.trust();
    let (bundle, key) = p.signer(Deviation::None, (2028, 1, 1));
    let header = json!({"alg": "ES256", "ppt": "shaken", "typ": "passport",
        "x5u": "https://cert.example.net/sp1234.pem"});
    let claims = json!({"attest": "A", "dest": {"tn": ["18005550100"]}, "iat": NOW,
        "orig": {"tn": "12155551212"}, "origid": "123e4567-e89b-12d3-a456-426655440000"});
    let token = vec![sign(&key, &header, &claims)];
    let signer = Arc::new(Signer::from_bundle(bundle.as_bytes(), &trust, NOW).unwrap());
    let lookup = |_: &str| Some(Ok(signer.clone()));
    let call = CallNumbers {
        calling: "+12155551212",
        called: Some("+18005550100"),
        now_s: NOW,
    };
    let rules = Rules::default();
    assert_eq!(
        verify(&token, &call, &lookup, &rules).verstat,
        Verstat::Passed
    );

    let mut g = c.benchmark_group("stir");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_cached_certificate", |b| {
        b.iter(|| verify(black_box(&token), &call, &lookup, &rules))
    });
    let (signing_input, sig) = split_signed(&token[0]);
    g.bench_function("es256_signature_only", |b| {
        b.iter(|| assert!(signer.verify_es256(black_box(signing_input.as_bytes()), &sig)))
    });
    g.bench_function("read_and_chain_check_certificate", |b| {
        b.iter(|| Signer::from_bundle(black_box(bundle.as_bytes()), &trust, NOW).unwrap())
    });
    g.finish();
}

/// A compact JWS's signing input and its decoded signature.
fn split_signed(token: &str) -> (String, Vec<u8>) {
    use base64::Engine as _;
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    (input.to_string(), sig)
}

criterion_group!(benches, bench);
criterion_main!(benches);
