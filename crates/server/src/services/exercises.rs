//! Removing an exercise run: which of its smishing reports can go without changing a real
//! campaign, the store's purge, and the in-memory state (campaigns, velocity and surge windows)
//! rebuilt from what is left.

use std::collections::{BTreeMap, BTreeSet};

use countersign_core::namespace::exercise_run;
use countersign_store::PurgeCounts;

use crate::problem::Problem;
use crate::services::campaigns::{self, lock};
use crate::SharedState;

/// What a purge did.
#[derive(Debug, Clone, Default)]
pub struct Purged {
    pub counts: PurgeCounts,
    /// The run's reports kept because real reports share their campaign (removing them would
    /// change a real campaign's id or membership).
    pub kept_reports: u64,
}

/// Remove everything `run` wrote (see `ExerciseStore::purge_run`). Reports are held still while
/// it runs, so the campaign replay afterwards sees exactly what is stored.
pub async fn purge(st: &SharedState, run: &str) -> Result<Purged, Problem> {
    st.store.flush().await?;
    let _intake = st.smish.intake.lock().await;
    // Each current campaign: whether a real report is in it, and the run's reports in it.
    let mut groups: BTreeMap<u64, (bool, Vec<(i64, i64)>)> = BTreeMap::new();
    let mut after = 0i64;
    loop {
        let rows = st.store.smish_reports_after(after, 10_000).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let c = lock(&st.smish.campaigns);
        for r in rows {
            let ours = r.customer_id.as_deref().and_then(exercise_run) == Some(run)
                || r.idempotency_key.as_deref().and_then(exercise_run) == Some(run);
            let g = groups
                .entry(c.resolve(r.campaign_id as u64))
                .or_insert((false, Vec::new()));
            if ours {
                g.1.push((r.id, r.campaign_id));
            } else {
                g.0 = true;
            }
        }
    }
    let (mut reports, mut retire, mut kept) = (Vec::new(), BTreeSet::new(), 0u64);
    for (has_real, ours) in groups.into_values() {
        if has_real {
            kept += ours.len() as u64;
            continue;
        }
        for (id, campaign) in ours {
            reports.push(id);
            retire.insert(campaign);
        }
    }
    let counts = st
        .store
        .purge_run(run, reports, retire.into_iter().collect())
        .await?;
    rebuild(st).await?;
    Ok(Purged {
        counts,
        kept_reports: kept,
    })
}

/// Rebuild what memory holds about calls, claims and campaigns from the store.
async fn rebuild(st: &SharedState) -> Result<(), Problem> {
    if let Ok(mut r) = st.recent_calls.lock() {
        *r = countersign_core::recent::RecentCalls::new(crate::services::calls::RECENT_WINDOW_MS);
    }
    if let Ok(mut r) = st.claim_rate.lock() {
        *r = countersign_core::recent::ClaimRate::default();
    }
    crate::services::calls::load_recent_calls(st).await?;
    campaigns::load(st).await?;
    Ok(())
}
