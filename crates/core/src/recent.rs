//! The windows of recent calls behind the velocity signals (which customers a number called
//! about, which numbers called about a customer) and of recent forged-text claims (`not_sent`,
//! `known_scam`) behind the surge. Kept in memory beside the store so scoring needs no durable
//! write and no fsync; rebuilt from the store at start. Pure: time is passed in.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::score::{Surge, Thresholds};
use crate::Millis;

const HOUR: Millis = 3_600_000;

/// When claims were verified `not_sent` or `known_scam`, over the last week and an hour: the surge signal and
/// alert read it on every claim, so it lives in memory (rebuilt from the store at start) rather
/// than in two range counts per claim.
#[derive(Debug, Default)]
pub struct ClaimRate {
    times: VecDeque<Millis>,
}

impl ClaimRate {
    /// How far back the rate looks: the last hour and the 168 hours before it.
    pub const WINDOW_MS: Millis = 169 * HOUR;

    /// Record one forged-text claim at `at` (kept in time order).
    pub fn record(&mut self, at: Millis) {
        let i = self.times.partition_point(|t| *t <= at);
        self.times.insert(i, at);
    }

    /// The surge at `now`; forgets what is older than the window.
    pub fn surge(&mut self, now: Millis, t: &Thresholds) -> Surge {
        while self
            .times
            .front()
            .is_some_and(|x| *x < now - Self::WINDOW_MS)
        {
            self.times.pop_front();
        }
        let hour_ago = self.times.partition_point(|x| *x < now - HOUR);
        let upto_now = self.times.partition_point(|x| *x <= now);
        Surge::new((upto_now - hour_ago) as u32, hour_ago as u32, t)
    }
}

/// Recent calls within `window_ms`.
#[derive(Debug, Default)]
pub struct RecentCalls {
    window_ms: Millis,
    ids: HashSet<String>,
    order: VecDeque<(Millis, String, String, Option<String>)>,
    /// Per number and per customer, oldest first (calls arrive in about time order), so
    /// forgetting is a pop from the front: a number shared by thousands of calls — "anonymous"
    /// — costs no more to prune than any other.
    by_ani: HashMap<String, VecDeque<(Millis, Option<String>)>>,
    by_customer: HashMap<String, VecDeque<(Millis, String)>>,
}

impl RecentCalls {
    pub fn new(window_ms: Millis) -> Self {
        RecentCalls {
            window_ms,
            ..Default::default()
        }
    }

    /// Record a call; `false` when its id is already in the window.
    pub fn add(&mut self, call_id: &str, ani: &str, customer: Option<&str>, at: Millis) -> bool {
        if !self.ids.insert(call_id.to_string()) {
            return false;
        }
        self.order.push_back((
            at,
            call_id.to_string(),
            ani.to_string(),
            customer.map(str::to_string),
        ));
        self.by_ani
            .entry(ani.to_string())
            .or_default()
            .push_back((at, customer.map(str::to_string)));
        if let Some(c) = customer {
            self.by_customer
                .entry(c.to_string())
                .or_default()
                .push_back((at, ani.to_string()));
        }
        true
    }

    pub fn contains(&self, call_id: &str) -> bool {
        self.ids.contains(call_id)
    }

    /// Forget calls older than the window (amortised: call it on every add).
    pub fn prune(&mut self, now: Millis) {
        let cut = now - self.window_ms;
        while self.order.front().is_some_and(|(at, ..)| *at < cut) {
            let Some((_, id, ani, customer)) = self.order.pop_front() else {
                break;
            };
            self.ids.remove(&id);
            if let Some(v) = self.by_ani.get_mut(&ani) {
                while v.front().is_some_and(|(t, _)| *t < cut) {
                    v.pop_front();
                }
                if v.is_empty() {
                    self.by_ani.remove(&ani);
                }
            }
            if let Some(c) = customer {
                if let Some(v) = self.by_customer.get_mut(&c) {
                    while v.front().is_some_and(|(t, _)| *t < cut) {
                        v.pop_front();
                    }
                    if v.is_empty() {
                        self.by_customer.remove(&c);
                    }
                }
            }
        }
    }

    /// Distinct customers calls from `ani` were about since `since`.
    pub fn ani_customers(&self, ani: &str, since: Millis) -> u32 {
        let Some(v) = self.by_ani.get(ani) else {
            return 0;
        };
        v.iter()
            .filter(|(t, c)| *t >= since && c.is_some())
            .filter_map(|(_, c)| c.as_deref())
            .collect::<HashSet<_>>()
            .len() as u32
    }

    /// Distinct numbers that called about `customer` since `since`.
    pub fn customer_anis(&self, customer: &str, since: Millis) -> u32 {
        let Some(v) = self.by_customer.get(customer) else {
            return 0;
        };
        v.iter()
            .filter(|(t, _)| *t >= since)
            .map(|(_, a)| a.as_str())
            .collect::<HashSet<_>>()
            .len() as u32
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_rate_surges_against_the_week_before() {
        let t = Thresholds::default();
        let mut r = ClaimRate::default();
        let now = 1_000 * HOUR;
        // Usual: one an hour for the week before the last hour.
        for h in 2..=169 {
            r.record(now - h * HOUR + 1);
        }
        let s = r.surge(now, &t);
        assert_eq!((s.last_hour, s.usual_per_hour), (0, 1.0));
        assert!(!s.active);
        // Ten in the last hour, out of order: 11/2 = 5.5× usual.
        for m in (0..10).rev() {
            r.record(now - m * 60_000);
        }
        let s = r.surge(now, &t);
        assert_eq!(s.last_hour, 10);
        assert_eq!(s.ratio, 5.5);
        assert!(s.active);
        // Four on a quiet system: a high ratio but under the minimum count.
        let mut quiet = ClaimRate::default();
        for m in 0..4 {
            quiet.record(now - m * 60_000);
        }
        let s = quiet.surge(now, &t);
        assert_eq!(s.ratio, 5.0);
        assert!(!s.active, "below surge_alert_min");
        // A week later everything has aged out.
        let s = r.surge(now + 200 * HOUR, &t);
        assert_eq!((s.last_hour, s.usual_per_hour, s.active), (0, 0.0, false));
        assert!(r.times.is_empty());
    }

    #[test]
    fn velocities_and_pruning() {
        let h = 3_600_000;
        let mut r = RecentCalls::new(7 * 24 * h);
        assert!(r.add("k1", "+1", Some("c1"), 0));
        assert!(!r.add("k1", "+1", Some("c1"), 0), "ids are unique");
        r.add("k2", "+1", Some("c2"), h);
        r.add("k3", "+1", Some("c2"), 2 * h);
        r.add("k4", "+2", Some("c1"), 2 * h);
        r.add("k5", "+1", None, 2 * h);
        assert_eq!(r.ani_customers("+1", 0), 2);
        assert_eq!(r.ani_customers("+1", h + 1), 1);
        assert_eq!(r.customer_anis("c1", 0), 2);
        r.prune(7 * 24 * h + h + 1);
        assert!(!r.contains("k1") && !r.contains("k2") && r.contains("k3"));
        assert_eq!(r.ani_customers("+1", 0), 1);
        assert_eq!(r.customer_anis("c1", 0), 1);
        assert_eq!(r.len(), 3);
    }
}
