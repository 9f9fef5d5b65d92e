//! `countersign stir verify`: the STIR/SHAKEN verifier on the command line — a PASSporT (or
//! `Identity` header values) checked against a certificate file and a trust list, the result as
//! JSON, the exit status 0 only when verification passed.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use countersign_core::stir::{self, CallNumbers, Rules, Signer, TrustList, Verstat};

#[derive(clap::Subcommand)]
pub enum StirCmd {
    /// Verify PASSporTs: prints the verstat, the failure (RFC 8224 code and kind), the signed
    /// attestation, the signer's SPC and the certificate findings as JSON. Exit status 0 when
    /// `TN-Validation-Passed`, 1 otherwise.
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The PASSporT, an `Identity` header value (`token;info=<url>;…`), or `-` to read them from
    /// standard input, one per line (a forwarded call's SHAKEN and `div` PASSporTs together).
    pub token: String,
    /// The signer's certificate (PEM, the signing certificate then its intermediates, as its
    /// `x5u` serves it; or one DER certificate), used whatever URL the PASSporT names.
    #[arg(long)]
    pub cert: PathBuf,
    /// The STI-CA trust list (PEM).
    #[arg(long)]
    pub trust: PathBuf,
    /// Certificate revocation lists (PEM or one DER CRL) to check the chain against.
    #[arg(long)]
    pub crl: Option<PathBuf>,
    /// The calling number (the call's ANI); default: the PASSporT's own `orig`.
    #[arg(long)]
    pub calling: Option<String>,
    /// The called number; default: not checked.
    #[arg(long)]
    pub called: Option<String>,
    /// Verify as of this time (RFC 3339); default: now.
    #[arg(long)]
    pub at: Option<String>,
    /// How far `iat` may be from the time, in seconds.
    #[arg(long, default_value_t = 60)]
    pub iat_window: i64,
    /// Accept an `http://` `x5u` and `orig`/`dest` sent as JSON inside strings (older
    /// implementations' output), each reported as a finding; the chain, the signature, `iat` and
    /// the numbers stay strict.
    #[arg(long)]
    pub lenient: bool,
}

pub fn run(cmd: StirCmd) -> anyhow::Result<()> {
    match cmd {
        StirCmd::Verify(args) => {
            let r = verify(&args)?;
            println!("{}", serde_json::to_string_pretty(&r)?);
            if r.verstat != Verstat::Passed {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

fn verify(args: &VerifyArgs) -> anyhow::Result<stir::StirResult> {
    let inputs: Vec<String> = if args.token == "-" {
        std::io::read_to_string(std::io::stdin())?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    } else {
        vec![args.token.clone()]
    };
    let now_s = match &args.at {
        Some(t) => countersign_core::validate::parse_time("at", t)
            .map_err(|r| anyhow::anyhow!("--at: {}", r.detail))?
            .div_euclid(1000),
        None => chrono::Utc::now().timestamp(),
    };
    let trust_pem = std::fs::read(&args.trust)
        .with_context(|| format!("cannot read the trust list {}", args.trust.display()))?;
    let mut trust = TrustList::from_pem(&trust_pem)
        .map_err(|e| anyhow::anyhow!("trust list {}: {e}", args.trust.display()))?;
    if let Some(crl) = &args.crl {
        let bytes =
            std::fs::read(crl).with_context(|| format!("cannot read the CRL {}", crl.display()))?;
        trust = trust
            .with_crls(&bytes)
            .map_err(|e| anyhow::anyhow!("CRL {}: {e}", crl.display()))?;
    }
    let cert = std::fs::read(&args.cert)
        .with_context(|| format!("cannot read the certificate {}", args.cert.display()))?;
    let signer = Signer::from_bundle(&cert, &trust, now_s).map(Arc::new);
    let lookup = |_: &str| Some(signer.clone());
    let passports = stir::Passports::parse(&inputs);
    let orig = passports.shaken().and_then(|p| p.orig_tn());
    let calling = args.calling.clone().or(orig).unwrap_or_default();
    Ok(stir::verify_parsed(
        &passports,
        &CallNumbers {
            calling: &calling,
            called: args.called.as_deref(),
            now_s,
        },
        &lookup,
        &Rules {
            iat_window_s: args.iat_window,
            lenient: args.lenient,
        },
    ))
}
