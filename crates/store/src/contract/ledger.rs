//! Contract cases of the ledger group: ingest outcomes, facts-only bodies, status updates,
//! watermarks and sources, the timeline, verification's read, purge, source activity, concurrent
//! writers, SMS kinds.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use countersign_core::{Channel, DeliveryStatus, Facts, Millis, Money, Notification, StatusUpdate};

use super::*;
use crate::{IngestOutcome, StatusOutcome};

/// Accepted, duplicate on retry, conflict on different content — also within one batch.
pub async fn ingest_outcomes(s: &dyn Store) {
    let a = note("alerts", "n1", "c1", T0);
    let b = note("alerts", "n2", "c1", T0 + MIN);
    let out = s
        .ingest(vec![a.clone(), b.clone()], T0 + 2 * MIN)
        .await
        .unwrap();
    assert_eq!(out, vec![IngestOutcome::Accepted, IngestOutcome::Accepted]);

    let mut changed = a.clone();
    changed.facts.amount = Some(Money {
        minor: 100,
        currency: None,
    });
    let mut status_only = b.clone();
    status_only.status = DeliveryStatus::Delivered;
    let c = note("alerts", "n3", "c1", T0 + 2 * MIN);
    let out = s
        .ingest(
            vec![a.clone(), changed, status_only, c.clone(), c.clone()],
            T0 + 3 * MIN,
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![
            IngestOutcome::Duplicate,
            IngestOutcome::Conflict,
            IngestOutcome::Duplicate,
            IngestOutcome::Accepted,
            IngestOutcome::Duplicate
        ]
    );
    // The same id under another source is another record.
    let other = note("marketing", "n1", "c1", T0);
    assert_eq!(
        s.ingest(vec![other], T0 + 3 * MIN).await.unwrap(),
        vec![IngestOutcome::Accepted]
    );
    assert_eq!(s.stats().await.unwrap().notifications, 4);
    let stored = s
        .customer_notifications("c1", 0, Millis::MAX, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 4);
    let first = stored
        .iter()
        .find(|n| n.record.source == "alerts" && n.record.id == "n1")
        .unwrap();
    assert_eq!(first.record, a, "a stored record reads back exactly");
    assert_eq!(first.acked_at, T0 + 2 * MIN);
    assert_eq!(s.ingest(Vec::new(), T0).await.unwrap(), vec![]);
}

/// A record without a body (facts-only retention) and with empty facts reads back exactly.
pub async fn facts_only_round_trip(s: &dyn Store) {
    let mut n = note("alerts", "f1", "c9", T0);
    n.body = None;
    let mut bare = note("alerts", "f2", "c9", T0 + 1);
    bare.body = None;
    bare.body_mac = None;
    bare.facts = Facts::default();
    bare.sender = None;
    bare.recipient = None;
    bare.category = None;
    bare.template_id = None;
    bare.channel = Channel::Push;
    s.ingest(vec![n.clone(), bare.clone()], T0 + MIN)
        .await
        .unwrap();
    let got = s
        .customer_notifications("c9", 0, Millis::MAX, 10)
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].record, bare);
    assert_eq!(got[1].record, n);
}

/// Status updates apply in time order; unknown records are reported.
pub async fn status_updates(s: &dyn Store) {
    s.ingest(vec![note("alerts", "s1", "c1", T0)], T0 + MIN)
        .await
        .unwrap();
    let upd = |id: &str, status, at| StatusUpdate {
        source: "alerts".into(),
        id: id.into(),
        status,
        at,
    };
    let out = s
        .update_status(vec![
            upd("s1", DeliveryStatus::Read, T0 + 10 * MIN),
            // Late and out of order: acknowledged, but it must not overwrite the newer status.
            upd("s1", DeliveryStatus::Delivered, T0 + 5 * MIN),
            upd("missing", DeliveryStatus::Failed, T0 + 5 * MIN),
            StatusUpdate {
                source: "nosuchsource".into(),
                id: "s1".into(),
                status: DeliveryStatus::Failed,
                at: T0,
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![
            StatusOutcome::Updated,
            StatusOutcome::Updated,
            StatusOutcome::NotFound,
            StatusOutcome::NotFound
        ]
    );
    let got = s
        .customer_notifications("c1", 0, Millis::MAX, 10)
        .await
        .unwrap();
    assert_eq!(got[0].record.status, DeliveryStatus::Read);
    assert_eq!(got[0].status_at, T0 + 10 * MIN);
}

/// Watermarks never move back; sources track channels, counts and times.
pub async fn watermarks_and_sources(s: &dyn Store) {
    let st = s
        .set_watermark("alerts", T0, Some(T0 - 48 * HOUR), T0 + MIN)
        .await
        .unwrap();
    assert_eq!(st.declared_watermark, Some(T0));
    assert_eq!(st.complete_since, Some(T0 - 48 * HOUR));
    let st = s
        .set_watermark("alerts", T0 - HOUR, None, T0 + 2 * MIN)
        .await
        .unwrap();
    assert_eq!(
        st.declared_watermark,
        Some(T0),
        "a watermark never moves back"
    );
    assert_eq!(st.watermark_updated_at, Some(T0 + 2 * MIN));
    assert_eq!(st.complete_since, Some(T0 - 48 * HOUR));

    let mut push = note("alerts", "p1", "c1", T0 + 5 * MIN);
    push.channel = Channel::Push;
    s.ingest(vec![note("alerts", "a1", "c1", T0), push], T0 + 6 * MIN)
        .await
        .unwrap();
    s.ingest(vec![note("email-svc", "e1", "c2", T0)], T0 + 7 * MIN)
        .await
        .unwrap();
    let sources = s.sources().await.unwrap();
    assert_eq!(sources.len(), 2);
    let alerts = sources.iter().find(|x| x.source == "alerts").unwrap();
    assert!(
        alerts.sends_on(Channel::Sms)
            && alerts.sends_on(Channel::Push)
            && !alerts.sends_on(Channel::Email)
    );
    assert_eq!(alerts.records_total, 2);
    assert_eq!(alerts.last_sent_at, Some(T0 + 5 * MIN));
    assert_eq!(alerts.first_acked_at, Some(T0 + 6 * MIN));
    assert_eq!(alerts.last_acked_at, Some(T0 + 6 * MIN));
    let email = sources.iter().find(|x| x.source == "email-svc").unwrap();
    assert_eq!(email.declared_watermark, None);
    assert_eq!(email.complete_since, None);
}

/// The feed set-up guard: records sent before a source's record is complete are counted, a
/// declaration of `complete_since` recounts them, and a purge takes them off.
pub async fn records_before_complete(s: &dyn Store) {
    // A backfill of five days, acknowledged now: all of it before completeness (which starts
    // at the first acknowledgement), and the live record after.
    let backfill: Vec<_> = (1..=5)
        .map(|d| note("cards", &format!("b{d}"), "c1", T0 - d * 24 * HOUR))
        .collect();
    s.ingest(backfill, T0).await.unwrap();
    s.ingest(vec![note("cards", "live", "c1", T0 + MIN)], T0 + MIN)
        .await
        .unwrap();
    let cards = |v: Vec<countersign_core::SourceState>| {
        v.into_iter().find(|x| x.source == "cards").unwrap()
    };
    let st = cards(s.sources().await.unwrap());
    assert_eq!((st.records_total, st.records_before_complete), (6, 5));
    assert_eq!(st.first_sent_at, Some(T0 - 5 * 24 * HOUR));
    // The integrator declares the record complete from three and a half days back.
    let st = s
        .set_watermark("cards", T0 + MIN, Some(T0 - 84 * HOUR), T0 + 2 * MIN)
        .await
        .unwrap();
    assert_eq!(
        st.records_before_complete, 2,
        "days 4 and 5 are still before it"
    );
    // A later backfill record before completeness counts; one after it does not.
    s.ingest(
        vec![
            note("cards", "b6", "c1", T0 - 6 * 24 * HOUR),
            note("cards", "b7", "c1", T0 - HOUR),
        ],
        T0 + 3 * MIN,
    )
    .await
    .unwrap();
    assert_eq!(cards(s.sources().await.unwrap()).records_before_complete, 3);
    // Retention purges the oldest: they no longer count.
    assert_eq!(s.purge(T0 - 90 * HOUR).await.unwrap(), 3);
    let st = cards(s.sources().await.unwrap());
    assert_eq!(st.records_before_complete, 0);
    // Declared from the first record: nothing lies before.
    let st = s
        .set_watermark("cards", T0 + MIN, Some(T0 - 90 * HOUR), T0 + 4 * MIN)
        .await
        .unwrap();
    assert_eq!(st.records_before_complete, 0);
}

/// The timeline is newest first, bounded by the window and the limit.
pub async fn customer_timeline(s: &dyn Store) {
    let batch: Vec<_> = (0..20)
        .map(|i| note("alerts", &format!("t{i}"), "c1", T0 + i * HOUR))
        .collect();
    s.ingest(batch, T0 + 21 * HOUR).await.unwrap();
    s.ingest(vec![note("alerts", "x", "c2", T0)], T0 + 21 * HOUR)
        .await
        .unwrap();
    let got = s
        .customer_notifications("c1", T0 + 5 * HOUR, T0 + 9 * HOUR, 100)
        .await
        .unwrap();
    let ids: Vec<_> = got.iter().map(|n| n.record.id.as_str()).collect();
    assert_eq!(ids, vec!["t9", "t8", "t7", "t6", "t5"]);
    let got = s
        .customer_notifications("c1", 0, Millis::MAX, 3)
        .await
        .unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].record.id, "t19");
    assert!(s
        .customer_notifications("nobody", 0, Millis::MAX, 3)
        .await
        .unwrap()
        .is_empty());
}

/// The verification read: known customers, candidates in the window, every source.
pub async fn ledger_view(s: &dyn Store) {
    s.ingest(vec![note("alerts", "v1", "c1", T0)], T0 + MIN)
        .await
        .unwrap();
    let v = s
        .ledger_view("c1", T0 + HOUR, T0 + 2 * HOUR, 10)
        .await
        .unwrap();
    assert!(v.customer_known, "known even with nothing in the window");
    assert!(v.candidates.is_empty());
    assert_eq!(v.sources.len(), 1);
    let v = s.ledger_view("c1", T0 - HOUR, T0 + HOUR, 10).await.unwrap();
    assert_eq!(v.candidates.len(), 1);
    let v = s.ledger_view("stranger", 0, Millis::MAX, 10).await.unwrap();
    assert!(!v.customer_known);
}

/// Purge deletes exactly the records sent before the cut.
pub async fn purge(s: &dyn Store) {
    let batch: Vec<_> = (0..30)
        .map(|i| note("alerts", &format!("p{i}"), "c1", T0 + i * HOUR))
        .collect();
    s.ingest(batch, T0 + 31 * HOUR).await.unwrap();
    assert_eq!(s.purge(T0 + 10 * HOUR).await.unwrap(), 10);
    assert_eq!(s.purge(T0 + 10 * HOUR).await.unwrap(), 0);
    assert_eq!(s.stats().await.unwrap().notifications, 20);
    let left = s
        .customer_notifications("c1", 0, Millis::MAX, 100)
        .await
        .unwrap();
    assert_eq!(left.len(), 20);
    assert!(left.iter().all(|n| n.record.sent_at >= T0 + 10 * HOUR));
    // A number is forgotten with the last notification sent to it, not before.
    let mut old = note("alerts", "q1", "c2", T0);
    old.recipient = Some("+14155550333".into());
    let mut kept = note("alerts", "q2", "c2", T0);
    kept.recipient = Some("+14155550444".into());
    let mut again = kept.clone();
    again.id = "q3".into();
    // (more than a day later: the last-sent time moves by days)
    again.sent_at = T0 + 30 * HOUR;
    s.ingest(vec![old, kept, again], T0 + 31 * HOUR)
        .await
        .unwrap();
    assert_eq!(s.purge(T0 + 10 * HOUR).await.unwrap(), 2);
    let ctx = s
        .call_context("-", Some("c2"), (0, Millis::MAX), 0)
        .await
        .unwrap();
    assert_eq!(ctx.sms_recipients, vec!["+14155550444".to_string()]);
    // A purged key can be ingested again (it is outside retention's protection).
    assert_eq!(
        s.ingest(
            vec![note("alerts", "p0", "c1", T0 + 40 * HOUR)],
            T0 + 40 * HOUR
        )
        .await
        .unwrap(),
        vec![IngestOutcome::Accepted]
    );
}

/// Per-source activity counts records and lag by acknowledgement minute.
pub async fn source_activity(s: &dyn Store) {
    let batch: Vec<_> = (0..10)
        .map(|i| note("alerts", &format!("a{i}"), "c1", T0 - 2_000))
        .collect();
    s.ingest(batch, T0).await.unwrap();
    s.ingest(
        vec![note("alerts", "old", "c1", T0 - 3 * HOUR)],
        T0 - 2 * HOUR,
    )
    .await
    .unwrap();
    let act = s.source_activity(T0 - HOUR).await.unwrap();
    assert_eq!(act.len(), 1);
    assert_eq!(act[0].records, 10);
    let p50 = act[0].lag.quantile(0.5).unwrap();
    assert!((2_000..=2_500).contains(&p50), "lag p50 {p50}");
    let hour = |t: Millis| t.div_euclid(HOUR) * HOUR;
    let day = s.source_activity(T0 - 3 * HOUR).await.unwrap();
    assert_eq!(
        day[0]
            .per_hour
            .iter()
            .map(|(h, n)| (*h, *n))
            .collect::<Vec<_>>(),
        vec![(hour(T0 - 2 * HOUR), 1), (hour(T0), 10)],
        "records per hour of acknowledgement"
    );
}

/// Many concurrent writers: every acknowledged record is stored once.
pub async fn concurrent_ingest(s: &dyn Store) {
    let mut tasks = Vec::new();
    for w in 0..8 {
        let batches: Vec<Vec<Notification>> = (0..10)
            .map(|b| {
                (0..50)
                    .map(|i| note("alerts", &format!("w{w}-{b}-{i}"), &format!("c{i}"), T0))
                    .collect()
            })
            .collect();
        tasks.push(batches);
    }
    let futs = tasks.into_iter().map(|batches| async move {
        let mut n = 0;
        for b in batches {
            n += s
                .ingest(b, T0 + 1)
                .await
                .unwrap()
                .iter()
                .filter(|o| **o == IngestOutcome::Accepted)
                .count();
        }
        n
    });
    let counts = futures_join_all(futs).await;
    assert_eq!(counts.iter().sum::<usize>(), 4000);
    assert_eq!(s.stats().await.unwrap().notifications, 4000);
    assert_eq!(s.sources().await.unwrap()[0].records_total, 4000);
}

async fn futures_join_all<F: std::future::Future<Output = usize>>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<usize> {
    // A tiny join_all: poll each future to completion concurrently on this task.
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out = vec![None; set.len()];
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|v| v.unwrap_or(0)).collect()
}

/// The kinds of SMS sent recently and who received each (for warning customers about a
/// campaign that imitates a kind of text they were just sent).
pub async fn sms_kinds(s: &dyn Store) {
    let mut statement = note("alerts", "k1", "c1", T0 - 5 * HOUR);
    statement.template_id = Some("statement-v1".into());
    statement.body = Some("Your statement is ready".into());
    let mut old = note("alerts", "k2", "c4", T0 - 5 * 24 * HOUR);
    old.template_id = Some("old-v1".into());
    let mut email = note("alerts", "k3", "c5", T0);
    email.channel = Channel::Email;
    email.template_id = Some("mail-v1".into());
    s.ingest(
        vec![
            note("alerts", "k4", "c1", T0 - HOUR),
            note("alerts", "k5", "c2", T0 - 2 * HOUR),
            note("alerts", "k6", "c2", T0 - 3 * HOUR),
            statement,
            old,
            email,
        ],
        T0,
    )
    .await
    .unwrap();
    let since = T0 - 24 * HOUR;
    let mut kinds = s.sms_kinds_since(since).await.unwrap();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            (
                "card-auth-v3".to_string(),
                note("a", "b", "c", 0).body.unwrap()
            ),
            (
                "statement-v1".to_string(),
                "Your statement is ready".to_string()
            )
        ]
    );
    let mut who = s
        .sms_recipients_of_kind("card-auth-v3", since, 10)
        .await
        .unwrap();
    who.sort();
    assert_eq!(who, vec!["c1".to_string(), "c2".to_string()]);
    assert_eq!(
        s.sms_recipients_of_kind("card-auth-v3", since, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(s
        .sms_recipients_of_kind("old-v1", since, 10)
        .await
        .unwrap()
        .is_empty());
}
