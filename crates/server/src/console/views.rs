//! What the console's templates show, built from the API's own documents: the verdict in
//! words, the call's one action (the call's score's, which is never less than the cited
//! claim's), evidence, freshness, risk and the customer's notifications. Pure: documents and
//! `now` in, view models out — testable without a server.

use askama::Template;
use countersign_core::score::{Action, Band};
use countersign_core::verify::{FeedHealth, Verdict};
use countersign_core::Millis;

use crate::api_types::CallDoc;
use crate::services::feeds::SourceView;

/// The signed-in person, for the header.
#[derive(Debug, Clone)]
pub struct PersonView {
    pub name: String,
    pub role: &'static str,
    pub analyst: bool,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "console/message.html")]
pub struct MessagePage {
    pub person: Option<PersonView>,
    pub title: String,
    pub message: String,
    pub link: Option<String>,
    pub link_text: String,
}

#[derive(Template)]
#[template(path = "console/login.html")]
pub struct LoginPage {
    pub person: Option<PersonView>,
    pub token: String,
}

/// A row of the recent-calls list.
pub struct CallRow {
    pub call_id: String,
    pub customer: String,
    pub started: String,
    pub band: &'static str,
    pub band_label: &'static str,
    pub action_label: &'static str,
    pub outcome: String,
}

#[derive(Template)]
#[template(path = "console/home.html")]
pub struct HomePage {
    pub person: Option<PersonView>,
    pub query: String,
    pub notice: String,
    pub calls: Vec<CallRow>,
}

/// The live part of the call screen: verdict, action, evidence, freshness, risk, details.
#[derive(Debug, Clone, PartialEq)]
pub struct CallPanel {
    pub revision: u64,
    pub headline: String,
    pub icon: &'static str,
    /// `ok`, `warn`, `danger`, `unknown` (never green), `neutral`.
    pub tone: &'static str,
    pub cited: Option<String>,
    pub action: &'static str,
    pub action_label: &'static str,
    pub guidance: String,
    pub evidence: Vec<String>,
    pub freshness: String,
    /// `ok` or `stale`.
    pub fresh_tone: &'static str,
    pub band: &'static str,
    pub band_label: &'static str,
    pub score: String,
    pub top_reasons: Vec<String>,
    pub all_reasons: Vec<String>,
    pub claims: Vec<String>,
    pub caller: String,
    pub policy_version: String,
}

/// The panel alone: what the live stream sends.
#[derive(Template)]
#[template(path = "console/call_panel.html")]
pub struct PanelFragment<'a> {
    pub panel: &'a CallPanel,
}

/// A notification as the call screen lists it.
pub struct NotificationRow {
    pub sent: String,
    pub channel: &'static str,
    pub sender: String,
    pub facts: String,
    pub status: &'static str,
}

#[derive(Template)]
#[template(path = "console/call.html")]
pub struct CallPage {
    pub person: Option<PersonView>,
    pub csrf: String,
    pub call_id: String,
    pub customer_id: Option<String>,
    pub started: String,
    pub panel: CallPanel,
    pub outcome: Option<String>,
    pub notifications: Vec<NotificationRow>,
}

/// A campaign on the analyst's list.
pub struct CampaignRow {
    pub id: u64,
    pub status: &'static str,
    pub status_label: &'static str,
    pub reports: u64,
    pub customers: u64,
    /// Customers who checked one of its texts in the app.
    pub checks: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// SVG polyline points of reports per hour over the last day.
    pub spark: String,
    pub spark_label: String,
    pub numbers: String,
    pub domains: String,
    pub brands: String,
    pub shape: String,
}

#[derive(Template)]
#[template(path = "console/campaigns.html")]
pub struct CampaignsPage {
    pub person: Option<PersonView>,
    pub csrf: String,
    pub surge_active: bool,
    pub surge: String,
    pub campaigns: Vec<CampaignRow>,
}

/// An alert on the analyst's list.
pub struct AlertLine {
    pub created: String,
    pub customer: String,
    pub rule: String,
    pub title: String,
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "console/outcomes.html")]
pub struct OutcomesPage {
    pub person: Option<PersonView>,
    pub alerts: Vec<AlertLine>,
    pub calls_total: usize,
    pub no_outcome: String,
    pub override_rate: String,
    pub outbox: String,
    pub calls: Vec<CallRow>,
}

/// A brand in the registry, for the sender-ID screen.
pub struct BrandRow {
    pub name: String,
    pub display: String,
    pub senders: String,
    pub numbers: String,
    pub domains: String,
    pub policy: String,
}

#[derive(Template)]
#[template(path = "console/sender_ids.html")]
pub struct SenderIdsPage {
    pub person: Option<PersonView>,
    pub brands: Vec<BrandRow>,
}

/// A family of lookalikes in a brand's audit.
pub struct FamilyRow {
    pub family: String,
    pub total: usize,
    pub caught: usize,
    pub coverage: String,
    pub misses: String,
}

#[derive(Template)]
#[template(path = "console/sender_audit.html")]
pub struct SenderAuditPage {
    pub person: Option<PersonView>,
    pub brand: String,
    pub summary: String,
    pub families: Vec<FamilyRow>,
}

/// A source on the data-path map.
pub struct SourceRow {
    pub source: String,
    /// Records per hour over the last day (SVG points) and its words.
    pub spark: String,
    pub spark_label: String,
    pub health: &'static str,
    pub health_label: &'static str,
    pub channels: String,
    pub watermark: String,
    pub age: String,
    pub records_last_hour: u64,
    pub lag: String,
    pub advice: String,
}

#[derive(Template)]
#[template(path = "console/sources.html")]
pub struct SourcesPage {
    pub person: Option<PersonView>,
    pub stale: usize,
    pub rule: &'static str,
    pub sources: Vec<SourceRow>,
}

/// The verdict in the words an agent reads first, its icon and its tone. `cannot_confirm` is
/// never green; colour is never the only cue (the words and the icon carry it).
pub fn headline(
    verdict: Option<Verdict>,
    reason: Option<&str>,
) -> (String, &'static str, &'static str) {
    match verdict {
        None => ("NO MESSAGE CITED YET".into(), "•", "neutral"),
        Some(Verdict::Confirmed) => ("WE SENT THIS".into(), "✓", "ok"),
        Some(Verdict::Partial) => ("PARTLY MATCHES WHAT WE SENT".into(), "!", "warn"),
        Some(Verdict::NotSent) => ("WE DID NOT SEND THIS".into(), "✕", "danger"),
        Some(Verdict::KnownScam) => ("KNOWN SCAM".into(), "⚠", "danger"),
        Some(Verdict::CannotConfirm) => {
            let why = match reason {
                Some("ledger_stale") => "FEED DELAYED",
                Some("unknown_customer") => "UNKNOWN CUSTOMER",
                Some("outside_retention") => "OLDER THAN OUR RECORDS",
                Some("before_feed_start") => "BEFORE OUR RECORDS START",
                Some("no_feed_for_channel") => "NO FEED FOR THAT CHANNEL",
                Some("claim_time_in_future") => "THAT TIME IS IN THE FUTURE",
                Some("text_not_retained") => "TEXT NOT KEPT",
                _ => "NOT ENOUGH TO GO ON",
            };
            (format!("CANNOT CONFIRM — {why}"), "?", "unknown")
        }
    }
}

/// The action as a short imperative (the full instruction follows it).
pub fn action_label(a: Action) -> &'static str {
    match a {
        Action::Proceed => "Proceed with standard verification",
        Action::StepUp => "Step up verification",
        Action::Callback => "End the call and call back on the number on file",
        Action::Block => {
            "Block: end the call, escalate to fraud, call back only on the number on file"
        }
    }
}

pub fn band_label(b: Band) -> &'static str {
    match b {
        Band::Low => "LOW",
        Band::Medium => "MEDIUM",
        Band::High => "HIGH",
        Band::Critical => "CRITICAL",
    }
}

/// Hours and minutes of a stored RFC 3339 time (UTC), for a line an agent reads.
fn hhmm(t: &str) -> String {
    t.get(11..16)
        .map_or_else(|| t.to_string(), |s| format!("{s} UTC"))
}

/// The panel of a call from its document and the feeds (for a call without a claim, the
/// freshness line is the laggard feed's).
pub fn call_panel(doc: &CallDoc, sources: &[SourceView]) -> CallPanel {
    let claim = doc.claims.last();
    let (headline, icon, tone) = headline(
        claim.map(|c| c.verdict),
        claim.and_then(|c| c.reason.as_deref()),
    );
    let score = doc.scores.last().map(|s| &s.score);
    let action = score.map_or(Action::Proceed, |s| s.action);
    let band = score.map_or(Band::Low, |s| s.band);
    let stale: Vec<&str> = sources
        .iter()
        .filter(|s| s.health != FeedHealth::Healthy)
        .map(|s| s.source.as_str())
        .collect();
    let (freshness, fresh_tone) = match claim.and_then(|c| c.ledger_fresh_until.as_deref()) {
        Some(t) if stale.is_empty() => (format!("Complete to {}", hhmm(t)), "ok"),
        Some(t) => (
            format!("Complete to {} — behind: {}", hhmm(t), stale.join(", ")),
            "stale",
        ),
        None if sources.is_empty() => ("No feed has reported yet".to_string(), "stale"),
        None if stale.is_empty() => ("All feeds current".to_string(), "ok"),
        None => (format!("Behind: {}", stale.join(", ")), "stale"),
    };
    let reasons: Vec<String> = score
        .map(|s| s.reasons.iter().map(|r| r.detail.clone()).collect())
        .unwrap_or_default();
    CallPanel {
        revision: doc.revision,
        headline,
        icon,
        tone,
        cited: claim.and_then(|c| c.cited.clone()),
        action: action.as_str(),
        action_label: action_label(action),
        guidance: score.map_or_else(|| action.instruction().to_string(), |s| s.guidance.clone()),
        evidence: claim.map(|c| c.evidence.clone()).unwrap_or_default(),
        freshness,
        fresh_tone,
        band: band.as_str(),
        band_label: band_label(band),
        score: score.map_or_else(|| "0".into(), |s| format!("{:.0}", s.score)),
        top_reasons: reasons.iter().take(3).cloned().collect(),
        all_reasons: reasons,
        claims: doc
            .claims
            .iter()
            .map(|c| {
                format!(
                    "{} ({} s into the call): {}{}",
                    hhmm(&c.at),
                    c.seconds_into_call,
                    c.verdict.as_str(),
                    c.reason
                        .as_deref()
                        .map(|r| format!(" / {r}"))
                        .unwrap_or_default()
                )
            })
            .collect(),
        caller: format!(
            "From {} to {}{}{}",
            doc.ani,
            doc.dnis.as_deref().unwrap_or("?"),
            doc.attestation
                .as_deref()
                .map(|a| format!(" · attestation {a}"))
                .unwrap_or_default(),
            doc.intent
                .as_deref()
                .map(|i| format!(" · wants {i}"))
                .unwrap_or_default()
        ),
        policy_version: score.map(|s| s.policy_version.clone()).unwrap_or_default(),
    }
}

/// A source's row on the data-path map, with its records per hour over the last day.
pub fn source_row(
    s: &SourceView,
    per_hour: &std::collections::BTreeMap<Millis, u64>,
    now: Millis,
) -> SourceRow {
    let (spark, spark_label) = sparkline(per_hour, now, "Records");
    let (health, health_label) = match s.health {
        FeedHealth::Healthy => ("healthy", "Healthy"),
        FeedHealth::Delayed => ("delayed", "Delayed"),
        FeedHealth::Stale => ("stale", "Stale"),
    };
    SourceRow {
        source: s.source.clone(),
        spark,
        spark_label,
        health,
        health_label,
        channels: s
            .channels
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        watermark: s.watermark.as_deref().map_or_else(|| "—".into(), hhmm),
        age: s
            .watermark_age_secs
            .map_or_else(|| "never reported".into(), age_words),
        records_last_hour: s.records_last_hour,
        lag: match (s.lag_p50_ms, s.lag_p99_ms) {
            (Some(a), Some(b)) => format!("{} / {}", ms_words(a), ms_words(b)),
            _ => "—".into(),
        },
        advice: s.setup_advice.clone().unwrap_or_default(),
    }
}

fn age_words(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}

fn ms_words(ms: i64) -> String {
    match ms {
        m if m < 1000 => format!("{m} ms"),
        m if m < 120_000 => format!("{:.1} s", m as f64 / 1000.0),
        m => age_words(m / 1000),
    }
}

/// A call's row in the lists (home and outcomes).
pub fn call_row(d: &CallDoc, now: Millis) -> CallRow {
    let s = d.scores.last().map(|s| &s.score);
    let band = s.map_or(Band::Low, |s| s.band);
    CallRow {
        call_id: d.call_id.clone(),
        customer: d
            .customer_id
            .clone()
            .unwrap_or_else(|| "not identified".into()),
        started: countersign_core::validate::parse_time("started_at", &d.started_at)
            .map(|t| since(now, t))
            .unwrap_or_else(|_| d.started_at.clone()),
        band: band.as_str(),
        band_label: band_label(band),
        action_label: s.map_or("—", |s| action_label(s.action)),
        outcome: d
            .outcome
            .as_ref()
            .map_or_else(|| "none yet".into(), |o| o.outcome.clone()),
    }
}

/// Counts per hour over the last 24 hours (hour start → count) as SVG polyline points in a
/// 240 × 40 box, and the words a screen reader says instead.
pub fn sparkline(
    per_hour: &std::collections::BTreeMap<Millis, u64>,
    now: Millis,
    what: &str,
) -> (String, String) {
    const HOUR: Millis = 3_600_000;
    let start = (now - 23 * HOUR).div_euclid(HOUR) * HOUR;
    let counts: Vec<u64> = (0..24)
        .map(|i| *per_hour.get(&(start + i * HOUR)).unwrap_or(&0))
        .collect();
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let points = counts
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{},{}", i * 10 + 5, 36 - (*n * 32 / max) as i64))
        .collect::<Vec<_>>()
        .join(" ");
    let total: u64 = counts.iter().sum();
    (
        points,
        format!("{what} per hour over the last 24 hours: {total} in all, at most {max} in an hour"),
    )
}

/// A duration for the recent-calls list.
pub fn since(now: Millis, at: Millis) -> String {
    age_words((now - at) / 1000) + " ago"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_types::{ClaimEntry, ScoreEntry};
    use countersign_core::score::Score;
    use scraper::{Html, Selector};

    fn doc(verdict: Option<Verdict>, reason: Option<&str>, band: Band, action: Action) -> CallDoc {
        CallDoc {
            call_id: "CA<1>".into(),
            customer_id: Some("maria".into()),
            ani: "+12025550188".into(),
            dnis: None,
            started_at: "2026-12-02T09:00:00.000Z".into(),
            verstat: None,
            attestation: Some("B".into()),
            line_type: None,
            intent: Some("change_phone".into()),
            claims: verdict
                .map(|v| ClaimEntry {
                    at: "2026-12-02T09:01:00.000Z".into(),
                    seconds_into_call: 60,
                    verdict: v,
                    reason: reason.map(str::to_string),
                    action: Some(action),
                    finding: Some("finding".into()),
                    evidence: vec!["<b>amount</b> differs".into()],
                    ledger_fresh_until: Some("2026-12-02T09:00:30.000Z".into()),
                    campaign_id: None,
                    cited: Some("“<script>alert(1)</script>”".into()),
                })
                .into_iter()
                .collect(),
            scores: vec![ScoreEntry {
                at: "2026-12-02T09:01:00.000Z".into(),
                trigger: "claim".into(),
                score: Score {
                    score: 61.0,
                    band,
                    action,
                    guidance: format!("finding {}", action.instruction()),
                    reasons: Vec::new(),
                    floor: None,
                    policy_version: "test".into(),
                    alerts: Vec::new(),
                },
            }],
            outcome: None,
            stir: None,
            revision: 3,
        }
    }

    fn source(health: FeedHealth) -> SourceView {
        SourceView {
            source: "cards".into(),
            channels: vec![countersign_core::Channel::Sms],
            watermark: Some("2026-12-02T09:00:30.000Z".into()),
            watermark_kind: countersign_core::verify::WatermarkKind::Declared,
            watermark_updated_at: None,
            watermark_age_secs: Some(30),
            complete_since: None,
            last_record_at: None,
            last_sent_at: None,
            records_total: 1,
            records_before_complete: 0,
            first_sent_at: None,
            setup_advice: None,
            records_last_hour: 1,
            health,
            health_rule: countersign_core::verify::FEED_HEALTH_RULE,
            lag_p50_ms: Some(40),
            lag_p99_ms: Some(900),
        }
    }

    fn text(html: &Html, css: &str) -> String {
        html.select(&Selector::parse(css).unwrap())
            .map(|e| e.text().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Every verdict × band × feed health: the heading says the verdict, the live region is
    /// there, every tag has words, a caller's markup is text, and `cannot_confirm` is never green.
    #[test]
    fn the_call_screen_renders_every_case() {
        let verdicts = [
            (None, None, "NO MESSAGE CITED YET"),
            (Some(Verdict::Confirmed), None, "WE SENT THIS"),
            (
                Some(Verdict::Partial),
                Some("cue_mismatch"),
                "PARTLY MATCHES",
            ),
            (Some(Verdict::NotSent), None, "WE DID NOT SEND THIS"),
            (Some(Verdict::KnownScam), None, "KNOWN SCAM"),
            (
                Some(Verdict::CannotConfirm),
                Some("ledger_stale"),
                "CANNOT CONFIRM — FEED DELAYED",
            ),
        ];
        let bands = [
            (Band::Low, Action::Proceed),
            (Band::Medium, Action::StepUp),
            (Band::High, Action::Callback),
            (Band::Critical, Action::Block),
        ];
        for (verdict, reason, words) in verdicts {
            for (band, action) in bands {
                for health in [FeedHealth::Healthy, FeedHealth::Stale] {
                    let d = doc(verdict, reason, band, action);
                    let page = CallPage {
                        person: Some(PersonView {
                            name: "dana".into(),
                            role: "agent",
                            analyst: false,
                            csrf: "t".into(),
                        }),
                        csrf: "t".into(),
                        call_id: d.call_id.clone(),
                        customer_id: d.customer_id.clone(),
                        started: d.started_at.clone(),
                        panel: call_panel(&d, &[source(health)]),
                        outcome: None,
                        notifications: Vec::new(),
                    };
                    let html = Html::parse_document(&page.render().unwrap());
                    let case = format!("{verdict:?} {band:?} {health:?}");
                    assert!(text(&html, "h1#verdict").contains(words), "{case}");
                    assert!(
                        html.select(&Selector::parse("#panel[aria-live=polite]").unwrap())
                            .next()
                            .is_some(),
                        "{case}"
                    );
                    assert!(
                        text(&html, "#action-h").contains(action_label(action)),
                        "{case}"
                    );
                    assert!(
                        text(&html, ".instruction").contains(action.instruction()),
                        "{case}"
                    );
                    for tag in [".band", ".verdict"] {
                        assert!(
                            !text(&html, tag).trim().is_empty(),
                            "{case}: {tag} has words"
                        );
                    }
                    if verdict.is_some() {
                        assert!(text(&html, ".cited").contains("<script>"), "{case}");
                    }
                    assert!(
                        html.select(&Selector::parse("main script").unwrap())
                            .next()
                            .is_none(),
                        "{case}: markup from a caller stays text"
                    );
                    if verdict == Some(Verdict::CannotConfirm) {
                        assert!(!text(&html, "h1.tone-ok").contains("CANNOT"), "{case}");
                    }
                    if health == FeedHealth::Stale {
                        assert!(
                            text(&html, ".fresh-stale")
                                .to_lowercase()
                                .contains("behind: cards"),
                            "{case}"
                        );
                    }
                }
            }
        }
    }

    fn pages_person() -> Option<PersonView> {
        Some(PersonView {
            name: "ravi".into(),
            role: "analyst",
            analyst: true,
            csrf: "t".into(),
        })
    }

    /// Every other template renders with sample data and parses.
    #[test]
    fn every_template_renders() {
        let person = Some(PersonView {
            name: "ravi".into(),
            role: "analyst",
            analyst: true,
            csrf: "t".into(),
        });
        let pages = [
            MessagePage {
                person: person.clone(),
                title: "T".into(),
                message: "<i>m</i>".into(),
                link: Some("/console".into()),
                link_text: "back".into(),
            }
            .render()
            .unwrap(),
            LoginPage {
                person: None,
                token: "abc".into(),
            }
            .render()
            .unwrap(),
            HomePage {
                person: person.clone(),
                query: "q".into(),
                notice: "n".into(),
                calls: vec![CallRow {
                    call_id: "CA1".into(),
                    customer: "maria".into(),
                    started: "1 min ago".into(),
                    band: "high",
                    band_label: "HIGH",
                    action_label: "x",
                    outcome: "none yet".into(),
                }],
            }
            .render()
            .unwrap(),
            SourcesPage {
                person,
                stale: 1,
                rule: countersign_core::verify::FEED_HEALTH_RULE,
                sources: vec![source_row(
                    &source(FeedHealth::Stale),
                    &std::collections::BTreeMap::from([(0, 3)]),
                    3_600_000,
                )],
            }
            .render()
            .unwrap(),
        ];
        let row = CallRow {
            call_id: "CA1".into(),
            customer: "maria".into(),
            started: "1 min ago".into(),
            band: "low",
            band_label: "LOW",
            action_label: "x",
            outcome: "fraud".into(),
        };
        let more = [
            OutcomesPage {
                person: pages_person(),
                alerts: vec![AlertLine {
                    created: "1 min ago".into(),
                    customer: "maria".into(),
                    rule: "reported smish".into(),
                    title: "<i>m</i>".into(),
                    state: "read",
                }],
                calls_total: 1,
                no_outcome: "0 of 1".into(),
                override_rate: "0 of 1".into(),
                outbox: "1 delivered".into(),
                calls: vec![row],
            }
            .render()
            .unwrap(),
            CampaignsPage {
                person: pages_person(),
                csrf: "t".into(),
                surge_active: true,
                surge: "SURGE".into(),
                campaigns: vec![CampaignRow {
                    id: 1,
                    status: "active",
                    status_label: "Not reviewed",
                    reports: 3,
                    customers: 2,
                    checks: 2,
                    first_seen: "t".into(),
                    last_seen: "t".into(),
                    spark: "5,36 15,4".into(),
                    spark_label: "l".into(),
                    numbers: "+18885550142".into(),
                    domains: "—".into(),
                    brands: "ACME Bank".into(),
                    shape: "<brand> did you".into(),
                }],
            }
            .render()
            .unwrap(),
            SenderIdsPage {
                person: pages_person(),
                brands: vec![BrandRow {
                    name: "acme".into(),
                    display: "ACME Bank".into(),
                    senders: "ACMEBANK".into(),
                    numbers: "+18005550199".into(),
                    domains: "acmebank.com".into(),
                    policy: "block".into(),
                }],
            }
            .render()
            .unwrap(),
            SenderAuditPage {
                person: pages_person(),
                brand: "acme".into(),
                summary: "s".into(),
                families: vec![FamilyRow {
                    family: "homoglyph".into(),
                    total: 2,
                    caught: 2,
                    coverage: "100 %".into(),
                    misses: String::new(),
                }],
            }
            .render()
            .unwrap(),
        ];
        for p in pages.iter().chain(&more) {
            let html = Html::parse_document(p);
            assert!(!text(&html, "h1").is_empty(), "{p}");
            assert!(!p.contains("<i>m</i>"), "escaped");
        }
        assert!(pages[3].contains("Stale"));
    }
}
