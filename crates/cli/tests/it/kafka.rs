//! Kafka input end to end: a real Kafka-protocol broker on loopback (librdkafka's mock cluster,
//! hosted by this test process) and the real `countersign serve` consuming from it. A consumer
//! that dies between the durable write and the offset commit gets the records again and stores
//! them once; records that fail validation go to the dead-letter topic with their error code and
//! never hold up their partition; a watermark record makes `not_sent` possible; a partition that
//! lags holds back every derived watermark.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;

use crate::common::*;

/// The value of the first `/metrics` line starting with `name` (0 when there is none).
fn metric(s: &Server, name: &str) -> f64 {
    let (_, _, v) = s.get("/metrics", Some(ADMIN_KEY));
    v.as_str()
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn kafka_records_land_once_and_poison_goes_to_the_dead_letter_topic() {
    let mock = MockCluster::new(1).unwrap();
    for (topic, partitions) in [
        ("notifications", 2),
        ("watermarks", 1),
        ("countersign.dead-letter", 1),
    ] {
        mock.create_topic(topic, partitions, 1).unwrap();
    }
    let brokers = mock.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let now = now_ms();
    let hour = 3_600_000;
    let mut records: Vec<String> = (0..20)
        .map(|i| {
            sms(
                "cards",
                &format!("k{i}"),
                &format!("cust-{i}"),
                now - hour,
                "$479.99",
                "BESTBUY #1123",
                "4417",
            )
            .to_string()
        })
        .collect();
    // Poison: not JSON, and a record without its customer.
    records.insert(5, "{not json".into());
    records.insert(
        12,
        json!({"source": "cards", "id": "bad", "channel": "sms", "sent_at": rfc3339(now)})
            .to_string(),
    );
    for (i, r) in records.iter().enumerate() {
        let key = format!("key-{i}");
        producer
            .send(BaseRecord::to("notifications").key(&key).payload(r))
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "[kafka]\nbrokers = {brokers:?}\nnotification_topics = [\"notifications\"]\nwatermark_topic = \"watermarks\"\nlinger_ms = 200\n[kafka.properties]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n"
    );
    // The first consumer dies right after its first batch is durable, before the commit.
    let mut first = Server::spawn_with(
        &dir.path().join("d"),
        Some(&cfg),
        None,
        &[("COUNTERSIGN_KAFKA_FAILPOINT", "exit_before_commit")],
    );
    assert_eq!(first.exited(Duration::from_secs(60)), Some(86));
    drop(first);
    // What that batch made durable before the consumer died.
    let stored_by_first: i64 = rusqlite::Connection::open(
        dir.path()
            .join("d")
            .join(countersign_store::sqlite::DB_FILE),
    )
    .unwrap()
    .query_row("SELECT COUNT(*) FROM notifications", [], |r| r.get(0))
    .unwrap();
    // The feed's watermark, published once the first batch was taken.
    let wm = json!({"source": "cards", "watermark": rfc3339(now), "complete_since": rfc3339(now - 72 * hour)})
        .to_string();
    producer
        .send(BaseRecord::<(), String>::to("watermarks").payload(&wm))
        .unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();
    // The next one gets those records again: duplicates, stored once.
    let mut s = Server::spawn(&dir.path().join("d"), Some(&cfg));
    let metric = |name: &str| metric(&s, name) as u64;
    // (The dead consumer holds its partitions until its session times out: 6 s here.)
    eventually("every record consumed again", 60, || {
        (metric("countersign_notifications_stored") == 20
            && metric("countersign_kafka_records_total{outcome=\"watermark\"}") == 1
            && metric("countersign_kafka_records_total{outcome=\"duplicate\"}")
                >= stored_by_first as u64)
            .then_some(())
    });
    assert_eq!(metric("countersign_notifications_stored"), 20, "each once");
    assert_eq!(
        metric("countersign_kafka_records_total{outcome=\"duplicate\"}"),
        stored_by_first as u64,
        "nothing was committed: what the first consumer stored arrived again, as duplicates"
    );
    // The watermark came through its topic: a forged claim is `not_sent`, a real one confirmed.
    let claim = |amount: &str, merchant: &str| {
        json!({"customer_id": "cust-3", "channel": "sms", "received_at": rfc3339(now - hour),
            "mentions": {"amount": amount, "merchant": merchant}})
    };
    assert_eq!(s.verify(&claim("$480", "Best Buy"))["verdict"], "confirmed");
    assert_eq!(s.verify(&claim("$99", "Walmart"))["verdict"], "not_sent");

    // The poison is on the dead-letter topic with its error code and where it came from.
    let dlq: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "test-dlq")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    dlq.subscribe(&["countersign.dead-letter"]).unwrap();
    let mut dead = std::collections::BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while dead.len() < 2 && std::time::Instant::now() < deadline {
        let Some(Ok(m)) = dlq.poll(Duration::from_millis(500)) else {
            continue;
        };
        let header = |k: &str| {
            m.headers()
                .and_then(|h| h.iter().find(|x| x.key == k))
                .and_then(|x| x.value)
                .map(|v| String::from_utf8_lossy(v).to_string())
                .unwrap_or_default()
        };
        dead.insert(
            header("countersign-source-offset") + "/" + &header("countersign-source-partition"),
            (
                header("countersign-error-code"),
                String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string(),
            ),
        );
    }
    let payloads: Vec<&str> = dead.values().map(|(_, p)| p.as_str()).collect();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(payloads.contains(&"{not json"), "{dead:?}");
    assert!(
        dead.values().all(|(code, _)| !code.is_empty()),
        "each with its error code: {dead:?}"
    );
    assert!(metric("countersign_kafka_records_total{outcome=\"dead_lettered\"}") >= 2);

    // SIGTERM: the consumer stops, leaves its group and the process exits cleanly.
    let (status, took) = s
        .terminate(Duration::from_secs(30))
        .expect("a consuming server did not exit within 30 s of SIGTERM");
    assert!(status.success(), "{status}");
    eprintln!("a consuming server exited {took:?} after SIGTERM");
}

/// A source fed through Kafka that never declares a watermark gets a derived one (its newest
/// `sent_at` less 5 min) — held to the time up to which the consumer group had committed every
/// partition. Here a second member of the group takes one partition and never commits: a text
/// waiting there must not be answered `not_sent` because the other partition ran three hours
/// ahead (without the hold it would be: the derived watermark covers the claim's window). Once
/// the partition is back with the server, the text is stored and confirmed.
#[test]
fn a_lagging_partition_holds_back_the_derived_watermark() {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("notifications", 2, 1).unwrap();
    mock.create_topic("countersign.dead-letter", 1, 1).unwrap();
    let brokers = mock.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let send = |partition: i32, id: &str, sent_at: i64, amount: &str, merchant: &str| {
        let r = sms("alerts", id, "cust-b", sent_at, amount, merchant, "4417").to_string();
        producer
            .send(
                BaseRecord::<(), String>::to("notifications")
                    .partition(partition)
                    .payload(&r),
            )
            .unwrap();
        producer.flush(Duration::from_secs(10)).unwrap();
    };
    let (n, min, hour) = (now_ms(), 60_000, 3_600_000);
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "settable_clock = true\n[kafka]\nbrokers = {brokers:?}\nnotification_topics = [\"notifications\"]\nlinger_ms = 100\n[kafka.properties]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n"
    );
    let s = Server::spawn(&dir.path().join("d"), Some(&cfg));
    let clock = |t: i64| {
        s.send(
            "PUT",
            "/v1/admin/clock",
            ADMIN_KEY,
            Some(&json!({"now": rfc3339(t)})),
        );
    };
    let metric = |name: &str| metric(&s, name);
    // Six hours ago the feed started: a record on each partition, both stored and committed.
    clock(n - 6 * hour);
    send(0, "a0", n - 6 * hour - min, "$12.00", "TARGET T-1887");
    send(1, "a1", n - 6 * hour - min, "$13.00", "SHELL OIL 57442");
    eventually("both partitions committed", 60, || {
        (metric("countersign_notifications_stored") == 2.0
            && metric("countersign_kafka_complete_to_seconds") * 1000.0 >= (n - 6 * hour) as f64)
            .then_some(())
    });

    // Another member of the group takes a partition, reads and never commits.
    let rogue: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "countersign")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1000")
        .create()
        .unwrap();
    rogue.subscribe(&["notifications"]).unwrap();
    let held = eventually("the rogue holds a partition", 60, || {
        let _ = rogue.poll(Duration::from_millis(200));
        let a = rogue.assignment().ok()?;
        let parts: Vec<i32> = a.elements().iter().map(|e| e.partition()).collect();
        (parts.len() == 1).then(|| parts[0])
    });
    // Three hours ago the real text went to the held partition; since then the other
    // partition has carried on, its newest record a minute old.
    let t = n - 3 * hour;
    clock(t + min);
    send(held, "b", t, "$480.00", "BESTBUY #1123");
    let _ = rogue.poll(Duration::from_millis(500));
    std::thread::sleep(Duration::from_secs(3));
    clock(n);
    send(1 - held, "c", n - min, "$14.00", "UBER TRIP");
    eventually("the other partition stored", 60, || {
        let _ = rogue.poll(Duration::from_millis(100));
        (metric("countersign_notifications_stored") == 3.0).then_some(())
    });
    let claim = json!({"customer_id": "cust-b", "channel": "sms", "received_at": rfc3339(t + 5_000),
        "mentions": {"amount": "$480", "merchant": "Best Buy"}});
    let v = s.verify(&claim);
    assert_eq!(
        v["verdict"], "cannot_confirm",
        "the text waits in a partition not yet committed: {v}"
    );

    // The rogue leaves; the server takes the partition, stores the text, commits.
    drop(rogue);
    eventually("the held partition stored and committed", 60, || {
        (metric("countersign_notifications_stored") == 4.0
            && metric("countersign_kafka_complete_to_seconds") * 1000.0 >= n as f64)
            .then_some(())
    });
    assert_eq!(s.verify(&claim)["verdict"], "confirmed");
}
