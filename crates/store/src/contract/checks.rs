//! Contract cases of the checks group: customers' text checks stored, counted per campaign, and
//! a forged one counting for the customer's later calls like a smishing report.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use super::*;
use crate::TextCheckRow;

pub async fn text_checks(s: &dyn Store) {
    // The reports (and forged checks) that count for a call about `customer` now.
    async fn reported(s: &dyn Store, call_id: &str, customer: &str) -> u32 {
        let window = (T0 - HOUR, T0 + HOUR);
        s.call_context(call_id, Some(customer), window, T0 - 30 * 24 * HOUR)
            .await
            .unwrap()
            .smish_reports
    }
    let check = |customer: &str, at, verdict: &str, forged, campaign_id| TextCheckRow {
        customer_id: customer.into(),
        at,
        verdict: verdict.into(),
        forged,
        campaign_id,
        indicators: "{}".into(),
        text_mac: Some(vec![7; 4]),
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
    // Given at once; read back after a flush (the rows ride the group commit).
    s.flush().await.unwrap();
    assert_eq!(
        s.text_checks_by_campaign().await.unwrap(),
        vec![(3, 1), (7, 2)]
    );
    // A forged text checked counts like a report for the customer's calls (in the window only).
    assert_eq!(reported(s, "c1", "maria").await, 1);
    assert_eq!(reported(s, "c2", "lee").await, 0, "older than the window");
    // Read back; a report filed from the check counts instead of it (not twice).
    let got = s.text_check(a).await.unwrap().unwrap();
    assert_eq!(
        (
            got.id,
            got.row.customer_id.as_str(),
            got.row.text_mac.as_deref(),
            got.report_id
        ),
        (a, "maria", Some(&[7u8; 4][..]), None)
    );
    assert_eq!(got.row.campaign_id, Some(7));
    assert!(s.text_check(a + 1_000).await.unwrap().is_none());
    s.link_text_check_report(a, 42, Some(9)).await.unwrap();
    let linked = s.text_check(a).await.unwrap().unwrap();
    assert_eq!(
        (linked.report_id, linked.row.campaign_id),
        (Some(42), Some(7)),
        "a check's own campaign stays"
    );
    let c = s
        .add_text_check(check("lee", T0, "we_did_not_send_this", true, None))
        .await
        .unwrap();
    s.flush().await.unwrap();
    s.link_text_check_report(c, 43, Some(9)).await.unwrap();
    assert_eq!(
        s.text_check(c).await.unwrap().unwrap().row.campaign_id,
        Some(9),
        "a check without one counts on its report's campaign"
    );
    assert_eq!(
        s.text_checks_by_campaign().await.unwrap(),
        vec![(3, 1), (7, 2), (9, 1)]
    );
    assert_eq!(
        reported(s, "c3", "maria").await,
        0,
        "the linked report counts, not the check"
    );
    let _ = MIN;
}
