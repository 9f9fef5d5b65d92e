//! The console in a real browser: starts `countersign demo` (the real binary, as a newcomer
//! would), then runs `console-tests/console.test.mjs` — Debian's chromium driven by
//! playwright-core, axe-core checking WCAG 2.2 AA on each screen — through the paired pattern by
//! keyboard only, a live update that keeps focus, and the analyst's data-path map. Screenshots go
//! to `target/console-shots` (`docs/console` keeps the reviewed ones). Without chromium or the
//! test's npm packages it says what it skipped — except in CI (`CI=true`), where it must run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn chromium() -> Option<PathBuf> {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
        })
        .filter(|p| p.exists())
}

fn skip_or_fail(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and the browser test cannot run: {why}");
    }
    eprintln!("SKIPPED the console's browser test: {why}");
}

#[test]
fn the_console_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tests = root.join("console-tests");
    let Some(chromium) = chromium() else {
        return skip_or_fail("no chromium (apt-get install chromium, or set CHROMIUM)");
    };
    if !tests.join("node_modules/playwright-core").exists() {
        return skip_or_fail(
            "console-tests/node_modules is missing (run `npm ci` in console-tests)",
        );
    }
    if Command::new("node").arg("--version").output().is_err() {
        return skip_or_fail("no node");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("d"))
        .env("COUNTERSIGN_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let (mut base, mut key, mut agent, mut analyst, mut customer) = (None, None, None, None, None);
    for line in lines.by_ref() {
        let line = line.unwrap();
        let t = line.trim();
        if let Some(v) = t.strip_prefix("listening on ") {
            base = Some(v.to_string());
        } else if let Some(v) = t.strip_prefix("export COUNTERSIGN_API_KEY=") {
            key = Some(v.to_string());
        } else if let Some(v) = t.strip_prefix("as an agent:") {
            agent = Some(v.trim().to_string());
        } else if let Some(v) = t.strip_prefix("as an analyst:") {
            analyst = Some(v.trim().to_string());
        } else if let Some(v) = t.strip_prefix("as a customer:") {
            customer = v.split_whitespace().next().map(str::to_string);
        } else if t.starts_with("more links:") {
            break;
        }
    }
    // Keep draining the demo's output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let shots = root.join("target/console-shots");
    let out = Command::new("node")
        .arg(tests.join("console.test.mjs"))
        .current_dir(&tests)
        .env("BASE", base.expect("the demo's address"))
        .env("API_KEY", key.expect("the demo's key"))
        .env("AGENT_LINK", agent.expect("an agent's sign-in link"))
        .env("ANALYST_LINK", analyst.expect("an analyst's sign-in link"))
        .env("CHECK_LINK", customer.expect("a customer's check link"))
        .env("CHROMIUM", &chromium)
        .env("SHOTS", &shots)
        .output()
        .unwrap();
    let _ = demo.kill();
    let _ = demo.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
