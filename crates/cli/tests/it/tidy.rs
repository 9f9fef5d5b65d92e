//! House rules every source file keeps, checked on the whole tree: it opens with a `//!` line
//! saying what it is for, stays under 1,000 lines, and no function passes 150 lines. Long
//! things hide structure; a new file or function that breaks a rule fails here, not in review.

use std::path::{Path, PathBuf};

const FILE_LINES_MAX: usize = 1_000;
const FN_LINES_MAX: usize = 150;

/// Exceptions, each with its reason. Keep this list short.
const ALLOWED: &[(&str, &str)] = &[];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target") {
                sources(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `(name, length in lines)` of every function: from its `fn` line to the `}` at its indent.
fn functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let indent = &l[..l.len() - t.len()];
        let t = t
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .trim_start_matches("async ")
            .trim_start_matches("const ");
        let Some(rest) = t.strip_prefix("fn ") else {
            continue;
        };
        if l.trim_end().ends_with(';') {
            continue; // a trait method's signature
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let close = format!("{indent}}}");
        if let Some(end) = lines[i..].iter().position(|x| *x == close) {
            out.push((name, end + 1));
        }
    }
    out
}

#[test]
fn every_file_opens_with_its_purpose_and_nothing_is_too_long() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(
        files.len() > 50,
        "found only {} files under {root:?}",
        files.len()
    );
    let mut broken = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let name = f.strip_prefix(&root).unwrap().display().to_string();
        let allowed = |what: &str| ALLOWED.iter().any(|(k, _)| *k == what);
        if !text.starts_with("//!") {
            broken.push(format!("{name}: does not open with a `//!` line"));
        }
        let n = text.lines().count();
        if n > FILE_LINES_MAX && !allowed(&name) {
            broken.push(format!("{name}: {n} lines (at most {FILE_LINES_MAX})"));
        }
        for (func, len) in functions(&text) {
            let key = format!("{name}::{func}");
            if len > FN_LINES_MAX && !allowed(&key) {
                broken.push(format!("{key}: {len} lines (at most {FN_LINES_MAX})"));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_function_measure_measures() {
    let text = "//! x\nfn a() {\n    1;\n}\n\nimpl X {\n    pub async fn b(&self) {\n        2;\n        3;\n    }\n    fn sig(&self);\n}\n";
    assert_eq!(
        functions(text),
        vec![("a".to_string(), 3), ("b".to_string(), 4)]
    );
}
