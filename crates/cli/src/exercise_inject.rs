//! Sending one inject of an exercise: the request each kind makes through the public API, and
//! the variables its answer gives the expectations (see `countersign_exercise::expect`).

use anyhow::Context;
use countersign_core::validate::format_time;
use countersign_exercise::scenario::{parse_duration, ExerciseType, Inject, InjectKind};
use serde_json::{json, Map, Value};

use crate::exercise_run::{Runner, Sent};

/// What sending an inject gave.
pub struct Fired {
    /// The answer in a line.
    pub summary: String,
    pub latency_ms: Option<f64>,
    pub vars: Map<String, Value>,
    /// Not sent in this mode, and why.
    pub skipped: Option<String>,
}

fn fired(summary: String, latency_ms: Option<f64>, vars: Value) -> Fired {
    Fired {
        summary,
        latency_ms,
        vars: vars.as_object().cloned().unwrap_or_default(),
        skipped: None,
    }
}

/// Send `inj`; record in `sent` what later injects and reads need.
pub fn send(r: &mut Runner<'_>, inj: &Inject, sent: &mut Sent, now: i64) -> anyhow::Result<Fired> {
    let who: Vec<String> = inj.actor.iter().chain(&inj.actors).cloned().collect();
    match inj.kind {
        InjectKind::Notification => {
            let rec = r.notification(&inj.id, &who[0], &inj.message, now);
            let (v, ms) = r.api().ok("POST", "/v1/notifications", Some(&rec))?;
            Ok(fired(
                format!("accepted {} · rejected {}", v["accepted"], v["rejected"]),
                Some(ms),
                json!({"accepted": v["accepted"], "rejected": v["rejected"]}),
            ))
        }
        InjectKind::Smish => smish(r, inj, &who, sent),
        InjectKind::SmishReport => report(r, inj, &who, sent, now),
        InjectKind::Call => call(r, inj, sent, now),
        InjectKind::Claim => claim(r, inj, sent),
        InjectKind::Outcome => {
            let call = r
                .sent_of(inj.call.as_deref().unwrap_or_default())
                .and_then(|s| s.call_id.clone());
            let Some(call) = call else {
                anyhow::bail!(
                    "its call `{}` was not placed",
                    inj.call.as_deref().unwrap_or_default()
                );
            };
            sent.call_id = Some(call.clone());
            if r.kind() != ExerciseType::Tabletop {
                return Ok(Fired {
                    summary: String::new(),
                    latency_ms: None,
                    vars: Map::new(),
                    skipped: Some("in a live exercise the agent records the outcome".into()),
                });
            }
            let body = json!({"outcome": inj.outcome, "note": inj.note});
            let (_, ms) = r
                .api()
                .ok("POST", &format!("/v1/calls/{call}/outcome"), Some(&body))?;
            Ok(fired(
                format!("outcome {} recorded", inj.outcome.as_deref().unwrap_or("?")),
                Some(ms),
                json!({"recorded": true}),
            ))
        }
        InjectKind::FeedPause => {
            let src = inj.message.feed().to_string();
            let resume = inj
                .resume_after
                .as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(anyhow::Error::msg)?;
            r.pause(&src, resume);
            Ok(fired(
                format!(
                    "feed `{}` stops declaring watermarks{}",
                    r.key(&src),
                    inj.resume_after
                        .as_ref()
                        .map_or(String::new(), |d| format!(" for {d}"))
                ),
                None,
                json!({}),
            ))
        }
        InjectKind::Manual => {
            eprintln!(
                "\n>>> [{}] {}\n",
                inj.id,
                inj.prompt.as_deref().unwrap_or_default()
            );
            Ok(fired(
                "prompt shown to the controller".into(),
                None,
                json!({}),
            ))
        }
    }
}

fn smish(r: &Runner<'_>, inj: &Inject, who: &[String], sent: &mut Sent) -> anyhow::Result<Fired> {
    let msgs: Vec<Value> = who
        .iter()
        .map(|a| {
            json!({"sender": inj.message.sender, "body": inj.message.body,
                "recipient": r.phone(a)})
        })
        .collect();
    let (v, ms) = r
        .api()
        .ok("POST", "/v1/sms/evaluate", Some(&Value::Array(msgs)))?;
    let first = &v["results"][0];
    let reasons: Vec<Value> = first["reasons"]
        .as_array()
        .map(|a| a.iter().map(|x| x["code"].clone()).collect())
        .unwrap_or_default();
    sent.sender = inj.message.sender.clone();
    sent.body = inj.message.body.clone();
    let verdict = first["verdict"].clone();
    Ok(fired(
        format!(
            "sms verdict {} ({})",
            verdict.as_str().unwrap_or("?"),
            reasons
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(ms),
        json!({"sms_verdict": verdict, "sms_reasons": reasons}),
    ))
}

fn report(
    r: &Runner<'_>,
    inj: &Inject,
    who: &[String],
    sent: &mut Sent,
    now: i64,
) -> anyhow::Result<Fired> {
    let (mut last, mut total_ms) = (Value::Null, 0.0);
    for (k, a) in who.iter().enumerate() {
        let body = json!({
            "report_id": r.key(&format!("{}-{k}", inj.id)),
            "customer_id": r.key(a),
            "reporter_number": r.phone(a),
            "sender": inj.message.sender,
            "body": inj.message.body,
            "received_at": format_time(now),
            "reported_via": inj.via.as_deref().unwrap_or("app"),
        });
        let (v, ms) = r.api().ok("POST", "/v1/smish-reports", Some(&body))?;
        total_ms += ms;
        last = v;
    }
    sent.campaign = last["campaign_id"].as_u64();
    sent.sender = inj.message.sender.clone();
    sent.body = inj.message.body.clone();
    let n = who.len().max(1) as f64;
    Ok(fired(
        format!("{} report(s) · campaign {}", who.len(), last["campaign_id"]),
        Some(total_ms / n),
        json!({"campaign_id": last["campaign_id"], "report_id": last["report_id"], "reports_sent": who.len()}),
    ))
}

/// The score's variables (a call's answer, or the `score` of a claim's).
fn score_vars(s: &Value) -> Map<String, Value> {
    let signals: Vec<Value> = s["reasons"]
        .as_array()
        .map(|a| a.iter().map(|x| x["signal"].clone()).collect())
        .unwrap_or_default();
    let v = json!({"score": s["score"], "band": s["band"], "action": s["action"],
        "alerts": s.get("alerts").cloned().unwrap_or(json!([])), "signals": signals, "guidance": s["guidance"]});
    v.as_object().cloned().unwrap_or_default()
}

fn call(r: &Runner<'_>, inj: &Inject, sent: &mut Sent, now: i64) -> anyhow::Result<Fired> {
    // Unmarked when agents must not know: a call id like a platform's, not the run's.
    let call_id = if r.kind() == ExerciseType::AgentUnaware {
        format!("CA{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
    } else {
        r.key(&inj.id)
    };
    let ani = match inj.from.as_deref() {
        Some("withheld") => "anonymous".to_string(),
        Some(f) if f.starts_with('+') => f.to_string(),
        Some(actor) => r.phone(actor).context("the caller actor has no phone")?,
        None => anyhow::bail!("no caller"),
    };
    let mut body = json!({"call_id": call_id, "customer_id": sent.customer, "ani": ani,
        "started_at": format_time(now)});
    for (k, v) in [
        ("verstat", &inj.verstat),
        ("line_type", &inj.line_type),
        ("intent", &inj.intent),
    ] {
        if let Some(v) = v {
            body[k] = json!(v);
        }
    }
    let (v, ms) = r.api().ok("POST", "/v1/calls", Some(&body))?;
    sent.call_id = Some(call_id);
    let vars = score_vars(&v);
    Ok(Fired {
        summary: format!(
            "score {} · band {} · action {}",
            v["score"],
            v["band"].as_str().unwrap_or("?"),
            v["action"].as_str().unwrap_or("?")
        ),
        latency_ms: Some(ms),
        vars,
        skipped: None,
    })
}

fn claim(r: &Runner<'_>, inj: &Inject, sent: &mut Sent) -> anyhow::Result<Fired> {
    let call = r
        .sent_of(inj.call.as_deref().unwrap_or_default())
        .cloned()
        .unwrap_or_default();
    let Some(call_id) = call.call_id.clone() else {
        anyhow::bail!(
            "its call `{}` was not placed",
            inj.call.as_deref().unwrap_or_default()
        );
    };
    sent.call_id = Some(call_id.clone());
    sent.customer = call.customer.clone();
    let mut body = json!({});
    if let Some(c) = &inj.cites {
        let text = r.sent_of(c).cloned().unwrap_or_default();
        body = json!({"channel": "sms", "received_at": format_time(text.at_ms),
            "sender_seen": text.sender, "mentions": {"text": text.body}});
    }
    if let Some(ch) = &inj.message.channel {
        body["channel"] = json!(ch);
    }
    if let Some(ago) = &inj.received_ago {
        let ms = parse_duration(ago).map_err(anyhow::Error::msg)?;
        body["received_at"] = json!(format_time(countersign_server::now_ms() - ms));
    }
    if let Some(s) = &inj.sender_seen {
        body["sender_seen"] = json!(s);
    }
    if let Some(m) = &inj.mentions {
        let mut mentions = body["mentions"].as_object().cloned().unwrap_or_default();
        for (k, v) in m {
            mentions.insert(k.clone(), serde_json::to_value(v)?);
        }
        body["mentions"] = Value::Object(mentions);
    }
    let (v, ms) = r
        .api()
        .ok("POST", &format!("/v1/calls/{call_id}/claims"), Some(&body))?;
    let ver = &v["verification"];
    let mut vars = score_vars(&v["score"]);
    vars.insert("verdict".into(), ver["verdict"].clone());
    vars.insert("reason".into(), ver["reason"].clone());
    vars.insert("campaign_id".into(), ver["campaign_id"].clone());
    sent.campaign = ver["campaign_id"].as_u64();
    Ok(Fired {
        summary: format!(
            "verdict {}{} · action {} · band {}",
            ver["verdict"].as_str().unwrap_or("?"),
            ver["reason"]
                .as_str()
                .map_or(String::new(), |x| format!(" ({x})")),
            v["score"]["action"].as_str().unwrap_or("?"),
            v["score"]["band"].as_str().unwrap_or("?")
        ),
        latency_ms: Some(ms),
        vars,
        skipped: None,
    })
}
