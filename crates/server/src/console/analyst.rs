//! The analyst's screens beyond the data-path map: smishing campaigns (reports over time,
//! indicators, the example shape, confirm or dismiss with a note, the forged-text surge) and
//! calls and outcomes (recent calls with band, action and outcome; the override rate and the
//! share without an outcome — the figures that show alert fatigue; the alert outbox).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use countersign_core::campaign::{Campaign, CampaignStatus};
use countersign_core::score::Action;
use countersign_core::validate::format_time;
use countersign_core::Millis;
use serde::Deserialize;

use super::session::Person;
use super::views::{
    call_row, since, sparkline, AlertLine, CampaignRow, CampaignsPage, OutcomesPage,
};
use super::{message, page};
use crate::api_types::CallDoc;
use crate::services::calls::surge;
use crate::services::campaigns::{decisions_available, lock, set_status};
use crate::{now_ms, SharedState};

const HOUR: Millis = 3_600_000;

fn campaign_row(c: &Campaign, checks: u64, now: Millis) -> CampaignRow {
    let (spark, spark_label) = sparkline(&c.reports_by_hour, now, "Reports");
    let (status, status_label) = match c.status {
        CampaignStatus::Active => ("active", "Not reviewed"),
        CampaignStatus::Confirmed => ("confirmed", "Confirmed scam"),
        CampaignStatus::Benign => ("benign", "Dismissed"),
    };
    let list = |v: &std::collections::BTreeSet<String>| {
        if v.is_empty() {
            "—".to_string()
        } else {
            v.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    };
    CampaignRow {
        id: c.id,
        status,
        status_label,
        reports: c.reports,
        customers: c.distinct_customers,
        checks,
        first_seen: format_time(c.first_seen),
        last_seen: since(now, c.last_seen),
        spark,
        spark_label,
        numbers: list(&c.callback_numbers),
        domains: list(&c.domains),
        brands: list(&c.brands),
        shape: c.example_shape.clone(),
    }
}

/// `GET /console/campaigns`.
pub async fn campaigns(State(st): State<SharedState>, person: Person) -> Response {
    if let Some(r) = person.refusal_unless_analyst() {
        return r;
    }
    if let Err(p) = decisions_available(&st) {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(person.view()),
            "Campaigns are unavailable",
            &p.detail,
            None,
        );
    }
    let now = now_ms();
    let checks: std::collections::HashMap<u64, u64> = match st.store.text_checks_by_campaign().await
    {
        Ok(v) => v.into_iter().collect(),
        Err(e) => return crate::problem::Problem::store(e).into_response(),
    };
    let rows: Vec<CampaignRow> = lock(&st.smish.campaigns)
        .list()
        .into_iter()
        .take(50)
        .map(|c| campaign_row(c, checks.get(&c.id).copied().unwrap_or(0), now))
        .collect();
    let s = match surge(&st, now).await {
        Ok(s) => s,
        Err(p) => return p.into_response(),
    };
    page(&CampaignsPage {
        person: Some(person.view()),
        csrf: person.csrf.clone(),
        surge_active: s.active,
        surge: format!(
            "{}: {} callers cited a text we never sent in the last hour; usually {:.1} an hour ({:.1}×).",
            if s.active { "SURGE" } else { "No surge" },
            s.last_hour,
            s.usual_per_hour,
            s.ratio
        ),
        campaigns: rows,
    })
}

#[derive(Deserialize)]
pub struct ReviewForm {
    csrf: String,
    status: CampaignStatus,
    #[serde(default)]
    note: String,
}

/// `POST /console/campaigns/{id}/status`: confirm or dismiss.
pub async fn review(
    State(st): State<SharedState>,
    person: Person,
    headers: HeaderMap,
    Path(id): Path<u64>,
    Form(f): Form<ReviewForm>,
) -> Response {
    if let Some(r) = person.refusal_unless_analyst() {
        return r;
    }
    if let Some(r) = person.form_refusal(&headers, &f.csrf) {
        return r;
    }
    let note = Some(f.note.trim().to_string()).filter(|n| !n.is_empty());
    match set_status(&st, id, f.status, note, &person.actor()).await {
        Ok(_) => Redirect::to(&format!("/console/campaigns#c{id}")).into_response(),
        Err(p) => message(
            StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Some(person.view()),
            "The review was not recorded",
            &p.detail,
            Some(("/console/campaigns", "Back to campaigns")),
        ),
    }
}

/// An alert as the analyst's list shows it: when, whom, which rule, what it said, and whether
/// the customer read or acknowledged it.
fn alert_line(a: &countersign_store::AlertRow, now: Millis) -> AlertLine {
    let doc: serde_json::Value = serde_json::from_str(&a.doc).unwrap_or_default();
    AlertLine {
        created: since(now, a.created_at),
        customer: a.customer_id.clone(),
        rule: doc["rule"].as_str().unwrap_or("?").replace('_', " "),
        title: doc["title"].as_str().unwrap_or_default().to_string(),
        state: match (a.read_at, a.acked_at) {
            (_, Some(_)) => "acknowledged",
            (Some(_), None) => "read",
            _ => "not read yet",
        },
    }
}

/// Whether an outcome went against the recommended action.
fn overridden(action: Action, outcome: &str) -> bool {
    match outcome {
        "legitimate" => matches!(action, Action::Callback | Action::Block),
        "fraud" => matches!(action, Action::Proceed | Action::StepUp),
        _ => false,
    }
}

fn share(n: usize, of: usize) -> String {
    if of == 0 {
        "—".into()
    } else {
        format!("{n} of {of} ({:.0} %)", n as f64 * 100.0 / of as f64)
    }
}

/// `GET /console/outcomes`.
pub async fn outcomes(State(st): State<SharedState>, person: Person) -> Response {
    if let Some(r) = person.refusal_unless_analyst() {
        return r;
    }
    let now = now_ms();
    let (calls, outbox, alerts) = match (
        st.store.calls_since(now - 24 * HOUR, 100_000).await,
        st.store.outbox_stats().await,
        st.store.recent_alerts(20).await,
    ) {
        (Ok(c), Ok(o), Ok(a)) => (c, o, a),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return crate::problem::Problem::store(e).into_response()
        }
    };
    // The list names customers: a read of customer data, audit-logged.
    let audited = st
        .store
        .audit(countersign_store::AuditEntry {
            at: now,
            actor: person.actor(),
            action: "outcomes_screen".into(),
            customer_id: None,
            detail: Some(format!("calls={} alerts={}", calls.len(), alerts.len())),
        })
        .await;
    if let Err(e) = audited {
        return crate::problem::Problem::store(e).into_response();
    }
    let docs: Vec<CallDoc> = calls
        .iter()
        .rev()
        .filter_map(|c| serde_json::from_str(&c.doc).ok())
        .collect();
    let with_outcome: Vec<(Action, &str)> = docs
        .iter()
        .filter_map(|d| {
            let a = d.scores.last()?.score.action;
            Some((a, d.outcome.as_ref()?.outcome.as_str()))
        })
        .collect();
    let over = with_outcome
        .iter()
        .filter(|(a, o)| overridden(*a, o))
        .count();
    let rows = docs.iter().take(200).map(|d| call_row(d, now)).collect();
    page(&OutcomesPage {
        person: Some(person.view()),
        alerts: alerts.iter().map(|a| alert_line(a, now)).collect(),
        calls_total: docs.len(),
        no_outcome: share(docs.len() - with_outcome.len(), docs.len()),
        override_rate: share(over, with_outcome.len()),
        outbox: format!(
            "{} delivered, {} waiting{}",
            outbox.delivered,
            outbox.pending,
            outbox
                .oldest_pending_at
                .map(|t| format!(" (oldest since {})", format_time(t)))
                .unwrap_or_default()
        ),
        calls: rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_against_the_action_is_an_override() {
        assert!(overridden(Action::Block, "legitimate"));
        assert!(overridden(Action::Proceed, "fraud"));
        assert!(!overridden(Action::Callback, "fraud"));
        assert!(!overridden(Action::StepUp, "unsure"));
        assert_eq!(share(1, 4), "1 of 4 (25 %)");
        assert_eq!(share(0, 0), "—");
    }
}
