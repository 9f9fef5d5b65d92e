//! `countersign demo`: a small realistic world — 40 customers, three days of SMS, push and email
//! notifications from two sources — fed through the real HTTP API into an embedded store, then
//! the verifications a newcomer should see (`confirmed`, `not_sent`, and `known_scam` from a
//! campaign customers reported), printed as curl requests.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use countersign_core::validate::format_time;
use countersign_core::Millis;
use countersign_server::auth::{generate_key, hash_key, ApiKeyConfig, Scope};
use countersign_server::config::ServerConfig;
use countersign_server::now_ms;
use serde_json::{json, Value};

const HOUR: Millis = 3_600_000;
const MERCHANTS: &[&str] = &[
    "WHOLEFDS MKT #10233",
    "SHELL OIL 57442",
    "AMAZON MKTPLACE",
    "TARGET T-1887",
    "STARBUCKS #22871",
    "UBER TRIP",
    "COSTCO WHSE #0423",
    "CVS/PHARMACY #4410",
];

/// The seeded notifications: `(source, record)`.
pub fn world(now: Millis, seed: u64) -> Vec<Value> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = Vec::new();
    for c in 1001..1041 {
        let customer = format!("c-{c}");
        let phone = format!("+1415555{:04}", c);
        let card = format!("{:04}", rng.u32(1000..9999));
        let n = rng.usize(6..13);
        for k in 0..n {
            // c-1002 is the forged text's victim: nothing by SMS in their last six hours.
            let min_age = if c == 1002 { 6 * HOUR } else { 10 * 60_000 };
            let sent = now - rng.i64(min_age..72 * HOUR);
            let id = format!("{customer}-{k}");
            let rec = match rng.u8(0..10) {
                0..=4 => {
                    let merchant = MERCHANTS[rng.usize(0..MERCHANTS.len())];
                    let amount = format!("{}.{:02}", rng.u32(3..400), rng.u32(0..100));
                    json!({"source": "card-alerts", "id": id, "customer_id": customer, "channel": "sms",
                        "sender": "ACMEBANK", "recipient": phone, "sent_at": format_time(sent),
                        "category": "card_auth", "template_id": "card-auth-v3",
                        "variables": {"amount": format!("${amount}"), "merchant": merchant, "card_last4": card},
                        "body": format!("ACME Bank: Did you authorise ${amount} at {merchant} on card ending {card}? Reply Y or N.")})
                }
                5..=6 => {
                    let code = format!("{:06}", rng.u32(0..1_000_000));
                    json!({"source": "card-alerts", "id": id, "customer_id": customer, "channel": "sms",
                        "sender": "ACMEBANK", "recipient": phone, "sent_at": format_time(sent),
                        "category": "otp", "template_id": "otp-v1",
                        "body": format!("ACME Bank: your code is {code}. We will never call you to ask for it.")})
                }
                7..=8 => {
                    json!({"source": "digital-channels", "id": id, "customer_id": customer, "channel": "push",
                    "sender": "ACME Bank app", "sent_at": format_time(sent), "category": "login_alert",
                    "template_id": "new-device-v2",
                    "body": "New sign-in to your ACME account from an iPhone. Not you? Open the app and tap Secure account."})
                }
                _ => {
                    json!({"source": "digital-channels", "id": id, "customer_id": customer, "channel": "email",
                    "sender": "alerts@acmebank.com", "recipient": format!("{customer}@example.com"),
                    "sent_at": format_time(sent), "category": "statement", "template_id": "estatement-v5",
                    "body": "Your ACME Bank statement is ready. Sign in at https://secure.acmebank.com/statements to view it."})
                }
            };
            out.push(rec);
        }
    }
    // The featured genuine alert, three hours ago, for c-1001.
    out.push(json!({"source": "card-alerts", "id": "c-1001-featured", "customer_id": "c-1001", "channel": "sms",
        "sender": "ACMEBANK", "recipient": "+14155551001", "sent_at": format_time(now - 3 * HOUR),
        "category": "card_auth", "template_id": "card-auth-v3",
        "variables": {"amount": "$479.99", "merchant": "BESTBUY #1123", "card_last4": "4417"},
        "body": "ACME Bank: Did you authorise $479.99 at BESTBUY #1123 on card ending 4417? Reply Y or N. Questions: call 1-800-555-0199."}));
    out
}

/// The demo bank in the sender-ID registry.
pub fn acme_brand() -> Value {
    json!({"display_names": ["ACME Bank"], "sender_ids": ["ACMEBANK", "72263"],
        "callback_numbers": ["1-800-555-0199"], "domains": ["acmebank.com"], "unregistered_policy": "block"})
}

/// The genuine customer's claim, as a caller would put it: rounded amount, plain merchant name,
/// a time off by half an hour.
pub fn confirmed_claim(now: Millis) -> Value {
    json!({"customer_id": "c-1001", "channel": "sms", "received_at": format_time(now - 150 * 60_000),
        "sender_seen": "ACMEBANK", "mentions": {"amount": "$480", "merchant": "Best Buy", "card_last4": "4417"}})
}

/// The attacker's claim: a forged text from a lookalike sender with the attacker's callback number.
pub fn forged_claim(now: Millis) -> Value {
    json!({"customer_id": "c-1002", "channel": "sms", "received_at": format_time(now - 60 * 60_000),
        "sender_seen": "ACMEBNK", "mentions": {"amount": "$480", "merchant": "Best Buy",
        "callback_number": "(888) 555-0142", "text": "Did you authorise $480 at Best Buy? Call 888-555-0142"}})
}

/// The fake text as c-1002 shares it from their phone into the bank's app.
pub fn pasted_fake(now: Millis) -> Value {
    json!({"text": "ACME Bank: Did you authorise $480 at Best Buy? If not call 888-555-0142\n\nSent from my iPhone",
        "sender": "ACMEBNK", "received_at": format_time(now - 60 * 60_000)})
}

/// Customers reporting a smishing campaign from the app: the card-locked scam, with rotating card
/// endings and two callback numbers.
pub fn smish_reports(now: Millis) -> Vec<Value> {
    (0..8)
        .map(|i| {
            let number = ["877-555-0177", "877-555-0178"][i % 2];
            json!({"customer_id": format!("c-{}", 1010 + i), "reported_via": "app",
                "received_at": format_time(now - (8 - i as i64) * 20 * 60_000),
                "body": format!("ACME Bank: your card ending {} has been locked after suspicious activity. Call {number} to unlock it.", 3000 + i * 7)})
        })
        .collect()
}

/// A caller citing the campaign's text: it matches what customers reported.
pub fn campaign_claim(now: Millis) -> Value {
    json!({"customer_id": "c-1003", "channel": "sms", "received_at": format_time(now - 30 * 60_000),
        "mentions": {"callback_number": "877-555-0178", "text": "your card has been locked, call to unlock it"}})
}

/// The calls the console opens on: the paired pattern in progress (a caller on c-1002's account,
/// from a number not on file, wanting to change the phone number — the agent has not yet heard
/// which text they cite), a genuine customer who cited a real text, and a caller citing the
/// campaign's text.
pub const DEMO_CALLS: [(&str, &str); 3] = [
    (
        "CA-DEMO-PAIRED",
        "the paired pattern in progress: enter the text the caller cites",
    ),
    ("CA-DEMO-GENUINE", "a genuine customer citing a real text"),
    ("CA-DEMO-SCAM", "a caller citing a text customers reported"),
];

fn seed_calls(base: &str, key: &str, now: Millis) -> anyhow::Result<()> {
    let calls = [
        (
            json!({"call_id": "CA-DEMO-PAIRED", "customer_id": "c-1002", "ani": "+12025550188",
            "dnis": "+18005550199", "verstat": "TN-Validation-Passed-B", "intent": "change_phone"}),
            None,
        ),
        (
            json!({"call_id": "CA-DEMO-GENUINE", "customer_id": "c-1001", "ani": "+14155550101",
            "dnis": "+18005550199", "verstat": "TN-Validation-Passed-A", "intent": "dispute"}),
            Some(confirmed_claim(now)),
        ),
        (
            json!({"call_id": "CA-DEMO-SCAM", "customer_id": "c-1003", "ani": "+13125550177",
            "dnis": "+18005550199", "intent": "card_replace"}),
            Some(campaign_claim(now)),
        ),
    ];
    for (call, claim) in calls {
        post(base, key, "/v1/calls", &call)?;
        if let Some(mut claim) = claim {
            // Within a call, the claim's customer is the call's.
            claim.as_object_mut().map(|o| o.remove("customer_id"));
            let id = call["call_id"].as_str().unwrap_or_default();
            post(base, key, &format!("/v1/calls/{id}/claims"), &claim)?;
        }
    }
    eprintln!("seeded 3 calls for the console");
    Ok(())
}

fn post(base: &str, key: &str, path: &str, body: &Value) -> anyhow::Result<Value> {
    ureq::post(&format!("{base}{path}"))
        .set("authorization", &format!("Bearer {key}"))
        .send_json(body.clone())
        .map_err(|e| anyhow::anyhow!("{path}: {e}"))?
        .into_json()
        .context("unreadable answer")
}

fn curl(base: &str, body: &Value) -> String {
    format!(
        "curl -s {base}/v1/verify -H \"authorization: Bearer $COUNTERSIGN_API_KEY\" -H 'content-type: application/json' \\\n  -d '{}'",
        body
    )
}

/// Sign-in links for an agent and an analyst, and the demo calls' screens.
async fn print_console(base: &str, key: &str) -> anyhow::Result<()> {
    let (b4, k4) = (base.to_string(), key.to_string());
    let links = tokio::task::spawn_blocking(move || -> anyhow::Result<(Value, Value, Value)> {
        Ok((
            post(
                &b4,
                &k4,
                "/v1/console/links",
                &json!({"person": "demo-agent", "role": "agent"}),
            )?,
            post(
                &b4,
                &k4,
                "/v1/console/links",
                &json!({"person": "demo-analyst", "role": "analyst"}),
            )?,
            post(&b4, &k4, "/v1/customers/c-1002/check-links", &json!({}))?,
        ))
    })
    .await??;
    println!("\nThe console — open in a browser (each link signs in once, within 15 minutes):");
    println!(
        "  as an agent:    {base}{}",
        links.0["path"].as_str().unwrap_or_default()
    );
    println!(
        "  as an analyst:  {base}{}",
        links.1["path"].as_str().unwrap_or_default()
    );
    println!(
        "  as a customer:  {base}{}   (the app's \"did we send this?\" page: paste the fake text)",
        links.2["url"].as_str().unwrap_or_default()
    );
    println!("then the calls:");
    for (id, what) in DEMO_CALLS {
        println!("  {base}/console/calls/{id}   {what}");
    }
    println!("more links: countersign console-login NAME --role agent --server {base}");
    Ok(())
}

pub async fn run(data_dir: Option<PathBuf>, listen: &str, no_serve: bool) -> anyhow::Result<()> {
    // A fresh temporary directory unless one is given; removed when the demo exits.
    let (dir, _tmp) = match data_dir {
        Some(d) => (d, None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("countersign-demo-")
                .tempdir()?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let key = generate_key()?;
    let config = demo_config(&dir, listen, &key)?;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(crate::serve(config, Some(ready_tx)));
    let addr =
        match ready_rx.await {
            Ok(a) => a,
            Err(_) => return match server.await {
                Ok(Err(e)) => Err(e.context(
                    "the demo server did not start (is the port taken? try --listen 127.0.0.1:0)",
                )),
                _ => Err(anyhow::anyhow!("the demo server did not start")),
            },
        };
    let base = format!("http://{addr}");
    let now = now_ms();
    let records = world(now, 7);
    let (b2, k2) = (base.clone(), key.clone());
    let (confirmed, forged, scam, checked) = tokio::task::spawn_blocking(move || -> anyhow::Result<(Value, Value, Value, Value)> {
        let body = Value::Array(records);
        let r = post(&b2, &k2, "/v1/notifications", &body)?;
        eprintln!("seeded {} notifications from 2 sources for 40 customers", r["accepted"]);
        for s in ["card-alerts", "digital-channels"] {
            post(&b2, &k2, &format!("/v1/sources/{s}/watermark"),
                &json!({"watermark": format_time(now_ms()), "complete_since": format_time(now - 96 * HOUR)}))?;
        }
        // The bank's sender IDs, so lookalikes are recognised (in verification and the SMS filter).
        ureq::put(&format!("{b2}/v1/brands/acme"))
            .set("authorization", &format!("Bearer {k2}"))
            .send_json(acme_brand())
            .map_err(|e| anyhow::anyhow!("/v1/brands/acme: {e}"))?;
        for r in smish_reports(now) {
            post(&b2, &k2, "/v1/smish-reports", &r)?;
        }
        eprintln!("seeded 8 smishing reports from customers: one campaign");
        // Another customer checks the campaign's text in the app before calling: a known scam,
        // and the analysts' campaign card counts the check.
        let seen = post(&b2, &k2, "/v1/customers/c-1020/text-checks", &json!({"sender": "+18775550177",
            "received_at": format_time(now - 25 * 60_000),
            "text": "ACME Bank: your card ending 3091 has been locked after suspicious activity. Call 877-555-0177 to unlock it."}))?;
        eprintln!("a customer checked the campaign's text in the app: {}", seen["verdict"]);
        seed_calls(&b2, &k2, now)?;
        Ok((
            post(&b2, &k2, "/v1/verify", &confirmed_claim(now))?,
            post(&b2, &k2, "/v1/verify", &forged_claim(now))?,
            post(&b2, &k2, "/v1/verify", &campaign_claim(now))?,
            post(&b2, &k2, "/v1/customers/c-1002/text-checks", &pasted_fake(now))?,
        ))
    })
    .await??;

    println!("\nCountersign demo at {base}   (data: {})", dir.display());
    println!("\nAPI key (admin scope):\n  export COUNTERSIGN_API_KEY={key}");
    println!(
        "\nA genuine customer cites a real text, remembered imperfectly — expect `confirmed`:\n{}",
        curl(&base, &confirmed_claim(now))
    );
    println!(
        "\nA caller cites a forged text the bank never sent — expect `not_sent`:\n{}",
        curl(&base, &forged_claim(now))
    );
    println!(
        "\nA caller cites a text customers have been reporting — expect `known_scam`:\n{}",
        curl(&base, &campaign_claim(now))
    );
    println!("\nThe same three checks, asked just now:");
    for v in [&confirmed, &forged, &scam] {
        for line in crate::client::describe(v).lines() {
            println!("  {line}");
        }
        println!();
    }
    let sms = json!({"sender": "ACMEBNK", "body": "ACME Bank: did you authorise $480 at Best Buy? If not call 888-555-0142"});
    println!(
        "A carrier checks a text in transit from a lookalike sender — expect `block`:\ncurl -s {base}/v1/sms/evaluate -H \"authorization: Bearer $COUNTERSIGN_API_KEY\" -H 'content-type: application/json' \\\n  -d '{sms}'\n"
    );
    println!(
        "The customer pastes the fake text into the bank's app before calling — expect `we_did_not_send_this`:\ncurl -s {base}/v1/customers/c-1002/text-checks -H \"authorization: Bearer $COUNTERSIGN_API_KEY\" -H 'content-type: application/json' \\\n  -d '{}'",
        pasted_fake(now)
    );
    println!(
        "  APP  {}",
        checked["headline"].as_str().unwrap_or_default()
    );
    for line in checked["not_ours"].as_array().into_iter().flatten() {
        println!("       {}", line.as_str().unwrap_or_default());
    }
    println!(
        "       {}\n",
        checked["advice"].as_str().unwrap_or_default()
    );
    println!(
        "Also try: curl -s {base}/v1/sources -H \"authorization: Bearer $COUNTERSIGN_API_KEY\""
    );
    println!("          curl -s {base}/v1/customers/c-1001/notifications -H \"authorization: Bearer $COUNTERSIGN_API_KEY\"");
    println!(
        "          curl -s {base}/v1/campaigns -H \"authorization: Bearer $COUNTERSIGN_API_KEY\""
    );
    println!("          curl -s {base}/v1/customers/c-1010/alerts -H \"authorization: Bearer $COUNTERSIGN_API_KEY\"");
    print_console(&base, &key).await?;
    if no_serve {
        return Ok(());
    }
    println!("\nRun a tabletop exercise of the paired pattern against it (after-action report in ~30 s):\n  countersign exercise run exercises/paired-pattern.toml --server {base} --speed 10");
    println!("\nServing until Ctrl-C. The demo's producers declare fresh watermarks every 15 s.");
    let (b3, k3) = (base.clone(), key.clone());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(15)).await;
            let (b, k) = (b3.clone(), k3.clone());
            let _ = tokio::task::spawn_blocking(move || {
                for s in ["card-alerts", "digital-channels"] {
                    let _ = post(
                        &b,
                        &k,
                        &format!("/v1/sources/{s}/watermark"),
                        &json!({"watermark": format_time(now_ms())}),
                    );
                }
            })
            .await;
        }
    });
    server.await.context("server task")?
}

/// The demo server's configuration: its data directory, one admin key, an example call flow.
fn demo_config(dir: &std::path::Path, listen: &str, key: &str) -> anyhow::Result<ServerConfig> {
    Ok(ServerConfig {
        data_dir: dir.to_path_buf(),
        listen: listen
            .parse()
            .map_err(|_| anyhow::anyhow!("--listen {listen:?}: expected HOST:PORT"))?,
        api_keys: vec![ApiKeyConfig {
            name: "demo-admin".into(),
            sha256: hash_key(key),
            scopes: vec![Scope::Admin],
        }],
        // An example call flow, so that the Bandwidth adapter answers in the demo.
        adapters: countersign_server::adapters::AdapterSettings {
            bandwidth_redirect_url: Some("https://ivr.example.com/bandwidth/next".into()),
            ..Default::default()
        },
        ..ServerConfig::default()
    })
}
