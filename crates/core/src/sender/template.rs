//! DLT-style message templates: fixed text with `{#var#}` slots, compiled to a matcher.

use super::*;

/// A registered message template: fixed text with `{#var#}` slots of at most 30 characters.
#[derive(Debug, Clone)]
pub struct Template {
    pub text: String,
    pub regex: Regex,
}

pub(super) fn squash_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Compile a template, with a specific error when it is malformed.
pub fn compile_template(t: &str) -> Result<Template, Rejection> {
    let text = squash_ws(t);
    if text.is_empty() {
        return Err(Rejection::new("invalid_template", "a template is empty"));
    }
    let mut pattern = String::from("^");
    let mut rest = text.as_str();
    let mut fixed = 0;
    while let Some(i) = rest.find("{#") {
        let (before, after) = rest.split_at(i);
        fixed += before.len();
        pattern.push_str(&regex::escape(before));
        let Some(after) = after.strip_prefix("{#var#}") else {
            return Err(Rejection::new(
                "invalid_template",
                format!(
                    "template {t:?}: slots are written {{#var#}}; found {:?}",
                    &after[..after.len().min(12)]
                ),
            ));
        };
        pattern.push_str(&format!("(.{{1,{TEMPLATE_VAR_MAX}}}?)"));
        rest = after;
    }
    if rest.contains("#}") {
        return Err(Rejection::new(
            "invalid_template",
            format!("template {t:?} has an unopened slot `#}}`"),
        ));
    }
    fixed += rest.len();
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    if fixed == 0 {
        return Err(Rejection::new(
            "invalid_template",
            format!("template {t:?} has no fixed text"),
        ));
    }
    let regex = Regex::new(&pattern)
        .map_err(|e| Rejection::new("invalid_template", format!("template {t:?}: {e}")))?;
    Ok(Template { text, regex })
}

// ---------------------------------------------------------------------------------------------
// The registry
