//! The exercise page (analysts): the runs with a stored after-action report, newest first, and
//! each report — objectives with their HSEEP rating, the timeline, strengths, areas for
//! improvement, the improvement plan and the data-path map — as the runner wrote it.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use countersign_exercise::aar::{Aar, Rated};

use super::page;
use super::session::Person;
use super::views::PersonView;
use crate::exercises::{report, runs, RunSummary};
use crate::http::Path;
use crate::SharedState;

#[derive(Template)]
#[template(path = "console/exercises.html")]
pub struct ExercisesPage {
    pub person: Option<PersonView>,
    pub runs: Vec<RunSummary>,
}

#[derive(Template)]
#[template(path = "console/exercise.html")]
pub struct ExercisePage {
    pub person: Option<PersonView>,
    pub a: Aar,
}

/// The CSS class of a rating's tag (the words carry it too).
pub fn rating_class(r: &str) -> &'static str {
    match r {
        "Performed" => "healthy",
        "Some challenges" => "delayed",
        _ => "stale",
    }
}

impl ExercisePage {
    pub fn class(&self, r: &Rated) -> &'static str {
        rating_class(r.as_str())
    }
}

impl ExercisesPage {
    pub fn class(&self, r: &str) -> &'static str {
        rating_class(r)
    }
}

/// `GET /console/exercises`.
pub async fn list(State(st): State<SharedState>, person: Person) -> Response {
    if let Some(r) = person.refusal_unless_analyst() {
        return r;
    }
    match runs(&st).await {
        Ok(runs) => page(&ExercisesPage {
            person: Some(person.view()),
            runs,
        }),
        Err(p) => p.into_response(),
    }
}

/// `GET /console/exercises/{run}`.
pub async fn show(
    State(st): State<SharedState>,
    person: Person,
    Path(run): Path<String>,
) -> Response {
    if let Some(r) = person.refusal_unless_analyst() {
        return r;
    }
    match report(&st, &run).await {
        Ok(Some(a)) => page(&ExercisePage {
            person: Some(person.view()),
            a,
        }),
        Ok(None) => super::message(
            axum::http::StatusCode::NOT_FOUND,
            Some(person.view()),
            "No such run",
            &format!("No after-action report is stored for run {run:?}."),
            Some(("/console/exercises", "Back to exercises")),
        ),
        Err(p) => p.into_response(),
    }
}
