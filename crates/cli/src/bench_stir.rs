//! `bench --only stir`: call scoring over HTTP with a STIR/SHAKEN PASSporT on every call, beside
//! the same calls without one — each on a server of its own over the same ledger (with the
//! `calls` part's preloaded calls when it ran). An STI-CA is made on the spot, its signer served
//! from an HTTPS host on loopback: the certificate is fetched once and then comes from the
//! cache, as for a signer the server has seen before. Issue #16's bar: the call score's p99 stays
//! ≤ 2 ms with verification in the path.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use countersign_core::stir::testpki::{pki, sign, Deviation};
use countersign_core::validate::BodyRetention;
use countersign_core::Millis;
use countersign_server::now_ms;
use countersign_server::stir::StirSettings;
use countersign_store::sqlite::SqliteStore;
use serde_json::{json, Value};

use crate::bench::{
    bench_config, customer, drive, opts, quantiles, serve_on, server_quantiles, BenchArgs,
    BENCH_KEY,
};

/// The calling number of call `i` (the PASSporT's `orig`).
fn ani(i: usize) -> String {
    format!("+1628{:07}", (i * 7_919) % 2_000_000)
}

const CALLED: &str = "+18005550100";

pub(crate) async fn stir_http(dir: &Path, args: &BenchArgs, now: Millis) -> anyhow::Result<()> {
    let p = pki();
    let (bundle, key) = p.signer(Deviation::None, (2036, 1, 1));
    let (port, host_ca) = crate::x5u_host::start(move |path| match path {
        "/sp.pem" => ("200 OK", String::new(), bundle.clone()),
        _ => ("404 Not Found", String::new(), String::new()),
    })?;
    let pki_dir = dir.with_file_name("stir-pki");
    std::fs::create_dir_all(&pki_dir)?;
    std::fs::write(pki_dir.join("trust.pem"), p.trust_pem())?;
    std::fs::write(pki_dir.join("host-ca.pem"), host_ca)?;
    let url = format!("https://localhost:{port}/sp.pem");

    let n = args.calls;
    let customers = args.customers;
    let body = move |id: String, i: usize, rng: &mut fastrand::Rng, identity: Option<&str>| {
        let mut b = json!({"call_id": id, "customer_id": customer(rng.usize(0..customers)),
            "ani": ani(i), "dnis": CALLED, "intent": "wire"});
        if let Some(t) = identity {
            b["identity"] = json!([t]);
        }
        b.to_string()
    };

    // Without PASSporTs: the same calls, scored as before.
    let config = bench_config(dir, BodyRetention::Full);
    let running = serve_on(Arc::new(SqliteStore::open(dir, opts(args))?), &config).await?;
    let plain = drive(
        &[format!("{}/v1/calls", running.base)],
        args.clients,
        n,
        300,
        move |i, rng| body(format!("bench-plain-{now}-{i}"), i, rng, None),
        |v| v["band"].is_string(),
    )?;
    let plain_server = server_quantiles(&running.base, "score")?;
    running.shutdown().await?;

    // With one on every call. Signing is the originating carrier's work: done before the clock
    // starts, `iat` now (the window is widened to 10 min so a slow run is not measured failing).
    let signed = Instant::now();
    let now_s = now_ms() / 1000;
    let header = json!({"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": url});
    let tokens: Arc<Vec<String>> = Arc::new(
        (0..n)
            .map(|i| {
                let claims = json!({"attest": "A", "dest": {"tn": [&CALLED[1..]]}, "iat": now_s,
                    "orig": {"tn": &ani(i)[1..]}, "origid": format!("bench-{i}")});
                sign(&key, &header, &claims)
            })
            .collect(),
    );
    eprintln!(
        "{n} PASSporTs signed in {:.1} s",
        signed.elapsed().as_secs_f64()
    );
    let mut config = bench_config(dir, BodyRetention::Full);
    config.stir = Some(StirSettings {
        trust_file: Some(pki_dir.join("trust.pem")),
        fetch_ca_file: Some(pki_dir.join("host-ca.pem")),
        allow_private_addresses: true,
        iat_window_secs: 600,
        ..StirSettings::default()
    });
    let running = serve_on(Arc::new(SqliteStore::open(dir, opts(args))?), &config).await?;
    let started = now_ms();
    let verified = drive(
        &[format!("{}/v1/calls", running.base)],
        args.clients,
        n,
        300,
        move |i, rng| {
            body(
                format!("bench-stir-{started}-{i}"),
                i,
                rng,
                Some(&tokens[i]),
            )
        },
        |v| v["band"].is_string(),
    )?;
    let stir_server = server_quantiles(&running.base, "score")?;
    // Every call verified (a benchmark of failures would measure the wrong path).
    let mut passed = 0;
    for i in (0..n).step_by((n / 20).max(1)) {
        let doc: Value = ureq::get(&format!(
            "{}/v1/calls/bench-stir-{started}-{i}",
            running.base
        ))
        .set("authorization", &format!("Bearer {BENCH_KEY}"))
        .call()?
        .into_json()?;
        anyhow::ensure!(
            doc["stir"]["verstat"] == "TN-Validation-Passed",
            "call {i} did not verify: {}",
            doc["stir"]
        );
        passed += 1;
    }
    let metrics = ureq::get(&format!("{}/metrics", running.base))
        .set("authorization", &format!("Bearer {BENCH_KEY}"))
        .call()?
        .into_string()?;
    let fetches: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("countersign_stir_certificate_"))
        .collect();
    running.shutdown().await?;
    println!(
        "call scoring over HTTP without a PASSporT: {} calls, {} clients: {:.0}/s; client-side {}",
        plain.ok,
        args.clients,
        plain.ok as f64 / plain.secs,
        quantiles(&plain.client)
    );
    println!("  inside the server: {plain_server}");
    println!(
        "call scoring over HTTP with a PASSporT verified on every call: {} calls ({passed} sampled, all TN-Validation-Passed), {} clients: {:.0}/s; client-side {}",
        verified.ok,
        args.clients,
        verified.ok as f64 / verified.secs,
        quantiles(&verified.client)
    );
    println!("  inside the server: {stir_server}");
    println!("  {}", fetches.join(", "));
    Ok(())
}
