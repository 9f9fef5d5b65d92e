//! The console: the agent's call screen and the analyst's screens, served by the binary as
//! server-rendered HTML (askama templates in `templates/console`, checked at compile time,
//! escaped by default) with one stylesheet and one small script embedded in the binary. People
//! sign in (`session`); machines keep API keys. One handler module per screen: `home` (find a
//! call), `call` (the call screen, its claim form, outcome buttons and live stream), `sources`
//! (the data-path map), `analyst` (campaigns with their reviews, calls and outcomes),
//! `sender_ids` (the registry and each brand's lookalike audit). Every answer carries a strict Content-Security-Policy.

pub mod analyst;
pub mod call;
pub mod check;
pub mod exercises;
pub mod home;
pub mod oidc;
pub mod sender_ids;
pub mod session;
pub mod sources;
pub mod views;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use crate::SharedState;

/// `[console]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSettings {
    /// Serve the console at `/console`.
    pub enabled: bool,
    /// A session unused this long ends (minutes).
    pub idle_timeout_mins: u64,
    /// A session ends this long after sign-in whatever happens (hours: one shift).
    pub absolute_timeout_hours: u64,
    /// How long a sign-in link stays valid (minutes).
    pub link_ttl_mins: u64,
    /// Who may frame the console (CSP `frame-ancestors`): `'self'` by default; add the
    /// contact-centre desktop's origin to embed the call screen (e.g.
    /// `https://myinstance.my.connect.aws`, `https://apps.mypurecloud.com`).
    pub frame_ancestors: Vec<String>,
    /// Sign-in with the institution's IdP (`[console.oidc]`); sign-in links work either way.
    pub oidc: Option<oidc::OidcSettings>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            enabled: true,
            idle_timeout_mins: 30,
            absolute_timeout_hours: 12,
            link_ttl_mins: 15,
            frame_ancestors: vec!["'self'".into()],
            oidc: None,
        }
    }
}

impl ConsoleSettings {
    pub fn check(&self) -> Result<(), String> {
        if let Some(problems) = self.oidc.as_ref().map(oidc::OidcSettings::problems) {
            if !problems.is_empty() {
                return Err(problems.join("; "));
            }
        }
        if self.idle_timeout_mins == 0
            || self.absolute_timeout_hours == 0
            || self.link_ttl_mins == 0
        {
            return Err("console timeouts must be positive".into());
        }
        if let Some(bad) = self
            .frame_ancestors
            .iter()
            .find(|a| a.is_empty() || a.contains([';', ',', '\n', '\r']))
        {
            return Err(format!(
                "console.frame_ancestors: {bad:?} is not a CSP source"
            ));
        }
        Ok(())
    }
}

/// The console's routes (HTML, not in the OpenAPI document), with its security headers.
pub fn routes(st: &SharedState) -> Router<SharedState> {
    if !st.console.enabled {
        return Router::new();
    }
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(home::home))
        .route("/console/find", get(home::find))
        .route("/console/signin", get(session::signin))
        .route("/console/login/{token}", get(session::login_page))
        .route("/console/login", post(session::login))
        .route("/console/signout", post(session::signout))
        .route("/console/oidc/start", get(oidc::start))
        .route(oidc::CALLBACK_PATH, get(oidc::callback))
        .route("/console/calls/{call_id}", get(call::screen))
        .route("/console/calls/{call_id}/claims", post(call::claim))
        .route("/console/calls/{call_id}/outcome", post(call::outcome))
        .route("/console/calls/{call_id}/events", get(call::events))
        .route("/console/sources", get(sources::map))
        .route("/console/campaigns", get(analyst::campaigns))
        .route("/console/campaigns/{id}/status", post(analyst::review))
        .route("/console/outcomes", get(analyst::outcomes))
        .route("/console/sender-ids", get(sender_ids::list))
        .route("/console/exercises", get(exercises::list))
        .route("/console/exercises/{run}", get(exercises::show))
        .route("/console/sender-ids/{brand}", get(sender_ids::brand))
        .route(
            "/console/sender-ids/{brand}/blocked.csv",
            get(sender_ids::csv),
        )
        .route("/check", get(check::page).post(check::check))
        .route("/check/report", post(check::report))
        .route("/console/static/console.css", get(css))
        .route("/console/static/console.js", get(js))
        .layer(axum::middleware::from_fn_with_state(st.clone(), headers))
}

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../static/console.css"),
    )
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/console.js"),
    )
}

fn asset(ctype: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ctype),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Security headers on every console answer: a strict CSP (no inline script or style, nothing
/// from elsewhere), framing only by the configured ancestors, no caching of pages with
/// customer data, no referrer, no sniffing.
async fn headers(State(st): State<SharedState>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {}",
        st.console.frame_ancestors.join(" ")
    );
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// A rendered page, or a plain 500 if a template fails (it cannot with checked templates, but
/// never a panic).
pub(crate) fn page<T: askama::Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// A page with a title and a sentence (errors, confirmations).
pub(crate) fn message(
    status: StatusCode,
    person: Option<views::PersonView>,
    title: &str,
    message: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let t = views::MessagePage {
        person,
        title: title.to_string(),
        message: message.to_string(),
        link: link.map(|(h, _)| h.to_string()),
        link_text: link.map(|(_, t)| t.to_string()).unwrap_or_default(),
    };
    (status, page(&t)).into_response()
}
