//! Databases for tests on a real PostgreSQL: each test gets its own database, cloned from a
//! template migrated once per test process, and dropped when the test ends. The server is
//! `COUNTERSIGN_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`, the
//! machine's trust-auth server). Without a server a test is skipped with a line saying so —
//! except under `CI=true`, where a missing server fails it.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::OnceCell;

use crate::postgres::{PgOptions, PgStore};

/// The server tests connect to (its maintenance database).
pub fn admin_url() -> String {
    std::env::var("COUNTERSIGN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `name` on the test server.
fn url_of(name: &str) -> String {
    let base = admin_url();
    match base.rfind('/') {
        Some(i) if base[..i].contains("//") => format!("{}/{name}", &base[..i]),
        _ => format!("{base} dbname={name}"),
    }
}

async fn admin() -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

const PREFIX: &str = "cstest_";

/// The process's template: created and migrated on first use; `None` without a server.
static TEMPLATE: OnceCell<Option<String>> = OnceCell::const_new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

async fn template() -> Option<String> {
    TEMPLATE
        .get_or_init(|| async {
            let client = match admin().await {
                Ok(c) => c,
                Err(e) => {
                    let msg = format!("no PostgreSQL at {} ({e})", admin_url());
                    if std::env::var("CI").is_ok_and(|v| v == "true") {
                        panic!("{msg}: under CI=true the PostgreSQL tests must run");
                    }
                    eprintln!("SKIPPED: {msg}; the PostgreSQL tests did not run");
                    return None;
                }
            };
            drop_stale(&client).await;
            let name = format!("{PREFIX}tpl_{}", std::process::id());
            for sql in [
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                format!("CREATE DATABASE {name}"),
            ] {
                client
                    .batch_execute(&sql)
                    .await
                    .expect("create the template database");
            }
            let store = PgStore::connect(&url_of(&name), PgOptions::default())
                .await
                .expect("migrate the template database");
            store.close();
            Some(name)
        })
        .await
        .clone()
}

/// Databases of test processes that are gone (killed before they could drop theirs).
async fn drop_stale(client: &tokio_postgres::Client) {
    let Ok(rows) = client
        .query(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
            &[&PREFIX],
        )
        .await
    else {
        return;
    };
    for r in rows {
        let name: String = r.get(0);
        let pid = name
            .trim_start_matches(PREFIX)
            .trim_start_matches("tpl_")
            .split('_')
            .next()
            .and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// A test's own database, dropped (with any connection still open to it) when this is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A new database with the current schema; `None` when there is no server (outside CI).
    pub async fn create() -> Option<TestDb> {
        let tpl = template().await?;
        let name = format!(
            "{PREFIX}{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let client = admin().await.expect("connect to the test server");
        // The template's last connection may take a moment to go after the migration.
        let mut tries = 0;
        loop {
            match client
                .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {tpl}"))
                .await
            {
                Ok(()) => break,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("create test database {name}: {e}"),
            }
        }
        Some(TestDb {
            url: url_of(&name),
            name,
        })
    }

    /// An empty database (no schema), for migration tests.
    pub async fn empty() -> Option<TestDb> {
        template().await?;
        let name = format!(
            "{PREFIX}{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin()
            .await
            .expect("connect to the test server")
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create an empty test database");
        Some(TestDb {
            url: url_of(&name),
            name,
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop may run inside a runtime: the database goes on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let c = admin().await.ok()?;
                c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
    }
}
