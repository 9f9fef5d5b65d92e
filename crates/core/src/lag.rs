//! Compact log-scale histogram of ingest lag (acknowledged − sent), mergeable across minutes
//! and nodes, small enough to persist per source per minute.

use crate::Millis;

/// Number of buckets: bucket `i` holds lags in `[2^(i/4) − 1, 2^((i+1)/4) − 1)` ms, so the
/// histogram spans 0 ms … ~2^32 ms (49 days) with ≤ 19 % relative error.
pub const LAG_BUCKETS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LagHistogram {
    pub counts: [u32; LAG_BUCKETS],
}

impl Default for LagHistogram {
    fn default() -> Self {
        LagHistogram {
            counts: [0; LAG_BUCKETS],
        }
    }
}

fn bucket_of(lag_ms: Millis) -> usize {
    let x = (lag_ms.max(0) as f64) + 1.0;
    ((x.log2() * 4.0).floor() as usize).min(LAG_BUCKETS - 1)
}

/// Upper edge of a bucket, in ms.
fn bucket_upper(i: usize) -> Millis {
    ((2f64).powf((i as f64 + 1.0) / 4.0) - 1.0).ceil() as Millis
}

impl LagHistogram {
    pub fn record(&mut self, lag_ms: Millis) {
        let b = bucket_of(lag_ms);
        self.counts[b] = self.counts[b].saturating_add(1);
    }

    pub fn merge(&mut self, other: &LagHistogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| *c as u64).sum()
    }

    /// The `q` quantile (0..=1), as the upper edge of the bucket holding it; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<Millis> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += *c as u64;
            if seen >= rank {
                return Some(bucket_upper(i));
            }
        }
        Some(bucket_upper(LAG_BUCKETS - 1))
    }

    /// Little-endian bytes, for storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.counts.iter().flat_map(|c| c.to_le_bytes()).collect()
    }

    /// Inverse of [`LagHistogram::to_bytes`]; short or odd input yields what it holds.
    pub fn from_bytes(b: &[u8]) -> LagHistogram {
        let mut h = LagHistogram::default();
        for (i, chunk) in b.chunks_exact(4).take(LAG_BUCKETS).enumerate() {
            h.counts[i] = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_a_bucket() {
        let mut h = LagHistogram::default();
        for lag in 1..=1000 {
            h.record(lag);
        }
        let p50 = h.quantile(0.5).unwrap();
        let p99 = h.quantile(0.99).unwrap();
        assert!((500..=600).contains(&p50), "p50 {p50}");
        assert!((990..=1200).contains(&p99), "p99 {p99}");
        assert_eq!(LagHistogram::from_bytes(&h.to_bytes()), h);
        assert_eq!(LagHistogram::default().quantile(0.5), None);
        let mut z = LagHistogram::default();
        z.record(0);
        z.record(-5);
        assert_eq!(z.quantile(1.0), Some(1));
    }
}
