//! The detection report of a simulated run: Countersign with the ledger against the three
//! baselines (caller ID only, knowledge-based questions only, Countersign without the ledger),
//! overall, per attacker tier and by what the caller claims; the validation of the run's own
//! targets; where the score goes wrong; and the ROC and precision–recall plots as SVG.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::config::SimConfig;
use crate::metrics::{self, Point, Scored};
use crate::world::Truth;

/// What the real server code answered for one simulated call.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// When the call started (ms since the epoch).
    pub at: i64,
    pub truth: Truth,
    /// The score when the call started (no claim checked yet: Countersign without the ledger).
    pub start_score: f64,
    pub start_action: u8,
    /// The log-odds the caller-ID signals alone added at the start.
    pub caller_id_logit: f64,
    /// The call's final score (after the cited claim, if any).
    pub score: f64,
    /// 0 proceed, 1 step up, 2 call back, 3 block.
    pub action: u8,
    pub verdict: Option<String>,
    /// The signal that added most to the final score.
    pub top_reason: Option<String>,
    /// Each signal of the final score and its value (what `policy fit` learns from).
    pub features: Vec<(String, f64)>,
}

/// A group of fraud calls the report breaks detection down by.
type Subset = fn(&Truth) -> bool;

/// The four defences compared.
pub const DEFENCES: [&str; 4] = [
    "Caller ID only",
    "Knowledge questions only",
    "Countersign without the ledger",
    "Countersign with the ledger",
];

/// Each defence's ranking key for a call (higher = more suspicious).
pub fn key(o: &Outcome, defence: usize) -> f64 {
    match defence {
        0 => o.caller_id_logit,
        1 => f64::from(u8::from(!o.truth.kba_pass)),
        2 => f64::from(o.start_action) * 1_000.0 + o.start_score,
        _ => f64::from(o.action) * 1_000.0 + o.score,
    }
}

/// A configured rate beside the run's own.
#[derive(Debug, Clone)]
pub struct Check {
    pub what: &'static str,
    pub configured: f64,
    pub observed: f64,
    pub n: u64,
}

impl Check {
    /// Within 4.5 standard errors of the configured rate (a false alarm about once in 150,000
    /// runs per check), or exact when there is nothing to sample.
    pub fn passes(&self) -> bool {
        if self.n == 0 {
            return true;
        }
        let p = self.configured;
        let se = (p * (1.0 - p) / self.n as f64).sqrt();
        (self.observed - p).abs() <= 4.5 * se + 1e-9
    }
}

/// The figures of one defence at one false-positive budget.
#[derive(Debug, Clone, Copy)]
pub struct AtBudget {
    pub point: Point,
    pub ci: (f64, f64),
}

/// One defence's summary.
#[derive(Debug, Clone)]
pub struct DefenceSummary {
    pub name: &'static str,
    pub at: Vec<AtBudget>,
    pub average_precision: f64,
    pub pauc_1pct: f64,
    pub cost_per_10k_at_1pct: f64,
    pub curve: Vec<Point>,
}

/// The false-positive budgets reported.
pub const BUDGETS: [f64; 3] = [0.001, 0.005, 0.01];

pub fn summarise(outcomes: &[Outcome], cfg: &SimConfig) -> Vec<DefenceSummary> {
    let frauds = outcomes.iter().filter(|o| o.truth.fraud).count() as u64;
    (0..DEFENCES.len())
        .map(|d| {
            let scored: Vec<Scored> = outcomes
                .iter()
                .map(|o| Scored {
                    key: key(o, d),
                    fraud: o.truth.fraud,
                })
                .collect();
            let curve = metrics::curve(&scored);
            let at: Vec<AtBudget> = BUDGETS
                .iter()
                .map(|b| {
                    let point = metrics::at_fpr(&curve, *b);
                    AtBudget {
                        point,
                        ci: metrics::wilson(point.tp, frauds),
                    }
                })
                .collect();
            DefenceSummary {
                name: DEFENCES[d],
                cost_per_10k_at_1pct: metrics::cost_per_10k(
                    &at[2].point,
                    outcomes.len() as u64,
                    frauds,
                    cfg.cost.false_flag,
                    cfg.cost.miss,
                ),
                average_precision: metrics::average_precision(&curve),
                pauc_1pct: metrics::partial_auc(&curve, 0.01),
                at,
                curve,
            }
        })
        .collect()
}

/// Detection of the fraud calls in `subset` at the threshold where `defence` flags at most
/// `budget` of all genuine calls: (caught, of).
pub fn caught_in(
    outcomes: &[Outcome],
    defence: usize,
    budget: f64,
    subset: impl Fn(&Truth) -> bool,
) -> (u64, u64) {
    let scored: Vec<Scored> = outcomes
        .iter()
        .map(|o| Scored {
            key: key(o, defence),
            fraud: o.truth.fraud,
        })
        .collect();
    let threshold = metrics::at_fpr(&metrics::curve(&scored), budget).threshold;
    let mut caught = 0;
    let mut of = 0;
    for o in outcomes
        .iter()
        .filter(|o| o.truth.fraud && subset(&o.truth))
    {
        of += 1;
        if key(o, defence) >= threshold {
            caught += 1;
        }
    }
    (caught, of)
}

/// Precision in the top `k` calls of each day by `defence`'s key: the share of fraud among the
/// calls a team with capacity for `k` reviews a day would look at (days with fewer than `k`
/// calls count what they have).
pub fn top_k_precision(outcomes: &[Outcome], defence: usize, k: usize) -> f64 {
    let mut days: BTreeMap<i64, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        days.entry(o.at.div_euclid(86_400_000)).or_default().push(o);
    }
    let (mut hits, mut looked) = (0usize, 0usize);
    for calls in days.values_mut() {
        calls.sort_by(|a, b| key(b, defence).total_cmp(&key(a, defence)));
        for o in calls.iter().take(k) {
            looked += 1;
            hits += usize::from(o.truth.fraud);
        }
    }
    hits as f64 / looked.max(1) as f64
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The policy's own operating point: (fraud share, genuine share) with action ≥ `min_action`.
pub fn operating_point(outcomes: &[Outcome], min_action: u8, start: bool) -> (f64, f64) {
    let (mut tp, mut fp, mut p, mut n) = (0u64, 0u64, 0u64, 0u64);
    for o in outcomes {
        let a = if start { o.start_action } else { o.action };
        if o.truth.fraud {
            p += 1;
            tp += u64::from(a >= min_action);
        } else {
            n += 1;
            fp += u64::from(a >= min_action);
        }
    }
    (tp as f64 / p.max(1) as f64, fp as f64 / n.max(1) as f64)
}

/// The run's facts for the report's header.
pub struct RunInfo {
    pub seed: u64,
    pub notifications: usize,
    pub reports: usize,
    pub world_secs: f64,
    pub load_secs: f64,
    pub score_secs: f64,
}

/// The report as Markdown.
pub fn markdown(
    cfg: &SimConfig,
    info: &RunInfo,
    outcomes: &[Outcome],
    summary: &[DefenceSummary],
    checks: &[Check],
) -> String {
    let frauds = outcomes.iter().filter(|o| o.truth.fraud).count();
    let mut s = String::new();
    let _ = writeln!(s, "# Countersign detection report — seed {}\n", info.seed);
    let _ = writeln!(
        s,
        "{} customers over {} days; {} calls ({} fraud, 1 in {:.0}); {} genuine notifications in the ledger; {} smishing reports. World drawn in {:.1} s, loaded in {:.1} s, every call verified and scored by the real server code in {:.1} s ({:.0} calls/min).\n",
        cfg.customers,
        cfg.days,
        outcomes.len(),
        frauds,
        outcomes.len() as f64 / frauds.max(1) as f64,
        info.notifications,
        info.reports,
        info.world_secs,
        info.load_secs,
        info.score_secs,
        outcomes.len() as f64 / info.score_secs.max(1e-9) * 60.0
    );
    let _ = writeln!(s, "## Validation: the run re-derives its own targets\n");
    let _ = writeln!(
        s,
        "| what | configured | observed | n | |\n|---|---|---|---|---|"
    );
    for c in checks {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            c.what,
            pct(c.configured),
            pct(c.observed),
            c.n,
            if c.passes() { "ok" } else { "**MISMATCH**" }
        );
    }
    let _ = writeln!(
        s,
        "\n## Detection at a budget of genuine callers flagged\n\nEach defence's threshold is set so that at most the given share of genuine calls is flagged; the detection rate is the share of fraud calls above it (95% Wilson interval, {frauds} fraud calls); precision is the share of flagged calls that are fraud.\n"
    );
    let _ = writeln!(
        s,
        "| defence | detected @0.1% | @0.5% | @1% | precision @0.1% | @0.5% | @1% | average precision | pAUC 0–1% | cost per 10k calls @1% |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for d in summary {
        let det: Vec<String> =
            d.at.iter()
                .map(|a| format!("{} ({}–{})", pct(a.point.tpr), pct(a.ci.0), pct(a.ci.1)))
                .collect();
        let prec: Vec<String> =
            d.at.iter()
                .map(|a| {
                    if a.point.tp + a.point.fp == 0 {
                        "–".into()
                    } else {
                        pct(a.point.precision)
                    }
                })
                .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {:.3} | {:.3} | ${:.0} |",
            d.name,
            det[0],
            det[1],
            det[2],
            prec[0],
            prec[1],
            prec[2],
            d.average_precision,
            d.pauc_1pct,
            d.cost_per_10k_at_1pct
        );
    }
    let _ = writeln!(s, "\n![ROC](roc.svg) ![Precision–recall](pr.svg)\n");
    let _ = writeln!(
        s,
        "## The policy's own actions\n\n| | fraud calls | genuine calls |\n|---|---|---|"
    );
    for (label, min, start) in [
        ("with the ledger: call back or block", 2, false),
        ("with the ledger: step up or worse", 1, false),
        ("without the ledger: call back or block", 2, true),
        ("without the ledger: step up or worse", 1, true),
    ] {
        let (tpr, fpr) = operating_point(outcomes, min, start);
        let _ = writeln!(s, "| {label} | {} | {} |", pct(tpr), pct(fpr));
    }
    s.push_str(&top_k_section(outcomes, cfg));
    s.push_str(&tier_section(outcomes));
    s.push_str(&errors(outcomes));
    let _ = writeln!(
        s,
        "\n## Parameters and their sources\n\n| parameter | value | source |\n|---|---|---|"
    );
    for (name, value, source) in cfg.sources() {
        let _ = writeln!(s, "| `{name}` | {value} | {source} |");
    }
    s
}

/// Precision in the top calls of each day, per defence.
fn top_k_section(outcomes: &[Outcome], cfg: &SimConfig) -> String {
    let mut s = String::new();
    let per_day = outcomes.len() as f64 / f64::from(cfg.days.max(1));
    let ks = [10usize, 50, (per_day * 0.01).round().max(1.0) as usize];
    let _ = writeln!(
        s,
        "\n## Precision in the top calls of each day\n\nThe share of fraud among the k most suspicious calls of each day (about {per_day:.0} calls a day; k = {} is 1% of them).\n\n| defence | top {} | top {} | top {} |\n|---|---|---|---|",
        ks[2], ks[0], ks[1], ks[2]
    );
    for (d, name) in DEFENCES.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} |",
            pct(top_k_precision(outcomes, d, ks[0])),
            pct(top_k_precision(outcomes, d, ks[1])),
            pct(top_k_precision(outcomes, d, ks[2]))
        );
    }
    s
}

/// Detection per attacker tier and by what the caller claims, per defence.
fn tier_section(outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n## By attacker tier and by what the caller claims (detected at 1% of genuine calls flagged)\n"
    );
    let _ = writeln!(
        s,
        "| fraud calls | n | {} |\n|---|---|---|---|---|---|",
        DEFENCES.join(" | ")
    );
    let subsets: [(&str, Subset); 5] = [
        ("T0 cold (no text)", |t: &Truth| t.tier == Some(0)),
        ("T1 knows the fake text", |t: &Truth| t.tier == Some(1)),
        ("T2 quotes it and its time, early", |t: &Truth| {
            t.tier == Some(2)
        }),
        ("cites a message", |t: &Truth| t.cites),
        ("cites nothing", |t: &Truth| !t.cites),
    ];
    for (label, f) in &subsets {
        let cells: Vec<(u64, u64)> = (0..DEFENCES.len())
            .map(|d| caught_in(outcomes, d, 0.01, f))
            .collect();
        let n = cells[0].1;
        let _ = writeln!(
            s,
            "| {label} | {n} | {} |",
            cells
                .iter()
                .map(|(c, n)| if *n == 0 {
                    "–".to_string()
                } else {
                    pct(*c as f64 / *n as f64)
                })
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    s
}

/// The largest groups of errors of the full defence at its own actions: genuine calls sent to
/// a call-back by their top reason, and fraud calls let through (proceed) by tier and claim.
pub fn error_groups(outcomes: &[Outcome]) -> Vec<(String, u64)> {
    let mut groups: BTreeMap<String, u64> = BTreeMap::new();
    for o in outcomes {
        if !o.truth.fraud && o.action >= 2 {
            let why = o.top_reason.clone().unwrap_or_else(|| "no reason".into());
            *groups
                .entry(format!(
                    "genuine caller sent to call back — top reason `{why}`"
                ))
                .or_default() += 1;
        } else if o.truth.fraud && o.action == 0 {
            let claim = if o.truth.cites {
                format!(
                    "cited a text, verdict `{}`",
                    o.verdict.as_deref().unwrap_or("none")
                )
            } else {
                "cited nothing".into()
            };
            *groups
                .entry(format!(
                    "fraud call let through — T{}, {claim}",
                    o.truth.tier.unwrap_or(0)
                ))
                .or_default() += 1;
        }
    }
    let mut v: Vec<(String, u64)> = groups.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn errors(outcomes: &[Outcome]) -> String {
    let groups = error_groups(outcomes);
    let mut s = String::from(
        "\n## Where the score goes wrong (Countersign with the ledger, at its own actions)\n\n",
    );
    if groups.is_empty() {
        s.push_str(
            "No genuine caller was sent to a call-back and no fraud call was let through.\n",
        );
        return s;
    }
    let _ = writeln!(s, "The three largest groups:\n");
    for (i, (g, n)) in groups.iter().take(3).enumerate() {
        let _ = writeln!(s, "{}. {g}: {n} calls", i + 1);
    }
    let _ = writeln!(s, "\n| group | calls |\n|---|---|");
    for (g, n) in groups.iter().take(15) {
        let _ = writeln!(s, "| {g} | {n} |");
    }
    s
}

/// At most `n` points of a curve, evenly spread, always keeping the ends.
pub fn thin(curve: &[Point], n: usize) -> Vec<Point> {
    if curve.len() <= n {
        return curve.to_vec();
    }
    let step = curve.len() as f64 / n as f64;
    let mut out: Vec<Point> = (0..n).map(|i| curve[(i as f64 * step) as usize]).collect();
    if let Some(last) = curve.last() {
        out.push(*last);
    }
    out
}

/// `summary.csv`: one row per defence and budget.
pub fn summary_csv(summary: &[DefenceSummary]) -> String {
    let mut s = String::from(
        "defence,fpr_budget,tpr,tpr_ci_low,tpr_ci_high,precision,fpr,tp,fp,average_precision,pauc_1pct,cost_per_10k_at_1pct\n",
    );
    for d in summary {
        for (a, b) in d.at.iter().zip(BUDGETS) {
            let _ = writeln!(
                s,
                "{},{b},{:.6},{:.6},{:.6},{:.6},{:.6},{},{},{:.6},{:.6},{:.2}",
                d.name,
                a.point.tpr,
                a.ci.0,
                a.ci.1,
                a.point.precision,
                a.point.fpr,
                a.point.tp,
                a.point.fp,
                d.average_precision,
                d.pauc_1pct,
                d.cost_per_10k_at_1pct
            );
        }
    }
    s
}

/// `roc.csv` or `pr.csv`: the (thinned) curve of every defence.
pub fn curve_csv(summary: &[DefenceSummary], pr: bool) -> String {
    let mut s = String::from(if pr {
        "defence,recall,precision\n"
    } else {
        "defence,fpr,tpr\n"
    });
    for d in summary {
        for p in thin(&d.curve, 2_000) {
            let (x, y) = if pr {
                (p.tpr, p.precision)
            } else {
                (p.fpr, p.tpr)
            };
            let _ = writeln!(s, "{},{x:.6},{y:.6}", d.name);
        }
    }
    s
}

const COLOURS: [&str; 4] = ["#7f7f7f", "#bcbd22", "#1f77b4", "#d62728"];
const DASHES: [&str; 4] = ["4 3", "1 3", "8 3", ""];

/// An SVG line plot of every defence's curve: ROC with a log false-positive axis from 0.01% to
/// 100% (the low end is where a contact centre works), or precision against recall.
pub fn svg(summary: &[DefenceSummary], pr: bool) -> String {
    let (w, h, left, top, right, bottom) = (640.0, 420.0, 60.0, 30.0, 20.0, 110.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let x_of = |x: f64| -> f64 {
        if pr {
            left + x * pw
        } else {
            let lx = x.max(1e-4).log10();
            left + (lx + 4.0) / 4.0 * pw
        }
    };
    let y_of = |y: f64| top + (1.0 - y) * ph;
    let mut s = String::new();
    let title = if pr {
        "Precision against recall"
    } else {
        "Detection against genuine callers flagged (log scale)"
    };
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{left}" y="18" font-size="14">{title}</text>"#
    );
    // Grid and axes.
    let ticks: Vec<(f64, String)> = if pr {
        (0..=5)
            .map(|i| (i as f64 / 5.0, format!("{}%", i * 20)))
            .collect()
    } else {
        vec![
            (1e-4, "0.01%".into()),
            (1e-3, "0.1%".into()),
            (1e-2, "1%".into()),
            (1e-1, "10%".into()),
            (1.0, "100%".into()),
        ]
    };
    for (x, label) in &ticks {
        let px = x_of(*x);
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{top}" x2="{px:.1}" y2="{:.1}" stroke="#ddd"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            top + ph,
            top + ph + 16.0
        );
    }
    for i in 0..=5 {
        let y = i as f64 / 5.0;
        let py = y_of(y);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}%</text>"##,
            left + pw,
            left - 6.0,
            py + 4.0,
            i * 20
        );
    }
    let (xl, yl) = if pr {
        ("recall (fraud calls flagged)", "precision")
    } else {
        ("genuine calls flagged", "fraud calls detected")
    };
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{xl}</text><text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{yl}</text>"#,
        left + pw / 2.0,
        top + ph + 34.0,
        top + ph / 2.0
    );
    for (i, d) in summary.iter().enumerate() {
        let pts: Vec<String> = thin(&d.curve, 1_000)
            .iter()
            .filter(|p| pr || p.fpr > 0.0 || p.tpr == 0.0)
            .map(|p| {
                let (x, y) = if pr {
                    (p.tpr, p.precision)
                } else {
                    (p.fpr, p.tpr)
                };
                format!("{:.1},{:.1}", x_of(x), y_of(y))
            })
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}" points="{}"/>"#,
            COLOURS[i],
            DASHES[i],
            pts.join(" ")
        );
        let ly = top + ph + 52.0 + i as f64 * 14.0;
        let _ = writeln!(
            s,
            r#"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2" stroke-dasharray="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            ly - 4.0,
            left + 30.0,
            ly - 4.0,
            COLOURS[i],
            DASHES[i],
            left + 36.0,
            ly,
            d.name
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn outcome(fraud: bool, action: u8, score: f64) -> Outcome {
        Outcome {
            at: 0,
            truth: Truth {
                fraud,
                tier: fraud.then_some(1),
                cites: fraud,
                kba_pass: !fraud,
                amount_exact: None,
            },
            start_score: 1.0,
            start_action: 0,
            caller_id_logit: 0.0,
            score,
            action,
            verdict: Some("not_sent".into()),
            top_reason: Some("claim_not_sent".into()),
            features: Vec::new(),
        }
    }

    #[test]
    fn the_action_ranks_before_the_score() {
        // A proceed at 90 ranks below a call-back at 10.
        assert!(key(&outcome(false, 2, 10.0), 3) > key(&outcome(false, 0, 90.0), 3));
    }

    #[test]
    fn top_k_precision_is_per_day() {
        let day = |d: i64, fraud: bool, score: f64| Outcome {
            at: d * 86_400_000 + 1,
            ..outcome(fraud, 0, score)
        };
        // Day 0: the top call is fraud; day 1: the top call is genuine, the fraud second.
        let v = vec![
            day(0, true, 9.0),
            day(0, false, 1.0),
            day(1, false, 9.0),
            day(1, true, 5.0),
        ];
        assert_eq!(top_k_precision(&v, 3, 1), 0.5);
        assert_eq!(top_k_precision(&v, 3, 2), 0.5);
        assert_eq!(
            top_k_precision(&v, 3, 10),
            0.5,
            "fewer calls than k: what there is"
        );
    }

    #[test]
    fn checks_allow_sampling_error_only() {
        let ok = Check {
            what: "x",
            configured: 0.5,
            observed: 0.52,
            n: 1_000,
        };
        assert!(ok.passes());
        let bad = Check {
            observed: 0.6,
            ..ok.clone()
        };
        assert!(!bad.passes());
    }

    #[test]
    fn the_report_has_every_section_and_the_plots_parse() {
        let outcomes: Vec<Outcome> = (0..200)
            .map(|i| {
                outcome(
                    i % 20 == 0,
                    if i % 20 == 0 { 2 } else { 0 },
                    i as f64 / 10.0,
                )
            })
            .collect();
        let cfg = SimConfig::default();
        let summary = summarise(&outcomes, &cfg);
        let full = &summary[3];
        assert_eq!(
            full.at[0].point.tpr, 1.0,
            "every fraud call is above every genuine one"
        );
        let md = markdown(
            &cfg,
            &RunInfo {
                seed: 1,
                notifications: 0,
                reports: 0,
                world_secs: 0.0,
                load_secs: 0.0,
                score_secs: 1.0,
            },
            &outcomes,
            &summary,
            &[],
        );
        for want in [
            "## Validation",
            "## Detection",
            "By attacker tier",
            "Where the score goes wrong",
            "Parameters",
        ] {
            assert!(md.contains(want), "{want}");
        }
        for pr in [false, true] {
            let svg = svg(&summary, pr);
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
            assert_eq!(svg.matches("<polyline").count(), 4);
        }
        assert_eq!(summary_csv(&summary).lines().count(), 1 + 4 * 3);
    }
}
