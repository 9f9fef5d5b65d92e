//! The versioned scoring policy (TOML, unknown keys rejected): prior, weights, windows,
//! thresholds and the action of each band, with every default explained; and how a
//! probability maps to a band and a band to an action, with the floor a claim sets.

use super::*;

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
    /// The number is not on file AND the carrier did not vouch for it (no attestation, or `C`).
    pub ani_not_on_file_unattested: f64,
    /// The caller withheld their number (anonymous, private, restricted).
    pub caller_id_withheld: f64,
    /// An international number calling about a customer whose numbers on file are all domestic.
    pub ani_international: f64,
    /// The calling line is non-fixed VoIP (from the platform's line-type lookup).
    pub ani_non_fixed_voip: f64,
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
    /// The notification the caller cites is ours, but the number to call, the link or the code
    /// they quote is not, the sender they saw imitates ours, or it was never delivered: the
    /// caller holds a forged copy. As strong as `claim_not_sent`.
    pub claim_contradicted: f64,
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
    /// Countersign verified the call's PASSporT itself: full attestation (`A`) from a trusted
    /// signer, for a number on file. Reassuring, not proof (A-signed fraud is documented): a
    /// modest negative weight, and the high-risk floor still holds.
    pub stir_verified_a: f64,
    /// The PASSporT is forged or broken: its signature does not verify, it is malformed, or its
    /// certificate is not a SHAKEN one. Carriers do not send those by accident.
    pub stir_forged: f64,
    /// Signed by a certificate that does not chain to the trust list, or has expired.
    pub stir_untrusted_signer: f64,
    /// Signed outside the `iat` window: a PASSporT replayed from another call.
    pub stir_stale: f64,
    /// Signed for another calling number than the one presented: a spoofed caller ID.
    pub stir_orig_mismatch: f64,
    /// Signed for another called number, with no `div` PASSporT: often a forwarding set-up
    /// that does not sign its diversion, so a small weight.
    pub stir_dest_mismatch: f64,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Low,
    Medium,
    High,
    Critical,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Low => "low",
            Band::Medium => "medium",
            Band::High => "high",
            Band::Critical => "critical",
        }
    }
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
            ani_not_on_file_unattested: 0.5,
            caller_id_withheld: 2.0,
            ani_international: 1.5,
            ani_non_fixed_voip: 1.5,
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
            claim_contradicted: 3.5,
            claim_confirmed: -0.7,
            surge: 0.5,
            claim_known_scam: 1.5,
            reported_smish: 1.2,
            stir_verified_a: -0.5,
            stir_forged: 3.0,
            stir_untrusted_signer: 2.0,
            stir_stale: 2.0,
            stir_orig_mismatch: 3.0,
            stir_dest_mismatch: 0.5,
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
    /// A policy file's text (TOML; unknown keys rejected), checked.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let p: Policy = toml::from_str(text).map_err(|e| e.to_string())?;
        p.check()?;
        Ok(p)
    }

    /// Internal consistency: rates in (0, 1), ordered thresholds, finite weights.
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

impl Policy {
    pub(super) fn action_of(&self, band: Band) -> Action {
        match band {
            Band::Low => self.actions.low,
            Band::Medium => self.actions.medium,
            Band::High => self.actions.high,
            Band::Critical => self.actions.critical,
        }
    }

    /// The lowest probability whose band's action is at least `least`, if any band's is.
    pub(super) fn floor_for(&self, least: Action) -> Option<(f64, Band)> {
        let t = &self.thresholds;
        [
            (0.0, Band::Low),
            (t.medium, Band::Medium),
            (t.high, Band::High),
            (t.critical, Band::Critical),
        ]
        .into_iter()
        .find(|(_, b)| self.action_of(*b) >= least)
    }
}

pub(super) fn band_of(prob: f64, t: &Thresholds) -> Band {
    if prob >= t.critical {
        Band::Critical
    } else if prob >= t.high {
        Band::High
    } else if prob >= t.medium {
        Band::Medium
    } else {
        Band::Low
    }
}
