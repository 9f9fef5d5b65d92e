//! Claim verification — "did we send this?". Given what a caller says they received, the
//! customer's notifications in the claimed window and the state of every feed, decide
//! `confirmed` / `partial` / `not_sent` / `cannot_confirm` (and, with campaigns, `known_scam`),
//! with per-cue evidence and the words the agent should use.
//!
//! Invariant: `not_sent` is answered only when every feed that sends on the claimed channel is
//! known complete for the whole claimed window. Anything less is `cannot_confirm`: a false
//! `not_sent` escalates a genuine customer. Pure: `now` is a parameter; no IO.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::extract::{normalize_phone, parse_amount, registrable_domain, ExtractConfig};
use crate::guidance::{compose, Action};
use crate::model::{
    Channel, DeliveryStatus, Facts, Millis, Money, SourceState, StoredNotification,
};
use crate::text::{containment, merchant_similarity_to, sender_relation, SenderRelation};
use crate::validate::{body_mac, format_time, normalize_sender, parse_time, Rejection};

mod claim;
mod cues;
mod decide;
mod freshness;

pub use claim::*;
use cues::*;
pub use decide::decide;
pub use freshness::*;

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Confirmed,
    Partial,
    NotSent,
    /// Reserved for campaign matching (smishing reports): the claim matches an active campaign.
    KnownScam,
    CannotConfirm,
}

impl Verdict {
    /// The action this verdict usually calls for on its own (a `partial` may call for more:
    /// [`Verification::action`] is the one to use when there is a verification).
    pub fn least_action(self) -> Action {
        match self {
            Verdict::NotSent | Verdict::KnownScam => Action::Callback,
            Verdict::Partial => Action::StepUp,
            Verdict::Confirmed | Verdict::CannotConfirm => Action::Proceed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Partial => "partial",
            Verdict::NotSent => "not_sent",
            Verdict::KnownScam => "known_scam",
            Verdict::CannotConfirm => "cannot_confirm",
        }
    }
}

/// How one cue compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CueResult {
    Match,
    /// Close enough for memory ("$500" for $479.99) but not exact.
    Close,
    Mismatch,
    /// The notification has nothing to compare this cue with.
    Absent,
}

/// Evidence for one cue.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Evidence {
    pub cue: &'static str,
    pub result: CueResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<String>,
    pub detail: String,
}

/// A notification as shown to the agent.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NotificationView {
    pub source: String,
    pub id: String,
    pub customer_id: String,
    pub channel: Channel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    pub sent_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    pub status: DeliveryStatus,
    pub facts: Facts,
    /// Only when bodies are retained and the view is the timeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub acknowledged_at: String,
}

impl NotificationView {
    pub fn from_stored(n: &StoredNotification, with_body: bool) -> Self {
        let r = &n.record;
        NotificationView {
            source: r.source.clone(),
            id: r.id.clone(),
            customer_id: r.customer_id.clone(),
            channel: r.channel,
            sender: r.sender.clone(),
            recipient: r.recipient.clone(),
            sent_at: format_time(r.sent_at),
            category: r.category.clone(),
            template_id: r.template_id.clone(),
            status: r.status,
            facts: r.facts.clone(),
            body: if with_body { r.body.clone() } else { None },
            acknowledged_at: format_time(n.acked_at),
        }
    }
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Verification {
    pub verdict: Verdict,
    /// Why, for `cannot_confirm` (`ledger_stale`, `unknown_customer`, `outside_retention`,
    /// `no_feed_for_channel`, `before_feed_start`, `claim_time_in_future`, `text_not_retained`) and `partial`
    /// (`cue_mismatch`, `channel_mismatch`, `sender_lookalike`, `delivery_failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// Confidence in the verdict, 0..=1.
    pub confidence: f64,
    /// The notification the claim was matched to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<NotificationView>,
    pub evidence: Vec<Evidence>,
    /// What the agent should say and do: the finding, then the instruction for `action`.
    pub guidance: String,
    /// The least the agent should do on this verdict alone; in a call, the call's action (never
    /// less). `guidance` always ends with this action's instruction.
    pub action: Action,
    /// What the ledger found, without the instruction (guidance = finding + instruction).
    #[serde(skip)]
    pub finding: String,
    /// The ledger is complete up to this time for the claimed channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_fresh_until: Option<String>,
    /// The window searched.
    pub window: WindowView,
    /// For `known_scam`: the smishing campaign the claim's cues match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<u64>,
}

impl Verification {
    /// Make `action` the instruction (a call's action, which is never less than the verdict's),
    /// rewriting the guidance from it: one instruction, whoever reads it.
    pub fn set_action(&mut self, action: Action) {
        self.action = action;
        self.guidance = compose(&self.finding, action);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WindowView {
    pub from: String,
    pub to: String,
}

/// What the store told us about the customer and the feeds.
pub struct LedgerContext<'a> {
    pub customer_known: bool,
    /// The customer's notifications in the window (any channel).
    pub candidates: &'a [StoredNotification],
    pub sources: &'a [SourceState],
    /// Start of the retention window (older records are purged).
    pub retention_start: Millis,
    /// Key of the body hash, for exact-text matching in facts-only mode.
    pub body_hmac_key: &'a [u8],
}

fn window_view(w: Window) -> WindowView {
    WindowView {
        from: format_time(w.from),
        to: format_time(w.to),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A claim whose cues match a smishing campaign customers have reported: whatever the ledger
/// alone concluded short of `confirmed`, the answer is `known_scam`, naming the campaign.
pub fn apply_campaign(v: &mut Verification, campaign_id: u64, detail: String) {
    if v.verdict == Verdict::Confirmed {
        // We did send what the caller cites; a campaign reusing the same wording changes nothing.
        return;
    }
    v.verdict = Verdict::KnownScam;
    v.reason = None;
    v.confidence = 0.99;
    v.campaign_id = Some(campaign_id);
    v.evidence.push(Evidence {
        cue: "campaign",
        result: CueResult::Mismatch,
        claimed: None,
        recorded: Some(format!("campaign {campaign_id}")),
        detail,
    });
    v.finding = format!(
        "This is a known scam: it matches smishing campaign {campaign_id}, which customers have reported. That message did not come from us."
    );
    v.set_action(v.action.max(Action::Callback));
}

/// Registry evidence for a claim no notification of ours answered on the sender: the sender the
/// caller saw imitates a protected sender ID (any brand's), which is evidence of a spoofed text.
pub fn registry_evidence(
    claim: &Claim,
    evidence: &[Evidence],
    index: &crate::sender::LookalikeIndex,
) -> Option<Evidence> {
    let seen = claim.sender_seen.as_deref()?;
    if evidence.iter().any(|e| e.cue == "sender") {
        return None;
    }
    let l = index.untwist(seen)?;
    Some(Evidence {
        cue: "sender",
        result: CueResult::Mismatch,
        claimed: Some(seen.to_string()),
        recorded: Some(l.protected_id.clone()),
        detail: format!(
            "{seen} is not our sender: it imitates {}'s registered sender {} ({}): evidence of a spoofed text",
            l.brand, l.protected_id, l.transformation
        ),
    })
}
