//! What every fuzz target shares: a fixed "now", the validation settings, a small ledger.

use countersign_core::extract::ExtractConfig;
use countersign_core::validate::{BodyRetention, FieldLimits, ValidationConfig};
use countersign_core::Millis;

/// 2026-06-01T12:00:00Z.
pub const NOW: Millis = 1_780_315_200_000;

#[allow(dead_code)] // not every target validates records
pub fn validation() -> ValidationConfig {
    ValidationConfig {
        limits: FieldLimits::default(),
        retention: BodyRetention::Full,
        future_skew_ms: 300_000,
        extract: ExtractConfig::default(),
        body_hmac_key: vec![7; 32],
    }
}
