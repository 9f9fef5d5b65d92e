//! The Kafka consumer itself (feature `kafka`, `rdkafka` with its bundled librdkafka): batches
//! from the subscribed topics through the API's validation into the store, dead letters awaited,
//! offsets committed only after both.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use countersign_core::records::RawRecord;
use countersign_core::validate::{
    validate_status, validate_watermark, StatusUpdateIn, WatermarkIn,
};
use countersign_store::IngestOutcome;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;

use super::{KafkaSettings, KafkaStats, FAILPOINT_ENV};
use crate::SharedState;

/// Which of the two Kafka clients a node runs a configuration is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Client {
    Consumer,
    /// The dead-letter producer.
    Producer,
}

/// The librdkafka settings only a consumer reads (the `C` rows of the bundled librdkafka 2.12's
/// CONFIGURATION.md). `[kafka.properties]` is one table for both clients; a consumer setting
/// (`session.timeout.ms`, say) given to the producer too would make librdkafka warn at every
/// start, so each client is given only the settings it reads.
const CONSUMER_ONLY: &[&str] = &[
    "auto.commit.enable",
    "auto.commit.interval.ms",
    "auto.offset.reset",
    "check.crcs",
    "consume.callback.max.messages",
    "consume_cb",
    "coordinator.query.interval.ms",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.partition.eof",
    "fetch.error.backoff.ms",
    "fetch.max.bytes",
    "fetch.message.max.bytes",
    "fetch.min.bytes",
    "fetch.queue.backoff.ms",
    "fetch.wait.max.ms",
    "group.id",
    "group.instance.id",
    "group.protocol",
    "group.protocol.type",
    "group.remote.assignor",
    "heartbeat.interval.ms",
    "isolation.level",
    "max.partition.fetch.bytes",
    "max.poll.interval.ms",
    "offset.store.method",
    "offset.store.path",
    "offset.store.sync.interval.ms",
    "offset_commit_cb",
    "partition.assignment.strategy",
    "queued.max.messages.kbytes",
    "queued.min.messages",
    "rebalance_cb",
    "session.timeout.ms",
];

/// The librdkafka settings only a producer reads (the `P` rows of the same table).
const PRODUCER_ONLY: &[&str] = &[
    "acks",
    "batch.num.messages",
    "batch.size",
    "compression.codec",
    "compression.level",
    "compression.type",
    "delivery.report.only.error",
    "delivery.timeout.ms",
    "dr_cb",
    "dr_msg_cb",
    "enable.gapless.guarantee",
    "enable.idempotence",
    "linger.ms",
    "message.send.max.retries",
    "message.timeout.ms",
    "msg_order_cmp",
    "partitioner",
    "partitioner_cb",
    "produce.offset.report",
    "queue.buffering.backpressure.threshold",
    "queue.buffering.max.kbytes",
    "queue.buffering.max.messages",
    "queue.buffering.max.ms",
    "queuing.strategy",
    "request.required.acks",
    "request.timeout.ms",
    "retries",
    "sticky.partitioning.linger.ms",
    "transaction.timeout.ms",
    "transactional.id",
];

/// The brokers and the `[kafka.properties]` that `client` reads.
fn client_config(k: &KafkaSettings, client: Client) -> ClientConfig {
    let other = match client {
        Client::Consumer => PRODUCER_ONLY,
        Client::Producer => CONSUMER_ONLY,
    };
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.brokers);
    for (key, value) in &k.properties {
        if !other.contains(&key.as_str()) {
            c.set(key, value);
        }
    }
    c
}

/// A watermark record on the watermark topic: `POST /v1/sources/{source}/watermark`'s body
/// with the source named in it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WatermarkRecord {
    source: String,
    watermark: String,
    #[serde(default)]
    complete_since: Option<String>,
}

/// Why a record went to the dead-letter topic.
struct Dead {
    code: String,
    detail: String,
}

impl Dead {
    fn new(code: &str, detail: String) -> Dead {
        Dead {
            code: code.into(),
            detail,
        }
    }
}

/// Consume until the server stops. Errors of the broker are logged and retried; a batch the
/// store could not take is retried (its offsets are not committed until it is durable).
pub async fn consume_forever(st: SharedState, k: KafkaSettings) {
    let consumer: StreamConsumer = match client_config(&k, Client::Consumer)
        .set("group.id", &k.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .create()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot create the Kafka consumer; Kafka input is off");
            return;
        }
    };
    // A dead letter that cannot be written within 15 s fails the batch (retried), rather than
    // waiting librdkafka's default five minutes.
    let producer: FutureProducer = match client_config(&k, Client::Producer)
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "15000")
        .create()
    {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot create the dead-letter producer; Kafka input is off");
            return;
        }
    };
    let mut topics: Vec<&str> = k.notification_topics.iter().map(String::as_str).collect();
    topics.extend(k.status_topic.as_deref());
    topics.extend(k.watermark_topic.as_deref());
    if let Err(e) = consumer.subscribe(&topics) {
        tracing::error!(error = %e, "cannot subscribe to the Kafka topics; Kafka input is off");
        return;
    }
    tracing::info!(topics = ?topics, group = %k.group_id, "consuming notification records from Kafka");
    let consumer = Arc::new(consumer);
    st.tasks.spawn(track_completeness(
        consumer.clone(),
        st.clone(),
        k.notification_topics.clone(),
    ));
    let mut last_lag = std::time::Instant::now();
    loop {
        // Each wait is bounded: a wake-up librdkafka never sends (rust-rdkafka #665: the queue
        // only signals when it goes from empty to non-empty) costs half a second, not the feed.
        let first = tokio::select! {
            m = tokio::time::timeout(Duration::from_millis(500), consumer.recv()) => match m {
                Ok(m) => m,
                Err(_) => continue,
            },
            _ = st.stopping.cancelled() => return,
        };
        let first = match first {
            Ok(m) => m.detach(),
            Err(e) => {
                tracing::warn!(error = %e, "Kafka receive failed; will retry");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let mut batch = vec![first];
        while batch.len() < k.batch_max {
            match tokio::time::timeout(Duration::from_millis(k.linger_ms), consumer.recv()).await {
                Ok(Ok(m)) => batch.push(m.detach()),
                _ => break,
            }
        }
        // Durable first; retried (never skipped) while the store or the dead-letter topic
        // cannot take it.
        let mut backoff = Duration::from_millis(200);
        while let Err(e) = process(&st, &k, &producer, &batch).await {
            tracing::warn!(error = %e, records = batch.len(), "Kafka batch not stored; will retry");
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = st.stopping.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
        if std::env::var(FAILPOINT_ENV).is_ok_and(|v| v == "exit_before_commit") {
            tracing::error!(
                "failpoint: exiting after the batch is durable, before its offsets are committed"
            );
            std::process::exit(86);
        }
        if let Err(e) = commit(&consumer, &st.kafka, &batch) {
            // The batch is durable: if the commit is lost it arrives again, as duplicates.
            tracing::warn!(error = %e, "Kafka offset commit failed; the batch may be delivered again");
        }
        if last_lag.elapsed() >= Duration::from_secs(5) {
            // Measured beside the loop, never in its way: a broker slow to answer the
            // watermark query must not hold up consumption.
            last_lag = std::time::Instant::now();
            let (c, st) = (consumer.clone(), st.clone());
            st.tasks
                .clone()
                .spawn(async move { measure_lag(&c, &st.kafka).await });
        }
    }
}

/// Store a batch: notifications through the API's validation and one ingest, status updates,
/// watermarks; every invalid record (and every conflict) to the dead-letter topic, awaited.
async fn process(
    st: &SharedState,
    k: &KafkaSettings,
    producer: &FutureProducer,
    batch: &[OwnedMessage],
) -> Result<(), String> {
    let now = st.now();
    let mut dead: Vec<(&OwnedMessage, Dead)> = Vec::new();
    let mut notes: Vec<(usize, &OwnedMessage)> = Vec::new();
    let mut raws: Vec<RawRecord<'_>> = Vec::new();
    for m in batch {
        let text = match m.payload().map(std::str::from_utf8) {
            Some(Ok(t)) => t,
            _ => {
                dead.push((
                    m,
                    Dead::new(
                        "malformed_record",
                        "the message is empty or not UTF-8 JSON".into(),
                    ),
                ));
                continue;
            }
        };
        if k.notification_topics.iter().any(|t| t == m.topic()) {
            raws.push(RawRecord {
                index: raws.len(),
                line: None,
                text: Ok(text),
            });
            notes.push((raws.len() - 1, m));
        } else if k.status_topic.as_deref() == Some(m.topic()) {
            if let Err(d) = status(st, text, now).await? {
                dead.push((m, d));
            }
        } else if k.watermark_topic.as_deref() == Some(m.topic()) {
            if let Err(d) = watermark(st, text, now).await? {
                dead.push((m, d));
            }
        }
    }
    if !raws.is_empty() {
        let mut prepared =
            crate::ledger::prepare_batch(&raws, &st.validation, st.limits.max_record_bytes, now);
        let valid = std::mem::take(&mut prepared.valid);
        let spoofed = crate::services::campaigns::spoofed_in(st, &valid);
        let outcomes = st
            .store
            .ingest(valid, now)
            .await
            .map_err(|e| e.to_string())?;
        crate::services::campaigns::warn_spoofed(st, spoofed, &outcomes);
        let accepted = outcomes
            .iter()
            .filter(|o| **o == IngestOutcome::Accepted)
            .count();
        let duplicates = outcomes
            .iter()
            .filter(|o| **o == IngestOutcome::Duplicate)
            .count();
        st.kafka.count("accepted", accepted as u64);
        st.kafka.count("duplicate", duplicates as u64);
        crate::metrics::Metrics::add(&st.metrics.records_accepted, accepted as u64);
        crate::metrics::Metrics::add(&st.metrics.records_duplicate, duplicates as u64);
        let resp = prepared.finish(outcomes);
        for e in resp.errors {
            if let Some((_, m)) = notes.iter().find(|(i, _)| *i == e.index) {
                dead.push((
                    m,
                    Dead {
                        code: e.code,
                        detail: e.detail,
                    },
                ));
            }
        }
    }
    for (m, d) in &dead {
        dead_letter(k, producer, m, d).await?;
    }
    st.kafka.count("dead_lettered", dead.len() as u64);
    crate::metrics::Metrics::add(&st.metrics.records_rejected, dead.len() as u64);
    Ok(())
}

/// A status update record: applied, or why it is dead. `Err` only when the store failed.
async fn status(
    st: &SharedState,
    text: &str,
    now: countersign_core::Millis,
) -> Result<Result<(), Dead>, String> {
    let raw: StatusUpdateIn = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => return Ok(Err(Dead::new("invalid_record", e.to_string()))),
    };
    let u = match validate_status(&raw, &st.validation.limits, now) {
        Ok(u) => u,
        Err(r) => return Ok(Err(Dead::new(r.code, r.detail))),
    };
    let out = st
        .store
        .update_status(vec![u])
        .await
        .map_err(|e| e.to_string())?;
    st.kafka.count("status", 1);
    if out.first() == Some(&countersign_store::StatusOutcome::NotFound) {
        return Ok(Err(Dead::new(
            "not_found",
            "no stored notification has this (source, id)".into(),
        )));
    }
    Ok(Ok(()))
}

/// A watermark record: applied, or why it is dead. `Err` only when the store failed.
async fn watermark(
    st: &SharedState,
    text: &str,
    now: countersign_core::Millis,
) -> Result<Result<(), Dead>, String> {
    let w: WatermarkRecord = match serde_json::from_str(text) {
        Ok(w) => w,
        Err(e) => return Ok(Err(Dead::new("invalid_record", e.to_string()))),
    };
    let body = WatermarkIn {
        watermark: w.watermark,
        complete_since: w.complete_since,
    };
    let (source, at, complete) = match validate_watermark(&w.source, &body, now, &st.validation) {
        Ok(v) => v,
        Err(r) => return Ok(Err(Dead::new(r.code, r.detail))),
    };
    st.store
        .set_watermark(&source, at, complete, now)
        .await
        .map_err(|e| e.to_string())?;
    st.kafka.count("watermark", 1);
    Ok(Ok(()))
}

/// The record as it came, on the dead-letter topic, with why and where it came from in the
/// headers; awaited (a batch is not committed before its dead letters are written).
async fn dead_letter(
    k: &KafkaSettings,
    producer: &FutureProducer,
    m: &OwnedMessage,
    d: &Dead,
) -> Result<(), String> {
    let partition = m.partition().to_string();
    let offset = m.offset().to_string();
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "countersign-error-code",
            value: Some(d.code.as_str()),
        })
        .insert(Header {
            key: "countersign-error-detail",
            value: Some(d.detail.as_str()),
        })
        .insert(Header {
            key: "countersign-source-topic",
            value: Some(m.topic()),
        })
        .insert(Header {
            key: "countersign-source-partition",
            value: Some(partition.as_str()),
        })
        .insert(Header {
            key: "countersign-source-offset",
            value: Some(offset.as_str()),
        });
    let payload = m.payload().unwrap_or_default();
    let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&k.dead_letter_topic)
        .payload(payload)
        .headers(headers);
    if let Some(key) = m.key() {
        record = record.key(key);
    }
    producer
        .send(record, Duration::from_secs(10))
        .await
        .map(|_| ())
        .map_err(|(e, _)| format!("dead-letter topic {}: {e}", k.dead_letter_topic))
}

/// Commit the offset after the last message of each partition in the batch.
fn commit(
    consumer: &StreamConsumer,
    stats: &KafkaStats,
    batch: &[OwnedMessage],
) -> Result<(), String> {
    let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for m in batch {
        let e = next
            .entry((m.topic().to_string(), m.partition()))
            .or_default();
        *e = (*e).max(m.offset() + 1);
    }
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), offset) in &next {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(|e| e.to_string())?;
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .map_err(|e| e.to_string())?;
    let mut s = stats.inner.lock().unwrap_or_else(|p| p.into_inner());
    s.committed.extend(next);
    Ok(())
}

/// Messages behind each consumed partition's end (its high watermark less the committed offset).
async fn measure_lag(consumer: &Arc<StreamConsumer>, stats: &KafkaStats) {
    let committed = stats
        .inner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .committed
        .clone();
    let c = consumer.clone();
    let lag = tokio::task::spawn_blocking(move || {
        committed
            .into_iter()
            .filter_map(|((topic, partition), offset)| {
                let (_, high) = c
                    .fetch_watermarks(&topic, partition, Duration::from_secs(2))
                    .ok()?;
                Some(((topic, partition), (high - offset).max(0)))
            })
            .collect::<BTreeMap<_, _>>()
    })
    .await;
    if let Ok(lag) = lag {
        stats.inner.lock().unwrap_or_else(|p| p.into_inner()).lag = lag;
    }
}

/// Every 2 s: whether the consumer group has stored and committed every partition of the
/// notification topics up to the end it had when the check began — then every record published
/// before that time is in the ledger, and derived watermarks may reach it (see `cap_derived`).
/// The group's committed offsets are read for all partitions, not only this node's.
async fn track_completeness(consumer: Arc<StreamConsumer>, st: SharedState, topics: Vec<String>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = st.stopping.cancelled() => return,
        }
        let at = st.now();
        let (c, t) = (consumer.clone(), topics.clone());
        match tokio::task::spawn_blocking(move || all_committed(&c, &t)).await {
            Ok(Ok(true)) => st.kafka.caught_up(at),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "Kafka completeness check failed; will retry")
            }
            Err(_) => {}
        }
    }
}

/// Whether the group's committed offset is at the end of every partition of `topics`.
fn all_committed(
    c: &StreamConsumer,
    topics: &[String],
) -> Result<bool, rdkafka::error::KafkaError> {
    let timeout = Duration::from_secs(2);
    let mut tpl = TopicPartitionList::new();
    let mut ends = Vec::new();
    for t in topics {
        let md = c.fetch_metadata(Some(t), timeout)?;
        for topic in md.topics() {
            if topic.error().is_some() {
                return Ok(false);
            }
            for p in topic.partitions() {
                let (low, high) = c.fetch_watermarks(t, p.id(), timeout)?;
                tpl.add_partition(t, p.id());
                ends.push((t.as_str(), p.id(), low, high));
            }
        }
    }
    let committed = c.committed_offsets(tpl, timeout)?;
    Ok(ends.into_iter().all(|(t, p, low, high)| {
        match committed.find_partition(t, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o >= high,
            // Never committed: done only if there is nothing to read.
            _ => low >= high,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_gets_the_properties_it_reads() {
        let k: KafkaSettings = toml::from_str(
            "brokers = \"b:9092\"\nnotification_topics = [\"n\"]\n[properties]\n\
             \"session.timeout.ms\" = \"6000\"\n\"linger.ms\" = \"5\"\n\
             \"security.protocol\" = \"ssl\"\n",
        )
        .unwrap();
        let consumer = client_config(&k, Client::Consumer);
        let producer = client_config(&k, Client::Producer);
        for c in [&consumer, &producer] {
            assert_eq!(c.get("bootstrap.servers"), Some("b:9092"));
            assert_eq!(c.get("security.protocol"), Some("ssl"), "both read it");
        }
        assert_eq!(consumer.get("session.timeout.ms"), Some("6000"));
        assert_eq!(producer.get("session.timeout.ms"), None);
        assert_eq!(producer.get("linger.ms"), Some("5"));
        assert_eq!(consumer.get("linger.ms"), None);
        assert!(CONSUMER_ONLY.iter().all(|p| !PRODUCER_ONLY.contains(p)));
    }
}
