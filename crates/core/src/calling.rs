//! "Is the bank calling me right now?": the institution's outbound calls are voice notifications
//! in the ledger; one is in progress from its record until a status update says it ended (or
//! failed) or a maximum passes. The answer follows Monzo's call status: yes, with who and since
//! when; no — hang up; or, when the voice feed is behind, we can't tell — hang up and call us.

use serde::Serialize;
use utoipa::ToSchema;

use crate::model::{Channel, DeliveryStatus, StoredNotification};
use crate::textcheck::Lang;
use crate::validate::format_time;
use crate::verify::Freshness;
use crate::Millis;

/// How far behind now the voice feed may be for a "no" (a call placed in the last minute may
/// not be in the ledger yet).
pub const VOICE_FEED_SLACK_MS: Millis = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallingStatus {
    Calling,
    NotCalling,
    CannotTell,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CallingNow {
    pub status: CallingStatus,
    /// One sentence, in the customer's language.
    pub headline: String,
    /// What to do.
    pub advice: String,
    /// When the call in progress started (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// The agent's first name, when the producer gives it (`agent_first_name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// The answer at `now` from the customer's voice notifications since `now - max_ms` and the
/// freshness of the feeds that send on voice.
pub fn calling_now(
    recent: &[StoredNotification],
    voice_feed: &Freshness,
    now: Millis,
    max_ms: Millis,
    brand: &str,
    lang: Lang,
) -> CallingNow {
    let es = lang == Lang::Es;
    let live = recent
        .iter()
        .filter(|n| n.record.channel == Channel::Voice)
        .filter(|n| n.record.sent_at <= now && now - n.record.sent_at <= max_ms)
        .filter(|n| {
            !matches!(
                n.record.status,
                DeliveryStatus::Ended | DeliveryStatus::Failed
            )
        })
        .max_by_key(|n| n.record.sent_at);
    if let Some(n) = live {
        let agent = n
            .record
            .facts
            .extra
            .get("agent_first_name")
            .map(|a| {
                a.chars()
                    .filter(|c| !c.is_control())
                    .take(40)
                    .collect::<String>()
            })
            .filter(|a| !a.trim().is_empty());
        let since = format_time(n.record.sent_at);
        let hhmm = since.get(11..16).unwrap_or_default().to_string();
        let headline = match (&agent, es) {
            (Some(a), false) => {
                format!("Yes — {a} from {brand} is calling you (since {hhmm} UTC).")
            }
            (Some(a), true) => {
                format!("Sí — {a}, de {brand}, le está llamando (desde las {hhmm} UTC).")
            }
            (None, false) => format!("Yes — {brand} is calling you (since {hhmm} UTC)."),
            (None, true) => format!("Sí — {brand} le está llamando (desde las {hhmm} UTC)."),
        };
        let advice = if es {
            "Aun así, nunca le pediremos un código, PIN o contraseña, ni que mueva dinero."
        } else {
            "Even so, we will never ask you for a code, PIN or password, or ask you to move money."
        };
        return CallingNow {
            status: CallingStatus::Calling,
            headline,
            advice: advice.into(),
            started_at: Some(since),
            agent,
        };
    }
    let complete = voice_feed.sources > 0
        && voice_feed
            .fresh_until
            .is_some_and(|f| f >= now - VOICE_FEED_SLACK_MS);
    let (status, headline, advice) = match (complete, es) {
        (true, false) => (
            CallingStatus::NotCalling,
            format!("No one from {brand} is calling you right now."),
            "If someone on the phone says they are from us, hang up and call the number on the back of your card.",
        ),
        (true, true) => (
            CallingStatus::NotCalling,
            format!("Nadie de {brand} le está llamando ahora."),
            "Si alguien al teléfono dice ser de nosotros, cuelgue y llame al número que aparece en el reverso de su tarjeta.",
        ),
        (false, false) => (
            CallingStatus::CannotTell,
            "We can't tell right now whether we are calling you.".to_string(),
            "To be safe, hang up and call the number on the back of your card.",
        ),
        (false, true) => (
            CallingStatus::CannotTell,
            "Ahora mismo no podemos saber si le estamos llamando.".to_string(),
            "Por seguridad, cuelgue y llame al número que aparece en el reverso de su tarjeta.",
        ),
    };
    CallingNow {
        status,
        headline,
        advice: advice.into(),
        started_at: None,
        agent: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::Notification;

    const NOW: Millis = 1_800_000_000_000;

    fn voice(sent_at: Millis, status: DeliveryStatus, agent: Option<&str>) -> StoredNotification {
        let mut record = Notification {
            source: "dialler".into(),
            id: format!("v{sent_at}"),
            customer_id: "c".into(),
            channel: Channel::Voice,
            sender: None,
            recipient: None,
            sent_at,
            category: None,
            template_id: None,
            facts: Default::default(),
            body: None,
            body_mac: None,
            status,
        };
        if let Some(a) = agent {
            record
                .facts
                .extra
                .insert("agent_first_name".into(), a.into());
        }
        StoredNotification {
            record,
            acked_at: sent_at,
            status_at: sent_at,
        }
    }

    fn fresh(until: Millis) -> Freshness {
        Freshness {
            sources: 1,
            fresh_until: Some(until),
            complete_since: Some(0),
            laggard: None,
        }
    }

    #[test]
    fn a_call_in_progress_until_it_ends_or_times_out() {
        let min = 60_000;
        let c = calling_now(
            &[voice(NOW - 5 * min, DeliveryStatus::Sent, Some("Dana"))],
            &fresh(NOW),
            NOW,
            60 * min,
            "ACME Bank",
            Lang::En,
        );
        assert_eq!(c.status, CallingStatus::Calling);
        assert_eq!(c.agent.as_deref(), Some("Dana"));
        assert!(
            c.headline.starts_with("Yes — Dana from ACME Bank"),
            "{}",
            c.headline
        );
        for gone in [
            voice(NOW - 5 * min, DeliveryStatus::Ended, None),
            voice(NOW - 90 * min, DeliveryStatus::Sent, None),
        ] {
            let c = calling_now(&[gone], &fresh(NOW), NOW, 60 * min, "ACME Bank", Lang::En);
            assert_eq!(c.status, CallingStatus::NotCalling);
            assert!(c.advice.contains("hang up"));
        }
    }

    #[test]
    fn a_stale_voice_feed_is_never_a_no() {
        let c = calling_now(
            &[],
            &fresh(NOW - 10 * 60_000),
            NOW,
            3_600_000,
            "ACME Bank",
            Lang::Es,
        );
        assert_eq!(c.status, CallingStatus::CannotTell);
        assert!(c.advice.contains("cuelgue"));
        let none = Freshness {
            sources: 0,
            fresh_until: None,
            complete_since: None,
            laggard: None,
        };
        let c = calling_now(&[], &none, NOW, 3_600_000, "ACME Bank", Lang::En);
        assert_eq!(c.status, CallingStatus::CannotTell, "no voice feed at all");
    }
}
