//! "Did my bank send this?": a text as a customer pastes or shares it, cleaned of what phones
//! and mail add (the forwarding header, "Sent from my iPhone", a messaging app's link wrapper),
//! and the customer's answer — we sent this, we did not send this, a known scam, or we can't
//! tell yet — in their language, with what in the text is not ours and what to do. The
//! verification itself is the agents' (`verify`); this module only shapes its verdict for a
//! customer, and never says more about the customer's notifications than the one they pasted.

use serde::Serialize;
use utoipa::ToSchema;

use crate::verify::{Verdict, Verification};

/// The pasted text, cleaned, and the sender a forwarding header named (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pasted {
    pub text: String,
    pub sender: Option<String>,
}

/// Lines phones and mail clients add around a shared message.
fn is_wrapper_line(l: &str) -> bool {
    let lower = l.to_lowercase();
    let starts = [
        "sent from my ",
        "enviado desde mi ",
        "get outlook for ",
        "---------- forwarded message",
        "begin forwarded message",
        "-----original message",
        "mensaje reenviado",
        "date:",
        "fecha:",
        "to:",
        "para:",
        "subject:",
        "asunto:",
    ];
    starts.iter().any(|s| lower.starts_with(s))
        || lower == "forwarded message"
        || lower.trim_matches('-').trim().is_empty() && !l.is_empty()
}

/// A forwarding header's sender line: `From: ACMEBNK` (or `De:`).
fn sender_line(l: &str) -> Option<String> {
    let rest = ["from:", "de:"].iter().find_map(|p| {
        l.get(..p.len())
            .filter(|head| head.eq_ignore_ascii_case(p))
            .and_then(|_| l.get(p.len()..))
            .map(str::trim)
    })?;
    // `Name <address>`: the address is the sender.
    let s = match (rest.find('<'), rest.rfind('>')) {
        (Some(a), Some(b)) if b > a => &rest[a + 1..b],
        _ => rest,
    };
    (!s.is_empty()).then(|| s.to_string())
}

/// The link a messaging app or mail filter wrapped, unwrapped (Facebook/Instagram `u=`, Google
/// `q=`/`url=`, Outlook Safe Links `url=`); anything else as it is.
pub fn unwrap_link(token: &str) -> String {
    let Ok(u) = url::Url::parse(token) else {
        return token.to_string();
    };
    let host = u.host_str().unwrap_or_default();
    let param = if matches!(
        host,
        "l.facebook.com" | "lm.facebook.com" | "l.instagram.com"
    ) {
        "u"
    } else if host.ends_with("safelinks.protection.outlook.com") {
        "url"
    } else if (host == "www.google.com" || host == "google.com") && u.path() == "/url" {
        if u.query_pairs().any(|(k, _)| k == "q") {
            "q"
        } else {
            "url"
        }
    } else {
        return token.to_string();
    };
    // A wrapped value that is not one link (spaces or control characters once decoded) is left
    // wrapped: the cleaned text stays one line of words.
    u.query_pairs()
        .find(|(k, _)| k == param)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty() && !v.chars().any(|c| c.is_whitespace() || c.is_control()))
        .unwrap_or_else(|| token.to_string())
}

/// Clean a shared text: drop the lines phones and mail add, take the sender from a forwarding
/// header, unwrap rewritten links, and fold the rest onto one line.
pub fn clean_pasted(raw: &str) -> Pasted {
    let mut sender = None;
    let mut kept: Vec<String> = Vec::new();
    for line in raw.lines().map(str::trim) {
        if let Some(s) = sender_line(line) {
            sender.get_or_insert(s);
            continue;
        }
        if is_wrapper_line(line) {
            continue;
        }
        // `Fwd: …` / `Fw: …` / `RV: …` as the first words of a line.
        let mut l = line;
        while let Some(rest) = ["Fwd:", "FWD:", "Fw:", "FW:", "RV:", "Rv:"]
            .iter()
            .find_map(|p| l.strip_prefix(p))
        {
            l = rest.trim_start();
        }
        let words: Vec<String> = l
            .split_whitespace()
            .map(|w| {
                if w.starts_with("http://") || w.starts_with("https://") {
                    unwrap_link(w)
                } else {
                    w.to_string()
                }
            })
            .collect();
        if !words.is_empty() {
            kept.push(words.join(" "));
        }
    }
    Pasted {
        text: kept.join(" "),
        sender,
    }
}

/// What the customer is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckVerdict {
    WeSentThis,
    WeDidNotSendThis,
    KnownScam,
    /// The record is not complete enough to say (feed delayed, outside retention, a partial
    /// match): never a false "we did not send this".
    CannotTellYet,
}

impl CheckVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckVerdict::WeSentThis => "we_sent_this",
            CheckVerdict::WeDidNotSendThis => "we_did_not_send_this",
            CheckVerdict::KnownScam => "known_scam",
            CheckVerdict::CannotTellYet => "cannot_tell_yet",
        }
    }
}

/// The customer's language (the profile's locale): English unless Spanish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Es,
}

impl Lang {
    pub fn of_locale(locale: Option<&str>) -> Lang {
        match locale.map(|l| l.to_ascii_lowercase()) {
            Some(l) if l == "es" || l.starts_with("es-") || l.starts_with("es_") => Lang::Es,
            _ => Lang::En,
        }
    }
}

/// Something in the text that is not the institution's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotOurs {
    Number(String),
    Link(String),
    /// The sender seen, and the institution's sender it imitates.
    Sender(String, String),
}

impl NotOurs {
    /// The indicator itself, by kind: (`number` | `link` | `sender`, value).
    pub fn indicator(&self) -> (&'static str, &str) {
        match self {
            NotOurs::Number(n) => ("number", n),
            NotOurs::Link(d) => ("link", d),
            NotOurs::Sender(s, _) => ("sender", s),
        }
    }

    fn say(&self, lang: Lang, brand: &str) -> String {
        match (self, lang) {
            (NotOurs::Number(n), Lang::En) => {
                format!("The number {n} is not one of {brand}'s numbers.")
            }
            (NotOurs::Number(n), Lang::Es) => format!("El número {n} no es un número de {brand}."),
            (NotOurs::Link(d), Lang::En) => {
                format!("The link goes to {d}, which is not one of {brand}'s websites.")
            }
            (NotOurs::Link(d), Lang::Es) => {
                format!("El enlace lleva a {d}, que no es un sitio web de {brand}.")
            }
            (NotOurs::Sender(s, ours), Lang::En) => {
                format!("The sender {s} imitates our sender {ours}.")
            }
            (NotOurs::Sender(s, ours), Lang::Es) => {
                format!("El remitente {s} imita a nuestro remitente {ours}.")
            }
        }
    }
}

/// The answer to a text check.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TextCheckAnswer {
    pub verdict: CheckVerdict,
    /// One sentence, in the customer's language.
    pub headline: String,
    /// What in the text is not ours, one sentence each.
    pub not_ours: Vec<String>,
    /// What to do now.
    pub advice: String,
    /// For `we_sent_this`: when the matching notification was sent (RFC 3339) — nothing else
    /// about the customer's notifications is ever said here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// For `cannot_tell_yet`: why (`ledger_stale`, `outside_retention`, `partial_match`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<u64>,
    /// The app may offer a one-tap report of the text (it is not ours, or may not be).
    pub can_report: bool,
    /// The stored check (what it found, never the text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_id: Option<i64>,
}

/// Shape the agents' verification of a pasted text into the customer's answer.
pub fn answer(v: &Verification, not_ours: &[NotOurs], brand: &str, lang: Lang) -> TextCheckAnswer {
    let verdict = match v.verdict {
        Verdict::Confirmed => CheckVerdict::WeSentThis,
        Verdict::NotSent => CheckVerdict::WeDidNotSendThis,
        Verdict::KnownScam => CheckVerdict::KnownScam,
        // The record is complete and holds something like it, but the text carries a number,
        // link or sender that is not ours: the paired pattern's forgery of a real alert. Our
        // texts never carry those, so this one is not ours.
        Verdict::Partial if !not_ours.is_empty() => CheckVerdict::WeDidNotSendThis,
        _ => CheckVerdict::CannotTellYet,
    };
    let es = lang == Lang::Es;
    let headline = match (verdict, es) {
        (CheckVerdict::WeSentThis, false) => format!("Yes, {brand} sent you this message."),
        (CheckVerdict::WeSentThis, true) => format!("Sí, {brand} le envió este mensaje."),
        (CheckVerdict::WeDidNotSendThis, false) => {
            format!("{brand} did not send you this message.")
        }
        (CheckVerdict::WeDidNotSendThis, true) => format!("{brand} no le envió este mensaje."),
        (CheckVerdict::KnownScam, false) => {
            format!("This is a known scam: {brand} did not send it, and other customers have reported it.")
        }
        (CheckVerdict::KnownScam, true) => {
            format!(
                "Es una estafa conocida: {brand} no la envió, y otros clientes la han denunciado."
            )
        }
        (CheckVerdict::CannotTellYet, false) => {
            "We can't confirm this message right now.".to_string()
        }
        (CheckVerdict::CannotTellYet, true) => {
            "Ahora mismo no podemos confirmar este mensaje.".to_string()
        }
    };
    let advice = match (verdict, es) {
        (CheckVerdict::WeSentThis, false) => format!(
            "You can act on it in the {brand} app. We will never ask you for a code, PIN or password, or ask you to move money, by text or on a call."
        ),
        (CheckVerdict::WeSentThis, true) => format!(
            "Puede gestionarlo en la app de {brand}. Nunca le pediremos un código, PIN o contraseña, ni que mueva dinero, por mensaje ni por teléfono."
        ),
        (CheckVerdict::CannotTellYet, false) => format!(
            "Until we can, do not call numbers or open links in it. If you need us, use the {brand} app or the number on the back of your card."
        ),
        (CheckVerdict::CannotTellYet, true) => format!(
            "Mientras tanto, no llame a números ni abra enlaces del mensaje. Si nos necesita, use la app de {brand} o el número que aparece en el reverso de su tarjeta."
        ),
        (_, false) => "Do not call the number or open the link in it, and do not reply. If someone calls you about it, hang up and call the number on the back of your card.".to_string(),
        (_, true) => "No llame al número ni abra el enlace, y no responda. Si alguien le llama por este mensaje, cuelgue y llame al número que aparece en el reverso de su tarjeta.".to_string(),
    };
    let say_not_ours = matches!(
        verdict,
        CheckVerdict::WeDidNotSendThis | CheckVerdict::KnownScam | CheckVerdict::CannotTellYet
    );
    TextCheckAnswer {
        verdict,
        headline,
        not_ours: if say_not_ours {
            not_ours.iter().map(|n| n.say(lang, brand)).collect()
        } else {
            Vec::new()
        },
        advice,
        sent_at: (verdict == CheckVerdict::WeSentThis)
            .then(|| v.matched.as_ref().map(|m| m.sent_at.clone()))
            .flatten(),
        reason: match (verdict, v.verdict) {
            (CheckVerdict::CannotTellYet, Verdict::Partial) => Some("partial_match".into()),
            (CheckVerdict::CannotTellYet, _) => v.reason.map(str::to_string),
            _ => None,
        },
        campaign_id: (verdict == CheckVerdict::KnownScam)
            .then_some(v.campaign_id)
            .flatten(),
        can_report: verdict != CheckVerdict::WeSentThis,
        check_id: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pasted_texts_as_customers_share_them() {
        let cases: [(&str, &str, Option<&str>); 6] = [
            (
                "ACME Bank: Did you authorise $480.00 at Best Buy? If not call 888-555-0142\n\nSent from my iPhone",
                "ACME Bank: Did you authorise $480.00 at Best Buy? If not call 888-555-0142",
                None,
            ),
            (
                "Fwd: Fwd:\n---------- Forwarded message ---------\nFrom: ACMEBNK <ACMEBNK>\nDate: Mon, 30 Nov 2026\nSubject: alert\nTo: me@example.com\n\nACME: card locked. Call 8885550142",
                "ACME: card locked. Call 8885550142",
                Some("ACMEBNK"),
            ),
            (
                "Unusual purchase. Verify at https://l.facebook.com/l.php?u=https%3A%2F%2Facme-bank.help%2Fv&h=AT0",
                "Unusual purchase. Verify at https://acme-bank.help/v",
                None,
            ),
            (
                "Confirm: https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Facme-secure.co%2Fx&data=1",
                "Confirm: https://acme-secure.co/x",
                None,
            ),
            (
                "De: ACME-BANK\nACME Banco: ¿autorizó 480,00 € en MediaMarkt? Si no, llame al 900 555 014…\nEnviado desde mi iPhone",
                "ACME Banco: ¿autorizó 480,00 € en MediaMarkt? Si no, llame al 900 555 014…",
                Some("ACME-BANK"),
            ),
            ("  ACME:\n  your   code is 123456  ", "ACME: your code is 123456", None),
        ];
        for (raw, text, sender) in cases {
            let p = clean_pasted(raw);
            assert_eq!(p.text, text, "{raw:?}");
            assert_eq!(p.sender.as_deref(), sender, "{raw:?}");
        }
    }

    #[test]
    fn google_links_unwrap_and_others_stay() {
        assert_eq!(
            unwrap_link("https://www.google.com/url?q=https://acme-bank.help/&sa=D"),
            "https://acme-bank.help/"
        );
        assert_eq!(
            unwrap_link("https://acmebank.com/x"),
            "https://acmebank.com/x"
        );
        assert_eq!(unwrap_link("not a link"), "not a link");
        // Found by the fuzzer: a wrapped value with a newline once decoded stays wrapped.
        let odd = "https://l.facebook.com/l.php?u=https%0A%2F%2Facme-bank.help";
        assert_eq!(unwrap_link(odd), odd);
    }

    #[test]
    fn locales_pick_the_language() {
        assert_eq!(Lang::of_locale(Some("es-MX")), Lang::Es);
        assert_eq!(Lang::of_locale(Some("es")), Lang::Es);
        assert_eq!(Lang::of_locale(Some("en-US")), Lang::En);
        assert_eq!(Lang::of_locale(None), Lang::En);
    }
}
