//! Resolving the server configuration for a command: the TOML file (`--config` or
//! `COUNTERSIGN_CONFIG`), then `COUNTERSIGN_*` environment variables, then command-line flags;
//! and the body-HMAC key (configured, or generated once into the data directory).

use std::path::{Path, PathBuf};

use std::sync::Arc;

use anyhow::Context;
use countersign_server::config::{ServerConfig, StoreKind};
use countersign_store::postgres::{PgOptions, PgStore};
use countersign_store::sqlite::{SqliteOptions, SqliteStore};
use countersign_store::Store;

/// File in the data directory holding the generated body-HMAC key (hex).
pub const HMAC_KEY_FILE: &str = "body-hmac.key";

/// Load the configuration: file, then environment, then the given overrides; validated.
pub fn load(
    config: Option<&Path>,
    data_dir: Option<&Path>,
    listen: Option<&str>,
) -> anyhow::Result<ServerConfig> {
    let mut cfg = match config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read config file {}", p.display()))?;
            ServerConfig::from_toml(&text).with_context(|| format!("in {}", p.display()))?
        }
        None => ServerConfig::default(),
    };
    cfg.apply_env(|k| std::env::var(k).ok())?;
    if let Some(d) = data_dir {
        cfg.data_dir = d.to_path_buf();
    }
    if let Some(l) = listen {
        cfg.listen = l
            .parse()
            .map_err(|_| anyhow::anyhow!("--listen {l:?}: expected HOST:PORT"))?;
    }
    cfg.validate()?;
    Ok(cfg)
}

/// Open the configured store: the embedded one in the data directory, or the PostgreSQL
/// database (its schema migrated if behind, under the migration lock).
pub async fn open_store(cfg: &ServerConfig) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match cfg.store {
        StoreKind::Sqlite => Arc::new(SqliteStore::open(&cfg.data_dir, SqliteOptions::default())?),
        StoreKind::Postgres => {
            let url = cfg
                .database_url
                .as_deref()
                .context("store = \"postgres\" needs database_url")?;
            Arc::new(PgStore::connect(url, pg_options(cfg)?).await?)
        }
    })
}

/// The PostgreSQL store's options from the configuration: the pool size and, for
/// `sslmode=require`, TLS trusting the Mozilla roots and `database_ca_file`.
pub fn pg_options(cfg: &ServerConfig) -> anyhow::Result<PgOptions> {
    Ok(PgOptions {
        pool_max: cfg.database_pool_max,
        tls: Some(countersign_server::tls::client_config(
            cfg.database_ca_file.as_deref(),
            "database_ca_file",
        )?),
        ..PgOptions::default()
    })
}

/// Where the configured store is, for messages (never the database password).
pub fn store_name(cfg: &ServerConfig) -> String {
    match cfg.store {
        StoreKind::Sqlite => cfg.data_dir.display().to_string(),
        StoreKind::Postgres => cfg.database_url.as_deref().map_or_else(
            || "postgres".into(),
            countersign_store::postgres::describe_url,
        ),
    }
}

/// The body-HMAC key: from the configuration, else from (or newly generated into) the data dir.
pub fn body_hmac_key(cfg: &ServerConfig) -> anyhow::Result<Vec<u8>> {
    if let Some(k) = &cfg.body_hmac_key {
        return hex::decode(k).context("body_hmac_key is not hex");
    }
    let path: PathBuf = cfg.data_dir.join(HMAC_KEY_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display()));
    }
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data directory {}", cfg.data_dir.display()))?;
    let mut key = [0u8; 32];
    countersign_server::auth::getrandom_fill(&mut key)?;
    write_private(&path, hex::encode(key).as_bytes())?;
    tracing::info!(path = %path.display(), "generated a body-HMAC key; back it up with the data directory");
    Ok(key.to_vec())
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
