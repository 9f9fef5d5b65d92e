//! Customer profiles: the numbers and e-mail addresses the institution has on file, the locale
//! and whether the app is installed. A profile makes a customer known to verification before any
//! notification was sent. Validation only; storage and HTTP live elsewhere.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{normalize_phone, ExtractConfig};
use crate::validate::Rejection;

/// A profile as the institution's CRM sends it (`PUT /v1/customers/{customer_id}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileIn {
    /// Only in bulk imports, where the path does not name the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Phone numbers on file, any common format; stored as E.164.
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub emails: Vec<String>,
    /// BCP 47 language tag, e.g. `en-US`, `es`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_installed: Option<bool>,
}

/// A validated profile (what is stored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Profile {
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_installed: Option<bool>,
}

/// At most this many numbers and addresses per customer.
pub const CONTACTS_MAX: usize = 20;

fn valid_locale(s: &str) -> bool {
    let mut parts = s.split(['-', '_']);
    let lang = parts.next().unwrap_or("");
    (2..=3).contains(&lang.len())
        && lang.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Validate a profile; every problem is a specific rejection.
pub fn validate_profile(raw: &ProfileIn, extract: &ExtractConfig) -> Result<Profile, Rejection> {
    if raw.phones.len() > CONTACTS_MAX || raw.emails.len() > CONTACTS_MAX {
        return Err(Rejection::new(
            "too_many_contacts",
            format!("at most {CONTACTS_MAX} phones and {CONTACTS_MAX} emails per customer"),
        ));
    }
    let mut phones = Vec::new();
    for p in &raw.phones {
        let e = normalize_phone(p, extract).ok_or_else(|| {
            Rejection::new("invalid_phone", format!("{p:?} is not a phone number"))
        })?;
        if !phones.contains(&e) {
            phones.push(e);
        }
    }
    let mut emails = Vec::new();
    for e in &raw.emails {
        let t = e.trim().to_lowercase();
        let ok = t.len() <= 254
            && t.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !t.chars().any(char::is_whitespace);
        if !ok {
            return Err(Rejection::new(
                "invalid_email",
                format!("{e:?} is not an e-mail address"),
            ));
        }
        if !emails.contains(&t) {
            emails.push(t);
        }
    }
    let locale = match raw
        .locale
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(l) if valid_locale(l) => Some(l.replace('_', "-")),
        Some(l) => {
            return Err(Rejection::new(
                "invalid_locale",
                format!("{l:?} is not a language tag like en-US"),
            ))
        }
    };
    Ok(Profile {
        phones,
        emails,
        locale,
        app_installed: raw.app_installed,
    })
}

/// A customer's numbers: on file (the profile) and learned (numbers the ledger has sent SMS to).
/// The one place that knows which numbers are the customer's, for the profile view and for call
/// scoring.
pub struct Contacts {
    pub profile: Option<Profile>,
    pub learned_numbers: Vec<String>,
}

impl Contacts {
    /// From the stored profile document and the SMS recipients the ledger holds: a recipient is
    /// learned when it is an E.164 number not already on file.
    pub fn new(profile_json: Option<&str>, recipients: impl IntoIterator<Item = String>) -> Self {
        let profile: Option<Profile> = profile_json.and_then(|j| serde_json::from_str(j).ok());
        let on_file: BTreeSet<&String> = profile.iter().flat_map(|p| p.phones.iter()).collect();
        let learned: BTreeSet<String> = recipients
            .into_iter()
            .filter(|r| r.starts_with('+') && !on_file.contains(r))
            .collect();
        Contacts {
            learned_numbers: learned.into_iter().collect(),
            profile,
        }
    }

    /// Every number known for the customer, on file or learned.
    pub fn numbers(&self) -> impl Iterator<Item = &String> {
        self.profile
            .iter()
            .flat_map(|p| p.phones.iter())
            .chain(self.learned_numbers.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_validate_with_specific_errors() {
        let x = ExtractConfig::default();
        let p = validate_profile(
            &ProfileIn {
                phones: vec!["(415) 555-0100".into(), "+1 415 555 0100".into()],
                emails: vec![" Maria@Example.COM ".into()],
                locale: Some("es_MX".into()),
                app_installed: Some(true),
                ..Default::default()
            },
            &x,
        )
        .unwrap();
        assert_eq!(p.phones, vec!["+14155550100"]);
        assert_eq!(p.emails, vec!["maria@example.com"]);
        assert_eq!(p.locale.as_deref(), Some("es-MX"));
        for (raw, code) in [
            (
                ProfileIn {
                    phones: vec!["call me".into()],
                    ..Default::default()
                },
                "invalid_phone",
            ),
            (
                ProfileIn {
                    emails: vec!["maria@".into()],
                    ..Default::default()
                },
                "invalid_email",
            ),
            (
                ProfileIn {
                    locale: Some("english please".into()),
                    ..Default::default()
                },
                "invalid_locale",
            ),
            (
                ProfileIn {
                    phones: vec!["+14155550100".into(); 21],
                    ..Default::default()
                },
                "too_many_contacts",
            ),
        ] {
            assert_eq!(validate_profile(&raw, &x).unwrap_err().code, code);
        }
    }
}
