//! Feed health: each source's watermark and its age, completeness, the set-up guard's advice,
//! recent activity and its health tag — what `/v1/sources`, the watermark answer, the console's
//! data-path map and its call screen's freshness line all read, so they cannot disagree.

use countersign_core::validate::format_time;
use countersign_core::verify::{
    complete_since, effective_watermark, feed_health, FeedHealth, VerifyConfig, WatermarkKind,
    FEED_HEALTH_RULE,
};
use countersign_core::{Channel, Millis, SourceState};
use countersign_store::SourceActivity;
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::Problem;
use crate::SharedState;

/// Every source's view at `now`, stale ones first.
pub async fn source_views(st: &SharedState, now: Millis) -> Result<Vec<SourceView>, Problem> {
    let mut sources = st.store.sources().await?;
    crate::kafka::cap_derived(st, &mut sources);
    let activity = st.store.source_activity(now - 3_600_000).await?;
    let mut views: Vec<SourceView> = sources
        .iter()
        .map(|s| {
            source_view(
                s,
                activity.iter().find(|a| a.source == s.source),
                &st.verify,
                now,
            )
        })
        .collect();
    views.sort_by_key(|v| (std::cmp::Reverse(v.health as u8), v.source.clone()));
    Ok(views)
}

/// Feed health of one source.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceView {
    pub source: String,
    /// Channels this source has sent on.
    pub channels: Vec<Channel>,
    /// The effective watermark: declared by the source, else derived from its traffic.
    pub watermark: Option<String>,
    /// `declared`, `derived` (the source never sent one: newest record minus a margin) or `none`.
    pub watermark_kind: WatermarkKind,
    pub watermark_updated_at: Option<String>,
    /// How far the watermark trails now, in seconds.
    pub watermark_age_secs: Option<i64>,
    /// From when this source's record is complete.
    pub complete_since: Option<String>,
    /// When the newest record was acknowledged.
    pub last_record_at: Option<String>,
    /// The newest `sent_at`.
    pub last_sent_at: Option<String>,
    pub records_total: i64,
    /// Records kept whose `sent_at` is before `complete_since` (a backfill, typically): they
    /// can confirm a claim, but a claim about that period answers `cannot_confirm`, never
    /// `not_sent`.
    pub records_before_complete: i64,
    /// The earliest `sent_at` this source has sent.
    pub first_sent_at: Option<String>,
    /// What to do when records lie before completeness: how to declare `complete_since` if
    /// the backfill is complete (absent when nothing needs doing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_advice: Option<String>,
    pub records_last_hour: u64,
    /// Healthy, delayed or stale, by `watermark_age_secs` (`health_rule` says how).
    pub health: FeedHealth,
    pub health_rule: &'static str,
    /// Ingest lag (acknowledged − sent) over the last hour, in ms (log buckets, ≤ 19 % error).
    pub lag_p50_ms: Option<i64>,
    pub lag_p99_ms: Option<i64>,
}

pub fn source_view(
    s: &SourceState,
    act: Option<&SourceActivity>,
    cfg: &VerifyConfig,
    now: Millis,
) -> SourceView {
    let (w, kind) = effective_watermark(s, cfg);
    SourceView {
        source: s.source.clone(),
        channels: s.channels(),
        watermark: w.map(format_time),
        watermark_kind: kind,
        watermark_updated_at: s.watermark_updated_at.map(format_time),
        watermark_age_secs: w.map(|w| (now - w) / 1000),
        complete_since: complete_since(s).map(format_time),
        last_record_at: s.last_acked_at.map(format_time),
        last_sent_at: s.last_sent_at.map(format_time),
        records_total: s.records_total,
        records_before_complete: s.records_before_complete,
        first_sent_at: s.first_sent_at.map(format_time),
        setup_advice: setup_advice(s),
        records_last_hour: act.map_or(0, |a| a.records),
        health: feed_health(w.map(|w| (now - w) / 1000)),
        health_rule: FEED_HEALTH_RULE,
        lag_p50_ms: act.and_then(|a| a.lag.quantile(0.5)),
        lag_p99_ms: act.and_then(|a| a.lag.quantile(0.99)),
    }
}

/// The feed set-up guard's advice: records kept from before completeness cannot support
/// `not_sent`; if the source really sent nothing else since its earliest record, it can say so.
fn setup_advice(s: &SourceState) -> Option<String> {
    if s.records_before_complete <= 0 {
        return None;
    }
    let cs = complete_since(s).map(format_time).unwrap_or_default();
    let first = s.first_sent_at.map(format_time).unwrap_or_default();
    Some(format!(
        "{} records were sent before this source's record is complete ({cs}); a claim about that \
         period answers cannot_confirm, never not_sent. If the backfill holds every notification \
         the source sent since {first}, declare it: POST /v1/sources/{}/watermark with \
         {{\"watermark\": <now or the feed's watermark>, \"complete_since\": \"{first}\"}}.",
        s.records_before_complete, s.source
    ))
}
