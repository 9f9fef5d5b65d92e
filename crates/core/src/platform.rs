//! Contact-centre platforms' call events read into a [`CallIn`]: Twilio's form-encoded voice
//! webhook, Amazon Connect's contact-flow Lambda event and Bandwidth's voice callback. Pure: bytes in, a call (and, for
//! Twilio, the form parameters its signature covers) out; each platform's quirks stay here.

use serde_json::Value;

use crate::call::CallIn;
use crate::validate::Rejection;

/// Twilio's voice webhook form: the call, and every parameter in order (for
/// `X-Twilio-Signature`). Unknown parameters are ignored, as Twilio adds them over time.
pub fn twilio_call(form: &[u8]) -> (CallIn, Vec<(String, String)>) {
    let params: Vec<(String, String)> = form_urlencoded::parse(form).into_owned().collect();
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let call = CallIn {
        call_id: get("CallSid"),
        customer_id: get("customer_id"),
        ani: get("From"),
        dnis: get("To"),
        verstat: get("StirVerstat"),
        intent: get("intent"),
        // Twilio's PASSporT, when the call came over SIP with one.
        identity: get("StirPassportToken").into_iter().collect(),
        ..Default::default()
    };
    (call, params)
}

/// An Amazon Connect contact-flow event: `Details.ContactData` (`ContactId`,
/// `CustomerEndpoint.Address`, `SystemEndpoint.Address`, `Attributes`) and `Details.Parameters`
/// (which win over attributes of the same name).
pub fn connect_call(event: &Value) -> Result<CallIn, Rejection> {
    let cd = &event["Details"]["ContactData"];
    let params = &event["Details"]["Parameters"];
    let attrs = &cd["Attributes"];
    let pick = |k: &str| {
        params[k]
            .as_str()
            .or_else(|| attrs[k].as_str())
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    let Some(contact) = cd["ContactId"].as_str() else {
        return Err(Rejection::new(
            "invalid_request",
            "not a Connect event: Details.ContactData.ContactId is missing",
        ));
    };
    Ok(CallIn {
        call_id: Some(contact.to_string()),
        customer_id: pick("customer_id"),
        ani: cd["CustomerEndpoint"]["Address"]
            .as_str()
            .map(str::to_string),
        dnis: cd["SystemEndpoint"]["Address"].as_str().map(str::to_string),
        verstat: pick("verstat"),
        attestation: pick("attestation"),
        intent: pick("intent"),
        ..Default::default()
    })
}

/// A Bandwidth Voice callback (`initiate` for an inbound call): `callId`, `from`, `to`, and
/// `stirShaken.{verstat, attestationIndicator, originatingId, identity}` — Bandwidth's own
/// verification beside the PASSporT it received, which Countersign verifies itself when
/// `[stir]` is set. `customer_id` and `intent`, which Bandwidth does not know, may be added by
/// whatever relays the callback.
pub fn bandwidth_call(event: &Value) -> Result<CallIn, Rejection> {
    let text = |v: &Value| v.as_str().map(str::to_string).filter(|s| !s.is_empty());
    let Some(call_id) = text(&event["callId"]) else {
        return Err(Rejection::new(
            "invalid_request",
            "not a Bandwidth voice callback: callId is missing or not a string",
        ));
    };
    let stir = &event["stirShaken"];
    Ok(CallIn {
        call_id: Some(call_id),
        customer_id: text(&event["customer_id"]),
        ani: text(&event["from"]),
        dnis: text(&event["to"]),
        started_at: text(&event["startTime"]),
        verstat: text(&stir["verstat"]),
        attestation: text(&stir["attestationIndicator"]),
        intent: text(&event["intent"]),
        identity: text(&stir["identity"]).into_iter().collect(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_form_and_connect_event() {
        let (c, params) =
            twilio_call(b"CallSid=CA1&From=%2B14155550123&To=%2B18005550100&StirVerstat=TN-Validation-Passed-A&customer_id=&x=%ZZ");
        assert_eq!(c.call_id.as_deref(), Some("CA1"));
        assert_eq!(c.ani.as_deref(), Some("+14155550123"));
        assert_eq!(c.customer_id, None, "an empty parameter is absent");
        assert_eq!(params.len(), 6, "every parameter is kept for the signature");
        let ev: Value = serde_json::json!({"Details": {"ContactData": {"ContactId": "c-1",
            "CustomerEndpoint": {"Address": "+14155550123"}, "Attributes": {"intent": "wire", "customer_id": "a"}},
            "Parameters": {"customer_id": "maria"}}});
        let c = connect_call(&ev).unwrap();
        assert_eq!(
            (c.customer_id.as_deref(), c.intent.as_deref()),
            (Some("maria"), Some("wire"))
        );
        assert_eq!(
            connect_call(&serde_json::json!([1])).unwrap_err().code,
            "invalid_request"
        );
    }

    #[test]
    fn bandwidth_callback() {
        let ev = serde_json::json!({"eventType": "initiate", "callId": "c-15ac29a2",
            "from": "+14155550123", "to": "+18005550100", "startTime": "2026-12-03T10:00:00Z",
            "direction": "inbound", "accountId": "9900000",
            "stirShaken": {"verstat": "TN-Verification-Passed", "attestationIndicator": "A",
                "originatingId": "abc123", "identity": "eyJ.eyJ.sig;info=<https://x/y.pem>"}});
        let c = bandwidth_call(&ev).unwrap();
        assert_eq!(c.call_id.as_deref(), Some("c-15ac29a2"));
        assert_eq!(c.ani.as_deref(), Some("+14155550123"));
        assert_eq!(c.dnis.as_deref(), Some("+18005550100"));
        assert_eq!(c.started_at.as_deref(), Some("2026-12-03T10:00:00Z"));
        assert_eq!(c.attestation.as_deref(), Some("A"));
        assert_eq!(c.identity, vec!["eyJ.eyJ.sig;info=<https://x/y.pem>"]);
        assert_eq!(
            crate::score::parse_attestation(c.verstat.as_deref(), c.attestation.as_deref()),
            crate::score::Attestation::A
        );
        // Without a PASSporT or Bandwidth's verification: nothing made up.
        let c =
            bandwidth_call(&serde_json::json!({"callId": "c-2", "from": "+14155550123"})).unwrap();
        assert!(c.identity.is_empty() && c.verstat.is_none() && c.attestation.is_none());
        let e = bandwidth_call(&serde_json::json!({"from": "+14155550123"})).unwrap_err();
        assert_eq!(e.code, "invalid_request");
    }
}
