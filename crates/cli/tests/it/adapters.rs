//! Contact-centre adapters round-trip with each platform's documented request shape: Twilio's
//! form-encoded voice webhook (signed), an Amazon Connect contact-flow Lambda event, a Genesys
//! Cloud data action, and a Bandwidth callback refused while no call flow is configured (the
//! scored round trip, with a PASSporT, is in `stir.rs`).

use crate::common::*;
use serde_json::json;

#[test]
fn twilio_connect_and_genesys_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = "[adapters]\ntwilio_auth_token = \"12345\"\ntwilio_public_url = \"https://cs.example.com\"\ntwilio_workflow_sid = \"WW0123456789abcdef0123456789abcdef\"\n";
    let s = Server::spawn(&dir.path().join("d"), Some(cfg));
    s.send(
        "PUT",
        "/v1/customers/maria",
        INGEST_KEY,
        Some(&json!({"phones": ["+14155550100"]})),
    );

    // Twilio: a voice webhook, form-encoded, signed with the auth token over the public URL.
    let params: Vec<(String, String)> = [
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("CallSid", "CA1234567890abcdef1234567890abcdef"),
        ("From", "+16285550142"),
        ("To", "+18005550199"),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("StirVerstat", "TN-Validation-Passed-C"),
        ("CallerName", "WIRELESS CALLER"),
        ("customer_id", "maria"),
        ("intent", "wire"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let (body, sig) = crate::common::twilio_form(&params);
    let post = |sig: &str| -> (u16, String, String) {
        let r = ureq::post(&s.url("/v1/adapters/twilio/voice"))
            .set("authorization", &format!("Bearer {AGENT_KEY}"))
            .set("content-type", "application/x-www-form-urlencoded")
            .set("x-twilio-signature", sig)
            .send_string(&body);
        let r = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let ct = r.header("content-type").unwrap_or("").to_string();
        (r.status(), ct, r.into_string().unwrap())
    };
    let (st, ct, twiml) = post(&sig);
    assert_eq!((st, ct.as_str()), (200, "application/xml"));
    assert!(
        twiml.contains("<Enqueue workflowSid=\"WW0123456789abcdef0123456789abcdef\">"),
        "{twiml}"
    );
    assert!(
        twiml.contains("&quot;risk_band&quot;:&quot;medium&quot;"),
        "{twiml}"
    );
    assert!(twiml.contains("risk_action&quot;:&quot;step_up"), "{twiml}");
    // A retry of the same webhook answers the same call, not an error.
    assert!(post(&sig).2.contains("CA1234567890abcdef1234567890abcdef"));
    let (st, _, body403) = post("bogus");
    assert_eq!(st, 403);
    assert!(body403.contains("invalid_signature"));

    // Amazon Connect: the contact-flow Lambda event, answered with a flat string map.
    let event = json!({
        "Details": {
            "ContactData": {
                "Attributes": {"customer_id": "maria"},
                "Channel": "VOICE",
                "ContactId": "4a573372-1f28-4e26-b97b-XXXXXXXXXXX",
                "CustomerEndpoint": {"Address": "+14155550100", "Type": "TELEPHONE_NUMBER"},
                "InitialContactId": "4a573372-1f28-4e26-b97b-XXXXXXXXXXX",
                "InitiationMethod": "INBOUND",
                "InstanceARN": "arn:aws:connect:us-east-1:123456789012:instance/abc",
                "SystemEndpoint": {"Address": "+18005550199", "Type": "TELEPHONE_NUMBER"}
            },
            "Parameters": {"intent": "balance", "attestation": "A"}
        },
        "Name": "ContactFlowEvent"
    });
    let (st, m) = s.send("POST", "/v1/adapters/connect", AGENT_KEY, Some(&event));
    assert_eq!(st, 200, "{m}");
    assert_eq!(
        (m["band"].as_str(), m["action"].as_str()),
        (Some("low"), Some("proceed")),
        "{m}"
    );
    assert!(
        m.as_object().unwrap().values().all(|v| v.is_string()),
        "Connect needs a flat string map: {m}"
    );
    let (st, p) = s.send(
        "POST",
        "/v1/adapters/connect",
        AGENT_KEY,
        Some(&json!({"Name": "x"})),
    );
    assert_eq!((st, p["code"].as_str()), (422, Some("invalid_request")));

    // Genesys Cloud: a data action, flat JSON in and out.
    let (st, g) = s.send("POST", "/v1/adapters/genesys", AGENT_KEY, Some(&json!({
        "conversationId": "6f1c2d3e-0000-4000-8000-000000000001", "ani": "tel:+16285550142",
        "dnis": "+18005550199", "customerId": "maria", "intent": "change_phone", "verstat": "No-TN-Validation"})));
    assert_eq!(st, 200, "{g}");
    assert_eq!(g["callId"], "6f1c2d3e-0000-4000-8000-000000000001");
    assert!(
        g["score"].is_i64() && g["band"].is_string() && g["reason1"].is_string(),
        "{g}"
    );
    let (_, call) = s.send(
        "GET",
        "/v1/calls/6f1c2d3e-0000-4000-8000-000000000001",
        AGENT_KEY,
        None,
    );
    assert_eq!(call["intent"], "change_phone");

    // Bandwidth without `bandwidth_redirect_url`: refused before anything is scored, since the
    // BXML would end the call.
    let (st, p) = s.send(
        "POST",
        "/v1/adapters/bandwidth",
        AGENT_KEY,
        Some(&json!({"eventType": "initiate", "callId": "c-1", "from": "+16285550142"})),
    );
    assert_eq!(
        (st, p["code"].as_str()),
        (409, Some("bandwidth_not_configured"))
    );
    let (st, _) = s.send("GET", "/v1/calls/c-1", AGENT_KEY, None);
    assert_eq!(st, 404);
}
