//! `countersign stir verify` end to end: a PASSporT signed by a test STI-CA's signer verifies
//! with its certificate and the trust list (exit 0, JSON result); altered, stale, for another
//! number or against another trust list it fails with its RFC 8224 code (exit 1); a bad trust
//! list is refused with a message.

use countersign_core::stir::testpki::{pki, sign, Deviation, SigningKey};
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

/// An HTTPS host on loopback serving certificates as an `x5u` host would, and the ways one
/// goes wrong: `/sp.pem` (with `Cache-Control`), `/missing` (404), `/big` (over 64 KiB),
/// `/slow` (answers after 3 s), `/moved` (a redirect to `/sp.pem`). Returns its port and the
/// PEM of the CA its TLS certificate chains to.
fn x5u_host(bundle: String) -> (u16, String) {
    crate::x5u_host::start(move |path| match path {
        "/sp.pem" => (
            "200 OK",
            "cache-control: max-age=600\r\n".to_string(),
            bundle.clone(),
        ),
        "/big" => ("200 OK", String::new(), "A".repeat(70 * 1024)),
        "/slow" => {
            std::thread::sleep(std::time::Duration::from_secs(3));
            ("200 OK", String::new(), bundle.clone())
        }
        "/moved" => (
            "302 Found",
            "location: /sp.pem\r\n".to_string(),
            String::new(),
        ),
        _ => ("404 Not Found", String::new(), String::new()),
    })
    .unwrap()
}

/// The Done-means scenario: a Twilio call carrying a valid PASSporT from a trusted signer for
/// the customer's own number scores lower than the same call without one; a forged or a stale
/// one scores higher, and the reasons say why. Certificates come from an HTTPS host on
/// loopback: fetched once and then cached; a 404, an oversized body, a slow host and a redirect
/// each leave the call unverified (`No-TN-Validation`, 436) rather than failed.
#[test]
fn twilio_calls_scored_with_their_passport() {
    use crate::common::{Server, ADMIN_KEY, INGEST_KEY};
    let dir = tempfile::tempdir().unwrap();
    let p = pki();
    let (bundle, key) = p.signer(Deviation::None, (2030, 1, 1));
    let (port, host_ca) = x5u_host(bundle);
    std::fs::write(dir.path().join("trust.pem"), p.trust_pem()).unwrap();
    std::fs::write(dir.path().join("host-ca.pem"), host_ca).unwrap();
    let cfg = format!(
        "settable_clock = true\n[adapters]\ntwilio_auth_token = \"12345\"\ntwilio_public_url = \"https://cs.example.com\"\n\
         bandwidth_redirect_url = \"https://ivr.example.com/next\"\n[stir]\ntrust_file = {:?}\nfetch_ca_file = {:?}\nallow_private_addresses = true\nfetch_timeout_ms = 1000\n",
        dir.path().join("trust.pem"),
        dir.path().join("host-ca.pem")
    );
    let s = Server::spawn(&dir.path().join("d"), Some(&cfg));
    s.send(
        "PUT",
        "/v1/customers/maria",
        INGEST_KEY,
        Some(&json!({"phones": ["+12155551212"]})),
    );
    let x5u = |path: &str| format!("https://localhost:{port}{path}");
    let now = crate::common::now_ms() / 1000;
    let token = passport;
    let call = |sid: &str, passport: Option<String>| twilio_call(&s, sid, passport);
    let score = |doc: &Value| {
        doc["scores"].as_array().unwrap().last().unwrap()["score"]
            .as_f64()
            .unwrap()
    };
    let reasons =
        |doc: &Value| doc["scores"].as_array().unwrap().last().unwrap()["reasons"].to_string();

    let plain = call("CA00000000000000000000000000000001", None);
    let verified = call(
        "CA00000000000000000000000000000002",
        Some(token(&key, now, &x5u("/sp.pem"))),
    );
    assert_eq!(
        verified["stir"]["verstat"], "TN-Validation-Passed",
        "{verified}"
    );
    assert_eq!(verified["stir"]["signer_spc"], "1234");
    assert!(
        score(&verified) < score(&plain),
        "{} !< {}",
        score(&verified),
        score(&plain)
    );
    assert!(
        reasons(&verified).contains("stir_verified_a"),
        "{}",
        reasons(&verified)
    );

    let other = pki().signer(Deviation::None, (2030, 1, 1)).1;
    let forged = call(
        "CA00000000000000000000000000000003",
        Some(token(&other, now, &x5u("/sp.pem"))),
    );
    assert_eq!(
        forged["stir"]["failure"]["kind"], "bad_signature",
        "{forged}"
    );
    assert!(score(&forged) > score(&plain));
    assert!(
        reasons(&forged).contains("forged or altered"),
        "{}",
        reasons(&forged)
    );
    let stale = call(
        "CA00000000000000000000000000000004",
        Some(token(&key, now - 3600, &x5u("/sp.pem"))),
    );
    assert_eq!(stale["stir"]["failure"]["code"], 403, "{stale}");
    assert!(score(&stale) > score(&plain));

    // Bandwidth: its callback's `stirShaken.identity` (an `Identity` header value) verified the
    // same way; the BXML tags the call with the score and hands it on to the call flow.
    let value = format!(
        "{};info=<{}>;alg=ES256;ppt=shaken",
        token(&key, now, &x5u("/sp.pem")),
        x5u("/sp.pem")
    );
    let bxml = ureq::post(&s.url("/v1/adapters/bandwidth"))
        .set("authorization", &format!("Bearer {}", crate::common::AGENT_KEY))
        .send_json(json!({"eventType": "initiate", "callId": "c-15ac29a2-0001",
            "from": "+12155551212", "to": "+18005550199", "customer_id": "maria", "intent": "balance",
            "stirShaken": {"verstat": "TN-Verification-Passed", "attestationIndicator": "A",
                "originatingId": "9d1c-0001", "identity": value}}))
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        bxml.contains("<Redirect redirectUrl=\"https://ivr.example.com/next\"/>"),
        "{bxml}"
    );
    let bw = s
        .get("/v1/calls/c-15ac29a2-0001", Some(crate::common::AGENT_KEY))
        .2;
    assert_eq!(bw["stir"]["verstat"], "TN-Validation-Passed", "{bw}");
    let tag = format!(
        "&quot;band&quot;:&quot;{}&quot;",
        bw["scores"][0]["band"].as_str().unwrap()
    );
    assert!(bxml.contains(&tag), "{bxml}");
    assert_eq!(score(&bw), score(&verified));

    // The certificate was fetched once; the later calls were answered from the cache.
    let (_, _, metrics) = s.get("/metrics", Some(ADMIN_KEY));
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("countersign_stir_certificate_fetches_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("countersign_stir_certificate_cache_hits_total 3\n"),
        "{metrics}"
    );

    unusable_hosts_and_cache_lifetime(&s, &key, port, now);
}

/// A Twilio voice webhook for maria's call from her own number, signed; the call's document.
fn twilio_call(s: &crate::common::Server, sid: &str, passport: Option<String>) -> Value {
    use crate::common::AGENT_KEY;
    let mut params: Vec<(String, String)> = [
        ("CallSid", sid),
        ("From", "+12155551212"),
        ("To", "+18005550199"),
        ("customer_id", "maria"),
        ("intent", "balance"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    if let Some(t) = passport {
        params.push(("StirPassportToken".into(), t));
    }
    let (body, sig) = crate::common::twilio_form(&params);
    ureq::post(&s.url("/v1/adapters/twilio/voice"))
        .set("authorization", &format!("Bearer {AGENT_KEY}"))
        .set("content-type", "application/x-www-form-urlencoded")
        .set("x-twilio-signature", &sig)
        .send_string(&body)
        .unwrap();
    s.get(&format!("/v1/calls/{sid}"), Some(AGENT_KEY)).2
}

/// maria's SHAKEN PASSporT for a call to the contact centre, signed at `iat`, naming `url`.
fn passport(key: &SigningKey, iat: i64, url: &str) -> String {
    let header = json!({"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": url});
    let claims = json!({"attest": "A", "dest": {"tn": ["18005550199"]}, "iat": iat,
        "orig": {"tn": "12155551212"}, "origid": "9d1c-0001"});
    sign(key, &header, &claims)
}

/// Hosts that give no usable certificate leave a call unverified (436), not failed; a failed
/// host is not asked again within its backoff; a certificate is kept up to `cache_min_secs`.
fn unusable_hosts_and_cache_lifetime(
    s: &crate::common::Server,
    key: &SigningKey,
    port: u16,
    now: i64,
) {
    use crate::common::{ADMIN_KEY, AGENT_KEY};
    let x5u = |path: &str| format!("https://localhost:{port}{path}");
    let token = passport;
    // Hosts that give no usable certificate: the call is unverified, not failed.
    for path in ["/missing", "/big", "/slow", "/moved"] {
        let (status, r) = s.post(
            "/v1/stir/verify",
            AGENT_KEY,
            &json!({"identity": [token(key, now, &x5u(path))], "calling": "+12155551212"}),
        );
        assert_eq!(status, 200, "{path}: {r}");
        assert_eq!(
            (
                r["verstat"].as_str(),
                r["failure"]["code"].as_u64(),
                r["failure"]["kind"].as_str()
            ),
            (
                Some("No-TN-Validation"),
                Some(436),
                Some("cert_unavailable")
            ),
            "{path}: {r}"
        );
    }
    // A failed host is not asked again within its backoff (30 s).
    let verify = |iat: i64, path: &str| {
        s.post(
            "/v1/stir/verify",
            AGENT_KEY,
            &json!({"identity": [token(key, iat, &x5u(path))], "calling": "+12155551212"}),
        )
        .1
    };
    assert_eq!(verify(now, "/missing")["failure"]["code"], 436);
    let fetches = |n: u64| {
        let (_, _, m) = s.get("/metrics", Some(ADMIN_KEY));
        let want = format!("countersign_stir_certificate_fetches_total {n}\n");
        assert!(m.as_str().unwrap().contains(&want), "{want}: {m}");
    };
    fetches(5);
    // A certificate is kept past its Cache-Control (600 s) up to cache_min_secs (a day), then
    // fetched again.
    let later = now + 2 * 86_400;
    s.send(
        "PUT",
        "/v1/admin/clock",
        ADMIN_KEY,
        Some(&json!({"now": crate::common::rfc3339(later * 1000)})),
    );
    assert_eq!(verify(later, "/sp.pem")["verstat"], "TN-Validation-Passed");
    fetches(6);
    assert_eq!(verify(later, "/sp.pem")["verstat"], "TN-Validation-Passed");
    fetches(6);

    let (status, r) = s.post(
        "/v1/stir/verify",
        AGENT_KEY,
        &json!({"identity": vec!["x"; 5], "calling": "+1"}),
    );
    assert_eq!(
        (status, r["code"].as_str()),
        (422, Some("invalid_identity")),
        "{r}"
    );
}
