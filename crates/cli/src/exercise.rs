//! `countersign exercise run | list | report | purge`: the exercise runner's commands, the run's
//! files (`aar.md`, `aar.json`, `timeline.csv`, the scenario) and the HTTP client it drives the
//! server with. The driving itself is [`crate::exercise_run`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use countersign_exercise::aar::Aar;
use countersign_exercise::render;
use serde_json::Value;

#[derive(clap::Subcommand)]
pub enum ExerciseCmd {
    /// Run a scenario against a server and write its after-action report.
    Run(RunArgs),
    /// List the runs in the runs directory, newest first.
    List {
        #[arg(long, default_value = "exercise-runs")]
        dir: PathBuf,
    },
    /// Print a run's after-action report (`aar.md`).
    Report {
        run: String,
        #[arg(long, default_value = "exercise-runs")]
        dir: PathBuf,
    },
    /// Remove everything a run wrote on the server (`DELETE /v1/exercises/RUN`).
    Purge {
        run: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(clap::Args, Clone)]
pub struct ServerArgs {
    #[arg(long, env = "COUNTERSIGN_URL", default_value = "http://127.0.0.1:7700")]
    pub server: String,
    /// API key with the `admin` scope (it covers ingest, agent and sms).
    #[arg(long, env = "COUNTERSIGN_API_KEY", hide_env_values = true)]
    pub key: String,
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML; see exercises/).
    pub file: PathBuf,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Scenario time runs this many times faster than the clock (injects and deadlines alike).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Print the master scenario events list and check the file against the server (brands,
    /// reachability, the key's scopes) without sending anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Where runs are written: DIR/RUN/aar.md, aar.json, timeline.csv, scenario.toml.
    #[arg(long, default_value = "exercise-runs")]
    pub dir: PathBuf,
    /// Give the run this id instead of a new one (`ex-…`; tests use it).
    #[arg(long)]
    pub run_id: Option<String>,
}

pub fn run(cmd: ExerciseCmd) -> anyhow::Result<()> {
    match cmd {
        ExerciseCmd::Run(a) => run_scenario(a),
        ExerciseCmd::List { dir } => list(&dir),
        ExerciseCmd::Report { run, dir } => {
            let path = dir.join(&run).join("aar.md");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("no report at {}", path.display()))?;
            print!("{text}");
            Ok(())
        }
        ExerciseCmd::Purge { run, server } => purge(&run, &server),
    }
}

fn run_scenario(a: RunArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?;
    let checked = countersign_exercise::parse(&text).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        anyhow::anyhow!(
            "{} has {} problem(s):\n{}",
            a.file.display(),
            problems.len(),
            list.join("\n")
        )
    })?;
    if !(a.speed > 0.0 && a.speed <= 1000.0) {
        anyhow::bail!("--speed is between 0 and 1000 (got {})", a.speed);
    }
    let api = Api::new(&a.server)?;
    print!("{}", render::msel(&checked));
    crate::exercise_run::preflight(&api, &checked)?;
    if a.dry_run {
        println!("\ndry run: the file is valid and the server has what it needs; nothing was sent");
        return Ok(());
    }
    let run = match a.run_id {
        Some(r) if countersign_core::namespace::valid_run_id(&r) => r,
        Some(r) => {
            anyhow::bail!("--run-id {r:?}: `ex-` then lower-case letters, digits and dashes")
        }
        None => new_run_id(),
    };
    let out = a.dir.join(&run);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::write(out.join("scenario.toml"), &text)?;
    println!("\nrun {run} against {} at {}×", api.base, a.speed);
    let aar = crate::exercise_run::Runner::new(&api, &run, checked, a.speed)
        .go(&a.file.display().to_string())?;
    write_report(&out, &aar)?;
    // The console's exercise page shows the report the server keeps.
    let doc = serde_json::to_value(&aar)?;
    match api.send("PUT", &format!("/v1/exercises/{run}/report"), Some(&doc)) {
        Ok((204, _, _)) => {}
        Ok((status, body, _)) => eprintln!(
            "warning: the server did not keep the report ({status} {}); it is in {}",
            problem(&body),
            out.display()
        ),
        Err(e) => eprintln!("warning: the server did not keep the report: {e:#}"),
    }
    println!("\n{}", summary(&aar));
    println!(
        "report: {}\nremove what it wrote: countersign exercise purge {run}",
        out.join("aar.md").display()
    );
    Ok(())
}

/// `ex-YYYYMMDD-HHMMSS-xxxx` (UTC), unique enough for people starting runs by hand.
fn new_run_id() -> String {
    let now = countersign_core::validate::format_time(countersign_server::now_ms());
    let digits: String = now.chars().filter(char::is_ascii_digit).take(14).collect();
    format!(
        "ex-{}-{}-{:04x}",
        &digits[..8],
        &digits[8..14],
        fastrand::u16(..)
    )
}

fn write_report(out: &Path, aar: &Aar) -> anyhow::Result<()> {
    std::fs::write(out.join("aar.json"), serde_json::to_vec_pretty(aar)?)?;
    std::fs::write(out.join("aar.md"), render::markdown(aar))?;
    std::fs::write(
        out.join("timeline.csv"),
        render::timeline_csv(aar).map_err(anyhow::Error::msg)?,
    )?;
    Ok(())
}

/// The objectives and their ratings, for the terminal.
fn summary(a: &Aar) -> String {
    let mut s = format!(
        "{:<10} {:<20} {:<18} met\n",
        "objective", "capability", "rating"
    );
    for o in &a.objectives {
        s.push_str(&format!(
            "{:<10} {:<20} {:<18} {}/{}\n",
            o.id,
            o.capability.as_str(),
            o.rating.as_str(),
            o.met,
            o.total
        ));
    }
    s.push_str(&format!("overall: {}", a.overall.as_str()));
    s
}

fn list(dir: &Path) -> anyhow::Result<()> {
    let mut runs: Vec<Aar> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read(e.path().join("aar.json")).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    if runs.is_empty() {
        println!("no exercise runs in {}", dir.display());
        return Ok(());
    }
    runs.sort_by(|a, b| b.started_at.cmp(&a.started_at));
    println!(
        "{:<26} {:<20} {:<14} {:<18} exercise",
        "run", "started", "type", "overall"
    );
    for r in runs {
        println!(
            "{:<26} {:<20} {:<14} {:<18} {}",
            r.run,
            r.started_at.get(..19).unwrap_or(&r.started_at),
            r.kind,
            r.overall.as_str(),
            r.exercise
        );
    }
    Ok(())
}

fn purge(run: &str, s: &ServerArgs) -> anyhow::Result<()> {
    let api = Api::new(s)?;
    let (status, body, _) = api.send("DELETE", &format!("/v1/exercises/{run}"), None)?;
    if status != 200 {
        anyhow::bail!("the server refused ({status}): {}", problem(&body));
    }
    println!("removed {} records of {run}:", body["total"]);
    if let Some(m) = body["removed"].as_object() {
        for (k, v) in m.iter().filter(|(_, v)| v.as_u64() != Some(0)) {
            println!("  {k:<18} {v}");
        }
    }
    if let Some(note) = body["note"].as_str() {
        println!("kept {} reports: {note}", body["kept_reports"]);
    }
    Ok(())
}

/// `code: detail` of a problem+json body.
pub fn problem(body: &Value) -> String {
    format!(
        "{}: {}",
        body["code"].as_str().unwrap_or("?"),
        body["detail"].as_str().unwrap_or("")
    )
}

/// The server, as the runner talks to it.
pub struct Api {
    pub base: String,
    key: String,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(s: &ServerArgs) -> anyhow::Result<Api> {
        if s.key.trim().is_empty() {
            anyhow::bail!("an API key is needed (--key or COUNTERSIGN_API_KEY)");
        }
        Ok(Api {
            base: s.server.trim_end_matches('/').to_string(),
            key: s.key.clone(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .redirects(0)
                .build(),
        })
    }

    /// Send a request; answer the status, the JSON body (Null when none) and the milliseconds.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value, f64)> {
        let req = self
            .agent
            .request(method, &format!("{}{path}", self.base))
            .set("authorization", &format!("Bearer {}", self.key));
        let started = Instant::now();
        let res = match body {
            Some(b) => req.send_json(b.clone()),
            None => req.call(),
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let resp = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => anyhow::bail!("cannot reach {}: {e}", self.base),
        };
        let status = resp.status();
        let v = resp.into_json::<Value>().unwrap_or(Value::Null);
        Ok((status, v, ms))
    }

    /// A request that must succeed (2xx), with its body and milliseconds.
    pub fn ok(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(Value, f64)> {
        let (status, v, ms) = self.send(method, path, body)?;
        if !(200..300).contains(&status) {
            anyhow::bail!("{method} {path}: {status} {}", problem(&v));
        }
        Ok((v, ms))
    }
}
