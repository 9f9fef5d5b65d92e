//! Customer education alerts: which rule fired and the message that names the pattern, in the
//! customer's language. General advice ("be careful") does little; a message that says what the
//! scam looks like and what we will never do is what customers act on. Pure: no IO, no clock.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why an alert was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertRule {
    /// The customer reported a smishing text.
    ReportedSmish,
    /// Someone called about the customer's account citing a text we never sent, a known scam,
    /// or the agent judged the call fraud. Told to the real customer, out of band.
    CallAboutYou,
    /// The customer just received a genuine notification of a kind an active campaign spoofs.
    SpoofedNotification,
}

impl AlertRule {
    pub const ALL: [AlertRule; 3] = [
        AlertRule::ReportedSmish,
        AlertRule::CallAboutYou,
        AlertRule::SpoofedNotification,
    ];
}

/// Languages with templates; anything else falls back to English.
pub const LANGUAGES: [&str; 2] = ["en", "es"];

/// What the message may name: the brand, the amount and merchant the fake text used, the number
/// it told people to call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PatternVars {
    pub brand: Option<String>,
    pub amount: Option<String>,
    pub merchant: Option<String>,
    pub callback_number: Option<String>,
}

/// A rendered alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// The language used (`en`, `es`).
    pub language: String,
    pub title: String,
    pub body: String,
}

/// The language for a locale (`es-MX` → `es`), English when there is no template for it.
pub fn language(locale: Option<&str>) -> &'static str {
    let lang = locale
        .and_then(|l| l.split(['-', '_']).next())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    LANGUAGES.into_iter().find(|l| *l == lang).unwrap_or("en")
}

fn fill(template: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// The message for `rule`, naming what is known of the pattern, in the locale's language.
pub fn render(rule: AlertRule, vars: &PatternVars, locale: Option<&str>) -> Message {
    let lang = language(locale);
    let es = lang == "es";
    let brand = vars.brand.clone().unwrap_or_else(|| {
        if es {
            "su banco".into()
        } else {
            "your bank".into()
        }
    });
    // "about a $480 charge at Best Buy" / "sobre un cargo de $480 en Best Buy"
    let about = match (&vars.amount, &vars.merchant, es) {
        (Some(a), Some(m), false) => format!(" about a {a} charge at {m}"),
        (Some(a), None, false) => format!(" about a {a} charge"),
        (None, Some(m), false) => format!(" about a charge at {m}"),
        (Some(a), Some(m), true) => format!(" sobre un cargo de {a} en {m}"),
        (Some(a), None, true) => format!(" sobre un cargo de {a}"),
        (None, Some(m), true) => format!(" sobre un cargo en {m}"),
        (None, None, _) => String::new(),
    };
    let number = match (&vars.callback_number, es) {
        (Some(n), false) => format!(" The text asks you to call {n}: that is not our number."),
        (Some(n), true) => format!(" El mensaje pide llamar al {n}: no es nuestro número."),
        (None, _) => String::new(),
    };
    let mut v = BTreeMap::new();
    v.insert("brand", brand);
    v.insert("about", about);
    v.insert("number", number);
    let (title, body) = match (rule, es) {
        (AlertRule::ReportedSmish, false) => (
            "That text was not from us",
            "Thank you for reporting it. {brand} did not send you a text{about}.{number} If someone calls you about it, hang up and call the number on the back of your card. We will never ask you for a code, your PIN or to move money.",
        ),
        (AlertRule::ReportedSmish, true) => (
            "Ese mensaje no era nuestro",
            "Gracias por reportarlo. {brand} no le envió un mensaje{about}.{number} Si alguien le llama por ese motivo, cuelgue y llame al número que figura en el reverso de su tarjeta. Nunca le pediremos un código, su PIN ni que transfiera dinero.",
        ),
        (AlertRule::CallAboutYou, false) => (
            "Someone called us about your account",
            "A caller contacted {brand} about your account citing a text we never sent{about}. We did not act on the call. If this was not you, there is nothing to do; if someone contacts you about it, hang up and call the number on the back of your card.",
        ),
        (AlertRule::CallAboutYou, true) => (
            "Alguien nos llamó sobre su cuenta",
            "Una persona llamó a {brand} por su cuenta citando un mensaje que nunca enviamos{about}. No atendimos su pedido. Si no fue usted, no tiene que hacer nada; si alguien le contacta por este motivo, cuelgue y llame al número que figura en el reverso de su tarjeta.",
        ),
        (AlertRule::SpoofedNotification, false) => (
            "Watch out for fake texts like this one",
            "We just sent you a genuine message. Scammers are sending fake texts that look like ours{about}.{number} Our texts never ask you to call a number or follow a link to stop a charge: use the app or the number on the back of your card.",
        ),
        (AlertRule::SpoofedNotification, true) => (
            "Cuidado con mensajes falsos como este",
            "Acabamos de enviarle un mensaje auténtico. Hay estafadores enviando mensajes falsos parecidos a los nuestros{about}.{number} Nuestros mensajes nunca le piden llamar a un número ni abrir un enlace para detener un cargo: use la app o el número del reverso de su tarjeta.",
        ),
    };
    Message {
        language: lang.to_string(),
        title: title.to_string(),
        body: fill(body, &v),
    }
}

/// "$480" / "$1,250.50" as a person writes an amount (no cents when there are none).
pub fn money_text(m: &crate::Money) -> String {
    let sym = match m.currency.as_deref() {
        Some("USD") | None => "$",
        Some("EUR") => "€",
        Some("GBP") => "£",
        Some(other) => return format!("{other} {}", minor_text(m.minor)),
    };
    format!("{sym}{}", minor_text(m.minor))
}

fn minor_text(minor: i64) -> String {
    let whole = minor / 100;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    if minor % 100 == 0 {
        grouped
    } else {
        format!("{grouped}.{:02}", minor % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_as_people_write_it() {
        let m = |minor, c: Option<&str>| crate::Money {
            minor,
            currency: c.map(str::to_string),
        };
        assert_eq!(money_text(&m(48000, Some("USD"))), "$480");
        assert_eq!(money_text(&m(125050, None)), "$1,250.50");
        assert_eq!(money_text(&m(999, Some("EUR"))), "€9.99");
        assert_eq!(money_text(&m(100_000_000, Some("INR"))), "INR 1,000,000");
    }

    #[test]
    fn names_the_pattern_in_the_customers_language() {
        let vars = PatternVars {
            brand: Some("ACME Bank".into()),
            amount: Some("$480".into()),
            merchant: Some("Best Buy".into()),
            callback_number: Some("+18885550142".into()),
        };
        let en = render(AlertRule::ReportedSmish, &vars, Some("en-US"));
        assert_eq!(en.language, "en");
        assert!(en.body.starts_with("Thank you for reporting it. ACME Bank did not send you a text about a $480 charge at Best Buy. The text asks you to call +18885550142"), "{}", en.body);
        assert!(en
            .body
            .contains("hang up and call the number on the back of your card"));
        let es = render(AlertRule::ReportedSmish, &vars, Some("es_MX"));
        assert_eq!(es.language, "es");
        assert!(
            es.body.contains("sobre un cargo de $480 en Best Buy"),
            "{}",
            es.body
        );
        // Unknown language: English. Nothing known of the pattern: no dangling words.
        let fr = render(
            AlertRule::CallAboutYou,
            &PatternVars::default(),
            Some("fr-FR"),
        );
        assert_eq!(fr.language, "en");
        assert!(
            fr.body
                .contains("your bank about your account citing a text we never sent."),
            "{}",
            fr.body
        );
        for rule in AlertRule::ALL {
            for lang in LANGUAGES {
                let m = render(rule, &vars, Some(lang));
                assert!(
                    !m.body.contains('{'),
                    "unfilled variable in {rule:?}/{lang}: {}",
                    m.body
                );
            }
        }
    }
}
