//! `countersign stir verify` end to end: a PASSporT signed by a test STI-CA's signer verifies
//! with its certificate and the trust list (exit 0, JSON result); altered, stale, for another
//! number or against another trust list it fails with its RFC 8224 code (exit 1); a bad trust
//! list is refused with a message.

use countersign_core::stir::testpki::{pki, sign, Deviation};
use serde_json::{json, Value};

use crate::common::bin;

/// 2026-12-03T00:00:00Z.
const NOW: i64 = 1_796_256_000;

fn run(dir: &std::path::Path, token: &str, extra: &[&str]) -> (i32, Value) {
    let out = bin()
        .args(["stir", "verify", token, "--cert"])
        .arg(dir.join("signer.pem"))
        .arg("--trust")
        .arg(dir.join("trust.pem"))
        .args(["--at", "2026-12-03T00:00:10Z"])
        .args(extra)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

#[test]
fn stir_verify_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = pki();
    let (bundle, key) = p.signer(Deviation::NoCrlDp, (2028, 1, 1));
    std::fs::write(dir.path().join("signer.pem"), bundle).unwrap();
    std::fs::write(dir.path().join("trust.pem"), p.trust_pem()).unwrap();
    let header = json!({"alg": "ES256", "ppt": "shaken", "typ": "passport",
        "x5u": "https://cert.example.net/sp1234.pem"});
    let claims = |iat: i64, orig: &str| {
        json!({"attest": "A", "dest": {"tn": ["18005550100"]}, "iat": iat,
            "orig": {"tn": orig}, "origid": "0f6c-1"})
    };
    let good = sign(&key, &header, &claims(NOW, "12155551212"));

    let (code, v) = run(
        dir.path(),
        &good,
        &["--calling", "+1 215 555 1212", "--called", "+18005550100"],
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["verstat"], "TN-Validation-Passed");
    assert_eq!(v["attest"], "A");
    assert_eq!(v["signer_spc"], "1234");
    assert_eq!(v["findings"][0]["code"], "no_crl_distribution_point");

    let cases = [
        (good.replace('.', ".x"), vec![], 438, "malformed"),
        (
            sign(&key, &header, &claims(NOW - 600, "12155551212")),
            vec![],
            403,
            "stale_date",
        ),
        (
            good.clone(),
            vec!["--calling", "+12155559999"],
            438,
            "orig_mismatch",
        ),
        (
            good.clone(),
            vec!["--called", "+18005559999"],
            438,
            "dest_mismatch",
        ),
    ];
    for (token, extra, status, kind) in cases {
        let (code, v) = run(dir.path(), &token, &extra);
        assert_eq!(code, 1, "{kind}: {v}");
        assert_eq!(
            (v["failure"]["code"].as_u64(), v["failure"]["kind"].as_str()),
            (Some(status), Some(kind)),
            "{v}"
        );
    }

    // Another STI-CA's trust list: the signer is not trusted.
    std::fs::write(dir.path().join("trust.pem"), pki().trust_pem()).unwrap();
    let (code, v) = run(dir.path(), &good, &[]);
    assert_eq!(
        (code, v["failure"]["kind"].as_str()),
        (1, Some("untrusted_signer")),
        "{v}"
    );

    // An empty trust list is refused outright.
    std::fs::write(dir.path().join("trust.pem"), "").unwrap();
    let out = bin()
        .args(["stir", "verify", &good, "--cert"])
        .arg(dir.path().join("signer.pem"))
        .arg("--trust")
        .arg(dir.path().join("trust.pem"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no CERTIFICATE in the trust list"));
}
