//! "Did my bank send this?" for the institution's app (`app` scope): a text the customer pasted,
//! checked against the ledger exactly as an agent's claim is (audit-logged, the same honesty
//! rule) and answered in the customer's words (`core::textcheck`); and a number or link on its
//! own checked against the brand registry and the campaigns.

use axum::extract::State;
use axum::Json;
use countersign_core::extract::{extract_from_body, normalize_phone, registrable_domain};
use countersign_core::textcheck::{
    answer, clean_pasted, CheckVerdict, Lang, NotOurs, TextCheckAnswer,
};
use countersign_core::verify::{ClaimIn, CueResult, MentionsIn, Verification};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Scope;
use crate::http::{JsonBody, Path};
use crate::problem::Problem;
use crate::{Auth, SharedState};

/// Most characters of a pasted text.
const TEXT_CHARS_MAX: usize = 2_000;

/// A text the customer pasted or shared from their messages.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextCheckIn {
    /// The text as shared (forwarding headers, "Sent from my iPhone" and wrapped links are
    /// cleaned away).
    pub text: Option<String>,
    /// The sender the phone showed ("ACMEBNK", "+1 888 555 0142").
    pub sender: Option<String>,
    /// When it arrived (RFC 3339), if the app knows.
    pub received_at: Option<String>,
}

/// The institution's name as customers know it: the registry's first display name.
fn brand_name(st: &SharedState) -> String {
    crate::sender_ids::registry(st)
        .brands
        .values()
        .find_map(|b| b.spec.display_names.first().cloned())
        .unwrap_or_else(|| "your bank".into())
}

/// What in the text is not ours: a sender imitating ours (from the verification's evidence),
/// numbers and links no brand in the registry owns (only when the registry knows any).
fn not_ours(st: &SharedState, text: &str, v: &Verification) -> Vec<NotOurs> {
    let mut out: Vec<NotOurs> = v
        .evidence
        .iter()
        .filter(|e| e.cue == "sender" && e.result == CueResult::Mismatch)
        .filter_map(|e| Some(NotOurs::Sender(e.claimed.clone()?, e.recorded.clone()?)))
        .collect();
    let reg = crate::sender_ids::registry(st);
    if reg.brands.is_empty() {
        return out;
    }
    let facts = extract_from_body(text, &st.validation.extract);
    for n in facts.callback_numbers {
        if !reg.brands.values().any(|b| b.callback_numbers.contains(&n)) {
            out.push(NotOurs::Number(n));
        }
    }
    for d in facts.domains {
        if !reg.brands.values().any(|b| b.domains.contains(&d)) {
            out.push(NotOurs::Link(d));
        }
    }
    out
}

#[utoipa::path(
    post, path = "/v1/customers/{customer_id}/text-checks", tag = "customer checks",
    params(("customer_id" = String, Path)),
    request_body = TextCheckIn,
    responses(
        (status = 200, description = "The customer's answer: `we_sent_this`, `we_did_not_send_this` (only on a complete record), `known_scam` or `cannot_tell_yet`, in the profile's language", body = TextCheckAnswer),
        (status = 422, description = "`missing_field`, `text_too_long`, `invalid_time`, `invalid_customer_id`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many checks for this customer (`[checks] per_customer_per_min`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn post_text_check(
    State(st): State<SharedState>,
    auth: Auth,
    Path(customer_id): Path<String>,
    JsonBody(raw): JsonBody<TextCheckIn>,
) -> Result<Json<TextCheckAnswer>, Problem> {
    let who = format!("app:{}", auth.require(Scope::App)?.name);
    check_text(&st, &customer_id, &raw, &who).await.map(Json)
}

/// Check a pasted text for a customer (`who` for the audit log): the API's and `/check`'s.
pub async fn check_text(
    st: &SharedState,
    customer_id: &str,
    raw: &TextCheckIn,
    who: &str,
) -> Result<TextCheckAnswer, Problem> {
    let customer_id = customer_id.to_string();
    crate::customers::check_id(&customer_id, st.validation.limits.id_chars_max)?;
    st.check_limits.check(&customer_id)?;
    let pasted = pasted_text(raw)?;
    let claim_in = ClaimIn {
        customer_id: Some(customer_id.clone()),
        channel: Some("sms".into()),
        received_at: raw.received_at.clone(),
        sender_seen: raw.sender.clone().or(pasted.sender.clone()),
        mentions: MentionsIn {
            // The quote the verification compares (the claim's limit), its cues extracted.
            text: Some(pasted.text.chars().take(1_024).collect()),
            ..Default::default()
        },
    };
    let claim = countersign_core::verify::validate_claim(
        &claim_in,
        &st.validation.extract,
        st.validation.limits.id_chars_max,
    )
    .map_err(Problem::invalid)?;
    let v = crate::verification::verify_claim(st, &claim, who).await?;
    let lang = customer_lang(st, &customer_id).await?;
    let mine = not_ours(st, &pasted.text, &v);
    let mut a = answer(&v, &mine, &brand_name(st), lang);
    // What the check found — never the text — for the fraud team and the customer's later calls.
    let indicators: Vec<serde_json::Value> = mine
        .iter()
        .map(|n| {
            let (kind, value) = n.indicator();
            serde_json::json!({"kind": kind, "value": value})
        })
        .collect();
    let id = st
        .store
        .add_text_check(countersign_store::TextCheckRow {
            customer_id: customer_id.clone(),
            at: st.now(),
            verdict: a.verdict.as_str().to_string(),
            forged: matches!(
                a.verdict,
                CheckVerdict::WeDidNotSendThis | CheckVerdict::KnownScam
            ),
            campaign_id: a.campaign_id,
            indicators: serde_json::Value::Array(indicators).to_string(),
            text_mac: Some(text_mac(st, &pasted.text)),
        })
        .await?;
    a.check_id = Some(id);
    st.metrics.count_text_check(a.verdict.as_str());
    Ok(a)
}

/// The keyed MAC of a cleaned text: what ties a report to its check without keeping the text.
fn text_mac(st: &SharedState, cleaned: &str) -> Vec<u8> {
    countersign_core::validate::body_mac(&st.validation.body_hmac_key, cleaned).to_vec()
}

/// The text as pasted, required, within its limit, cleaned of what sharing adds.
fn pasted_text(raw: &TextCheckIn) -> Result<countersign_core::textcheck::Pasted, Problem> {
    let text = raw
        .text
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            Problem::unprocessable(
                "missing_field",
                "`text` (the message as the customer got it) is required",
            )
        })?;
    if text.chars().count() > TEXT_CHARS_MAX {
        return Err(Problem::unprocessable(
            "text_too_long",
            format!("`text` has more than {TEXT_CHARS_MAX} characters"),
        ));
    }
    let pasted = clean_pasted(text);
    if pasted.text.is_empty() {
        return Err(Problem::unprocessable(
            "missing_field",
            "`text` holds nothing but a forwarding header",
        ));
    }
    Ok(pasted)
}

/// A report filed from a check, and the check.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckReportAnswer {
    pub check_id: i64,
    #[serde(flatten)]
    pub report: crate::services::campaigns::ReportAnswer,
}

#[utoipa::path(
    post, path = "/v1/customers/{customer_id}/text-checks/{check_id}/report", tag = "customer checks",
    params(("customer_id" = String, Path), ("check_id" = i64, Path)),
    request_body(content = TextCheckIn, description = "The text as checked (Countersign never kept it; it must be the same text) and, optionally, the sender and arrival time"),
    responses(
        (status = 200, description = "The smishing report filed from the check (`reported_via` app), clustered like a 7726 report; a retry answers the same report with `replayed`", body = CheckReportAnswer),
        (status = 404, description = "`unknown_check`: no such check for this customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`we_sent_this`: the check found the institution's own text", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`missing_field`, `text_too_long`, `text_differs` (not the text that was checked), `invalid_time`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn post_check_report(
    State(st): State<SharedState>,
    auth: Auth,
    Path((customer_id, check_id)): Path<(String, String)>,
    JsonBody(raw): JsonBody<TextCheckIn>,
) -> Result<Json<CheckReportAnswer>, Problem> {
    auth.require(Scope::App)?;
    report_check(&st, &customer_id, &check_id, &raw)
        .await
        .map(Json)
}

/// File the smishing report of a check (its one tap): the API's and `/check`'s.
pub async fn report_check(
    st: &SharedState,
    customer_id: &str,
    check_id: &str,
    raw: &TextCheckIn,
) -> Result<CheckReportAnswer, Problem> {
    let customer_id = customer_id.to_string();
    crate::customers::check_id(&customer_id, st.validation.limits.id_chars_max)?;
    st.check_limits.check(&customer_id)?;
    let unknown = || {
        Problem::new(
            axum::http::StatusCode::NOT_FOUND,
            "unknown_check",
            format!("no text check {check_id:?} for this customer"),
        )
    };
    let id: i64 = check_id.parse().map_err(|_| unknown())?;
    // Read your writes: the check may still ride the group commit.
    st.store.flush().await?;
    // Another customer's check is "unknown" too: nothing is said about it.
    let check = st
        .store
        .text_check(id)
        .await?
        .filter(|c| c.row.customer_id == customer_id)
        .ok_or_else(unknown)?;
    if check.row.verdict == CheckVerdict::WeSentThis.as_str() {
        return Err(Problem::new(
            axum::http::StatusCode::CONFLICT,
            "we_sent_this",
            "the check found our own text: there is nothing to report",
        ));
    }
    let pasted = pasted_text(raw)?;
    if check
        .row
        .text_mac
        .as_ref()
        .is_some_and(|m| *m != text_mac(st, &pasted.text))
    {
        return Err(Problem::unprocessable(
            "text_differs",
            "`text` is not the text that was checked: check this text first",
        ));
    }
    let report = countersign_core::report::validate_report(
        &countersign_core::report::ReportIn {
            customer_id: Some(customer_id),
            reporter_number: None,
            sender: raw.sender.clone().or(pasted.sender),
            body: Some(pasted.text),
            received_at: raw.received_at.clone(),
            reported_via: Some("app".into()),
            // The check's one report: a second tap, or a retry, answers the first.
            report_id: Some(format!("text-check-{id}")),
        },
        st.now(),
        &st.validation.extract,
        st.validation.limits.id_chars_max,
    )
    .map_err(Problem::invalid)?;
    let answer = crate::services::campaigns::report(st, report).await?;
    if check.report_id != Some(answer.report_id) {
        let campaign = Some(answer.assignment.campaign_id).filter(|_| !answer.awaiting_sender);
        st.store
            .link_text_check_report(id, answer.report_id, campaign)
            .await?;
    }
    Ok(CheckReportAnswer {
        check_id: id,
        report: answer,
    })
}

/// A link to the `/check` page for one customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckLink {
    /// Relative to the server (`/check?t=…`): open it in the app's web view.
    pub url: String,
    /// RFC 3339; the link works until then (`[console] link_ttl_mins`, 15 by default).
    pub expires_at: String,
}

#[utoipa::path(
    post, path = "/v1/customers/{customer_id}/check-links", tag = "customer checks",
    params(("customer_id" = String, Path)),
    responses(
        (status = 201, description = "A signed link to the `/check` page for this customer, for the app to open in a web view (no session, no cookie; valid `[console] link_ttl_mins`, 15 by default)", body = CheckLink),
        (status = 404, description = "`console_disabled`: the server does not serve pages (`[console] enabled = false`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_customer_id`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn post_check_link(
    State(st): State<SharedState>,
    auth: Auth,
    Path(customer_id): Path<String>,
) -> Result<(axum::http::StatusCode, Json<CheckLink>), Problem> {
    auth.require(Scope::App)?;
    crate::customers::check_id(&customer_id, st.validation.limits.id_chars_max)?;
    if !st.console.enabled {
        return Err(Problem::new(
            axum::http::StatusCode::NOT_FOUND,
            "console_disabled",
            "this server does not serve pages: `[console] enabled = false`",
        ));
    }
    let exp = st.now() + crate::console::check::link_ttl_ms(&st);
    let token = crate::console::check::link_token(&st, &customer_id, exp);
    Ok((
        axum::http::StatusCode::CREATED,
        Json(CheckLink {
            url: format!("/check?t={token}"),
            expires_at: countersign_core::validate::format_time(exp),
        }),
    ))
}

/// A number or a link to check on its own: exactly one.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactCheckIn {
    pub number: Option<String>,
    pub link: Option<String>,
}

/// What a number or link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactStatus {
    /// In the brand registry.
    Official,
    /// A link whose name imitates an official domain.
    Lookalike,
    /// In a smishing campaign customers reported.
    ScamIndicator,
    /// Nothing known either way.
    Unknown,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactCheckAnswer {
    /// The number (E.164) or the link's registrable domain, as checked.
    pub value: String,
    pub status: ContactStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// For a lookalike: the official domain it imitates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imitates: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<u64>,
    /// One sentence for the customer.
    pub says: String,
}

#[utoipa::path(
    post, path = "/v1/contact-checks", tag = "customer checks",
    request_body = ContactCheckIn,
    responses(
        (status = 200, description = "`official`, `lookalike`, `scam_indicator` or `unknown`", body = ContactCheckAnswer),
        (status = 422, description = "`invalid_request` (not exactly one of number and link), `invalid_phone`, `invalid_link`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn post_contact_check(
    State(st): State<SharedState>,
    auth: Auth,
    JsonBody(c): JsonBody<ContactCheckIn>,
) -> Result<Json<ContactCheckAnswer>, Problem> {
    auth.require(Scope::App)?;
    let reg = crate::sender_ids::registry(&st);
    let brand = brand_name(&st);
    let (value, official, claim) = match (c.number.as_deref(), c.link.as_deref()) {
        (Some(n), None) => {
            let e164 = normalize_phone(n, &st.validation.extract).ok_or_else(|| {
                Problem::unprocessable("invalid_phone", format!("{n:?} is not a phone number"))
            })?;
            let owner = reg
                .brands
                .values()
                .find(|b| b.callback_numbers.contains(&e164))
                .map(|b| b.name.clone());
            let claim = countersign_core::verify::Claim {
                callback_number: Some(e164.clone()),
                ..Default::default()
            };
            (e164, owner, claim)
        }
        (None, Some(l)) => {
            let d = registrable_domain(l).ok_or_else(|| {
                Problem::unprocessable("invalid_link", format!("{l:?} is not a link"))
            })?;
            let owner = reg
                .brands
                .values()
                .find(|b| b.domains.contains(&d))
                .map(|b| b.name.clone());
            let claim = countersign_core::verify::Claim {
                domain: Some(d.clone()),
                ..Default::default()
            };
            (d, owner, claim)
        }
        _ => {
            return Err(Problem::unprocessable(
                "invalid_request",
                "give exactly one of `number` and `link`",
            ))
        }
    };
    let lookalike = || {
        claim
            .domain
            .is_some()
            .then(|| reg.domain_lookalike(&value))
            .flatten()
    };
    // Official first, then a reported scam, then a lookalike of an official domain.
    let (status, owner, imitates, campaign_id) = if let Some(b) = official {
        (ContactStatus::Official, Some(b), None, None)
    } else if let Some((id, _)) = crate::services::campaigns::claim_campaign(&st, &claim) {
        (ContactStatus::ScamIndicator, None, None, Some(id))
    } else if let Some(l) = lookalike() {
        (
            ContactStatus::Lookalike,
            Some(l.brand),
            Some(l.protected_id),
            None,
        )
    } else {
        (ContactStatus::Unknown, None, None, None)
    };
    let says = match (status, &imitates) {
        (ContactStatus::Official, _) => format!("{value} is an official contact of {brand}."),
        (ContactStatus::ScamIndicator, _) => format!(
            "{value} is used in a scam customers have reported. {brand} does not use it: do not call or open it."
        ),
        (ContactStatus::Lookalike, Some(i)) => {
            format!("{value} is not a website of {brand}: it imitates {i}. Do not open it.")
        }
        _ => format!(
            "{value} is not a contact of {brand} that we know of. To reach us, use the {brand} app or the number on the back of your card."
        ),
    };
    Ok(Json(ContactCheckAnswer {
        value,
        status,
        brand: owner,
        imitates,
        campaign_id,
        says,
    }))
}

/// `[checks]`: the customer's own checks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckSettings {
    /// An outbound call with no "ended" status counts as in progress this long (minutes).
    pub calling_now_max_mins: i64,
    /// Text checks and calling-now questions per customer per minute (0: unlimited).
    pub per_customer_per_min: u32,
}

impl Default for CheckSettings {
    fn default() -> Self {
        CheckSettings {
            calling_now_max_mins: 60,
            per_customer_per_min: 10,
        }
    }
}

#[utoipa::path(
    get, path = "/v1/customers/{customer_id}/calling-now", tag = "customer checks",
    params(("customer_id" = String, Path)),
    responses(
        (status = 200, description = "`calling` (who and since when), `not_calling`, or `cannot_tell` when the voice feed is behind — never a false no", body = countersign_core::calling::CallingNow),
        (status = 422, description = "`invalid_customer_id`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many checks for this customer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn get_calling_now(
    State(st): State<SharedState>,
    auth: Auth,
    Path(customer_id): Path<String>,
) -> Result<Json<countersign_core::calling::CallingNow>, Problem> {
    let who = format!("app:{}", auth.require(Scope::App)?.name);
    crate::customers::check_id(&customer_id, st.validation.limits.id_chars_max)?;
    st.check_limits.check(&customer_id)?;
    let now = st.now();
    let max_ms = st.checks.calling_now_max_mins * 60_000;
    let view = crate::verification::ledger_view(
        &st,
        &customer_id,
        now - max_ms,
        now + st.validation.future_skew_ms,
    )
    .await?;
    st.store
        .audit(countersign_store::AuditEntry {
            at: now,
            actor: who,
            action: "calling_now".into(),
            customer_id: Some(customer_id.clone()),
            detail: None,
        })
        .await?;
    let voice = countersign_core::verify::freshness(
        &view.sources,
        Some(countersign_core::Channel::Voice),
        Some(&customer_id),
        &st.verify,
    );
    let lang = customer_lang(&st, &customer_id).await?;
    Ok(Json(countersign_core::calling::calling_now(
        &view.candidates,
        &voice,
        now,
        max_ms,
        &brand_name(&st),
        lang,
    )))
}

/// The customer's language, from their profile's locale.
async fn customer_lang(st: &SharedState, customer_id: &str) -> Result<Lang, Problem> {
    let locale = st
        .store
        .profile(customer_id)
        .await?
        .and_then(|p| serde_json::from_str::<countersign_core::profile::Profile>(&p).ok())
        .and_then(|p| p.locale);
    Ok(Lang::of_locale(locale.as_deref()))
}

/// This resource's routes, each registered with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(post_text_check))
        .routes(routes!(post_check_report))
        .routes(routes!(post_check_link))
        .routes(routes!(post_contact_check))
        .routes(routes!(get_calling_now))
}
