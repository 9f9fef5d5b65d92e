//! A smishing report as a carrier (7726), the app or an agent sends it: validation into a
//! [`Report`], and the 7726 two-step decision — a reporter's second message that only names the
//! sender of the text they forwarded is joined to that first report, not clustered as a text.
//! Pure: `now` is a parameter.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{normalize_phone, ExtractConfig};
use crate::validate::{optional, parse_time, Rejection};
use crate::Millis;

/// Longest report body, in characters.
pub const BODY_CHARS_MAX: usize = 2_000;

/// A report as the carrier, the app or an agent sends it (the public wire shape).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportIn {
    pub customer_id: Option<String>,
    /// Who reported (the 7726 flow joins two messages from one reporter).
    pub reporter_number: Option<String>,
    /// The sender the text came from (number or alphanumeric ID), when known.
    pub sender: Option<String>,
    /// The text as received.
    pub body: Option<String>,
    /// RFC 3339; default now.
    pub received_at: Option<String>,
    /// `7726`, `app` or `agent`.
    pub reported_via: Option<String>,
    /// The client's own id for this report, its idempotency key (or the `Idempotency-Key`
    /// header): a retry with the same id is stored once and answered as the first time.
    pub report_id: Option<String>,
}

/// A validated report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `7726`, `app` or `agent`.
    pub via: String,
    pub received_at: Millis,
    /// E.164 when it reads as a number.
    pub reporter: Option<String>,
    pub customer_id: Option<String>,
    pub sender: Option<String>,
    /// Trimmed; absent only for a 7726 message that names a sender.
    pub body: Option<String>,
    /// The client's idempotency key (`report_id`).
    pub key: Option<String>,
}

impl Report {
    /// A 7726 report that still waits for the reporter to name the sender.
    pub fn awaits_sender(&self) -> bool {
        self.via == "7726" && self.sender.is_none()
    }

    /// The text, required of every report that is not the 7726 flow's second step.
    pub fn text(&self) -> Result<&str, Rejection> {
        self.body.as_deref().ok_or_else(|| {
            Rejection::new("missing_field", "`body` (the text as received) is required")
        })
    }
}

fn trimmed(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Validate a report: `reported_via` one of 7726/app/agent, a time, a 7726 report's reporter
/// number, a customer id and a body within their limits.
pub fn validate_report(
    r: &ReportIn,
    now: Millis,
    extract: &ExtractConfig,
    id_chars_max: usize,
) -> Result<Report, Rejection> {
    let via = trimmed(&r.reported_via)
        .ok_or_else(|| {
            Rejection::new(
                "missing_field",
                "`reported_via` (7726, app or agent) is required",
            )
        })?
        .to_ascii_lowercase();
    if !["7726", "app", "agent"].contains(&via.as_str()) {
        return Err(Rejection::new(
            "invalid_field",
            format!("`reported_via` {via:?} is not one of 7726, app, agent"),
        ));
    }
    let received_at = match trimmed(&r.received_at) {
        Some(t) => parse_time("received_at", t)?,
        None => now,
    };
    let reporter = trimmed(&r.reporter_number)
        .map(|s| normalize_phone(s, extract).unwrap_or_else(|| s.to_string()));
    if via == "7726" && reporter.is_none() {
        return Err(Rejection::new(
            "missing_field",
            "a 7726 report needs `reporter_number` (the flow joins the reporter's two messages)",
        ));
    }
    let customer_id = optional("customer_id", &r.customer_id, id_chars_max)?;
    let body = trimmed(&r.body).map(str::to_string);
    if body
        .as_ref()
        .is_some_and(|b| b.chars().count() > BODY_CHARS_MAX)
    {
        return Err(Rejection::new(
            "invalid_field",
            "`body` is at most 2,000 characters",
        ));
    }
    Ok(Report {
        via,
        received_at,
        reporter,
        customer_id,
        sender: trimmed(&r.sender).map(str::to_string),
        body,
        key: optional("report_id", &r.report_id, id_chars_max)?,
    })
}

/// The 7726 flow's second step: the sender this message names for the reporter's earlier
/// report — a `sender` with no body, or a body that is only a sender — if it is one.
pub fn names_sender(r: &Report, extract: &ExtractConfig) -> Option<String> {
    if r.via != "7726" {
        return None;
    }
    match (r.body.as_deref(), &r.sender) {
        (None, Some(s)) => Some(s.clone()),
        (Some(b), None) if looks_like_sender(b) => {
            Some(normalize_phone(b, extract).unwrap_or_else(|| b.to_string()))
        }
        _ => None,
    }
}

/// Does a 7726 follow-up message look like a sender rather than a text: one alphanumeric ID
/// ("ACMEBNK"), or a number however it is spaced ("+1 833 555 0101")?
pub fn looks_like_sender(text: &str) -> bool {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let joined: String = tokens.concat();
    let numeric = |t: &str| t.chars().all(|c| c.is_ascii_digit() || "+-().".contains(c));
    !joined.is_empty()
        && joined.len() <= 20
        && joined
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-().".contains(c))
        && (tokens.len() == 1 || tokens.iter().all(|t| numeric(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(via: &str, reporter: Option<&str>, sender: Option<&str>, body: Option<&str>) -> ReportIn {
        ReportIn {
            reported_via: Some(via.into()),
            reporter_number: reporter.map(str::to_string),
            sender: sender.map(str::to_string),
            body: body.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn validation_table() {
        let x = ExtractConfig::default();
        for (input, code) in [
            (ReportIn::default(), "missing_field"),
            (r("fax", None, None, Some("hi")), "invalid_field"),
            (r("7726", None, None, Some("hi")), "missing_field"),
            (
                r("app", None, None, Some(&"x".repeat(2001))),
                "invalid_field",
            ),
            (
                ReportIn {
                    received_at: Some("yesterday".into()),
                    ..r("app", None, None, Some("hi"))
                },
                "invalid_time",
            ),
        ] {
            assert_eq!(
                validate_report(&input, 0, &x, 128).unwrap_err().code,
                code,
                "{input:?}"
            );
        }
        let ok = validate_report(&r(" APP ", None, None, Some("  a text ")), 7, &x, 128).unwrap();
        assert_eq!((ok.via.as_str(), ok.received_at), ("app", 7));
        assert_eq!(ok.body.as_deref(), Some("a text"));
    }

    #[test]
    fn the_7726_second_step() {
        let x = ExtractConfig::default();
        let v = |rep: ReportIn| validate_report(&rep, 0, &x, 128).unwrap();
        let num = Some("+1 415 555 0100");
        // (report, the sender it names)
        for (rep, named) in [
            (r("7726", num, None, Some("ACMEBNK")), Some("ACMEBNK")),
            (
                r("7726", num, None, Some("(833) 555-0101")),
                Some("+18335550101"),
            ),
            (r("7726", num, Some("ACMEBNK"), None), Some("ACMEBNK")),
            (
                r("7726", num, None, Some("Your account is locked, call us")),
                None,
            ),
            (r("app", None, None, Some("ACMEBNK")), None),
        ] {
            let rep = v(rep);
            assert_eq!(names_sender(&rep, &x).as_deref(), named, "{rep:?}");
        }
        assert!(v(r("7726", num, None, Some("a text"))).awaits_sender());
    }

    #[test]
    fn a_sender_answer() {
        for yes in ["ACMEBNK", "+1 833 555 0101", "(833) 555-0101", "72345"] {
            assert!(looks_like_sender(yes), "{yes}");
        }
        for no in [
            "Call me",
            "I don't know",
            "",
            "ACME Bank alert",
            "a-very-long-sender-id-indeed",
        ] {
            assert!(!looks_like_sender(no), "{no}");
        }
    }
}
