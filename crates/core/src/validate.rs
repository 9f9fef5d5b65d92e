//! Validation of producer input: a raw wire record becomes a [`Notification`] or a specific,
//! stable rejection (`code` + human `detail`). Also body retention (full text or facts plus a
//! keyed hash). Pure: the current time is a parameter.

use chrono::DateTime;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use utoipa::ToSchema;

use crate::extract::{extract_from_body, facts_from_object, normalize_phone, ExtractConfig};
use crate::model::{Channel, DeliveryStatus, Millis, Notification, StatusUpdate, BODY_MAC_LEN};
use crate::text::normalize_text;

/// A notification as a producer sends it (the public wire shape).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationIn {
    /// The producing system (e.g. `card-alerts`). With `id`, the idempotency key.
    pub source: Option<String>,
    /// The producer's id for this notification, unique within `source`.
    pub id: Option<String>,
    pub customer_id: Option<String>,
    /// `sms`, `push`, `email`, `voice` or `in_app`.
    pub channel: Option<String>,
    /// Sender ID, short code, number or address the customer saw it from.
    pub sender: Option<String>,
    /// Phone number, address or device the notification went to.
    pub recipient: Option<String>,
    /// RFC 3339 time the notification was sent.
    pub sent_at: Option<String>,
    pub category: Option<String>,
    pub template_id: Option<String>,
    /// Template variables (amount, merchant, card_last4, callback_number, url, code, …).
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Map<String, Value>>,
    /// Facts already extracted by the producer; same keys as `variables`.
    #[schema(value_type = Option<Object>)]
    pub facts: Option<Map<String, Value>>,
    /// Full text. Stored only when body retention is `full`.
    pub body: Option<String>,
    /// Delivery status: queued, sent, delivered, read, failed, ended (a voice call that is over) (default `sent`).
    pub status: Option<String>,
}

/// Whether message bodies are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BodyRetention {
    /// Keep the full text (and the facts and keyed hash).
    #[default]
    Full,
    /// Never write the body: only the extracted facts and a keyed hash.
    FactsOnly,
}

/// Bounds on every producer-supplied field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FieldLimits {
    pub id_chars_max: usize,
    pub sender_chars_max: usize,
    pub recipient_chars_max: usize,
    pub category_chars_max: usize,
    pub body_chars_max: usize,
    pub variables_max: usize,
    pub variable_chars_max: usize,
}

impl Default for FieldLimits {
    fn default() -> Self {
        FieldLimits {
            id_chars_max: 128,
            sender_chars_max: 64,
            recipient_chars_max: 320,
            category_chars_max: 64,
            // Longer than any SMS/push; emails are summarised by the producer.
            body_chars_max: 4096,
            variables_max: 32,
            variable_chars_max: 256,
        }
    }
}

/// Everything validation needs besides the record.
#[derive(Clone)]
pub struct ValidationConfig {
    pub limits: FieldLimits,
    pub retention: BodyRetention,
    /// How far in the future `sent_at` may be (producer clock skew), ms.
    pub future_skew_ms: Millis,
    pub extract: ExtractConfig,
    /// Key for the body hash (HMAC-SHA256, truncated to 128 bits).
    pub body_hmac_key: Vec<u8>,
}

/// A record-level rejection: stable `code`, specific `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Rejection {
    pub code: &'static str,
    pub detail: String,
}

impl Rejection {
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Rejection {
            code,
            detail: detail.into(),
        }
    }
}

/// Parse an RFC 3339 time to milliseconds.
pub fn parse_time(field: &str, s: &str) -> Result<Millis, Rejection> {
    let t = DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            Rejection::new(
                "invalid_time",
                format!(
                    "`{field}` must be an RFC 3339 time like 2026-06-03T14:05:00Z ({e}): {s:?}"
                ),
            )
        })?;
    // Year 0000 parses; no notification, call or report is from before the epoch.
    if t < 0 {
        return Err(Rejection::new(
            "invalid_time",
            format!("`{field}` is before 1970: {s:?}"),
        ));
    }
    Ok(t)
}

/// Format milliseconds as RFC 3339 UTC.
pub fn format_time(ms: Millis) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// A required text field, trimmed: `missing_field` when absent or blank, `field_too_long` over
/// `max` characters.
pub fn required<'a>(field: &str, v: &'a Option<String>, max: usize) -> Result<&'a str, Rejection> {
    let s = v
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Rejection::new("missing_field", format!("`{field}` is required")))?;
    check_len(field, s, max)?;
    Ok(s)
}

/// An optional text field, trimmed (blank is absent): `field_too_long` over `max` characters.
pub fn optional(field: &str, v: &Option<String>, max: usize) -> Result<Option<String>, Rejection> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            check_len(field, s, max)?;
            Ok(Some(s.to_string()))
        }
    }
}

fn check_len(field: &str, s: &str, max: usize) -> Result<(), Rejection> {
    let n = s.chars().count();
    if n > max {
        return Err(Rejection::new(
            "field_too_long",
            format!("`{field}` is {n} characters; the limit is {max}"),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(Rejection::new(
            "invalid_characters",
            format!("`{field}` contains control characters"),
        ));
    }
    Ok(())
}

/// Normalise a sender as a customer would compare it: numbers to E.164, IDs to upper case
/// without spaces.
pub fn normalize_sender(raw: &str, cfg: &ExtractConfig) -> String {
    let t = raw.trim();
    let digits = t.chars().filter(|c| c.is_ascii_digit()).count();
    let phone_like = t
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if phone_like && digits >= 7 {
        if let Some(n) = normalize_phone(t, cfg) {
            return n;
        }
    }
    if phone_like && digits > 0 {
        // Short code: digits only.
        return t.chars().filter(|c| c.is_ascii_digit()).collect();
    }
    t.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
}

/// Keyed hash of a body after text normalisation, so an exact quote matches in facts-only mode.
pub fn body_mac(key: &[u8], body: &str) -> [u8; BODY_MAC_LEN] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(normalize_text(body).as_bytes());
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; BODY_MAC_LEN];
    out.copy_from_slice(&full[..BODY_MAC_LEN]);
    out
}

fn check_object(
    field: &str,
    obj: &Map<String, Value>,
    limits: &FieldLimits,
) -> Result<(), Rejection> {
    if obj.len() > limits.variables_max {
        return Err(Rejection::new(
            "too_many_variables",
            format!(
                "`{field}` has {} keys; the limit is {}",
                obj.len(),
                limits.variables_max
            ),
        ));
    }
    for (k, v) in obj {
        if let Value::String(s) = v {
            check_len(&format!("{field}.{k}"), s, limits.variable_chars_max)?;
        }
    }
    Ok(())
}

/// Validate one producer record at time `now`.
pub fn validate_notification(
    raw: &NotificationIn,
    cfg: &ValidationConfig,
    now: Millis,
) -> Result<Notification, Rejection> {
    let l = &cfg.limits;
    let source = required("source", &raw.source, l.id_chars_max)?;
    let id = required("id", &raw.id, l.id_chars_max)?;
    let customer_id = required("customer_id", &raw.customer_id, l.id_chars_max)?;
    let channel_raw = required("channel", &raw.channel, 16)?;
    let channel: Channel = channel_raw.parse().map_err(|_| {
        Rejection::new(
            "invalid_channel",
            format!(
                "`channel` must be one of sms, push, email, voice, in_app; got {channel_raw:?}"
            ),
        )
    })?;
    let sent_at = parse_time("sent_at", required("sent_at", &raw.sent_at, 64)?)?;
    if sent_at > now + cfg.future_skew_ms {
        return Err(Rejection::new(
            "sent_at_in_future",
            format!(
                "`sent_at` {} is more than {} s ahead of the ledger clock ({}); check the producer's clock",
                format_time(sent_at),
                cfg.future_skew_ms / 1000,
                format_time(now)
            ),
        ));
    }
    let sender = optional("sender", &raw.sender, l.sender_chars_max)?
        .map(|s| normalize_sender(&s, &cfg.extract));
    let recipient = optional("recipient", &raw.recipient, l.recipient_chars_max)?.map(|r| {
        if r.contains('@') {
            r.to_lowercase()
        } else {
            normalize_phone(&r, &cfg.extract).unwrap_or(r)
        }
    });
    let category = optional("category", &raw.category, l.category_chars_max)?;
    let template_id = optional("template_id", &raw.template_id, l.id_chars_max)?;
    let body = optional("body", &raw.body, l.body_chars_max)?;
    let status = match raw
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => DeliveryStatus::Sent,
        Some(s) => s.parse().map_err(|_| {
            Rejection::new(
                "invalid_status",
                format!(
                    "`status` must be queued, sent, delivered, read, failed or ended; got {s:?}"
                ),
            )
        })?,
    };

    let mut facts = crate::model::Facts::default();
    for (field, obj) in [("facts", &raw.facts), ("variables", &raw.variables)] {
        if let Some(obj) = obj {
            check_object(field, obj, l)?;
            let f = facts_from_object(obj, &cfg.extract)
                .map_err(|e| Rejection::new("invalid_variable", e.0))?;
            let extra = f.extra.clone();
            facts.fill_from(f);
            facts.extra.extend(extra);
        }
    }
    if let Some(b) = &body {
        facts.fill_from(extract_from_body(b, &cfg.extract));
    }
    let body_mac = body.as_deref().map(|b| body_mac(&cfg.body_hmac_key, b));
    let body = match cfg.retention {
        BodyRetention::Full => body,
        BodyRetention::FactsOnly => None,
    };

    Ok(Notification {
        source: source.to_string(),
        id: id.to_string(),
        customer_id: customer_id.to_string(),
        channel,
        sender,
        recipient,
        sent_at,
        category,
        template_id,
        facts,
        body,
        body_mac,
        status,
    })
}

/// A delivery-status update as a producer sends it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusUpdateIn {
    pub source: Option<String>,
    pub id: Option<String>,
    pub status: Option<String>,
    /// RFC 3339; defaults to the time the ledger received the update.
    pub at: Option<String>,
}

pub fn validate_status(
    raw: &StatusUpdateIn,
    limits: &FieldLimits,
    now: Millis,
) -> Result<StatusUpdate, Rejection> {
    let source = required("source", &raw.source, limits.id_chars_max)?;
    let id = required("id", &raw.id, limits.id_chars_max)?;
    let status_raw = required("status", &raw.status, 32)?;
    let status = status_raw.parse().map_err(|_| {
        Rejection::new(
            "invalid_status",
            format!("`status` must be queued, sent, delivered, read, failed or ended; got {status_raw:?}"),
        )
    })?;
    let at = match raw.at.as_deref() {
        Some(s) => parse_time("at", s)?,
        None => now,
    };
    Ok(StatusUpdate {
        source: source.to_string(),
        id: id.to_string(),
        status,
        at,
    })
}

/// A source's declaration: everything it sent up to `watermark` has been delivered to the ledger.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WatermarkIn {
    /// RFC 3339. Watermarks never move back; an older one is ignored.
    pub watermark: String,
    /// RFC 3339: the record is complete from this time on (e.g. when a backfill began).
    /// Without it, completeness starts at the source's first acknowledged record.
    #[serde(default)]
    pub complete_since: Option<String>,
}

/// A validated watermark declaration: `(source, watermark, complete since)`. A watermark may
/// not be ahead of `now` by more than the clock skew (it may only cover what was sent), and the
/// record cannot be complete from after its own watermark.
pub fn validate_watermark(
    source: &str,
    w: &WatermarkIn,
    now: Millis,
    cfg: &ValidationConfig,
) -> Result<(String, Millis, Option<Millis>), Rejection> {
    let source = source.trim();
    if source.is_empty() || source.chars().count() > cfg.limits.id_chars_max {
        return Err(Rejection::new(
            "invalid_source",
            "the source name is empty or too long",
        ));
    }
    let watermark = parse_time("watermark", &w.watermark)?;
    if watermark > now + cfg.future_skew_ms {
        return Err(Rejection::new(
            "watermark_in_future",
            format!(
                "the watermark {} is ahead of the ledger clock ({}); a watermark may only cover what was already sent",
                format_time(watermark),
                format_time(now)
            ),
        ));
    }
    let complete_since = w
        .complete_since
        .as_deref()
        .map(|s| parse_time("complete_since", s))
        .transpose()?;
    if complete_since.is_some_and(|c| c > watermark) {
        return Err(Rejection::new(
            "invalid_request",
            "`complete_since` must not be after `watermark`",
        ));
    }
    Ok((source.to_string(), watermark, complete_since))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(retention: BodyRetention) -> ValidationConfig {
        ValidationConfig {
            limits: FieldLimits::default(),
            retention,
            future_skew_ms: 300_000,
            extract: ExtractConfig::default(),
            body_hmac_key: b"k".to_vec(),
        }
    }

    fn rec() -> NotificationIn {
        NotificationIn {
            source: Some("card-alerts".into()),
            id: Some("n-1".into()),
            customer_id: Some("c-1".into()),
            channel: Some("sms".into()),
            sender: Some("acme bank".into()),
            sent_at: Some("2026-06-03T14:05:00Z".into()),
            body: Some(
                "ACME: Did you authorise $479.99 at BESTBUY #1123 on card ending 1123? Reply Y/N"
                    .into(),
            ),
            ..Default::default()
        }
    }

    const NOW: Millis = 1_780_500_000_000; // 2026-06-03T15:20:00Z

    #[test]
    fn times_before_the_epoch_are_refused() {
        assert!(parse_time("t", "2026-06-03T14:05:00Z").is_ok());
        for bad in ["0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "yesterday"] {
            assert_eq!(
                parse_time("t", bad).unwrap_err().code,
                "invalid_time",
                "{bad}"
            );
        }
    }

    #[test]
    fn rejections_table() {
        let c = cfg(BodyRetention::Full);
        type Mutate = Box<dyn Fn(&mut NotificationIn)>;
        let cases: Vec<(Mutate, &str)> = vec![
            (Box::new(|r| r.source = None), "missing_field"),
            (
                Box::new(|r| r.customer_id = Some("  ".into())),
                "missing_field",
            ),
            (
                Box::new(|r| r.channel = Some("pigeon".into())),
                "invalid_channel",
            ),
            (
                Box::new(|r| r.sent_at = Some("yesterday".into())),
                "invalid_time",
            ),
            (
                Box::new(|r| r.sent_at = Some("2026-06-03T15:30:00Z".into())),
                "sent_at_in_future",
            ),
            (
                Box::new(|r| r.sender = Some("X".repeat(65))),
                "field_too_long",
            ),
            (
                Box::new(|r| r.status = Some("lost".into())),
                "invalid_status",
            ),
            (
                Box::new(|r| r.id = Some("a\u{0}b".into())),
                "invalid_characters",
            ),
        ];
        for (i, (mutate, code)) in cases.iter().enumerate() {
            let mut r = rec();
            mutate(&mut r);
            let err = validate_notification(&r, &c, NOW).unwrap_err();
            assert_eq!(err.code, *code, "case {i}: {}", err.detail);
        }
        // Four minutes ahead is within the default five-minute skew.
        let mut r = rec();
        r.sent_at = Some("2026-06-03T15:24:00Z".into());
        assert!(validate_notification(&r, &c, NOW).is_ok());
    }

    #[test]
    fn facts_only_never_keeps_the_body() {
        let n = validate_notification(&rec(), &cfg(BodyRetention::FactsOnly), NOW).unwrap();
        assert_eq!(n.body, None);
        assert!(n.body_mac.is_some());
        assert_eq!(n.facts.amount.as_ref().map(|m| m.minor), Some(47999));
        assert_eq!(n.facts.card_last4.as_deref(), Some("1123"));
        assert_eq!(n.sender.as_deref(), Some("ACMEBANK"));
        let full = validate_notification(&rec(), &cfg(BodyRetention::Full), NOW).unwrap();
        assert!(full.body.is_some());
        assert_eq!(full.body_mac, n.body_mac);
    }
}
