//! Runs the shared store contract against the embedded SQLite backend, plus what only an
//! embedded store can show: data survives closing and reopening the data directory.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use countersign_store::contract::{note, T0};
use countersign_store::prelude::*;
use countersign_store::sqlite::{SqliteOptions, SqliteStore};
use countersign_store::IngestOutcome;

async fn fresh() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    (Arc::new(store), dir)
}

countersign_store::store_contract_tests!(fresh());

/// The same contract on the simulator's inline mode: one connection on the caller's thread must
/// answer exactly as the writer thread and the reader pool do.
mod inline {
    use super::*;

    async fn fresh() -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteOptions {
            inline: true,
            durable: false,
            ..SqliteOptions::default()
        };
        (Arc::new(SqliteStore::open(dir.path(), opts).unwrap()), dir)
    }

    countersign_store::store_contract_tests!(fresh());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
        s.ingest(vec![note("alerts", "r1", "c1", T0)], T0 + 1)
            .await
            .unwrap();
        s.set_watermark("alerts", T0, Some(T0 - 1000), T0 + 2)
            .await
            .unwrap();
        s.close();
    }
    let s = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    let src = s.sources().await.unwrap();
    assert_eq!(src[0].declared_watermark, Some(T0));
    assert_eq!(src[0].records_total, 1);
    assert_eq!(s.stats().await.unwrap().notifications, 1);
    assert_eq!(
        s.ingest(vec![note("alerts", "r1", "c1", T0)], T0 + 3)
            .await
            .unwrap(),
        vec![IngestOutcome::Duplicate]
    );
}

#[test]
fn refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
    let conn =
        rusqlite::Connection::open(dir.path().join(countersign_store::sqlite::DB_FILE)).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(dir.path(), SqliteOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("newer"), "{err}");
}
