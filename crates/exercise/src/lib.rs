//! Tabletop and live exercises of the paired pattern, the pure part: scenario files parsed and
//! checked ([`scenario::parse`], every problem at once), expectations as CEL expressions
//! ([`expect`]), the HSEEP ratings and the after-action report ([`aar`], [`render`]). The runner
//! that drives a server is the CLI's `countersign exercise`.
//!
//! Invariant: no IO and no clock here; the runner passes in what it saw and when.

pub mod aar;
mod checks;
pub mod expect;
pub mod render;
pub mod scenario;

pub use scenario::{parse, Checked, Problem, Scenario};

#[cfg(test)]
mod tests;
