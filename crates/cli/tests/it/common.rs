//! Test harness: a Countersign server on `127.0.0.1:0` with its own data directory and API keys,
//! talked to over HTTP like any client. `Server::start` runs the real server in process (the
//! router, the store, the background tasks — no process boundary needed); `Server::spawn` runs
//! the real `countersign serve` binary, for what only a process shows: kill -9, the CLI, the
//! adapters as a platform meets them.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub const INGEST_KEY: &str = "cs_test_ingest_key";
pub const AGENT_KEY: &str = "cs_test_agent_key";
pub const ADMIN_KEY: &str = "cs_test_admin_key";
pub const SMS_KEY: &str = "cs_test_sms_key";
/// The institution's app backend (the customer's own checks).
pub const APP_KEY: &str = "cs_test_app_key";
/// Ingest, agent and admin at once (what `simulate --server` needs).
pub const SIM_KEY: &str = "cs_test_sim_key";

pub struct Server {
    backend: Backend,
    pub base: String,
    pub dir: PathBuf,
}

enum Backend {
    Process(Child),
    /// The server's thread and the sender that shuts it down (dropping it does too).
    InProcess {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn rfc3339(ms: i64) -> String {
    countersign_core::validate::format_time(ms)
}

fn keys_env() -> String {
    use countersign_server::auth::hash_key;
    format!(
        "ingest:ingest:{},agent:agent:{},admin:admin:{},carrier:sms:{},sim:ingest+agent+admin:{},app:app:{}",
        hash_key(INGEST_KEY),
        hash_key(AGENT_KEY),
        hash_key(ADMIN_KEY),
        hash_key(SMS_KEY),
        hash_key(SIM_KEY),
        hash_key(APP_KEY)
    )
}

impl Server {
    /// Run the server in this process on `dir`, with an optional TOML config text (the same
    /// configuration the binary reads; keys as `COUNTERSIGN_API_KEYS` gives them).
    pub fn start(dir: &Path, config: Option<&str>) -> Server {
        use countersign_server::config::ServerConfig;
        let mut cfg = ServerConfig::from_toml(config.unwrap_or("")).unwrap();
        cfg.apply_env(|k| (k == "COUNTERSIGN_API_KEYS").then(keys_env))
            .unwrap();
        cfg.data_dir = dir.to_path_buf();
        cfg.listen = "127.0.0.1:0".parse().unwrap();
        // A fixed key: a restart on the same directory must hash quotes the same way.
        cfg.body_hmac_key.get_or_insert_with(|| "11".repeat(32));
        cfg.validate().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, addr) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                use countersign_store::sqlite::{SqliteOptions, SqliteStore};
                let key = hex::decode(cfg.body_hmac_key.as_deref().unwrap()).unwrap();
                let store = std::sync::Arc::new(
                    SqliteStore::open(&cfg.data_dir, SqliteOptions::default()).unwrap(),
                );
                let state = std::sync::Arc::new(
                    countersign_server::AppState::new(&cfg, store.clone(), key).unwrap(),
                );
                let listener = tokio::net::TcpListener::bind(cfg.listen).await.unwrap();
                ready.send(listener.local_addr().unwrap()).unwrap();
                let shutdown = async move {
                    let _ = stopped.await;
                };
                countersign_server::serve(listener, state, None, shutdown)
                    .await
                    .unwrap();
                store.close();
            });
        });
        let addr = addr.recv().unwrap();
        Server {
            backend: Backend::InProcess {
                stop: Some(stop),
                thread: Some(thread),
            },
            base: format!("http://{addr}"),
            dir: dir.to_path_buf(),
        }
    }

    /// Start the real binary on `dir` with an optional TOML config text.
    pub fn spawn(dir: &Path, config: Option<&str>) -> Server {
        Self::spawn_with_soft_nofile(dir, config, None)
    }

    /// [`Server::spawn`], started with the open-file soft limit at `soft_nofile` (as a service
    /// manager's default would leave it).
    pub fn spawn_with_soft_nofile(
        dir: &Path,
        config: Option<&str>,
        soft_nofile: Option<u64>,
    ) -> Server {
        Self::spawn_with(dir, config, soft_nofile, &[])
    }

    /// [`Server::spawn`] with more environment variables (a test failpoint, say).
    pub fn spawn_with(
        dir: &Path,
        config: Option<&str>,
        soft_nofile: Option<u64>,
        env: &[(&str, &str)],
    ) -> Server {
        let mut cmd = match soft_nofile {
            None => Command::new(env!("CARGO_BIN_EXE_countersign")),
            Some(n) => {
                let mut c = Command::new("sh");
                c.args(["-c", &format!("ulimit -Sn {n} && exec \"$0\" \"$@\"")])
                    .arg(env!("CARGO_BIN_EXE_countersign"));
                c
            }
        };
        cmd.args(["serve", "--data-dir"])
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"]);
        if let Some(text) = config {
            let p = dir.with_extension("toml");
            std::fs::write(&p, text).unwrap();
            cmd.arg("--config").arg(p);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .env("COUNTERSIGN_API_KEYS", keys_env())
            .env("COUNTERSIGN_LOG", "warn")
            .env_remove("COUNTERSIGN_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Server {
            backend: Backend::Process(child),
            base: addr.to_string(),
            dir: dir.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POST a raw body; returns (status, content-type, JSON body).
    pub fn post_raw(
        &self,
        path: &str,
        key: Option<&str>,
        ctype: &str,
        body: &[u8],
    ) -> (u16, String, Value) {
        let mut req = ureq::post(&self.url(path))
            .set("content-type", ctype)
            .timeout(Duration::from_secs(60));
        if let Some(k) = key {
            req = req.set("authorization", &format!("Bearer {k}"));
        }
        answer(req.send_bytes(body))
    }

    pub fn post(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        let (s, _, v) = self.post_raw(
            path,
            Some(key),
            "application/json",
            body.to_string().as_bytes(),
        );
        (s, v)
    }

    pub fn send(&self, method: &str, path: &str, key: &str, body: Option<&Value>) -> (u16, Value) {
        let req = ureq::request(method, &self.url(path))
            .set("authorization", &format!("Bearer {key}"))
            .timeout(Duration::from_secs(60));
        let (s, _, v) = answer(match body {
            Some(b) => req.send_json(b.clone()),
            None => req.call(),
        });
        (s, v)
    }

    /// Maria's genuine card alert ($479.99 at BESTBUY #1123, card 4417) three hours before `now`,
    /// on a feed declared complete up to `now`.
    pub fn maria_card_alert(&self, now: i64) {
        let hour = 3_600_000;
        self.ingest(&[sms(
            "cards",
            "n1",
            "maria",
            now - 3 * hour,
            "$479.99",
            "BESTBUY #1123",
            "4417",
        )]);
        self.watermark("cards", now, Some(now - 72 * hour));
    }

    /// Send a request that must succeed (200); its JSON answer.
    pub fn ok(&self, method: &str, path: &str, key: &str, body: &Value) -> Value {
        let (st, v) = self.send(method, path, key, Some(body));
        assert_eq!(st, 200, "{method} {path}: {v}");
        v
    }

    /// Send a request that must be refused with `status` and problem `code`.
    pub fn refused(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<&Value>,
        status: u16,
        code: &str,
    ) {
        let (st, v) = self.send(method, path, key, body);
        assert_eq!(
            (st, v["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {v}"
        );
    }

    pub fn get(&self, path: &str, key: Option<&str>) -> (u16, String, Value) {
        let mut req = ureq::get(&self.url(path)).timeout(Duration::from_secs(30));
        if let Some(k) = key {
            req = req.set("authorization", &format!("Bearer {k}"));
        }
        answer(req.call())
    }

    pub fn ingest(&self, records: &[Value]) -> Value {
        let (s, v) = self.post(
            "/v1/notifications",
            INGEST_KEY,
            &Value::Array(records.to_vec()),
        );
        assert_eq!(s, 200, "{v}");
        v
    }

    pub fn watermark(&self, source: &str, at: i64, complete_since: Option<i64>) -> Value {
        let mut body = serde_json::json!({"watermark": rfc3339(at)});
        if let Some(c) = complete_since {
            body["complete_since"] = rfc3339(c).into();
        }
        let (s, v) = self.post(
            &format!("/v1/sources/{source}/watermark"),
            INGEST_KEY,
            &body,
        );
        assert_eq!(s, 200, "{v}");
        v
    }

    pub fn verify(&self, claim: &Value) -> Value {
        let (s, v) = self.post("/v1/verify", AGENT_KEY, claim);
        assert_eq!(s, 200, "{v}");
        v
    }

    /// A raw connection that has sent a POST's headers (declaring `length` bytes of body) and
    /// only `start` of its body, then goes quiet: a slow or stalled client.
    pub fn half_sent(
        &self,
        path: &str,
        key: &str,
        ctype: &str,
        length: usize,
        start: &str,
    ) -> std::net::TcpStream {
        use std::io::Write;
        let mut c = std::net::TcpStream::connect(self.base.trim_start_matches("http://")).unwrap();
        c.write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: {ctype}\r\nContent-Length: {length}\r\n\r\n{start}"
            )
            .as_bytes(),
        )
        .unwrap();
        c
    }

    /// SIGTERM the server process and wait up to `within` for it to exit: its exit status and
    /// how long it took (`None` if it was still running, then killed).
    pub fn terminate(&mut self, within: Duration) -> Option<(std::process::ExitStatus, Duration)> {
        let Backend::Process(child) = &mut self.backend else {
            panic!("terminate needs a spawned server: use Server::spawn");
        };
        let started = std::time::Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        while started.elapsed() < within {
            if let Some(status) = child.try_wait().unwrap() {
                return Some((status, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Wait up to `within` for the server process to exit on its own: its exit code.
    pub fn exited(&mut self, within: Duration) -> Option<i32> {
        let Backend::Process(child) = &mut self.backend else {
            panic!("exited needs a spawned server: use Server::spawn");
        };
        let started = std::time::Instant::now();
        while started.elapsed() < within {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGKILL the server process (only a spawned server has one).
    pub fn kill9(&mut self) {
        let Backend::Process(child) = &mut self.backend else {
            panic!("kill9 needs a spawned server: use Server::spawn");
        };
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.backend {
            Backend::Process(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Backend::InProcess { stop, thread } => {
                drop(stop.take());
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
        }
    }
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> (u16, String, Value) {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = resp.status();
    let ctype = resp.header("content-type").unwrap_or("").to_string();
    let text = resp.into_string().unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, ctype, v)
}

/// A card-authorisation SMS record.
pub fn sms(
    source: &str,
    id: &str,
    customer: &str,
    sent_at: i64,
    amount: &str,
    merchant: &str,
    card: &str,
) -> Value {
    serde_json::json!({
        "source": source, "id": id, "customer_id": customer, "channel": "sms", "sender": "ACMEBANK",
        "recipient": "+14155550100", "sent_at": rfc3339(sent_at), "category": "card_auth",
        "template_id": "card-auth-v3",
        "body": format!("ACME Bank: Did you authorise {amount} at {merchant} on card ending {card}? Reply Y or N. Call 1-800-555-0199 if not you.")
    })
}

/// The stdout of a command that must have succeeded (stderr shown when it did not).
pub fn ok_stdout(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The `countersign` binary with a quiet log and no configuration leaking in from the environment.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_countersign"));
    c.env("COUNTERSIGN_LOG", "warn")
        .env_remove("COUNTERSIGN_CONFIG")
        .env_remove("COUNTERSIGN_API_KEYS");
    c
}

/// The signals of a score's reasons, by contribution.
pub fn signals(score: &Value) -> Vec<String> {
    score["reasons"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r["signal"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Poll `f` until it gives `Some` (instead of sleeping and hoping), failing after `secs` seconds
/// with `what`.
pub fn eventually<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A Twilio voice webhook's form body and its `X-Twilio-Signature`, signed with the tests' auth
/// token (`12345`) over the public URL they configure (`https://cs.example.com`).
pub fn twilio_form(params: &[(String, String)]) -> (String, String) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let sig = countersign_server::adapters::twilio_signature(
        "12345",
        "https://cs.example.com/v1/adapters/twilio/voice",
        params,
    );
    (body, sig)
}
