//! Scenario files: the TOML an exercise is written in, parsed into [`Scenario`] and checked with
//! every problem reported at once (each with its line), unknown keys rejected.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::expect::Expectation as Compiled;

/// The scenario format this build reads.
pub const VERSION: u32 = 1;

/// A whole scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub exercise: Exercise,
    pub actors: Vec<Actor>,
    pub setup: Vec<Setup>,
    pub injects: Vec<Inject>,
    pub rating: Rating,
    pub discussion: Vec<Discussion>,
}

/// `[exercise]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ExerciseType,
    #[serde(default)]
    pub summary: String,
    /// Number prefixes (E.164, `+1415555`) the exercise may address; every number an actor has
    /// must fall under one. Nothing is ever sent to a number outside it.
    pub allow_list: Vec<String>,
    pub objectives: Vec<Objective>,
}

/// How the exercise is played.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExerciseType {
    /// Discussion-based: the controller enters what the players decide (`outcome` injects).
    Tabletop,
    /// Operations-based with players who know: agents record the outcome of exercise calls.
    Live,
    /// Exercise calls reach agents unmarked; the runner waits for the outcome they record.
    AgentUnaware,
}

impl ExerciseType {
    pub fn as_str(self) -> &'static str {
        match self {
            ExerciseType::Tabletop => "tabletop",
            ExerciseType::Live => "live",
            ExerciseType::AgentUnaware => "agent_unaware",
        }
    }
}

/// An objective, tied to one capability.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    pub id: String,
    pub capability: Capability,
    pub text: String,
}

/// Countersign's capabilities an objective can exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    ClaimVerification,
    CallScoring,
    CampaignDetection,
    CustomerAlert,
    SenderIdFilter,
    AgentAction,
    FeedHealth,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::ClaimVerification => "claim verification",
            Capability::CallScoring => "call scoring",
            Capability::CampaignDetection => "campaign detection",
            Capability::CustomerAlert => "customer alert",
            Capability::SenderIdFilter => "sender-ID filter",
            Capability::AgentAction => "agent action",
            Capability::FeedHealth => "feed health",
        }
    }

    /// Who usually owns a fix in this capability (the improvement plan's default).
    pub fn owner(self) -> &'static str {
        match self {
            Capability::ClaimVerification | Capability::FeedHealth => {
                "Notification platform / integration"
            }
            Capability::CallScoring => "Fraud strategy (scoring policy)",
            Capability::CampaignDetection => "Fraud intelligence",
            Capability::CustomerAlert => "Digital channels (app team)",
            Capability::SenderIdFilter => "Messaging operations (SMS aggregator)",
            Capability::AgentAction => "Contact-centre operations and training",
        }
    }
}

/// `[[actors]]`: a test customer, the red team, or an agent by anonymous id.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub id: String,
    pub role: Role,
    #[serde(default)]
    pub phones: Vec<String>,
    pub locale: Option<String>,
    pub app_installed: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    RedTeam,
    Agent,
}

/// `[[setup]]`: what exists before T+0.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    pub kind: SetupKind,
    /// `notification`: the customer actor it was sent to.
    pub actor: Option<String>,
    #[serde(flatten)]
    pub message: Message,
    /// `notification`: sent this long before T+0 (`3h`, `20m`).
    pub ago: Option<String>,
    /// `brand`: a brand that must be registered on the server (never created by an exercise).
    pub brand: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupKind {
    Notification,
    Brand,
}

/// A message's fields, for genuine notifications, smishing texts and reports.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// The exercise's feed the notification comes from (default `notifications`).
    pub source: Option<String>,
    pub channel: Option<String>,
    pub sender: Option<String>,
    pub body: Option<String>,
    pub category: Option<String>,
    pub template_id: Option<String>,
    pub variables: Option<toml::Table>,
}

impl Message {
    /// The exercise feed a notification comes from (`notifications` when not named).
    pub fn feed(&self) -> &str {
        self.source.as_deref().unwrap_or("notifications")
    }
}

impl Scenario {
    /// The exercise's feeds: those its genuine notifications (set-up and injects) come from.
    pub fn feeds(&self) -> std::collections::BTreeSet<String> {
        feeds(self.setup.iter(), self.injects.iter())
    }
}

/// The feeds of these set-ups and injects (see [`Scenario::feeds`]).
pub(crate) fn feeds<'a>(
    setup: impl Iterator<Item = &'a Setup>,
    injects: impl Iterator<Item = &'a Inject>,
) -> std::collections::BTreeSet<String> {
    setup
        .filter(|s| s.kind == SetupKind::Notification)
        .map(|s| &s.message)
        .chain(
            injects
                .filter(|i| i.kind == InjectKind::Notification)
                .map(|i| &i.message),
        )
        .map(|m| m.feed().to_string())
        .collect()
}

/// `[[inject]]`: one timed event.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inject {
    pub id: String,
    /// `T+2m`: scenario time from the start, or from `after`.
    #[serde(default = "t0")]
    pub at: String,
    /// Another inject (`fake-text`) or an expectation (`fake-text.blocked`): this one is timed
    /// from when that answered or was met, and is skipped when it was not met.
    pub after: Option<String>,
    pub kind: InjectKind,
    #[serde(default)]
    pub visible_to: Visibility,
    #[serde(default)]
    pub description: String,
    /// The customer actor concerned (recipient, reporter, account called about).
    pub actor: Option<String>,
    /// `smish`, `smish_report`: several recipients or reporters at once.
    #[serde(default)]
    pub actors: Vec<String>,
    #[serde(flatten)]
    pub message: Message,
    /// `smish_report`: `app`, `7726` or `agent` (default `app`).
    pub via: Option<String>,
    /// `call`: the caller's number: an actor's id (their first phone), `withheld`, or a number.
    pub from: Option<String>,
    pub verstat: Option<String>,
    pub line_type: Option<String>,
    pub intent: Option<String>,
    /// `claim`, `outcome`: the call inject this belongs to.
    pub call: Option<String>,
    /// `claim`: the smish inject whose text the caller cites (quote, sender and time).
    pub cites: Option<String>,
    /// `claim`: when the caller says it arrived, as an age (`20m`).
    pub received_ago: Option<String>,
    pub sender_seen: Option<String>,
    pub mentions: Option<toml::Table>,
    /// `outcome`: `fraud`, `legitimate` or `unsure`.
    pub outcome: Option<String>,
    pub note: Option<String>,
    /// `feed_pause`: the exercise feed that stops declaring watermarks.
    pub resume_after: Option<String>,
    /// `manual`: what the controller or red-teamer is asked to do.
    pub prompt: Option<String>,
    #[serde(default)]
    pub expect: Vec<ExpectSpec>,
}

fn t0() -> String {
    "T+0s".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectKind {
    Notification,
    Smish,
    SmishReport,
    Call,
    Claim,
    Outcome,
    FeedPause,
    Manual,
}

impl InjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InjectKind::Notification => "notification",
            InjectKind::Smish => "smish",
            InjectKind::SmishReport => "smish_report",
            InjectKind::Call => "call",
            InjectKind::Claim => "claim",
            InjectKind::Outcome => "outcome",
            InjectKind::FeedPause => "feed_pause",
            InjectKind::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Controller,
    #[default]
    Player,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Controller => "controller",
            Visibility::Player => "player",
        }
    }
}

/// `[[inject.expect]]` as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// Names it for `after` and the report (default `e1`, `e2`, … in order).
    pub id: Option<String>,
    #[serde(default)]
    pub who: Who,
    /// A CEL expression over the answer and what is read after it.
    pub what: String,
    /// Scenario time allowed (`30s`, `5m`; default 30 s).
    pub within: Option<String>,
    #[serde(default)]
    pub critical: bool,
    /// The objective this is evidence for.
    pub objective: String,
    /// What to do when it is not met (the improvement plan's corrective action).
    pub remedy: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    #[default]
    System,
    Agent,
}

impl Who {
    pub fn as_str(self) -> &'static str {
        match self {
            Who::System => "system",
            Who::Agent => "agent",
        }
    }
}

/// `[rating]`: the share of an objective's expectations met for each rating.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rating {
    /// Performed: at least this share met and no critical expectation missed.
    pub performed: f64,
    /// Some challenges: at least this share met and no critical expectation missed.
    pub some_challenges: f64,
    /// Major challenges: at least this share met (a critical one may be missed). Below it, or
    /// nothing met: Unable to perform.
    pub major_challenges: f64,
}

impl Default for Rating {
    fn default() -> Self {
        Rating {
            performed: 1.0,
            some_challenges: 0.75,
            major_challenges: 0.5,
        }
    }
}

/// `[[discussion]]`: a tabletop module's questions (as CISA's packages give them).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Discussion {
    pub module: String,
    pub questions: Vec<String>,
}

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based; 0 when the problem is not tied to a place.
    pub line: usize,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => write!(f, "{}", self.what),
            n => write!(f, "line {n}: {}", self.what),
        }
    }
}

/// A checked scenario with its expectations compiled.
#[derive(Debug, Clone)]
pub struct Checked {
    pub scenario: Scenario,
    /// Per inject, its expectations in order.
    pub expectations: Vec<Vec<Compiled>>,
}

#[derive(Deserialize)]
struct Raw {
    version: Option<Spanned<toml::Value>>,
    exercise: Option<Spanned<toml::Value>>,
    #[serde(default)]
    actors: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    setup: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    inject: Vec<Spanned<toml::Value>>,
    rating: Option<Spanned<toml::Value>>,
    #[serde(default)]
    discussion: Vec<Spanned<toml::Value>>,
}

const TOP_KEYS: [&str; 7] = [
    "version",
    "exercise",
    "actors",
    "setup",
    "inject",
    "rating",
    "discussion",
];

/// Collects problems with their lines.
pub(crate) struct Problems<'a> {
    text: &'a str,
    list: Vec<Problem>,
}

impl Problems<'_> {
    fn at(&mut self, offset: usize, what: impl Into<String>) {
        let line = self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1;
        self.list.push(Problem {
            line,
            what: what.into(),
        });
    }

    /// Deserialize one part, or note why not.
    fn part<T: serde::de::DeserializeOwned>(
        &mut self,
        name: &str,
        v: Spanned<toml::Value>,
    ) -> Option<(usize, T)> {
        let at = v.span().start;
        match T::deserialize(v.into_inner()) {
            Ok(t) => Some((at, t)),
            Err(e) => {
                self.at(at, format!("{name}: {}", e.message().trim()));
                None
            }
        }
    }
}

/// Parse and check a scenario; every problem found is returned at once.
pub fn parse(text: &str) -> Result<Checked, Vec<Problem>> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        vec![Problem {
            line: e
                .span()
                .map_or(0, |s| text[..s.start].matches('\n').count() + 1),
            what: format!("not valid TOML: {}", e.message()),
        }]
    })?;
    let raw: Raw = toml::from_str(text).map_err(|e| {
        vec![Problem {
            line: 0,
            what: e.message().to_string(),
        }]
    })?;
    let mut p = Problems {
        text,
        list: Vec::new(),
    };
    for key in table.keys().filter(|k| !TOP_KEYS.contains(&k.as_str())) {
        p.list.push(Problem {
            line: 0,
            what: format!(
                "unknown section or key `{key}`; expected one of {}",
                TOP_KEYS.join(", ")
            ),
        });
    }
    match raw.version.map(|v| (v.span().start, v.into_inner())) {
        Some((_, toml::Value::Integer(v))) if v == VERSION as i64 => {}
        Some((at, v)) => p.at(
            at,
            format!("`version` is {v}; this build reads version {VERSION}"),
        ),
        None => p.list.push(Problem {
            line: 1,
            what: format!("`version = {VERSION}` is missing"),
        }),
    }
    let exercise = match raw.exercise {
        Some(v) => p.part::<Exercise>("[exercise]", v),
        None => {
            p.list.push(Problem {
                line: 0,
                what: "the [exercise] section is missing".into(),
            });
            None
        }
    };
    let actors = parts::<Actor>(&mut p, "actors", raw.actors);
    let setup = parts::<Setup>(&mut p, "setup", raw.setup);
    let injects = parts::<Inject>(&mut p, "inject", raw.inject);
    let rating = raw
        .rating
        .and_then(|v| p.part::<Rating>("[rating]", v))
        .map(|(_, r)| r)
        .unwrap_or_default();
    let discussion = parts::<Discussion>(&mut p, "discussion", raw.discussion);
    let expectations = crate::checks::check(
        &mut p,
        exercise.as_ref().map(|(at, ex)| (*at, ex)),
        &actors,
        &setup,
        &injects,
        &rating,
    );
    if !p.list.is_empty() {
        p.list.sort_by_key(|x| x.line);
        return Err(p.list);
    }
    let Some((_, exercise)) = exercise else {
        return Err(p.list);
    };
    Ok(Checked {
        scenario: Scenario {
            exercise,
            actors: actors.into_iter().map(|(_, a)| a).collect(),
            setup: setup.into_iter().map(|(_, s)| s).collect(),
            injects: injects.into_iter().map(|(_, i)| i).collect(),
            rating,
            discussion: discussion.into_iter().map(|(_, d)| d).collect(),
        },
        expectations,
    })
}

fn parts<T: serde::de::DeserializeOwned>(
    p: &mut Problems<'_>,
    name: &str,
    raw: Vec<Spanned<toml::Value>>,
) -> Vec<(usize, T)> {
    raw.into_iter()
        .enumerate()
        .filter_map(|(i, v)| p.part::<T>(&format!("{name}[{i}]"), v))
        .collect()
}

impl Problems<'_> {
    pub(crate) fn note(&mut self, offset: usize, what: impl Into<String>) {
        self.at(offset, what);
    }
}

/// The scenario time of `T+2m` / `T+90s` / `T+1h30m`, in milliseconds.
pub fn parse_at(s: &str) -> Result<i64, String> {
    let rest = s
        .trim()
        .strip_prefix("T+")
        .ok_or_else(|| format!("`{s}` is not a scenario time: write T+2m, T+90s or T+1h30m"))?;
    parse_duration(rest)
}

/// `90s`, `2m`, `1h30m`, `3d`, `500ms` in milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a duration: write 500ms, 90s, 2m, 1h30m or 3d");
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let (mut total, mut num) = (0i64, String::new());
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                1
            }
            ('s', _) => 1_000,
            ('m', _) => 60_000,
            ('h', _) => 3_600_000,
            ('d', _) => 86_400_000,
            _ => return Err(bad()),
        };
        let n: i64 = num.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(bad)?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// Ids are short and safe in a namespaced key: letters, digits, `-` and `_`.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The expectation ids of an inject (given or `e1`, `e2`, …).
pub fn expectation_ids(inject: &Inject) -> Vec<String> {
    inject
        .expect
        .iter()
        .enumerate()
        .map(|(i, e)| e.id.clone().unwrap_or_else(|| format!("e{}", i + 1)))
        .collect()
}
