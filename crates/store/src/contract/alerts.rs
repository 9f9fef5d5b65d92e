//! Contract cases of the alerts group: alerts, the rate limit and the webhook outbox.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use countersign_core::Millis;

use super::*;

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
    let lease = T0 + 60_000;
    let due = s.claim_deliveries(T0 + 100, 10, lease).await.unwrap();
    assert_eq!(
        due.iter().map(|d| d.alert.id.as_str()).collect::<Vec<_>>(),
        vec!["a1", "a3"]
    );
    // Claimed: no other node takes them while the lease lasts.
    assert!(s
        .claim_deliveries(T0 + 200, 10, lease)
        .await
        .unwrap()
        .is_empty());
    s.delivery_attempt("a1", Err((T0 + 5_000, "503".into())))
        .await
        .unwrap();
    s.delivery_attempt("a3", Ok(T0 + 101)).await.unwrap();
    assert!(s
        .claim_deliveries(T0 + 4_999, 10, lease)
        .await
        .unwrap()
        .is_empty());
    let again = s.claim_deliveries(T0 + 5_000, 10, lease).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    // A claim whose node died before recording anything: due again once its lease ends.
    assert!(s
        .claim_deliveries(lease - 1, 10, lease + 60_000)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.claim_deliveries(lease, 10, lease + 60_000)
            .await
            .unwrap()
            .len(),
        1
    );
    let st = s.outbox_stats().await.unwrap();
    assert_eq!(
        (
            st.pending,
            st.delivered,
            st.oldest_pending_at,
            st.most_attempts
        ),
        (1, 1, Some(lease + 60_000), 1),
        "the pending one's next attempt is its lease's end"
    );
    let latest: Vec<String> = s
        .recent_alerts(2)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(latest, vec!["a5", "a3"], "every customer's, newest first");
}
