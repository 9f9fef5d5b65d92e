//! Inbound-call risk scoring: each signal is a pure function from what is known about a call to
//! a log-odds contribution; the score is the logistic of the prior plus the contributions, with
//! bands and actions from a versioned policy (TOML, unknown keys rejected). No IO, no clock.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::verify::Verdict;
use crate::Millis;

/// The scoring policy. Every default is explained beside it; `policy fit` rewrites the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Shown with every score, so an answer can be traced to the policy that produced it.
    pub version: String,
    /// Base rate of fraudulent calls. Default 1 in 600: the order of magnitude contact-centre
    /// fraud vendors report for inbound calls to financial institutions (Pindrop's Voice
    /// Intelligence and Security Report puts it between 1 in 500 and 1 in 1,000 for banks).
    pub prior_fraud_rate: f64,
    pub weights: Weights,
    pub windows: Windows,
    pub thresholds: Thresholds,
    pub actions: Actions,
    /// Intents that move money or take over the account.
    pub high_risk_intents: Vec<String>,
}

/// Log-odds contributions. `+1.0` multiplies the odds of fraud by e ≈ 2.7.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// The caller's number is not among the customer's numbers on file. Common for genuine
    /// callers too (work phones, a spouse's phone), so a moderate weight.
    pub ani_not_on_file: f64,
    /// The caller's number IS on file but the carrier did not attest it (no STIR/SHAKEN `A`):
    /// the signature of the customer's own number being spoofed. Strong.
    pub ani_on_file_unattested: f64,
    /// The carrier reports failed verification (`TN-Validation-Failed`).
    pub verstat_failed: f64,
    /// Per additional distinct customer the same ANI called about in 24 h (capped at 5).
    pub ani_velocity_24h: f64,
    /// Per additional distinct customer in 7 days (capped at 10), beyond the 24 h ones.
    pub ani_velocity_7d: f64,
    /// Per additional distinct ANI calling about this customer in 24 h (capped at 5).
    pub customer_velocity_24h: f64,
    /// A SIM swap within the window: the classic precursor of account takeover.
    pub sim_swap: f64,
    /// Phone or e-mail changed within the window.
    pub contact_changed: f64,
    /// Password reset, new device or payee added within the window.
    pub account_change: f64,
    /// The caller asks for a high-risk action.
    pub high_risk_intent: f64,
    /// The caller cites a notification we never sent (fresh ledger): the article's signal.
    pub claim_not_sent: f64,
    /// … and cited it within `early_claim_secs` of the call starting (rehearsed).
    pub claim_not_sent_early: f64,
    /// A notification of that kind exists but a cue contradicts it.
    pub claim_partial: f64,
    /// The cited notification is genuine: modestly reassuring (knowing it proves little).
    pub claim_confirmed: f64,
    /// Extra weight on `not_sent` per unit of surge (`not_sent` rate over its usual level, − 1),
    /// capped at 3 units.
    pub surge: f64,
    /// The cited text matches a smishing campaign customers reported (`known_scam`): the
    /// strongest signal there is, added on top of `claim_not_sent`.
    pub claim_known_scam: f64,
    /// The customer reported a smishing text within the account-event window: the attacker's
    /// opening move, so a call about this customer is likelier to follow it.
    pub reported_smish: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Windows {
    /// How recent an account event must be to count, in days.
    pub account_event_days: u32,
    /// "Early in the call", in seconds.
    pub early_claim_secs: u32,
    /// How far back an SMS recipient in the ledger counts as one of the customer's numbers
    /// (learned, not on file), in days.
    pub learned_number_days: u32,
}

/// Probability thresholds of the bands (score = probability × 100).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    pub medium: f64,
    pub high: f64,
    pub critical: f64,
    /// A high-risk intent never scores below this probability, whatever a claim says.
    pub high_risk_floor: f64,
    /// The `not_sent` surge is raised as an alert at this ratio of the last hour's rate to its
    /// usual hourly level…
    pub surge_alert_ratio: f64,
    /// …once the last hour holds at least this many `not_sent` claims.
    pub surge_alert_min: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Actions {
    pub low: Action,
    pub medium: Action,
    pub high: Action,
    pub critical: Action,
}

/// What the agent should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Proceed,
    StepUp,
    /// End the call and call back on the number on file.
    Callback,
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Low,
    Medium,
    High,
    Critical,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            version: "default-2026-11".into(),
            prior_fraud_rate: 1.0 / 600.0,
            weights: Weights::default(),
            windows: Windows::default(),
            thresholds: Thresholds::default(),
            actions: Actions::default(),
            high_risk_intents: [
                "change_phone",
                "change_email",
                "reset_password",
                "add_payee",
                "wire",
                "card_replace",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        }
    }
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            ani_not_on_file: 1.0,
            ani_on_file_unattested: 2.5,
            verstat_failed: 2.0,
            ani_velocity_24h: 1.2,
            ani_velocity_7d: 0.4,
            customer_velocity_24h: 0.7,
            sim_swap: 2.5,
            contact_changed: 1.5,
            account_change: 0.8,
            high_risk_intent: 1.0,
            claim_not_sent: 3.5,
            claim_not_sent_early: 1.0,
            claim_partial: 1.5,
            claim_confirmed: -0.7,
            surge: 0.5,
            claim_known_scam: 1.5,
            reported_smish: 1.2,
        }
    }
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            account_event_days: 7,
            early_claim_secs: 30,
            learned_number_days: 30,
        }
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            medium: 0.01,
            high: 0.10,
            critical: 0.50,
            high_risk_floor: 0.01,
            surge_alert_ratio: 3.0,
            surge_alert_min: 5,
        }
    }
}

impl Default for Actions {
    fn default() -> Self {
        Actions {
            low: Action::Proceed,
            medium: Action::StepUp,
            high: Action::Callback,
            critical: Action::Block,
        }
    }
}

impl Policy {
    /// Internal consistency: rates in (0, 1), ordered thresholds, finite weights. (The policy
    /// file's TOML is parsed by the caller; unknown keys are rejected by `deny_unknown_fields`.)
    pub fn check(&self) -> Result<(), String> {
        let rate_ok = |x: f64| x > 0.0 && x < 1.0;
        if !rate_ok(self.prior_fraud_rate) {
            return Err("prior_fraud_rate must be between 0 and 1".into());
        }
        let t = &self.thresholds;
        if !(rate_ok(t.medium) && t.medium < t.high && t.high < t.critical && t.critical < 1.0) {
            return Err("thresholds must satisfy 0 < medium < high < critical < 1".into());
        }
        if !(0.0..1.0).contains(&t.high_risk_floor) {
            return Err("thresholds.high_risk_floor must be in [0, 1)".into());
        }
        if !(t.surge_alert_ratio.is_finite() && t.surge_alert_ratio > 1.0) {
            return Err("thresholds.surge_alert_ratio must be a number above 1".into());
        }
        let w = serde_json::to_value(&self.weights).map_err(|e| e.to_string())?;
        if let Some(obj) = w.as_object() {
            for (k, v) in obj {
                if !v.as_f64().is_some_and(f64::is_finite) {
                    return Err(format!("weights.{k} must be a finite number"));
                }
            }
        }
        if self.version.trim().is_empty() {
            return Err("version must not be empty".into());
        }
        Ok(())
    }
}

/// The STIR/SHAKEN result as the carrier reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attestation {
    A,
    B,
    C,
    /// `TN-Validation-Failed`.
    Failed,
    /// No verification (`No-TN-Validation`, or nothing sent).
    None,
}

/// Read `verstat` (e.g. `TN-Validation-Passed-A`) and/or an attestation letter.
pub fn parse_attestation(verstat: Option<&str>, attestation: Option<&str>) -> Attestation {
    let v = verstat.unwrap_or("").to_ascii_lowercase();
    if v.contains("failed") {
        return Attestation::Failed;
    }
    let letter = attestation
        .map(|a| a.trim().to_ascii_uppercase())
        .or_else(|| {
            v.strip_prefix("tn-validation-passed")
                .map(|r| r.trim_start_matches('-').to_ascii_uppercase())
        });
    match letter.as_deref() {
        Some("A") => Attestation::A,
        Some("B") => Attestation::B,
        Some("C") => Attestation::C,
        Some("") if v.starts_with("tn-validation-passed") => Attestation::A,
        _ => Attestation::None,
    }
}

/// An account event that matters to a later call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountEventKind {
    SimSwap,
    PhoneChanged,
    EmailChanged,
    PasswordReset,
    NewDevice,
    PayeeAdded,
}

/// Everything the signals look at, gathered by the server.
#[derive(Debug, Clone, Default)]
pub struct CallFacts {
    /// `None` when the customer (or their numbers) is unknown.
    pub ani_on_file: Option<bool>,
    pub attestation: Option<Attestation>,
    /// Distinct customers the ANI called about, including this one.
    pub ani_customers_24h: u32,
    pub ani_customers_7d: u32,
    /// Distinct ANIs that called about this customer, including this one.
    pub customer_anis_24h: u32,
    /// Account events with their time.
    pub events: Vec<(AccountEventKind, Millis)>,
    pub intent: Option<String>,
    /// The latest claim's verdict and how many seconds into the call it was cited.
    pub claim: Option<(Verdict, i64)>,
    /// `not_sent` verdicts in the last hour over their usual hourly level (1.0 = usual).
    pub not_sent_surge: f64,
    /// The surge is past the policy's alert level (see [`Surge`]).
    pub surge_active: bool,
    /// Smishing reports the customer made within the account-event window.
    pub reported_smish: u32,
}

/// One reason, with its log-odds contribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Reason {
    pub signal: String,
    /// Log-odds added: the signal's weight × `value`.
    pub contribution: f64,
    /// The signal's magnitude (1 for a yes/no signal, a count for velocities): what `policy fit`
    /// learns a weight for.
    pub value: f64,
    pub detail: String,
}

/// A score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Score {
    /// 0–100: the probability of fraud × 100.
    pub score: f64,
    pub band: Band,
    pub action: Action,
    /// Sorted by contribution, largest first.
    pub reasons: Vec<Reason>,
    pub policy_version: String,
    /// Alerts beyond this call: `not_sent_surge` while forged-text claims run well above their
    /// usual level across all customers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<String>,
}

/// The rate of `not_sent` claims: the last hour against the usual hourly level over the week
/// before it. `ratio` is smoothed by one on each side so a quiet system does not divide by zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Surge {
    pub last_hour: u32,
    pub usual_per_hour: f64,
    pub ratio: f64,
    /// `ratio` ≥ `thresholds.surge_alert_ratio` with at least `surge_alert_min` claims.
    pub active: bool,
}

impl Surge {
    /// From the count in the last hour and the count in the 168 hours before it.
    pub fn new(last_hour: u32, week_before: u32, t: &Thresholds) -> Surge {
        let usual = f64::from(week_before) / 168.0;
        let ratio = (f64::from(last_hour) + 1.0) / (usual + 1.0);
        Surge {
            last_hour,
            usual_per_hour: (usual * 100.0).round() / 100.0,
            ratio: (ratio * 100.0).round() / 100.0,
            active: ratio >= t.surge_alert_ratio && last_hour >= t.surge_alert_min,
        }
    }
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Score a call at `now`.
pub fn score(f: &CallFacts, p: &Policy, now: Millis) -> Score {
    let w = &p.weights;
    let mut reasons: Vec<Reason> = Vec::new();
    let mut add = |signal: &'static str, weight: f64, value: f64, detail: String| {
        let contribution = weight * value;
        if value != 0.0 {
            reasons.push(Reason {
                signal: signal.to_string(),
                contribution: (contribution * 100.0).round() / 100.0,
                value,
                detail,
            });
        }
    };
    let attested_a = matches!(f.attestation, Some(Attestation::A));
    match f.ani_on_file {
        Some(false) => add(
            "ani_not_on_file",
            w.ani_not_on_file,
            1.0,
            "the caller's number is not one we have on file".into(),
        ),
        Some(true) if !attested_a => add(
            "ani_on_file_unattested",
            w.ani_on_file_unattested,
            1.0,
            "the caller's number is on file but the carrier did not attest it: it may be spoofed"
                .into(),
        ),
        _ => {}
    }
    if f.attestation == Some(Attestation::Failed) {
        add(
            "verstat_failed",
            w.verstat_failed,
            1.0,
            "the carrier's caller-ID verification failed".into(),
        );
    }
    let extra24 = f.ani_customers_24h.saturating_sub(1).min(5);
    if extra24 > 0 {
        add(
            "ani_velocity",
            w.ani_velocity_24h,
            extra24 as f64,
            format!(
                "this number called about {} customers in 24 h",
                f.ani_customers_24h
            ),
        );
    }
    let extra7 = f
        .ani_customers_7d
        .saturating_sub(f.ani_customers_24h.max(1))
        .min(10);
    if extra7 > 0 {
        add(
            "ani_velocity_7d",
            w.ani_velocity_7d,
            extra7 as f64,
            format!(
                "this number called about {} customers in 7 days",
                f.ani_customers_7d
            ),
        );
    }
    let extra_anis = f.customer_anis_24h.saturating_sub(1).min(5);
    if extra_anis > 0 {
        add(
            "customer_velocity",
            w.customer_velocity_24h,
            extra_anis as f64,
            format!(
                "{} different numbers called about this customer in 24 h",
                f.customer_anis_24h
            ),
        );
    }
    let window = p.windows.account_event_days as Millis * 86_400_000;
    let mut seen = Vec::new();
    for (kind, at) in &f.events {
        if now - at > window || *at > now || seen.contains(kind) {
            continue;
        }
        seen.push(*kind);
        let (signal, weight, what) = match kind {
            AccountEventKind::SimSwap => ("sim_swap", w.sim_swap, "SIM swapped"),
            AccountEventKind::PhoneChanged => {
                ("contact_changed", w.contact_changed, "phone number changed")
            }
            AccountEventKind::EmailChanged => {
                ("contact_changed", w.contact_changed, "e-mail changed")
            }
            AccountEventKind::PasswordReset => {
                ("account_change", w.account_change, "password reset")
            }
            AccountEventKind::NewDevice => ("account_change", w.account_change, "new device"),
            AccountEventKind::PayeeAdded => ("account_change", w.account_change, "payee added"),
        };
        add(
            signal,
            weight,
            1.0,
            format!("{what} {} h ago", (now - at) / 3_600_000),
        );
    }
    let high_risk = f
        .intent
        .as_ref()
        .is_some_and(|i| p.high_risk_intents.iter().any(|h| h == i));
    if high_risk {
        add(
            "high_risk_intent",
            w.high_risk_intent,
            1.0,
            format!(
                "the caller asks to {}",
                f.intent.as_deref().unwrap_or("").replace('_', " ")
            ),
        );
    }
    if f.reported_smish > 0 {
        add(
            "reported_smish",
            w.reported_smish,
            1.0,
            format!(
                "the customer reported {} smishing text{} in the last {} days",
                f.reported_smish,
                if f.reported_smish == 1 { "" } else { "s" },
                p.windows.account_event_days
            ),
        );
    }
    if f.claim.is_some_and(|(v, _)| v == Verdict::KnownScam) {
        add(
            "claim_known_scam",
            w.claim_known_scam,
            1.0,
            "the text the caller cites matches a smishing campaign customers reported".into(),
        );
    }
    if let Some((verdict, secs)) = f.claim {
        match verdict {
            Verdict::NotSent | Verdict::KnownScam => {
                let surge = (f.not_sent_surge - 1.0).clamp(0.0, 3.0);
                add(
                    "claim_not_sent",
                    w.claim_not_sent,
                    1.0,
                    "the caller cites a notification we never sent".into(),
                );
                add(
                    "not_sent_surge",
                    w.surge,
                    (surge * 100.0).round() / 100.0,
                    format!(
                        "forged-text claims are running at {:.1}× their usual rate",
                        f.not_sent_surge
                    ),
                );
                if secs >= 0 && secs <= p.windows.early_claim_secs as i64 {
                    add(
                        "claim_not_sent_early",
                        w.claim_not_sent_early,
                        1.0,
                        format!("…and cited it {secs} s into the call, with its details ready"),
                    );
                }
            }
            Verdict::Partial => add(
                "claim_partial",
                w.claim_partial,
                1.0,
                "the notification the caller cites does not match ours".into(),
            ),
            Verdict::Confirmed => add(
                "claim_confirmed",
                w.claim_confirmed,
                1.0,
                "the notification the caller cites is genuine (knowing it proves little)".into(),
            ),
            Verdict::CannotConfirm => {}
        }
    }
    let total: f64 = reasons.iter().map(|r| r.contribution).sum();
    let mut prob = sigmoid(logit(p.prior_fraud_rate) + total);
    if high_risk && prob < p.thresholds.high_risk_floor {
        prob = p.thresholds.high_risk_floor;
    }
    let t = &p.thresholds;
    let band = if prob >= t.critical {
        Band::Critical
    } else if prob >= t.high {
        Band::High
    } else if prob >= t.medium {
        Band::Medium
    } else {
        Band::Low
    };
    let action = match band {
        Band::Low => p.actions.low,
        Band::Medium => p.actions.medium,
        Band::High => p.actions.high,
        Band::Critical => p.actions.critical,
    };
    reasons.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    Score {
        score: (prob * 10_000.0).round() / 100.0,
        band,
        action,
        reasons,
        policy_version: p.version.clone(),
        alerts: if f.surge_active {
            vec!["not_sent_surge".to_string()]
        } else {
            Vec::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_780_500_000_000;

    #[test]
    fn attestation_parsing() {
        for (verstat, att, want) in [
            (Some("TN-Validation-Passed-A"), None, Attestation::A),
            (Some("TN-Validation-Passed-B"), None, Attestation::B),
            (Some("TN-Validation-Failed"), None, Attestation::Failed),
            (Some("No-TN-Validation"), None, Attestation::None),
            (None, Some("c"), Attestation::C),
            (None, None, Attestation::None),
        ] {
            assert_eq!(parse_attestation(verstat, att), want, "{verstat:?} {att:?}");
        }
    }

    #[test]
    fn signal_table() {
        let p = Policy::default();
        let base = CallFacts {
            ani_on_file: Some(true),
            attestation: Some(Attestation::A),
            ani_customers_24h: 1,
            ani_customers_7d: 1,
            customer_anis_24h: 1,
            intent: Some("balance".into()),
            not_sent_surge: 1.0,
            ..Default::default()
        };
        let genuine = score(&base, &p, NOW);
        assert_eq!((genuine.band, genuine.action), (Band::Low, Action::Proceed));
        assert!(genuine.reasons.is_empty());

        // The paired attack: unknown number, forged text cited in the first seconds, wire.
        let attack = CallFacts {
            ani_on_file: Some(false),
            attestation: Some(Attestation::B),
            intent: Some("wire".into()),
            claim: Some((Verdict::NotSent, 12)),
            ..base.clone()
        };
        let s = score(&attack, &p, NOW);
        assert!(s.band >= Band::High, "{s:?}");
        assert_eq!(s.reasons[0].signal, "claim_not_sent");
        assert!(s.reasons.iter().any(|r| r.signal == "claim_not_sent_early"));
        // The same claim late in the call weighs less.
        let late = score(
            &CallFacts {
                claim: Some((Verdict::NotSent, 400)),
                ..attack.clone()
            },
            &p,
            NOW,
        );
        assert!(late.score < s.score);

        // Own number spoofed without attestation, plus a SIM swap yesterday.
        let spoof = CallFacts {
            attestation: Some(Attestation::None),
            events: vec![(AccountEventKind::SimSwap, NOW - 20 * 3_600_000)],
            ..base.clone()
        };
        let s = score(&spoof, &p, NOW);
        assert!(s
            .reasons
            .iter()
            .any(|r| r.signal == "ani_on_file_unattested"));
        assert!(s.reasons.iter().any(|r| r.signal == "sim_swap"));
        // An old event is outside the window.
        let old = CallFacts {
            events: vec![(AccountEventKind::SimSwap, NOW - 30 * 86_400_000)],
            ..base.clone()
        };
        assert!(score(&old, &p, NOW).reasons.is_empty());

        // One ANI, ten customers.
        let s = score(
            &CallFacts {
                ani_customers_24h: 10,
                ani_customers_7d: 10,
                ..base.clone()
            },
            &p,
            NOW,
        );
        assert!(s.band >= Band::Medium, "{s:?}");

        // A genuine claim lowers the score, never below the floor for a high-risk intent.
        let s = score(
            &CallFacts {
                intent: Some("wire".into()),
                claim: Some((Verdict::Confirmed, 60)),
                ..base.clone()
            },
            &p,
            NOW,
        );
        assert!(
            s.score >= p.thresholds.high_risk_floor * 100.0 - 1e-9,
            "{s:?}"
        );
        // cannot_confirm is neutral.
        let neutral = score(
            &CallFacts {
                claim: Some((Verdict::CannotConfirm, 5)),
                ..base.clone()
            },
            &p,
            NOW,
        );
        assert_eq!(neutral.score, genuine.score);
        // A surge raises the weight of not_sent.
        let calm = score(
            &CallFacts {
                claim: Some((Verdict::NotSent, 200)),
                ..base.clone()
            },
            &p,
            NOW,
        );
        let surging = score(
            &CallFacts {
                claim: Some((Verdict::NotSent, 200)),
                not_sent_surge: 4.0,
                ..base.clone()
            },
            &p,
            NOW,
        );
        assert!(surging.score > calm.score);
    }

    #[test]
    fn policy_checks() {
        let mut p = Policy::default();
        assert!(p.check().is_ok());
        p.thresholds.high = 0.001;
        assert!(p.check().unwrap_err().contains("thresholds"));
        let p = Policy {
            prior_fraud_rate: 2.0,
            ..Default::default()
        };
        assert!(p.check().is_err());
    }
}
