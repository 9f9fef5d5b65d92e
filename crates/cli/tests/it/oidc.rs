//! Console sign-in with an OpenID Connect identity provider, against a real one running in this
//! test: discovery, JWKS, an authorize endpoint that signs the person in at once, a token
//! endpoint that checks the PKCE verifier and signs RS256 ID tokens, and UserInfo. The console
//! must follow the code flow, check the ID token (signature, nonce), map the IdP's group to a
//! role, and refuse a callback from another browser, a forged token, and a person without a
//! mapped group.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Json;
use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    AccessToken, Audience, EndUserUsername, IdToken, IdTokenClaims, IssuerUrl, JsonWebKeyId,
    PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::*;
use crate::console::Browser;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Extra {
    #[serde(flatten)]
    all: serde_json::Map<String, Value>,
}
impl openidconnect::AdditionalClaims for Extra {}

/// What the IdP does wrong, to prove the console notices.
#[derive(Clone, Copy, PartialEq)]
enum Misbehave {
    None,
    /// The ID token carries another nonce.
    WrongNonce,
    /// The ID token is signed with a key the JWKS does not publish.
    UnknownKey,
    /// Groups are left out of the ID token (UserInfo has them).
    GroupsOnlyInUserInfo,
}

struct Grant {
    nonce: String,
    challenge: String,
}

struct Idp {
    issuer: String,
    key: CoreRsaPrivateSigningKey,
    other: CoreRsaPrivateSigningKey,
    /// The person the next sign-in is: (username, groups).
    person: Mutex<(String, Vec<String>)>,
    misbehave: Mutex<Misbehave>,
    grants: Mutex<HashMap<String, Grant>>,
    /// Access token → groups, for UserInfo.
    tokens: Mutex<HashMap<String, Vec<String>>>,
}

fn key(file: &str) -> CoreRsaPrivateSigningKey {
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/oidc")
            .join(file),
    )
    .unwrap();
    CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new("k1".into()))).unwrap()
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn discovery(State(idp): State<Arc<Idp>>) -> Json<Value> {
    let i = &idp.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(idp): State<Arc<Idp>>) -> Json<Value> {
    Json(json!({"keys": [idp.key.as_verification_key()]}))
}

/// Signs the person in at once and sends the browser back with a code.
async fn authorize(
    State(idp): State<Arc<Idp>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "countersign");
    assert_eq!(q["code_challenge_method"], "S256", "PKCE");
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let code = format!("code-{}", fastrand::u64(..));
    idp.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            nonce: q["nonce"].clone(),
            challenge: q["code_challenge"].clone(),
        },
    );
    let back = format!(
        "{}?code={code}&state={}",
        q["redirect_uri"],
        form_urlencoded::byte_serialize(q["state"].as_bytes()).collect::<String>()
    );
    Redirect::to(&back).into_response()
}

async fn token(State(idp): State<Arc<Idp>>, Form(f): Form<HashMap<String, String>>) -> Response {
    let grant = idp.grants.lock().unwrap().remove(&f["code"]);
    let Some(grant) = grant else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    };
    if b64url(&Sha256::digest(f["code_verifier"].as_bytes())) != grant.challenge {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "PKCE"})),
        )
            .into_response();
    }
    let misbehave = *idp.misbehave.lock().unwrap();
    let (name, groups) = idp.person.lock().unwrap().clone();
    let access = format!("at-{}", fastrand::u64(..));
    idp.tokens
        .lock()
        .unwrap()
        .insert(access.clone(), groups.clone());
    let mut extra = Extra::default();
    if misbehave != Misbehave::GroupsOnlyInUserInfo {
        extra.all.insert("groups".into(), json!(groups));
    }
    let nonce = if misbehave == Misbehave::WrongNonce {
        "another".to_string()
    } else {
        grant.nonce
    };
    let now = chrono::Utc::now();
    let claims = IdTokenClaims::<Extra, CoreGenderClaim>::new(
        IssuerUrl::new(idp.issuer.clone()).unwrap(),
        vec![Audience::new("countersign".into())],
        now + chrono::Duration::minutes(5),
        now,
        StandardClaims::new(SubjectIdentifier::new(format!("sub-{name}")))
            .set_preferred_username(Some(EndUserUsername::new(name))),
        extra,
    )
    .set_nonce(Some(openidconnect::Nonce::new(nonce)));
    let signer = if misbehave == Misbehave::UnknownKey {
        &idp.other
    } else {
        &idp.key
    };
    let id_token = IdToken::<
        Extra,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >::new(
        claims,
        signer,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(&AccessToken::new(access.clone())),
        None,
    )
    .unwrap();
    Json(
        json!({"access_token": access, "token_type": "Bearer", "expires_in": 300,
                "id_token": id_token.to_string()}),
    )
    .into_response()
}

async fn userinfo(State(idp): State<Arc<Idp>>, headers: axum::http::HeaderMap) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let groups = idp.tokens.lock().unwrap().get(&bearer).cloned();
    match groups {
        Some(g) => {
            let name = idp.person.lock().unwrap().0.clone();
            Json(json!({"sub": format!("sub-{name}"), "groups": g})).into_response()
        }
        None => axum::http::StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// Start the IdP on a port of its own; its issuer URL.
fn start_idp() -> (Arc<Idp>, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let idp = Arc::new(Idp {
        issuer: issuer.clone(),
        key: key("idp-key.pem"),
        other: key("other-key.pem"),
        person: Mutex::new(("ana".into(), vec!["cc-agents".into()])),
        misbehave: Mutex::new(Misbehave::None),
        grants: Mutex::default(),
        tokens: Mutex::default(),
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo))
        .with_state(idp.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    (idp, issuer)
}

fn config(issuer: &str) -> String {
    format!(
        r#"
[console.oidc]
issuer_url = "{issuer}"
client_id = "countersign"
client_secret = "a-client-secret"
redirect_url = "https://countersign.test/console/oidc/callback"
display_name = "Test IdP"
agent_groups = ["cc-agents"]
analyst_groups = ["fraud-analysts"]
"#
    )
}

/// The console's sign-in page → the IdP → back: the answer of the callback, and the browser
/// (carrying the pending-sign-in cookie, and the session cookie when one was set).
fn sign_in_via_idp(s: &Server, next: &str) -> (Browser, crate::console::Page) {
    let signin = Browser::new(s).get(&format!("/console/signin?next={next}"));
    let start = signin
        .html
        .select(&scraper::Selector::parse("main a").unwrap())
        .find(|a| {
            a.text()
                .collect::<String>()
                .contains("Sign in with Test IdP")
        })
        .and_then(|a| a.value().attr("href"))
        .expect("a button to sign in with the IdP")
        .to_string();
    let (mut b, to_idp) = start_at(s, &start);
    let answer = b.get(&back_from_idp(&to_idp));
    if let Some(c) = &answer.set_cookie {
        if c.starts_with("cs_session=") {
            b.cookie = Some(c.split(';').next().unwrap().to_string());
        }
    }
    (b, answer)
}

/// A fresh browser starts a sign-in at `path`: it holds the pending-sign-in cookie; the IdP's
/// authorization URL it was sent to.
fn start_at(s: &Server, path: &str) -> (Browser, String) {
    let mut b = Browser::new(s);
    let started = b.get(path);
    assert_eq!(started.status, 303, "{}", started.text);
    let pending = started.set_cookie.expect("the pending-sign-in cookie");
    assert!(pending.contains("HttpOnly") && pending.contains("Max-Age=600"));
    b.cookie = Some(pending.split(';').next().unwrap().to_string());
    (b, started.location.unwrap())
}

/// The IdP signs the person in at once: the console path it sends the browser back to.
fn back_from_idp(authorize: &str) -> String {
    let at_idp = ureq::AgentBuilder::new()
        .redirects(0)
        .build()
        .get(authorize)
        .call()
        .unwrap();
    assert_eq!(at_idp.status(), 303);
    at_idp
        .header("location")
        .unwrap()
        .strip_prefix("https://countersign.test")
        .expect("back to the registered redirect URL")
        .to_string()
}

#[test]
fn people_sign_in_with_the_idp_and_get_the_role_their_group_maps_to() {
    let (idp, issuer) = start_idp();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), Some(&config(&issuer)));

    // An agent: back at the page they asked for, with a session; analyst screens refused.
    let (agent, back) = sign_in_via_idp(&s, "%2Fconsole%2Fcalls%2FCA-1");
    assert_eq!(back.status, 303, "{}", back.text);
    assert_eq!(back.location.as_deref(), Some("/console/calls/CA-1"));
    assert!(agent.cookie.as_deref().unwrap().starts_with("cs_session="));
    let home = agent.get("/console");
    assert_eq!(home.status, 200);
    assert!(home.text.contains("ana"), "the person's name is shown");
    assert_eq!(agent.get("/console/sources").status, 403, "agents only");

    // An analyst (and only console paths follow sign-in).
    *idp.person.lock().unwrap() = ("omar".into(), vec!["x".into(), "fraud-analysts".into()]);
    let (analyst, back) = sign_in_via_idp(&s, "https%3A%2F%2Fevil.example");
    assert_eq!(back.location.as_deref(), Some("/console"));
    assert_eq!(analyst.get("/console/sources").status, 200);

    // Groups only in UserInfo are found there.
    *idp.misbehave.lock().unwrap() = Misbehave::GroupsOnlyInUserInfo;
    let (b, back) = sign_in_via_idp(&s, "");
    assert_eq!(back.status, 303, "{}", back.text);
    assert_eq!(
        b.get("/console/sources").status,
        200,
        "analyst from UserInfo"
    );

    // No mapped group: signed in at the IdP, but no console role.
    *idp.misbehave.lock().unwrap() = Misbehave::None;
    *idp.person.lock().unwrap() = ("lee".into(), vec!["cc-agents-trainees".into()]);
    let (b, back) = sign_in_via_idp(&s, "");
    assert_eq!(back.status, 403);
    assert!(back.text.contains("not in a group"), "{}", back.text);
    assert_eq!(b.get("/console").status, 303, "no session");

    // The audit log names who signed in and how; the refusal too.
    let audit = s
        .ok("GET", "/v1/audit-log", ADMIN_KEY, &json!(null))
        .to_string();
    for want in [
        "console:ana",
        "via=oidc sub=sub-ana role=agent",
        "role=analyst",
        "console_signin_refused",
    ] {
        assert!(audit.contains(want), "{want} in {audit}");
    }
}

#[test]
fn forged_or_foreign_answers_do_not_sign_anyone_in() {
    let (idp, issuer) = start_idp();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), Some(&config(&issuer)));

    // The IdP's answer carried to another browser (login CSRF): its state is not that
    // browser's, whatever cookie it holds.
    let (victim, _) = start_at(&s, "/console/oidc/start");
    let (_attacker, to_idp) = start_at(&s, "/console/oidc/start");
    let path = back_from_idp(&to_idp);
    let path = path.as_str();
    let p = victim.get(path);
    assert_eq!(p.status, 400, "{}", p.text);
    assert!(p.set_cookie.is_some_and(|c| c.contains("Max-Age=0")));
    // No cookie at all.
    assert_eq!(Browser::new(&s).get(path).status, 400);

    // A token with another nonce, or signed with a key the IdP does not publish.
    for m in [Misbehave::WrongNonce, Misbehave::UnknownKey] {
        *idp.misbehave.lock().unwrap() = m;
        let (b, back) = sign_in_via_idp(&s, "");
        assert_eq!(back.status, 403, "{}", back.text);
        assert!(back.text.contains("could not be verified"));
        assert_eq!(b.get("/console").status, 303, "no session");
    }

    // The IdP refusing (the person cancelled).
    let (b, to_idp) = start_at(&s, "/console/oidc/start");
    let state = url::Url::parse(&to_idp)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let p = b.get(&format!(
        "/console/oidc/callback?error=access_denied&error_description=%3Cb%3Ecancelled%3C%2Fb%3E&state={state}"
    ));
    assert_eq!(p.status, 403);
    assert!(p.text.contains("access_denied"));
    assert!(!p.text.contains("<b>"), "escaped: {}", p.text);
    assert!(p
        .html
        .root_element()
        .text()
        .any(|t| t.contains("<b>cancelled</b>")));
}

#[test]
fn an_unreachable_idp_is_said_plainly_and_links_still_work() {
    // Nothing listens on the issuer's port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("d"),
        Some(&config(&format!("http://127.0.0.1:{port}"))),
    );
    let p = Browser::new(&s).get("/console/oidc/start");
    assert_eq!(p.status, 502);
    assert!(p.text.contains("could not be reached"), "{}", p.text);
    let b = Browser::sign_in(&s, "dana", "agent");
    assert_eq!(b.get("/console").status, 200);
}
