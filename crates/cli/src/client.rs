//! Client commands: `ingest FILE` (NDJSON or CSV, into a running server or straight into a data
//! directory, with a progress bar and a summary) and `verify` (ask a running server, answer in
//! words an agent can read).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use countersign_core::records;
use countersign_core::verify::{ClaimIn, MentionsIn};
use countersign_server::http::{IngestResponse, RecordError};
use countersign_server::ledger::prepare_batch;
use countersign_store::prelude::*;
use countersign_store::sqlite::{SqliteOptions, SqliteStore};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};

use crate::settings;

#[derive(clap::Args)]
pub struct IngestArgs {
    /// NDJSON (one record per line) or CSV (a header row naming the record fields;
    /// `variables.NAME` / `facts.NAME` columns fill those objects). `-` reads stdin as NDJSON.
    pub file: PathBuf,
    /// Server to send to.
    #[arg(long, env = "COUNTERSIGN_URL", default_value = "http://127.0.0.1:7700")]
    pub server: String,
    /// API key with the `ingest` scope.
    #[arg(long, env = "COUNTERSIGN_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Write straight into this data directory instead of a server (the server must not be
    /// ingesting into it at the same time).
    #[arg(long, conflicts_with = "server")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file, for --data-dir mode (retention, limits, HMAC key).
    #[arg(long, env = "COUNTERSIGN_CONFIG")]
    pub config: Option<PathBuf>,
    /// `ndjson`, `csv`, or `auto` (by file extension).
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Records per request.
    #[arg(long, default_value_t = 5000)]
    pub batch: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Ndjson,
    Csv,
}

/// Turn a CSV row into a record object.
fn csv_record(headers: &csv::StringRecord, row: &csv::StringRecord) -> Value {
    let mut obj = Map::new();
    let mut nested: [(&str, Map<String, Value>); 2] =
        [("variables", Map::new()), ("facts", Map::new())];
    for (h, v) in headers.iter().zip(row.iter()) {
        if v.is_empty() {
            continue;
        }
        let mut placed = false;
        for (prefix, map) in nested.iter_mut() {
            if let Some(name) = h.strip_prefix(*prefix).and_then(|r| r.strip_prefix('.')) {
                map.insert(name.to_string(), Value::String(v.to_string()));
                placed = true;
            }
        }
        if !placed {
            obj.insert(h.to_string(), Value::String(v.to_string()));
        }
    }
    for (prefix, map) in nested {
        if !map.is_empty() {
            obj.insert(prefix.to_string(), Value::Object(map));
        }
    }
    Value::Object(obj)
}

/// Where batches go.
enum Sink {
    Http {
        agent: ureq::Agent,
        url: String,
        key: String,
    },
    Store {
        rt: tokio::runtime::Runtime,
        store: Arc<SqliteStore>,
        cfg: Box<countersign_server::config::ServerConfig>,
        key: Vec<u8>,
    },
}

impl Sink {
    fn send(&self, ndjson: &[u8]) -> anyhow::Result<IngestResponse> {
        match self {
            Sink::Http { agent, url, key } => {
                let mut wait = Duration::from_millis(200);
                for attempt in 0..6 {
                    let res = agent
                        .post(url)
                        .set("authorization", &format!("Bearer {key}"))
                        .set("content-type", "application/x-ndjson")
                        .send_bytes(ndjson);
                    match res {
                        Ok(r) => return Ok(r.into_json()?),
                        // Ingest is idempotent, so retrying after an outage is safe.
                        Err(ureq::Error::Status(503, _)) | Err(ureq::Error::Transport(_))
                            if attempt < 5 =>
                        {
                            std::thread::sleep(wait);
                            wait *= 2;
                        }
                        Err(ureq::Error::Status(code, r)) => {
                            let body = r.into_string().unwrap_or_default();
                            anyhow::bail!("server answered {code}: {body}");
                        }
                        Err(e) => return Err(e).context("cannot reach the server"),
                    }
                }
                anyhow::bail!("the server stayed unavailable")
            }
            Sink::Store {
                rt,
                store,
                cfg,
                key,
            } => {
                let raws = records::split("application/x-ndjson", ndjson, usize::MAX)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                let validation = cfg.validation(key.clone());
                let now = countersign_server::now_ms();
                let mut prepared =
                    prepare_batch(&raws, &validation, cfg.limits.max_record_bytes, now);
                let outcomes = rt.block_on(store.ingest(
                    std::mem::take(&mut prepared.valid),
                    countersign_server::now_ms(),
                ))?;
                Ok(prepared.finish(outcomes))
            }
        }
    }
}

/// What a file holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Notifications,
    /// Customer profiles (`POST /v1/customers`).
    Customers,
}

/// A CSV profile row: `phones` / `emails` hold `;`-separated lists, `app_installed` a boolean.
fn profile_record(mut v: Value) -> Value {
    if let Value::Object(o) = &mut v {
        for k in ["phones", "emails"] {
            if let Some(Value::String(s)) = o.get(k).cloned() {
                let list: Vec<Value> = s
                    .split(';')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(|x| Value::String(x.into()))
                    .collect();
                o.insert(k.into(), Value::Array(list));
            }
        }
        if let Some(Value::String(s)) = o.get("app_installed").cloned() {
            let b = matches!(
                s.trim().to_ascii_lowercase().as_str(),
                "true" | "yes" | "1" | "y"
            );
            o.insert("app_installed".into(), Value::Bool(b));
        }
    }
    v
}

pub fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    load(args, Target::Notifications)
}

/// Load a file of notifications or customer profiles.
pub fn load(args: IngestArgs, target: Target) -> anyhow::Result<()> {
    let format = input_format(&args)?;
    let (reader, total) = open_input(&args)?;
    let sink = open_sink(&args, target)?;
    let pb = progress_bar(total);
    let started = Instant::now();
    let mut batcher = Batcher::new(&sink, args.batch.max(1));
    let counted = pb.wrap_read(reader);
    match format {
        Format::Ndjson => read_ndjson(counted, &mut batcher, &pb)?,
        Format::Csv => read_csv(counted, target, &mut batcher, &pb)?,
    }
    batcher.flush()?;
    pb.finish_and_clear();
    if let Sink::Store { store, .. } = &sink {
        store.close();
    }
    print_summary(batcher.summary, started.elapsed().as_secs_f64());
    Ok(())
}

/// `--format`: ndjson, csv, or auto (by the file's extension; standard input is NDJSON).
fn input_format(args: &IngestArgs) -> anyhow::Result<Format> {
    let stdin = args.file.as_os_str() == "-";
    let csv_ext = args
        .file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    Ok(match args.format.as_str() {
        "ndjson" | "jsonl" => Format::Ndjson,
        "csv" => Format::Csv,
        "auto" if !stdin && csv_ext => Format::Csv,
        "auto" => Format::Ndjson,
        other => anyhow::bail!("--format {other:?}: use ndjson, csv or auto"),
    })
}

/// The input and its size in bytes (0 for standard input: a spinner instead of a bar).
fn open_input(args: &IngestArgs) -> anyhow::Result<(Box<dyn Read>, u64)> {
    if args.file.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin()), 0));
    }
    let f = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((Box::new(f), len))
}

/// Where the records go: straight into a data directory, or to a server over HTTP.
fn open_sink(args: &IngestArgs, target: Target) -> anyhow::Result<Sink> {
    if let Some(dir) = &args.data_dir {
        if target == Target::Customers {
            anyhow::bail!(
                "customer profiles are imported through a server: use --server and --key"
            );
        }
        let cfg = settings::load(args.config.as_deref(), Some(dir), None)?;
        let key = settings::body_hmac_key(&cfg)?;
        let store = Arc::new(SqliteStore::open(&cfg.data_dir, SqliteOptions::default())?);
        return Ok(Sink::Store {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            store,
            cfg: Box::new(cfg),
            key,
        });
    }
    let key = args.key.clone().context(
        "an API key is needed: --key or COUNTERSIGN_API_KEY (or --data-dir to write locally)",
    )?;
    let path = if target == Target::Customers {
        "customers"
    } else {
        "notifications"
    };
    Ok(Sink::Http {
        agent: ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(120))
            .build(),
        url: format!("{}/v1/{path}", args.server.trim_end_matches('/')),
        key,
    })
}

fn progress_bar(total: u64) -> ProgressBar {
    let pb = if total > 0 {
        ProgressBar::new(total)
    } else {
        ProgressBar::new_spinner()
    };
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

/// Records gathered into NDJSON batches, sent when full, with the answers summed and every
/// error given its line in the file and its index in the whole input.
struct Batcher<'a> {
    sink: &'a Sink,
    batch: usize,
    buf: Vec<u8>,
    /// `lines[i]` = the file's line number of the i-th record in `buf`.
    lines: Vec<usize>,
    sent: usize,
    summary: IngestResponse,
}

impl<'a> Batcher<'a> {
    fn new(sink: &'a Sink, batch: usize) -> Self {
        Batcher {
            sink,
            batch,
            buf: Vec::with_capacity(batch * 400),
            lines: Vec::with_capacity(batch),
            sent: 0,
            summary: IngestResponse {
                accepted: 0,
                duplicates: 0,
                rejected: 0,
                errors: Vec::new(),
            },
        }
    }

    /// Add one record (a JSON line) read at `line`; send the batch when it is full.
    fn push(&mut self, record: &[u8], line: usize, pb: &ProgressBar) -> anyhow::Result<()> {
        self.buf.extend_from_slice(record);
        if !record.ends_with(b"\n") {
            self.buf.push(b'\n');
        }
        self.lines.push(line);
        if self.lines.len() >= self.batch {
            self.flush()?;
            pb.set_message(format!("{} accepted", self.summary.accepted));
        }
        Ok(())
    }

    /// A record that could not even be read (a broken CSV row).
    fn reject(&mut self, line: usize, code: &str, detail: String) {
        self.summary.rejected += 1;
        self.summary.errors.push(RecordError {
            index: self.sent + self.lines.len(),
            line: Some(line),
            source: None,
            id: None,
            code: code.into(),
            detail,
        });
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.lines.is_empty() {
            return Ok(());
        }
        let r = self.sink.send(&self.buf)?;
        let s = &mut self.summary;
        s.accepted += r.accepted;
        s.duplicates += r.duplicates;
        s.rejected += r.rejected;
        for mut e in r.errors {
            e.line = self.lines.get(e.index).copied();
            e.index += self.sent;
            s.errors.push(e);
        }
        self.sent += self.lines.len();
        self.buf.clear();
        self.lines.clear();
        Ok(())
    }
}

fn read_ndjson(input: impl Read, b: &mut Batcher<'_>, pb: &ProgressBar) -> anyhow::Result<()> {
    let mut r = BufReader::with_capacity(1 << 20, input);
    let mut line = Vec::new();
    let mut n = 0usize;
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        n += 1;
        if !line.iter().all(|c| c.is_ascii_whitespace()) {
            b.push(&line, n, pb)?;
        }
    }
}

fn read_csv(
    input: impl Read,
    target: Target,
    b: &mut Batcher<'_>,
    pb: &ProgressBar,
) -> anyhow::Result<()> {
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers = r
        .headers()
        .context("the CSV file has no header row")?
        .clone();
    for (i, row) in r.records().enumerate() {
        let line = i + 2;
        match row {
            Ok(row) => {
                let rec = csv_record(&headers, &row);
                let rec = if target == Target::Customers {
                    profile_record(rec)
                } else {
                    rec
                };
                b.push(&serde_json::to_vec(&rec)?, line, pb)?;
            }
            Err(e) => b.reject(line, "malformed_csv", e.to_string()),
        }
    }
    Ok(())
}

fn print_summary(mut summary: IngestResponse, secs: f64) {
    let processed = summary.accepted + summary.duplicates + summary.rejected;
    println!(
        "{processed} records in {secs:.1} s ({:.0}/s): {} accepted, {} duplicates, {} rejected",
        processed as f64 / secs.max(1e-9),
        summary.accepted,
        summary.duplicates,
        summary.rejected
    );
    summary.errors.sort_by_key(|e| e.index);
    for e in summary.errors.iter().take(20) {
        let at = e
            .line
            .map(|l| format!("line {l}"))
            .unwrap_or_else(|| format!("record {}", e.index));
        println!("  {at}: {} — {}", e.code, e.detail);
    }
    if summary.errors.len() > 20 {
        println!("  … and {} more", summary.errors.len() - 20);
    }
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    #[arg(long, env = "COUNTERSIGN_URL", default_value = "http://127.0.0.1:7700")]
    pub server: String,
    /// API key with the `agent` scope.
    #[arg(long, env = "COUNTERSIGN_API_KEY", hide_env_values = true)]
    pub key: String,
    #[arg(long)]
    pub customer: String,
    /// sms, push, email, voice, in_app.
    #[arg(long)]
    pub channel: Option<String>,
    /// Roughly when (RFC 3339).
    #[arg(long)]
    pub received_at: Option<String>,
    /// The sender the caller saw, e.g. ACMEBANK or a number.
    #[arg(long)]
    pub sender: Option<String>,
    #[arg(long)]
    pub amount: Option<String>,
    #[arg(long)]
    pub merchant: Option<String>,
    #[arg(long)]
    pub card: Option<String>,
    /// The number the message said to call.
    #[arg(long)]
    pub callback: Option<String>,
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long)]
    pub code: Option<String>,
    /// A phrase from the message, as the caller remembers it.
    #[arg(long)]
    pub text: Option<String>,
    /// Print the raw JSON answer.
    #[arg(long)]
    pub json: bool,
}

pub fn verify(a: VerifyArgs) -> anyhow::Result<()> {
    let claim = ClaimIn {
        customer_id: Some(a.customer),
        channel: a.channel,
        received_at: a.received_at,
        sender_seen: a.sender,
        mentions: MentionsIn {
            amount: a.amount.map(Value::String),
            merchant: a.merchant,
            card_last4: a.card,
            callback_number: a.callback,
            url: a.url,
            code: a.code,
            text: a.text,
        },
    };
    let url = format!("{}/v1/verify", a.server.trim_end_matches('/'));
    let res = ureq::post(&url)
        .set("authorization", &format!("Bearer {}", a.key))
        .send_json(serde_json::to_value(&claim)?);
    let v: Value = match res {
        Ok(r) => r.into_json()?,
        Err(ureq::Error::Status(code, r)) => {
            let p: Value = r.into_json().unwrap_or(Value::Null);
            anyhow::bail!(
                "{code} {}: {}",
                p["code"].as_str().unwrap_or("error"),
                p["detail"].as_str().unwrap_or("")
            );
        }
        Err(e) => return Err(e).context("cannot reach the server"),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print!("{}", describe(&v));
    Ok(())
}

/// A verification answer in words.
pub fn describe(v: &Value) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let verdict = v["verdict"]
        .as_str()
        .unwrap_or("?")
        .to_uppercase()
        .replace('_', " ");
    let _ = write!(s, "{verdict}");
    if let Some(r) = v["reason"].as_str() {
        let _ = write!(s, " ({r})");
    }
    let _ = writeln!(
        s,
        "  confidence {:.2}",
        v["confidence"].as_f64().unwrap_or(0.0)
    );
    let _ = writeln!(s, "  {}", v["guidance"].as_str().unwrap_or(""));
    if let Some(m) = v.get("matched").filter(|m| !m.is_null()) {
        let _ = writeln!(
            s,
            "  matched: {} from {} at {} ({}/{})",
            m["channel"].as_str().unwrap_or("?"),
            m["sender"].as_str().unwrap_or("-"),
            m["sent_at"].as_str().unwrap_or("?"),
            m["source"].as_str().unwrap_or("?"),
            m["id"].as_str().unwrap_or("?"),
        );
    }
    if let Some(ev) = v["evidence"].as_array() {
        for e in ev {
            let mark = match e["result"].as_str() {
                Some("match") => "✓",
                Some("close") => "≈",
                Some("mismatch") => "✗",
                _ => "·",
            };
            let _ = writeln!(
                s,
                "  {mark} {:<8} {}",
                e["cue"].as_str().unwrap_or(""),
                e["detail"].as_str().unwrap_or("")
            );
        }
    }
    match v["ledger_fresh_until"].as_str() {
        Some(t) => {
            let _ = writeln!(s, "  ledger complete up to {t}");
        }
        None => {
            let _ = writeln!(s, "  ledger freshness unknown");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_records() {
        let h = csv::StringRecord::from(vec![
            "source",
            "id",
            "variables.amount",
            "facts.merchant",
            "body",
        ]);
        let r = csv::StringRecord::from(vec!["s", "1", "$4.00", "Best Buy", ""]);
        let v = csv_record(&h, &r);
        assert_eq!(v["source"], "s");
        assert_eq!(v["variables"]["amount"], "$4.00");
        assert_eq!(v["facts"]["merchant"], "Best Buy");
        assert!(v.get("body").is_none(), "empty cells are omitted");
    }
}
