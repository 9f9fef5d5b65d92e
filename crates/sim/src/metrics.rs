//! Detection metrics over scored calls: the ROC and precision–recall curves (ties handled as
//! one step), average precision, the partial ROC area over a false-positive range, the
//! detection rate at a false-positive budget with its Wilson interval, and expected cost.

/// One scored call: its ranking key (higher = more suspicious) and whether it was fraud.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub key: f64,
    pub fraud: bool,
}

/// A point of the ROC/PR curves: everything with `key >= threshold` is flagged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub threshold: f64,
    pub tp: u64,
    pub fp: u64,
    /// True-positive rate (recall).
    pub tpr: f64,
    pub fpr: f64,
    pub precision: f64,
}

/// The curve from the strictest threshold to the loosest, one point per distinct key (tied
/// calls are flagged together), starting at (0, 0).
pub fn curve(calls: &[Scored]) -> Vec<Point> {
    let mut v: Vec<Scored> = calls.to_vec();
    v.sort_by(|a, b| b.key.total_cmp(&a.key));
    let pos = v.iter().filter(|c| c.fraud).count() as f64;
    let neg = v.len() as f64 - pos;
    let mut out = vec![Point {
        threshold: f64::INFINITY,
        tp: 0,
        fp: 0,
        tpr: 0.0,
        fpr: 0.0,
        precision: 1.0,
    }];
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut i = 0;
    while i < v.len() {
        let k = v[i].key;
        while i < v.len() && v[i].key == k {
            if v[i].fraud {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        out.push(Point {
            threshold: k,
            tp,
            fp,
            tpr: if pos > 0.0 { tp as f64 / pos } else { 0.0 },
            fpr: if neg > 0.0 { fp as f64 / neg } else { 0.0 },
            precision: tp as f64 / (tp + fp) as f64,
        });
    }
    out
}

/// Average precision: Σ (recall_k − recall_{k−1}) × precision_k over the curve's steps.
pub fn average_precision(curve: &[Point]) -> f64 {
    curve
        .windows(2)
        .map(|w| (w[1].tpr - w[0].tpr) * w[1].precision)
        .sum()
}

/// The ROC area between false-positive rates 0 and `max_fpr` (trapezoids, the last one cut at
/// `max_fpr`), divided by `max_fpr`: 1 is perfect, `max_fpr / 2` is chance.
pub fn partial_auc(curve: &[Point], max_fpr: f64) -> f64 {
    let mut area = 0.0;
    for w in curve.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a.fpr >= max_fpr {
            break;
        }
        if b.fpr <= max_fpr {
            area += (b.fpr - a.fpr) * (a.tpr + b.tpr) / 2.0;
        } else {
            let t = (max_fpr - a.fpr) / (b.fpr - a.fpr);
            let tpr_at = a.tpr + t * (b.tpr - a.tpr);
            area += (max_fpr - a.fpr) * (a.tpr + tpr_at) / 2.0;
        }
    }
    area / max_fpr
}

/// The strictest-to-loosest point with the most detection whose false-positive rate stays
/// within `max_fpr` (a threshold a fraud team could set).
pub fn at_fpr(curve: &[Point], max_fpr: f64) -> Point {
    curve
        .iter()
        .rev()
        .find(|p| p.fpr <= max_fpr)
        .copied()
        .unwrap_or(curve[0])
}

/// Wilson score interval (95%) for `k` successes in `n`.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let n_f = n as f64;
    let p = k as f64 / n_f;
    let denom = 1.0 + z * z / n_f;
    let centre = (p + z * z / (2.0 * n_f)) / denom;
    let half = z * ((p * (1.0 - p) + z * z / (4.0 * n_f)) / n_f).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Expected cost per 10,000 calls of flagging at `p`: false flags × their cost plus missed
/// fraud × its loss.
pub fn cost_per_10k(p: &Point, total: u64, frauds: u64, false_flag: f64, miss: f64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let missed = frauds.saturating_sub(p.tp) as f64;
    (p.fp as f64 * false_flag + missed * miss) * 10_000.0 / total as f64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn s(key: f64, fraud: bool) -> Scored {
        Scored { key, fraud }
    }

    #[test]
    fn curve_and_average_precision_by_hand() {
        // Ranked: 0.9 F, 0.8 G, 0.7 F, 0.6 G, 0.5 G. P = 2, N = 3.
        let c = curve(&[
            s(0.5, false),
            s(0.9, true),
            s(0.7, true),
            s(0.8, false),
            s(0.6, false),
        ]);
        let pts: Vec<(f64, f64)> = c.iter().map(|p| (p.tpr, p.fpr)).collect();
        assert_eq!(
            pts,
            vec![
                (0.0, 0.0),
                (0.5, 0.0),
                (0.5, 1.0 / 3.0),
                (1.0, 1.0 / 3.0),
                (1.0, 2.0 / 3.0),
                (1.0, 1.0)
            ]
        );
        // AP = 0.5 × 1 + 0.5 × 2/3.
        assert!((average_precision(&c) - (0.5 + 1.0 / 3.0)).abs() < 1e-12);
        // Full area: 0.5 × 1/3 + 1 × 2/3 = 5/6.
        assert!((partial_auc(&c, 1.0) - 5.0 / 6.0).abs() < 1e-12);
        // Up to FPR 1/3: the step from 0.5 to 1 happens at FPR 1/3; area 0.5 × 1/3 → 0.5.
        assert!((partial_auc(&c, 1.0 / 3.0) - 0.5).abs() < 1e-12);
        assert_eq!(at_fpr(&c, 0.0).tp, 1);
        assert_eq!(at_fpr(&c, 0.34).tp, 2);
    }

    #[test]
    fn ties_are_one_step() {
        let c = curve(&[s(1.0, true), s(1.0, false), s(0.0, false)]);
        assert_eq!(c.len(), 3);
        assert_eq!((c[1].tp, c[1].fp), (1, 1));
        assert_eq!(c[1].precision, 0.5);
    }

    #[test]
    fn wilson_matches_the_textbook() {
        // 8 of 10: (0.4902, 0.9433).
        let (lo, hi) = wilson(8, 10);
        assert!(
            (lo - 0.4902).abs() < 1e-4 && (hi - 0.9433).abs() < 1e-4,
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    #[test]
    fn cost_counts_false_flags_and_misses() {
        let p = Point {
            threshold: 0.5,
            tp: 3,
            fp: 10,
            tpr: 0.75,
            fpr: 0.01,
            precision: 3.0 / 13.0,
        };
        // 10 × 5 + 1 × 1000 over 1000 calls → per 10k: 10,500.
        assert_eq!(cost_per_10k(&p, 1000, 4, 5.0, 1000.0), 10_500.0);
    }
}
