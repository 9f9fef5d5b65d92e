//! Expectations: what an inject's answer (and what is read after it) must show, written as CEL
//! expressions (`verdict == "not_sent"`, `action in ["callback", "block"]`, `alert_raised`),
//! checked against the variables each kind of inject provides.

use serde_json::{Map, Value};

use crate::scenario::{InjectKind, Who};

/// A checked expectation.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub id: String,
    pub who: Who,
    pub what: String,
    /// Scenario milliseconds allowed after the inject.
    pub within_ms: i64,
    pub critical: bool,
    pub objective: String,
    pub remedy: Option<String>,
    /// It uses something read after the answer (alerts, campaigns, the surge, the outcome):
    /// the runner reads until it is met or its time is up.
    pub reads: bool,
}

/// What an answer gives (`.0`) and what the runner reads after it (`.1`), per kind of inject.
pub fn variables(kind: InjectKind) -> (&'static [&'static str], &'static [&'static str]) {
    const CALL_STATE: &[&str] = &["outcome", "alert_raised", "alert_rules", "surge_active"];
    match kind {
        InjectKind::Notification => (&["accepted", "rejected"], &[]),
        InjectKind::Smish => (&["sms_verdict", "sms_reasons"], &[]),
        InjectKind::SmishReport => (
            &["campaign_id", "report_id", "reports_sent"],
            &[
                "campaign_listed",
                "campaign_status",
                "campaign_reports",
                "alert_raised",
                "alert_rules",
                "surge_active",
            ],
        ),
        InjectKind::Call => (
            &["score", "band", "action", "alerts", "signals", "guidance"],
            CALL_STATE,
        ),
        InjectKind::Claim => (
            &[
                "verdict",
                "reason",
                "action",
                "band",
                "score",
                "alerts",
                "signals",
                "guidance",
                "campaign_id",
            ],
            CALL_STATE,
        ),
        InjectKind::Outcome => (&["recorded"], CALL_STATE),
        InjectKind::FeedPause => (&[], &["feed_health", "watermark_age_secs", "surge_active"]),
        InjectKind::Manual => (&[], &["surge_active"]),
    }
}

/// Compile `what` and return the variables it uses, or the parser's message.
pub fn compile(what: &str) -> Result<Vec<String>, String> {
    let p = cel::Program::compile(what).map_err(|e| {
        e.to_string()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    })?;
    Ok(p.references()
        .variables()
        .into_iter()
        .map(str::to_string)
        .collect())
}

/// Evaluate `what` over `vars`: `Ok(true)` met, `Ok(false)` not (yet), `Err` when it cannot be
/// evaluated (a value of the wrong type).
pub fn evaluate(what: &str, vars: &Map<String, Value>) -> Result<bool, String> {
    let p = cel::Program::compile(what).map_err(|e| e.to_string())?;
    let mut ctx = cel::Context::default();
    for (k, v) in vars {
        ctx.add_variable(k.as_str(), v.clone())
            .map_err(|e| format!("{k}: {e}"))?;
    }
    match p.execute(&ctx) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("evaluates to {other:?}, not true or false")),
        Err(e) => Err(e.to_string()),
    }
}

/// Every variable of `kind` set (null when unknown), then `known` over them: an expression never
/// fails on a name the kind has but this answer lacks.
pub fn context(kind: InjectKind, known: &Map<String, Value>) -> Map<String, Value> {
    let (a, s) = variables(kind);
    let mut m: Map<String, Value> = a
        .iter()
        .chain(s.iter())
        .map(|k| (k.to_string(), Value::Null))
        .collect();
    for (k, v) in known {
        m.insert(k.clone(), v.clone());
    }
    m
}

/// The values an expression names, for the report (`verdict = "cannot_confirm"`).
pub fn seen(what: &str, vars: &Map<String, Value>) -> String {
    let names = compile(what).unwrap_or_default();
    names
        .iter()
        .map(|n| format!("{n} = {}", vars.get(n).unwrap_or(&Value::Null)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_issue_s_expressions_evaluate() {
        let v = vars(
            json!({"verdict": "not_sent", "action": "block", "alert_raised": true,
            "sms_verdict": "block", "score": 91.5, "signals": ["claim_not_sent"]}),
        );
        for what in [
            r#"verdict == "not_sent""#,
            r#"action in ["callback", "block"]"#,
            "alert_raised",
            r#"sms_verdict == "block""#,
            r#"score >= 80.0 && "claim_not_sent" in signals"#,
        ] {
            assert_eq!(evaluate(what, &v), Ok(true), "{what}");
        }
        assert_eq!(evaluate(r#"verdict == "confirmed""#, &v), Ok(false));
        assert!(evaluate("score", &v).is_err(), "a number is not a verdict");
    }

    #[test]
    fn compile_names_variables_and_reports_syntax() {
        let mut names = compile(r#"verdict == "x" && action in ["a"]"#).unwrap_or_default();
        names.sort();
        assert_eq!(names, ["action", "verdict"]);
        assert!(compile(r#"verdict = "x""#).is_err());
    }

    #[test]
    fn null_means_not_yet() {
        let v = context(InjectKind::Claim, &Map::new());
        assert_eq!(evaluate(r#"verdict == "not_sent""#, &v), Ok(false));
        assert_eq!(seen("verdict == 'x'", &v), "verdict = null");
    }
}
