//! The parser on the shipped scenarios and on a file with many problems (all found in one pass).

use crate::scenario::{parse, parse_at, parse_duration};

const SHIPPED: [(&str, &str); 6] = [
    (
        "paired-pattern",
        include_str!("../../../exercises/paired-pattern.toml"),
    ),
    (
        "campaign-surge",
        include_str!("../../../exercises/campaign-surge.toml"),
    ),
    (
        "own-number-spoofed",
        include_str!("../../../exercises/own-number-spoofed.toml"),
    ),
    (
        "cold-impersonation",
        include_str!("../../../exercises/cold-impersonation.toml"),
    ),
    (
        "stale-feed",
        include_str!("../../../exercises/stale-feed.toml"),
    ),
    (
        "lookalike-sender-campaign",
        include_str!("../../../exercises/lookalike-sender-campaign.toml"),
    ),
];

#[test]
fn the_shipped_scenarios_parse() {
    for (name, text) in SHIPPED {
        let c = parse(text).unwrap_or_else(|e| {
            panic!(
                "{name}: {}",
                e.iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert!(!c.scenario.injects.is_empty(), "{name}");
        assert!(
            !c.scenario.discussion.is_empty(),
            "{name}: a discussion guide"
        );
        assert_eq!(c.expectations.len(), c.scenario.injects.len());
    }
}

#[test]
fn every_problem_is_reported_at_once_with_its_line() {
    let bad = r#"
version = 2
colour = "blue"

[exercise]
name = "Broken"
type = "tabletop"
allow_list = ["+1202555"]

[[exercise.objectives]]
id = "verify"
capability = "claim_verification"
text = "x"

[[exercise.objectives]]
id = "lonely"
capability = "feed_health"
text = "nothing evidences it"

[[actors]]
id = "maria"
role = "customer"
phones = ["+14155550100"]

[[inject]]
id = "call"
kind = "call"
actor = "maria"
from = "nobody"
at = "2m"

[[inject]]
id = "claim"
kind = "claim"
call = "missing"
mentions = { amount = "$5" }
after = "nothing"
body = "stray"

  [[inject.expect]]
  what = 'verdictt == "not_sent"'
  objective = "verify"

  [[inject.expect]]
  what = 'verdict = "x"'
  objective = "nope"
  within = "soon"

[[inject]]
id = "typo"
kind = "claim"
call = "call"
mentionz = {}
"#;
    let problems = parse(bad).expect_err("broken");
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let all = text.join("\n");
    for needle in [
        "line 2: `version` is 2",
        "unknown section or key `colour`",
        "`+14155550100` is outside the allow-list",
        "`from = \"nobody\"` names no actor",
        "`2m` is not a scenario time",
        "`call = \"missing\"` names no call inject",
        "`after = \"nothing\"` names no inject",
        "`body` is not used by a claim inject",
        "gives no `verdictt`",
        "not a valid expression",
        "no objective `nope`",
        "`within`: `soon` is not a duration",
        "unknown field `mentionz`",
        "objective `lonely` has no expectation",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
    assert!(
        problems.windows(2).all(|w| w[0].line <= w[1].line),
        "sorted by line"
    );
}

#[test]
fn times_and_durations() {
    assert_eq!(parse_at("T+2m"), Ok(120_000));
    assert_eq!(parse_at("T+1h30m"), Ok(5_400_000));
    assert_eq!(parse_duration("500ms"), Ok(500));
    assert_eq!(parse_duration("3d"), Ok(259_200_000));
    for bad in ["", "5", "m", "2x", "T+"] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
    assert!(parse_at("2m").is_err());
}

#[test]
fn not_toml_is_one_problem_with_a_line() {
    let e = parse("version = 1\n[exercise\n").expect_err("bad");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, 2, "{}", e[0]);
}
