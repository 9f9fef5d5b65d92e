//! The one instruction the agent reads. An [`Action`] (proceed, step up, call back, block) is
//! the single decision; the words the agent is given are derived from it here and nowhere else,
//! so a verdict's guidance and a call's action cannot say two different things.
//!
//! A verification alone implies a least action ([`Verification::action`](crate::verify::Verification));
//! a call's score never recommends less than the least action of the claim cited in it
//! (`score::score` floors the band), and the claim's guidance is then rewritten from the call's
//! action (`Verification::set_action`). Pure: no IO, no clock.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the agent should do, weakest first (the order is what "at least" means).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Continue with the standard verification.
    Proceed,
    /// Step-up verification before any change.
    StepUp,
    /// End the call and call back on the number on file.
    Callback,
    /// End the call, call back on the number on file, escalate to fraud now.
    Block,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::Proceed,
        Action::StepUp,
        Action::Callback,
        Action::Block,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Proceed => "proceed",
            Action::StepUp => "step_up",
            Action::Callback => "callback",
            Action::Block => "block",
        }
    }

    /// The words the agent reads for this action: the one instruction.
    pub fn instruction(self) -> &'static str {
        match self {
            Action::Proceed => "Continue with standard verification before any account change.",
            Action::StepUp => {
                "Do not treat it as proof of identity: use step-up verification before any change."
            }
            Action::Callback => {
                "Do not act on the caller's request. Say: \"For your security I'm going to end this call and call you back on the number we have on file,\" end the call, and flag it to fraud."
            }
            Action::Block => {
                "Do not act on the caller's request and do not call any number the caller gives. Say: \"For your security I'm going to end this call and call you back on the number we have on file,\" end the call, and escalate to fraud now."
            }
        }
    }
}

/// A finding followed by the instruction for `action`: how every guidance string is made.
pub fn compose(finding: &str, action: Action) -> String {
    if finding.is_empty() {
        action.instruction().to_string()
    } else {
        format!("{finding} {}", action.instruction())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_say_what_the_action_is() {
        for a in Action::ALL {
            let text = a.instruction();
            let ends_call = text.contains("end the call");
            assert_eq!(ends_call, a >= Action::Callback, "{a:?}: {text}");
            assert_eq!(text.contains("step-up"), a == Action::StepUp, "{a:?}");
            assert!(compose("We did send this.", a).ends_with(text));
        }
        assert!(Action::Proceed < Action::StepUp && Action::Callback < Action::Block);
    }
}
