//! The public contract under review: the OpenAPI document the server serves is compared with
//! the reviewed snapshot `crates/server/openapi.snapshot.json`, so any change to an endpoint, a
//! field or an error code shows up in the diff of a change. After a deliberate change, rewrite
//! the snapshot with `UPDATE_SNAPSHOTS=1 cargo test --workspace contract` and review it.

use std::path::Path;

#[test]
fn the_openapi_document_matches_its_reviewed_snapshot() {
    let doc = countersign_server::openapi::document()
        .to_pretty_json()
        .unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/openapi.snapshot.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, format!("{doc}\n")).unwrap();
        return;
    }
    let snapshot = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; create it with UPDATE_SNAPSHOTS=1", path.display()));
    if snapshot.trim_end() != doc.trim_end() {
        let first = snapshot
            .lines()
            .zip(doc.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(snapshot.lines().count().min(doc.lines().count()));
        panic!(
            "the OpenAPI document changed (first difference at line {}): review the change and \
             rewrite the snapshot with UPDATE_SNAPSHOTS=1\n  snapshot: {:?}\n  now:      {:?}",
            first + 1,
            snapshot.lines().nth(first),
            doc.lines().nth(first)
        );
    }
}
