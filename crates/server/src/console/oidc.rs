//! Console sign-in with the institution's identity provider (OpenID Connect): the authorization
//! code flow with PKCE and a nonce, the ID token's signature, issuer, audience, expiry and nonce
//! checked by the `openidconnect` crate, and an IdP group or claim mapped to a console role.
//!
//! Nothing is kept on the server between the redirect to the IdP and the way back: the browser
//! holds a random secret in a short-lived `HttpOnly` cookie, and the `state`, the nonce and the
//! PKCE verifier are derived from it. A callback without that cookie (another browser, a forged
//! link) does not match its `state` and is refused, so any node of a cluster can finish a sign-in
//! another started.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::message;
use super::session::{random_hex, start_session, Role};
use crate::{now_ms, SharedState};

/// The callback path every IdP registration names (`redirect_url` ends with it).
pub const CALLBACK_PATH: &str = "/console/oidc/callback";

/// How long a sign-in may take at the IdP (the pending cookie's life).
const PENDING_SECS: u64 = 600;

/// How long discovered metadata and keys are used before they are fetched again (a key
/// rotation is also picked up at once: an ID token signed by an unknown key refetches them).
const METADATA_TTL: Duration = Duration::from_secs(900);

/// `[console.oidc]`: sign-in with the institution's IdP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The IdP's issuer (discovery at `{issuer_url}/.well-known/openid-configuration`).
    pub issuer_url: String,
    pub client_id: String,
    /// The client secret (`client_secret_basic`); none for a public client with PKCE only.
    /// Prefer `client_secret_file` or `COUNTERSIGN_OIDC_CLIENT_SECRET`.
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub client_secret_file: Option<std::path::PathBuf>,
    /// This server's public callback, registered at the IdP:
    /// `https://countersign.example/console/oidc/callback`.
    pub redirect_url: String,
    /// The button's words: "Sign in with {display_name}".
    #[serde(default = "default_display_name")]
    pub display_name: String,
    /// Scopes besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim naming the person's groups or roles; a dotted path reaches into objects
    /// (`realm_access.roles` for Keycloak). Read from the ID token, else from UserInfo.
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Claim values that make an agent.
    #[serde(default)]
    pub agent_groups: Vec<String>,
    /// Claim values that make an analyst (wins over agent).
    #[serde(default)]
    pub analyst_groups: Vec<String>,
    /// The claim the audit log names the person by; `sub` when absent.
    #[serde(default = "default_name_claim")]
    pub name_claim: String,
    /// A PEM file of the CA that signed the IdP's certificate, besides the Mozilla roots.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Timeout of each call to the IdP (seconds).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_display_name() -> String {
    "your organisation's sign-in".into()
}
fn default_scopes() -> Vec<String> {
    vec!["profile".into(), "email".into()]
}
fn default_role_claim() -> String {
    "groups".into()
}
fn default_name_claim() -> String {
    "preferred_username".into()
}
fn default_timeout() -> u64 {
    10
}

impl OidcSettings {
    /// Every problem with the settings.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if IssuerUrl::new(self.issuer_url.clone()).is_err() {
            out.push(format!(
                "console.oidc.issuer_url {:?} is not a URL",
                self.issuer_url
            ));
        }
        match url::Url::parse(&self.redirect_url) {
            Ok(u) if u.path() == CALLBACK_PATH => {}
            _ => out.push(format!(
                "console.oidc.redirect_url must be this server's public URL ending in {CALLBACK_PATH}, not {:?}",
                self.redirect_url
            )),
        }
        if self.client_id.trim().is_empty() {
            out.push("console.oidc.client_id is empty".into());
        }
        if self.agent_groups.is_empty() && self.analyst_groups.is_empty() {
            out.push(
                "console.oidc: name at least one of agent_groups or analyst_groups (nobody could sign in)"
                    .into(),
            );
        }
        if self.role_claim.is_empty() || self.timeout_secs == 0 {
            out.push("console.oidc: role_claim and timeout_secs must be set".into());
        }
        out
    }

    /// The role for a person's claims: analyst if any value of `role_claim` is an analyst
    /// group, else agent if one is an agent group, else none.
    pub fn role_for(&self, claims: &serde_json::Map<String, Value>) -> Option<Role> {
        let values = claim_values(claims, &self.role_claim);
        if values.iter().any(|v| self.analyst_groups.contains(v)) {
            Some(Role::Analyst)
        } else if values.iter().any(|v| self.agent_groups.contains(v)) {
            Some(Role::Agent)
        } else {
            None
        }
    }

    /// Whether the claims carry `role_claim` at all (else UserInfo is asked).
    fn has_role_claim(&self, claims: &serde_json::Map<String, Value>) -> bool {
        lookup(claims, &self.role_claim).is_some()
    }
}

fn lookup<'a>(claims: &'a serde_json::Map<String, Value>, path: &str) -> Option<&'a Value> {
    // A claim whose name contains dots (URL-named claims) is taken whole first.
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut v = claims.get(parts.next()?)?;
    for p in parts {
        v = v.as_object()?.get(p)?;
    }
    Some(v)
}

/// A claim's values: a string, an array of strings, or space-separated words in a string
/// (some IdPs send `roles` as one string).
fn claim_values(claims: &serde_json::Map<String, Value>, path: &str) -> Vec<String> {
    match lookup(claims, path) {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Every claim besides the standard ones, as sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraClaims {
    #[serde(flatten)]
    all: serde_json::Map<String, Value>,
}

impl AdditionalClaims for ExtraClaims {}

type IdFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type Client = openidconnect::Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<IdFields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The IdP as this server talks to it: settings, an HTTP client that never follows redirects
/// (SSRF), and the discovered metadata with its keys.
pub struct Oidc {
    pub settings: OidcSettings,
    http: ureq::Agent,
    metadata: Mutex<Option<(Arc<CoreProviderMetadata>, Instant)>>,
}

/// Why a sign-in failed, and what the person is told.
#[derive(Debug)]
enum Failure {
    /// The IdP could not be reached or answered nonsense (502).
    Unreachable(String),
    /// The IdP's answer did not prove who the person is (403).
    Invalid(String),
}

impl Oidc {
    pub fn new(settings: OidcSettings) -> anyhow::Result<Oidc> {
        let tls = crate::tls::client_config(settings.ca_file.as_deref(), "console.oidc.ca_file")?;
        let http = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout(Duration::from_secs(settings.timeout_secs))
            .tls_config(tls)
            .build();
        Ok(Oidc {
            settings,
            http,
            metadata: Mutex::new(None),
        })
    }

    /// The IdP's metadata and keys: cached, fetched again when old or when `refresh`.
    /// Blocking (the IdP's HTTP); call from a blocking task.
    fn metadata(&self, refresh: bool) -> Result<Arc<CoreProviderMetadata>, Failure> {
        if !refresh {
            let cached = self.metadata.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((m, at)) = cached.as_ref() {
                if at.elapsed() < METADATA_TTL {
                    return Ok(m.clone());
                }
            }
        }
        let issuer = IssuerUrl::new(self.settings.issuer_url.clone())
            .map_err(|e| Failure::Unreachable(format!("issuer_url: {e}")))?;
        let m = Arc::new(
            CoreProviderMetadata::discover(&issuer, &self.http)
                .map_err(|e| Failure::Unreachable(format!("discovery: {}", chain(&e))))?,
        );
        *self.metadata.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((m.clone(), Instant::now()));
        Ok(m)
    }

    fn client(&self, metadata: &CoreProviderMetadata) -> Result<Client, Failure> {
        let redirect = RedirectUrl::new(self.settings.redirect_url.clone())
            .map_err(|e| Failure::Unreachable(format!("redirect_url: {e}")))?;
        Ok(Client::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            self.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    /// Fetch the metadata at start so a wrong issuer shows in the log at once (sign-in retries
    /// on its own when the IdP comes back).
    pub fn warm(self: Arc<Self>) {
        std::thread::spawn(move || match self.metadata(false) {
            Ok(_) => tracing::info!(issuer = %self.settings.issuer_url, "OIDC provider discovered"),
            Err(e) => tracing::warn!(issuer = %self.settings.issuer_url, error = ?e,
                "OIDC discovery failed; console sign-in with the IdP retries at each attempt"),
        });
    }

    /// The IdP's authorization URL for a pending sign-in.
    fn authorize_url(&self, secret: &str) -> Result<url::Url, Failure> {
        let metadata = self.metadata(false)?;
        let client = self.client(&metadata)?;
        let derived = Derived::of(secret);
        let challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(derived.verifier));
        let mut req = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(derived.state),
                move || Nonce::new(derived.nonce),
            )
            .set_pkce_challenge(challenge);
        for s in &self.settings.scopes {
            if s != "openid" {
                req = req.add_scope(openidconnect::Scope::new(s.clone()));
            }
        }
        Ok(req.url().0)
    }

    /// Redeem the code, check the ID token, and read who the person is and their claims.
    /// Blocking.
    fn finish(&self, code: String, secret: &str) -> Result<Identity, Failure> {
        let derived = Derived::of(secret);
        let metadata = self.metadata(false)?;
        let client = self.client(&metadata)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| Failure::Unreachable(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(derived.verifier))
            .request(&self.http)
            .map_err(|e| Failure::Invalid(format!("code exchange: {}", chain(&e))))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| Failure::Invalid("the token answer has no ID token".into()))?;
        let nonce = Nonce::new(derived.nonce);
        let first = id_token
            .claims(&client.id_token_verifier(), &nonce)
            .map(|_| ());
        let client = match first {
            Ok(()) => client,
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                // The IdP may have rotated its keys since they were fetched.
                self.client(&*self.metadata(true)?)?
            }
            Err(e) => return Err(Failure::Invalid(format!("ID token: {e}"))),
        };
        let claims = id_token
            .claims(&client.id_token_verifier(), &nonce)
            .map_err(|e| Failure::Invalid(format!("ID token: {e}")))?;
        if let Some(expected) = claims.access_token_hash() {
            let verifier = client.id_token_verifier();
            let alg = id_token
                .signing_alg()
                .map_err(|e| Failure::Invalid(format!("ID token: {e}")))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| Failure::Invalid(format!("ID token: {e}")))?;
            let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
                .map_err(|e| Failure::Invalid(format!("at_hash: {e}")))?;
            if actual != *expected {
                return Err(Failure::Invalid(
                    "the access token does not match the ID token's at_hash".into(),
                ));
            }
        }
        let mut extra = claims.additional_claims().all.clone();
        if !self.settings.has_role_claim(&extra) {
            // Some IdPs put groups only in UserInfo.
            if let Ok(req) =
                client.user_info(token.access_token().clone(), Some(claims.subject().clone()))
            {
                let info: openidconnect::UserInfoClaims<ExtraClaims, CoreGenderClaim> = req
                    .request(&self.http)
                    .map_err(|e| Failure::Unreachable(format!("userinfo: {}", chain(&e))))?;
                extra.extend(info.additional_claims().all.clone());
            }
        }
        let standard = |name: &str| -> Option<String> {
            match name {
                "preferred_username" => claims.preferred_username().map(|u| u.to_string()),
                "email" => claims.email().map(|e| e.to_string()),
                "name" => claims
                    .name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.to_string()),
                "sub" => Some(claims.subject().to_string()),
                _ => None,
            }
        };
        let name = standard(&self.settings.name_claim)
            .or_else(|| {
                lookup(&extra, &self.settings.name_claim)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| claims.subject().to_string());
        Ok(Identity {
            name: clean_name(&name),
            subject: claims.subject().to_string(),
            role: self.settings.role_for(&extra),
        })
    }
}

/// Who the IdP says signed in.
struct Identity {
    name: String,
    subject: String,
    role: Option<Role>,
}

/// A person's name as the console shows it: printable, at most 64 characters.
fn clean_name(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// The error and its causes on one line (what the IdP answered is in the causes).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

/// The `state`, nonce and PKCE verifier of a pending sign-in, derived from the browser's secret.
struct Derived {
    state: String,
    nonce: String,
    verifier: String,
}

impl Derived {
    fn of(secret: &str) -> Derived {
        let d = |label: &str| hex::encode(Sha256::digest(format!("{label}:{secret}").as_bytes()));
        Derived {
            state: d("state"),
            nonce: d("nonce"),
            verifier: d("pkce"),
        }
    }
}

/// The pending-sign-in cookie's name (before the `__Host-` prefix).
const PENDING_COOKIE: &str = "cs_oidc";

fn pending_cookie(st: &SharedState, value: &str, max_age: u64) -> String {
    super::session::set_cookie(st, PENDING_COOKIE, value, max_age)
}

/// A console path to go to after sign-in; anything else goes to the console's home.
pub fn safe_next(next: &str) -> &str {
    if next.starts_with("/console") && !next.contains(['\\', '\r', '\n']) && !next.contains("//") {
        next
    } else {
        "/console"
    }
}

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    next: String,
}

/// `GET /console/oidc/start`: off to the IdP, with a pending-sign-in cookie.
pub async fn start(State(st): State<SharedState>, Query(q): Query<StartQuery>) -> Response {
    let Some(oidc) = st.oidc.clone() else {
        return not_configured();
    };
    let secret = random_hex(32);
    let next = safe_next(&q.next).to_string();
    let s = secret.clone();
    let url = match tokio::task::spawn_blocking(move || oidc.authorize_url(&s)).await {
        Ok(Ok(u)) => u,
        Ok(Err(e)) => return failed(e),
        Err(_) => return failed(Failure::Unreachable("the sign-in task failed".into())),
    };
    let value = format!(
        "{secret}.{}.{}",
        now_ms(),
        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    );
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                pending_cookie(&st, &value, PENDING_SECS),
            ),
            (header::LOCATION, url.to_string()),
        ],
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /console/oidc/callback`: back from the IdP. The `state` must be this browser's; the
/// code is redeemed with the PKCE verifier; the ID token is checked; the person's claims give
/// the role; a session starts.
pub async fn callback(
    State(st): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(oidc) = st.oidc.clone() else {
        return not_configured();
    };
    let pending =
        super::session::cookie(&headers, &super::session::cookie_name(&st, PENDING_COOKIE));
    let Some((secret, started, next)) = pending.as_deref().and_then(parse_pending) else {
        return restart(
            &st,
            "This sign-in did not start in this browser, or the cookie that follows it was lost.",
        );
    };
    if now_ms() - started > PENDING_SECS as i64 * 1000 {
        return restart(&st, "This sign-in took too long.");
    }
    let derived = Derived::of(&secret);
    let state_ok = q
        .state
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(derived.state.as_bytes())));
    if !state_ok {
        return restart(
            &st,
            "This sign-in's answer does not belong to this browser.",
        );
    }
    if let Some(err) = q.error {
        tracing::warn!(error = %err, description = ?q.error_description, "the IdP refused a console sign-in");
        return with_cleared(
            &st,
            message(
                StatusCode::FORBIDDEN,
                None,
                "Sign-in refused",
                &format!(
                    "{} did not sign you in ({err}{}).",
                    oidc.settings.display_name,
                    q.error_description
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                ),
                Some(("/console/signin", "Back to sign-in")),
            ),
        );
    }
    let Some(code) = q.code else {
        return restart(&st, "The sign-in service's answer had no code.");
    };
    let o = oidc.clone();
    let who = match tokio::task::spawn_blocking(move || o.finish(code, &secret)).await {
        Ok(Ok(who)) => who,
        Ok(Err(e)) => return with_cleared(&st, failed(e)),
        Err(_) => {
            return with_cleared(
                &st,
                failed(Failure::Unreachable("the sign-in task failed".into())),
            )
        }
    };
    let at = now_ms();
    let Some(role) = who.role else {
        let _ = st
            .store
            .audit(countersign_store::AuditEntry {
                at,
                actor: format!("console:{}", who.name),
                action: "console_signin_refused".into(),
                customer_id: None,
                detail: Some(format!(
                    "via=oidc sub={} no {} value maps to a role",
                    who.subject, oidc.settings.role_claim
                )),
            })
            .await;
        // A security event: on disk before the answer (audit entries are otherwise queued).
        let _ = st.store.flush().await;
        return with_cleared(
            &st,
            message(
                StatusCode::FORBIDDEN,
                None,
                "No console role",
                "You signed in, but your account is not in a group that may use the console. Ask the fraud team's administrator to add you.",
                None,
            ),
        );
    };
    let detail = format!("via=oidc sub={}", who.subject);
    let resp = start_session(&st, &who.name, role, &detail, safe_next(&next)).await;
    with_cleared(&st, resp)
}

fn parse_pending(v: &str) -> Option<(String, i64, String)> {
    let mut parts = v.splitn(3, '.');
    let secret = parts.next()?.to_string();
    let started = parts.next()?.parse().ok()?;
    let next = form_urlencoded::parse(format!("n={}", parts.next()?).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    (secret.len() == 64).then_some((secret, started, next))
}

/// The answer with the pending-sign-in cookie cleared (it is used once).
fn with_cleared(st: &SharedState, mut resp: Response) -> Response {
    if let Ok(v) = header::HeaderValue::from_str(&pending_cookie(st, "", 0)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn restart(st: &SharedState, why: &str) -> Response {
    with_cleared(
        st,
        message(
            StatusCode::BAD_REQUEST,
            None,
            "Sign in again",
            &format!("{why} Start again from the sign-in page."),
            Some(("/console/signin", "Back to sign-in")),
        ),
    )
}

fn not_configured() -> Response {
    message(
        StatusCode::NOT_FOUND,
        None,
        "Not set up",
        "Sign-in with an identity provider is not set up on this server ([console.oidc]).",
        Some(("/console/signin", "Back to sign-in")),
    )
}

fn failed(f: Failure) -> Response {
    match f {
        Failure::Unreachable(why) => {
            tracing::warn!(why, "console sign-in: the IdP could not be used");
            message(
                StatusCode::BAD_GATEWAY,
                None,
                "Sign-in service unavailable",
                "The sign-in service could not be reached or answered in a way this console does not accept. Try again in a minute; if it goes on, tell the fraud team's administrator.",
                Some(("/console/signin", "Back to sign-in")),
            )
        }
        Failure::Invalid(why) => {
            tracing::warn!(
                why,
                "console sign-in refused: the IdP's answer did not verify"
            );
            message(
                StatusCode::FORBIDDEN,
                None,
                "Sign-in could not be verified",
                "The sign-in service's answer could not be verified, so you are not signed in. Start again; if it goes on, tell the fraud team's administrator.",
                Some(("/console/signin", "Back to sign-in")),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings() -> OidcSettings {
        toml::from_str(
            r#"
            issuer_url = "https://idp.example"
            client_id = "countersign"
            redirect_url = "https://cs.example/console/oidc/callback"
            role_claim = "realm_access.roles"
            agent_groups = ["cc-agent"]
            analyst_groups = ["fraud-analyst"]
            "#,
        )
        .unwrap()
    }

    fn claims(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn roles_come_from_the_mapped_claim() {
        let s = settings();
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        let agent = claims(serde_json::json!({"realm_access": {"roles": ["x", "cc-agent"]}}));
        let both =
            claims(serde_json::json!({"realm_access": {"roles": ["cc-agent", "fraud-analyst"]}}));
        let none = claims(serde_json::json!({"realm_access": {"roles": ["cc-agent-2"]}}));
        assert_eq!(s.role_for(&agent), Some(Role::Agent));
        assert_eq!(s.role_for(&both), Some(Role::Analyst), "analyst wins");
        assert_eq!(s.role_for(&none), None, "exact values only");
        assert_eq!(s.role_for(&claims(serde_json::json!({}))), None);
        let mut flat = settings();
        flat.role_claim = "roles".into();
        assert_eq!(
            flat.role_for(&claims(serde_json::json!({"roles": "a cc-agent"}))),
            Some(Role::Agent),
            "a space-separated string"
        );
        flat.role_claim = "https://bank.example/groups".into();
        assert_eq!(
            flat.role_for(&claims(
                serde_json::json!({"https://bank.example/groups": ["fraud-analyst"]})
            )),
            Some(Role::Analyst),
            "a claim named by a URL"
        );
    }

    #[test]
    fn settings_problems_are_all_reported() {
        let mut s = settings();
        s.redirect_url = "https://cs.example/elsewhere".into();
        s.agent_groups.clear();
        s.analyst_groups.clear();
        s.issuer_url = "not a url".into();
        assert_eq!(s.problems().len(), 3, "{:?}", s.problems());
    }

    #[test]
    fn only_console_paths_follow_sign_in() {
        assert_eq!(safe_next("/console/calls/CA1"), "/console/calls/CA1");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/console//x",
            "/v1/x",
            "",
        ] {
            assert_eq!(safe_next(bad), "/console", "{bad}");
        }
    }

    #[test]
    fn the_pending_cookie_round_trips() {
        let secret = "a".repeat(64);
        let v = format!("{secret}.123.%2Fconsole%2Fcalls%2FCA%3B1");
        assert_eq!(
            parse_pending(&v),
            Some((secret, 123, "/console/calls/CA;1".into()))
        );
        assert_eq!(parse_pending("short.1.x"), None);
        assert_eq!(parse_pending("x"), None);
    }

    #[test]
    fn derived_values_differ_and_fit_pkce() {
        let d = Derived::of("s");
        assert_ne!(d.state, d.nonce);
        assert_ne!(d.nonce, d.verifier);
        assert!((43..=128).contains(&d.verifier.len()));
    }
}
