//! TLS both ways, on loopback with a test CA (`tests/fixtures/tls`, valid for a century): the
//! server serves HTTPS with `[tls]`, and a customer alert is delivered to an `https://` webhook
//! receiver trusted through `alerts.webhook_ca_file`; what can never be delivered (a scheme the
//! client does not speak, an unreadable CA file) is refused at start.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};

use crate::common::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

type Got = Arc<Mutex<Vec<(Vec<String>, String)>>>;

/// An HTTPS receiver with the test certificate: records each request's headers and body and
/// answers 200.
fn https_receiver() -> (String, Got) {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let cfg = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://localhost:{}/hook",
        listener.local_addr().unwrap().port()
    );
    let got: Got = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let conn = rustls::ServerConnection::new(cfg.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut reader = BufReader::new(&mut tls);
            let mut headers = Vec::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let l = line.trim().to_ascii_lowercase();
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                headers.push(l);
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            g.lock()
                .unwrap()
                .push((headers, String::from_utf8_lossy(&body).into()));
            let _ =
                tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (url, got)
}

#[test]
fn https_both_ways_a_served_api_and_a_delivered_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let (hook, got) = https_receiver();
    let config = format!(
        "[tls]\ncert_file = {:?}\nkey_file = {:?}\n[alerts]\nwebhook_url = {hook:?}\nwebhook_ca_file = {:?}\nwebhook_secret = \"a-shared-secret-of-32-characters\"\n",
        fixture("server.pem"),
        fixture("server.key"),
        fixture("ca.pem"),
    );
    let s = Server::start(&dir.path().join("d"), Some(&config));
    let base = s.base.replace("http://", "https://");
    let client = ureq::AgentBuilder::new()
        .tls_config(
            countersign_server::tls::client_config(Some(&fixture("ca.pem")), "test").unwrap(),
        )
        .build();
    let health = client.get(&format!("{base}/healthz")).call().unwrap();
    assert_eq!(health.status(), 200);
    // Plain HTTP on the TLS port gets no answer.
    assert!(ureq::get(&s.url("/healthz")).call().is_err());
    // A report from a known customer raises an alert, which is pushed over HTTPS.
    client
        .put(&format!("{base}/v1/customers/rosa"))
        .set("authorization", &format!("Bearer {INGEST_KEY}"))
        .send_json(json!({"phones": ["+14155550123"], "locale": "en-US"}))
        .unwrap();
    let answer: Value = client
        .post(&format!("{base}/v1/smish-reports"))
        .set("authorization", &format!("Bearer {INGEST_KEY}"))
        .send_json(json!({
            "reported_via": "app",
            "customer_id": "rosa",
            "body": "ACME Bank: Did you authorise $480.00 at Best Buy? If not call 888-555-0142"
        }))
        .unwrap()
        .into_json()
        .unwrap();
    assert!(answer["campaign_id"].is_u64(), "{answer}");
    let (headers, body) = eventually("the HTTPS webhook delivery", 20, || {
        got.lock().unwrap().first().cloned()
    });
    let alert: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alert["customer_id"], "rosa");
    assert!(
        headers
            .iter()
            .any(|h| h.starts_with("x-countersign-signature:")),
        "{headers:?}"
    );
    let outbox = eventually("the delivery recorded", 20, || {
        let o: Value = client
            .get(&format!("{base}/v1/alerts/outbox"))
            .set("authorization", &format!("Bearer {ADMIN_KEY}"))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        (o["delivered"] == 1).then_some(o)
    });
    assert_eq!(outbox["pending"], 0, "{outbox}");
}

#[test]
fn a_webhook_that_can_never_be_delivered_is_refused_at_start() {
    use countersign_server::config::ServerConfig;
    for (extra, expect) in [
        ("webhook_url = \"ftp://hooks.example.com/a\"", "http:// or https://"),
        ("webhook_url = \"https://\"", "not a URL"),
        (
            "webhook_url = \"https://hooks.example.com/a\"\nwebhook_ca_file = \"/nonexistent/ca.pem\"",
            "/nonexistent/ca.pem",
        ),
    ] {
        let cfg = ServerConfig::from_toml(&format!(
            "[alerts]\n{extra}\nwebhook_secret = \"a-shared-secret-of-32-characters\"\n"
        ))
        .unwrap();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains(expect), "{extra}: {err}");
    }
    let ok = ServerConfig::from_toml(
        "[alerts]\nwebhook_url = \"https://hooks.example.com/a\"\nwebhook_secret = \"a-shared-secret-of-32-characters\"\n",
    )
    .unwrap();
    assert!(ok.validate().is_ok(), "https is delivered");
}
