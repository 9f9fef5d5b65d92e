//! `/check`: the customer's "did my bank send this?" page, for the institution's app to open in
//! a web view. The app backend mints a link per customer (`POST /v1/customers/{id}/check-links`,
//! app scope): a signed, short-lived token, no session and no cookie. The page takes the pasted
//! text, answers in the customer's words through the same service as the API, and offers the
//! one-tap report. Server-rendered, no script, the console's stylesheet and headers.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use countersign_core::Millis;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::problem::Problem;
use crate::text_checks::{check_text, report_check, TextCheckIn};
use crate::SharedState;

/// How long a check link stays valid: as long as a console sign-in link (`[console]
/// link_ttl_mins`).
pub fn link_ttl_ms(st: &SharedState) -> Millis {
    st.console.link_ttl_mins as Millis * 60_000
}

fn mac(st: &SharedState, customer: &str, exp: Millis) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&st.validation.body_hmac_key)
        .expect("HMAC accepts any key length");
    m.update(b"countersign check link\0");
    m.update(customer.as_bytes());
    m.update(b"\0");
    m.update(exp.to_string().as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// A link token for `customer`, valid until `exp`: `hex(customer).exp.hex(mac)`.
pub fn link_token(st: &SharedState, customer: &str, exp: Millis) -> String {
    format!(
        "{}.{exp}.{}",
        hex::encode(customer),
        hex::encode(mac(st, customer, exp))
    )
}

/// The customer a token names, when it is genuine and not expired at `now`.
pub fn token_customer(st: &SharedState, token: &str, now: Millis) -> Option<String> {
    let mut parts = token.split('.');
    let (c, exp, sig) = (parts.next()?, parts.next()?, parts.next()?);
    let customer = String::from_utf8(hex::decode(c).ok()?).ok()?;
    let exp: Millis = exp.parse().ok()?;
    let sig = hex::decode(sig).ok()?;
    let genuine: bool =
        subtle::ConstantTimeEq::ct_eq(sig.as_slice(), mac(st, &customer, exp).as_slice()).into();
    (genuine && parts.next().is_none() && now <= exp).then_some(customer)
}

#[derive(Template)]
#[template(path = "check/check.html")]
pub struct CheckPage {
    /// Never signed in: the base layout's header stays empty.
    pub person: Option<super::views::PersonView>,
    pub token: String,
    pub text: String,
    pub sender: String,
    pub error: String,
    pub answer: Option<AnswerView>,
    pub reported: Option<String>,
}

/// The answer as the page shows it.
pub struct AnswerView {
    pub tone: &'static str,
    pub headline: String,
    pub not_ours: Vec<String>,
    pub advice: String,
    pub check_id: Option<i64>,
    pub can_report: bool,
}

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    pub t: String,
}

#[derive(Deserialize)]
pub struct CheckForm {
    #[serde(default)]
    pub t: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub sender: String,
    #[serde(default)]
    pub check_id: String,
}

fn render(status: StatusCode, p: &CheckPage) -> Response {
    (status, super::page(p)).into_response()
}

fn expired() -> Response {
    super::message(
        StatusCode::FORBIDDEN,
        None,
        "This link has expired",
        "Open the check again from your bank's app.",
        None,
    )
}

fn blank(token: String) -> CheckPage {
    CheckPage {
        person: None,
        token,
        text: String::new(),
        sender: String::new(),
        error: String::new(),
        answer: None,
        reported: None,
    }
}

/// The customer a posted form is for: its link genuine and unexpired, sent from its own page.
fn form_customer(
    st: &SharedState,
    headers: &HeaderMap,
    f: &CheckForm,
) -> Result<String, Box<Response>> {
    let customer = token_customer(st, &f.t, st.now()).ok_or_else(|| Box::new(expired()))?;
    if !super::session::same_origin(headers) {
        return Err(Box::new(super::message(
            StatusCode::FORBIDDEN,
            None,
            "Not allowed",
            "This form must be sent from its own page.",
            None,
        )));
    }
    Ok(customer)
}

/// The form, for a genuine link.
pub async fn page(State(st): State<SharedState>, Query(q): Query<LinkQuery>) -> Response {
    if token_customer(&st, &q.t, st.now()).is_none() {
        return expired();
    }
    render(StatusCode::OK, &blank(q.t))
}

/// The pasted text checked, the answer shown.
pub async fn check(
    State(st): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<CheckForm>,
) -> Response {
    let customer = match form_customer(&st, &headers, &f) {
        Ok(c) => c,
        Err(refused) => return *refused,
    };
    let raw = input(&f);
    let mut p = blank(f.t.clone());
    p.text = f.text.clone();
    p.sender = f.sender.clone();
    match check_text(&st, &customer, &raw, "app:check-page").await {
        Ok(a) => {
            p.answer = Some(AnswerView {
                tone: match a.verdict {
                    countersign_core::textcheck::CheckVerdict::WeSentThis => "ok",
                    countersign_core::textcheck::CheckVerdict::CannotTellYet => "unknown",
                    _ => "danger",
                },
                headline: a.headline,
                not_ours: a.not_ours,
                advice: a.advice,
                check_id: a.check_id,
                can_report: a.can_report,
            });
            render(StatusCode::OK, &p)
        }
        Err(e) => refused(p, e),
    }
}

/// The one-tap report of a checked text.
pub async fn report(
    State(st): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<CheckForm>,
) -> Response {
    let customer = match form_customer(&st, &headers, &f) {
        Ok(c) => c,
        Err(refused) => return *refused,
    };
    let mut p = blank(f.t.clone());
    match report_check(&st, &customer, &f.check_id, &input(&f)).await {
        Ok(_) => {
            p.reported = Some(
                "Thank you: we have the report, and it helps us warn other customers. You can delete the text.".into(),
            );
            render(StatusCode::OK, &p)
        }
        Err(e) => refused(p, e),
    }
}

fn input(f: &CheckForm) -> TextCheckIn {
    TextCheckIn {
        text: Some(f.text.clone()),
        sender: Some(f.sender.trim().to_string()).filter(|s| !s.is_empty()),
        received_at: None,
    }
}

/// A refused check shown on the form, in words (the problem's own detail).
fn refused(mut p: CheckPage, e: Problem) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    p.error = match e.code.as_str() {
        "missing_field" => "Paste the text you got into the box first.".into(),
        "text_too_long" => "That is longer than a text message: paste just the one text.".into(),
        "rate_limited" => "Too many checks in a minute: wait a moment and try again.".into(),
        _ => e.detail.clone(),
    };
    render(status, &p)
}
