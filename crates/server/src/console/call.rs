//! The agent's call screen (`/console/calls/{call_id}`, the URL a contact-centre platform
//! screen-pops): the verdict in words, the one action, evidence, freshness and risk in a live
//! panel; the customer's notifications; "the caller mentions a message" (the claim form) and
//! the outcome buttons; and the panel's server-sent event stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use countersign_core::validate::format_time;
use countersign_core::verify::{ClaimIn, MentionsIn};
use countersign_store::AuditEntry;
use serde::Deserialize;

use super::session::Person;
use super::views::{call_panel, CallPage, NotificationRow, PanelFragment};
use super::{message, page};
use crate::api_types::{CallDoc, OutcomeIn};
use crate::problem::Problem;
use crate::services::calls::{add_claim, load_call, record_outcome};
use crate::services::feeds::source_views;
use crate::{now_ms, SharedState};

const DAY: i64 = 86_400_000;

/// A call that does not exist, or a store that fails, as a page.
fn problem_page(person: &Person, p: Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    message(
        status,
        Some(person.view()),
        if p.code == "unknown_call" {
            "No such call"
        } else {
            "Something went wrong"
        },
        &p.detail,
        Some(("/console", "Find a call")),
    )
}

async fn audit_view(st: &SharedState, person: &Person, doc: &CallDoc) -> Result<(), Problem> {
    st.store
        .audit(AuditEntry {
            at: now_ms(),
            actor: person.actor(),
            action: "call_screen".into(),
            customer_id: doc.customer_id.clone(),
            detail: Some(format!("call_id={}", doc.call_id)),
        })
        .await
        .map_err(Problem::from)
}

/// `GET /console/calls/{call_id}`.
pub async fn screen(
    State(st): State<SharedState>,
    person: Person,
    Path(call_id): Path<String>,
) -> Response {
    match build(&st, &person, &call_id).await {
        Ok(p) => page(&p),
        Err(p) => problem_page(&person, p),
    }
}

async fn build(st: &SharedState, person: &Person, call_id: &str) -> Result<CallPage, Problem> {
    let doc = load_call(st, call_id).await?;
    // Every page that shows a customer's data is audit-logged under the person's name.
    audit_view(st, person, &doc).await?;
    let now = now_ms();
    let sources = source_views(st, now).await?;
    let notifications = match &doc.customer_id {
        Some(c) => st
            .store
            .customer_notifications(c, now - 14 * DAY, now, 200)
            .await?
            .iter()
            .map(|n| {
                let r = &n.record;
                NotificationRow {
                    sent: format_time(r.sent_at),
                    channel: r.channel.as_str(),
                    sender: r.sender.clone().unwrap_or_default(),
                    facts: facts_words(&r.facts),
                    status: r.status.as_str(),
                }
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(CallPage {
        person: Some(person.view()),
        csrf: person.csrf.clone(),
        call_id: doc.call_id.clone(),
        customer_id: doc.customer_id.clone(),
        started: doc.started_at.clone(),
        panel: call_panel(&doc, &sources),
        outcome: doc.outcome.as_ref().map(|o| match o.outcome.as_str() {
            "fraud" => "fraud".to_string(),
            "legitimate" => "genuine customer".to_string(),
            other => other.to_string(),
        }),
        notifications,
    })
}

/// A notification's facts in a line.
fn facts_words(f: &countersign_core::Facts) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &f.amount {
        parts.push(countersign_core::alerts::money_text(a));
    }
    if let Some(m) = &f.merchant {
        parts.push(format!("at {m}"));
    }
    if let Some(c) = &f.card_last4 {
        parts.push(format!("card …{c}"));
    }
    for n in &f.callback_numbers {
        parts.push(format!("call {n}"));
    }
    for d in &f.domains {
        parts.push(format!("link {d}"));
    }
    if f.code.is_some() {
        parts.push("a one-time code".into());
    }
    parts.join(" · ")
}

/// The claim form (every field optional but the token).
#[derive(Debug, Deserialize)]
pub struct ClaimForm {
    csrf: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    received_at: String,
    #[serde(default)]
    sender_seen: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    merchant: String,
    #[serde(default)]
    card_last4: String,
    #[serde(default)]
    callback_number: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    text: String,
}

fn filled(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl ClaimForm {
    fn claim(&self) -> ClaimIn {
        ClaimIn {
            channel: filled(&self.channel),
            received_at: filled(&self.received_at),
            sender_seen: filled(&self.sender_seen),
            mentions: MentionsIn {
                amount: filled(&self.amount).map(serde_json::Value::String),
                merchant: filled(&self.merchant),
                card_last4: filled(&self.card_last4),
                callback_number: filled(&self.callback_number),
                url: filled(&self.url),
                code: filled(&self.code),
                text: filled(&self.text),
            },
            ..Default::default()
        }
    }
}

/// `POST /console/calls/{call_id}/claims`: verify what the caller cites, re-score, and show
/// the call again at its verdict.
pub async fn claim(
    State(st): State<SharedState>,
    person: Person,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    Form(f): Form<ClaimForm>,
) -> Response {
    if let Some(r) = person.form_refusal(&headers, &f.csrf) {
        return r;
    }
    match add_claim(&st, &call_id, f.claim(), &person.actor()).await {
        Ok(_) => Redirect::to(&format!("{}#verdict", screen_path(&call_id))).into_response(),
        Err(p) if p.status == 422 => message(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(person.view()),
            "Check what was entered",
            &p.detail,
            Some((&screen_path(&call_id), "Back to the call")),
        ),
        Err(p) => problem_page(&person, p),
    }
}

fn screen_path(call_id: &str) -> String {
    format!(
        "/console/calls/{}",
        form_urlencoded::byte_serialize(call_id.as_bytes()).collect::<String>()
    )
}

#[derive(Debug, Deserialize)]
pub struct OutcomeForm {
    csrf: String,
    outcome: String,
    #[serde(default)]
    note: String,
}

/// `POST /console/calls/{call_id}/outcome`.
pub async fn outcome(
    State(st): State<SharedState>,
    person: Person,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    Form(f): Form<OutcomeForm>,
) -> Response {
    if let Some(r) = person.form_refusal(&headers, &f.csrf) {
        return r;
    }
    let o = OutcomeIn {
        outcome: f.outcome,
        note: filled(&f.note).map(|n| format!("{n} (by {})", person.name)),
    };
    match record_outcome(&st, &call_id, o).await {
        Ok(_) => Redirect::to(&format!("{}#outcome-h", screen_path(&call_id))).into_response(),
        Err(p) => problem_page(&person, p),
    }
}

/// The panel as an event: its revision as the id, the HTML on one line.
async fn panel_event(st: &SharedState, call_id: &str) -> Result<Event, Problem> {
    let doc = load_call(st, call_id).await?;
    let sources = source_views(st, now_ms()).await?;
    let panel = call_panel(&doc, &sources);
    let html = askama::Template::render(&PanelFragment { panel: &panel })
        .map_err(Problem::internal)?
        .replace(['\n', '\r'], " ");
    Ok(Event::default()
        .event("panel")
        .id(panel.revision.to_string())
        .data(html))
}

/// `GET /console/calls/{call_id}/events`: the panel now, then again after every change to the
/// call (a claim or outcome through the API, an adapter or another screen).
pub async fn events(
    State(st): State<SharedState>,
    person: Person,
    Path(call_id): Path<String>,
) -> Response {
    let first = match panel_event(&st, &call_id).await {
        Ok(e) => e,
        Err(p) => return problem_page(&person, p),
    };
    let mut rx = st.call_updates.subscribe(&call_id);
    let stopping = st.stopping.clone();
    let stream = async_stream(move |tx| async move {
        if tx.send(first).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                r = rx.recv() => match r {
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        match panel_event(&st, &call_id).await {
                            Ok(e) => if tx.send(e).await.is_err() { return },
                            Err(p) => tracing::warn!(error = %p.detail, "call screen update failed"),
                        }
                    }
                    Err(_) => return,
                },
                _ = stopping.cancelled() => return,
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// A stream fed by a task: the task gets a sender; the stream ends when the task does or the
/// client goes away.
fn async_stream<F, Fut>(f: F) -> impl futures_core::Stream<Item = Result<Event, Infallible>> + Send
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(f(tx));
    ReceiverStream { rx }
}

struct ReceiverStream {
    rx: tokio::sync::mpsc::Receiver<Event>,
}

impl futures_core::Stream for ReceiverStream {
    type Item = Result<Event, Infallible>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|o| o.map(Ok))
    }
}
