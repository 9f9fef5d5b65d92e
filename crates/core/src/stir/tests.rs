//! The verifier against a PKI made in the test (rcgen): an STI-CA, an intermediate, signing
//! certificates with TNAuthList and the SHAKEN policy, one of each common profile deviation, and
//! PASSporTs signed here — every check failing alone, `div`, `iat` at the edges — and
//! libstirshaken's published test CA and tokens in lenient mode.

use std::collections::HashMap;
use std::sync::Arc;

use ring::signature::EcdsaKeyPair;
use serde_json::{json, Value};

use super::testpki::{b64, pki, sign, sign_raw, Deviation};
use super::*;

/// 2026-12-03T00:00:00Z.
const NOW: i64 = 1_796_256_000;
const URL: &str = "https://cert.example.net/sp1234.pem";
const CALLING: &str = "+12155551212";
const CALLED: &str = "+18005550100";

fn header() -> Value {
    json!({"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": URL})
}

fn claims(iat: i64) -> Value {
    json!({
        "attest": "A",
        "dest": {"tn": ["18005550100"]},
        "iat": iat,
        "orig": {"tn": "12155551212"},
        "origid": "123e4567-e89b-12d3-a456-426655440000"
    })
}

struct Fixture {
    signers: HashMap<String, Result<Arc<Signer>, Failure>>,
    key: EcdsaKeyPair,
}

fn fixture(d: Deviation) -> Fixture {
    let pki = pki();
    let (bundle, key) = pki.signer(d, (2028, 1, 1));
    let mut signers = HashMap::new();
    signers.insert(
        URL.to_string(),
        Signer::from_bundle(bundle.as_bytes(), &pki.trust(), NOW).map(Arc::new),
    );
    Fixture { signers, key }
}

fn run(f: &Fixture, inputs: &[String], called: Option<&str>, now: i64) -> StirResult {
    let lookup = |u: &str| f.signers.get(u).cloned();
    verify(
        inputs,
        &CallNumbers {
            calling: CALLING,
            called,
            now_s: now,
        },
        &lookup,
        &Rules::default(),
    )
}

#[test]
fn a_valid_passport_passes_with_its_facts() {
    let f = fixture(Deviation::None);
    let t = sign(&f.key, &header(), &claims(NOW));
    for input in [
        t.clone(),
        format!("{t};info=<{URL}>;alg=ES256;ppt=shaken"),
        format!("Identity: {t};info=<{URL}>"),
    ] {
        let r = run(&f, &[input], Some(CALLED), NOW);
        assert_eq!(r.verstat, Verstat::Passed, "{r:?}");
        assert_eq!(r.failure, None);
        assert_eq!(r.attest.as_deref(), Some("A"));
        assert_eq!(r.signer_spc.as_deref(), Some("1234"));
        assert_eq!(r.orig.as_deref(), Some("12155551212"));
        assert!(
            r.issuer.as_deref().unwrap().contains("Intermediate"),
            "{r:?}"
        );
        assert!(r.findings.is_empty(), "{:?}", r.findings);
    }
}

/// Each check failing alone gives its code and kind.
#[test]
fn every_check_failing_alone() {
    let f = fixture(Deviation::None);
    let other = fixture(Deviation::None);
    let with_header = |k: &str, v: Value| {
        let mut h = header();
        h[k] = v;
        sign(&f.key, &h, &claims(NOW))
    };
    let with_claim = |k: &str, v: Option<Value>| {
        let mut c = claims(NOW);
        match v {
            Some(v) => c[k] = v,
            None => {
                c.as_object_mut().unwrap().remove(k);
            }
        }
        sign(&f.key, &header(), &c)
    };
    let tampered = tamper(&sign(&f.key, &header(), &claims(NOW)));
    let cases: Vec<(&str, String, FailureKind, u16, Verstat)> = vec![
        (
            "nothing",
            String::new(),
            FailureKind::NoIdentity,
            428,
            Verstat::NoValidation,
        ),
        (
            "garbage",
            "not a token".into(),
            FailureKind::Malformed,
            438,
            Verstat::Failed,
        ),
        (
            "alg",
            with_header("alg", json!("RS256")),
            FailureKind::UnsupportedAlg,
            438,
            Verstat::Failed,
        ),
        (
            "typ",
            with_header("typ", json!("JWT")),
            FailureKind::WrongType,
            438,
            Verstat::Failed,
        ),
        (
            "ppt",
            with_header("ppt", json!("rph")),
            FailureKind::UnsupportedPpt,
            438,
            Verstat::Failed,
        ),
        (
            "x5u http",
            with_header("x5u", json!("http://cert.example.net/a.pem")),
            FailureKind::NoCertUrl,
            436,
            Verstat::NoValidation,
        ),
        (
            "x5u unknown",
            with_header("x5u", json!("https://elsewhere.example/a.pem")),
            FailureKind::CertUnavailable,
            436,
            Verstat::NoValidation,
        ),
        (
            "no iat",
            with_claim("iat", None),
            FailureKind::MissingClaim,
            438,
            Verstat::Failed,
        ),
        (
            "no origid",
            with_claim("origid", None),
            FailureKind::MissingClaim,
            438,
            Verstat::Failed,
        ),
        (
            "attest D",
            with_claim("attest", Some(json!("D"))),
            FailureKind::MissingClaim,
            438,
            Verstat::Failed,
        ),
        (
            "orig",
            with_claim("orig", Some(json!({"tn": "12155559999"}))),
            FailureKind::OrigMismatch,
            438,
            Verstat::Failed,
        ),
        (
            "dest",
            with_claim("dest", Some(json!({"tn": ["18005559999"]}))),
            FailureKind::DestMismatch,
            438,
            Verstat::Failed,
        ),
        (
            "iat stale",
            with_claim("iat", Some(json!(NOW - 3600))),
            FailureKind::StaleDate,
            403,
            Verstat::Failed,
        ),
        (
            "tampered claims",
            tampered,
            FailureKind::BadSignature,
            438,
            Verstat::Failed,
        ),
        (
            "signed by another key",
            sign(&other.key, &header(), &claims(NOW)),
            FailureKind::BadSignature,
            438,
            Verstat::Failed,
        ),
    ];
    for (what, token, kind, code, verstat) in cases {
        let r = run(&f, &[token], Some(CALLED), NOW);
        let fail = r
            .failure
            .clone()
            .unwrap_or_else(|| panic!("{what}: passed"));
        assert_eq!(
            (fail.kind, fail.code, r.verstat),
            (kind, code, verstat),
            "{what}: {fail:?}"
        );
        assert!(!fail.detail.is_empty());
    }
}

/// The token with its claims changed after signing (`attest` A → B), the signature kept.
fn tamper(good: &str) -> String {
    let mut parts = good.split('.');
    let (h, _, sig) = (parts.next().unwrap(), parts.next(), parts.next().unwrap());
    let mut c = claims(NOW);
    c["attest"] = json!("B");
    format!("{h}.{}.{sig}", b64(c.to_string().as_bytes()))
}

#[test]
fn iat_at_the_edges_of_the_window() {
    let f = fixture(Deviation::None);
    for (off, ok) in [
        (59, true),
        (-59, true),
        (60, true),
        (61, false),
        (-61, false),
    ] {
        let t = sign(&f.key, &header(), &claims(NOW + off));
        let r = run(&f, &[t], Some(CALLED), NOW);
        assert_eq!(r.verstat == Verstat::Passed, ok, "iat {off:+} s: {r:?}");
        if !ok {
            assert_eq!(r.failure.unwrap().code, 403);
        }
    }
}

/// A call forwarded from the number it was placed to: without the `div` PASSporT `dest` fails;
/// with it the call verifies and says where it was forwarded from.
#[test]
fn forwarded_calls_verify_with_div() {
    let f = fixture(Deviation::None);
    let shaken = sign(&f.key, &header(), &claims(NOW));
    let forwarded_to = "+14155550123";
    let r = run(&f, std::slice::from_ref(&shaken), Some(forwarded_to), NOW);
    assert_eq!(r.failure.unwrap().kind, FailureKind::DestMismatch);
    let mut dh = header();
    dh["ppt"] = json!("div");
    let div_claims = json!({
        "dest": {"tn": ["14155550123"]},
        "div": {"tn": "18005550100"},
        "iat": NOW,
        "orig": {"tn": "12155551212"}
    });
    let div = sign(&f.key, &dh, &div_claims);
    let r = run(&f, &[shaken.clone(), div], Some(forwarded_to), NOW);
    assert_eq!(r.verstat, Verstat::Passed, "{r:?}");
    assert_eq!(r.diverted_from.as_deref(), Some("18005550100"));
    // A div PASSporT from another number does not explain the call.
    let mut wrong = div_claims.clone();
    wrong["div"] = json!({"tn": "18005559999"});
    let r = run(
        &f,
        &[shaken.clone(), sign(&f.key, &dh, &wrong)],
        Some(forwarded_to),
        NOW,
    );
    assert_eq!(r.failure.unwrap().kind, FailureKind::DivMismatch);
    // A forged div PASSporT fails on its signature.
    let forged = sign(&fixture(Deviation::None).key, &dh, &div_claims);
    let r = run(&f, &[shaken, forged], Some(forwarded_to), NOW);
    assert_eq!(r.failure.unwrap().kind, FailureKind::BadSignature);
}

/// The signature covers the bytes as received: spacing and key order a signer chose are fine.
#[test]
fn signatures_over_non_canonical_json() {
    let f = fixture(Deviation::None);
    let h = format!(
        "{{ \"x5u\" : \"{URL}\",\n \"typ\":\"passport\", \"ppt\":\"shaken\", \"alg\":\"ES256\" }}"
    );
    let c = format!(
        "{{\"origid\":\"u-1\",  \"orig\":{{\"tn\":\"12155551212\"}}, \"iat\":{NOW}, \"dest\":{{\"tn\":[\"18005550100\"]}}, \"attest\":\"B\"}}"
    );
    let r = run(&f, &[sign_raw(&f.key, &h, &c)], Some(CALLED), NOW);
    assert_eq!(r.verstat, Verstat::Passed, "{r:?}");
    assert_eq!(r.attest.as_deref(), Some("B"));
}

#[test]
fn chain_failures_and_profile_findings() {
    // Findings: reported, the call still verifies.
    for (d, code) in [
        (Deviation::NoPolicy, "no_shaken_policy"),
        (Deviation::NoCrlDp, "no_crl_distribution_point"),
        (Deviation::NoKeyUsage, "key_usage_missing"),
        (Deviation::NoSpc, "tn_auth_list_without_spc"),
        (Deviation::NotShakenCn, "subject_cn_not_shaken"),
    ] {
        let f = fixture(d);
        let t = sign(&f.key, &header(), &claims(NOW));
        let r = run(&f, &[t], Some(CALLED), NOW);
        assert_eq!(r.verstat, Verstat::Passed, "{d:?}: {r:?}");
        let codes: Vec<&str> = r.findings.iter().map(|x| x.code.as_str()).collect();
        assert_eq!(codes, vec![code], "{d:?}");
    }
    // No TNAuthList: not a SHAKEN certificate.
    let f = fixture(Deviation::NoTnAuthList);
    let r = run(
        &f,
        &[sign(&f.key, &header(), &claims(NOW))],
        Some(CALLED),
        NOW,
    );
    assert_eq!(r.failure.unwrap().kind, FailureKind::CertInvalid);
    // Another CA's chain: untrusted.
    let (pki_a, pki_b) = (pki(), pki());
    let (bundle, _) = pki_a.signer(Deviation::None, (2028, 1, 1));
    let e = Signer::from_bundle(bundle.as_bytes(), &pki_b.trust(), NOW).unwrap_err();
    assert_eq!((e.kind, e.code), (FailureKind::UntrustedSigner, 437));
    // Expired when read, and expired since it was read.
    let (bundle, _) = pki_a.signer(Deviation::None, (2026, 6, 1));
    let e = Signer::from_bundle(bundle.as_bytes(), &pki_a.trust(), NOW).unwrap_err();
    assert_eq!(e.kind, FailureKind::CertExpired);
    let s = Signer::from_bundle(bundle.as_bytes(), &pki_a.trust(), NOW - 200 * 86_400).unwrap();
    assert!(s.valid_at(NOW).is_err());
    // Not a certificate at all.
    for junk in [
        &b"hello"[..],
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        let e = Signer::from_bundle(junk, &pki_a.trust(), NOW).unwrap_err();
        assert_eq!(e.kind, FailureKind::CertInvalid, "{e:?}");
    }
    // A CRL from the intermediate: the certificate it lists fails as revoked, another passes.
    let (revoked, _) = pki_a.signer_with_serial(Deviation::None, (2028, 1, 1), Some(7));
    let (kept, _) = pki_a.signer_with_serial(Deviation::None, (2028, 1, 1), Some(8));
    let with_crl = pki_a
        .trust()
        .with_crls(pki_a.crl_revoking(&[7]).as_bytes())
        .unwrap();
    assert_eq!(with_crl.crls(), 1);
    let e = Signer::from_bundle(revoked.as_bytes(), &with_crl, NOW).unwrap_err();
    assert_eq!((e.kind, e.code), (FailureKind::CertRevoked, 437));
    assert!(Signer::from_bundle(kept.as_bytes(), &with_crl, NOW).is_ok());
    assert!(pki_a.trust().with_crls(b"").is_err());
    assert!(pki_a
        .trust()
        .with_crls(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
        .is_err());
    assert!(TrustList::from_pem(b"").is_err());
    assert!(TrustList::from_pem(b"not pem").is_err());
}

/// RFC 8225 Appendix A's example PASSporT, its first two segments as the RFC prints them (the
/// same bytes libstirshaken's tests check): our parser reads them as signed. The RFC's
/// signature cannot be checked — it publishes no certificate or public key for it — and it is a
/// base PASSporT (no `ppt`), which SHAKEN verification does not take. (RFC 8588's SHAKEN example
/// is printed only as pretty JSON, so its exact signed bytes are not given to test.)
#[test]
fn rfc8225_example_signing_input() {
    let header = "eyJhbGciOiJFUzI1NiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9jZXJ0LmV4YW1wbGUub3JnL3Bhc3Nwb3J0LmNlciJ9";
    let claims = "eyJkZXN0Ijp7InVyaSI6WyJzaXA6YWxpY2VAZXhhbXBsZS5jb20iXX0sImlhdCI6MTQ3MTM3NTQxOCwib3JpZyI6eyJ0biI6IjEyMTU1NTUxMjEyIn19";
    let token = format!("{header}.{claims}.AAAA");
    let p = passport::parse(&token).unwrap();
    assert_eq!(p.signing_input, format!("{header}.{claims}"));
    assert_eq!(
        p.header.x5u.as_deref(),
        Some("https://cert.example.org/passport.cer")
    );
    assert_eq!(
        (p.orig_tn().as_deref(), p.iat()),
        (Some("12155551212"), Some(1_471_375_418))
    );
    assert!(p.dest_tns().is_empty(), "dest is a SIP URI, not a number");
    assert_eq!(
        Passports::parse(std::slice::from_ref(&token)).cert_urls(),
        vec!["https://cert.example.org/passport.cer"]
    );
    let f = fixture(Deviation::None);
    let r = run(&f, &[token], None, 1_471_375_418);
    assert_eq!(r.failure.unwrap().kind, FailureKind::UnsupportedPpt);
}

/// libstirshaken's own test CA and PASSporTs (MIT; see `libstirshaken/README.md`): another
/// implementation's output. The chain and both signatures verify; its `http://` `x5u`, its
/// `orig`/`dest` sent as JSON inside strings and the URL where its certificate's TNAuthList
/// belongs fail strict mode and are findings in lenient mode — which stays strict about the
/// signature, the numbers and `iat`.
#[test]
fn libstirshaken_tokens_in_lenient_mode() {
    const IAT: i64 = 1_603_458_131;
    const X5U: &str = "http://shaken.signalwire.cloud/sp.pem";
    let trust = TrustList::from_pem(include_bytes!("libstirshaken/ca.pem")).unwrap();
    let bundle = include_bytes!("libstirshaken/sp.pem");
    let signer = Arc::new(Signer::from_bundle(bundle, &trust, IAT).unwrap());
    assert_eq!(signer.spc, None);
    let lookup = |u: &str| (u == X5U).then(|| Ok(signer.clone()));
    let at = |calling, now_s| CallNumbers {
        calling,
        called: Some("01256500600"),
        now_s,
    };
    let lenient = Rules {
        lenient: true,
        ..Rules::default()
    };
    let tokens = [
        include_str!("libstirshaken/passport.txt").trim(),
        include_str!("libstirshaken/identity.txt").trim(),
    ];
    for token in tokens {
        let input = [token.to_string()];
        let call = at("01256789999", IAT + 5);
        // Strict mode reads no `orig.tn` in a string.
        let strict = verify(&input, &call, &lookup, &Rules::default());
        assert_eq!(strict.failure.unwrap().kind, FailureKind::MissingClaim);

        let r = verify(&input, &call, &lookup, &lenient);
        assert_eq!(r.verstat, Verstat::Passed, "{r:?}");
        assert_eq!(r.attest.as_deref(), Some("A"));
        assert_eq!(r.origid.as_deref(), Some("ref"));
        assert_eq!(r.orig.as_deref(), Some("01256789999"));
        assert_eq!(r.dest, vec!["01256500600"]);
        assert_eq!(r.iat, Some(IAT));
        assert!(r.issuer.unwrap().contains("SignalWire STI-CA"));
        let codes: Vec<&str> = r.findings.iter().map(|f| f.code.as_str()).collect();
        for code in [
            "tn_auth_list_unreadable",
            "key_usage_missing",
            "claims_string_encoded",
            "x5u_not_https",
        ] {
            assert!(codes.contains(&code), "{code} not in {codes:?}");
        }

        // Strict where it matters.
        let (jws, params) = token.split_once(';').unwrap_or((token, ""));
        let (signed, sig) = jws.rsplit_once('.').unwrap();
        let mut sig = sig.to_string();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        sig.replace_range(0..1, flipped);
        let forged = [format!("{signed}.{sig};{params}")];
        let r = verify(&forged, &call, &lookup, &lenient);
        assert_eq!(r.failure.unwrap().kind, FailureKind::BadSignature);
        let r = verify(&input, &at("01256780000", IAT + 5), &lookup, &lenient);
        assert_eq!(r.failure.unwrap().kind, FailureKind::OrigMismatch);
        let r = verify(&input, &at("01256789999", IAT + 61), &lookup, &lenient);
        assert_eq!(r.failure.unwrap().kind, FailureKind::StaleDate);
    }
    // The same certificate against another trust list: untrusted.
    let e = Signer::from_bundle(bundle, &pki().trust(), IAT).unwrap_err();
    assert_eq!(e.kind, FailureKind::UntrustedSigner);
}
