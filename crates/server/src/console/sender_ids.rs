//! The analyst's sender-ID screens: the brand registry (each brand's sender IDs, numbers, links
//! and policy for unregistered senders), a brand's lookalike audit (coverage per family of
//! variant, some that got through, the false-positive check) and its blocked-variant CSV for
//! carriers — the same audit as `GET /v1/brands/{brand}/variants`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use countersign_core::sender::Registry;
use countersign_core::variants::{audit, AuditReport};

use super::session::Person;
use super::views::{BrandRow, FamilyRow, SenderAuditPage, SenderIdsPage};
use super::{message, page};
use crate::SharedState;

fn registry(st: &SharedState) -> Arc<Registry> {
    st.registry
        .read()
        .map(|r| r.clone())
        .unwrap_or_else(|p| p.into_inner().clone())
}

/// `GET /console/sender-ids`.
pub async fn list(State(st): State<SharedState>, person: Person) -> Response {
    if let Some(r) = person.refusal_unless_analyst() {
        return r;
    }
    let reg = registry(&st);
    let mut brands: Vec<BrandRow> = reg
        .brands
        .values()
        .map(|b| {
            let mut numbers: Vec<&String> = b.callback_numbers.iter().collect();
            numbers.sort();
            let mut domains: Vec<&String> = b.domains.iter().collect();
            domains.sort();
            BrandRow {
                name: b.name.clone(),
                display: b
                    .spec
                    .display_names
                    .first()
                    .cloned()
                    .unwrap_or_else(|| b.name.clone()),
                senders: b
                    .senders
                    .iter()
                    .map(|(_, id)| id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                numbers: numbers
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                domains: domains
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                policy: format!("{:?}", b.spec.unregistered_policy).to_lowercase(),
            }
        })
        .collect();
    brands.sort_by(|a, b| a.name.cmp(&b.name));
    page(&SenderIdsPage {
        person: Some(person.view()),
        brands,
    })
}

/// A brand's audit for an analyst; the page to answer instead for anyone else or an unknown
/// brand.
async fn analyst_report(
    st: &SharedState,
    person: &Person,
    brand: &str,
) -> Result<AuditReport, Response> {
    if let Some(r) = person.refusal_unless_analyst() {
        return Err(r);
    }
    report(st, brand)
        .await
        .ok_or_else(|| no_brand(person, brand))
}

async fn report(st: &SharedState, brand: &str) -> Option<AuditReport> {
    let reg = registry(st);
    let legit = st.legit_sender_ids.clone();
    let extract = st.validation.extract;
    let brand = brand.to_string();
    tokio::task::spawn_blocking(move || audit(&reg, &brand, Some(legit.as_slice()), &extract))
        .await
        .ok()
        .flatten()
}

fn no_brand(person: &Person, brand: &str) -> Response {
    message(
        StatusCode::NOT_FOUND,
        Some(person.view()),
        "No such brand",
        &format!("No brand {brand:?} is registered."),
        Some(("/console/sender-ids", "Back to sender IDs")),
    )
}

/// `GET /console/sender-ids/{brand}`.
pub async fn brand(
    State(st): State<SharedState>,
    person: Person,
    Path(brand): Path<String>,
) -> Response {
    let r = match analyst_report(&st, &person, &brand).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let summary = format!(
        "{} lookalike variants of {} generated; the filter catches {} ({:.1} %).{}",
        r.variants,
        r.protected_ids.join(", "),
        r.caught,
        r.coverage * 100.0,
        r.false_positives
            .as_ref()
            .map(|f| format!(
                " False positives on other organisations' real IDs: {} of {}.",
                f.flagged, f.total
            ))
            .unwrap_or_default()
    );
    page(&SenderAuditPage {
        person: Some(person.view()),
        brand: brand.clone(),
        summary,
        families: r
            .families
            .iter()
            .map(|f| FamilyRow {
                family: f.family.clone(),
                total: f.total,
                caught: f.caught,
                coverage: format!("{:.1} %", f.coverage * 100.0),
                misses: f
                    .misses
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
    })
}

/// `GET /console/sender-ids/{brand}/blocked.csv`: the carrier export.
pub async fn csv(
    State(st): State<SharedState>,
    person: Person,
    Path(brand): Path<String>,
) -> Response {
    let r = match analyst_report(&st, &person, &brand).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{brand}-blocked-variants.csv\""),
            ),
        ],
        r.export_csv(),
    )
        .into_response()
}
