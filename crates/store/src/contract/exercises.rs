//! Contract cases of the exercises group: a purge removes exactly the run's namespace (and the
//! reports it is given, retiring their campaigns), and after-action reports round-trip.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use super::*;
use crate::{ExerciseReportRow, SmishReportRow};

pub async fn exercise_purge(s: &dyn Store) {
    let report = |id: i64, cust: &str, campaign_id: i64| SmishReportRow {
        id,
        received_at: T0,
        customer_id: Some(cust.into()),
        campaign_id,
        doc: "{}".into(),
        idempotency_key: None,
        answer: None,
    };
    for (source, customer, call_id, rep, campaign) in [
        ("cards", "c-1", "CA-1", 1, 1),
        ("ex-1.cards", "ex-1.maria", "ex-1.call", 2, 2),
        ("ex-2.cards", "ex-2.maria", "ex-2.call", 3, 3),
    ] {
        s.ingest(vec![note(source, "n", customer, T0)], T0)
            .await
            .unwrap();
        s.put_profiles(vec![(customer.into(), "{}".into())], T0)
            .await
            .unwrap();
        s.put_call(call(call_id, Some(customer), "+14155550100", T0), true)
            .await
            .unwrap();
        s.add_claim_verdict(call_id, "not_sent", T0).await.unwrap();
        s.add_account_events(vec![(customer.into(), "sim_swap".into(), T0)])
            .await
            .unwrap();
        s.add_smish_report(report(rep, customer, campaign), vec![])
            .await
            .unwrap();
    }
    // A call about the run's customer under a platform's id is the run's too.
    s.put_call(
        call("CA-unmarked", Some("ex-1.maria"), "+14155550101", T0),
        true,
    )
    .await
    .unwrap();
    let c = s.purge_run("ex-1", vec![2], vec![2]).await.unwrap();
    assert_eq!(
        (
            c.notifications,
            c.sources,
            c.customers,
            c.calls,
            c.claim_verdicts
        ),
        (1, 1, 1, 2, 1)
    );
    assert_eq!(
        (c.account_events, c.smish_reports, c.campaigns_retired),
        (1, 1, 1)
    );
    let sources: Vec<String> = s
        .sources()
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.source)
        .collect();
    assert!(sources.contains(&"cards".into()) && sources.contains(&"ex-2.cards".into()));
    assert!(!sources.contains(&"ex-1.cards".into()));
    assert!(s.profile("ex-1.maria").await.unwrap().is_none());
    assert!(
        s.profile("c-1").await.unwrap().is_some()
            && s.profile("ex-2.maria").await.unwrap().is_some()
    );
    assert!(s.get_call("CA-unmarked").await.unwrap().is_none());
    assert!(
        s.get_call("CA-1").await.unwrap().is_some()
            && s.get_call("ex-2.call").await.unwrap().is_some()
    );
    let left: Vec<i64> = s
        .smish_reports_after(0, 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, [1, 3]);
    assert_eq!(s.retired_campaigns().await.unwrap(), [2]);
    assert_eq!(
        s.purge_run("ex-1", vec![], vec![]).await.unwrap().total(),
        0
    );

    let row = |run: &str, at| ExerciseReportRow {
        run: run.into(),
        started_at: at,
        name: "Paired pattern".into(),
        overall: "Performed".into(),
        doc: "{}".into(),
    };
    s.put_exercise_report(row("ex-1", T0)).await.unwrap();
    s.put_exercise_report(row("ex-2", T0 + MIN)).await.unwrap();
    s.put_exercise_report(ExerciseReportRow {
        overall: "Major challenges".into(),
        ..row("ex-1", T0)
    })
    .await
    .unwrap();
    let list = s.exercise_reports(10).await.unwrap();
    assert_eq!(
        list.iter().map(|r| r.run.as_str()).collect::<Vec<_>>(),
        ["ex-2", "ex-1"]
    );
    assert_eq!(
        s.exercise_report("ex-1").await.unwrap().unwrap().overall,
        "Major challenges"
    );
    assert!(s.exercise_report("ex-9").await.unwrap().is_none());
}
