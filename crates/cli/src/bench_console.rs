//! `countersign bench --only console`: the console against the real server — the call screen
//! rendered for a customer with 200 notifications in 14 days, a re-score reaching an open call
//! screen over server-sent events, and verification latency with 500 call screens open; and
//! (`--only checks`) the customer's text check on the same ledger.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use countersign_core::validate::{format_time, BodyRetention};
use countersign_core::Millis;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use countersign_server::now_ms;

use crate::bench::{drive, hist, opts, quantiles, start, BenchArgs, BENCH_KEY};

const DAY: Millis = 86_400_000;

fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let req = agent
        .request(method, url)
        .set("authorization", &format!("Bearer {BENCH_KEY}"));
    let r = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    }
    .map_err(|e| anyhow::anyhow!("{method} {url}: {e}"))?;
    Ok(r.into_json()?)
}

/// Sign in through a one-time link as a browser does; the session cookie.
fn sign_in(base: &str) -> anyhow::Result<String> {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let link = call(
        &agent,
        "POST",
        &format!("{base}/v1/console/links"),
        Some(json!({"person": "bench", "role": "analyst"})),
    )?;
    let token = link["path"]
        .as_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let resp = match agent
        .post(&format!("{base}/console/login"))
        .set("sec-fetch-site", "same-origin")
        .send_form(&[("token", &token)])
    {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => anyhow::bail!("sign-in: {e}"),
    };
    let cookie = resp.header("set-cookie").unwrap_or_default();
    Ok(cookie.split(';').next().unwrap_or_default().to_string())
}

/// An open call screen's event stream: each event's arrival time, sent on `tx`.
fn open_stream(
    base: &str,
    call_id: &str,
    cookie: &str,
    tx: Option<mpsc::Sender<Instant>>,
) -> anyhow::Result<()> {
    let resp = ureq::get(&format!("{base}/console/calls/{call_id}/events"))
        .set("cookie", cookie)
        .call()?;
    std::thread::spawn(move || {
        for line in BufReader::new(resp.into_reader()).lines() {
            let Ok(line) = line else { return };
            if line.starts_with("id: ") {
                if let Some(tx) = &tx {
                    if tx.send(Instant::now()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok(())
}

pub async fn console_http(dir: &Path, args: &BenchArgs, now: Millis) -> anyhow::Result<()> {
    let running = start(dir, BodyRetention::Full, opts(args)).await?;
    let base = running.base.clone();
    let verifications = args.verifications.min(5_000);
    let clients = args.clients;
    let b = base.clone();
    let (id, cookie) = tokio::task::spawn_blocking(move || -> anyhow::Result<(String, String)> {
        let base = b;
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
        // A customer with 200 notifications over 14 days, and a call from them.
        let records: Vec<Value> = (0..200)
            .map(|i| json!({"source": "bench-console", "id": format!("bc-{i}"), "customer_id": "bench-console",
                "channel": "sms", "sender": "72263", "sent_at": format_time(now - (i as i64) * 14 * DAY / 200),
                "body": format!("ACME Bank: ${}.{:02} at BESTBUY #1123 on card ending 4417. Not you? Call 1-800-555-0199.", 10 + i, i % 100)}))
            .collect();
        call(&agent, "POST", &format!("{base}/v1/notifications"), Some(Value::Array(records)))?;
        call(&agent, "POST", &format!("{base}/v1/sources/bench-console/watermark"),
            Some(json!({"watermark": format_time(now_ms()), "complete_since": format_time(now - 30 * DAY)})))?;
        let id = format!("CA-BENCH-{now}");
        call(&agent, "POST", &format!("{base}/v1/calls"), Some(json!({"call_id": id, "customer_id": "bench-console",
            "ani": "+12025550188", "intent": "change_phone"})))?;
        let cookie = sign_in(&base)?;
        Ok((id, cookie))
    })
    .await??;
    let stored = running.store.stats().await?.notifications;
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();

        // The call screen, rendered by the server.
        let screen = format!("{base}/console/calls/{id}");
        let mut h = hist();
        for _ in 0..1_000 {
            let t = Instant::now();
            let r = agent.get(&screen).set("cookie", &cookie).call()?;
            let _ = r.into_string()?;
            h.saturating_record(t.elapsed().as_micros() as u64);
        }
        println!("call screen (200 notifications in 14 days, {stored} stored), served and read by one client: {}", quantiles(&h));

        // A re-score reaching the open screen.
        let (tx, rx) = mpsc::channel();
        open_stream(&base, &id, &cookie, Some(tx))?;
        rx.recv_timeout(Duration::from_secs(10))?; // the current state first
        let mut h = hist();
        for i in 0..200 {
            let body = json!({"channel": "sms", "received_at": format_time(now_ms() - 3_600_000),
                "mentions": {"amount": format!("${}", 900 + i), "merchant": "Apple Store"}});
            call(&agent, "POST", &format!("{base}/v1/calls/{id}/claims"), Some(body))?;
            let returned = Instant::now();
            let arrived = rx.recv_timeout(Duration::from_secs(10))?;
            h.saturating_record(arrived.saturating_duration_since(returned).as_micros() as u64);
        }
        println!("re-score → open call screen over SSE, after the API call returned (0 when it arrived first): {}", quantiles(&h));

        // Verification with and without 500 open call screens.
        let verify = format!("{base}/v1/verify");
        let claim = move |_: usize, rng: &mut fastrand::Rng| {
            json!({"customer_id": "bench-console", "channel": "sms",
                "received_at": format_time(now - rng.i64(0..14 * DAY)),
                "mentions": {"amount": format!("${}", rng.u32(10..210)), "merchant": "Best Buy"}}).to_string()
        };
        let quiet = drive(&[&verify], clients, verifications, 1, claim, |v| v["verdict"].is_string())?;
        for _ in 0..500 {
            open_stream(&base, &id, &cookie, None)?;
        }
        std::thread::sleep(Duration::from_secs(1));
        let busy = drive(&[&verify], clients, verifications, 2, claim, |v| v["verdict"].is_string())?;
        let p99 = |d: &crate::bench::Driven| d.client.value_at_quantile(0.99) as f64 / 1000.0;
        println!("verify, {} clients: without open screens {}; with 500 open call screens {} — p99 ratio {:.2}",
            clients, quantiles(&quiet.client), quantiles(&busy.client), p99(&busy) / p99(&quiet));
        Ok(())
    })
    .await??;
    running.shutdown().await
}

/// `--only checks`: the customer's text check on the preloaded ledger — the fake text and a
/// genuine alert pasted back, for random preloaded customers (so the per-customer budget of
/// the checks never trips), one client after another.
pub async fn checks_http(dir: &Path, args: &BenchArgs, now: Millis) -> anyhow::Result<()> {
    let running = start(dir, BodyRetention::Full, opts(args)).await?;
    let stored = running.store.stats().await?.notifications;
    let (base, customers, n) = (
        running.base.clone(),
        args.customers,
        args.verifications.min(20_000),
    );
    let h = tokio::task::spawn_blocking(move || -> anyhow::Result<(Histogram<u64>, u64)> {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
        let mut rng = fastrand::Rng::with_seed(17);
        let mut h = hist();
        let mut told = 0;
        for i in 0..n {
            let c = crate::bench::customer(rng.usize(0..customers));
            let text = if i % 2 == 0 {
                "ACME Bank: Did you authorise $480.00 at Best Buy? If not call 888-555-0142\n\nSent from my iPhone".to_string()
            } else {
                format!("ACME Bank: Did you authorise ${}.{:02} at Best Buy on card ending 4417? Reply Y or N.", rng.u32(1..1000), rng.u32(0..100))
            };
            let body = json!({"text": text, "sender": "ACMEBANK",
                "received_at": format_time(now - rng.i64(0..20 * DAY))});
            let t = Instant::now();
            let a = call(&agent, "POST", &format!("{base}/v1/customers/{c}/text-checks"), Some(body))?;
            h.saturating_record(t.elapsed().as_micros() as u64);
            told += a["verdict"].is_string() as u64;
        }
        Ok((h, told))
    })
    .await??;
    println!(
        "text check ({stored} stored; the fake text and genuine-looking alerts for random customers), one client: {} — {} answered",
        quantiles(&h.0),
        h.1
    );
    running.shutdown().await
}
