//! `countersign policy fit`: learn the scoring weights from the outcome labels agents recorded,
//! with a maintained logistic-regression implementation (linfa-logistic), report calibration
//! before and after, and write a new policy file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
// The score's own table of signals (name in a score's reasons → weight in the policy): `fit`
// learns exactly the weights the served model uses.
use countersign_core::score::{Policy, SIGNALS};
use countersign_server::api_types::CallDoc;
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};

use crate::settings;

#[derive(clap::Args)]
pub struct FitArgs {
    #[arg(long, env = "COUNTERSIGN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory holding the labelled calls.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The policy to start from (default: the configured policy_file, else the built-in one).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Where to write the fitted policy.
    #[arg(long)]
    pub out: PathBuf,
    /// Use calls from the last N days.
    #[arg(long, default_value_t = 365)]
    pub days: i64,
    /// A signal's weight is refitted only when it appears in at least this many labelled calls;
    /// otherwise the current weight is kept.
    #[arg(long, default_value_t = 5)]
    pub min_support: usize,
    /// Also set `prior_fraud_rate` from the labels (only if labelled calls are a random sample of
    /// all calls; agents usually label the suspicious ones, which would inflate it).
    #[arg(long)]
    pub prior_from_labels: bool,
}

fn weights_map(p: &Policy) -> anyhow::Result<BTreeMap<String, f64>> {
    let v = serde_json::to_value(&p.weights)?;
    Ok(v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0)))
                .collect()
        })
        .unwrap_or_default())
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Brier score, log loss and a 5-bin reliability table.
fn calibration(name: &str, probs: &[f64], labels: &[bool]) -> String {
    use std::fmt::Write;
    let n = probs.len().max(1) as f64;
    let brier: f64 = probs
        .iter()
        .zip(labels)
        .map(|(p, y)| (p - if *y { 1.0 } else { 0.0 }).powi(2))
        .sum::<f64>()
        / n;
    let logloss: f64 = probs
        .iter()
        .zip(labels)
        .map(|(p, y)| {
            let p = p.clamp(1e-6, 1.0 - 1e-6);
            if *y {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum::<f64>()
        / n;
    let mut s = format!("{name}: Brier {brier:.4}, log loss {logloss:.4}\n");
    let _ = writeln!(
        s,
        "  {:<13} {:>6} {:>15} {:>14}",
        "predicted", "calls", "mean predicted", "observed fraud"
    );
    for b in 0..5 {
        let (lo, hi) = (b as f64 / 5.0, (b + 1) as f64 / 5.0);
        let idx: Vec<usize> = (0..probs.len())
            .filter(|i| probs[*i] >= lo && (probs[*i] < hi || (b == 4 && probs[*i] <= 1.0)))
            .collect();
        if idx.is_empty() {
            continue;
        }
        let mp = idx.iter().map(|i| probs[*i]).sum::<f64>() / idx.len() as f64;
        let obs = idx.iter().filter(|i| labels[**i]).count() as f64 / idx.len() as f64;
        let _ = writeln!(
            s,
            "  {:<13} {:>6} {:>15.3} {:>14.3}",
            format!("{lo:.1}–{hi:.1}"),
            idx.len(),
            mp,
            obs
        );
    }
    s
}

pub fn run(a: FitArgs) -> anyhow::Result<()> {
    let cfg = settings::load(a.config.as_deref(), a.data_dir.as_deref(), None)?;
    let current = match a.policy.as_ref().or(cfg.policy_file.as_ref()) {
        Some(p) => countersign_server::calls::load_policy(p)?,
        None => Policy::default(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let calls = rt.block_on(async {
        let store = crate::settings::open_store(&cfg).await?;
        let since = countersign_server::now_ms() - a.days * 86_400_000;
        let c = store.calls_since(since, 1_000_000).await?;
        store.close();
        anyhow::Ok(c)
    })?;
    let (rows, labels) = labelled(&calls);
    let frauds = labels.iter().filter(|l| **l).count();
    println!(
        "{} calls in the last {} days, {} labelled ({} fraud, {} legitimate)",
        calls.len(),
        a.days,
        labels.len(),
        frauds,
        labels.len() - frauds
    );
    if labels.len() < 20 || frauds == 0 || frauds == labels.len() {
        anyhow::bail!("need at least 20 labelled calls with both fraud and legitimate outcomes to fit; record outcomes with POST /v1/calls/{{id}}/outcome");
    }
    let fit = fit_weights(&rows, &labels, &current, a.min_support, a.prior_from_labels)?;
    report(&rows, &labels, &current, &fit);
    let text = format!(
        "# Fitted by `countersign policy fit` from {} labelled calls ({} fraud). Weights seen in fewer\n# than {} calls were kept from {:?}. See policy/default.toml for what each weight means.\n{}",
        labels.len(),
        frauds,
        a.min_support,
        current.version,
        toml::to_string(&fit.policy)?
    );
    std::fs::write(&a.out, text).with_context(|| format!("cannot write {}", a.out.display()))?;
    println!(
        "\nwrote {} (version {}); apply it with policy_file and POST /v1/policy/reload",
        a.out.display(),
        fit.policy.version
    );
    Ok(())
}

/// Fit the weights to calls whose truth is known — `(signal, value)` of each call's last score,
/// and whether it was fraud — as `policy fit` does on agents' labels (the simulator's use).
pub fn fit_labelled(
    calls: &[(Vec<(String, f64)>, bool)],
    current: &Policy,
    min_support: usize,
) -> anyhow::Result<Policy> {
    let rows: Vec<Vec<f64>> = calls
        .iter()
        .map(|(reasons, _)| features(reasons.iter().map(|(s, v)| (s.as_str(), *v))))
        .collect();
    let labels: Vec<bool> = calls.iter().map(|c| c.1).collect();
    // Every call is labelled here: the prior is the sample's own rate.
    Ok(fit_weights(&rows, &labels, current, min_support, true)?.policy)
}

/// Each signal's value, in `SIGNALS` order.
fn features<'a>(reasons: impl Iterator<Item = (&'a str, f64)>) -> Vec<f64> {
    let mut x = vec![0.0; SIGNALS.len()];
    for (signal, value) in reasons {
        if let Some(i) = SIGNALS.iter().position(|s| s.name == signal) {
            x[i] = value;
        }
    }
    x
}

/// Features and labels: each signal's value in the call's last score, and the agent's outcome
/// (calls without a fraud/legitimate outcome are left out).
fn labelled(calls: &[countersign_store::CallRecord]) -> (Vec<Vec<f64>>, Vec<bool>) {
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut labels: Vec<bool> = Vec::new();
    for c in calls {
        let Ok(doc) = serde_json::from_str::<CallDoc>(&c.doc) else {
            continue;
        };
        let label = match doc.outcome.as_ref().map(|o| o.outcome.as_str()) {
            Some("fraud") => true,
            Some("legitimate") => false,
            _ => continue,
        };
        let Some(last) = doc.scores.last() else {
            continue;
        };
        rows.push(features(
            last.score
                .reasons
                .iter()
                .map(|r| (r.signal.as_str(), r.value)),
        ));
        labels.push(label);
    }
    (rows, labels)
}

/// The fitted policy, with what `report` shows.
struct Fitted {
    policy: Policy,
    before: BTreeMap<String, f64>,
    after: BTreeMap<String, f64>,
    support: Vec<usize>,
    intercept: f64,
}

/// Logistic regression of the outcome on the signals seen in at least `min_support` calls;
/// the others keep their current weight.
fn fit_weights(
    rows: &[Vec<f64>],
    labels: &[bool],
    current: &Policy,
    min_support: usize,
    prior_from_labels: bool,
) -> anyhow::Result<Fitted> {
    let support: Vec<usize> = (0..SIGNALS.len())
        .map(|j| rows.iter().filter(|r| r[j] != 0.0).count())
        .collect();
    let cols: Vec<usize> = (0..SIGNALS.len())
        .filter(|j| support[*j] >= min_support)
        .collect();
    let x: Array2<f64> = Array2::from_shape_fn((rows.len(), cols.len()), |(i, k)| rows[i][cols[k]]);
    let y = Array1::from_iter(
        labels
            .iter()
            .map(|l| if *l { "fraud" } else { "legitimate" }),
    );
    let ds = Dataset::new(x, y);
    let model = LogisticRegression::default()
        .alpha(0.1)
        .max_iterations(500)
        .fit(&ds)
        .map_err(|e| anyhow::anyhow!("the fit did not converge: {e}"))?;
    // linfa's positive class is the label that sorts last ("legitimate"): flip the signs.
    let flip = if model.labels().pos.class == "fraud" {
        1.0
    } else {
        -1.0
    };
    let intercept = flip * model.intercept();
    let mut weights = weights_map(current)?;
    let before = weights.clone();
    for (k, j) in cols.iter().enumerate() {
        weights.insert(
            SIGNALS[*j].weight.to_string(),
            (flip * model.params()[k] * 100.0).round() / 100.0,
        );
    }
    let mut fitted = current.clone();
    fitted.weights = serde_json::from_value(serde_json::to_value(&weights)?)?;
    fitted.version = format!(
        "fit-{}",
        countersign_core::validate::format_time(countersign_server::now_ms())
            .get(..10)
            .unwrap_or("now")
    );
    if prior_from_labels {
        fitted.prior_fraud_rate = sigmoid(intercept).clamp(1e-6, 0.5);
    }
    fitted
        .check()
        .map_err(|e| anyhow::anyhow!("the fitted policy is not valid: {e}"))?;

    Ok(Fitted {
        policy: fitted,
        before,
        after: weights,
        support,
        intercept,
    })
}

/// The weights before and after, and the calibration of both on the labelled calls.
fn report(rows: &[Vec<f64>], labels: &[bool], current: &Policy, fit: &Fitted) {
    let predict = |w: &BTreeMap<String, f64>, prior: f64| -> Vec<f64> {
        rows.iter()
            .map(|r| {
                sigmoid(
                    logit(prior)
                        + SIGNALS
                            .iter()
                            .enumerate()
                            .map(|(j, s)| w.get(s.weight).copied().unwrap_or(0.0) * r[j])
                            .sum::<f64>(),
                )
            })
            .collect()
    };
    println!(
        "\n{:<24} {:>8} {:>8} {:>8}",
        "weight", "support", "before", "after"
    );
    for (j, s) in SIGNALS.iter().enumerate() {
        let name = s.weight;
        println!(
            "{:<24} {:>8} {:>8.2} {:>8.2}",
            name, fit.support[j], fit.before[name], fit.after[name]
        );
    }
    println!(
        "intercept on the labelled sample: {:.2} (≈ {:.1}% fraud)\n",
        fit.intercept,
        100.0 * sigmoid(fit.intercept)
    );
    print!(
        "{}",
        calibration(
            "before",
            &predict(&fit.before, current.prior_fraud_rate),
            labels
        )
    );
    print!(
        "{}",
        calibration(
            "after ",
            &predict(&fit.after, fit.policy.prior_fraud_rate),
            labels
        )
    );
}
