//! Rendering: the master scenario events list for `--dry-run`, and the after-action report as
//! Markdown and its timeline as CSV.

use std::fmt::Write as _;

use crate::aar::Aar;
use crate::scenario::Checked;

/// The master scenario events list: each inject with its time, trigger and expectations.
pub fn msel(c: &Checked) -> String {
    let s = &c.scenario;
    let mut out = format!(
        "Master scenario events list — {} ({}), {} injects\n\n",
        s.exercise.name,
        s.exercise.kind.as_str(),
        s.injects.len()
    );
    let _ = writeln!(
        out,
        "{:<9} {:<22} {:<13} {:<10} what",
        "time", "inject", "kind", "seen by"
    );
    for (i, exps) in s.injects.iter().zip(&c.expectations) {
        let when = match &i.after {
            Some(a) => format!("{} after {a}", i.at.trim_start_matches("T+")),
            None => i.at.clone(),
        };
        let what = if i.description.is_empty() {
            i.prompt.clone().unwrap_or_default()
        } else {
            i.description.clone()
        };
        let _ = writeln!(
            out,
            "{:<9} {:<22} {:<13} {:<10} {}",
            when,
            i.id,
            i.kind.as_str(),
            i.visible_to.as_str(),
            what
        );
        for e in exps {
            let _ = writeln!(
                out,
                "{:<9}   expect {} {}: {} within {} s{} [{}]",
                "",
                e.who.as_str(),
                e.id,
                e.what,
                e.within_ms / 1000,
                if e.critical { ", critical" } else { "" },
                e.objective
            );
        }
    }
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `aar.md`.
pub fn markdown(a: &Aar) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# After-action report — {}\n", a.exercise);
    let _ = writeln!(
        o,
        "Run `{}` · {} exercise · {} → {} · speed {}× · server {} · scenario `{}`\n",
        a.run, a.kind, a.started_at, a.ended_at, a.speed, a.server, a.scenario_file
    );
    if !a.summary.is_empty() {
        let _ = writeln!(o, "{}\n", a.summary.trim());
    }
    let _ = writeln!(
        o,
        "**Overall: {}** (the lowest rating of any objective).\n",
        a.overall.as_str()
    );
    let _ = writeln!(o, "## Objectives and capabilities\n");
    let _ = writeln!(
        o,
        "| objective | capability | rating | met | why |\n|---|---|---|---|---|"
    );
    for x in &a.objectives {
        let _ = writeln!(
            o,
            "| {} — {} | {} | **{}** ({}) | {}/{} | {} |",
            x.id,
            cell(&x.text),
            x.capability.as_str(),
            x.rating.as_str(),
            x.rating.letter(),
            x.met,
            x.total,
            cell(&x.because)
        );
    }
    let _ = writeln!(o, "\n## Timeline\n");
    let _ = writeln!(o, "| time | inject | sent | answer | latency | expectation | met |\n|---|---|---|---|---|---|---|");
    for i in &a.timeline {
        let sent = i
            .sent_at
            .as_deref()
            .map_or(i.status.clone(), |t| t.get(11..23).unwrap_or(t).to_string());
        let answer = if i.detail.is_empty() {
            i.answer.clone()
        } else {
            format!("{} {}", i.answer, i.detail)
        };
        let latency = i.latency_ms.map_or("—".into(), |l| format!("{l:.1} ms"));
        if i.expectations.is_empty() {
            let _ = writeln!(
                o,
                "| {} | {} ({}) | {} | {} | {} | | |",
                i.at,
                i.id,
                i.kind,
                sent,
                cell(&answer),
                latency
            );
        }
        for (n, e) in i.expectations.iter().enumerate() {
            let head = if n == 0 {
                format!(
                    "| {} | {} ({}) | {} | {} | {} ",
                    i.at,
                    i.id,
                    i.kind,
                    sent,
                    cell(&answer),
                    latency
                )
            } else {
                "| | | | | ".to_string()
            };
            let met = if e.met {
                format!(
                    "✅ {}",
                    e.met_after_ms
                        .map_or(String::new(), |m| format!("{m:.0} ms"))
                )
            } else {
                format!("❌ {}", cell(&e.reason))
            };
            let _ = writeln!(
                o,
                "{head}| {} `{}`{} (within {}) | {} |",
                e.who,
                cell(&e.what),
                if e.critical { " **critical**" } else { "" },
                e.within,
                met
            );
        }
    }
    let list = |o: &mut String, title: &str, items: &[String]| {
        let _ = writeln!(o, "\n## {title}\n");
        if items.is_empty() {
            let _ = writeln!(o, "None observed.");
        }
        for s in items {
            let _ = writeln!(o, "- {s}");
        }
    };
    list(&mut o, "Strengths", &a.strengths);
    list(&mut o, "Areas for improvement", &a.improvements);
    let _ = writeln!(o, "\n## Improvement plan\n");
    if a.plan.is_empty() {
        let _ = writeln!(o, "Nothing to correct: every expectation was met.");
    } else {
        let _ = writeln!(o, "| objective | capability | issue | corrective action | owner | due |\n|---|---|---|---|---|---|");
        for r in &a.plan {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                r.objective,
                r.capability,
                cell(&r.issue),
                cell(&r.corrective_action),
                r.owner,
                r.due
            );
        }
    }
    data_path(&mut o, a);
    o
}

/// The data-path map and the discussion guide.
fn data_path(o: &mut String, a: &Aar) {
    let _ = writeln!(o, "\n## Data path: the feeds this run depended on\n");
    let _ = writeln!(o, "| feed | watermark | oldest during the run | ingest lag p99 | worst health | for the agent |\n|---|---|---|---|---|---|");
    for f in &a.data_path {
        let _ = writeln!(
            o,
            "| {}{} | {} | {} | {} | {} | {} |",
            f.source,
            if f.exercise_feed { " (exercise)" } else { "" },
            f.watermark_kind,
            f.worst_watermark_age_secs
                .map_or("—".into(), |s| format!("{s:.0} s")),
            match f.lag_p99_ms {
                None => "—".to_string(),
                // Back-dated records (a backfill, the scenario's history) are not lag.
                Some(s) if s >= 3_600_000.0 => "over 1 h (back-dated records)".to_string(),
                Some(s) => format!("{s:.0} ms"),
            },
            f.worst_health,
            cell(&f.meaning)
        );
    }
    if !a.discussion.is_empty() {
        let _ = writeln!(o, "\n## Discussion guide\n");
        for d in &a.discussion {
            let _ = writeln!(o, "**{}**\n", d.module);
            for q in &d.questions {
                let _ = writeln!(o, "- {q}");
            }
            let _ = writeln!(o);
        }
    }
}

/// `timeline.csv`: one row per expectation (an inject without any gets one row).
pub fn timeline_csv(a: &Aar) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let e = |x: csv::Error| x.to_string();
    w.write_record([
        "at",
        "inject",
        "kind",
        "status",
        "sent_at",
        "latency_ms",
        "answer",
        "expectation",
        "who",
        "what",
        "critical",
        "within",
        "met",
        "met_after_ms",
        "seen",
        "reason",
    ])
    .map_err(e)?;
    for i in &a.timeline {
        let base = [
            i.at.clone(),
            i.id.clone(),
            i.kind.clone(),
            i.status.clone(),
            i.sent_at.clone().unwrap_or_default(),
            i.latency_ms.map_or(String::new(), |l| format!("{l:.2}")),
            i.answer.clone(),
        ];
        if i.expectations.is_empty() {
            let mut r = base.to_vec();
            r.extend(std::iter::repeat_n(String::new(), 9));
            w.write_record(&r).map_err(e)?;
        }
        for x in &i.expectations {
            let mut r = base.to_vec();
            r.extend([
                x.id.clone(),
                x.who.clone(),
                x.what.clone(),
                x.critical.to_string(),
                x.within.clone(),
                x.met.to_string(),
                x.met_after_ms.map_or(String::new(), |m| format!("{m:.0}")),
                x.seen.clone(),
                x.reason.clone(),
            ]);
            w.write_record(&r).map_err(e)?;
        }
    }
    String::from_utf8(w.into_inner().map_err(|x| x.to_string())?).map_err(|x| x.to_string())
}
