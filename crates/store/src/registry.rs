//! The brand registry behind the SMS filter. Table: `brands`: the [`RegistryStore`] sub-trait of
//! [`crate::Store`] and the types it speaks. Each backend implements it in its own file.

use async_trait::async_trait;
use countersign_core::Millis;

use crate::StoreResult;

/// The brand registry behind the SMS filter. Table: `brands`.
#[async_trait]
pub trait RegistryStore: Send + Sync {
    /// Create or replace a brand's registry entry (its validated spec, as JSON). Durable on
    /// `Ok`; `true` when the brand is new.
    async fn put_brand(&self, name: &str, spec_json: String, now: Millis) -> StoreResult<bool>;

    /// Remove a brand; `false` when there was none.
    async fn delete_brand(&self, name: &str) -> StoreResult<bool>;

    /// Every brand as `(name, spec JSON)`, by name.
    async fn brands(&self) -> StoreResult<Vec<(String, String)>>;
}
