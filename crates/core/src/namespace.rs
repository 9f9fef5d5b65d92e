//! The exercise namespace: everything an exercise run writes is keyed `<run>.<name>` (customer,
//! source, call and report ids), where the run id is `ex-` followed by lower-case letters, digits
//! and dashes. The prefix is how a run's records are told apart — so that an exercise feed never
//! changes a real customer's answer and one command removes all a run wrote.

/// What every run id starts with.
pub const RUN_PREFIX: &str = "ex-";
/// The longest run id.
pub const RUN_ID_MAX: usize = 48;

/// Whether `run` is a well-formed run id (`ex-20261202-1810-a3f2`).
pub fn valid_run_id(run: &str) -> bool {
    run.len() > RUN_PREFIX.len()
        && run.len() <= RUN_ID_MAX
        && run.starts_with(RUN_PREFIX)
        && run
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The exercise run an id belongs to (`ex-…​.maria` → `ex-…`), or None for ordinary records.
pub fn exercise_run(id: &str) -> Option<&str> {
    let (run, rest) = id.split_once('.')?;
    (valid_run_id(run) && !rest.is_empty()).then_some(run)
}

/// An id in the run's namespace.
pub fn scoped(run: &str, name: &str) -> String {
    format!("{run}.{name}")
}

/// Whether a source's records speak for a customer's claims: ordinary sources for everyone, an
/// exercise's sources only for that exercise's customers.
pub fn source_applies(source: &str, customer: Option<&str>) -> bool {
    match exercise_run(source) {
        None => true,
        Some(run) => customer.and_then(exercise_run) == Some(run),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_told_from_ordinary_ids() {
        assert_eq!(
            exercise_run("ex-20261202-1810-a3f2.maria"),
            Some("ex-20261202-1810-a3f2")
        );
        assert_eq!(exercise_run("ex-1.a.b"), Some("ex-1"));
        for ordinary in [
            "c-1001",
            "card-alerts",
            "ex-",
            "ex-.x",
            "ex-A.x",
            "ex-1.",
            "exa.b",
            "cards.v2",
        ] {
            assert_eq!(exercise_run(ordinary), None, "{ordinary}");
        }
        assert!(!valid_run_id(&format!("ex-{}", "a".repeat(60))));
    }

    #[test]
    fn exercise_sources_speak_only_for_their_run() {
        assert!(source_applies("card-alerts", None));
        assert!(source_applies("card-alerts", Some("ex-1.maria")));
        assert!(source_applies("ex-1.cards", Some("ex-1.maria")));
        assert!(!source_applies("ex-1.cards", Some("ex-2.maria")));
        assert!(!source_applies("ex-1.cards", Some("c-1001")));
        assert!(!source_applies("ex-1.cards", None));
    }
}
