//! Contract cases of the customers group: profiles.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use countersign_core::Millis;

use super::*;

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
