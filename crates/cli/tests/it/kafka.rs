//! Kafka input end to end: a real Kafka-protocol broker on loopback (librdkafka's mock cluster,
//! hosted by this test process) and the real `countersign serve` consuming from it. A consumer
//! that dies between the durable write and the offset commit gets the records again and stores
//! them once; records that fail validation go to the dead-letter topic with their error code and
//! never hold up their partition; a watermark record makes `not_sent` possible.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;

use crate::common::*;

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
    let s = Server::spawn(&dir.path().join("d"), Some(&cfg));
    let metric = |name: &str| -> u64 {
        let (_, _, v) = s.get("/metrics", Some(ADMIN_KEY));
        v.as_str()
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
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
}
