//! Who is at the console: single-use sign-in links (issued by an admin key through
//! `POST /v1/console/links`, printed by `countersign console-login` and the demo), browser
//! sessions (an opaque random id in an `HttpOnly`, `SameSite=Lax` cookie — `__Host-` and `Secure`
//! when the server speaks TLS — only its SHA-256 stored, idle and absolute timeouts, sign-out),
//! roles, and the CSRF check every state-changing form passes (the session's token and a
//! same-origin `Sec-Fetch-Site` / `Origin`).

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use countersign_core::validate::format_time;
use countersign_core::Millis;
use countersign_store::{LoginLink, SessionRow};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::views::{LoginPage, PersonView};
use super::{message, page};
use crate::auth::Scope;
use crate::http::JsonBody;
use crate::problem::Problem;
use crate::{now_ms, Auth, SharedState};

/// A console role. Admin stays key-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The call screen, the customer's notifications, the claim check, outcomes.
    Agent,
    /// Everything an agent sees, the analyst screens and campaign reviews.
    Analyst,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Analyst => "analyst",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "analyst" => Some(Role::Analyst),
            _ => None,
        }
    }
}

/// A signed-in person (the extractor sends anyone else to sign in).
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub role: Role,
    pub csrf: String,
    id_hash: String,
}

impl Person {
    /// Who the audit log and the verification record name.
    pub fn actor(&self) -> String {
        format!("console:{}", self.name)
    }

    pub fn view(&self) -> PersonView {
        PersonView {
            name: self.name.clone(),
            role: self.role.as_str(),
            analyst: self.role == Role::Analyst,
            csrf: self.csrf.clone(),
        }
    }

    /// Analyst screens: an agent is told plainly (the page to answer instead).
    pub fn refusal_unless_analyst(&self) -> Option<Response> {
        if self.role == Role::Analyst {
            None
        } else {
            Some(message(
                StatusCode::FORBIDDEN,
                Some(self.view()),
                "Analysts only",
                "This screen is for the fraud team's analysts.",
                Some(("/console", "Back to finding a call")),
            ))
        }
    }

    /// A state-changing form must carry the session's CSRF token and come from this site (the
    /// page to answer instead when it does not).
    pub fn form_refusal(&self, headers: &HeaderMap, token: &str) -> Option<Response> {
        let token_ok = bool::from(token.as_bytes().ct_eq(self.csrf.as_bytes()));
        if token_ok && same_origin(headers) {
            None
        } else {
            Some(message(
                StatusCode::FORBIDDEN,
                Some(self.view()),
                "Request refused",
                "This form did not come from this console page. Reload the page and try again.",
                Some(("/console", "Back to the console")),
            ))
        }
    }
}

/// A browser says where a request comes from: `Sec-Fetch-Site` (same-origin, or none for a
/// typed URL), else `Origin` naming this host. A request that says neither is refused.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        host,
    ) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host),
        _ => false,
    }
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `bytes` random bytes, hex.
pub fn random_hex(bytes: usize) -> String {
    use ring::rand::SecureRandom;
    let mut b = vec![0u8; bytes];
    // The OS's generator; it does not fail on Linux once booted.
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        tracing::error!("the system random generator failed");
    }
    hex::encode(b)
}

/// The console's cookie `base` (`cs_session`, `cs_oidc`): `__Host-` prefixed when the server
/// speaks TLS (the browser then insists on `Secure`, `Path=/` and no domain).
pub(crate) fn cookie_name(st: &SharedState, base: &str) -> String {
    if st.tls.is_some() {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// A `Set-Cookie` value for the console's cookie `base`: `HttpOnly`, `SameSite=Lax`, `Path=/`,
/// `Secure` with TLS; `max_age` 0 clears it (a `__Host-` cookie is only cleared with `Secure`).
pub(crate) fn set_cookie(st: &SharedState, base: &str, value: &str, max_age: u64) -> String {
    let secure = if st.tls.is_some() { "; Secure" } else { "" };
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        cookie_name(st, base)
    )
}

/// The session cookie's name (before the `__Host-` prefix).
const SESSION_COOKIE: &str = "cs_session";

/// A cookie's value from a request's headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

impl FromRequestParts<SharedState> for Person {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let to_signin = || {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            Redirect::to(&format!(
                "/console/signin?next={}",
                form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            ))
            .into_response()
        };
        let Some(id) = cookie(&parts.headers, &cookie_name(st, SESSION_COOKIE)) else {
            return Err(to_signin());
        };
        let id_hash = hash(&id);
        let row = st
            .store
            .session(&id_hash)
            .await
            .map_err(|e| Problem::store(e).into_response())?;
        let now = now_ms();
        let c = &st.console;
        let Some(row) = row.filter(|r| {
            now - r.last_seen_at <= c.idle_timeout_mins as Millis * 60_000
                && now - r.created_at <= c.absolute_timeout_hours as Millis * 3_600_000
        }) else {
            let _ = st.store.end_session(&id_hash).await;
            return Err(to_signin());
        };
        let Some(role) = Role::parse(&row.role) else {
            return Err(to_signin());
        };
        let person = Person {
            name: row.person,
            role,
            csrf: row.csrf_token,
            id_hash,
        };
        // People get the agents' request budget, by name.
        let principal = crate::auth::Principal {
            name: person.actor(),
            scopes: vec![Scope::Agent],
        };
        if let Err(p) = st.rate_limits.check(&principal) {
            crate::metrics::Metrics::add(&st.metrics.rate_limited, 1);
            return Err(p.into_response());
        }
        if now - row.last_seen_at > 60_000 {
            let _ = st.store.touch_session(&person.id_hash, now).await;
        }
        Ok(person)
    }
}

/// A person who may or may not be signed in (pages that show either way).
pub struct MaybePerson(pub Option<Person>);

impl FromRequestParts<SharedState> for MaybePerson {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybePerson(
            Person::from_request_parts(parts, st).await.ok(),
        ))
    }
}

#[derive(Deserialize)]
pub struct SigninQuery {
    #[serde(default)]
    next: String,
}

/// `GET /console/signin`: how to sign in (the IdP's button when `[console.oidc]` is set).
pub async fn signin(
    State(st): State<SharedState>,
    MaybePerson(p): MaybePerson,
    axum::extract::Query(q): axum::extract::Query<SigninQuery>,
) -> Response {
    if p.is_some() {
        return Redirect::to(super::oidc::safe_next(&q.next)).into_response();
    }
    const LINK: &str = "the single-use sign-in link you were given. An administrator makes one with: countersign console-login YOUR-NAME --role agent";
    match &st.oidc {
        Some(o) => {
            let href = format!(
                "/console/oidc/start?next={}",
                form_urlencoded::byte_serialize(super::oidc::safe_next(&q.next).as_bytes())
                    .collect::<String>()
            );
            message(
                StatusCode::OK,
                None,
                "Sign in",
                &format!("Or open {LINK}"),
                Some((&href, &format!("Sign in with {}", o.settings.display_name))),
            )
        }
        None => message(
            StatusCode::OK,
            None,
            "Sign in",
            &format!("Open {LINK}"),
            None,
        ),
    }
}

/// `GET /console/login/{token}`: a button that signs in (a link is only used by a person's
/// click, never by a mail scanner fetching it).
pub async fn login_page(Path(token): Path<String>) -> Response {
    page(&LoginPage {
        person: None,
        token,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
}

/// `POST /console/login`: use the link, start a session.
pub async fn login(
    State(st): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers) {
        return message(
            StatusCode::FORBIDDEN,
            None,
            "Request refused",
            "Sign in from the link's own page.",
            None,
        );
    }
    let now = now_ms();
    let redeemed = match st.store.redeem_login_link(&hash(&f.token), now).await {
        Ok(r) => r,
        Err(e) => return Problem::store(e).into_response(),
    };
    let Some((person, role)) = redeemed else {
        return message(
            StatusCode::FORBIDDEN,
            None,
            "This link cannot be used",
            "Sign-in links work once and expire after a few minutes. Ask for a new one.",
            None,
        );
    };
    let Some(role) = Role::parse(&role) else {
        return Problem::store(countersign_store::StoreError::Unavailable(format!(
            "a sign-in link holds an unknown role {role:?}"
        )))
        .into_response();
    };
    start_session(&st, &person, role, "via=link", "/console").await
}

/// Start a session for a person whose identity was proven (a link, or the IdP), write the
/// sign-in to the audit log, set the cookie and send the browser to `location`.
pub(crate) async fn start_session(
    st: &SharedState,
    person: &str,
    role: Role,
    detail: &str,
    location: &str,
) -> Response {
    let now = now_ms();
    let id = random_hex(32);
    let row = SessionRow {
        id_hash: hash(&id),
        person: person.to_string(),
        role: role.as_str().to_string(),
        csrf_token: random_hex(16),
        created_at: now,
        last_seen_at: now,
    };
    if let Err(e) = st.store.add_session(row).await {
        return Problem::store(e).into_response();
    }
    if let Err(e) = st
        .store
        .audit(countersign_store::AuditEntry {
            at: now,
            actor: format!("console:{person}"),
            action: "console_signin".into(),
            customer_id: None,
            detail: Some(format!("{detail} role={}", role.as_str())),
        })
        .await
    {
        return Problem::store(e).into_response();
    }
    // A security event: on disk before the session is handed out.
    if let Err(e) = st.store.flush().await {
        return Problem::store(e).into_response();
    }
    tracing::info!(person, role = role.as_str(), "console sign-in");
    let max_age = st.console.absolute_timeout_hours * 3600;
    set_cookie_and_go(st, &id, max_age, location)
}

/// Set (or, with `max_age` 0, clear) the session cookie and send the browser to `location`.
/// A `__Host-` cookie is only accepted — and only cleared — with `Secure`, so both carry it.
fn set_cookie_and_go(st: &SharedState, value: &str, max_age: u64, location: &str) -> Response {
    let cookie = set_cookie(st, SESSION_COOKIE, value, max_age);
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, location.to_string()),
        ],
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /console/signout`.
pub async fn signout(
    State(st): State<SharedState>,
    person: Person,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = person.form_refusal(&headers, &f.csrf) {
        return r;
    }
    let _ = st.store.end_session(&person.id_hash).await;
    set_cookie_and_go(&st, "", 0, "/console/signin")
}

/// A sign-in link to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkIn {
    /// The person's name as the audit log will show it.
    pub person: String,
    pub role: Role,
}

/// A single-use sign-in link.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkOut {
    /// Append to the server's address: `/console/login/…`.
    pub path: String,
    pub expires_at: String,
}

/// Make a sign-in link for `person` (also used by the demo).
pub async fn issue_link(st: &SharedState, person: &str, role: Role) -> Result<LinkOut, Problem> {
    let token = random_hex(32);
    let expires_at = now_ms() + st.console.link_ttl_mins as Millis * 60_000;
    st.store
        .add_login_link(LoginLink {
            token_hash: hash(&token),
            person: person.to_string(),
            role: role.as_str().to_string(),
            expires_at,
        })
        .await?;
    Ok(LinkOut {
        path: format!("/console/login/{token}"),
        expires_at: format_time(expires_at),
    })
}

#[utoipa::path(post, path = "/v1/console/links", tag = "console",
    request_body = LinkIn,
    responses((status = 200, description = "A single-use sign-in link, valid for `console.link_ttl_mins`", body = LinkOut),
        (status = 422, description = "`invalid_field`", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn post_link(
    State(st): State<SharedState>,
    auth: Auth,
    JsonBody(l): JsonBody<LinkIn>,
) -> Result<Json<LinkOut>, Problem> {
    let who = auth.require(Scope::Admin)?.name.clone();
    let person = l.person.trim();
    if person.is_empty() || person.chars().count() > 64 || person.chars().any(|c| c.is_control()) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "`person` is a name of 1 to 64 printable characters",
        ));
    }
    let link = issue_link(&st, person, l.role).await?;
    st.store
        .audit(countersign_store::AuditEntry {
            at: now_ms(),
            actor: who,
            action: "console_link".into(),
            customer_id: None,
            detail: Some(format!("person={person} role={}", l.role.as_str())),
        })
        .await?;
    Ok(Json(link))
}

/// The API route that issues links (in the OpenAPI document).
pub fn api_routes() -> utoipa_axum::router::OpenApiRouter<SharedState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(post_link))
}
