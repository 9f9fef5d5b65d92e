//! Notification events from Kafka: records on the configured topics — the same JSON as
//! `POST /v1/notifications`, delivery-status updates and watermarks on their own topics — go
//! through the same validation into the ledger, in batches, by a consumer in one consumer group
//! across every node. At-least-once: offsets are committed only after the batch is durable (a
//! record delivered again lands as a duplicate); a record that fails validation goes to the
//! dead-letter topic with its error code in its headers and is counted, never blocking its
//! partition; consumer lag per partition is on `/metrics`. The consumer is compiled with the
//! `kafka` feature (on in the release build); the settings and counters always are.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use countersign_core::{Millis, SourceState};
use serde::Deserialize;

#[cfg(feature = "kafka")]
mod consume;
#[cfg(feature = "kafka")]
pub use consume::consume_forever;

/// Whether this build can consume from Kafka.
pub const AVAILABLE: bool = cfg!(feature = "kafka");

/// `[kafka]`: consume notification records from Kafka (in `serve`, or `countersign consume kafka`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// `bootstrap.servers`, e.g. `"kafka-1:9092,kafka-2:9092"`.
    pub brokers: String,
    /// The consumer group every node joins (partitions are shared among them).
    #[serde(default = "default_group")]
    pub group_id: String,
    /// Topics of notification records, one record per message (`POST /v1/notifications`'s JSON).
    pub notification_topics: Vec<String>,
    /// A topic of delivery-status updates (`POST /v1/notifications/status`'s JSON), if any.
    #[serde(default)]
    pub status_topic: Option<String>,
    /// A topic of watermarks: `{"source", "watermark", "complete_since"?}`, if any.
    #[serde(default)]
    pub watermark_topic: Option<String>,
    /// Where a record that fails validation goes, with `countersign-error-code`,
    /// `countersign-error-detail` and its topic, partition and offset in the headers.
    #[serde(default = "default_dead_letter")]
    pub dead_letter_topic: String,
    /// Most messages stored (and committed) together.
    #[serde(default = "default_batch")]
    pub batch_max: usize,
    /// How long to wait for more messages before storing a batch, in milliseconds.
    #[serde(default = "default_linger")]
    pub linger_ms: u64,
    /// More librdkafka settings: `security.protocol`, `sasl.*`, `ssl.*`, …
    #[serde(default)]
    pub properties: HashMap<String, String>,
}

fn default_group() -> String {
    "countersign".into()
}
fn default_dead_letter() -> String {
    "countersign.dead-letter".into()
}
fn default_batch() -> usize {
    1000
}
fn default_linger() -> u64 {
    20
}

impl KafkaSettings {
    /// Every problem with the section.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !AVAILABLE {
            p.push("[kafka] is set but this build has no Kafka support (build with the `kafka` feature, as the release build is)".into());
        }
        if self.brokers.trim().is_empty() {
            p.push("kafka.brokers is empty".into());
        }
        if self.notification_topics.is_empty() {
            p.push("kafka.notification_topics needs at least one topic".into());
        }
        if self.dead_letter_topic.trim().is_empty() {
            p.push("kafka.dead_letter_topic is empty".into());
        }
        if self.batch_max == 0 {
            p.push("kafka.batch_max must be at least 1".into());
        }
        for k in [
            "group.id",
            "enable.auto.commit",
            "enable.auto.offset.store",
            "bootstrap.servers",
        ] {
            if self.properties.contains_key(k) {
                p.push(format!(
                    "kafka.properties may not set {k:?}: Countersign sets it"
                ));
            }
        }
        p
    }
}

/// Set to `exit_before_commit` (tests only) to stop the process right after a batch is durable
/// and before its offsets are committed: the records must then arrive again and be stored once.
pub const FAILPOINT_ENV: &str = "COUNTERSIGN_KAFKA_FAILPOINT";

/// What the consumer has done, for `/metrics`.
#[derive(Default)]
pub struct KafkaStats {
    pub(super) inner: Mutex<StatsInner>,
}

#[derive(Default)]
pub(super) struct StatsInner {
    /// Records by outcome: accepted, duplicate, dead_lettered, status, watermark.
    pub(super) records: BTreeMap<&'static str, u64>,
    /// (topic, partition) → messages behind the partition's end, as last measured.
    pub(super) lag: BTreeMap<(String, i32), i64>,
    /// (topic, partition) → the next offset to read, as last committed.
    pub(super) committed: BTreeMap<(String, i32), i64>,
    /// The latest time at which the group had committed every partition of the notification
    /// topics up to its end: every record published before it is in the ledger.
    pub(super) complete_to: Option<Millis>,
}

/// Hold every derived watermark to what the consumer group has committed, on a node that
/// consumes Kafka. A source's derived watermark is its newest `sent_at` less a margin; with
/// several partitions, one partition can run ahead of another still holding older records, and
/// a watermark taken from the one ahead would answer `not_sent` for a record still waiting in
/// the other. So it may not pass the time up to which every partition was stored and
/// committed (before the first such check: nothing is claimed, `cannot_confirm`). Declared
/// watermarks are the producer's word and are left alone.
pub fn cap_derived(st: &crate::AppState, sources: &mut [SourceState]) {
    if !AVAILABLE || st.kafka_settings.is_none() {
        return;
    }
    let cap = st.kafka.complete_to().unwrap_or(Millis::MIN);
    for s in sources {
        s.derived_cap = Some(cap);
    }
}

impl KafkaStats {
    /// The group had every notification partition committed to its end as of `at`.
    #[cfg(feature = "kafka")]
    pub(super) fn caught_up(&self, at: Millis) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.complete_to = Some(s.complete_to.map_or(at, |c| c.max(at)));
    }

    /// See [`cap_derived`].
    pub fn complete_to(&self) -> Option<Millis> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .complete_to
    }

    /// `n` more records ended as `outcome` (`accepted`, `duplicate`, `dead_lettered`, …).
    #[cfg(feature = "kafka")]
    pub(super) fn count(&self, outcome: &'static str, n: u64) {
        if n > 0 {
            let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            *s.records.entry(outcome).or_default() += n;
        }
    }

    /// The Prometheus text of what the consumer did (empty when it never ran).
    pub fn render(&self) -> String {
        let s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if s.records.is_empty() && s.committed.is_empty() {
            return String::new();
        }
        let mut out = String::from(
            "# HELP countersign_kafka_records_total Kafka records by outcome.\n# TYPE countersign_kafka_records_total counter\n",
        );
        for (outcome, n) in &s.records {
            out.push_str(&format!(
                "countersign_kafka_records_total{{outcome=\"{outcome}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP countersign_kafka_lag Messages behind the end of each partition this node consumes.\n# TYPE countersign_kafka_lag gauge\n");
        for ((topic, partition), lag) in &s.lag {
            out.push_str(&format!(
                "countersign_kafka_lag{{topic=\"{topic}\",partition=\"{partition}\"}} {lag}\n"
            ));
        }
        if let Some(t) = s.complete_to {
            out.push_str(&format!(
                "# HELP countersign_kafka_complete_to_seconds When the consumer group last had every notification partition committed to its end (derived watermarks stop there).\n# TYPE countersign_kafka_complete_to_seconds gauge\ncountersign_kafka_complete_to_seconds {:.3}\n",
                t as f64 / 1000.0
            ));
        }
        out
    }
}
