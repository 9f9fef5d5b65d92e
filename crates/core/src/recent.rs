//! The window of recent calls behind the velocity signals: which customers a number called
//! about, which numbers called about a customer. Kept in memory beside the store so scoring needs
//! no durable write and no fsync; rebuilt from the store at start. Pure: time is passed in.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::Millis;

/// Recent calls within `window_ms`.
#[derive(Debug, Default)]
pub struct RecentCalls {
    window_ms: Millis,
    ids: HashSet<String>,
    order: VecDeque<(Millis, String, String, Option<String>)>,
    by_ani: HashMap<String, Vec<(Millis, Option<String>)>>,
    by_customer: HashMap<String, Vec<(Millis, String)>>,
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
            .push((at, customer.map(str::to_string)));
        if let Some(c) = customer {
            self.by_customer
                .entry(c.to_string())
                .or_default()
                .push((at, ani.to_string()));
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
                v.retain(|(t, _)| *t >= cut);
                if v.is_empty() {
                    self.by_ani.remove(&ani);
                }
            }
            if let Some(c) = customer {
                if let Some(v) = self.by_customer.get_mut(&c) {
                    v.retain(|(t, _)| *t >= cut);
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
