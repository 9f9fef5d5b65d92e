//! STIR/SHAKEN in the server: the `[stir]` settings, the STI-CA trust list loaded at start, and
//! signing certificates fetched from `x5u` — HTTPS only, no redirects, no private or loopback
//! addresses (unless configured for tests), 64 KiB, a timeout — into a cache keyed by URL, so a
//! call whose signer was seen before is verified without waiting on the network. Failed
//! fetches are cached too, with a backoff. The verification itself is `core::stir`.

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use countersign_core::stir::cert::CERT_BYTES_MAX;
use countersign_core::stir::{
    self, CallNumbers, Failure, FailureKind, Passports, Rules, Signer, StirResult, TrustList,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Scope;
use crate::http::JsonBody;
use crate::problem::Problem;
use crate::{Auth, SharedState};

/// `[stir]`: verify the PASSporTs calls carry (absent: a call's `identity` is not looked at, and
/// the platform's `verstat` is all the score has).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StirSettings {
    /// The STI-CA trust list (PEM), as the STI-PA gives it to authorised providers. Required;
    /// the server refuses to start with an empty or unreadable file.
    pub trust_file: Option<PathBuf>,
    /// How far a PASSporT's `iat` may be from now, either way (ATIS-1000074: 60 s).
    pub iat_window_secs: i64,
    /// Give up fetching a certificate after this long (2–5 s is usual).
    pub fetch_timeout_ms: u64,
    /// Keep a fetched certificate at least this long, whatever its `Cache-Control` says — never
    /// past its expiry.
    pub cache_min_secs: i64,
    /// Most certificates cached (the oldest go first).
    pub cache_max_entries: usize,
    /// Certificate revocation lists (PEM `X509 CRL` blocks or one DER CRL): a signer listed in
    /// one fails as revoked. Read at start; the STI-CAs' CRLs, refreshed by restarting.
    pub crl_file: Option<PathBuf>,
    /// Roots for fetching certificates besides the Mozilla ones (a private `x5u` host).
    pub fetch_ca_file: Option<PathBuf>,
    /// Fetch from private, loopback and link-local addresses too. Tests only: in production an
    /// `x5u` pointing inside the network is an attack (SSRF).
    pub allow_private_addresses: bool,
    /// Accept PASSporTs whose `orig`/`dest` are JSON inside strings (older libstirshaken), with
    /// a finding. Certificates are still fetched over HTTPS only, and the chain, the signature,
    /// `iat` and the numbers are checked as strictly as ever. Off by default.
    pub lenient: bool,
}

impl Default for StirSettings {
    fn default() -> Self {
        StirSettings {
            trust_file: None,
            crl_file: None,
            iat_window_secs: 60,
            fetch_timeout_ms: 3_000,
            cache_min_secs: 86_400,
            cache_max_entries: 10_000,
            fetch_ca_file: None,
            allow_private_addresses: false,
            lenient: false,
        }
    }
}

enum Cached {
    Signer {
        signer: Arc<Signer>,
        until_s: i64,
    },
    Failed {
        failure: Failure,
        until_s: i64,
        backoff_s: i64,
    },
}

/// First and longest wait before a failed URL is tried again.
const BACKOFF_FIRST_S: i64 = 30;
const BACKOFF_MAX_S: i64 = 3_600;

/// The trust list, the certificate cache and its counters.
pub struct StirVerifier {
    trust: TrustList,
    rules: Rules,
    settings: StirSettings,
    agent: ureq::Agent,
    cache: Mutex<HashMap<String, Cached>>,
    /// One fetch per URL at a time: calls that miss the cache while it is being fetched wait
    /// for that fetch instead of asking the signer's host again.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    fetches: AtomicU64,
    hits: AtomicU64,
    failures: AtomicU64,
}

/// Resolves a host only to public addresses (unless told otherwise), so an `x5u` cannot make
/// the server reach into its own network.
struct PublicOnly {
    allow_private: bool,
}

impl ureq::Resolver for PublicOnly {
    fn resolve(&self, netloc: &str) -> std::io::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
        if self.allow_private {
            return Ok(addrs);
        }
        let public: Vec<SocketAddr> = addrs.into_iter().filter(|a| is_public(a.ip())).collect();
        if public.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{netloc} resolves only to private, loopback or link-local addresses"),
            ));
        }
        Ok(public)
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            !(v.is_private()
                || v.is_loopback()
                || v.is_link_local()
                || v.is_broadcast()
                || v.is_documentation()
                || v.is_unspecified()
                || (o[0] == 100 && (o[1] & 0xc0) == 64))
        }
        IpAddr::V6(v) => {
            let s = v.segments()[0];
            !(v.is_loopback()
                || v.is_unspecified()
                || (s & 0xfe00) == 0xfc00
                || (s & 0xffc0) == 0xfe80)
                && v.to_ipv4_mapped().is_none_or(|m| is_public(IpAddr::V4(m)))
        }
    }
}

/// How long a response says it may be kept: `Cache-Control: max-age`, else `Expires`.
fn fresh_for_s(cache_control: Option<&str>, expires: Option<&str>, now_s: i64) -> Option<i64> {
    if let Some(cc) = cache_control {
        for d in cc.split(',') {
            if let Some(v) = d.trim().strip_prefix("max-age=") {
                return v.trim().parse().ok();
            }
        }
    }
    let e = chrono::DateTime::parse_from_rfc2822(expires?.trim()).ok()?;
    Some(e.timestamp() - now_s)
}

impl StirVerifier {
    /// Read the trust list and build the fetcher; any problem stops the server from starting.
    pub fn new(settings: &StirSettings) -> anyhow::Result<StirVerifier> {
        let Some(path) = &settings.trust_file else {
            anyhow::bail!("[stir] needs trust_file: the STI-CA trust list (PEM)");
        };
        let pem = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("stir.trust_file {}: {e}", path.display()))?;
        let mut trust = TrustList::from_pem(&pem)
            .map_err(|e| anyhow::anyhow!("stir.trust_file {}: {e}", path.display()))?;
        if let Some(crl) = &settings.crl_file {
            let bytes = std::fs::read(crl)
                .map_err(|e| anyhow::anyhow!("stir.crl_file {}: {e}", crl.display()))?;
            trust = trust
                .with_crls(&bytes)
                .map_err(|e| anyhow::anyhow!("stir.crl_file {}: {e}", crl.display()))?;
        }
        let tls =
            crate::tls::client_config(settings.fetch_ca_file.as_deref(), "stir.fetch_ca_file")?;
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_millis(
                settings.fetch_timeout_ms.clamp(100, 10_000),
            ))
            .redirects(0)
            .https_only(true)
            .tls_config(tls)
            .resolver(PublicOnly {
                allow_private: settings.allow_private_addresses,
            })
            .build();
        tracing::info!(
            anchors = trust.len(),
            crls = trust.crls(),
            "STIR/SHAKEN trust list loaded"
        );
        Ok(StirVerifier {
            trust,
            rules: Rules {
                iat_window_s: settings.iat_window_secs,
                lenient: settings.lenient,
            },
            settings: settings.clone(),
            agent,
            cache: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            fetches: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        })
    }

    /// Verify a call's PASSporTs, fetching the certificates not cached (waiting at most the
    /// fetch timeout for each), at `now_s`.
    pub async fn verify(
        self: &Arc<Self>,
        inputs: &[String],
        calling: &str,
        called: Option<&str>,
        now_s: i64,
    ) -> StirResult {
        let passports = Passports::parse(inputs);
        let mut signers: HashMap<String, Result<Arc<Signer>, Failure>> = HashMap::new();
        for url in passports.cert_urls() {
            if !url.starts_with("https://") {
                continue;
            }
            let got = match self.cached(&url, now_s) {
                Some(r) => r,
                None => self.fetch_once(&url, now_s).await,
            };
            signers.insert(url, got);
        }
        let lookup = |u: &str| signers.get(u).cloned();
        stir::verify_parsed(
            &passports,
            &CallNumbers {
                calling,
                called,
                now_s,
            },
            &lookup,
            &self.rules,
        )
    }

    /// Fetch a certificate not in the cache — unless another call is already fetching it, in
    /// which case wait for that fetch and take what it cached.
    async fn fetch_once(self: &Arc<Self>, url: &str, now_s: i64) -> Result<Arc<Signer>, Failure> {
        let slot = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            inflight.entry(url.to_string()).or_default().clone()
        };
        let _turn = slot.lock().await;
        let got = match self.cached(url, now_s) {
            Some(r) => r,
            None => {
                let me = self.clone();
                let u = url.to_string();
                tokio::task::spawn_blocking(move || me.fetch_and_cache(&u, now_s))
                    .await
                    .unwrap_or_else(|e| {
                        Err(Failure::new(FailureKind::CertUnavailable, e.to_string()))
                    })
            }
        };
        let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        // The last one out removes the slot (the map holds one reference, this call another).
        if inflight.get(url).is_some_and(|s| Arc::strong_count(s) <= 2) {
            inflight.remove(url);
        }
        got
    }

    fn cached(&self, url: &str, now_s: i64) -> Option<Result<Arc<Signer>, Failure>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let r = match cache.get(url)? {
            Cached::Signer { signer, until_s } if *until_s > now_s => Ok(signer.clone()),
            Cached::Failed {
                failure, until_s, ..
            } if *until_s > now_s => Err(failure.clone()),
            _ => return None,
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(r)
    }

    fn fetch_and_cache(&self, url: &str, now_s: i64) -> Result<Arc<Signer>, Failure> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let got = self.fetch(url, now_s);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= self.settings.cache_max_entries.max(1) && !cache.contains_key(url) {
            // Full: drop what expires first.
            let oldest = cache
                .iter()
                .min_by_key(|(_, c)| match c {
                    Cached::Signer { until_s, .. } | Cached::Failed { until_s, .. } => *until_s,
                })
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                cache.remove(&k);
            }
        }
        match got {
            Ok((signer, until_s)) => {
                cache.insert(
                    url.to_string(),
                    Cached::Signer {
                        signer: signer.clone(),
                        until_s,
                    },
                );
                Ok(signer)
            }
            Err(failure) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                let backoff_s = match cache.get(url) {
                    Some(Cached::Failed { backoff_s, .. }) => (backoff_s * 2).min(BACKOFF_MAX_S),
                    _ => BACKOFF_FIRST_S,
                };
                tracing::warn!(url, code = failure.code, kind = ?failure.kind, detail = %failure.detail, retry_in_s = backoff_s, "STIR certificate unusable");
                cache.insert(
                    url.to_string(),
                    Cached::Failed {
                        failure: failure.clone(),
                        until_s: now_s + backoff_s,
                        backoff_s,
                    },
                );
                Err(failure)
            }
        }
    }

    /// One fetch: the bundle read, chain-checked, and how long it may be kept.
    fn fetch(&self, url: &str, now_s: i64) -> Result<(Arc<Signer>, i64), Failure> {
        let unavailable = |d: String| Failure::new(FailureKind::CertUnavailable, d);
        let resp = match self.agent.get(url).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(code, _)) => {
                return Err(unavailable(format!("{url} answered HTTP {code}")))
            }
            Err(e) => return Err(unavailable(e.to_string())),
        };
        if resp.status() != 200 {
            // Redirects are not followed: the certificate must be where the signer said.
            return Err(unavailable(format!(
                "{url} answered HTTP {} (redirects are not followed)",
                resp.status()
            )));
        }
        let keep = fresh_for_s(resp.header("cache-control"), resp.header("expires"), now_s)
            .unwrap_or(0)
            .max(self.settings.cache_min_secs);
        let mut body = Vec::new();
        resp.into_reader()
            .take(CERT_BYTES_MAX as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| unavailable(format!("{url}: {e}")))?;
        if body.len() > CERT_BYTES_MAX {
            return Err(unavailable(format!(
                "{url} serves more than {CERT_BYTES_MAX} bytes"
            )));
        }
        let signer = Signer::from_bundle(&body, &self.trust, now_s)?;
        let until_s = (now_s + keep).min(signer.not_after_s);
        Ok((Arc::new(signer), until_s))
    }

    /// `/metrics`: fetches, cache hits and failures.
    pub fn render(&self) -> String {
        format!(
            "# HELP countersign_stir_certificate_fetches_total STIR certificates fetched from x5u.\n# TYPE countersign_stir_certificate_fetches_total counter\ncountersign_stir_certificate_fetches_total {}\n\
             # HELP countersign_stir_certificate_cache_hits_total Verifications answered from the certificate cache.\n# TYPE countersign_stir_certificate_cache_hits_total counter\ncountersign_stir_certificate_cache_hits_total {}\n\
             # HELP countersign_stir_certificate_failures_total Fetches that gave no usable certificate.\n# TYPE countersign_stir_certificate_failures_total counter\ncountersign_stir_certificate_failures_total {}\n",
            self.fetches.load(Ordering::Relaxed),
            self.hits.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }
}

/// `POST /v1/stir/verify`: the verifier on its own.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StirVerifyIn {
    /// `Identity` header values, bare PASSporTs or `Identity:` lines (a forwarded call's SHAKEN
    /// and `div` PASSporTs together).
    pub identity: Vec<String>,
    /// The calling number the PASSporT must be signed for.
    pub calling: String,
    /// The number called; absent: `dest` is not checked.
    #[serde(default)]
    pub called: Option<String>,
}

#[utoipa::path(post, path = "/v1/stir/verify", tag = "calls",
    request_body = StirVerifyIn,
    responses(
        (status = 200, description = "The verstat, the RFC 8224 failure code and kind, what was signed, the signer, findings", body = StirResult),
        (status = 422, description = "Too many or too long PASSporTs (`invalid_identity`), or not this request's shape", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`[stir]` is not configured on this server (`stir_not_configured`)", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn post_verify(
    State(st): State<SharedState>,
    auth: Auth,
    JsonBody(req): JsonBody<StirVerifyIn>,
) -> Result<Json<StirResult>, Problem> {
    auth.require(Scope::Agent)?;
    let Some(v) = st.stir.clone() else {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "stir_not_configured",
            "this server verifies no PASSporTs: configure [stir] with the STI-CA trust list",
        ));
    };
    let max = countersign_core::stir::passport::TOKEN_BYTES_MAX;
    if req.identity.len() > countersign_core::call::IDENTITIES_MAX
        || req.identity.iter().any(|t| t.len() > max)
    {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_identity",
            format!(
                "at most {} PASSporTs of at most {max} bytes each",
                countersign_core::call::IDENTITIES_MAX
            ),
        ));
    }
    let now_s = st.now().div_euclid(1000);
    Ok(Json(
        v.verify(&req.identity, &req.calling, req.called.as_deref(), now_s)
            .await,
    ))
}

/// This resource's routes, each registered with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(post_verify))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_not_fetched() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        let r = PublicOnly {
            allow_private: false,
        };
        assert!(ureq::Resolver::resolve(&r, "127.0.0.1:443").is_err());
    }

    #[test]
    fn cache_lifetimes_from_headers() {
        assert_eq!(
            fresh_for_s(Some("public, max-age=3600"), None, 0),
            Some(3600)
        );
        assert_eq!(
            fresh_for_s(None, Some("Thu, 01 Jan 1970 01:00:00 GMT"), 0),
            Some(3600)
        );
        assert_eq!(fresh_for_s(None, None, 0), None);
    }
}
