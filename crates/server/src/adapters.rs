//! Contact-centre adapters: each platform's own request shape in, its own answer shape out, all
//! scoring through the same calls API. Twilio Voice (form-encoded webhook → TwiML that enqueues
//! the call with the score in the task attributes; `X-Twilio-Signature` checked when an auth token
//! is configured), Amazon Connect (contact-flow Lambda event → flat string map), Genesys Cloud
//! (data action: flat JSON in, flat JSON out), Bandwidth Voice (the `initiate` callback → BXML
//! that tags the call with its score and redirects it to the institution's call flow). A
//! platform retrying a request gets the same call's latest score, not an error.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::auth::Scope;
use crate::calls::{load_call, start_call, CallScore};
use crate::http::read_body;
use crate::http::JsonBody;
use crate::problem::{parse_json, Problem};
use crate::{Auth, SharedState};
use countersign_core::call::CallIn;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Adapter settings (`[adapters]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdapterSettings {
    /// Twilio auth token: when set, `X-Twilio-Signature` must verify.
    pub twilio_auth_token: Option<String>,
    /// A file holding `twilio_auth_token` (a mounted secret).
    pub twilio_auth_token_file: Option<std::path::PathBuf>,
    /// The public base URL Twilio calls (e.g. `https://cs.example.com`), for the signature.
    pub twilio_public_url: Option<String>,
    /// TaskRouter workflow the call is enqueued to.
    pub twilio_workflow_sid: Option<String>,
    /// How many reasons to pass to the platform.
    pub reasons_max: Option<usize>,
    /// Where a Bandwidth call goes once scored: the institution's own BXML call flow, which
    /// reads the score from the call's `tag`. Required by `/v1/adapters/bandwidth`.
    pub bandwidth_redirect_url: Option<String>,
}

/// Score a platform's call, or return the latest score when the platform retries.
async fn score_platform_call(st: &SharedState, c: CallIn) -> Result<CallScore, Problem> {
    let id = c.call_id.clone().unwrap_or_default();
    match start_call(st, c).await {
        Err(p) if p.code == "call_exists" => {
            let last = load_call(st, &id).await?.scores.pop().ok_or(p)?;
            Ok(CallScore {
                call_id: id,
                score: last.score,
            })
        }
        other => other,
    }
}

/// A platform's JSON event (Connect, Bandwidth): at most 256 KiB, within the body timeout.
async fn read_event(st: &SharedState, headers: &HeaderMap, body: Body) -> Result<Value, Problem> {
    let bytes = read_body(headers, body, 256 * 1024, st.limits.body_timeout()).await?;
    parse_json(&bytes)
}

/// The flat string map Connect and Genesys flows read.
fn flat(cs: &CallScore, reasons_max: usize) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("call_id".into(), cs.call_id.clone());
    m.insert("score".into(), format!("{:.0}", cs.score.score.round()));
    m.insert("band".into(), cs.score.band.as_str().into());
    m.insert("action".into(), cs.score.action.as_str().into());
    m.insert("guidance".into(), cs.score.guidance.clone());
    m.insert("policy_version".into(), cs.score.policy_version.clone());
    for (i, r) in cs.score.reasons.iter().take(reasons_max).enumerate() {
        m.insert(format!("reason_{}", i + 1), r.detail.clone());
    }
    m
}

// ------------------------------------------------------------------------------------ Twilio

type HmacSha1 = Hmac<sha1::Sha1>;

/// Twilio's request signature: Base64(HMAC-SHA1(auth token, URL + every POST parameter's name
/// and value, sorted by name)).
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[utoipa::path(post, path = "/v1/adapters/twilio/voice", tag = "adapters",
    request_body(description = "Twilio's voice webhook, form-encoded (`CallSid`, `From`, `To`, `StirVerstat`, `CallerName`, …; optional `customer_id`, `intent`).", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "TwiML enqueuing the call with the score in the task attributes", content_type = "application/xml"),
        (status = 403, description = "`invalid_signature`", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn twilio_voice(
    State(st): State<SharedState>,
    auth: Auth,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    auth.require(Scope::Agent)?;
    let bytes = read_body(&headers, body, 64 * 1024, st.limits.body_timeout()).await?;
    let (call, params) = countersign_core::platform::twilio_call(&bytes);
    let a = &st.adapters;
    if let Some(token) = &a.twilio_auth_token {
        let base = a
            .twilio_public_url
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/');
        let url = format!("{base}{uri}");
        let want = twilio_signature(token, &url, &params);
        let got = headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !bool::from(want.as_bytes().ct_eq(got.as_bytes())) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "invalid_signature",
                "X-Twilio-Signature does not verify for this URL and body",
            ));
        }
    }
    let cs = score_platform_call(&st, call).await?;
    let reasons: Vec<String> = cs
        .score
        .reasons
        .iter()
        .take(a.reasons_max.unwrap_or(3))
        .map(|r| r.detail.clone())
        .collect();
    let attrs = serde_json::json!({
        "countersign_call_id": cs.call_id, "risk_score": cs.score.score, "risk_band": cs.score.band.as_str(),
        "risk_action": cs.score.action.as_str(), "risk_guidance": cs.score.guidance, "risk_reasons": reasons, "policy_version": cs.score.policy_version,
    });
    let workflow = a
        .twilio_workflow_sid
        .as_deref()
        .map(|w| format!(" workflowSid=\"{}\"", xml_escape(w)))
        .unwrap_or_default();
    let twiml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>\n  <Enqueue{workflow}>\n    <Task>{}</Task>\n  </Enqueue>\n</Response>\n",
        xml_escape(&attrs.to_string())
    );
    Ok(([(header::CONTENT_TYPE, "application/xml")], twiml).into_response())
}

// ------------------------------------------------------------------------------------ Connect

#[utoipa::path(post, path = "/v1/adapters/connect", tag = "adapters",
    request_body(content = Object, content_type = "application/json", description = "An Amazon Connect contact-flow Lambda event (`Details.ContactData.ContactId`, `CustomerEndpoint.Address`, `SystemEndpoint.Address`, `Attributes`, `Parameters`)."),
    responses((status = 200, description = "A flat string map for the contact flow (`score`, `band`, `action`, `reason_1`…)")),
    security(("api_key" = [])))]
pub async fn connect(
    State(st): State<SharedState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BTreeMap<String, String>>, Problem> {
    auth.require(Scope::Agent)?;
    let ev = read_event(&st, &headers, body).await?;
    let call = countersign_core::platform::connect_call(&ev).map_err(Problem::invalid)?;
    let cs = score_platform_call(&st, call).await?;
    Ok(Json(flat(&cs, st.adapters.reasons_max.unwrap_or(3))))
}

// ------------------------------------------------------------------------------------ Genesys

/// A Genesys Cloud data action's input (flat JSON).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenesysIn {
    pub conversation_id: String,
    pub ani: String,
    #[serde(default)]
    pub dnis: Option<String>,
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub verstat: Option<String>,
    /// The INVITE's raw SIP headers (BYOC trunks, through the data action): its `Identity`
    /// headers are verified when `[stir]` is configured.
    #[serde(default)]
    pub sip_headers: Option<String>,
}

#[utoipa::path(post, path = "/v1/adapters/genesys", tag = "adapters",
    request_body = GenesysIn,
    responses((status = 200, description = "Flat JSON for the data action's output contract (`score`, `band`, `action`, `reason1`…)")),
    security(("api_key" = [])))]
pub async fn genesys(
    State(st): State<SharedState>,
    auth: Auth,
    JsonBody(g): JsonBody<GenesysIn>,
) -> Result<Json<Map<String, Value>>, Problem> {
    auth.require(Scope::Agent)?;
    let cs = score_platform_call(
        &st,
        CallIn {
            call_id: Some(g.conversation_id),
            customer_id: g.customer_id,
            ani: Some(g.ani),
            dnis: g.dnis,
            verstat: g.verstat,
            intent: g.intent,
            identity: g
                .sip_headers
                .as_deref()
                .map(countersign_core::stir::identity_headers)
                .unwrap_or_default(),
            ..Default::default()
        },
    )
    .await?;
    let mut out = Map::new();
    out.insert("callId".into(), Value::String(cs.call_id.clone()));
    out.insert("score".into(), Value::from(cs.score.score.round() as i64));
    out.insert("band".into(), Value::String(cs.score.band.as_str().into()));
    out.insert(
        "action".into(),
        Value::String(cs.score.action.as_str().into()),
    );
    out.insert("guidance".into(), Value::String(cs.score.guidance.clone()));
    out.insert(
        "policyVersion".into(),
        Value::String(cs.score.policy_version.clone()),
    );
    for (i, r) in cs
        .score
        .reasons
        .iter()
        .take(st.adapters.reasons_max.unwrap_or(3))
        .enumerate()
    {
        out.insert(format!("reason{}", i + 1), Value::String(r.detail.clone()));
    }
    Ok(Json(out))
}

// ---------------------------------------------------------------------------------- Bandwidth

/// Longest `<Tag>` Bandwidth keeps on a call.
const BANDWIDTH_TAG_MAX: usize = 256;

#[utoipa::path(post, path = "/v1/adapters/bandwidth", tag = "adapters",
    request_body(content = Object, content_type = "application/json", description = "A Bandwidth Voice callback (`eventType` `initiate`: `callId`, `from`, `to`, `startTime`, `stirShaken.{verstat, attestationIndicator, originatingId, identity}`; optional `customer_id`, `intent`)."),
    responses((status = 200, description = "BXML: `<Tag>` with the score (`{\"call_id\",\"score\",\"band\",\"action\"}`, at most 256 characters), then `<Redirect>` to `[adapters] bandwidth_redirect_url`", content_type = "application/xml"),
        (status = 409, description = "`bandwidth_not_configured`: no `bandwidth_redirect_url`", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn bandwidth(
    State(st): State<SharedState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    auth.require(Scope::Agent)?;
    // Checked first: without a call flow to go on to, the BXML would end the call.
    let Some(redirect) = st.adapters.bandwidth_redirect_url.clone() else {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "bandwidth_not_configured",
            "set [adapters] bandwidth_redirect_url: the call flow a scored Bandwidth call goes on to",
        ));
    };
    let ev = read_event(&st, &headers, body).await?;
    let call = countersign_core::platform::bandwidth_call(&ev).map_err(Problem::invalid)?;
    let cs = score_platform_call(&st, call).await?;
    let tag = bandwidth_tag(&cs);
    let bxml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>\n  <Tag>{}</Tag>\n  <Redirect redirectUrl=\"{}\"/>\n</Response>\n",
        xml_escape(&tag),
        xml_escape(&redirect)
    );
    Ok(([(header::CONTENT_TYPE, "application/xml")], bxml).into_response())
}

/// The score as the call's tag: the call flow reads it from every later callback. Reasons do
/// not fit in 256 characters; the flow reads them from `GET /v1/calls/{call_id}`.
fn bandwidth_tag(cs: &CallScore) -> String {
    let mut tag = serde_json::json!({"score": cs.score.score.round() as i64,
        "band": cs.score.band.as_str(), "action": cs.score.action.as_str(), "call_id": cs.call_id});
    if tag.to_string().len() > BANDWIDTH_TAG_MAX {
        // A very long call id: the score, band and action matter more (the id is Bandwidth's own).
        if let Some(m) = tag.as_object_mut() {
            m.remove("call_id");
        }
    }
    tag.to_string()
}

/// This resource's routes, each registered with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(twilio_voice))
        .routes(routes!(connect))
        .routes(routes!(genesys))
        .routes(routes!(bandwidth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_signature_matches_an_independent_computation() {
        // The inputs of Twilio's request-validation example (auth token 12345, this URL, these
        // parameters); the expected value was computed independently with Python's hmac and
        // base64 modules following Twilio's published algorithm, not with this code.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(
            twilio_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }

    /// The tag keeps the call id while it fits Bandwidth's 256 characters, and drops it (never
    /// the score, band or action) when it would not.
    #[test]
    fn bandwidth_tag_fits_in_256_characters() {
        let cs = |id: &str| CallScore {
            call_id: id.into(),
            score: countersign_core::score::Score {
                score: 71.6,
                band: countersign_core::score::Band::High,
                action: countersign_core::guidance::Action::Callback,
                guidance: "…".into(),
                reasons: Vec::new(),
                floor: None,
                policy_version: "p".into(),
                alerts: Vec::new(),
            },
        };
        let short: Value = serde_json::from_str(&bandwidth_tag(&cs("c-1"))).unwrap();
        assert_eq!(short["call_id"], "c-1");
        assert_eq!(short["score"], 72);
        let tag = bandwidth_tag(&cs(&"c".repeat(250)));
        assert!(tag.len() <= BANDWIDTH_TAG_MAX, "{tag}");
        let long: Value = serde_json::from_str(&tag).unwrap();
        assert!(long.get("call_id").is_none());
        assert_eq!(
            (long["band"].as_str(), long["action"].as_str()),
            (Some("high"), Some("callback"))
        );
    }
}
