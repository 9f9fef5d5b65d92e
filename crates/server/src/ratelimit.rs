//! Per-key request rate limits: one GCRA limiter per scope budget (ingest, agent, SMS, admin),
//! keyed by the API key's name, so each key has its own allowance and the budgets are
//! independent. Checked by the `Auth` extractor right after a key is recognised.

use std::num::NonZeroU32;

use axum::http::StatusCode;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::{Principal, Scope};
use crate::config::Limits;
use crate::problem::Problem;

/// The four budgets; `None` is unlimited.
pub struct RateLimits {
    ingest: Option<DefaultKeyedRateLimiter<String>>,
    agent: Option<DefaultKeyedRateLimiter<String>>,
    sms: Option<DefaultKeyedRateLimiter<String>>,
    admin: Option<DefaultKeyedRateLimiter<String>>,
}

fn limiter(per_sec: u32) -> Option<DefaultKeyedRateLimiter<String>> {
    NonZeroU32::new(per_sec).map(|n| RateLimiter::keyed(Quota::per_second(n)))
}

impl RateLimits {
    pub fn new(l: &Limits) -> Self {
        RateLimits {
            ingest: limiter(l.rate_ingest_per_sec),
            agent: limiter(l.rate_agent_per_sec),
            sms: limiter(l.rate_sms_per_sec),
            admin: limiter(l.rate_admin_per_sec),
        }
    }

    /// Charge one request to the key's budget (its first scope): `429 rate_limited` with the
    /// seconds until a retry can pass when the budget is spent.
    pub fn check(&self, p: &Principal) -> Result<(), Problem> {
        let budget = match p.scopes.first() {
            Some(Scope::Ingest) => &self.ingest,
            Some(Scope::Sms) => &self.sms,
            Some(Scope::Admin) => &self.admin,
            // The app backend shares the agents' budget (per key).
            Some(Scope::Agent) | Some(Scope::App) | None => &self.agent,
        };
        let Some(limiter) = budget else {
            return Ok(());
        };
        charge(
            limiter,
            &p.name,
            "this API key is over its request rate",
            "[limits]",
        )
    }
}

/// Customers' own checks, per customer (`[checks] per_customer_per_min`): one customer — or
/// someone holding their session in the app — cannot probe the ledger with a stream of texts.
pub struct PerCustomer(Option<DefaultKeyedRateLimiter<String>>);

impl PerCustomer {
    pub fn new(per_min: u32) -> Self {
        PerCustomer(NonZeroU32::new(per_min).map(|n| RateLimiter::keyed(Quota::per_minute(n))))
    }

    pub fn check(&self, customer_id: &str) -> Result<(), Problem> {
        match &self.0 {
            Some(l) => charge(
                l,
                customer_id,
                "this customer has made too many checks",
                "[checks] per_customer_per_min",
            ),
            None => Ok(()),
        }
    }
}

/// Charge one request to `key`: `429 rate_limited` with the seconds until a retry can pass.
fn charge(
    limiter: &DefaultKeyedRateLimiter<String>,
    key: &str,
    what: &str,
    setting: &str,
) -> Result<(), Problem> {
    limiter.check_key(&key.to_string()).map_err(|not_until| {
        let wait = not_until.wait_time_from(limiter.clock().now());
        let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        let mut problem = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("{what}; retry in {secs} s (configured under {setting})"),
        );
        problem.retry_after_secs = Some(secs);
        problem
    })
}
