//! In-process metrics, exposed at `/metrics` in the Prometheus text format: request counts,
//! records by outcome, latency quantiles of the hot handlers measured inside the server
//! (HdrHistogram, which `countersign bench` reads), and per-route request histograms
//! ([`crate::requests`], for dashboards and alerting).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

/// A latency distribution in microseconds.
pub struct Latency {
    hist: Mutex<Histogram<u64>>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            // 1 µs .. 60 s at 3 significant digits.
            hist: Mutex::new(
                Histogram::new_with_bounds(1, 60_000_000, 3)
                    .expect("constant, valid histogram bounds"),
            ),
        }
    }
}

impl Latency {
    pub fn record(&self, d: Duration) {
        if let Ok(mut h) = self.hist.lock() {
            h.saturating_record((d.as_micros() as u64).max(1));
        }
    }

    /// `(count, p50, p99, p999, max)` in microseconds.
    pub fn summary(&self) -> (u64, u64, u64, u64, u64) {
        match self.hist.lock() {
            Ok(h) => (
                h.len(),
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999),
                h.max(),
            ),
            Err(_) => (0, 0, 0, 0, 0),
        }
    }

    pub fn reset(&self) {
        if let Ok(mut h) = self.hist.lock() {
            h.reset();
        }
    }
}

#[derive(Default)]
pub struct Metrics {
    pub ingest_requests: AtomicU64,
    pub records_accepted: AtomicU64,
    pub records_duplicate: AtomicU64,
    pub records_rejected: AtomicU64,
    pub verifications: AtomicU64,
    /// Verdicts answered, by verdict.
    pub verdicts: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    /// Customers' text checks, by the verdict they were told.
    pub text_checks: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    /// Verification time inside the server: parse, store read, decision.
    pub verify_latency: Latency,
    /// Ingest request time inside the server: parse, validate, durable commit.
    pub ingest_latency: Latency,
    /// Call scoring inside the server: facts gathered, scored, the call recorded.
    pub score_latency: Latency,
    /// Smishing report intake inside the server: indicators, clustering, durable write, alert.
    pub report_latency: Latency,
    /// Alerts created, deduplicated, rate-limited; webhook deliveries and failed attempts.
    pub alerts_created: AtomicU64,
    pub alerts_duplicate: AtomicU64,
    pub alerts_rate_limited: AtomicU64,
    /// Spoofed-notification alerts dropped because their queue was full (ingest never waits).
    pub alerts_dropped: AtomicU64,
    /// Reports the start-up replay clustered otherwise than stored (campaign decisions are off
    /// while above zero).
    pub campaign_replay_mismatches: AtomicU64,
    pub webhook_delivered: AtomicU64,
    pub webhook_failed_attempts: AtomicU64,
    /// Requests refused by the per-key rate limits.
    pub rate_limited: AtomicU64,
    /// Requests by route: histograms and status counts ([`crate::requests`]).
    pub http: crate::requests::HttpMetrics,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn count_verdict(&self, verdict: &'static str) {
        Self::add(&self.verifications, 1);
        if let Ok(mut v) = self.verdicts.lock() {
            *v.entry(verdict).or_default() += 1;
        }
    }

    pub fn count_text_check(&self, verdict: &'static str) {
        if let Ok(mut v) = self.text_checks.lock() {
            *v.entry(verdict).or_default() += 1;
        }
    }

    pub fn render(&self, stored: i64, bytes: u64) -> String {
        let verdicts: Vec<(&str, u64)> = self
            .verdicts
            .lock()
            .map(|v| v.iter().map(|(k, n)| (*k, *n)).collect())
            .unwrap_or_default();
        let mut s = String::new();
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(s, "# TYPE countersign_ingest_requests_total counter");
        let _ = writeln!(
            s,
            "countersign_ingest_requests_total {}",
            c(&self.ingest_requests)
        );
        let _ = writeln!(s, "# TYPE countersign_ingest_records_total counter");
        for (outcome, v) in [
            ("accepted", &self.records_accepted),
            ("duplicate", &self.records_duplicate),
            ("rejected", &self.records_rejected),
        ] {
            let _ = writeln!(
                s,
                "countersign_ingest_records_total{{outcome=\"{outcome}\"}} {}",
                c(v)
            );
        }
        let _ = writeln!(s, "# TYPE countersign_rate_limited_total counter");
        let _ = writeln!(
            s,
            "countersign_rate_limited_total {}",
            c(&self.rate_limited)
        );
        let _ = writeln!(s, "# TYPE countersign_verifications_total counter");
        let _ = writeln!(
            s,
            "countersign_verifications_total {}",
            c(&self.verifications)
        );
        let _ = writeln!(s, "# TYPE countersign_verdicts_total counter");
        for (verdict, n) in verdicts {
            let _ = writeln!(s, "countersign_verdicts_total{{verdict=\"{verdict}\"}} {n}");
        }
        let checks: Vec<(&str, u64)> = self
            .text_checks
            .lock()
            .map(|v| v.iter().map(|(k, n)| (*k, *n)).collect())
            .unwrap_or_default();
        let _ = writeln!(s, "# TYPE countersign_text_checks_total counter");
        for (verdict, n) in checks {
            let _ = writeln!(
                s,
                "countersign_text_checks_total{{verdict=\"{verdict}\"}} {n}"
            );
        }
        for (name, l) in [
            ("verify", &self.verify_latency),
            ("ingest", &self.ingest_latency),
            ("score", &self.score_latency),
            ("report", &self.report_latency),
        ] {
            let (count, p50, p99, p999, _max) = l.summary();
            let _ = writeln!(s, "# TYPE countersign_{name}_seconds summary");
            for (q, v) in [("0.5", p50), ("0.99", p99), ("0.999", p999)] {
                let _ = writeln!(
                    s,
                    "countersign_{name}_seconds{{quantile=\"{q}\"}} {}",
                    v as f64 / 1e6
                );
            }
            let _ = writeln!(s, "countersign_{name}_seconds_count {count}");
        }
        let _ = writeln!(s, "# TYPE countersign_alerts_total counter");
        for (outcome, v) in [
            ("created", &self.alerts_created),
            ("duplicate", &self.alerts_duplicate),
            ("rate_limited", &self.alerts_rate_limited),
            ("dropped", &self.alerts_dropped),
        ] {
            let _ = writeln!(
                s,
                "countersign_alerts_total{{outcome=\"{outcome}\"}} {}",
                c(v)
            );
        }
        let _ = writeln!(s, "# TYPE countersign_webhook_deliveries_total counter");
        let _ = writeln!(
            s,
            "countersign_webhook_deliveries_total {}",
            c(&self.webhook_delivered)
        );
        let _ = writeln!(
            s,
            "# TYPE countersign_webhook_failed_attempts_total counter"
        );
        let _ = writeln!(
            s,
            "countersign_webhook_failed_attempts_total {}",
            c(&self.webhook_failed_attempts)
        );
        let _ = writeln!(
            s,
            "# HELP countersign_campaign_replay_mismatches Stored smishing reports the start-up replay clustered into another campaign; above zero, campaign decisions are refused."
        );
        let _ = writeln!(s, "# TYPE countersign_campaign_replay_mismatches gauge");
        let _ = writeln!(
            s,
            "countersign_campaign_replay_mismatches {}",
            c(&self.campaign_replay_mismatches)
        );
        let _ = writeln!(s, "# TYPE countersign_notifications_stored gauge");
        let _ = writeln!(s, "countersign_notifications_stored {stored}");
        let _ = writeln!(s, "# TYPE countersign_store_bytes gauge");
        let _ = writeln!(s, "countersign_store_bytes {bytes}");
        s.push_str(&self.http.render());
        s
    }
}
