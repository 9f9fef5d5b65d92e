//! Contract cases of the checks group: customers' text checks stored, counted per campaign, and
//! a forged one counting for the customer's later calls like a smishing report.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use super::*;
use crate::TextCheckRow;

pub async fn text_checks(s: &dyn Store) {
    let check = |customer: &str, at, verdict: &str, forged, campaign_id| TextCheckRow {
        customer_id: customer.into(),
        at,
        verdict: verdict.into(),
        forged,
        campaign_id,
        indicators: "{}".into(),
    };
    let a = s
        .add_text_check(check("maria", T0, "known_scam", true, Some(7)))
        .await
        .unwrap();
    let b = s
        .add_text_check(check("omar", T0, "known_scam", true, Some(7)))
        .await
        .unwrap();
    s.add_text_check(check("omar", T0, "we_sent_this", false, None))
        .await
        .unwrap();
    s.add_text_check(check(
        "lee",
        T0 - 40 * 24 * HOUR,
        "we_did_not_send_this",
        true,
        Some(3),
    ))
    .await
    .unwrap();
    assert!(b > a, "ids grow");
    assert_eq!(
        s.text_checks_by_campaign().await.unwrap(),
        vec![(3, 1), (7, 2)]
    );
    // A forged text checked counts like a report for the customer's calls (in the window only).
    let ctx = s
        .call_context(
            "c1",
            Some("maria"),
            (T0 - HOUR, T0 + HOUR),
            T0 - 30 * 24 * HOUR,
        )
        .await
        .unwrap();
    assert_eq!(ctx.smish_reports, 1);
    let ctx = s
        .call_context(
            "c2",
            Some("lee"),
            (T0 - HOUR, T0 + HOUR),
            T0 - 30 * 24 * HOUR,
        )
        .await
        .unwrap();
    assert_eq!(ctx.smish_reports, 0, "older than the window");
    let _ = MIN;
}
