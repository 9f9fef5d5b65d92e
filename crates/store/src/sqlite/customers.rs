//! Customer profiles on SQLite.

use super::*;

pub(super) fn profile_row(
    conn: &Connection,
    customer_id: &str,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT profile FROM profiles WHERE customer_id = ?1")?
        .query_row([customer_id], |r| r.get(0))
        .optional()
}

#[async_trait]
impl CustomerStore for SqliteStore {
    async fn put_profiles(
        &self,
        profiles: Vec<(String, String)>,
        now: Millis,
    ) -> StoreResult<Vec<bool>> {
        if profiles.is_empty() {
            return Ok(Vec::new());
        }
        self.write(move |tx| {
            let mut created = Vec::with_capacity(profiles.len());
            for (customer, profile) in profiles {
                let existed = tx
                    .prepare_cached("SELECT 1 FROM profiles WHERE customer_id = ?1")?
                    .exists([&customer])?;
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO profiles (customer_id, profile, updated_at) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![customer, profile, now])?;
                created.push(!existed);
            }
            Ok(created)
        })
        .await
    }

    async fn profile(&self, customer_id: &str) -> StoreResult<Option<String>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn, _| profile_row(conn, &customer_id))
            .await
    }
}
