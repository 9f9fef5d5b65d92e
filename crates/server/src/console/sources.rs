//! The data-path map (analysts): every source from producer to ledger to the agent's screen —
//! channels, how complete it is and how far behind now, records in the last hour, ingest lag —
//! with a Healthy / Delayed / Stale tag and the rule behind it; stale feeds first.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use countersign_core::verify::{FeedHealth, FEED_HEALTH_RULE};

use super::page;
use super::session::Person;
use super::views::{source_row, SourcesPage};
use crate::services::feeds::source_views;
use crate::{now_ms, SharedState};

/// `GET /console/sources`.
pub async fn map(State(st): State<SharedState>, person: Person) -> Response {
    if let Some(r) = person.refusal_unless_analyst() {
        return r;
    }
    let views = match source_views(&st, now_ms()).await {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    page(&SourcesPage {
        person: Some(person.view()),
        stale: views
            .iter()
            .filter(|s| s.health == FeedHealth::Stale)
            .count(),
        rule: FEED_HEALTH_RULE,
        sources: views.iter().map(source_row).collect(),
    })
}
