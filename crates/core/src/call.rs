//! An inbound call as the contact-centre platform reports it: the wire shape and its validation
//! into a [`Call`] (ids within the configured limit, the caller number in E.164 when it reads as
//! one — a withheld ID is kept as given —, a start time, an intent in lower case). Pure.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{normalize_phone, ExtractConfig};
use crate::score::AccountEventKind;
use crate::validate::{optional, parse_time, required, Rejection};
use crate::Millis;

/// A call as the contact-centre platform reports it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallIn {
    pub call_id: Option<String>,
    /// As identified by the IVR; may be absent.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// The calling number (`anonymous`, `private`, … when withheld).
    pub ani: Option<String>,
    /// The number called.
    #[serde(default)]
    pub dnis: Option<String>,
    /// RFC 3339; default: now.
    #[serde(default)]
    pub started_at: Option<String>,
    /// STIR/SHAKEN verification status as carriers send it, e.g. `TN-Validation-Passed-A`.
    #[serde(default)]
    pub verstat: Option<String>,
    /// `A`, `B` or `C`.
    #[serde(default)]
    pub attestation: Option<String>,
    /// mobile, landline, fixedVoip, nonFixedVoip, tollFree.
    #[serde(default)]
    pub line_type: Option<String>,
    /// What the caller wants: change_phone, change_email, reset_password, add_payee, wire,
    /// card_replace, balance, dispute, …
    #[serde(default)]
    pub intent: Option<String>,
    /// The call's STIR/SHAKEN PASSporTs as the platform hands them over: `Identity` header
    /// values, bare tokens, or `Identity:` header lines (a forwarded call's SHAKEN and `div`
    /// PASSporTs together). Verified by the server when `[stir]` is configured.
    #[serde(default)]
    pub identity: Vec<String>,
}

/// Most PASSporTs one call carries (a SHAKEN one and a few `div` ones).
pub const IDENTITIES_MAX: usize = 4;

/// A validated call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub call_id: String,
    pub customer_id: Option<String>,
    pub ani: String,
    pub started_at: Millis,
    pub intent: Option<String>,
}

/// Validate a call reported at `now`; ids are at most `id_chars_max` characters.
pub fn validate_call(
    c: &CallIn,
    now: Millis,
    extract: &ExtractConfig,
    id_chars_max: usize,
) -> Result<Call, Rejection> {
    let call_id = required("call_id", &c.call_id, id_chars_max)?.to_string();
    let ani_raw = required("ani", &c.ani, 64)?;
    let started_at = match c.started_at.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => parse_time("started_at", t)?,
        _ => now,
    };
    if c.identity.len() > IDENTITIES_MAX {
        return Err(Rejection::new(
            "invalid_identity",
            format!(
                "identity: {} PASSporTs; at most {IDENTITIES_MAX} per call",
                c.identity.len()
            ),
        ));
    }
    let max = crate::stir::passport::TOKEN_BYTES_MAX;
    if let Some(i) = c.identity.iter().position(|t| t.len() > max) {
        return Err(Rejection::new(
            "invalid_identity",
            format!("identity[{i}]: longer than {max} bytes"),
        ));
    }
    Ok(Call {
        call_id,
        customer_id: optional("customer_id", &c.customer_id, id_chars_max)?,
        ani: normalize_phone(ani_raw, extract).unwrap_or_else(|| ani_raw.to_string()),
        started_at,
        intent: optional("intent", &c.intent, 64)?.map(|i| i.to_ascii_lowercase()),
    })
}

/// An account event, for later calls' scores.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountEventIn {
    pub customer_id: String,
    /// sim_swap, phone_changed, email_changed, password_reset, new_device, payee_added.
    pub kind: String,
    /// RFC 3339.
    pub at: String,
}

/// Validate an account event reported at `now` (`future_skew_ms` of producer clock skew
/// allowed): `(customer, kind, at)`.
pub fn validate_account_event(
    e: &AccountEventIn,
    now: Millis,
    future_skew_ms: Millis,
    id_chars_max: usize,
) -> Result<(String, String, Millis), Rejection> {
    serde_json::from_value::<AccountEventKind>(serde_json::Value::String(e.kind.clone()))
        .map_err(|_| Rejection::new("invalid_kind", format!("unknown event kind {:?}", e.kind)))?;
    let at = parse_time("at", &e.at)?;
    if at > now + future_skew_ms {
        return Err(Rejection::new("at_in_future", "`at` is in the future"));
    }
    let customer = Some(e.customer_id.clone());
    let customer = required("customer_id", &customer, id_chars_max)?.to_string();
    Ok((customer, e.kind.clone(), at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_table() {
        let x = ExtractConfig::default();
        let call = |id: Option<&str>, ani: Option<&str>| CallIn {
            call_id: id.map(str::to_string),
            ani: ani.map(str::to_string),
            intent: Some(" Change_Phone ".into()),
            ..Default::default()
        };
        let ok = validate_call(&call(Some("CA1"), Some("(415) 555-0100")), 5, &x, 128).unwrap();
        assert_eq!(
            (ok.ani.as_str(), ok.started_at, ok.intent.as_deref()),
            ("+14155550100", 5, Some("change_phone"))
        );
        let anon = validate_call(&call(Some("CA2"), Some("anonymous")), 5, &x, 128).unwrap();
        assert_eq!(anon.ani, "anonymous");
        for (c, max, code) in [
            (call(None, Some("+14155550100")), 128, "missing_field"),
            (call(Some("CA3"), None), 128, "missing_field"),
            (
                call(Some("CA-too-long"), Some("+14155550100")),
                4,
                "field_too_long",
            ),
            (
                CallIn {
                    started_at: Some("soon".into()),
                    ..call(Some("CA4"), Some("+14155550100"))
                },
                128,
                "invalid_time",
            ),
        ] {
            assert_eq!(
                validate_call(&c, 0, &x, max).unwrap_err().code,
                code,
                "{c:?}"
            );
        }
    }

    #[test]
    fn account_events_table() {
        let ev = |c: &str, k: &str, at: &str| AccountEventIn {
            customer_id: c.into(),
            kind: k.into(),
            at: at.into(),
        };
        let now = crate::validate::parse_time("t", "2026-06-03T12:00:00Z").unwrap();
        let ok = validate_account_event(&ev("c1", "sim_swap", "2026-06-03T11:00:00Z"), now, 0, 128);
        assert_eq!(ok.unwrap().1, "sim_swap");
        for (e, code) in [
            (ev("c1", "teleport", "2026-06-03T11:00:00Z"), "invalid_kind"),
            (ev("c1", "sim_swap", "2026-06-04T11:00:00Z"), "at_in_future"),
            (ev(" ", "sim_swap", "2026-06-03T11:00:00Z"), "missing_field"),
            (ev("c1", "sim_swap", "noon"), "invalid_time"),
        ] {
            let got = validate_account_event(&e, now, 0, 128).unwrap_err();
            assert_eq!(got.code, code, "{e:?}");
        }
    }
}
