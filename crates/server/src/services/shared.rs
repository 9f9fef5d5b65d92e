//! What a node sharing its store with others (PostgreSQL) keeps in step with them: every second
//! it catches up with the smishing reports and campaign events the others stored (so campaign
//! ids and statuses are the same on every node) and reloads the brand registry when it changed
//! (a brand registered on one node filters on all within a second), and writes its heartbeat
//! (every node's health in `/metrics`). The database is the only
//! coordinator: this is polling, not messages between nodes.

use std::time::Duration;

use crate::SharedState;

/// How often a node looks at what the others changed.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// Keep this node in step until the server stops (spawned only on a shared store).
pub async fn sync_forever(st: SharedState) {
    let me = countersign_store::NodeRow {
        node: st.node.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        started_at: crate::now_ms(),
        last_seen_at: crate::now_ms(),
    };
    let mut brands = st.store.brands().await.ok();
    let mut tick = tokio::time::interval(SYNC_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = st.stopping.cancelled() => return,
        }
        let beat = countersign_store::NodeRow {
            last_seen_at: crate::now_ms(),
            ..me.clone()
        };
        match st.store.heartbeat(&beat).await {
            Ok(nodes) => *st.nodes.lock().unwrap_or_else(|p| p.into_inner()) = nodes,
            Err(e) => tracing::warn!(error = %e, "heartbeat failed; will retry"),
        }
        if let Err(p) = super::campaigns::catch_up(&st).await {
            tracing::warn!(error = %p.detail, "cannot catch up with the other nodes' reports; will retry");
        }
        match st.store.brands().await {
            Ok(now) if brands.as_ref() != Some(&now) => {
                match crate::sender_ids::reload_registry(&st).await {
                    Ok(_) => brands = Some(now),
                    Err(p) => tracing::warn!(error = %p.detail, "cannot reload the brand registry"),
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the brand registry"),
        }
    }
}
