//! Customer profiles: numbers and e-mails on file, locale. Table: `profiles`: the [`CustomerStore`] sub-trait of
//! [`crate::Store`] and the types it speaks. Each backend implements it in its own file.

use async_trait::async_trait;
use countersign_core::Millis;

use crate::StoreResult;

/// Customer profiles: numbers and e-mails on file, locale. Table: `profiles`.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    /// Create or replace customer profiles `(customer_id, validated profile JSON)`; durable on
    /// `Ok`. One flag per profile: `true` when the customer had none.
    async fn put_profiles(
        &self,
        profiles: Vec<(String, String)>,
        now: Millis,
    ) -> StoreResult<Vec<bool>>;

    /// A customer's profile JSON, if any.
    async fn profile(&self, customer_id: &str) -> StoreResult<Option<String>>;
}
