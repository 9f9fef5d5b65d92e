//! `countersign simulate --server`: the same world driven through a running server's public API
//! — the brand, profiles, the ledger and its watermarks, reports, calls and claims — with the
//! server's clock (`settable_clock`) moved to each event's time.

use std::time::Duration;

use countersign_core::call::CallIn;
use countersign_core::report::ReportIn;
use countersign_core::score::Score;
use countersign_core::validate::format_time;
use countersign_core::verify::ClaimIn;
use countersign_core::Millis;
use countersign_sim::world::World;
use serde_json::{json, Value};

use crate::bench::bar;

/// A running server and a key with the ingest, agent and admin scopes.
pub struct Remote {
    base: String,
    key: String,
    agent: ureq::Agent,
}

impl Remote {
    pub fn new(base: &str, key: &str) -> Remote {
        Remote {
            base: base.to_string(),
            key: key.to_string(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build(),
        }
    }

    fn send(&self, method: &str, path: &str, body: &Value) -> anyhow::Result<Value> {
        // Over the key's request rate: wait as told and go on (a replay must not drop events).
        let mut r = self.request(method, path, body);
        for _ in 0..30 {
            let wait = match &r {
                Err(e) => match e.as_ref() {
                    ureq::Error::Status(429, resp) => resp
                        .header("retry-after")
                        .and_then(|s| s.parse::<u64>().ok())
                        .unwrap_or(1),
                    _ => break,
                },
                Ok(_) => break,
            };
            std::thread::sleep(Duration::from_secs(wait.clamp(1, 10)));
            r = self.request(method, path, body);
        }
        match r.map_err(|e| *e) {
            Ok(r) if r.status() == 204 => Ok(Value::Null),
            Ok(r) => Ok(r.into_json()?),
            Err(ureq::Error::Status(code, r)) => {
                let p: Value = r.into_json().unwrap_or_default();
                anyhow::bail!(
                    "{method} {path}: {code} {} — {}",
                    p["code"].as_str().unwrap_or("?"),
                    p["detail"].as_str().unwrap_or("")
                )
            }
            Err(e) => anyhow::bail!("{method} {path}: {e}"),
        }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: &Value,
    ) -> Result<ureq::Response, Box<ureq::Error>> {
        self.agent
            .request(method, &format!("{}{path}", self.base))
            .set("authorization", &format!("Bearer {}", self.key))
            .send_json(body)
            .map_err(Box::new)
    }

    /// Move the server's clock (it must run with `settable_clock = true`).
    pub fn set_now(&self, at: Millis) -> anyhow::Result<()> {
        self.send("PUT", "/v1/admin/clock", &json!({"now": format_time(at)}))
            .map(|_| ())
    }

    /// The brand, the profiles and the ledger, as the in-process run loads them.
    pub fn load(&self, world: &World, progress: bool) -> anyhow::Result<usize> {
        self.set_now(world.end)?;
        self.send("PUT", "/v1/brands/acme", &crate::demo::acme_brand())?;
        for chunk in world.customers.chunks(5_000) {
            let rows: Vec<Value> = chunk
                .iter()
                .map(|c| {
                    json!({"customer_id": c.id, "phones": c.phones,
                        "emails": [format!("{}@mail.example", c.id)], "locale": "en-US", "app_installed": c.app})
                })
                .collect();
            let r = self.send("POST", "/v1/customers", &Value::Array(rows))?;
            if r["rejected"].as_u64().unwrap_or(0) > 0 {
                anyhow::bail!("the server refused profiles: {}", r["errors"]);
            }
        }
        let total: usize = world.sent.iter().map(Vec::len).sum();
        let pb = progress.then(|| bar(total as u64, "ledger"));
        let mut batch = Vec::with_capacity(5_000);
        let flush = |batch: &mut Vec<Value>| -> anyhow::Result<()> {
            let r = self.send(
                "POST",
                "/v1/notifications",
                &Value::Array(std::mem::take(batch)),
            )?;
            if r["rejected"].as_u64().unwrap_or(0) > 0 {
                anyhow::bail!("the server refused notifications: {}", r["errors"]);
            }
            Ok(())
        };
        for (i, sent) in world.sent.iter().enumerate() {
            for k in 0..sent.len() {
                batch.push(serde_json::to_value(world.record(i, k))?);
                if batch.len() == 5_000 {
                    flush(&mut batch)?;
                    if let Some(pb) = &pb {
                        pb.inc(5_000);
                    }
                }
            }
        }
        flush(&mut batch)?;
        for source in ["cards", "messaging"] {
            self.send(
                "POST",
                &format!("/v1/sources/{source}/watermark"),
                &json!({"watermark": format_time(world.end),
                    "complete_since": format_time(world.start - 86_400_000)}),
            )?;
        }
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
        Ok(total)
    }

    pub fn report(&self, r: &ReportIn) -> anyhow::Result<()> {
        self.send("POST", "/v1/smish-reports", &serde_json::to_value(r)?)
            .map(|_| ())
    }

    pub fn start_call(&self, c: &CallIn) -> anyhow::Result<(String, Score)> {
        let v = self.send("POST", "/v1/calls", &serde_json::to_value(c)?)?;
        let id = v["call_id"].as_str().unwrap_or_default().to_string();
        Ok((id, serde_json::from_value(v)?))
    }

    pub fn claim(&self, call_id: &str, claim: &ClaimIn) -> anyhow::Result<(String, Score)> {
        let v = self.send(
            "POST",
            &format!("/v1/calls/{call_id}/claims"),
            &serde_json::to_value(claim)?,
        )?;
        let verdict = v["verification"]["verdict"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok((verdict, serde_json::from_value(v["score"].clone())?))
    }
}
