//! The documents the server stores and answers with, shared with the CLI (`policy fit` reads
//! calls' documents, the benchmarks read reports'): a call with its claims, scores and outcome,
//! and a smishing report with its indicators. Plain data; no behaviour.

use countersign_core::campaign::Indicators;
use countersign_core::score::{Action, Score};
use countersign_core::verify::Verdict;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A claim cited during a call.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimEntry {
    pub at: String,
    pub seconds_into_call: i64,
    pub verdict: Verdict,
    pub reason: Option<String>,
    /// The least action the verification called for (absent in calls recorded before it was
    /// kept: then the verdict's usual one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// What the ledger found, in words (without the instruction, which is the call's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
    /// The strongest evidence, at most three lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// The ledger was complete to this time for the claimed channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_fresh_until: Option<String>,
    /// For `known_scam`: the campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<u64>,
    /// What the caller said, as the agent entered it (shown back on the call screen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cited: Option<String>,
}

/// The agent's outcome: a label for calibration.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeIn {
    /// `fraud`, `legitimate` or `unsure`.
    pub outcome: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// One score in a call's history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScoreEntry {
    pub at: String,
    /// `call_started` or `claim`.
    pub trigger: String,
    #[serde(flatten)]
    pub score: Score,
}

/// Everything kept about a call.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallDoc {
    pub call_id: String,
    pub customer_id: Option<String>,
    pub ani: String,
    pub dnis: Option<String>,
    pub started_at: String,
    pub verstat: Option<String>,
    pub attestation: Option<String>,
    pub line_type: Option<String>,
    pub intent: Option<String>,
    pub claims: Vec<ClaimEntry>,
    /// Every score given, oldest first, with what triggered it.
    pub scores: Vec<ScoreEntry>,
    pub outcome: Option<OutcomeIn>,
    /// Countersign's own verification of the call's PASSporT (`identity`, with `[stir]`): when
    /// it checked something, it replaces `verstat`/`attestation` (kept as the platform sent
    /// them) in the score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stir: Option<countersign_core::stir::StirResult>,
    /// Bumped on every change (a claim, a score, an outcome): what the console's live stream
    /// sends, so a screen knows it is current.
    #[serde(default)]
    pub revision: u64,
}

/// A report as stored and shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportDoc {
    pub id: i64,
    pub received_at: String,
    pub customer_id: Option<String>,
    pub reporter_number: Option<String>,
    pub sender: Option<String>,
    pub body: String,
    pub reported_via: String,
    pub indicators: Indicators,
    /// The campaign it was assigned to on arrival (merges may fold it into an older one since).
    pub campaign_id: u64,
}
