//! How fresh the ledger is for a channel: each source's effective watermark (declared, or
//! derived from its traffic), from when its record is complete, and the laggard among them.

use super::*;

/// How one feed's completeness is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WatermarkKind {
    /// The source declared it.
    Declared,
    /// Derived from the newest record minus a margin: the source never declared one.
    Derived,
    /// Nothing received yet.
    None,
}

/// The effective watermark of a source: declared, else derived conservatively from traffic —
/// the newest `sent_at`, held to the source's `derived_cap` when it has one, less the margin.
pub fn effective_watermark(s: &SourceState, cfg: &VerifyConfig) -> (Option<Millis>, WatermarkKind) {
    match (s.declared_watermark, s.last_sent_at) {
        (Some(w), _) => (Some(w), WatermarkKind::Declared),
        (None, Some(last)) => (
            Some(
                last.min(s.derived_cap.unwrap_or(Millis::MAX))
                    .saturating_sub(cfg.derived_watermark_margin_ms),
            ),
            WatermarkKind::Derived,
        ),
        (None, None) => (None, WatermarkKind::None),
    }
}

/// A feed's health as the data-path map and `/v1/sources` show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedHealth {
    /// The watermark trails now by at most a minute: claims about the last minutes can be
    /// answered `not_sent`.
    Healthy,
    /// Up to 15 minutes behind: claims about the last minutes answer `cannot_confirm`.
    Delayed,
    /// More than 15 minutes behind, or no watermark at all.
    Stale,
}

/// The rule behind [`FeedHealth`], in words.
pub const FEED_HEALTH_RULE: &str = "Healthy: complete to within 1 minute of now. Delayed: within 15 minutes. Stale: more than 15 minutes behind, or nothing received.";

/// The health of a feed whose effective watermark trails now by `age_secs`.
pub fn feed_health(age_secs: Option<i64>) -> FeedHealth {
    match age_secs {
        Some(a) if a <= 60 => FeedHealth::Healthy,
        Some(a) if a <= 15 * 60 => FeedHealth::Delayed,
        _ => FeedHealth::Stale,
    }
}

/// The earliest time from which a source's record is complete.
pub fn complete_since(s: &SourceState) -> Option<Millis> {
    s.complete_since.or(s.first_acked_at)
}

/// Completeness of the ledger for one channel (or all channels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    /// Sources that send on the channel.
    pub sources: usize,
    /// Oldest effective watermark among them.
    pub fresh_until: Option<Millis>,
    /// Latest "complete since" among them.
    pub complete_since: Option<Millis>,
    /// The source holding `fresh_until` back.
    pub laggard: Option<String>,
}

/// Completeness for `customer`'s claims on `channel`: an exercise's sources count only for its
/// own customers (see [`crate::namespace`]), so a paused exercise feed never holds back a real
/// customer's answer.
pub fn freshness(
    sources: &[SourceState],
    channel: Option<Channel>,
    customer: Option<&str>,
    cfg: &VerifyConfig,
) -> Freshness {
    let relevant: Vec<&SourceState> = sources
        .iter()
        .filter(|s| channel.is_none_or(|c| s.sends_on(c)))
        .filter(|s| crate::namespace::source_applies(&s.source, customer))
        .collect();
    let mut f = Freshness {
        sources: relevant.len(),
        fresh_until: None,
        complete_since: None,
        laggard: None,
    };
    let mut first = true;
    for s in relevant {
        let (w, _) = effective_watermark(s, cfg);
        let w = w.unwrap_or(Millis::MIN);
        if first || f.fresh_until.is_some_and(|cur| w < cur) {
            f.fresh_until = Some(w);
            f.laggard = Some(s.source.clone());
        }
        first = false;
        let cs = complete_since(s).unwrap_or(Millis::MAX);
        f.complete_since = Some(f.complete_since.map_or(cs, |cur| cur.max(cs)));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A derived watermark never passes the cap; a declared one is the source's word.
    #[test]
    fn derived_watermarks_held_to_their_cap() {
        let cfg = VerifyConfig::default();
        let margin = cfg.derived_watermark_margin_ms;
        let mut s = SourceState {
            source: "card-alerts".into(),
            last_sent_at: Some(1_000_000_000),
            ..SourceState::default()
        };
        let derived = |s: &SourceState| effective_watermark(s, &cfg);
        assert_eq!(
            derived(&s),
            (Some(1_000_000_000 - margin), WatermarkKind::Derived)
        );
        s.derived_cap = Some(900_000_000);
        assert_eq!(derived(&s).0, Some(900_000_000 - margin));
        s.derived_cap = Some(2_000_000_000);
        assert_eq!(derived(&s).0, Some(1_000_000_000 - margin));
        // Nothing known yet: as old as can be, never an overflow.
        s.derived_cap = Some(Millis::MIN);
        assert_eq!(derived(&s).0, Some(Millis::MIN));
        s.declared_watermark = Some(950_000_000);
        assert_eq!(derived(&s), (Some(950_000_000), WatermarkKind::Declared));
    }
}
