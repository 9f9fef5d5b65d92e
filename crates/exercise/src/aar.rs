//! The after-action report: what each inject got and when, each expectation met or not, the
//! objectives rated on HSEEP's four-point scale, strengths, areas for improvement, the
//! improvement plan pre-filled from what failed, and the data-path map of the feeds the run
//! touched. Rendered as `aar.md`, `aar.json` and `timeline.csv`.

use serde::{Deserialize, Serialize};

use crate::scenario::{Capability, Discussion, Objective, Rating};

/// HSEEP's ratings of an objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Rated {
    #[serde(rename = "Performed")]
    Performed,
    #[serde(rename = "Some challenges")]
    SomeChallenges,
    #[serde(rename = "Major challenges")]
    MajorChallenges,
    #[serde(rename = "Unable to perform")]
    UnableToPerform,
}

impl Rated {
    pub fn as_str(self) -> &'static str {
        match self {
            Rated::Performed => "Performed",
            Rated::SomeChallenges => "Some challenges",
            Rated::MajorChallenges => "Major challenges",
            Rated::UnableToPerform => "Unable to perform",
        }
    }

    /// The short code HSEEP's evaluation guides use (P, S, M, U).
    pub fn letter(self) -> &'static str {
        match self {
            Rated::Performed => "P",
            Rated::SomeChallenges => "S",
            Rated::MajorChallenges => "M",
            Rated::UnableToPerform => "U",
        }
    }
}

/// What happened to one inject.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InjectResult {
    pub id: String,
    pub kind: String,
    /// Planned scenario time (`T+2m`), after its trigger when it has one.
    pub at: String,
    pub visible_to: String,
    pub description: String,
    /// When it was sent (RFC 3339), or None when skipped.
    pub sent_at: Option<String>,
    /// `sent`, `skipped` (its trigger was not met, or not sent in this mode) or `failed`.
    pub status: String,
    /// Why it was skipped or failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The answer in a line (`verdict not_sent · action block · band critical`).
    pub answer: String,
    /// The server's answer time, milliseconds.
    pub latency_ms: Option<f64>,
    pub expectations: Vec<ExpectationResult>,
}

/// One expectation, judged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpectationResult {
    pub id: String,
    pub who: String,
    pub what: String,
    pub objective: String,
    pub critical: bool,
    /// Scenario time allowed (`30s`).
    pub within: String,
    pub met: bool,
    /// Wall-clock milliseconds from the inject to the moment it was seen met.
    pub met_after_ms: Option<f64>,
    /// The values it named, last seen (`verdict = "cannot_confirm"`).
    pub seen: String,
    /// Why it was not met (in words).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

/// An objective, rated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectiveResult {
    pub id: String,
    pub capability: Capability,
    pub text: String,
    pub rating: Rated,
    pub met: usize,
    pub total: usize,
    /// Why it got this rating, in a line.
    pub because: String,
}

/// One feed in the data-path map.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedRow {
    pub source: String,
    /// The exercise's own feed, or one of the institution's.
    pub exercise_feed: bool,
    pub watermark_kind: String,
    /// The oldest the watermark got during the run, seconds.
    pub worst_watermark_age_secs: Option<f64>,
    /// Ingest lag p99 over the last hour at the end, milliseconds.
    pub lag_p99_ms: Option<f64>,
    /// Worst health seen (`healthy`, `delayed`, `stale`).
    pub worst_health: String,
    /// What that meant for the agent's answer.
    pub meaning: String,
}

/// An improvement-plan row, pre-filled from what failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanRow {
    pub objective: String,
    pub capability: String,
    pub issue: String,
    pub corrective_action: String,
    pub owner: String,
    /// `YYYY-MM-DD`.
    pub due: String,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Aar {
    pub run: String,
    pub exercise: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub summary: String,
    pub scenario_file: String,
    pub server: String,
    pub speed: f64,
    pub started_at: String,
    pub ended_at: String,
    pub overall: Rated,
    pub objectives: Vec<ObjectiveResult>,
    pub timeline: Vec<InjectResult>,
    pub strengths: Vec<String>,
    pub improvements: Vec<String>,
    pub plan: Vec<PlanRow>,
    pub data_path: Vec<FeedRow>,
    pub discussion: Vec<Discussion>,
}

/// Rate each objective from its expectations.
pub fn rate(
    objectives: &[Objective],
    timeline: &[InjectResult],
    r: &Rating,
) -> Vec<ObjectiveResult> {
    objectives
        .iter()
        .map(|o| {
            let exps: Vec<&ExpectationResult> = timeline
                .iter()
                .flat_map(|i| &i.expectations)
                .filter(|e| e.objective == o.id)
                .collect();
            let total = exps.len();
            let met = exps.iter().filter(|e| e.met).count();
            let missed_critical: Vec<&&ExpectationResult> =
                exps.iter().filter(|e| e.critical && !e.met).collect();
            let share = if total == 0 {
                0.0
            } else {
                met as f64 / total as f64
            };
            let rating = if met == 0 {
                Rated::UnableToPerform
            } else if missed_critical.is_empty() && share >= r.performed {
                Rated::Performed
            } else if missed_critical.is_empty() && share >= r.some_challenges {
                Rated::SomeChallenges
            } else if share >= r.major_challenges {
                Rated::MajorChallenges
            } else {
                Rated::UnableToPerform
            };
            let because = match missed_critical.first() {
                Some(e) => format!(
                    "{met} of {total} expectations met; critical `{}` not met: {}",
                    e.what, e.reason
                ),
                None if met < total => {
                    let e = exps.iter().find(|e| !e.met).map_or(String::new(), |e| {
                        format!("; `{}` not met: {}", e.what, e.reason)
                    });
                    format!("{met} of {total} expectations met{e}")
                }
                None if total == 1 => "its one expectation met".to_string(),
                None => format!("all {total} expectations met"),
            };
            ObjectiveResult {
                id: o.id.clone(),
                capability: o.capability,
                text: o.text.clone(),
                rating,
                met,
                total,
                because,
            }
        })
        .collect()
}

/// Strengths, areas for improvement and the plan, from the judged expectations. `due` is the
/// plan's due date for every row (the report's date plus the follow-up period).
pub fn findings(
    objectives: &[Objective],
    timeline: &[InjectResult],
    due: &str,
) -> (Vec<String>, Vec<String>, Vec<PlanRow>) {
    let (mut strengths, mut improvements, mut plan) = (Vec::new(), Vec::new(), Vec::new());
    for i in timeline {
        for e in &i.expectations {
            let Some(o) = objectives.iter().find(|o| o.id == e.objective) else {
                continue;
            };
            let cap = o.capability.as_str();
            if e.met {
                if e.critical {
                    strengths.push(format!(
                        "{cap}: `{}` after `{}` — met in {} ({}).",
                        e.what,
                        i.id,
                        e.met_after_ms
                            .map_or("time".into(), |ms| format!("{ms:.0} ms")),
                        e.seen
                    ));
                }
                continue;
            }
            improvements.push(format!(
                "{cap}: `{}` after `{}` was not met within {}: {}.",
                e.what, i.id, e.within, e.reason
            ));
            plan.push(PlanRow {
                objective: o.id.clone(),
                capability: cap.to_string(),
                issue: format!("`{}` not met after `{}`: {}", e.what, i.id, e.reason),
                corrective_action: e
                    .remedy
                    .clone()
                    .unwrap_or_else(|| default_remedy(o.capability).to_string()),
                owner: o.capability.owner().to_string(),
                due: due.to_string(),
            });
        }
        if i.status == "failed" {
            improvements.push(format!(
                "inject `{}` could not be delivered: {}.",
                i.id, i.detail
            ));
        }
    }
    (strengths, improvements, plan)
}

fn default_remedy(c: Capability) -> &'static str {
    match c {
        Capability::ClaimVerification => "Trace the claim through the ledger: was the notification ingested, was its feed's watermark current, did the claim carry the cues the caller gave?",
        Capability::CallScoring => "Review the scoring policy's weights for the signals this call carried, and re-run the scenario after `policy fit`.",
        Capability::CampaignDetection => "Check report intake (7726 relay, app reporting) and the clustering settings against the reports this scenario sent.",
        Capability::CustomerAlert => "Check the alert rules and the webhook delivery to the app (GET /v1/alerts/outbox).",
        Capability::SenderIdFilter => "Register the brand's sender IDs and callback numbers, and run `countersign audit sender-ids` for the variant that passed.",
        Capability::AgentAction => "Brief agents on the paired pattern and the call screen's instruction; re-run agent_unaware after training.",
        Capability::FeedHealth => "Make the producer declare a watermark every few seconds and alert on a feed older than a minute (`/metrics`).",
    }
}

/// The worst rating of all objectives.
pub fn overall(objectives: &[ObjectiveResult]) -> Rated {
    objectives
        .iter()
        .map(|o| o.rating)
        .max()
        .unwrap_or(Rated::UnableToPerform)
}
