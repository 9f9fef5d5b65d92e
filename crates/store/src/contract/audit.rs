//! Contract cases of the audit group: the audit log.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use super::*;
use crate::AuditEntry;

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
