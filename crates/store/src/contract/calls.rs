//! Contract cases of the calls group: calls, claim verdicts, account events and the call context.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use countersign_core::Channel;

use super::*;

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

    // Queued calls asked at once (one batch where the backend batches them): each stored once,
    // the first of two with the same id kept, an id already stored left alone.
    let at = T0 + 2 * HOUR;
    let (a, b, c, d) = tokio::join!(
        s.put_call(call("q1", Some("c1"), "+16285550101", at), false),
        s.put_call(call("q2", Some("c2"), "+16285550102", at), false),
        s.put_call(call("q1", Some("c9"), "+16285550109", at), false),
        s.put_call(call("k1", Some("c9"), "+16285550109", at), false),
    );
    assert!(a.unwrap() && b.unwrap(), "new calls are answered as new");
    let _ = (c.unwrap(), d.unwrap());
    s.flush().await.unwrap();
    let keys = s.call_keys_since(at).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.call_id.as_str()).collect::<Vec<_>>(),
        vec!["q1", "q2"]
    );
    assert_eq!(
        keys[0].customer_id.as_deref(),
        Some("c1"),
        "the first q1 kept"
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

/// Velocity and the surge's counts from the stored calls and verdicts (what a shared store's
/// nodes score with): other parties only, windows inclusive at their start, the call itself
/// left out.
pub async fn velocity(s: &dyn Store) {
    let ani = "+16285550100";
    for (id, cust, number, at) in [
        ("v1", Some("c1"), ani, T0 - 2 * 24 * HOUR),
        ("v2", Some("c2"), ani, T0 - HOUR),
        ("v3", Some("c2"), ani, T0 - MIN),
        ("v4", None, ani, T0 - MIN),
        ("v5", Some("c3"), "+16285550111", T0 - 2 * HOUR),
        ("v6", Some("c3"), ani, T0 - 8 * 24 * HOUR),
        ("v7", Some("c3"), "+16285550122", T0 - 3 * HOUR),
    ] {
        s.put_call(call(id, cust, number, at), true).await.unwrap();
    }
    let (day, week) = (T0 - 24 * HOUR, T0 - 7 * 24 * HOUR);
    let v = s
        .call_velocity("now", ani, Some("c3"), day, week)
        .await
        .unwrap();
    assert_eq!(
        (v.ani_customers_24h, v.ani_customers_7d, v.customer_anis_24h),
        (1, 2, 2),
        "c2 in the day, c1 and c2 in the week (c3's own and the customerless call left out); \
         two other numbers called about c3"
    );
    let v = s
        .call_velocity("v3", ani, Some("c2"), day, week)
        .await
        .unwrap();
    assert_eq!(
        (v.ani_customers_24h, v.ani_customers_7d, v.customer_anis_24h),
        (0, 1, 0),
        "the call itself and its own customer are not counted"
    );
    assert_eq!(
        s.call_velocity("x", "+10000000000", None, day, week)
            .await
            .unwrap(),
        crate::Velocity::default()
    );
    for (verdict, at) in [
        ("not_sent", T0 - 30 * MIN),
        ("known_scam", T0 - HOUR),
        ("not_sent", T0 - 2 * HOUR),
        ("confirmed", T0 - MIN),
        ("not_sent", T0 - 200 * HOUR),
        ("not_sent", T0 + MIN),
    ] {
        s.add_claim_verdict("v1", verdict, at).await.unwrap();
    }
    s.flush().await.unwrap();
    assert_eq!(
        s.claim_counts(&["not_sent", "known_scam"], T0 - 169 * HOUR, T0 - HOUR, T0)
            .await
            .unwrap(),
        (2, 1)
    );
    // What a shared store's nodes score with is the three answers at once, whatever the parties.
    s.put_profiles(vec![("c2".into(), "{\"phones\":[]}".into())], T0)
        .await
        .unwrap();
    s.add_account_events(vec![
        ("c2".into(), "sim_swap".into(), T0 - HOUR),
        ("c2".into(), "new_device".into(), T0 - 2 * HOUR),
    ])
    .await
    .unwrap();
    let verdicts = ["not_sent", "known_scam"];
    let query = |call_id, customer_id, ani| crate::ScoringQuery {
        call_id,
        customer_id,
        ani,
        numbers: (T0 - 30 * 24 * HOUR, T0 + HOUR),
        events_since: T0 - 3 * HOUR,
        since_24h: day,
        since_7d: week,
        verdicts: &verdicts,
        surge_since: T0 - 169 * HOUR,
        hour_ago: T0 - HOUR,
        now: T0,
    };
    let parties = [
        ("now", Some("c3"), ani),
        ("v3", Some("c2"), ani),
        ("v2", Some("c2"), "+16285550122"),
        ("x", None, ani),
        ("x", Some("nobody"), "+10000000000"),
    ];
    let mut alone = Vec::new();
    for (call_id, customer, number) in parties {
        let q = query(call_id, customer, number);
        let together = s.scoring_reads(&q).await.unwrap();
        alone.push(together.clone());
        let apart = crate::ScoringReads {
            context: s
                .call_context(call_id, customer, q.numbers, q.events_since)
                .await
                .unwrap(),
            velocity: s
                .call_velocity(call_id, number, customer, day, week)
                .await
                .unwrap(),
            surge: (2, 1),
        };
        assert_eq!(together, apart, "{call_id} {customer:?} {number}");
    }
    // Asked at once (a backend may read them in one statement), each gets its own answer.
    let q = parties.map(|(id, customer, number)| query(id, customer, number));
    let at_once = tokio::join!(
        s.scoring_reads(&q[0]),
        s.scoring_reads(&q[1]),
        s.scoring_reads(&q[2]),
        s.scoring_reads(&q[3]),
        s.scoring_reads(&q[4]),
    );
    let at_once = [at_once.0, at_once.1, at_once.2, at_once.3, at_once.4].map(Result::unwrap);
    assert_eq!(at_once.to_vec(), alone);
    let c2 = s
        .scoring_reads(&query("v3", Some("c2"), ani))
        .await
        .unwrap();
    assert!(c2.context.call_exists);
    assert_eq!(
        c2.context.account_events,
        vec![
            ("sim_swap".to_string(), T0 - HOUR),
            ("new_device".to_string(), T0 - 2 * HOUR)
        ],
        "newest first"
    );
}

/// Calls scored as a node scores them (their reads, then the call queued without `wait`), many
/// at once: every one is stored once, and a call whose request went away after its reads (never
/// stored) does not hold up the calls after it.
pub async fn scored_and_stored(s: &dyn Store) {
    fn query(call_id: &str) -> crate::ScoringQuery<'_> {
        crate::ScoringQuery {
            call_id,
            customer_id: Some("c1"),
            ani: "+16285550100",
            numbers: (T0 - 30 * 24 * HOUR, T0 + HOUR),
            events_since: T0 - 3 * HOUR,
            since_24h: T0 - 24 * HOUR,
            since_7d: T0 - 7 * 24 * HOUR,
            verdicts: &["not_sent"],
            surge_since: T0 - 169 * HOUR,
            hour_ago: T0 - HOUR,
            now: T0,
        }
    }
    let score = |id: String| async move {
        let reads = s.scoring_reads(&query(&id)).await.unwrap();
        assert!(!reads.context.call_exists, "{id}");
        s.put_call(call(&id, Some("c1"), "+16285550100", T0), false)
            .await
            .unwrap()
    };
    // Read and never stored: the request was dropped between its reads and its write.
    s.scoring_reads(&query("dropped")).await.unwrap();
    let guard = std::time::Duration::from_secs(30);
    let stored = tokio::time::timeout(
        guard,
        futures_util::future::join_all((0..40).map(|i| score(format!("s{i}")))),
    )
    .await
    .expect("the scored calls were stored");
    assert!(stored.iter().all(|new| *new), "{stored:?}");
    // A later call is stored alone, not held up by the one that never came.
    let alone = tokio::time::timeout(guard, score("after".into())).await;
    assert!(alone.expect("a later call was stored"));
    s.flush().await.unwrap();
    let calls = s.calls_since(T0, 100).await.unwrap();
    assert_eq!(calls.len(), 41);
    assert!(s.get_call("dropped").await.unwrap().is_none());
}

/// The surge's counts at every edge: verdicts a millisecond either side of the week's start,
/// of an hour ago, of now and of the hours between, with a window that starts and ends inside
/// an hour, counted as one pass over the verdicts counts them — by `claim_counts` and by the
/// scoring read alike, and again after an exercise purge has deleted some of them (a backend
/// that counts by hour must count them out too).
pub async fn surge_by_hours(s: &dyn Store) {
    let now = T0 + 17 * MIN + 123;
    let (since, hour_ago) = (now - 169 * HOUR, now - HOUR);
    let verdicts = ["not_sent", "known_scam"];
    let kinds = ["not_sent", "known_scam", "confirmed"];
    let mut edges = Vec::new();
    for edge in [
        since,
        hour_ago,
        now,
        T0 - 100 * HOUR,
        T0 - 3 * HOUR,
        T0 - HOUR,
    ] {
        edges.extend([edge - 1, edge, edge + 1]);
    }
    edges.extend((0..40).map(|k| since + k * 4 * HOUR + 7 * MIN));
    let mut at_verdicts: Vec<(Millis, &str)> = edges
        .into_iter()
        .enumerate()
        .map(|(k, at)| (at, kinds[k % 3]))
        .collect();
    // Several of one verdict in one whole hour: its count goes up by each.
    at_verdicts.extend((0..4).map(|m| (T0 - 50 * HOUR + m * MIN, "not_sent")));
    let mut stored = Vec::new();
    for (k, &(at, verdict)) in at_verdicts.iter().enumerate() {
        let call_id = if k % 5 == 0 {
            format!("ex-9.c{k}")
        } else {
            format!("c{k}")
        };
        s.add_claim_verdict(&call_id, verdict, at).await.unwrap();
        s.put_call(call(&call_id, None, "+16285550199", at), true)
            .await
            .unwrap();
        stored.push((call_id, verdict, at));
    }
    s.flush().await.unwrap();
    let expected = |stored: &[(String, &str, Millis)]| {
        let forged = stored.iter().filter(|(_, v, _)| verdicts.contains(v));
        let last_hour = forged
            .clone()
            .filter(|(_, _, at)| *at >= hour_ago && *at <= now)
            .count() as u64;
        let before = forged
            .filter(|(_, _, at)| *at >= since && *at < hour_ago)
            .count() as u64;
        (last_hour, before)
    };
    let check = |want: (u64, u64)| async move {
        let counts = s
            .claim_counts(&verdicts, since, hour_ago, now)
            .await
            .unwrap();
        assert_eq!(counts, want, "claim_counts");
        let q = crate::ScoringQuery {
            call_id: "probe",
            customer_id: None,
            ani: "+16285550100",
            numbers: (now - HOUR, now),
            events_since: now - HOUR,
            since_24h: now - 24 * HOUR,
            since_7d: now - 7 * 24 * HOUR,
            verdicts: &verdicts,
            surge_since: since,
            hour_ago,
            now,
        };
        assert_eq!(
            s.scoring_reads(&q).await.unwrap().surge,
            want,
            "scoring_reads"
        );
    };
    let want = expected(&stored);
    assert!(want.0 > 0 && want.1 > 20, "{want:?}");
    check(want).await;
    s.purge_run("ex-9", vec![], vec![]).await.unwrap();
    stored.retain(|(call_id, _, _)| !call_id.starts_with("ex-9."));
    let fewer = expected(&stored);
    assert!(fewer.1 < want.1, "{fewer:?} {want:?}");
    check(fewer).await;
}
