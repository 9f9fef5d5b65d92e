//! The data-path map (analysts): every source from producer to ledger to the agent's screen —
//! channels, how complete it is and how far behind now, records per hour over the last day (a
//! sparkline) and in the last hour, ingest lag —
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
    let now = now_ms();
    let (views, day) = match (
        source_views(&st, now).await,
        st.store.source_activity(now - 24 * 3_600_000).await,
    ) {
        (Ok(v), Ok(d)) => (v, d),
        (Err(p), _) => return p.into_response(),
        (_, Err(e)) => return crate::problem::Problem::store(e).into_response(),
    };
    let empty = std::collections::BTreeMap::new();
    page(&SourcesPage {
        person: Some(person.view()),
        stale: views
            .iter()
            .filter(|s| s.health == FeedHealth::Stale)
            .count(),
        rule: FEED_HEALTH_RULE,
        sources: views
            .iter()
            .map(|v| {
                let per_hour = day
                    .iter()
                    .find(|a| a.source == v.source)
                    .map_or(&empty, |a| &a.per_hour);
                source_row(v, per_hour, now)
            })
            .collect(),
    })
}
