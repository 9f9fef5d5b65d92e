//! Contract cases of the campaigns group: smishing reports and campaign events.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use countersign_core::Millis;

use super::*;

/// Smishing reports replay in id order; a customer's reports count for call scoring; campaign
/// events come back in order.
pub async fn smish_reports(s: &dyn Store) {
    use crate::{CampaignEvent, SmishReportRow};
    let row = |id: i64, cust: Option<&str>, at: Millis| SmishReportRow {
        id,
        received_at: at,
        customer_id: cust.map(str::to_string),
        campaign_id: 1,
        doc: format!("{{\"n\":{id}}}"),
        idempotency_key: None,
        answer: None,
    };
    s.add_smish_report(row(2, Some("c1"), T0), vec![])
        .await
        .unwrap();
    let merged = CampaignEvent {
        campaign_id: 1,
        kind: "merged".into(),
        detail: Some("3".into()),
        at: T0,
    };
    s.add_smish_report(row(5, None, T0 + MIN), vec![merged.clone()])
        .await
        .unwrap();
    let keyed = SmishReportRow {
        idempotency_key: Some("app-7f3a".into()),
        answer: Some("{\"report_id\":7}".into()),
        ..row(7, Some("c1"), T0 - 10 * 24 * HOUR)
    };
    s.add_smish_report(keyed.clone(), vec![]).await.unwrap();
    assert_eq!(
        s.smish_report_by_key("app-7f3a").await.unwrap(),
        Some(keyed.clone())
    );
    assert_eq!(s.smish_report_by_key("app-7f3b").await.unwrap(), None);
    assert!(
        s.add_smish_report(SmishReportRow { id: 8, ..keyed }, vec![])
            .await
            .is_err(),
        "an idempotency key is stored once"
    );
    assert!(s
        .update_smish_report(5, "{\"sender\":\"x\"}".into())
        .await
        .unwrap());
    assert!(!s.update_smish_report(6, "{}".into()).await.unwrap());
    let all = s.smish_reports_after(0, 10).await.unwrap();
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), vec![2, 5, 7]);
    assert_eq!(all[1].doc, "{\"sender\":\"x\"}");
    assert_eq!(s.smish_reports_after(2, 1).await.unwrap()[0].id, 5);
    let status = CampaignEvent {
        campaign_id: 1,
        kind: "status".into(),
        detail: Some("{\"status\":\"confirmed\"}".into()),
        at: T0 + HOUR,
    };
    s.add_campaign_event(status.clone()).await.unwrap();
    assert_eq!(s.campaign_events().await.unwrap(), vec![merged, status]);
    let ctx = s
        .call_context("-", Some("c1"), (0, 0), T0 - 7 * 24 * HOUR)
        .await
        .unwrap();
    assert_eq!(ctx.smish_reports, 1, "only reports inside the window count");
}

/// Reports taken in one order: the plan sees what was stored since the caller last looked, the
/// new report's id is the next of the sequence (anything else is refused), a plan that declines
/// stores nothing; campaign events come back with their ids, after a given one.
pub async fn report_order(s: &dyn Store) {
    use crate::{CampaignEvent, SmishReportRow};
    let row = |id: i64| SmishReportRow {
        id,
        received_at: T0,
        customer_id: None,
        campaign_id: id,
        doc: "{}".into(),
        idempotency_key: None,
        answer: None,
    };
    s.add_smish_report(row(1), vec![]).await.unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let event = CampaignEvent {
        campaign_id: 2,
        kind: "merged".into(),
        detail: Some("1".into()),
        at: T0,
    };
    let stored = s
        .add_smish_report_in_order(
            0,
            Box::new(|newer: Vec<SmishReportRow>| {
                seen.lock().unwrap().extend(newer.iter().map(|r| r.id));
                Some((row(2), vec![event.clone()]))
            }),
        )
        .await
        .unwrap();
    assert!(stored);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![1],
        "the report another node stored"
    );
    assert!(!s
        .add_smish_report_in_order(
            2,
            Box::new(|newer| {
                assert!(newer.is_empty());
                None
            })
        )
        .await
        .unwrap());
    assert!(
        s.add_smish_report_in_order(2, Box::new(|_| Some((row(4), vec![]))))
            .await
            .is_err(),
        "ids leave no gap"
    );
    assert!(s
        .add_smish_report_in_order(2, Box::new(|_| Some((row(3), vec![]))))
        .await
        .unwrap());
    let all = s.smish_reports_after(0, 10).await.unwrap();
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), vec![1, 2, 3]);
    let events = s.campaign_events_after(0).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1, event);
    assert!(s
        .campaign_events_after(events[0].0)
        .await
        .unwrap()
        .is_empty());
}
