//! Finding a call: the console's home (a search by call id or customer id, and the latest calls
//! with their band, action and outcome) and `/console/find`, which opens the match.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::page;
use super::session::Person;
use super::views::{call_row, HomePage};
use crate::api_types::CallDoc;
use crate::{now_ms, SharedState};

const RECENT_MS: i64 = 4 * 3_600_000;

/// `GET /console`.
pub async fn home(State(st): State<SharedState>, person: Person) -> Response {
    render(&st, &person, String::new(), String::new()).await
}

async fn render(st: &SharedState, person: &Person, query: String, notice: String) -> Response {
    let now = now_ms();
    let calls = match st.store.calls_since(now - RECENT_MS, 2_000).await {
        Ok(c) => c,
        Err(e) => return crate::problem::Problem::store(e).into_response(),
    };
    let rows = calls
        .iter()
        .rev()
        .take(25)
        .filter_map(|c| serde_json::from_str::<CallDoc>(&c.doc).ok())
        .map(|d| call_row(&d, now))
        .collect();
    page(&HomePage {
        person: Some(person.view()),
        query,
        notice,
        calls: rows,
    })
}

#[derive(Deserialize)]
pub struct Find {
    #[serde(default)]
    q: String,
}

/// `GET /console/find?q=`: a call id opens that call; a customer id opens their latest call.
pub async fn find(
    State(st): State<SharedState>,
    person: Person,
    Query(f): Query<Find>,
) -> Response {
    let q = f.q.trim().to_string();
    let open = |id: &str| {
        Redirect::to(&format!(
            "/console/calls/{}",
            form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        ))
        .into_response()
    };
    if q.is_empty() {
        return render(&st, &person, q, "Enter a call id or a customer id.".into()).await;
    }
    if let Ok(Some(_)) = st.store.get_call(&q).await {
        return open(&q);
    }
    let latest = st
        .store
        .calls_since(now_ms() - 7 * 86_400_000, 100_000)
        .await
        .ok()
        .and_then(|calls| {
            calls
                .into_iter()
                .rev()
                .find(|c| c.customer_id.as_deref() == Some(q.as_str()))
        });
    match latest {
        Some(c) => open(&c.call_id),
        None => {
            let notice =
                format!("No call {q:?}, and no call from customer {q:?} in the last 7 days.");
            render(&st, &person, q, notice).await
        }
    }
}
