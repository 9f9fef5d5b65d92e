//! `countersign bench --only kafka`: Kafka → ledger end to end on one node. Records are produced
//! to a topic of librdkafka's mock cluster (the real Kafka protocol on loopback, hosted by the
//! benchmark), then a fresh server consumes them through its `[kafka]` consumer into an embedded
//! store — validated, stored durably, offsets committed — and the rate is records stored per
//! second from the server's start to the last record.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_core::validate::BodyRetention;
use countersign_core::{Millis, Notification};
use countersign_server::kafka::KafkaSettings;
use countersign_store::prelude::*;
use countersign_store::sqlite::SqliteStore;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::bench::{bar, bench_config, notification, opts, serve_on, wire, BenchArgs};

const TOPIC: &str = "bench.notifications";
const PARTITIONS: i32 = 32;

pub async fn kafka(dir: &Path, args: &BenchArgs, now: Millis) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    let mock = MockCluster::new(1)?;
    // The mock broker keeps only the newest few MB of each partition: enough partitions that a
    // backlog produced before the consumer starts is all still there.
    mock.create_topic(TOPIC, PARTITIONS, 1)?;
    mock.create_topic("bench.dead-letter", 1, 1)?;
    let brokers = mock.bootstrap_servers();
    let mut rng = fastrand::Rng::with_seed(now as u64);
    let rows: Vec<Notification> = (0..args.ingest)
        .map(|k| notification("kafka", k, args.customers, now, 60_000, &mut rng))
        .collect();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    let pb = bar(rows.len() as u64, "produce to the mock cluster");
    for n in &rows {
        let payload = wire(n);
        let mut record = BaseRecord::to(TOPIC).key(&n.customer_id).payload(&payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    producer.poll(Duration::from_millis(50));
                    record = r;
                }
                Err((e, _)) => anyhow::bail!("produce: {e}"),
            }
        }
        pb.inc(1);
    }
    producer.flush(Duration::from_secs(120))?;
    pb.finish_and_clear();

    let mut config = bench_config(dir, BodyRetention::Full);
    config.kafka = Some(KafkaSettings {
        brokers,
        group_id: "bench".into(),
        notification_topics: vec![TOPIC.into()],
        status_topic: None,
        watermark_topic: None,
        dead_letter_topic: "bench.dead-letter".into(),
        batch_max: 5_000,
        linger_ms: 20,
        properties: Default::default(),
    });
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir, opts(args))?);
    let started = Instant::now();
    let running = serve_on(store.clone(), &config).await?;
    let pb = bar(rows.len() as u64, "consume into the ledger");
    let metrics = format!("{}/metrics", running.base);
    let mut rejected;
    let mut last = (0u64, Instant::now());
    // When the first records were stored: before it the consumer joins its group and is given
    // its partitions (a one-off at start, not a rate), after it the records flow.
    let mut first: Option<(u64, Instant)> = None;
    loop {
        let stored = store.stats().await?.notifications as u64;
        pb.set_position(stored);
        if stored > 0 && first.is_none() {
            first = Some((stored, Instant::now()));
        }
        // Records the consumer dead-lettered will never be stored: count them in.
        rejected = dead_lettered(&metrics).await;
        if stored + rejected >= rows.len() as u64 {
            break;
        }
        if stored > last.0 {
            last = (stored, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(60) {
            anyhow::bail!(
                "the consumer stalled: {stored} of {} records stored, none in the last minute \
                 (seen on the mock cluster with backlogs above ~60,000 records; BENCHMARKS.md)",
                rows.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ended = Instant::now();
    let secs = (ended - started).as_secs_f64();
    pb.finish_and_clear();
    let stopping = Instant::now();
    running.shutdown().await?;
    println!(
        "kafka → ledger: the server stopped {:.1} s after it was told to (consumer closed, group left)",
        stopping.elapsed().as_secs_f64()
    );
    if rejected > 0 {
        println!("kafka → ledger: {rejected} records went to the dead-letter topic");
    }
    println!(
        "kafka → ledger: {} records from {PARTITIONS} partitions consumed, validated, stored durably and committed in {secs:.1} s from the server's start = {:.0}/s (one node, embedded store, batches of up to 5,000)",
        rows.len(),
        rows.len() as f64 / secs
    );
    if let Some((n0, t0)) = first {
        let flowing = (ended - t0).as_secs_f64();
        println!(
            "kafka → ledger: first records stored {:.1} s after the start (group join and partition assignment); from then on {} records in {flowing:.1} s = {:.0}/s",
            (t0 - started).as_secs_f64(),
            rows.len() as u64 - n0,
            (rows.len() as u64 - n0) as f64 / flowing.max(1e-3)
        );
    }
    Ok(())
}

/// Records the server's consumer sent to the dead-letter topic so far (from `/metrics`).
async fn dead_lettered(url: &str) -> u64 {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        ureq::get(&url)
            .set(
                "authorization",
                &format!("Bearer {}", crate::bench::BENCH_KEY),
            )
            .call()
            .ok()?
            .into_string()
            .ok()?
            .lines()
            .find(|l| l.starts_with("countersign_kafka_records_total{outcome=\"dead_lettered\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    })
    .await
    .ok()
    .flatten()
    .unwrap_or(0)
}
