//! The signals: what is known about a call (`CallFacts`), the caller-ID facts as pure
//! functions, `SIGNALS` — the one table of signal names and the weights they use, which
//! `policy fit` reads too —, and each signal's contribution with the words that explain it.

use super::*;

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
    /// What Countersign's own verification of the call's PASSporT found; `None` when the call
    /// carried none or none could be checked (the platform's verstat stands).
    pub stir: Option<StirFacts>,
}

/// Countersign's own STIR/SHAKEN verification, as the score sees it ([`StirFacts::from_result`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StirFacts {
    /// `TN-Validation-Passed`, and the attestation it signed.
    pub passed: Option<Attestation>,
    /// Why it failed.
    pub failure: Option<crate::stir::FailureKind>,
    /// The attestation signed, when the signature and the calling number verified and only the
    /// called number did not (a forward without a `div` PASSporT): the carrier still vouched
    /// for the caller.
    pub signed: Option<Attestation>,
    /// The signer's Service Provider Code.
    pub spc: Option<String>,
}

impl StirFacts {
    /// The facts of a verification that checked something (`None` for `No-TN-Validation`).
    pub fn from_result(r: &crate::stir::StirResult) -> Option<StirFacts> {
        use crate::stir::Verstat;
        match r.verstat {
            Verstat::NoValidation => None,
            Verstat::Passed => Some(StirFacts {
                passed: Some(parse_attestation(None, r.attest.as_deref())),
                failure: None,
                signed: None,
                spc: r.signer_spc.clone(),
            }),
            Verstat::Failed => {
                let failure = r.failure.as_ref().map(|f| f.kind);
                Some(StirFacts {
                    passed: None,
                    signed: (failure == Some(crate::stir::FailureKind::DestMismatch))
                        .then(|| parse_attestation(None, r.attest.as_deref())),
                    failure,
                    spc: r.signer_spc.clone(),
                })
            }
        }
    }

    /// The attestation the score takes: the one verified here, the one signed for a caller
    /// whose only mismatch is the called number, or `Failed`.
    pub fn attestation(&self) -> Attestation {
        self.passed.or(self.signed).unwrap_or(Attestation::Failed)
    }
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
    // Country calling codes are a prefix code (ITU-T E.164), so "same country" is "same prefix":
    // no number parsing on the scoring path.
    let home = format!("+{home_code}");
    let e164 =
        ani.len() > 4 && ani.starts_with('+') && ani[1..].bytes().all(|b| b.is_ascii_digit());
    if !e164 || ani.starts_with(&home) {
        return false;
    }
    let mut any = false;
    for n in on_file {
        any = true;
        if !n.starts_with(&home) {
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

pub(super) const fn sig(name: &'static str, weight: &'static str) -> Signal {
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
    sig("stir_verified_a", "stir_verified_a"),
    sig("stir_forged", "stir_forged"),
    sig("stir_untrusted_signer", "stir_untrusted_signer"),
    sig("stir_stale", "stir_stale"),
    sig("stir_orig_mismatch", "stir_orig_mismatch"),
    sig("stir_dest_mismatch", "stir_dest_mismatch"),
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
            "stir_verified_a" => self.stir_verified_a,
            "stir_forged" => self.stir_forged,
            "stir_untrusted_signer" => self.stir_untrusted_signer,
            "stir_stale" => self.stir_stale,
            "stir_orig_mismatch" => self.stir_orig_mismatch,
            "stir_dest_mismatch" => self.stir_dest_mismatch,
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

/// The reasons for a call, each with its contribution (unsorted, zero-valued ones left out).
pub(super) fn reasons(f: &CallFacts, p: &Policy, now: Millis) -> Vec<Reason> {
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

pub(super) type Add<'a> = dyn FnMut(&'static str, f64, String) + 'a;

pub(super) fn caller_id_reasons(f: &CallFacts, add: &mut Add<'_>) {
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
    if let Some(s) = &f.stir {
        stir_reasons(s, f, add);
    } else if f.attestation == Some(Attestation::Failed) {
        add(
            "verstat_failed",
            1.0,
            "the carrier's caller-ID verification failed".into(),
        );
    }
}

/// Our own verification of the call's PASSporT: what failed, in words, or the reassurance of a
/// verified `A` for a number on file (never a reason to skip the claim's verification: A-signed
/// fraud is documented, and the high-risk floor still holds).
fn stir_reasons(s: &StirFacts, f: &CallFacts, add: &mut Add<'_>) {
    use crate::stir::FailureKind as K;
    let signer = s
        .spc
        .as_deref()
        .map(|x| format!(" (signer {x})"))
        .unwrap_or_default();
    if let Some(k) = s.failure {
        let signal = match k {
            K::UntrustedSigner | K::CertExpired | K::CertRevoked => "stir_untrusted_signer",
            K::StaleDate => "stir_stale",
            K::OrigMismatch => "stir_orig_mismatch",
            K::DestMismatch => "stir_dest_mismatch",
            _ => "stir_forged",
        };
        add(signal, 1.0, format!("{}{signer}", k.describe()));
        return;
    }
    if s.passed == Some(Attestation::A) && f.ani_on_file == Some(true) {
        add(
            "stir_verified_a",
            1.0,
            format!(
                "we verified the carrier's full attestation of this customer's own number{signer}"
            ),
        );
    }
}

pub(super) fn velocity_reasons(f: &CallFacts, add: &mut Add<'_>) {
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

pub(super) fn event_reasons(f: &CallFacts, p: &Policy, now: Millis, add: &mut Add<'_>) {
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

pub(super) fn high_risk(f: &CallFacts, p: &Policy) -> bool {
    f.intent
        .as_ref()
        .is_some_and(|i| p.high_risk_intents.iter().any(|h| h == i))
}

pub(super) fn claim_reasons(c: CitedClaim, f: &CallFacts, p: &Policy, add: &mut Add<'_>) {
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
