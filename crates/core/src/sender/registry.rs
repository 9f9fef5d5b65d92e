//! The brand registry: each brand's validated spec (sender IDs, callback numbers, domains,
//! templates, policy), and the compiled registry the filter reads (index, brand-name matcher).

use super::*;

/// The unregistered-sender policy of a brand, and the global one for unregistered alphanumerics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmsAction {
    Allow,
    #[default]
    Label,
    Block,
}

impl SmsAction {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsAction::Allow => "allow",
            SmsAction::Label => "label",
            SmsAction::Block => "block",
        }
    }
}

/// A brand as an operator registers it (`PUT /v1/brands/{brand}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandIn {
    /// How the brand names itself ("ACME Bank").
    #[serde(default)]
    pub display_names: Vec<String>,
    /// Other names customers and scammers use ("ACME", "Acme Financial").
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Alphanumeric IDs (≤ 11 GSM-7 characters), short codes, E.164 long numbers.
    #[serde(default)]
    pub sender_ids: Vec<String>,
    /// Numbers the brand's messages may ask customers to call.
    #[serde(default)]
    pub callback_numbers: Vec<String>,
    /// Registrable domains the brand's links use.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Message templates, fixed text with `{#var#}` slots (≤ 30 characters each).
    #[serde(default)]
    pub templates: Vec<String>,
    /// What to do with a message that imitates or names this brand from a sender it did not
    /// register: `label` (deliver marked "Likely-SCAM") or `block`.
    #[serde(default = "default_brand_policy")]
    pub unregistered_policy: SmsAction,
}

pub(super) fn default_brand_policy() -> SmsAction {
    SmsAction::Block
}

/// A validated brand.
#[derive(Debug, Clone)]
pub struct Brand {
    pub name: String,
    pub spec: BrandIn,
    pub senders: Vec<(SenderKind, String)>,
    pub callback_numbers: HashSet<String>,
    pub domains: HashSet<String>,
    pub templates: Vec<Template>,
    pub template_set: Option<RegexSet>,
    /// Names (display names, aliases, alphanumeric IDs ≥ 4), folded, for body mentions.
    pub mention_names: Vec<String>,
}

/// Validate a brand; every problem is a specific rejection.
pub fn validate_brand(
    name: &str,
    spec: BrandIn,
    extract: &ExtractConfig,
) -> Result<Brand, Rejection> {
    let name = name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Rejection::new(
            "invalid_brand_name",
            "a brand name is 1–64 characters of letters, digits, `-`, `_` or `.`",
        ));
    }
    if spec.sender_ids.is_empty() {
        return Err(Rejection::new(
            "missing_field",
            "a brand needs at least one sender ID in `sender_ids`",
        ));
    }
    if spec.unregistered_policy == SmsAction::Allow {
        return Err(Rejection::new(
            "invalid_policy",
            "`unregistered_policy` is `label` or `block`",
        ));
    }
    let mut senders = Vec::new();
    for s in &spec.sender_ids {
        senders.push(validate_sender_id(s, extract)?);
    }
    let mut callback_numbers = HashSet::new();
    for n in &spec.callback_numbers {
        let e = normalize_phone(n, extract)
            .or_else(|| {
                let d: String = n.chars().filter(char::is_ascii_digit).collect();
                (3..=8).contains(&d.len()).then_some(d)
            })
            .ok_or_else(|| {
                Rejection::new(
                    "invalid_callback_number",
                    format!("{n:?} is not a phone number"),
                )
            })?;
        callback_numbers.insert(e);
    }
    let mut domains = HashSet::new();
    for d in &spec.domains {
        let r = registrable_domain(d).ok_or_else(|| {
            Rejection::new("invalid_domain", format!("{d:?} has no registrable domain"))
        })?;
        domains.insert(r);
    }
    let templates = spec
        .templates
        .iter()
        .map(|t| compile_template(t))
        .collect::<Result<Vec<_>, _>>()?;
    let template_set = if templates.is_empty() {
        None
    } else {
        Some(
            RegexSet::new(templates.iter().map(|t| t.regex.as_str()))
                .map_err(|e| Rejection::new("invalid_template", e.to_string()))?,
        )
    };
    let mut mention_names: Vec<String> = spec
        .display_names
        .iter()
        .chain(spec.aliases.iter())
        .map(|n| fold_text(n))
        .chain(
            senders
                .iter()
                .filter(|(k, _)| *k == SenderKind::Alphanumeric)
                .map(|(_, id)| fold(id)),
        )
        .filter(|f| f.chars().count() >= 4)
        .collect();
    mention_names.sort();
    mention_names.dedup();
    Ok(Brand {
        name: name.to_string(),
        spec,
        senders,
        callback_numbers,
        domains,
        templates,
        template_set,
        mention_names,
    })
}

/// Global filter settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterPolicy {
    /// What to do with an alphanumeric sender no brand registered (Singapore's SSIR labels them).
    pub unregistered_alphanumeric: SmsAction,
    /// Generic sender IDs that impersonate no one in particular and everyone in general.
    pub generic_senders: Vec<String>,
    pub generic_action: SmsAction,
    /// A registered sender whose body fits none of its templates (a compromised account).
    pub template_mismatch_action: SmsAction,
    /// A registered sender's message with a number or link that is not the brand's.
    pub unofficial_contact_action: SmsAction,
}

impl Default for FilterPolicy {
    fn default() -> Self {
        FilterPolicy {
            unregistered_alphanumeric: SmsAction::Label,
            generic_senders: [
                "INFO", "ALERT", "ALERTS", "VERIFY", "NOTICE", "SECURITY", "BANK", "SERVICE",
                "SUPPORT", "UPDATE", "ACCOUNT", "NOREPLY", "NO-REPLY", "MESSAGE", "SMS", "OTP",
                "AUTH", "DELIVERY", "PARCEL", "REFUND", "WARNING",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            generic_action: SmsAction::Label,
            template_mismatch_action: SmsAction::Label,
            unofficial_contact_action: SmsAction::Block,
        }
    }
}

/// The compiled registry: brands plus the indexes every verdict uses.
#[derive(Debug, Clone)]
pub struct Registry {
    pub brands: HashMap<String, Brand>,
    pub index: LookalikeIndex,
    /// Folded brand names in bodies → brand.
    mentions: Option<AhoCorasick>,
    mention_brand: Vec<String>,
    pub(super) generic: FastMap<String, ()>,
    /// Every official domain → brand, for "lookalike of an official domain".
    pub(super) domain_index: LookalikeIndex,
    pub policy: FilterPolicy,
}

impl Registry {
    /// The official domain a domain's first label imitates (`acme-bank` → `acmebank`), if any.
    pub fn domain_lookalike(&self, domain: &str) -> Option<crate::sender::Lookalike> {
        self.domain_index
            .untwist(domain.split('.').next().unwrap_or(domain))
    }

    pub fn new(brands: Vec<Brand>, policy: FilterPolicy) -> Registry {
        let mut index = LookalikeIndex::new();
        let mut domain_index = LookalikeIndex::new();
        let mut patterns = Vec::new();
        let mut mention_brand = Vec::new();
        for b in &brands {
            for (k, id) in &b.senders {
                index.add(&b.name, *k, id);
            }
            for d in &b.domains {
                let label = d.split('.').next().unwrap_or(d);
                domain_index.add(&b.name, SenderKind::Alphanumeric, label);
            }
            for n in &b.mention_names {
                patterns.push(n.clone());
                mention_brand.push(b.name.clone());
            }
        }
        let mentions = if patterns.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .ok()
        };
        Registry {
            generic: policy
                .generic_senders
                .iter()
                .map(|g| (fold(g), ()))
                .collect(),
            brands: brands.into_iter().map(|b| (b.name.clone(), b)).collect(),
            index,
            mentions,
            mention_brand,
            domain_index,
            policy,
        }
    }

    /// Brands named in a body (through homoglyphs and confusable Unicode too).
    pub fn mentioned_brands(&self, body: &str) -> Vec<String> {
        let Some(ac) = &self.mentions else {
            return Vec::new();
        };
        let folded = fold_text(body);
        let mut out: Vec<String> = Vec::new();
        for m in ac.find_iter(&folded) {
            // Whole words only: "acme" in "acmeplumbing" is fine, "pacme" is not a mention.
            let before = folded[..m.start()].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric()) {
                continue;
            }
            let b = &self.mention_brand[m.pattern().as_usize()];
            if !out.contains(b) {
                out.push(b.clone());
            }
        }
        out
    }
}

/// Fold a message body word by word (keeping word boundaries as single spaces).
pub fn fold_text(body: &str) -> String {
    if body.is_ascii() {
        let mut out = String::with_capacity(body.len());
        let mut space = false;
        for b in body.bytes() {
            if b.is_ascii_whitespace() {
                space = !out.is_empty();
                continue;
            }
            let Some(m) = fold_ascii(b) else { continue };
            if space {
                out.push(' ');
                space = false;
            }
            out.push(m);
        }
        return merge_multi(out);
    }
    let mut out = String::with_capacity(body.len());
    for w in body.split(|c: char| c.is_whitespace()) {
        let f = fold(w);
        if !f.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&f);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Verdicts
