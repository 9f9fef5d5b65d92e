//! Contract cases of the registry group: brands.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use super::*;

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
