//! Countersign's pure core: the domain model, validation of producer records, fact extraction
//! from message bodies, text similarity, and claim verification.
//!
//! Architecture invariant: nothing here does IO, spawns, or reads a clock — every time is a
//! parameter ([`model::Millis`]). Storage, HTTP and configuration live in other crates.

pub mod alerts;
pub mod call;
pub mod calling;
pub mod campaign;
pub mod extract;
pub mod guidance;
pub mod lag;
pub mod model;
pub mod namespace;
pub mod platform;
pub mod profile;
pub mod recent;
pub mod records;
pub mod report;
pub mod score;
pub mod sender;
pub mod stir;
pub mod text;
pub mod textcheck;
pub mod validate;
pub mod variants;
pub mod verify;

pub use model::*;
