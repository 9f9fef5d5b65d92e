//! Idle clients cannot lock others out: the real binary, started with the common default
//! open-file soft limit of 1,024, raises it to the hard limit, keeps answering health checks and
//! verifications with 2,000 idle connections open, and closes those by the header-read timeout;
//! SIGTERM with a half-sent request in flight exits by the shutdown deadline.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

#[test]
fn two_thousand_idle_connections_under_a_low_file_limit_lock_nobody_out() {
    // The test process holds the other end of every connection.
    rlimit::increase_nofile_limit(8_192).unwrap();
    let (_, hard) = rlimit::Resource::NOFILE.get().unwrap();
    assert!(
        hard >= 4_096,
        "this check needs an open-file hard limit of at least 4,096 (have {hard})"
    );
    let dir = tempfile::tempdir().unwrap();
    let s = Server::spawn_with_soft_nofile(
        &dir.path().join("d"),
        Some("[limits]\nheader_read_timeout_secs = 3\n"),
        Some(1_024),
    );
    let addr = s.base.trim_start_matches("http://").to_string();
    let idle: Vec<TcpStream> = (0..2_000)
        .map(|i| TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    // Everyone else is still served, promptly.
    let started = Instant::now();
    assert_eq!(s.get("/healthz", None).0, 200);
    let (st, v) = s.post(
        "/v1/verify",
        AGENT_KEY,
        &json!({"customer_id": "maria", "channel": "sms", "mentions": {"amount": "$480"}}),
    );
    assert_eq!(
        (st, v["verdict"].as_str()),
        (200, Some("cannot_confirm")),
        "{v}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered in {:?} with 2,000 idle connections open",
        started.elapsed()
    );
    // The idle connections are closed by the header-read timeout.
    let closed = |c: &TcpStream| {
        use std::io::Read;
        let mut c = c;
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        match c.read(&mut [0u8; 1]) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    };
    assert!(
        idle.iter().take(50).all(closed),
        "idle connections stay open"
    );
}

#[test]
fn sigterm_with_a_half_sent_request_exits_by_the_deadline_and_keeps_what_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let mut s = Server::spawn(&d, Some("[limits]\nshutdown_grace_secs = 2\n"));
    let now = now_ms();
    s.ingest(&[sms(
        "cards",
        "n1",
        "maria",
        now - 3_600_000,
        "$479.99",
        "BESTBUY #1123",
        "4417",
    )]);
    // A client has sent its headers and half of its body, and goes quiet.
    let half = s.half_sent(
        "/v1/verify",
        AGENT_KEY,
        "application/json",
        100,
        "{\"customer_id\"",
    );
    std::thread::sleep(Duration::from_millis(200));
    let (status, took) = s
        .terminate(Duration::from_secs(15))
        .expect("SIGTERM with a half-sent request in flight never completed");
    assert!(status.success(), "{status}");
    assert!(
        took < Duration::from_secs(8),
        "took {took:?} (deadline 2 s)"
    );
    drop(half);
    // Everything acknowledged is there after a restart.
    let s = Server::start(&d, None);
    let v = s
        .get("/v1/customers/maria/notifications", Some(AGENT_KEY))
        .2;
    assert!(v.to_string().contains("BESTBUY"), "{v}");
}
