//! Inbound-call risk scoring: each signal is a pure function from what is known about a call to
//! a log-odds contribution; the score is the logistic of the prior plus the contributions, with
//! bands and actions from a versioned policy (TOML, unknown keys rejected). No IO, no clock.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::guidance::Action;
use crate::verify::Verdict;
use crate::Millis;

mod policy;
mod signals;

pub use policy::*;
pub use signals::*;

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
            stir: None,
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
        use crate::stir::FailureKind as K;
        let verified = StirFacts {
            passed: Some(Attestation::A),
            failure: None,
            signed: None,
            spc: Some("1234".into()),
        };
        let failed = |k| StirFacts {
            passed: None,
            failure: Some(k),
            signed: None,
            spc: None,
        };
        for stir in [
            verified,
            failed(K::BadSignature),
            failed(K::UntrustedSigner),
            failed(K::StaleDate),
            failed(K::OrigMismatch),
            failed(K::DestMismatch),
        ] {
            let f = CallFacts {
                ani_on_file: Some(true),
                attestation: Some(stir.attestation()),
                stir: Some(stir),
                ..Default::default()
            };
            let reasons = score(&f, &p, NOW).reasons;
            // Our own verification replaces the carrier's: never both a stir_* and verstat_failed.
            assert!(!reasons.iter().any(|r| r.signal == "verstat_failed"));
            given.extend(reasons.into_iter().map(|r| r.signal));
        }
        for g in &given {
            assert!(SIGNALS.iter().any(|s| s.name == g), "{g} is not in SIGNALS");
        }
        for s in SIGNALS {
            assert!(given.iter().any(|g| g == s.name), "{} never given", s.name);
        }
    }

    /// A call forwarded without a `div` PASSporT fails `dest`, but its signature and calling
    /// number verified: the signed `A` still counts, only the small `stir_dest_mismatch` is added.
    #[test]
    fn a_forward_without_div_keeps_the_signed_attestation() {
        let stir = StirFacts {
            passed: None,
            failure: Some(crate::stir::FailureKind::DestMismatch),
            signed: Some(Attestation::A),
            spc: None,
        };
        assert_eq!(stir.attestation(), Attestation::A);
        let f = CallFacts {
            ani_on_file: Some(true),
            attestation: Some(stir.attestation()),
            stir: Some(stir),
            ..Default::default()
        };
        let signals: Vec<String> = score(&f, &Policy::default(), NOW)
            .reasons
            .into_iter()
            .map(|r| r.signal)
            .collect();
        assert_eq!(signals, vec!["stir_dest_mismatch".to_string()]);
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
