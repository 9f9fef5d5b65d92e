//! The exercise runner's loop: set the scenario up on the server (profiles, genuine
//! notifications, its feeds' watermarks), fire each inject when its time comes (sped up by
//! `--speed`, after its trigger), judge each expectation from the answer or from reads until its
//! deadline, keep the exercise feeds' watermarks current (unless paused), sample every feed's
//! health for the data-path map, and assemble the after-action report. Public API only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use countersign_core::namespace::{exercise_run, scoped};
use countersign_core::validate::format_time;
use countersign_exercise::aar::{self, Aar, ExpectationResult, FeedRow, InjectResult};
use countersign_exercise::expect::{self, Expectation};
use countersign_exercise::scenario::{
    parse_at, parse_duration, ExerciseType, Inject, InjectKind, Setup, SetupKind, Who,
};
use countersign_exercise::Checked;
use serde_json::{json, Map, Value};

use crate::exercise::{problem, Api};

/// How often the exercise feeds declare their watermark, and how often the feeds are sampled.
const HEARTBEAT: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(250);
/// No deadline is shorter than this in wall-clock time, whatever the speed.
const MIN_DEADLINE: Duration = Duration::from_secs(1);
/// Improvement-plan rows are due this many days after the run.
const PLAN_DAYS: i64 = 30;

/// Check the file against the server without sending anything: the key works, the brands the
/// scenario needs are registered.
pub fn preflight(api: &Api, c: &Checked) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let (status, body, _) = api.send("GET", "/v1/sources", None)?;
    match status {
        200 => {}
        401 => problems.push("the API key is not accepted (401)".to_string()),
        s => problems.push(format!("GET /v1/sources answered {s}: {}", problem(&body))),
    }
    let (status, body, _) = api.send("GET", "/v1/alerts/outbox", None)?;
    if status == 403 {
        problems.push(format!(
            "the key lacks the admin scope the runner needs (it registers profiles, sends reports, scores calls and purges): {}",
            problem(&body)
        ));
    }
    for s in c
        .scenario
        .setup
        .iter()
        .filter(|s| s.kind == SetupKind::Brand)
    {
        let b = s.brand.as_deref().unwrap_or_default();
        let (status, _, _) = api.send("GET", &format!("/v1/brands/{b}"), None)?;
        if status != 200 {
            problems.push(format!(
                "brand `{b}` is not registered on {} ({status}); exercises never create brands — register it (PUT /v1/brands/{b}) or run against `countersign demo`",
                api.base
            ));
        }
    }
    if problems.is_empty() {
        println!(
            "\npreflight: {} reachable, key accepted, brands present",
            api.base
        );
        return Ok(());
    }
    anyhow::bail!(
        "the server is not ready for this scenario:\n  {}",
        problems.join("\n  ")
    )
}

/// What was sent for an inject, for later injects and reads.
#[derive(Default, Clone)]
pub(crate) struct Sent {
    pub(crate) at: Option<Instant>,
    pub(crate) at_ms: i64,
    pub(crate) call_id: Option<String>,
    pub(crate) customer: Option<String>,
    pub(crate) campaign: Option<u64>,
    pub(crate) sender: Option<String>,
    pub(crate) body: Option<String>,
}

/// An expectation waiting for a read to show it.
struct Pending {
    inject: usize,
    exp: usize,
    deadline: Instant,
    answer: Map<String, Value>,
}

/// An exercise feed: paused or not, and until when.
#[derive(Default)]
struct Feed {
    paused_until: Option<Option<Instant>>,
}

/// The worst a feed got during the run.
#[derive(Default)]
struct FeedSample {
    kind: String,
    worst_age: Option<f64>,
    worst_health: String,
    lag_p99: Option<f64>,
    channels: Vec<String>,
}

pub struct Runner<'a> {
    api: &'a Api,
    run: String,
    c: Checked,
    speed: f64,
    start: Instant,
    start_ms: i64,
    sent: HashMap<String, Sent>,
    /// `inject.expectation` → when met (Some) or missed (None).
    met: HashMap<String, Option<Instant>>,
    results: Vec<Option<InjectResult>>,
    pending: Vec<Pending>,
    feeds: BTreeMap<String, Feed>,
    samples: BTreeMap<String, FeedSample>,
}

impl<'a> Runner<'a> {
    pub fn new(api: &'a Api, run: &str, c: Checked, speed: f64) -> Self {
        let n = c.scenario.injects.len();
        Runner {
            api,
            run: run.to_string(),
            c,
            speed,
            start: Instant::now(),
            start_ms: countersign_server::now_ms(),
            sent: HashMap::new(),
            met: HashMap::new(),
            results: vec![None; n],
            pending: Vec::new(),
            feeds: BTreeMap::new(),
            samples: BTreeMap::new(),
        }
    }

    /// `name` in the run's namespace.
    pub(crate) fn key(&self, name: &str) -> String {
        scoped(&self.run, name)
    }

    /// Scenario milliseconds as wall-clock time.
    fn wall(&self, ms: i64) -> Duration {
        Duration::from_secs_f64(ms.max(0) as f64 / 1000.0 / self.speed)
    }

    /// An actor's first phone number.
    pub(crate) fn phone(&self, actor: &str) -> Option<String> {
        self.c
            .scenario
            .actors
            .iter()
            .find(|a| a.id == actor)
            .and_then(|a| a.phones.first().cloned())
    }

    /// Run the scenario to the end and assemble the report.
    pub fn go(mut self, file: &str) -> anyhow::Result<Aar> {
        self.setup()?;
        self.start = Instant::now();
        self.start_ms = countersign_server::now_ms();
        let (mut beat, mut poll) = (Instant::now() - HEARTBEAT, Instant::now());
        loop {
            let now = Instant::now();
            if now >= beat + HEARTBEAT {
                self.heartbeat()?;
                self.sample();
                beat = now;
            }
            self.fire_due()?;
            if now >= poll + POLL {
                self.poll();
                poll = now;
            }
            if self.results.iter().all(Option::is_some) && self.pending.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.sample();
        Ok(self.report(file))
    }

    /// Profiles for the test customers, the genuine notifications, the feeds' first watermark
    /// (complete for the last eight days, so claims about the setup's history are answerable).
    fn setup(&mut self) -> anyhow::Result<()> {
        let s = &self.c.scenario;
        for a in s
            .actors
            .iter()
            .filter(|a| a.role == countersign_exercise::scenario::Role::Customer)
        {
            let mut p = json!({"phones": a.phones});
            if let Some(l) = &a.locale {
                p["locale"] = json!(l);
            }
            if let Some(x) = a.app_installed {
                p["app_installed"] = json!(x);
            }
            self.api.ok(
                "PUT",
                &format!("/v1/customers/{}", self.key(&a.id)),
                Some(&p),
            )?;
        }
        let now = countersign_server::now_ms();
        let mut records = Vec::new();
        let setups: Vec<Setup> = s.setup.clone();
        for (n, st) in setups
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == SetupKind::Notification)
        {
            let ago = st.ago.as_deref().map_or(Ok(0), parse_duration).unwrap_or(0);
            let actor = st.actor.clone().unwrap_or_default();
            records.push(self.notification(&format!("setup-{n}"), &actor, &st.message, now - ago));
        }
        let feeds = s.feeds();
        if !records.is_empty() {
            let (v, _) = self
                .api
                .ok("POST", "/v1/notifications", Some(&Value::Array(records)))?;
            if v["rejected"].as_u64().unwrap_or(0) > 0 {
                anyhow::bail!("the server rejected setup notifications: {}", v["errors"]);
            }
        }
        for src in feeds {
            let name = self.key(&src);
            self.api.ok(
                "POST",
                &format!("/v1/sources/{name}/watermark"),
                Some(
                    &json!({"watermark": format_time(countersign_server::now_ms()),
                    "complete_since": format_time(now - 8 * 86_400_000)}),
                ),
            )?;
            self.feeds.insert(src, Feed::default());
        }
        Ok(())
    }

    /// A genuine notification record to `actor` from the exercise's feed.
    pub(crate) fn notification(
        &self,
        id: &str,
        actor: &str,
        m: &countersign_exercise::scenario::Message,
        sent_at: i64,
    ) -> Value {
        let channel = m.channel.clone().unwrap_or_else(|| "sms".into());
        let mut r = json!({
            "source": self.key(m.feed()),
            "id": self.key(id),
            "customer_id": self.key(actor),
            "channel": channel,
            "sent_at": format_time(sent_at),
        });
        if channel == "sms" {
            if let Some(p) = self.phone(actor) {
                r["recipient"] = json!(p);
            }
        }
        for (k, v) in [
            ("sender", &m.sender),
            ("body", &m.body),
            ("category", &m.category),
            ("template_id", &m.template_id),
        ] {
            if let Some(v) = v {
                r[k] = json!(v);
            }
        }
        if let Some(v) = &m.variables {
            r["variables"] = serde_json::to_value(v).unwrap_or(Value::Null);
        }
        r
    }

    /// Exercise feeds declare "complete up to now" — except paused ones.
    fn heartbeat(&mut self) -> anyhow::Result<()> {
        let now = Instant::now();
        let names: Vec<String> = self.feeds.keys().cloned().collect();
        for src in names {
            let feed = self.feeds.get_mut(&src).map(|f| {
                if let Some(Some(until)) = f.paused_until {
                    if now >= until {
                        f.paused_until = None;
                    }
                }
                f.paused_until.is_some()
            });
            if feed == Some(true) {
                continue;
            }
            let path = format!("/v1/sources/{}/watermark", self.key(&src));
            self.api.ok(
                "POST",
                &path,
                Some(&json!({"watermark": format_time(countersign_server::now_ms())})),
            )?;
        }
        Ok(())
    }

    /// Every feed's watermark age and health, kept at its worst.
    fn sample(&mut self) {
        let Ok((200, Value::Array(list), _)) = self.api.send("GET", "/v1/sources", None) else {
            return;
        };
        for s in list {
            let name = s["source"].as_str().unwrap_or_default().to_string();
            if exercise_run(&name).is_some_and(|r| r != self.run) {
                continue;
            }
            let e = self.samples.entry(name).or_default();
            e.kind = s["watermark_kind"].as_str().unwrap_or_default().to_string();
            if let Some(age) = s["watermark_age_secs"].as_f64() {
                e.worst_age = Some(e.worst_age.map_or(age, |w| w.max(age)));
            }
            let h = s["health"].as_str().unwrap_or("stale").to_string();
            let rank = |h: &str| ["healthy", "delayed", "stale"].iter().position(|x| *x == h);
            if e.worst_health.is_empty() || rank(&h) > rank(&e.worst_health) {
                e.worst_health = h;
            }
            e.lag_p99 = s["lag_p99_ms"].as_f64().or(e.lag_p99);
            e.channels = s["channels"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
        }
    }

    /// When inject `i` may go: Some(Ok(base)) timed from base, Some(Err(why)) never, None not yet.
    fn trigger(&self, i: usize) -> Option<Result<Instant, String>> {
        let inj = &self.c.scenario.injects[i];
        let Some(after) = &inj.after else {
            return Some(Ok(self.start));
        };
        if after.contains('.') {
            return match self.met.get(after) {
                None => None,
                Some(Some(t)) => Some(Ok(*t)),
                Some(None) => Some(Err(format!("its trigger `{after}` was not met"))),
            };
        }
        let idx = self
            .c
            .scenario
            .injects
            .iter()
            .position(|x| &x.id == after)?;
        match (&self.results[idx], self.sent.get(after).and_then(|s| s.at)) {
            (None, _) => None,
            (Some(_), Some(t)) => Some(Ok(t)),
            (Some(r), None) => Some(Err(format!("its trigger `{after}` was {}", r.status))),
        }
    }

    fn fire_due(&mut self) -> anyhow::Result<()> {
        for i in 0..self.c.scenario.injects.len() {
            if self.results[i].is_some() {
                continue;
            }
            let inj = self.c.scenario.injects[i].clone();
            match self.trigger(i) {
                None => {}
                Some(Err(why)) => self.skip(i, &why),
                Some(Ok(base)) => {
                    let at = parse_at(&inj.at).unwrap_or(0);
                    if Instant::now() >= base + self.wall(at) {
                        self.fire(i, &inj)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn skip(&mut self, i: usize, why: &str) {
        let inj = self.c.scenario.injects[i].clone();
        let mut r = self.result(&inj, "skipped", why);
        r.expectations = self.c.expectations[i]
            .iter()
            .map(|e| judged(e, false, None, String::new(), format!("not run: {why}")))
            .collect();
        for e in &self.c.expectations[i] {
            self.met.insert(format!("{}.{}", inj.id, e.id), None);
        }
        self.results[i] = Some(r);
    }

    fn result(&self, inj: &Inject, status: &str, detail: &str) -> InjectResult {
        InjectResult {
            id: inj.id.clone(),
            kind: inj.kind.as_str().to_string(),
            at: match &inj.after {
                Some(a) => format!("{} after {a}", inj.at),
                None => inj.at.clone(),
            },
            visible_to: inj.visible_to.as_str().to_string(),
            description: inj.description.clone(),
            sent_at: None,
            status: status.to_string(),
            detail: detail.to_string(),
            answer: String::new(),
            latency_ms: None,
            expectations: Vec::new(),
        }
    }

    /// Send inject `i`, judge what its answer alone can show, queue the rest.
    fn fire(&mut self, i: usize, inj: &Inject) -> anyhow::Result<()> {
        let now_ms = countersign_server::now_ms();
        let mut sent = Sent {
            at: Some(Instant::now()),
            at_ms: now_ms,
            // The account concerned; for several reporters, the last (alerts are read for it).
            customer: inj
                .actor
                .as_ref()
                .or(inj.actors.last())
                .map(|a| self.key(a)),
            ..Sent::default()
        };
        let fired = crate::exercise_inject::send(self, inj, &mut sent, now_ms);
        let mut r = self.result(inj, "sent", "");
        r.sent_at = Some(format_time(now_ms));
        let answer = match fired {
            Ok(f) => {
                r.answer = f.summary;
                r.latency_ms = f.latency_ms;
                if let Some(note) = f.skipped {
                    r.status = "skipped".into();
                    r.detail = note;
                }
                f.vars
            }
            Err(e) => {
                r.status = "failed".into();
                r.detail = format!("{e:#}");
                sent.at = None;
                Map::new()
            }
        };
        self.sent.insert(inj.id.clone(), sent);
        let exps = self.c.expectations[i].clone();
        for (n, e) in exps.iter().enumerate() {
            let key = format!("{}.{}", inj.id, e.id);
            if r.status == "failed" {
                r.expectations.push(judged(
                    e,
                    false,
                    None,
                    String::new(),
                    format!("the inject failed: {}", r.detail),
                ));
                self.met.insert(key, None);
                continue;
            }
            if e.reads || e.who == Who::Agent {
                self.pending.push(Pending {
                    inject: i,
                    exp: n,
                    deadline: Instant::now() + self.wall(e.within_ms).max(MIN_DEADLINE),
                    answer: answer.clone(),
                });
                r.expectations
                    .push(judged(e, false, None, String::new(), "pending".into()));
                continue;
            }
            let vars = expect::context(inj.kind, &answer);
            let seen = expect::seen(&e.what, &vars);
            let allowed = self.wall(e.within_ms).max(MIN_DEADLINE).as_secs_f64() * 1000.0;
            let late = r.latency_ms.is_some_and(|l| l > allowed);
            let res = match expect::evaluate(&e.what, &vars) {
                Ok(true) if !late => judged(e, true, r.latency_ms, seen, String::new()),
                Ok(true) => judged(
                    e,
                    false,
                    r.latency_ms,
                    seen,
                    format!(
                        "the answer came after {:.0} ms, past the deadline",
                        r.latency_ms.unwrap_or(0.0)
                    ),
                ),
                Ok(false) => {
                    let why = format!("the answer showed {seen}");
                    judged(e, false, None, seen, why)
                }
                Err(err) => judged(e, false, None, seen, format!("cannot evaluate: {err}")),
            };
            self.met.insert(key, res.met.then(Instant::now));
            r.expectations.push(res);
        }
        self.results[i] = Some(r);
        Ok(())
    }

    /// Read what pending expectations need; settle those met or past their deadline.
    fn poll(&mut self) {
        let mut cache: HashMap<String, Value> = HashMap::new();
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            let inj = self.c.scenario.injects[p.inject].clone();
            let e: Expectation = self.c.expectations[p.inject][p.exp].clone();
            let mut known = p.answer.clone();
            known.extend(self.state(&inj, &mut cache));
            let vars = expect::context(inj.kind, &known);
            let verdict = expect::evaluate(&e.what, &vars);
            let now = Instant::now();
            let since = self
                .sent
                .get(&inj.id)
                .and_then(|s| s.at)
                .map(|t| now.duration_since(t).as_secs_f64() * 1000.0);
            let seen = expect::seen(&e.what, &vars);
            let settled = match verdict {
                Ok(true) => Some(judged(&e, true, since, seen, String::new())),
                Err(err) if now >= p.deadline => Some(judged(
                    &e,
                    false,
                    None,
                    seen,
                    format!("cannot evaluate: {err}"),
                )),
                _ if now >= p.deadline => {
                    let why = format!(
                        "not seen within {} (scenario time; {:.1} s at {}×): last seen {seen}",
                        within_text(e.within_ms),
                        self.wall(e.within_ms).max(MIN_DEADLINE).as_secs_f64(),
                        self.speed
                    );
                    Some(judged(&e, false, None, seen, why))
                }
                _ => None,
            };
            match settled {
                None => self.pending.push(p),
                Some(res) => {
                    self.met
                        .insert(format!("{}.{}", inj.id, e.id), res.met.then_some(now));
                    if let Some(Some(r)) = self.results.get_mut(p.inject) {
                        r.expectations[p.exp] = res;
                    }
                }
            }
        }
    }

    /// The variables read after an answer: alerts, the surge, the call's outcome, the
    /// campaign, the feed's health. One read of each thing per poll.
    fn state(&self, inj: &Inject, cache: &mut HashMap<String, Value>) -> Map<String, Value> {
        let mut m = Map::new();
        let mut get = |path: String| -> Value {
            cache
                .entry(path.clone())
                .or_insert_with(|| match self.api.send("GET", &path, None) {
                    Ok((200, v, _)) => v,
                    _ => Value::Null,
                })
                .clone()
        };
        let call = inj
            .call
            .as_ref()
            .or((inj.kind == InjectKind::Call).then_some(&inj.id));
        let call_sent = call.and_then(|c| self.sent.get(c));
        let customer = self
            .sent
            .get(&inj.id)
            .and_then(|s| s.customer.clone())
            .or_else(|| call_sent.and_then(|s| s.customer.clone()));
        let (_, vars) = expect::variables(inj.kind);
        if vars.contains(&"surge_active") {
            m.insert(
                "surge_active".into(),
                get("/v1/surge".into())["active"].clone(),
            );
        }
        if let Some(c) = &customer {
            let alerts = get(format!("/v1/customers/{c}/alerts"));
            let rules: Vec<Value> = alerts
                .as_array()
                .or(alerts["alerts"].as_array())
                .map(|a| a.iter().map(|x| x["rule"].clone()).collect())
                .unwrap_or_default();
            m.insert("alert_raised".into(), json!(!rules.is_empty()));
            m.insert("alert_rules".into(), Value::Array(rules));
        }
        if let Some(id) = call_sent.and_then(|s| s.call_id.clone()) {
            let doc = get(format!("/v1/calls/{id}"));
            m.insert("outcome".into(), doc["outcome"]["outcome"].clone());
        }
        if let Some(c) = self.sent.get(&inj.id).and_then(|s| s.campaign) {
            let camp = get(format!("/v1/campaigns/{c}"));
            let listed = get("/v1/campaigns?limit=1000".into());
            let list = listed
                .as_array()
                .or(listed["campaigns"].as_array())
                .cloned()
                .unwrap_or_default();
            m.insert(
                "campaign_listed".into(),
                json!(list
                    .iter()
                    .any(|x| x["id"] == json!(c) || x["id"] == camp["id"])),
            );
            m.insert("campaign_status".into(), camp["status"].clone());
            m.insert("campaign_reports".into(), camp["reports"].clone());
        }
        if inj.kind == InjectKind::FeedPause {
            let name = self.key(inj.message.feed());
            let list = get("/v1/sources".into());
            if let Some(s) = list
                .as_array()
                .and_then(|a| a.iter().find(|s| s["source"] == json!(name)))
            {
                m.insert("feed_health".into(), s["health"].clone());
                m.insert("watermark_age_secs".into(), s["watermark_age_secs"].clone());
            }
        }
        m
    }

    pub(crate) fn api(&self) -> &Api {
        self.api
    }
    pub(crate) fn sent_of(&self, id: &str) -> Option<&Sent> {
        self.sent.get(id)
    }
    pub(crate) fn kind(&self) -> ExerciseType {
        self.c.scenario.exercise.kind
    }
    pub(crate) fn pause(&mut self, source: &str, resume_after_ms: Option<i64>) {
        let until = resume_after_ms.map(|ms| Instant::now() + self.wall(ms));
        self.feeds
            .entry(source.to_string())
            .or_default()
            .paused_until = Some(until);
    }

    fn report(&self, file: &str) -> Aar {
        let s = &self.c.scenario;
        let timeline: Vec<InjectResult> = self.results.iter().flatten().cloned().collect();
        let objectives = aar::rate(&s.exercise.objectives, &timeline, &s.rating);
        let ended = countersign_server::now_ms();
        let due = format_time(ended + PLAN_DAYS * 86_400_000)
            .get(..10)
            .unwrap_or_default()
            .to_string();
        let (strengths, improvements, plan) =
            aar::findings(&s.exercise.objectives, &timeline, &due);
        Aar {
            run: self.run.clone(),
            exercise: s.exercise.name.clone(),
            kind: s.exercise.kind.as_str().to_string(),
            summary: s.exercise.summary.clone(),
            scenario_file: file.to_string(),
            server: self.api.base.clone(),
            speed: self.speed,
            started_at: format_time(self.start_ms),
            ended_at: format_time(ended),
            overall: aar::overall(&objectives),
            objectives,
            timeline,
            strengths,
            improvements,
            plan,
            data_path: self.data_path(),
            discussion: s.discussion.clone(),
        }
    }

    /// The exercise's feeds and the institution's feeds on the channels its claims concern.
    fn data_path(&self) -> Vec<FeedRow> {
        let mut channels: BTreeSet<String> = BTreeSet::new();
        for i in self
            .c
            .scenario
            .injects
            .iter()
            .filter(|i| i.kind == InjectKind::Claim)
        {
            channels.insert(if i.cites.is_some() {
                "sms".into()
            } else {
                i.message.channel.clone().unwrap_or_else(|| "sms".into())
            });
        }
        self.samples
            .iter()
            .filter(|(name, s)| exercise_run(name).is_some() || s.channels.iter().any(|c| channels.contains(c)))
            .map(|(name, s)| FeedRow {
                source: name.clone(),
                exercise_feed: exercise_run(name).is_some(),
                watermark_kind: s.kind.clone(),
                worst_watermark_age_secs: s.worst_age,
                lag_p99_ms: s.lag_p99,
                worst_health: s.worst_health.clone(),
                meaning: match s.worst_age {
                    None => "no watermark: every claim on its channels answers cannot_confirm".into(),
                    Some(a) if a <= 30.0 => "current throughout: a claim could be answered not_sent".into(),
                    Some(a) => format!("up to {a:.0} s behind: a claim about the last {a:.0} s could only be answered cannot_confirm (the honest answer; the agent loses the ledger's not_sent)"),
                },
            })
            .collect()
    }
}

fn within_text(ms: i64) -> String {
    if ms % 60_000 == 0 {
        format!("{} min", ms / 60_000)
    } else {
        format!("{} s", ms as f64 / 1000.0)
    }
}

fn judged(
    e: &Expectation,
    met: bool,
    after: Option<f64>,
    seen: String,
    reason: String,
) -> ExpectationResult {
    ExpectationResult {
        id: e.id.clone(),
        who: e.who.as_str().to_string(),
        what: e.what.clone(),
        objective: e.objective.clone(),
        critical: e.critical,
        within: within_text(e.within_ms),
        met,
        met_after_ms: if met { after } else { None },
        seen,
        reason,
        remedy: e.remedy.clone(),
    }
}
