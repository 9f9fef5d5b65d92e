//! Sender-ID commands: `brands load FILE` (a carrier's or bank's registry file into a server) and
//! `audit sender-ids` (the lookalike audit: coverage per family, misses, false positives, and the
//! blocked-variant CSV), against a server or offline against a registry file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use countersign_core::extract::ExtractConfig;
use countersign_core::sender::{validate_brand, BrandIn, FilterPolicy, Registry};
use countersign_core::variants::{audit, legit_sender_ids, parse_id_list};

/// A registry file: `{"brand-name": {sender_ids: [...], ...}, ...}` (JSON).
pub fn read_registry_file(path: &PathBuf) -> anyhow::Result<BTreeMap<String, BrandIn>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: expected a JSON object of brand name → brand",
            path.display()
        )
    })
}

#[derive(clap::Args)]
pub struct LoadArgs {
    /// JSON object of brand name → brand (display_names, aliases, sender_ids, callback_numbers,
    /// domains, templates, unregistered_policy).
    pub file: PathBuf,
    #[arg(long, env = "COUNTERSIGN_URL", default_value = "http://127.0.0.1:7700")]
    pub server: String,
    /// API key with the `admin` scope.
    #[arg(long, env = "COUNTERSIGN_API_KEY", hide_env_values = true)]
    pub key: String,
}

pub fn load(a: LoadArgs) -> anyhow::Result<()> {
    let brands = read_registry_file(&a.file)?;
    let mut failed = 0;
    for (name, spec) in &brands {
        let url = format!("{}/v1/brands/{name}", a.server.trim_end_matches('/'));
        match ureq::put(&url)
            .set("authorization", &format!("Bearer {}", a.key))
            .send_json(serde_json::to_value(spec)?)
        {
            Ok(r) => println!(
                "{name}: {}",
                if r.status() == 201 {
                    "created"
                } else {
                    "replaced"
                }
            ),
            Err(ureq::Error::Status(code, r)) => {
                failed += 1;
                let p: serde_json::Value = r.into_json().unwrap_or_default();
                println!(
                    "{name}: {code} {} — {}",
                    p["code"].as_str().unwrap_or("error"),
                    p["detail"].as_str().unwrap_or("")
                );
            }
            Err(e) => return Err(e).context("cannot reach the server"),
        }
    }
    println!("{} brands loaded, {failed} rejected", brands.len() - failed);
    if failed > 0 {
        anyhow::bail!("{failed} brands were rejected");
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct AuditArgs {
    /// The brand to audit.
    #[arg(long)]
    pub brand: String,
    /// Audit offline against this registry file instead of a server.
    #[arg(long)]
    pub registry: Option<PathBuf>,
    #[arg(long, env = "COUNTERSIGN_URL", default_value = "http://127.0.0.1:7700")]
    pub server: String,
    /// API key with the `sms` or `admin` scope.
    #[arg(long, env = "COUNTERSIGN_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Offline only: legitimate sender IDs of other organisations (default: the built-in corpus).
    #[arg(long)]
    pub legit: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the readable report here (it is also printed).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write the blocked-variant list (CSV) a carrier's SMS firewall loads.
    #[arg(long)]
    pub export: Option<PathBuf>,
}

pub fn audit_sender_ids(a: AuditArgs) -> anyhow::Result<()> {
    let (json, text, csv) = match &a.registry {
        Some(path) => {
            let x = ExtractConfig::default();
            let mut brands = Vec::new();
            for (name, spec) in read_registry_file(path)? {
                brands.push(
                    validate_brand(&name, spec, &x)
                        .map_err(|r| anyhow::anyhow!("brand {name}: {} ({})", r.detail, r.code))?,
                );
            }
            let reg = Registry::new(brands, FilterPolicy::default());
            let legit = match &a.legit {
                Some(p) => parse_id_list(
                    &std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))?,
                ),
                None => legit_sender_ids(),
            };
            let r = audit(&reg, &a.brand, Some(&legit), &x)
                .ok_or_else(|| anyhow::anyhow!("no brand {:?} in {}", a.brand, path.display()))?;
            (
                serde_json::to_string_pretty(&r)?,
                r.render(),
                r.export_csv(),
            )
        }
        None => {
            let key = a.key.clone().context("an API key is needed: --key or COUNTERSIGN_API_KEY (or --registry FILE to audit offline)")?;
            let get = |format: &str| -> anyhow::Result<String> {
                let url = format!(
                    "{}/v1/brands/{}/variants?format={format}",
                    a.server.trim_end_matches('/'),
                    a.brand
                );
                match ureq::get(&url)
                    .set("authorization", &format!("Bearer {key}"))
                    .call()
                {
                    Ok(r) => Ok(r.into_string()?),
                    Err(ureq::Error::Status(code, r)) => {
                        let p: serde_json::Value = r.into_json().unwrap_or_default();
                        anyhow::bail!(
                            "{code} {}: {}",
                            p["code"].as_str().unwrap_or("error"),
                            p["detail"].as_str().unwrap_or("")
                        )
                    }
                    Err(e) => Err(e).context("cannot reach the server"),
                }
            };
            (get("json")?, get("text")?, get("csv")?)
        }
    };
    print!("{text}");
    for (path, content) in [(&a.json, &json), (&a.report, &text), (&a.export, &csv)] {
        if let Some(p) = path {
            std::fs::write(p, content).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}
