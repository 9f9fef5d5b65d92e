//! Smishing reports, campaigns and customer alerts end to end through the public API: three
//! campaigns with realistic variation plus unrelated spam cluster into three campaigns; a claim
//! quoting a campaign's number is `known_scam`; alerts are created once per rule and customer, in
//! the customer's language; the 7726 two-step flow; a webhook receiver that is down for a while
//! gets every alert exactly once per idempotency key after it recovers, across a restart.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{json, Value};

const MERCHANTS: &[&str] = &[
    "Best Buy",
    "Walmart",
    "Target",
    "Apple Store",
    "Costco",
    "Home Depot",
    "Amazon",
    "Macy's",
];
const SPAM: &[&str] = &[
    "Hey it's Jenna from the gym, are we still on for Saturday morning?",
    "Congratulations! You have been selected for a free cruise to the Bahamas, reply YES to claim",
    "Your Netflix subscription could not be renewed, update billing at netflix-billing.help",
    "Hi mom, I dropped my phone in the sink, this is my new number, can you text me back",
    "Crypto signals group: 400% returns guaranteed this week, join at moonpump.io",
    "Reminder: your dentist appointment with Dr. Patel is tomorrow at 3pm",
    "You owe an outstanding toll of $6.99. Pay now at ezpass-tolls.top to avoid a late fee",
    "Hot singles in your area want to meet you tonight, click datingnow.link",
    "Your Amazon order #112-5566 has shipped and will arrive Thursday",
    "Work from home and earn $500 a day, no experience needed, text JOB to apply",
    "The IRS has issued a final notice regarding your tax return, call 202-555-0199 immediately",
    "Free iPhone 16 winner! Claim your prize at prizeclaim.win before midnight",
    "Your verification code for Instagram is 448812. Do not share it",
    "Grandpa it's me, I'm in trouble and need bail money, please don't tell mom",
    "Limited offer: 70% off designer sunglasses at shadesdeal.shop today only",
];

/// Three campaigns, rotating numbers, amounts, merchants and domains, and a few rewordings.
pub(crate) fn campaign_reports(rng: &mut fastrand::Rng) -> Vec<(char, String)> {
    let mut out = Vec::new();
    for i in 0..120 {
        let amount = format!("${}.{:02}", rng.u32(20..2000), rng.u32(0..100));
        let merchant = MERCHANTS[rng.usize(0..MERCHANTS.len())];
        let number = format!("888-555-01{:02}", 40 + i % 5);
        let verb = if i % 3 == 0 { "authorize" } else { "authorise" };
        let tail = if i % 4 == 0 {
            " Reply STOP to opt out."
        } else {
            ""
        };
        out.push(('A', format!("ACME Bank: Did you {verb} a purchase of {amount} at {merchant}? If not, call us now at {number}.{tail}")));
    }
    for i in 0..100 {
        let domain = [
            "acme-secure-login.com",
            "acmebank-verify.net",
            "acme-unlock.top",
        ][i % 3];
        let greet = if i % 2 == 0 { "Dear customer, " } else { "" };
        out.push(('B', format!("{greet}ACME Bank alert: your online banking has been suspended due to unusual activity. Restore access at https://{domain}/auth?id={}", rng.u32(10000..99999))));
    }
    for i in 0..80 {
        let domain = ["usps-redelivery.info", "usps-track-help.com"][i % 2];
        out.push(('C', format!("USPS: Your package {} is on hold due to an incomplete address. Update it within 24 hours at {domain}/track", rng.u64(1_000_000_000..9_999_999_999))));
    }
    rng.shuffle(&mut out);
    out
}

/// A webhook receiver: answers 503 while down; when up, records every delivery.
pub(crate) struct Receiver {
    pub(crate) url: String,
    pub(crate) up: Arc<AtomicBool>,
    pub(crate) got: Arc<Mutex<Vec<(String, String, String)>>>,
}

pub(crate) fn receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let up = Arc::new(AtomicBool::new(false));
    let got = Arc::new(Mutex::new(Vec::new()));
    let (up2, got2) = (up.clone(), got.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = HashMap::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap_or(0);
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap_or(());
            let status = if up2.load(Ordering::SeqCst) {
                got2.lock().unwrap().push((
                    headers.get("idempotency-key").cloned().unwrap_or_default(),
                    headers
                        .get("x-countersign-signature")
                        .cloned()
                        .unwrap_or_default(),
                    String::from_utf8_lossy(&body).to_string(),
                ));
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    Receiver { url, up, got }
}

fn report(s: &Server, body: Value) -> Value {
    s.ok("POST", "/v1/smish-reports", INGEST_KEY, &body)
}

#[test]
fn campaigns_known_scam_alerts_and_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let hook = receiver();
    let config = format!(
        "[smish]\nbrand_names = [\"ACME Bank\"]\n[alerts]\nwebhook_url = {:?}\nwebhook_secret = \"a-shared-secret-of-32-characters\"\nretry_max_backoff_secs = 1\n",
        hook.url
    );
    let s = Server::spawn(&dir.path().join("d"), Some(&config));
    let now = now_ms();
    let (ids, cust1) = seed_campaigns(&s, now);
    campaigns_feed_the_defences(&s, now, &ids);
    alerts_once_per_customer_and_pattern(&s, now, &ids, cust1);
    webhook_through_a_crash(s, &dir, &config, &hook, &ids);
}

/// 300 reports of three campaigns (and spam) from customers: three campaigns, none split.
fn seed_campaigns(s: &Server, now: i64) -> (HashMap<char, u64>, Vec<char>) {
    s.send(
        "PUT",
        "/v1/customers/rosa",
        INGEST_KEY,
        Some(&json!({"phones": ["+14155550123"], "locale": "es-US"})),
    );

    // Sent a genuine card alert two hours before anyone reported the campaign that imitates it.
    s.ingest(&[sms(
        "cards",
        "e1",
        "early",
        now - 2 * 3_600_000,
        "$31.20",
        "Walmart",
        "5120",
    )]);
    let mut rng = fastrand::Rng::with_seed(7);
    let reports = campaign_reports(&mut rng);
    let mut by_campaign: HashMap<char, std::collections::BTreeSet<u64>> = HashMap::new();
    let mut cust1 = Vec::new();
    for (i, (tag, text)) in reports.iter().enumerate() {
        // Customers report from the app; some report twice (an alert per campaign, not per report).
        let customer = format!("cust-{}", i % 150);
        let v = report(
            s,
            json!({"customer_id": customer, "reporter_number": format!("+1415555{:04}", i),
            "body": text, "received_at": rfc3339(now - (300 - i as i64) * 60_000), "reported_via": "app"}),
        );
        by_campaign
            .entry(*tag)
            .or_default()
            .insert(v["campaign_id"].as_u64().unwrap());
        if customer == "cust-1" {
            cust1.push(*tag);
        }
    }
    for (i, text) in SPAM.iter().enumerate() {
        report(
            s,
            json!({"body": text, "reported_via": "agent", "received_at": rfc3339(now - i as i64 * 1000)}),
        );
    }
    let (st, list) = s.send("GET", "/v1/campaigns", AGENT_KEY, None);
    assert_eq!(st, 200);
    let list = list.as_array().unwrap().clone();
    let summary: Vec<(u64, u64)> = list
        .iter()
        .map(|c| (c["id"].as_u64().unwrap(), c["reports"].as_u64().unwrap()))
        .collect();
    assert_eq!(list.len(), 3, "three campaigns, spam left out: {summary:?}");
    let mut sizes: Vec<u64> = summary.iter().map(|x| x.1).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![80, 100, 120], "{summary:?}");
    // Each campaign's reports ended in one campaign (merges resolve to the surviving id).
    let current = |id: u64| {
        s.send("GET", &format!("/v1/campaigns/{id}"), AGENT_KEY, None)
            .1["id"]
            .as_u64()
            .unwrap()
    };
    let mut ids = HashMap::new();
    for (tag, seen) in &by_campaign {
        let resolved: std::collections::BTreeSet<u64> =
            seen.iter().map(|id| current(*id)).collect();
        assert_eq!(resolved.len(), 1, "campaign {tag} split: {resolved:?}");
        ids.insert(*tag, *resolved.iter().next().unwrap());
    }
    let a = &list.iter().find(|c| c["id"] == ids[&'A']).unwrap();
    assert_eq!(a["callback_numbers"].as_array().unwrap().len(), 5, "{a}");
    assert_eq!(a["brands"], json!(["ACME Bank"]));
    assert!(
        a["example_shape"]
            .as_str()
            .unwrap()
            .contains("<amount> at <name>"),
        "{a}"
    );
    assert!(a["distinct_customers"].as_u64().unwrap() > 50);
    assert_eq!(
        a["reports_by_hour"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        120
    );

    (ids, cust1)
}

/// Campaigns feed the defences: known scam in verification and scoring, analysts' review,
/// the SMS filter, the 7726 flow.
fn campaigns_feed_the_defences(s: &Server, now: i64, ids: &HashMap<char, u64>) {
    // A caller quoting campaign A's number: known scam, even with no ledger behind the customer.
    s.watermark("cards", now, Some(now - 72 * 3_600_000));
    let v = s.verify(
        &json!({"customer_id": "cust-1", "channel": "sms", "received_at": rfc3339(now - 3_600_000),
        "mentions": {"amount": "$300", "callback_number": "(888) 555-0142"}}),
    );
    assert_eq!(v["verdict"], "known_scam", "{v}");
    assert_eq!(v["campaign_id"].as_u64(), Some(ids[&'A']));
    // …and the call scoring sees it as the strongest signal.
    s.send("POST", "/v1/calls", AGENT_KEY, Some(&json!({"call_id": "k1", "customer_id": "cust-1", "ani": "+16285550100", "verstat": "TN-Validation-Passed-B", "intent": "wire"})));
    let (_, c) = s.send("POST", "/v1/calls/k1/claims", AGENT_KEY, Some(&json!({"channel": "sms", "mentions": {"callback_number": "888-555-0141", "merchant": "Target"}})));
    assert_eq!(c["verification"]["verdict"], "known_scam", "{c}");
    let signals = signals(&c["score"]);
    assert!(
        signals.iter().any(|x| x == "claim_known_scam")
            && signals.iter().any(|x| x == "reported_smish"),
        "{signals:?}"
    );
    assert_eq!(c["score"]["band"], "critical", "{c}");

    // Analysts: campaign A confirmed → its indicators are blocked; C benign → no longer a scam.
    let (st, _) = s.send(
        "POST",
        &format!("/v1/campaigns/{}/status", ids[&'A']),
        ADMIN_KEY,
        Some(&json!({"status": "confirmed", "note": "fake card alerts"})),
    );
    assert_eq!(st, 200);
    assert_eq!(
        s.send(
            "POST",
            &format!("/v1/campaigns/{}/status", ids[&'C']),
            AGENT_KEY,
            Some(&json!({"status": "benign"}))
        )
        .0,
        403
    );
    s.send(
        "POST",
        &format!("/v1/campaigns/{}/status", ids[&'C']),
        ADMIN_KEY,
        Some(&json!({"status": "benign"})),
    );
    let (_, blocked) = s.send("GET", "/v1/campaigns/indicators", SMS_KEY, None);
    assert!(
        blocked["callback_numbers"]
            .as_array()
            .unwrap()
            .contains(&json!("+18885550140")),
        "{blocked}"
    );
    // The SMS filter blocks them in transit, whoever sends them.
    let (st, sv) = s.send(
        "POST",
        "/v1/sms/evaluate",
        SMS_KEY,
        Some(&json!({"sender": "+12025550100", "body": "Fraud alert: call 888-555-0141 now"})),
    );
    assert_eq!((st, sv["verdict"].as_str()), (200, Some("block")), "{sv}");
    assert!(
        sv["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "campaign_indicator"),
        "{sv}"
    );
    let v = s.verify(
        &json!({"customer_id": "cust-2", "channel": "sms", "received_at": rfc3339(now - 3_600_000),
        "mentions": {"url": "usps-redelivery.info/track"}}),
    );
    assert_ne!(v["verdict"], "known_scam", "{v}");
    s.refused(
        "GET",
        "/v1/campaigns/999",
        AGENT_KEY,
        None,
        404,
        "unknown_campaign",
    );

    // The 7726 flow: the forwarded text, then the sender it came from.
    let first = report(
        s,
        json!({"reporter_number": "+14155550177", "body": "ACME Bank: Did you authorise a purchase of $99.00 at Walmart? If not, call us now at 888-555-0144.", "reported_via": "7726"}),
    );
    assert_eq!(first["awaiting_sender"], true);
    let second = report(
        s,
        json!({"reporter_number": "+14155550177", "body": "+1 833 555 0101", "reported_via": "7726"}),
    );
    assert_eq!(
        (second["joined"].as_bool(), second["report_id"].as_i64()),
        (Some(true), first["report_id"].as_i64()),
        "{second}"
    );
    s.refused(
        "POST",
        "/v1/smish-reports",
        INGEST_KEY,
        Some(&json!({"body": "x", "reported_via": "fax"})),
        422,
        "invalid_field",
    );
    s.refused(
        "POST",
        "/v1/smish-reports",
        INGEST_KEY,
        Some(&json!({"body": "x", "reported_via": "7726"})),
        422,
        "missing_field",
    );
}

/// Customer alerts: once per customer and pattern, in the customer's language, and the
/// spoofed-notification warning.
fn alerts_once_per_customer_and_pattern(
    s: &Server,
    now: i64,
    ids: &HashMap<char, u64>,
    mut cust1: Vec<char>,
) {
    // Alerts: once per customer and campaign; in Spanish for a Spanish-speaking customer.
    let (_, feed) = s.send("GET", "/v1/customers/cust-1/alerts", AGENT_KEY, None);
    let feed = feed.as_array().unwrap().clone();
    let rules: Vec<&str> = feed.iter().map(|a| a["rule"].as_str().unwrap()).collect();
    cust1.sort_unstable();
    cust1.dedup();
    assert_eq!(
        rules.iter().filter(|r| **r == "reported_smish").count(),
        cust1.len(),
        "one alert per campaign cust-1 reported: {rules:?} for {cust1:?}"
    );
    assert!(rules.contains(&"call_about_you"), "{rules:?}");
    let about = feed.iter().find(|a| a["rule"] == "call_about_you").unwrap();
    assert!(
        about["body"]
            .as_str()
            .unwrap()
            .contains("citing a text we never sent about a charge at Target"),
        "{about}"
    );
    report(
        s,
        json!({"customer_id": "rosa", "body": "ACME Bank: Did you authorise a purchase of $480.00 at Best Buy? If not, call us now at 888-555-0142.", "reported_via": "app"}),
    );
    report(
        s,
        json!({"customer_id": "rosa", "body": "ACME Bank: Did you authorize a purchase of $75.10 at Costco? If not, call us now at 888-555-0143.", "reported_via": "app"}),
    );
    let (_, rosa) = s.send("GET", "/v1/customers/rosa/alerts", AGENT_KEY, None);
    assert_eq!(
        rosa.as_array().unwrap().len(),
        1,
        "one alert per campaign: {rosa}"
    );
    let alert = &rosa[0];
    assert_eq!(alert["language"], "es");
    assert!(
        alert["body"]
            .as_str()
            .unwrap()
            .contains("no le envió un mensaje sobre un cargo de $480 en Best Buy"),
        "{alert}"
    );
    let id = alert["id"].as_str().unwrap();
    let (st, marked) = s.send(
        "POST",
        &format!("/v1/customers/rosa/alerts/{id}/acknowledged"),
        AGENT_KEY,
        None,
    );
    assert_eq!(st, 200);
    assert!(
        marked["read_at"].is_string() && marked["acknowledged_at"].is_string(),
        "{marked}"
    );
    assert_eq!(
        s.send(
            "POST",
            "/v1/customers/rosa/alerts/al_nope/read",
            AGENT_KEY,
            None
        )
        .0,
        404
    );

    // A genuine card alert while a card-alert campaign is active: the customer is warned that
    // fakes of exactly this kind are going round (once, whatever else they are sent).
    s.ingest(&[
        sms(
            "cards",
            "g1",
            "tom",
            now - 60_000,
            "$12.00",
            "Target",
            "4417",
        ),
        sms(
            "cards",
            "g2",
            "tom",
            now - 30_000,
            "$8.40",
            "Costco",
            "4417",
        ),
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let warned = loop {
        let (_, tom) = s.send("GET", "/v1/customers/tom/alerts", AGENT_KEY, None);
        if !tom.as_array().unwrap().is_empty() {
            break tom;
        }
        assert!(Instant::now() < deadline, "no spoofed-notification alert");
        std::thread::sleep(Duration::from_millis(100));
    };
    // A second alert would have to arrive after the first: give it the time it would need.
    std::thread::sleep(Duration::from_millis(300));
    let (_, tom) = s.send("GET", "/v1/customers/tom/alerts", AGENT_KEY, None);
    assert_eq!(tom.as_array().unwrap().len(), 1, "{tom}");
    assert_eq!(warned[0]["rule"], "spoofed_notification");
    assert_eq!(warned[0]["campaign_id"].as_u64(), Some(ids[&'A']));
    assert!(
        warned[0]["body"]
            .as_str()
            .unwrap()
            .contains("that is not our number"),
        "{warned}"
    );
    // …and the customer sent one before the campaign was known was swept up when it was listed.
    let (_, early) = s.send("GET", "/v1/customers/early/alerts", AGENT_KEY, None);
    let rules: Vec<&str> = early
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, vec!["spoofed_notification"], "{early}");
}

/// The receiver is down: everything waits in the outbox through a kill -9, then arrives once.
fn webhook_through_a_crash(
    mut s: Server,
    dir: &tempfile::TempDir,
    config: &str,
    hook: &Receiver,
    ids: &HashMap<char, u64>,
) {
    // The receiver is down: everything waits in the outbox, through a restart.
    let (_, ob) = s.send("GET", "/v1/alerts/outbox", ADMIN_KEY, None);
    let pending = ob["pending"].as_u64().unwrap();
    assert!(pending > 100, "{ob}");
    assert_eq!(ob["delivered"], 0);
    // Let the delivery task fail a few attempts against the down receiver before the crash.
    std::thread::sleep(Duration::from_millis(1500));
    s.kill9();
    let s = Server::spawn(&dir.path().join("d"), Some(config));
    // Replayed: the same campaigns, with their reviews.
    let (_, again) = s.send("GET", "/v1/campaigns", AGENT_KEY, None);
    let after: Vec<(u64, u64, String)> = again
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_u64().unwrap(),
                c["reports"].as_u64().unwrap(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        after.contains(&(ids[&'A'], 123, "confirmed".into())),
        "{after:?}"
    );
    assert!(
        after.iter().any(|c| c.0 == ids[&'C'] && c.2 == "benign"),
        "{after:?}"
    );
    // The known-scam claim still counts in the forged-text rate after the restart.
    let (_, surge) = s.send("GET", "/v1/surge", AGENT_KEY, None);
    assert_eq!(surge["last_hour"], 1, "{surge}");
    hook.up.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, ob) = s.send("GET", "/v1/alerts/outbox", ADMIN_KEY, None);
        if ob["pending"] == 0 {
            assert_eq!(ob["delivered"].as_u64(), Some(pending));
            break;
        }
        assert!(Instant::now() < deadline, "outbox not drained: {ob}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let got = hook.got.lock().unwrap().clone();
    let mut keys: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    keys.sort_unstable();
    let n = keys.len();
    keys.dedup();
    assert_eq!(
        (n, keys.len() as u64),
        (pending as usize, pending),
        "exactly once per idempotency key"
    );
    let (key, sig, body) = &got[0];
    let payload: Value = serde_json::from_str(body).unwrap();
    assert_eq!(payload["id"].as_str(), Some(key.as_str()));
    let t: i64 = sig
        .split(',')
        .next()
        .unwrap()
        .trim_start_matches("t=")
        .parse()
        .unwrap();
    assert_eq!(
        *sig,
        countersign_server::alerts::signature("a-shared-secret-of-32-characters", t, body)
    );
}
