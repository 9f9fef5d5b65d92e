//! The checks across a scenario's parts: ids, references, the allow-list, the fields each kind
//! of inject takes, and the expectations (compiled, over the variables their inject provides).

use std::collections::{BTreeMap, BTreeSet};

use crate::expect::{self, Expectation};
use crate::scenario::*;

const CHANNELS: [&str; 5] = ["sms", "push", "email", "voice", "in_app"];

/// Check everything; problems go to `p`; the compiled expectations per inject come back. With
/// no readable `[exercise]` the rest is still checked (minus what needs it), so one pass finds
/// every problem.
pub(crate) fn check(
    p: &mut Problems<'_>,
    ex: Option<(usize, &Exercise)>,
    actors: &[(usize, Actor)],
    setup: &[(usize, Setup)],
    injects: &[(usize, Inject)],
    rating: &Rating,
) -> Vec<Vec<Expectation>> {
    let objectives = ex.map(|(at, ex)| check_exercise(p, at, ex));
    let roles = check_actors(p, ex.map(|(_, e)| e), actors);
    for (at, s) in setup {
        check_setup(p, *at, s, &roles);
    }
    if !(0.0..=1.0).contains(&rating.major_challenges)
        || rating.major_challenges > rating.some_challenges
        || rating.some_challenges > rating.performed
        || rating.performed > 1.0
    {
        p.note(
            0,
            "[rating] needs 0 ≤ major_challenges ≤ some_challenges ≤ performed ≤ 1",
        );
    }
    let compiled = check_injects(p, setup, injects, &roles, objectives.as_ref());
    if let Some((at, ex)) = ex {
        let evidenced: BTreeSet<&str> = compiled
            .iter()
            .flatten()
            .map(|e| e.objective.as_str())
            .collect();
        for o in ex
            .objectives
            .iter()
            .filter(|o| !evidenced.contains(o.id.as_str()))
        {
            p.note(
                at,
                format!(
                    "objective `{}` has no expectation, so it cannot be rated",
                    o.id
                ),
            );
        }
    }
    compiled
}

/// `[exercise]` itself; its objective ids.
fn check_exercise(p: &mut Problems<'_>, at: usize, ex: &Exercise) -> BTreeSet<String> {
    if ex.name.trim().is_empty() {
        p.note(at, "[exercise] `name` is empty");
    }
    let mut objectives = BTreeSet::new();
    for o in &ex.objectives {
        if !valid_id(&o.id) || !objectives.insert(o.id.clone()) {
            p.note(
                at,
                format!(
                    "objective `{}`: ids are unique, letters, digits, - and _",
                    o.id
                ),
            );
        }
    }
    if ex.objectives.is_empty() {
        p.note(
            at,
            "[exercise] needs at least one objective (`[[exercise.objectives]]`)",
        );
    }
    if ex.allow_list.is_empty() {
        p.note(
            at,
            "[exercise] `allow_list` is empty: list the number prefixes the exercise may address",
        );
    }
    for a in &ex.allow_list {
        if !is_e164_prefix(a) {
            p.note(
                at,
                format!("allow_list entry `{a}` is not an E.164 prefix (`+1415555`)"),
            );
        }
    }
    objectives
}

/// The injects in order: ids, times, triggers, fields, expectations.
fn check_injects(
    p: &mut Problems<'_>,
    setup: &[(usize, Setup)],
    injects: &[(usize, Inject)],
    roles: &BTreeMap<String, (Role, bool)>,
    objectives: Option<&BTreeSet<String>>,
) -> Vec<Vec<Expectation>> {
    let sources = feeds(setup.iter().map(|(_, s)| s), injects.iter().map(|(_, i)| i));
    let mut seen: BTreeMap<String, (InjectKind, Vec<String>)> = BTreeMap::new();
    let mut compiled = Vec::new();
    for (at, i) in injects {
        let at = *at;
        let name = format!("inject `{}`", i.id);
        if !valid_id(&i.id) {
            p.note(
                at,
                format!("{name}: ids are letters, digits, - and _ (at most 40)"),
            );
        }
        if seen.contains_key(&i.id) {
            p.note(at, format!("{name}: another inject has this id"));
        }
        if let Err(e) = parse_at(&i.at) {
            p.note(at, format!("{name}: {e}"));
        }
        if let Some(after) = &i.after {
            let (inj, exp) = after.split_once('.').unwrap_or((after, ""));
            match seen.get(inj) {
                None => p.note(
                    at,
                    format!("{name}: `after = \"{after}\"` names no inject above this one"),
                ),
                Some((_, ids)) if !exp.is_empty() && !ids.iter().any(|e| e == exp) => p.note(
                    at,
                    format!(
                        "{name}: inject `{inj}` has no expectation `{exp}` (it has: {})",
                        ids.join(", ")
                    ),
                ),
                _ => {}
            }
        }
        check_fields(p, at, &name, i, roles, &seen, &sources);
        let exps = check_expectations(p, at, &name, i, objectives);
        seen.insert(i.id.clone(), (i.kind, expectation_ids(i)));
        compiled.push(exps);
    }
    compiled
}

fn is_e164_prefix(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| !d.is_empty() && d.len() <= 15 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Actor id → (role, has a phone).
fn check_actors(
    p: &mut Problems<'_>,
    ex: Option<&Exercise>,
    actors: &[(usize, Actor)],
) -> BTreeMap<String, (Role, bool)> {
    let mut roles = BTreeMap::new();
    for (at, a) in actors {
        let name = format!("actor `{}`", a.id);
        if !valid_id(&a.id) || roles.contains_key(&a.id) {
            p.note(
                *at,
                format!("{name}: ids are unique, letters, digits, - and _"),
            );
        }
        if a.role == Role::Customer && a.phones.is_empty() {
            p.note(
                *at,
                format!("{name}: a test customer needs a phone number (allow-listed)"),
            );
        }
        for n in &a.phones {
            if !is_e164_prefix(n) || n.len() < 9 {
                p.note(*at, format!("{name}: `{n}` is not an E.164 number"));
            } else if let Some(ex) =
                ex.filter(|ex| !ex.allow_list.iter().any(|pre| n.starts_with(pre.as_str())))
            {
                p.note(
                    *at,
                    format!("{name}: `{n}` is outside the allow-list ({}); an exercise never addresses it", ex.allow_list.join(", ")),
                );
            }
        }
        roles.insert(a.id.clone(), (a.role, !a.phones.is_empty()));
    }
    roles
}

fn check_setup(p: &mut Problems<'_>, at: usize, s: &Setup, roles: &BTreeMap<String, (Role, bool)>) {
    match s.kind {
        SetupKind::Notification => {
            customer(p, at, "setup notification", s.actor.as_deref(), roles);
            check_message(p, at, "setup notification", &s.message, true);
            if let Err(e) = s.ago.as_deref().map_or(Ok(0), parse_duration) {
                p.note(at, format!("setup notification: `ago`: {e}"));
            }
            if s.brand.is_some() {
                p.note(at, "setup notification: `brand` belongs to a brand setup");
            }
        }
        SetupKind::Brand => {
            if s.brand.as_deref().is_none_or(|b| b.trim().is_empty()) {
                p.note(at, "setup brand: `brand` (the registry's name) is required");
            }
            if s.actor.is_some() || s.ago.is_some() || s.message.body.is_some() {
                p.note(at, "setup brand: only `brand` is used (exercises never change the registry; it must exist)");
            }
        }
    }
}

fn check_message(p: &mut Problems<'_>, at: usize, name: &str, m: &Message, notification: bool) {
    match m.channel.as_deref() {
        Some(c) if CHANNELS.contains(&c) => {}
        Some(c) => p.note(
            at,
            format!(
                "{name}: `channel` {c:?} is not one of {}",
                CHANNELS.join(", ")
            ),
        ),
        None if notification => p.note(at, format!("{name}: `channel` is required")),
        None => {}
    }
    if let Some(s) = &m.source {
        if !valid_id(s) {
            p.note(at, format!("{name}: `source` is letters, digits, - and _"));
        }
    }
}

fn customer(
    p: &mut Problems<'_>,
    at: usize,
    name: &str,
    actor: Option<&str>,
    roles: &BTreeMap<String, (Role, bool)>,
) {
    match actor.map(|a| (a, roles.get(a))) {
        None => p.note(at, format!("{name}: `actor` (a test customer) is required")),
        Some((a, None)) => p.note(at, format!("{name}: no actor `{a}`")),
        Some((a, Some((role, _)))) if *role != Role::Customer => {
            p.note(at, format!("{name}: actor `{a}` is not a customer"))
        }
        _ => {}
    }
}

/// Fields set that the inject's kind does not use.
fn unused_fields(p: &mut Problems<'_>, at: usize, name: &str, i: &Inject) {
    use InjectKind::*;
    let m = &i.message;
    let set: [(&str, bool, &[InjectKind]); 20] = [
        (
            "actor",
            i.actor.is_some(),
            &[Notification, Smish, SmishReport, Call],
        ),
        ("actors", !i.actors.is_empty(), &[Smish, SmishReport]),
        ("source", m.source.is_some(), &[Notification, FeedPause]),
        ("channel", m.channel.is_some(), &[Notification, Claim]),
        (
            "sender",
            m.sender.is_some(),
            &[Notification, Smish, SmishReport],
        ),
        (
            "body",
            m.body.is_some(),
            &[Notification, Smish, SmishReport],
        ),
        ("category", m.category.is_some(), &[Notification]),
        ("template_id", m.template_id.is_some(), &[Notification]),
        ("variables", m.variables.is_some(), &[Notification]),
        ("via", i.via.is_some(), &[SmishReport]),
        ("from", i.from.is_some(), &[Call]),
        ("verstat", i.verstat.is_some(), &[Call]),
        ("line_type", i.line_type.is_some(), &[Call]),
        ("intent", i.intent.is_some(), &[Call]),
        ("call", i.call.is_some(), &[Claim, Outcome]),
        (
            "cites",
            i.cites.is_some() || i.received_ago.is_some() || i.sender_seen.is_some(),
            &[Claim],
        ),
        ("mentions", i.mentions.is_some(), &[Claim]),
        (
            "outcome",
            i.outcome.is_some() || i.note.is_some(),
            &[Outcome],
        ),
        ("resume_after", i.resume_after.is_some(), &[FeedPause]),
        ("prompt", i.prompt.is_some(), &[Manual]),
    ];
    for (field, present, kinds) in set {
        if present && !kinds.contains(&i.kind) {
            p.note(
                at,
                format!(
                    "{name}: `{field}` is not used by a {} inject",
                    i.kind.as_str()
                ),
            );
        }
    }
}

/// Required fields per kind, and unused ones.
fn check_fields(
    p: &mut Problems<'_>,
    at: usize,
    name: &str,
    i: &Inject,
    roles: &BTreeMap<String, (Role, bool)>,
    seen: &BTreeMap<String, (InjectKind, Vec<String>)>,
    sources: &BTreeSet<String>,
) {
    use InjectKind::*;
    unused_fields(p, at, name, i);
    let m = &i.message;
    let earlier = |p: &mut Problems<'_>, field: &str, id: Option<&str>, want: InjectKind| match id {
        None => p.note(
            at,
            format!(
                "{name}: `{field}` (a {} inject above) is required",
                want.as_str()
            ),
        ),
        Some(id) => match seen.get(id) {
            Some((k, _)) if *k == want => {}
            _ => p.note(
                at,
                format!(
                    "{name}: `{field} = \"{id}\"` names no {} inject above this one",
                    want.as_str()
                ),
            ),
        },
    };
    let recipients = |p: &mut Problems<'_>| {
        if i.actor.is_none() && i.actors.is_empty() {
            p.note(
                at,
                format!("{name}: `actor` or `actors` (test customers) is required"),
            );
        }
        for a in i.actor.iter().chain(&i.actors) {
            customer(p, at, name, Some(a), roles);
        }
    };
    match i.kind {
        Notification => {
            customer(p, at, name, i.actor.as_deref(), roles);
            check_message(p, at, name, m, true);
        }
        Smish | SmishReport => {
            recipients(p);
            if m.body.as_deref().is_none_or(|b| b.trim().is_empty()) {
                p.note(at, format!("{name}: `body` (the text) is required"));
            }
            if i.kind == Smish && m.sender.is_none() {
                p.note(at, format!("{name}: `sender` is required"));
            }
            if let Some(v) = i
                .via
                .as_deref()
                .filter(|v| !["app", "7726", "agent"].contains(v))
            {
                p.note(at, format!("{name}: `via` {v:?} is not app, 7726 or agent"));
            }
        }
        Call => {
            customer(p, at, name, i.actor.as_deref(), roles);
            match i.from.as_deref() {
                None => p.note(
                    at,
                    format!("{name}: `from` (an actor, `withheld`, or a number) is required"),
                ),
                Some("withheld") => {}
                Some(f) if f.starts_with('+') => {
                    if !is_e164_prefix(f) {
                        p.note(at, format!("{name}: `from` {f:?} is not an E.164 number"));
                    }
                }
                Some(f) => match roles.get(f) {
                    Some((_, true)) => {}
                    _ => p.note(
                        at,
                        format!("{name}: `from = \"{f}\"` names no actor with a phone"),
                    ),
                },
            }
        }
        Claim => {
            earlier(p, "call", i.call.as_deref(), Call);
            if let Some(c) = &i.cites {
                earlier(p, "cites", Some(c), Smish);
            } else if i.mentions.is_none() {
                p.note(
                    at,
                    format!("{name}: a claim needs `cites` (a smish inject) or `mentions`"),
                );
            }
            if let Err(e) = i.received_ago.as_deref().map_or(Ok(0), parse_duration) {
                p.note(at, format!("{name}: `received_ago`: {e}"));
            }
        }
        Outcome => {
            earlier(p, "call", i.call.as_deref(), Call);
            if !matches!(
                i.outcome.as_deref(),
                Some("fraud" | "legitimate" | "unsure")
            ) {
                p.note(
                    at,
                    format!("{name}: `outcome` is fraud, legitimate or unsure"),
                );
            }
        }
        FeedPause => {
            let s = m.feed().to_string();
            if !sources.contains(&s) {
                p.note(
                    at,
                    format!(
                        "{name}: the exercise has no feed `{s}` (feeds: {})",
                        sources.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            if let Err(e) = i.resume_after.as_deref().map_or(Ok(0), parse_duration) {
                p.note(at, format!("{name}: `resume_after`: {e}"));
            }
        }
        Manual => {
            if i.prompt.as_deref().is_none_or(|x| x.trim().is_empty()) {
                p.note(at, format!("{name}: `prompt` is required"));
            }
        }
    }
}

fn check_expectations(
    p: &mut Problems<'_>,
    at: usize,
    name: &str,
    i: &Inject,
    objectives: Option<&BTreeSet<String>>,
) -> Vec<Expectation> {
    let (answer, state) = expect::variables(i.kind);
    let ids = expectation_ids(i);
    let mut out = Vec::new();
    for (n, (e, id)) in i.expect.iter().zip(&ids).enumerate() {
        let here = format!("{name} expect[{n}] `{id}`");
        if !valid_id(id) || ids.iter().filter(|x| *x == id).count() > 1 {
            p.note(
                at,
                format!("{here}: ids are unique within an inject, letters, digits, - and _"),
            );
        }
        if objectives.is_some_and(|o| !o.contains(&e.objective)) {
            p.note(at, format!("{here}: no objective `{}`", e.objective));
        }
        let within = e.within.as_deref().map_or(Ok(30_000), parse_duration);
        if let Err(err) = &within {
            p.note(at, format!("{here}: `within`: {err}"));
        }
        let mut reads = false;
        match expect::compile(&e.what) {
            Err(err) => p.note(
                at,
                format!("{here}: `what` is not a valid expression: {err}"),
            ),
            Ok(vars) => {
                for v in vars {
                    if state.contains(&v.as_str()) {
                        reads = true;
                    } else if !answer.contains(&v.as_str()) {
                        let all: Vec<&str> = answer.iter().chain(state).copied().collect();
                        p.note(
                            at,
                            format!(
                                "{here}: a {} inject gives no `{v}`; it gives: {}",
                                i.kind.as_str(),
                                if all.is_empty() {
                                    "nothing".into()
                                } else {
                                    all.join(", ")
                                }
                            ),
                        );
                    }
                }
            }
        }
        if e.who == Who::Agent
            && !matches!(
                i.kind,
                InjectKind::Call | InjectKind::Claim | InjectKind::Outcome
            )
        {
            p.note(at, format!("{here}: an agent expectation belongs to a call, claim or outcome inject (it reads the call's outcome)"));
        }
        out.push(Expectation {
            id: id.clone(),
            who: e.who,
            what: e.what.clone(),
            within_ms: within.unwrap_or(30_000),
            critical: e.critical,
            objective: e.objective.clone(),
            remedy: e.remedy.clone(),
            reads,
        });
    }
    out
}
