//! The brand registry on SQLite.

use super::*;

#[async_trait]
impl RegistryStore for SqliteStore {
    async fn put_brand(&self, name: &str, spec_json: String, now: Millis) -> StoreResult<bool> {
        let name = name.to_string();
        self.write(move |tx| {
            let existed = tx
                .prepare_cached("SELECT 1 FROM brands WHERE name = ?1")?
                .exists([&name])?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO brands (name, spec, updated_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![name, spec_json, now])?;
            Ok(!existed)
        })
        .await
    }

    async fn delete_brand(&self, name: &str) -> StoreResult<bool> {
        let name = name.to_string();
        self.write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM brands WHERE name = ?1")?
                .execute([&name])?;
            Ok(n > 0)
        })
        .await
    }

    async fn brands(&self) -> StoreResult<Vec<(String, String)>> {
        self.read(|conn, _| {
            let mut stmt = conn.prepare_cached("SELECT name, spec FROM brands ORDER BY name")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .await
    }
}
