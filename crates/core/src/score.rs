//! Inbound-call risk scoring: each signal is a pure function from what is known about a call to
//! a log-odds contribution; the score is the logistic of the prior plus the contributions, with
//! bands and actions from a versioned policy (TOML, unknown keys rejected). No IO, no clock.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::guidance::Action;
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

/// The claim cited in the call, as the score sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CitedClaim {
    pub verdict: Verdict,
    /// How many seconds into the call it was cited.
    pub seconds_into_call: i64,
    /// The least action the verification calls for ([`crate::verify::Verification::action`]):
    /// the call's action is never less.
    pub action: Action,
}

/// Everything the signals look at, gathered by the server.
#[derive(Debug, Clone, Default)]
pub struct CallFacts {
    /// `None` when the customer (or their numbers) is unknown, or the number is withheld.
    pub ani_on_file: Option<bool>,
    pub attestation: Option<Attestation>,
    /// The caller withheld their number ([`caller_id_withheld`]).
    pub withheld: bool,
    /// An international number for a customer whose numbers on file are all domestic
    /// ([`international_caller`]).
    pub international: bool,
    /// The platform's line-type lookup says non-fixed VoIP ([`non_fixed_voip`]).
    pub non_fixed_voip: bool,
    /// Distinct customers the ANI called about, including this one.
    pub ani_customers_24h: u32,
    pub ani_customers_7d: u32,
    /// Distinct ANIs that called about this customer, including this one.
    pub customer_anis_24h: u32,
    /// Account events with their time.
    pub events: Vec<(AccountEventKind, Millis)>,
    pub intent: Option<String>,
    /// The latest claim's verdict, when it was cited, and the action it calls for.
    pub claim: Option<CitedClaim>,
    /// `not_sent` verdicts in the last hour over their usual hourly level (1.0 = usual).
    pub not_sent_surge: f64,
    /// The surge is past the policy's alert level (see [`Surge`]).
    pub surge_active: bool,
    /// Smishing reports the customer made within the account-event window.
    pub reported_smish: u32,
}

/// Caller-ID values that mean "withheld": the words platforms and carriers pass, and the
/// keypad spellings Twilio uses for them (+266696687 is ANONYMOUS, +7378742833 RESTRICTED,
/// +86282452253 UNAVAILABLE, +2562533 BLOCKED).
pub fn caller_id_withheld(ani: &str) -> bool {
    let a = ani.trim().to_ascii_lowercase();
    let digits: String = a.chars().filter(char::is_ascii_digit).collect();
    a.is_empty()
        || matches!(
            a.as_str(),
            "anonymous"
                | "private"
                | "restricted"
                | "unavailable"
                | "unknown"
                | "withheld"
                | "blocked"
                | "no caller id"
                | "no-caller-id"
                | "p"
                | "o"
        )
        || (a.chars().all(|c| c.is_ascii_digit() || c == '+')
            && matches!(
                digits.as_str(),
                "266696687" | "7378742833" | "86282452253" | "2562533"
            ))
}

/// An international caller for a domestic customer: the caller's country calling code is not
/// `home_code`, and every number on file (at least one) is domestic. Numbers are E.164; one that
/// does not parse counts as neither.
pub fn international_caller<'a>(
    ani: &str,
    on_file: impl IntoIterator<Item = &'a str>,
    home_code: u16,
) -> bool {
    let code = |n: &str| phonenumber::parse(None, n).ok().map(|p| p.code().value());
    let Some(caller) = code(ani) else {
        return false;
    };
    if caller == home_code {
        return false;
    }
    let mut any = false;
    for n in on_file {
        any = true;
        if code(n) != Some(home_code) {
            return false;
        }
    }
    any
}

/// The platform's line type says non-fixed VoIP (`nonFixedVoip`, `non-fixed-voip`,
/// `non_fixed_voip`, …). Fixed VoIP is a real address and is not counted.
pub fn non_fixed_voip(line_type: &str) -> bool {
    let t: String = line_type
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    t == "nonfixedvoip"
}

/// One signal the score can give: its name in a score's reasons and the policy weight it uses.
/// `policy fit` learns weights from exactly this table, so the two cannot list different signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    pub name: &'static str,
    /// The field of [`Weights`] (and key under `[weights]` in the policy file).
    pub weight: &'static str,
}

const fn sig(name: &'static str, weight: &'static str) -> Signal {
    Signal { name, weight }
}

/// Every signal, in the order the score considers them.
pub const SIGNALS: &[Signal] = &[
    sig("ani_not_on_file", "ani_not_on_file"),
    sig("ani_on_file_unattested", "ani_on_file_unattested"),
    sig("ani_not_on_file_unattested", "ani_not_on_file_unattested"),
    sig("caller_id_withheld", "caller_id_withheld"),
    sig("ani_international", "ani_international"),
    sig("ani_non_fixed_voip", "ani_non_fixed_voip"),
    sig("verstat_failed", "verstat_failed"),
    sig("ani_velocity", "ani_velocity_24h"),
    sig("ani_velocity_7d", "ani_velocity_7d"),
    sig("customer_velocity", "customer_velocity_24h"),
    sig("sim_swap", "sim_swap"),
    sig("contact_changed", "contact_changed"),
    sig("account_change", "account_change"),
    sig("high_risk_intent", "high_risk_intent"),
    sig("reported_smish", "reported_smish"),
    sig("claim_known_scam", "claim_known_scam"),
    sig("claim_not_sent", "claim_not_sent"),
    sig("not_sent_surge", "surge"),
    sig("claim_not_sent_early", "claim_not_sent_early"),
    sig("claim_contradicted", "claim_contradicted"),
    sig("claim_partial", "claim_partial"),
    sig("claim_confirmed", "claim_confirmed"),
];

impl Weights {
    /// The weight named `key` (a field name), if there is one.
    pub fn get(&self, key: &str) -> Option<f64> {
        Some(match key {
            "ani_not_on_file" => self.ani_not_on_file,
            "ani_on_file_unattested" => self.ani_on_file_unattested,
            "ani_not_on_file_unattested" => self.ani_not_on_file_unattested,
            "caller_id_withheld" => self.caller_id_withheld,
            "ani_international" => self.ani_international,
            "ani_non_fixed_voip" => self.ani_non_fixed_voip,
            "verstat_failed" => self.verstat_failed,
            "ani_velocity_24h" => self.ani_velocity_24h,
            "ani_velocity_7d" => self.ani_velocity_7d,
            "customer_velocity_24h" => self.customer_velocity_24h,
            "sim_swap" => self.sim_swap,
            "contact_changed" => self.contact_changed,
            "account_change" => self.account_change,
            "high_risk_intent" => self.high_risk_intent,
            "claim_not_sent" => self.claim_not_sent,
            "claim_not_sent_early" => self.claim_not_sent_early,
            "claim_partial" => self.claim_partial,
            "claim_contradicted" => self.claim_contradicted,
            "claim_confirmed" => self.claim_confirmed,
            "surge" => self.surge,
            "claim_known_scam" => self.claim_known_scam,
            "reported_smish" => self.reported_smish,
            _ => return None,
        })
    }
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
    /// The instruction for `action`, in the words the agent reads.
    #[serde(default)]
    pub guidance: String,
    /// Sorted by contribution, largest first.
    pub reasons: Vec<Reason>,
    /// Set when the cited claim raised the band above what the reasons add up to: a claim that
    /// calls for ending the call never scores below the band whose action does that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<String>,
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

/// The reasons for a call, each with its contribution (unsorted, zero-valued ones left out).
fn reasons(f: &CallFacts, p: &Policy, now: Millis) -> Vec<Reason> {
    let mut out: Vec<Reason> = Vec::new();
    let mut add = |signal: &'static str, value: f64, detail: String| {
        if value == 0.0 {
            return;
        }
        let weight = SIGNALS
            .iter()
            .find(|s| s.name == signal)
            .and_then(|s| p.weights.get(s.weight))
            .unwrap_or(0.0);
        out.push(Reason {
            signal: signal.to_string(),
            contribution: (weight * value * 100.0).round() / 100.0,
            value,
            detail,
        });
    };
    caller_id_reasons(f, &mut add);
    velocity_reasons(f, &mut add);
    event_reasons(f, p, now, &mut add);
    if high_risk(f, p) {
        add(
            "high_risk_intent",
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
            1.0,
            format!(
                "the customer reported {} smishing text{} in the last {} days",
                f.reported_smish,
                if f.reported_smish == 1 { "" } else { "s" },
                p.windows.account_event_days
            ),
        );
    }
    if let Some(c) = f.claim {
        claim_reasons(c, f, p, &mut add);
    }
    out
}

type Add<'a> = dyn FnMut(&'static str, f64, String) + 'a;

fn caller_id_reasons(f: &CallFacts, add: &mut Add<'_>) {
    let attested_a = matches!(f.attestation, Some(Attestation::A));
    let vouched = matches!(f.attestation, Some(Attestation::A | Attestation::B));
    if f.withheld {
        add(
            "caller_id_withheld",
            1.0,
            "the caller withheld their number".into(),
        );
    }
    match f.ani_on_file {
        Some(false) => {
            add(
                "ani_not_on_file",
                1.0,
                "the caller's number is not one we have on file".into(),
            );
            if !vouched {
                add(
                    "ani_not_on_file_unattested",
                    1.0,
                    "…and no carrier vouched for it (no STIR/SHAKEN attestation, or C)".into(),
                );
            }
        }
        Some(true) if !attested_a => add(
            "ani_on_file_unattested",
            1.0,
            "the caller's number is on file but the carrier did not attest it: it may be spoofed"
                .into(),
        ),
        _ => {}
    }
    if f.international {
        add(
            "ani_international",
            1.0,
            "an international number, for a customer whose numbers are all domestic".into(),
        );
    }
    if f.non_fixed_voip {
        add(
            "ani_non_fixed_voip",
            1.0,
            "the calling line is non-fixed VoIP".into(),
        );
    }
    if f.attestation == Some(Attestation::Failed) {
        add(
            "verstat_failed",
            1.0,
            "the carrier's caller-ID verification failed".into(),
        );
    }
}

fn velocity_reasons(f: &CallFacts, add: &mut Add<'_>) {
    let extra24 = f.ani_customers_24h.saturating_sub(1).min(5);
    if extra24 > 0 {
        add(
            "ani_velocity",
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
            extra_anis as f64,
            format!(
                "{} different numbers called about this customer in 24 h",
                f.customer_anis_24h
            ),
        );
    }
}

fn event_reasons(f: &CallFacts, p: &Policy, now: Millis, add: &mut Add<'_>) {
    let window = p.windows.account_event_days as Millis * 86_400_000;
    let mut seen = Vec::new();
    for (kind, at) in &f.events {
        if now - at > window || *at > now || seen.contains(kind) {
            continue;
        }
        seen.push(*kind);
        let (signal, what) = match kind {
            AccountEventKind::SimSwap => ("sim_swap", "SIM swapped"),
            AccountEventKind::PhoneChanged => ("contact_changed", "phone number changed"),
            AccountEventKind::EmailChanged => ("contact_changed", "e-mail changed"),
            AccountEventKind::PasswordReset => ("account_change", "password reset"),
            AccountEventKind::NewDevice => ("account_change", "new device"),
            AccountEventKind::PayeeAdded => ("account_change", "payee added"),
        };
        add(
            signal,
            1.0,
            format!("{what} {} h ago", (now - at) / 3_600_000),
        );
    }
}

fn high_risk(f: &CallFacts, p: &Policy) -> bool {
    f.intent
        .as_ref()
        .is_some_and(|i| p.high_risk_intents.iter().any(|h| h == i))
}

fn claim_reasons(c: CitedClaim, f: &CallFacts, p: &Policy, add: &mut Add<'_>) {
    match c.verdict {
        Verdict::NotSent | Verdict::KnownScam => {
            if c.verdict == Verdict::KnownScam {
                add(
                    "claim_known_scam",
                    1.0,
                    "the text the caller cites matches a smishing campaign customers reported"
                        .into(),
                );
            }
            let surge = (f.not_sent_surge - 1.0).clamp(0.0, 3.0);
            add(
                "claim_not_sent",
                1.0,
                "the caller cites a notification we never sent".into(),
            );
            add(
                "not_sent_surge",
                (surge * 100.0).round() / 100.0,
                format!(
                    "forged-text claims are running at {:.1}× their usual rate",
                    f.not_sent_surge
                ),
            );
            let secs = c.seconds_into_call;
            if secs >= 0 && secs <= p.windows.early_claim_secs as i64 {
                add(
                    "claim_not_sent_early",
                    1.0,
                    format!("…and cited it {secs} s into the call, with its details ready"),
                );
            }
        }
        Verdict::Partial if c.action >= Action::Callback => add(
            "claim_contradicted",
            1.0,
            "the caller cites our notification with a number, link or code that is not ours, a lookalike sender, or one never delivered: a forged copy".into(),
        ),
        Verdict::Partial => add(
            "claim_partial",
            1.0,
            "the notification the caller cites does not match ours".into(),
        ),
        Verdict::Confirmed => add(
            "claim_confirmed",
            1.0,
            "the notification the caller cites is genuine (knowing it proves little)".into(),
        ),
        Verdict::CannotConfirm => {}
    }
}

fn band_of(prob: f64, t: &Thresholds) -> Band {
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

impl Policy {
    fn action_of(&self, band: Band) -> Action {
        match band {
            Band::Low => self.actions.low,
            Band::Medium => self.actions.medium,
            Band::High => self.actions.high,
            Band::Critical => self.actions.critical,
        }
    }

    /// The lowest probability whose band's action is at least `least`, if any band's is.
    fn floor_for(&self, least: Action) -> Option<(f64, Band)> {
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

/// Score a call at `now`. The action is never less than the cited claim's least action
/// ([`CitedClaim::action`]): the band is raised to the first one whose action is at least that.
pub fn score(f: &CallFacts, p: &Policy, now: Millis) -> Score {
    let mut reasons = reasons(f, p, now);
    let total: f64 = reasons.iter().map(|r| r.contribution).sum();
    let mut prob = sigmoid(logit(p.prior_fraud_rate) + total);
    if high_risk(f, p) && prob < p.thresholds.high_risk_floor {
        prob = p.thresholds.high_risk_floor;
    }
    let least = f.claim.map_or(Action::Proceed, |c| c.action);
    let mut floor = None;
    if let Some((at_least, band)) = p.floor_for(least) {
        if prob < at_least {
            prob = at_least;
            floor = Some(format!(
                "raised to {}: the claim the caller cites calls for {}",
                band.as_str(),
                least.as_str()
            ));
        }
    }
    let band = band_of(prob, &p.thresholds);
    // Also when a custom policy maps no band to `least`.
    let action = p.action_of(band).max(least);
    reasons.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    Score {
        score: (prob * 10_000.0).round() / 100.0,
        band,
        action,
        guidance: action.instruction().to_string(),
        reasons,
        floor,
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

    /// A claim as the verification would hand it over: its verdict's usual least action.
    fn cited(verdict: Verdict, secs: i64) -> CitedClaim {
        CitedClaim {
            verdict,
            seconds_into_call: secs,
            action: match verdict {
                Verdict::NotSent | Verdict::KnownScam => Action::Callback,
                Verdict::Partial => Action::StepUp,
                Verdict::Confirmed | Verdict::CannotConfirm => Action::Proceed,
            },
        }
    }

    #[test]
    fn every_weight_has_one_signal_and_every_signal_a_weight() {
        let w = Weights::default();
        let fields = serde_json::to_value(&w).unwrap();
        let fields = fields.as_object().unwrap();
        for s in SIGNALS {
            assert!(
                w.get(s.weight).is_some(),
                "{} has no weight {}",
                s.name,
                s.weight
            );
            assert_eq!(fields[s.weight].as_f64(), w.get(s.weight), "{}", s.weight);
        }
        for k in fields.keys() {
            assert_eq!(
                SIGNALS.iter().filter(|s| s.weight == k).count(),
                1,
                "weight {k} must feed exactly one signal"
            );
        }
        let names: std::collections::HashSet<_> = SIGNALS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), SIGNALS.len(), "signal names are unique");
    }

    #[test]
    fn every_signal_the_score_gives_is_in_the_table() {
        let p = Policy::default();
        let everything = CallFacts {
            ani_on_file: Some(false),
            attestation: Some(Attestation::Failed),
            withheld: true,
            international: true,
            non_fixed_voip: true,
            ani_customers_24h: 3,
            ani_customers_7d: 6,
            customer_anis_24h: 3,
            events: vec![
                (AccountEventKind::SimSwap, NOW - 3_600_000),
                (AccountEventKind::PhoneChanged, NOW - 3_600_000),
                (AccountEventKind::NewDevice, NOW - 3_600_000),
            ],
            intent: Some("wire".into()),
            claim: Some(cited(Verdict::KnownScam, 5)),
            not_sent_surge: 3.0,
            surge_active: true,
            reported_smish: 2,
        };
        let mut given: Vec<String> = score(&everything, &p, NOW)
            .reasons
            .into_iter()
            .map(|r| r.signal)
            .collect();
        for (v, a) in [
            (Verdict::Partial, Action::Callback),
            (Verdict::Partial, Action::StepUp),
            (Verdict::Confirmed, Action::Proceed),
        ] {
            let f = CallFacts {
                ani_on_file: Some(true),
                attestation: Some(Attestation::None),
                claim: Some(CitedClaim {
                    verdict: v,
                    seconds_into_call: 90,
                    action: a,
                }),
                ..Default::default()
            };
            given.extend(score(&f, &p, NOW).reasons.into_iter().map(|r| r.signal));
        }
        for g in &given {
            assert!(SIGNALS.iter().any(|s| s.name == g), "{g} is not in SIGNALS");
        }
        for s in SIGNALS {
            assert!(given.iter().any(|g| g == s.name), "{} never given", s.name);
        }
    }

    #[test]
    fn caller_id_signals() {
        for (ani, withheld) in [
            ("anonymous", true),
            ("Restricted", true),
            ("+266696687", true),
            ("", true),
            ("+12025550143", false),
            ("private caller", false),
        ] {
            assert_eq!(caller_id_withheld(ani), withheld, "{ani:?}");
        }
        for (ani, on_file, intl) in [
            ("+447700900123", &["+12025550143"][..], true),
            (
                "+447700900123",
                &["+12025550143", "+447700900999"][..],
                false,
            ),
            ("+12025550199", &["+12025550143"][..], false),
            ("+14165550123", &["+12025550143"][..], false), // Canada shares +1
            ("+447700900123", &[][..], false),
            ("anonymous", &["+12025550143"][..], false),
        ] {
            assert_eq!(
                international_caller(ani, on_file.iter().copied(), 1),
                intl,
                "{ani} {on_file:?}"
            );
        }
        for (t, voip) in [
            ("nonFixedVoip", true),
            ("non-fixed-voip", true),
            ("NON_FIXED_VOIP", true),
            ("fixedVoip", false),
            ("mobile", false),
        ] {
            assert_eq!(non_fixed_voip(t), voip, "{t}");
        }
    }

    #[test]
    fn the_action_is_never_less_than_the_claims() {
        let p = Policy::default();
        // Own number, attested, a contradicted callback number cited late in the call: the
        // reasons alone would say low; the claim says end the call.
        let f = CallFacts {
            ani_on_file: Some(true),
            attestation: Some(Attestation::A),
            claim: Some(CitedClaim {
                verdict: Verdict::Partial,
                seconds_into_call: 300,
                action: Action::Callback,
            }),
            ..Default::default()
        };
        let s = score(&f, &p, NOW);
        assert!(
            s.action >= Action::Callback && s.band >= Band::High,
            "{s:?}"
        );
        assert!(s.floor.is_some());
        assert_eq!(s.guidance, s.action.instruction());
        // A policy that maps every band to step_up still cannot go below the claim.
        let mut lax = p.clone();
        lax.actions = Actions {
            low: Action::Proceed,
            medium: Action::StepUp,
            high: Action::StepUp,
            critical: Action::StepUp,
        };
        assert_eq!(score(&f, &lax, NOW).action, Action::Callback);
    }

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
            claim: Some(cited(Verdict::NotSent, 12)),
            ..base.clone()
        };
        let s = score(&attack, &p, NOW);
        assert!(s.band >= Band::High, "{s:?}");
        assert_eq!(s.reasons[0].signal, "claim_not_sent");
        assert!(s.reasons.iter().any(|r| r.signal == "claim_not_sent_early"));
        // The same claim late in the call weighs less.
        let late = score(
            &CallFacts {
                claim: Some(cited(Verdict::NotSent, 400)),
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
                claim: Some(cited(Verdict::Confirmed, 60)),
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
                claim: Some(cited(Verdict::CannotConfirm, 5)),
                ..base.clone()
            },
            &p,
            NOW,
        );
        assert_eq!(neutral.score, genuine.score);
        // A surge raises the weight of not_sent.
        let calm = score(
            &CallFacts {
                claim: Some(cited(Verdict::NotSent, 200)),
                ..base.clone()
            },
            &p,
            NOW,
        );
        let surging = score(
            &CallFacts {
                claim: Some(cited(Verdict::NotSent, 200)),
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
