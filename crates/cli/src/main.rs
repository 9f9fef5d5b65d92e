//! `countersign`: the one binary. A thin layer over the crates: parse the command line, load the
//! configuration, and run a command (serve, demo, ingest, verify, purge, migrate, keygen, bench).

mod bench;
mod bench_console;
#[cfg(feature = "kafka")]
mod bench_kafka;
mod bench_pg;
mod bench_reports;
mod bench_stir;
mod brands;
mod client;
mod demo;
mod exercise;
mod exercise_inject;
mod exercise_run;
mod fit;
mod settings;
mod sim_http;
mod simulate;
mod stir;
mod x5u_host;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use countersign_server::{now_ms, AppState};

#[derive(Parser)]
#[command(
    name = "countersign",
    version,
    about = "Did we send this? A notification ledger and claim verification against paired smishing + vishing."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Where the server configuration comes from.
#[derive(clap::Args, Clone)]
struct ConfigArgs {
    /// TOML configuration file (see README); every key optional.
    #[arg(long, env = "COUNTERSIGN_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory of the embedded store (overrides the file and COUNTERSIGN_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the API server.
    Serve {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Address to listen on, e.g. 127.0.0.1:7700 (port 0 picks a free one; the chosen
        /// address is printed on stdout as `listening on http://ADDR`).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Seed a small realistic world into an embedded store, serve it, and print ready-to-paste
    /// requests for a `confirmed` and a `not_sent` verification.
    Demo {
        /// Keep the demo's data here (default: a fresh temporary directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value = "127.0.0.1:7700")]
        listen: String,
        /// Seed, print, run the two verifications, and exit instead of serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Load notifications from an NDJSON or CSV file into a running server or a data directory.
    Ingest(client::IngestArgs),
    /// Ask a running server whether a claimed notification was sent.
    Verify(client::VerifyArgs),
    /// Delete notifications older than the retention window (or `--before`).
    Purge {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// RFC 3339 cut-off; default: now minus `retention_days`.
        #[arg(long)]
        before: Option<String>,
    },
    /// Create or upgrade the data directory's schema, and report its version.
    Migrate {
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Generate an API key and print the configuration lines that grant it.
    Keygen {
        /// A name for the key, shown in the audit log.
        #[arg(long)]
        name: String,
        /// Scopes, comma-separated: ingest, agent, sms, admin.
        #[arg(long, default_value = "agent")]
        scopes: String,
    },
    /// Make a single-use console sign-in link for a person (valid `console.link_ttl_mins`).
    ConsoleLogin(ConsoleLoginArgs),
    /// Customer profiles.
    #[command(subcommand)]
    Customers(CustomersCmd),
    /// The call-scoring policy.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// The sender-ID brand registry.
    #[command(subcommand)]
    Brands(BrandsCmd),
    /// Audits: `audit sender-ids --brand X` generates a brand's lookalike sender IDs, runs them
    /// through the filter, and reports coverage, misses and false positives.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Benchmarks against the real server and store (see BENCHMARKS.md).
    Bench(bench::BenchArgs),
    /// The paired-pattern simulator: a seeded world of customers, genuine notifications and
    /// calls, smishing campaigns and attackers in tiers, run through the real verification and
    /// scoring; writes the detection report against the baselines to `--out`.
    Simulate(simulate::SimArgs),
    /// Tabletop and live exercises of the paired pattern: `run FILE` drives a server through a
    /// scenario and writes the after-action report; `list`, `report RUN`, `purge RUN`.
    #[command(subcommand)]
    Exercise(exercise::ExerciseCmd),
    /// STIR/SHAKEN: `verify TOKEN --cert FILE --trust FILE` checks a caller's PASSporT.
    #[command(subcommand)]
    Stir(stir::StirCmd),
}

#[derive(clap::Args)]
struct ConsoleLoginArgs {
    /// The person's name, as the audit log will show it.
    name: String,
    /// `agent` (the call screen) or `analyst` (also the analyst screens).
    #[arg(long, default_value = "agent")]
    role: String,
    #[arg(long, env = "COUNTERSIGN_URL", default_value = "http://127.0.0.1:7700")]
    server: String,
    /// API key with the `admin` scope.
    #[arg(long, env = "COUNTERSIGN_API_KEY", hide_env_values = true)]
    key: String,
}

/// Ask the server for a sign-in link and print it.
fn console_login(a: ConsoleLoginArgs) -> anyhow::Result<()> {
    let base = a.server.trim_end_matches('/');
    let res = ureq::post(&format!("{base}/v1/console/links"))
        .set("authorization", &format!("Bearer {}", a.key))
        .send_json(serde_json::json!({"person": a.name, "role": a.role}));
    let link: serde_json::Value = match res {
        Ok(r) => r.into_json()?,
        Err(ureq::Error::Status(code, r)) => {
            let p: serde_json::Value = r.into_json().unwrap_or_default();
            anyhow::bail!(
                "the server refused ({code} {}): {}",
                p["code"].as_str().unwrap_or("?"),
                p["detail"].as_str().unwrap_or("")
            )
        }
        Err(e) => anyhow::bail!("cannot reach {base}: {e}"),
    };
    println!(
        "{base}{}\n(single use; valid until {})",
        link["path"].as_str().unwrap_or_default(),
        link["expires_at"].as_str().unwrap_or_default()
    );
    Ok(())
}

#[derive(Subcommand)]
enum PolicyCmd {
    /// Fit the weights to the recorded outcome labels (logistic regression), report calibration
    /// before and after, and write a new policy file.
    Fit(fit::FitArgs),
}

#[derive(Subcommand)]
enum CustomersCmd {
    /// Import profiles (NDJSON, or CSV with customer_id, phones and emails as `;`-separated
    /// lists, locale, app_installed) into a running server.
    Import(client::IngestArgs),
}

#[derive(Subcommand)]
enum BrandsCmd {
    /// PUT every brand of a registry file into a running server.
    Load(brands::LoadArgs),
}

#[derive(Subcommand)]
enum AuditCmd {
    /// The sender-ID lookalike audit of one brand.
    SenderIds(brands::AuditArgs),
}

fn main() {
    let cli = Cli::parse();
    // The simulator drives the server's services a million times: their per-call logs (the
    // surge alert rising and falling with the simulated campaigns) would drown its progress.
    let default_level = match cli.cmd {
        Cmd::Simulate(_) => "error",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COUNTERSIGN_LOG")
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Serve { cfg, listen } => {
            let config = settings::load(
                cfg.config.as_deref(),
                cfg.data_dir.as_deref(),
                listen.as_deref(),
            )?;
            if config.api_keys.is_empty() {
                anyhow::bail!(
                    "no API keys configured: every endpoint but health needs one. Create one with \
                     `countersign keygen --name NAME --scopes ingest,agent` and add it to the config file or COUNTERSIGN_API_KEYS"
                );
            }
            runtime()?.block_on(serve(config, None))
        }
        Cmd::Demo {
            data_dir,
            listen,
            no_serve,
        } => runtime()?.block_on(demo::run(data_dir, &listen, no_serve)),
        Cmd::Ingest(args) => client::ingest(args),
        Cmd::Verify(args) => client::verify(args),
        Cmd::Purge { cfg, before } => {
            let config = settings::load(cfg.config.as_deref(), cfg.data_dir.as_deref(), None)?;
            let cut = match before {
                Some(b) => countersign_core::validate::parse_time("--before", &b)
                    .map_err(|r| anyhow::anyhow!(r.detail))?,
                None => now_ms() - config.retention_ms(),
            };
            runtime()?.block_on(async {
                let store = settings::open_store(&config).await?;
                let n = store.purge(cut).await?;
                store
                    .audit(countersign_store::AuditEntry {
                        at: now_ms(),
                        actor: "cli".into(),
                        action: "purge".into(),
                        customer_id: None,
                        detail: Some(format!(
                            "before={} deleted={n}",
                            countersign_core::validate::format_time(cut)
                        )),
                    })
                    .await?;
                // Flushing and closing drain the writer's queue: the audit entry is durable when
                // this returns.
                store.flush().await?;
                store.close();
                println!(
                    "purged {n} notifications sent before {}",
                    countersign_core::validate::format_time(cut)
                );
                Ok(())
            })
        }
        Cmd::Migrate { cfg } => {
            let config = settings::load(cfg.config.as_deref(), cfg.data_dir.as_deref(), None)?;
            let (name, before, after) = match config.store {
                countersign_server::config::StoreKind::Sqlite => {
                    std::fs::create_dir_all(&config.data_dir)?;
                    let path = config.data_dir.join(countersign_store::sqlite::DB_FILE);
                    let mut conn = rusqlite_open(&path)?;
                    let (b, a) = countersign_store::sqlite::migrate(&mut conn)?;
                    (path.display().to_string(), b, a)
                }
                countersign_server::config::StoreKind::Postgres => {
                    let url = config.database_url.as_deref().unwrap_or_default();
                    let opts = settings::pg_options(&config)?;
                    let (b, a) = runtime()?
                        .block_on(countersign_store::postgres::migrate_url(url, &opts))?;
                    (countersign_store::postgres::describe_url(url), b, a)
                }
            };
            if before == after {
                println!("{name}: schema is current (version {after})");
            } else {
                println!("{name}: migrated schema {before} -> {after}");
            }
            Ok(())
        }
        Cmd::Keygen { name, scopes } => {
            let scopes: Vec<&str> = scopes
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            for s in &scopes {
                if countersign_server::auth::Scope::parse(s).is_none() {
                    anyhow::bail!("unknown scope {s:?}: use ingest, agent, sms, admin");
                }
            }
            let key = countersign_server::auth::generate_key()?;
            let hash = countersign_server::auth::hash_key(&key);
            println!("API key (give it to the client; it is not stored anywhere):\n  {key}\n");
            println!("In the config file:\n  [[api_keys]]\n  name = \"{name}\"\n  sha256 = \"{hash}\"\n  scopes = [{}]\n",
                scopes.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", "));
            println!(
                "Or in the environment:\n  COUNTERSIGN_API_KEYS='{name}:{}:{hash}'",
                scopes.join("+")
            );
            Ok(())
        }
        Cmd::ConsoleLogin(args) => console_login(args),
        Cmd::Policy(PolicyCmd::Fit(args)) => fit::run(args),
        Cmd::Customers(CustomersCmd::Import(args)) => client::load(args, client::Target::Customers),
        Cmd::Brands(BrandsCmd::Load(args)) => brands::load(args),
        Cmd::Audit(AuditCmd::SenderIds(args)) => brands::audit_sender_ids(args),
        Cmd::Bench(args) => bench::run(args),
        Cmd::Simulate(args) => simulate::run(args),
        Cmd::Exercise(cmd) => exercise::run(cmd),
        Cmd::Stir(cmd) => stir::run(cmd),
    }
}

fn rusqlite_open(path: &std::path::Path) -> anyhow::Result<countersign_store::sqlite::Connection> {
    countersign_store::sqlite::Connection::open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// Open the store, bind, and serve until Ctrl-C or SIGTERM. `ready` receives the bound address.
pub async fn serve(
    config: countersign_server::config::ServerConfig,
    ready: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
) -> anyhow::Result<()> {
    raise_open_file_limit();
    let key = settings::body_hmac_key(&config)?;
    let store = settings::open_store(&config).await?;
    let state = Arc::new(AppState::new(&config, store.clone(), key)?);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!("listening on {scheme}://{addr}");
    tracing::info!(%addr, store = %settings::store_name(&config), retention_days = config.retention_days, "countersign serving");
    if let Some(r) = ready {
        let _ = r.send(addr);
    }
    let purge =
        (config.purge_interval_secs > 0).then(|| Duration::from_secs(config.purge_interval_secs));
    countersign_server::serve(listener, state, purge, shutdown_signal()).await?;
    store.flush().await?;
    store.close();
    tracing::info!("stopped; everything acknowledged is on disk");
    Ok(())
}

/// Every connection costs a file descriptor: raise the soft limit to the hard one (the common
/// default of 1,024 is exhausted by ~1,000 idle clients) and log both.
fn raise_open_file_limit() {
    let (soft_before, hard) = rlimit::Resource::NOFILE.get().unwrap_or((0, 0));
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => tracing::info!(soft_before, soft = now, hard, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
