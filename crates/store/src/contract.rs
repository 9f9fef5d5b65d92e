//! The store contract: behaviour every [`Store`] backend must show, written once. A backend's
//! test file runs all of it with [`crate::store_contract_tests!`], giving a fresh store per test.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use countersign_core::{Channel, DeliveryStatus, Facts, Millis, Money, Notification, StatusUpdate};

use crate::{AuditEntry, IngestOutcome, StatusOutcome, Store};

/// 2026-06-03T12:00:00Z.
pub const T0: Millis = 1_780_488_000_000;
const MIN: Millis = 60_000;
const HOUR: Millis = 3_600_000;

/// A realistic notification for tests.
pub fn note(source: &str, id: &str, customer: &str, sent_at: Millis) -> Notification {
    Notification {
        source: source.into(),
        id: id.into(),
        customer_id: customer.into(),
        channel: Channel::Sms,
        sender: Some("ACMEBANK".into()),
        recipient: Some("+14155550100".into()),
        sent_at,
        category: Some("card_auth".into()),
        template_id: Some("card-auth-v3".into()),
        facts: Facts {
            amount: Some(Money {
                minor: 47999,
                currency: Some("USD".into()),
            }),
            merchant: Some("BESTBUY #1123".into()),
            card_last4: Some("1123".into()),
            ..Default::default()
        },
        body: Some("ACME: Did you authorise $479.99 at BESTBUY #1123? Reply Y/N".into()),
        body_mac: Some([7u8; 16]),
        status: DeliveryStatus::Sent,
    }
}

fn call(id: &str, cust: Option<&str>, ani: &str, at: Millis) -> crate::CallRecord {
    crate::CallRecord {
        call_id: id.into(),
        customer_id: cust.map(str::to_string),
        ani: ani.into(),
        started_at: at,
        doc: "{}".into(),
    }
}

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

/// Audit entries read back newest first.
pub async fn audit_log(s: &dyn Store) {
    for i in 0..3 {
        s.audit(AuditEntry {
            at: T0 + i,
            actor: "agent-desk".into(),
            action: "verify".into(),
            customer_id: Some(format!("c{i}")),
            detail: None,
        })
        .await
        .unwrap();
    }
    // Audit writes ride on the next commit; a durable write flushes them.
    s.set_watermark("alerts", T0, None, T0).await.unwrap();
    let log = s.audit_log(2).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].customer_id.as_deref(), Some("c2"));
    assert_eq!(log[1].at, T0 + 1);
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

/// The brand registry: create, replace, list, delete.
pub async fn brands(s: &dyn Store) {
    assert!(s.brands().await.unwrap().is_empty());
    assert!(s
        .put_brand("acme", "{\"sender_ids\":[\"ACMEBANK\"]}".into(), T0)
        .await
        .unwrap());
    assert!(s.put_brand("northwind", "{}".into(), T0).await.unwrap());
    assert!(
        !s.put_brand("acme", "{\"sender_ids\":[\"ACME\"]}".into(), T0 + 1)
            .await
            .unwrap(),
        "a replace"
    );
    let all = s.brands().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0],
        (
            "acme".to_string(),
            "{\"sender_ids\":[\"ACME\"]}".to_string()
        )
    );
    assert!(s.delete_brand("northwind").await.unwrap());
    assert!(!s.delete_brand("northwind").await.unwrap());
    assert_eq!(s.brands().await.unwrap().len(), 1);
}

/// Profiles: a profile alone makes a customer known; replace reports not-created.
pub async fn profiles(s: &dyn Store) {
    assert!(
        !s.ledger_view("newbie", 0, Millis::MAX, 10)
            .await
            .unwrap()
            .customer_known
    );
    let out = s
        .put_profiles(
            vec![
                ("newbie".into(), "{\"phones\":[\"+14155550100\"]}".into()),
                ("other".into(), "{}".into()),
            ],
            T0,
        )
        .await
        .unwrap();
    assert_eq!(out, vec![true, true]);
    assert_eq!(
        s.put_profiles(vec![("newbie".into(), "{}".into())], T0 + 1)
            .await
            .unwrap(),
        vec![false]
    );
    assert_eq!(s.profile("newbie").await.unwrap().as_deref(), Some("{}"));
    assert_eq!(s.profile("nobody").await.unwrap(), None);
    let v = s.ledger_view("newbie", 0, Millis::MAX, 10).await.unwrap();
    assert!(v.customer_known && v.candidates.is_empty());
}

/// Calls, velocities, account events and claim verdicts.
pub async fn calls(s: &dyn Store) {
    assert!(s
        .put_call(call("k1", Some("c1"), "+14155550100", T0), true)
        .await
        .unwrap());
    assert!(
        !s.put_call(call("k1", Some("c9"), "+1", T0), true)
            .await
            .unwrap(),
        "call ids are unique"
    );
    for (i, c) in ["c2", "c3", "c3"].iter().enumerate() {
        s.put_call(
            call(&format!("k{}", i + 2), Some(c), "+14155550100", T0 + MIN),
            false,
        )
        .await
        .unwrap();
    }
    s.put_call(call("k9", Some("c1"), "+16285550177", T0 + MIN), false)
        .await
        .unwrap();
    // A durable write flushes the queued ones before it.
    s.put_call(call("k10", None, "+14155550100", T0 + MIN), true)
        .await
        .unwrap();
    let keys = s.call_keys_since(T0 + 1).await.unwrap();
    assert_eq!(
        keys.len(),
        5,
        "queued writes are committed before a later durable one"
    );
    assert!(keys.iter().all(|k| k.started_at > T0));
    assert!(keys.iter().any(|k| k.call_id == "k9"
        && k.ani == "+16285550177"
        && k.customer_id.as_deref() == Some("c1")));
    assert!(s
        .update_call("k1", "{\"outcome\":\"fraud\"}".into(), true)
        .await
        .unwrap());
    assert!(!s.update_call("nope", "{}".into(), true).await.unwrap());
    assert_eq!(
        s.get_call("k1").await.unwrap().unwrap().doc,
        "{\"outcome\":\"fraud\"}"
    );
    assert_eq!(s.get_call("nope").await.unwrap(), None);
    let since = s.calls_since(T0 + 1, 100).await.unwrap();
    assert_eq!(since.len(), 5);
    assert!(since.iter().all(|c| c.started_at > T0));
    assert_eq!(s.calls_since(0, 2).await.unwrap()[0].call_id, "k1");

    s.add_claim_verdict("k1", "not_sent", T0).await.unwrap();
    s.add_claim_verdict("k2", "not_sent", T0 + HOUR)
        .await
        .unwrap();
    s.add_claim_verdict("k3", "confirmed", T0).await.unwrap();
    // Queued verdicts are committed by a flush.
    s.flush().await.unwrap();
    assert_eq!(
        s.claim_verdict_times("not_sent", T0).await.unwrap(),
        vec![T0, T0 + HOUR]
    );
    assert_eq!(
        s.claim_verdict_times("not_sent", T0 + 1).await.unwrap(),
        vec![T0 + HOUR]
    );
}

/// One round trip for call scoring: whether the call exists, the profile, the distinct SMS
/// recipients in the window (newest first; e-mails and other customers left out), account events.
pub async fn call_context(s: &dyn Store) {
    let mut older = note("alerts", "r1", "c1", T0 - 3 * 24 * HOUR);
    older.recipient = Some("+14155550111".into());
    let newer = note("alerts", "r2", "c1", T0 - HOUR);
    let again = note("alerts", "r3", "c1", T0 - 2 * HOUR);
    let mut email = note("alerts", "r4", "c1", T0 - HOUR);
    email.channel = Channel::Email;
    email.recipient = Some("c1@example.com".into());
    let mut stranger = note("alerts", "r5", "c2", T0);
    stranger.recipient = Some("+14155550999".into());
    let mut outside = note("alerts", "r6", "c1", T0 - 40 * 24 * HOUR);
    outside.recipient = Some("+14155550222".into());
    s.ingest(vec![older, newer, again, email, stranger, outside], T0)
        .await
        .unwrap();
    s.put_profiles(vec![("c1".into(), "{\"phones\":[]}".into())], T0)
        .await
        .unwrap();
    s.add_account_events(vec![
        ("c1".into(), "sim_swap".into(), T0 - HOUR),
        ("c1".into(), "new_device".into(), T0 - 30 * HOUR),
    ])
    .await
    .unwrap();
    s.put_call(call("x1", Some("c1"), "+16285550100", T0), true)
        .await
        .unwrap();
    let window = (T0 - 30 * 24 * HOUR, T0 + HOUR);
    let ctx = s
        .call_context("x1", Some("c1"), window, T0 - 2 * HOUR)
        .await
        .unwrap();
    assert!(ctx.call_exists);
    assert_eq!(ctx.profile.as_deref(), Some("{\"phones\":[]}"));
    assert_eq!(
        ctx.sms_recipients,
        vec!["+14155550100".to_string(), "+14155550111".to_string()]
    );
    assert_eq!(
        ctx.account_events,
        vec![("sim_swap".to_string(), T0 - HOUR)]
    );
    let none = s
        .call_context("x2", None, window, T0 - 2 * HOUR)
        .await
        .unwrap();
    assert_eq!(none, crate::CallContext::default());
    let unknown = s
        .call_context("x2", Some("nobody"), window, 0)
        .await
        .unwrap();
    assert_eq!(unknown, crate::CallContext::default());
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
    s.add_smish_report(row(7, Some("c1"), T0 - 10 * 24 * HOUR), vec![])
        .await
        .unwrap();
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

/// Alerts: one per customer and key, a per-customer rate limit, read/acknowledged marks, and the
/// outbox: due deliveries, retries later, delivered once.
pub async fn alerts_and_outbox(s: &dyn Store) {
    use crate::{AlertOutcome, AlertRow};
    let alert = |id: &str, cust: &str, key: &str, at: Millis| AlertRow {
        id: id.into(),
        customer_id: cust.into(),
        dedupe_key: key.into(),
        created_at: at,
        doc: format!("{{\"id\":\"{id}\"}}"),
        read_at: None,
        acked_at: None,
    };
    let day = T0 - 24 * HOUR;
    assert_eq!(
        s.put_alert(alert("a1", "c1", "campaign:1", T0), day, 2, true)
            .await
            .unwrap(),
        AlertOutcome::Created
    );
    assert_eq!(
        s.put_alert(alert("a2", "c1", "campaign:1", T0 + 1), day, 2, true)
            .await
            .unwrap(),
        AlertOutcome::Duplicate
    );
    assert_eq!(
        s.put_alert(alert("a3", "c1", "call:k1", T0 + 2), day, 2, true)
            .await
            .unwrap(),
        AlertOutcome::Created
    );
    assert_eq!(
        s.put_alert(alert("a4", "c1", "call:k2", T0 + 3), day, 2, true)
            .await
            .unwrap(),
        AlertOutcome::RateLimited
    );
    assert_eq!(
        s.put_alert(alert("a5", "c2", "campaign:1", T0 + 4), day, 2, false)
            .await
            .unwrap(),
        AlertOutcome::Created
    );
    let feed = s.customer_alerts("c1", 10).await.unwrap();
    assert_eq!(
        feed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        vec!["a3", "a1"]
    );
    assert!(s.mark_alert("c1", "a1", false, T0 + 10).await.unwrap());
    assert!(s.mark_alert("c1", "a1", true, T0 + 20).await.unwrap());
    assert!(
        !s.mark_alert("c2", "a1", true, T0 + 20).await.unwrap(),
        "another customer's alert"
    );
    let a1 = s.alert("c1", "a1").await.unwrap().unwrap();
    assert_eq!((a1.read_at, a1.acked_at), (Some(T0 + 10), Some(T0 + 20)));
    assert_eq!(
        s.alert("c2", "a1").await.unwrap(),
        None,
        "another customer's alert"
    );

    // Only outbox alerts are delivered; a failure is retried when due, a success is final.
    let due = s.due_deliveries(T0 + 100, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|d| d.alert.id.as_str()).collect::<Vec<_>>(),
        vec!["a1", "a3"]
    );
    s.delivery_attempt("a1", Err((T0 + 5_000, "503".into())))
        .await
        .unwrap();
    s.delivery_attempt("a3", Ok(T0 + 101)).await.unwrap();
    assert!(s.due_deliveries(T0 + 4_999, 10).await.unwrap().is_empty());
    let again = s.due_deliveries(T0 + 5_000, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    let st = s.outbox_stats().await.unwrap();
    assert_eq!(
        (
            st.pending,
            st.delivered,
            st.oldest_pending_at,
            st.most_attempts
        ),
        (1, 1, Some(T0 + 5_000), 1)
    );
}

/// Generates one `#[tokio::test]` per contract case. `$make` is an async expression giving
/// `(store, guard)`: a fresh, empty store and whatever must live as long as it (a temp dir).
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr) => {
        $crate::store_contract_tests!(@each $make;
            ingest_outcomes, facts_only_round_trip, status_updates, watermarks_and_sources,
            customer_timeline, ledger_view, purge, audit_log, source_activity, concurrent_ingest, brands, profiles, calls, call_context, smish_reports, alerts_and_outbox, sms_kinds);
    };
    (@each $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $make.await;
                $crate::contract::$case(&*store).await;
            }
        )*
    };
}
