//! Smishing reports clustered into campaigns. A reported text is reduced to its indicators
//! (callback numbers, link domains, amounts, the brand it names) and its *shape* (the text with
//! numbers, amounts, links and names replaced by placeholders). Reports are assigned on arrival:
//! near-duplicate shapes by MinHash/LSH (`gaoya`), joined with shared indicators; campaign ids are
//! stable (the oldest wins a merge) and every merge is reported. Pure: time is passed in.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use gaoya::minhash::{MinHashIndex, MinHasher, MinHasher32};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{extract_contacts, extract_from_body, mask_variables, ExtractConfig};
use crate::Millis;

/// What a reported text gives away.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Indicators {
    /// Phone numbers in the text (E.164): where the victim is told to call.
    pub callback_numbers: Vec<String>,
    /// Registrable domains of the links.
    pub domains: Vec<String>,
    /// Amounts the text names.
    pub amounts: Vec<crate::Money>,
    /// The merchant the text names ("at Best Buy").
    #[serde(default)]
    pub merchant: Option<String>,
    /// The brand the text names (from the brand registry or configured names).
    pub brand: Option<String>,
    /// The text with its variable parts replaced by placeholders.
    pub shape: String,
}

/// Common words that start with a capital mid-sentence without being a name.
const NOT_NAMES: &[&str] = &[
    "i",
    "you",
    "your",
    "we",
    "our",
    "us",
    "call",
    "reply",
    "click",
    "visit",
    "text",
    "stop",
    "yes",
    "no",
    "y",
    "n",
    "if",
    "did",
    "do",
    "please",
    "card",
    "account",
    "bank",
    "alert",
    "fraud",
    "security",
    "dept",
    "department",
    "team",
    "support",
    "service",
    "customer",
    "msg",
    "sms",
    "otp",
    "pin",
    "code",
    "ref",
    "the",
    "a",
    "an",
    "to",
    "at",
    "on",
    "for",
    "of",
    "and",
    "or",
    "is",
    "was",
    "has",
    "been",
    "not",
    "now",
    "today",
    "immediately",
    "urgent",
    "final",
    "notice",
    "payment",
    "transaction",
    "charge",
    "purchase",
    "order",
    "delivery",
    "package",
    "parcel",
    "refund",
    "verify",
    "confirm",
    "cancel",
    "update",
    "login",
    "online",
    "mobile",
    "app",
    "free",
    "prize",
    "winner",
    "usps",
    "ups",
    "fedex",
    "dhl",
    "irs",
    "hmrc",
];

/// The shape of a text: variables masked, the brand as `<brand>`, capitalised words inside a
/// sentence (merchants, people) as `<name>`, everything lower-cased, punctuation dropped.
pub fn shape(body: &str, brand_names: &[String]) -> String {
    let masked = mask_variables(body);
    let brand_words: HashSet<String> = brand_names
        .iter()
        .flat_map(|b| b.split_whitespace())
        .map(|w| w.to_lowercase())
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut sentence_start = true;
    for raw in masked.split_whitespace() {
        let ends_sentence = raw.ends_with(['.', '!', '?', ':']);
        let word: String = raw
            .trim_matches(|c: char| !(c.is_alphanumeric() || c == '<' || c == '>'))
            .to_string();
        if word.is_empty() {
            sentence_start |= ends_sentence;
            continue;
        }
        let lower = word.to_lowercase();
        let token = if word.starts_with('<') && word.ends_with('>') {
            word
        } else if brand_words.contains(&lower) {
            "<brand>".to_string()
        } else if !sentence_start
            && word.chars().next().is_some_and(char::is_uppercase)
            && !NOT_NAMES.contains(&lower.as_str())
        {
            "<name>".to_string()
        } else {
            lower
        };
        // Consecutive placeholders of one kind are one ("Best Buy" is one name).
        if token.starts_with('<') && out.last() == Some(&token) {
            sentence_start = ends_sentence;
            continue;
        }
        out.push(token);
        sentence_start = ends_sentence;
    }
    out.join(" ")
}

/// Indicators of a reported text. `brand_names` are the institution's brands as customers see
/// them (registry display names or configured names); the first one the text names is kept.
pub fn indicators(body: &str, brand_names: &[String], cfg: &ExtractConfig) -> Indicators {
    let (callback_numbers, domains) = extract_contacts(body, cfg, None);
    let lower = body.to_lowercase();
    let brand = brand_names
        .iter()
        .find(|b| !b.trim().is_empty() && lower.contains(&b.to_lowercase()))
        .cloned();
    // Only amounts written as amounts ("$480", "480.00 USD"), not any number in the text.
    let facts = extract_from_body(body, cfg);
    Indicators {
        callback_numbers,
        domains,
        amounts: facts.amount.into_iter().collect(),
        merchant: facts.merchant,
        brand,
        shape: shape(body, brand_names),
    }
}

/// Where an analyst has put a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Clustered from reports, not yet reviewed.
    Active,
    /// Reviewed: a scam. Its indicators are blocked and fed to the other defences.
    Confirmed,
    /// Reviewed: not a scam (e.g. a genuine campaign customers mistook). Never `known_scam`.
    Benign,
}

/// A campaign as analysts see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Campaign {
    pub id: u64,
    pub status: CampaignStatus,
    pub first_seen: Millis,
    pub last_seen: Millis,
    pub reports: u64,
    pub distinct_customers: u64,
    pub callback_numbers: BTreeSet<String>,
    pub domains: BTreeSet<String>,
    pub brands: BTreeSet<String>,
    /// The shape of the first report.
    pub example_shape: String,
    /// Reports per hour (start of the hour in ms since the epoch, as a JSON key → count).
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    pub reports_by_hour: BTreeMap<Millis, u64>,
    /// Campaigns found to be this one and folded into it.
    pub merged_from: Vec<u64>,
    #[serde(skip)]
    customers: HashSet<String>,
}

/// Where a report would go ([`Campaigns::plan`]): the campaign, whether it is new, what it merges.
#[derive(Debug, Clone)]
pub struct Plan {
    /// What applying it gives.
    pub assignment: Assignment,
    shape_id: u64,
    signature: Option<Vec<u32>>,
    keys: Vec<String>,
    /// Reports applied when planned: a plan is stale once another report was applied.
    generation: u64,
}

/// Callback numbers and link domains of confirmed campaigns, each with its campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocked {
    pub numbers: HashMap<String, u64>,
    pub domains: HashMap<String, u64>,
}

impl Blocked {
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty() && self.domains.is_empty()
    }
}

/// Where a report went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Assignment {
    pub campaign_id: u64,
    /// A new campaign was opened for this report.
    pub created: bool,
    /// Campaigns this report showed to be the same as `campaign_id`, now folded into it.
    pub merged: Vec<u64>,
    /// What linked it: `shape`, `number:+1…`, `domain:…`.
    pub matched_by: Vec<String>,
    /// This report made the campaign worth listing (it reached `min_reports`).
    #[serde(default)]
    pub newly_listed: bool,
}

/// Clustering settings (from `[smish]` in the server's configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// Estimated Jaccard similarity of two shapes' word pairs for them to be one campaign.
    pub shape_similarity: f64,
    /// Reports before a cluster is listed as a campaign (a lone spam text is not one).
    pub min_reports: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            shape_similarity: 0.5,
            min_reports: 3,
        }
    }
}

const BANDS: usize = 16;
const BAND_WIDTH: usize = 4;

fn fingerprint<T: Hash + ?Sized>(t: &T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

/// Word unigrams and pairs of a shape: what MinHash compares.
fn shingles(shape: &str) -> Vec<String> {
    let words: Vec<&str> = shape.split(' ').filter(|w| !w.is_empty()).collect();
    let mut out: Vec<String> = words.iter().map(|w| (*w).to_string()).collect();
    out.extend(words.windows(2).map(|p| format!("{} {}", p[0], p[1])));
    out
}

/// The incremental clusterer and the campaigns it maintains. Feed it reports in arrival order;
/// replaying the same reports in the same order gives the same ids.
pub struct Campaigns {
    cfg: ClusterConfig,
    hasher: MinHasher32<fnv::FnvBuildHasher>,
    /// Distinct shapes (by fingerprint) in the LSH index.
    lsh: MinHashIndex<u32, u64>,
    shape_campaign: HashMap<u64, u64>,
    indicator_campaign: HashMap<String, u64>,
    /// Merged campaign → the one it was folded into.
    parent: HashMap<u64, u64>,
    campaigns: BTreeMap<u64, Campaign>,
    next_id: u64,
    /// Reports applied so far (see [`Plan`]).
    generation: u64,
}

impl Campaigns {
    pub fn new(cfg: ClusterConfig) -> Self {
        Campaigns {
            lsh: MinHashIndex::new(BANDS, BAND_WIDTH, cfg.shape_similarity),
            cfg,
            hasher: MinHasher32::new(BANDS * BAND_WIDTH),
            shape_campaign: HashMap::new(),
            indicator_campaign: HashMap::new(),
            parent: HashMap::new(),
            campaigns: BTreeMap::new(),
            next_id: 1,
            generation: 0,
        }
    }

    /// Never give a retired id (a campaign an exercise purge removed) to a new campaign: move
    /// past them, so that a replay without the removed reports gives the ids first given.
    pub fn skip_retired(&mut self, retired: &std::collections::BTreeSet<u64>) {
        while retired.contains(&self.next_id) {
            self.next_id += 1;
        }
    }

    /// The campaign `id` was merged into, or `id`.
    pub fn resolve(&self, mut id: u64) -> u64 {
        while let Some(p) = self.parent.get(&id) {
            id = *p;
        }
        id
    }

    fn indicator_keys(ind: &Indicators) -> Vec<String> {
        ind.callback_numbers
            .iter()
            .map(|n| format!("number:{n}"))
            .chain(ind.domains.iter().map(|d| format!("domain:{d}")))
            .collect()
    }

    /// Assign a report received at `at` (from `customer`, when known).
    pub fn assign(&mut self, ind: &Indicators, customer: Option<&str>, at: Millis) -> Assignment {
        let plan = self.plan(ind);
        self.apply(plan, ind, customer, at)
    }

    /// Where a report would go, without changing anything: the report service makes the report
    /// durable with this campaign id first and [`Campaigns::apply`]s the plan only once it is, so
    /// memory never holds a report the disk does not. Valid until the next `apply`.
    pub fn plan(&self, ind: &Indicators) -> Plan {
        let shape_id = fingerprint(&ind.shape);
        let mut found: BTreeSet<u64> = BTreeSet::new();
        let mut matched_by = Vec::new();
        let signature = if let Some(c) = self.shape_campaign.get(&shape_id) {
            found.insert(self.resolve(*c));
            matched_by.push("shape".to_string());
            None
        } else {
            let sig = self.hasher.create_signature(shingles(&ind.shape).iter());
            let near: BTreeSet<u64> = self
                .lsh
                .query(&sig)
                .into_iter()
                .filter_map(|s| self.shape_campaign.get(s).map(|c| self.resolve(*c)))
                .collect();
            if !near.is_empty() {
                matched_by.push("shape".to_string());
            }
            found.extend(near);
            Some(sig)
        };
        let keys = Self::indicator_keys(ind);
        for k in &keys {
            if let Some(c) = self.indicator_campaign.get(k) {
                found.insert(self.resolve(*c));
                matched_by.push(k.clone());
            }
        }
        let (campaign_id, created) = match found.first() {
            Some(oldest) => (*oldest, false),
            None => (self.next_id, true),
        };
        let was_listed = found.iter().any(|c| self.listed(*c));
        let reviewed = found.iter().any(|c| {
            self.campaigns
                .get(c)
                .is_some_and(|x| x.status != CampaignStatus::Active)
        });
        let reports: u64 = found
            .iter()
            .filter_map(|c| self.campaigns.get(c))
            .map(|x| x.reports)
            .sum();
        Plan {
            assignment: Assignment {
                campaign_id,
                created,
                merged: found
                    .iter()
                    .copied()
                    .filter(|c| *c != campaign_id)
                    .collect(),
                matched_by,
                newly_listed: !was_listed && (reviewed || reports + 1 >= self.cfg.min_reports),
            },
            shape_id,
            signature,
            keys,
            generation: self.generation,
        }
    }

    /// Carry out a [`Plan`] made against the current state. A plan made before another report
    /// was applied is made again (never applied stale).
    pub fn apply(
        &mut self,
        plan: Plan,
        ind: &Indicators,
        customer: Option<&str>,
        at: Millis,
    ) -> Assignment {
        let plan = if plan.generation == self.generation {
            plan
        } else {
            self.plan(ind)
        };
        self.generation += 1;
        let Plan {
            assignment,
            shape_id,
            signature,
            keys,
            ..
        } = plan;
        let id = assignment.campaign_id;
        if assignment.created {
            self.next_id += 1;
            self.campaigns.insert(
                id,
                Campaign {
                    id,
                    status: CampaignStatus::Active,
                    first_seen: at,
                    last_seen: at,
                    reports: 0,
                    distinct_customers: 0,
                    callback_numbers: BTreeSet::new(),
                    domains: BTreeSet::new(),
                    brands: BTreeSet::new(),
                    example_shape: ind.shape.clone(),
                    reports_by_hour: BTreeMap::new(),
                    merged_from: Vec::new(),
                    customers: HashSet::new(),
                },
            );
        }
        for m in &assignment.merged {
            self.merge(*m, id);
        }
        if let Some(sig) = signature {
            self.lsh.insert(shape_id, sig);
            self.shape_campaign.insert(shape_id, id);
        }
        for k in keys {
            self.indicator_campaign.entry(k).or_insert(id);
        }
        if let Some(c) = self.campaigns.get_mut(&id) {
            c.reports += 1;
            c.first_seen = c.first_seen.min(at);
            c.last_seen = c.last_seen.max(at);
            c.callback_numbers
                .extend(ind.callback_numbers.iter().cloned());
            c.domains.extend(ind.domains.iter().cloned());
            c.brands.extend(ind.brand.iter().cloned());
            *c.reports_by_hour
                .entry(at.div_euclid(3_600_000) * 3_600_000)
                .or_default() += 1;
            if let Some(cust) = customer {
                c.customers.insert(cust.to_string());
            }
            c.distinct_customers = c.customers.len() as u64;
        }
        assignment
    }

    /// Worth listing: enough reports, or reviewed.
    fn listed(&self, id: u64) -> bool {
        self.campaigns.get(&id).is_some_and(|c| {
            c.reports >= self.cfg.min_reports || c.status != CampaignStatus::Active
        })
    }

    /// Fold campaign `from` into `into` (both current).
    fn merge(&mut self, from: u64, into: u64) {
        let Some(gone) = self.campaigns.remove(&from) else {
            return;
        };
        self.parent.insert(from, into);
        if let Some(c) = self.campaigns.get_mut(&into) {
            c.reports += gone.reports;
            c.first_seen = c.first_seen.min(gone.first_seen);
            c.last_seen = c.last_seen.max(gone.last_seen);
            c.callback_numbers.extend(gone.callback_numbers);
            c.domains.extend(gone.domains);
            c.brands.extend(gone.brands);
            for (h, n) in gone.reports_by_hour {
                *c.reports_by_hour.entry(h).or_default() += n;
            }
            c.customers.extend(gone.customers);
            c.distinct_customers = c.customers.len() as u64;
            c.merged_from.push(from);
            c.merged_from.extend(gone.merged_from);
            // A reviewed verdict outlives the merge: confirmed beats benign beats active.
            c.status = match (c.status, gone.status) {
                (CampaignStatus::Confirmed, _) | (_, CampaignStatus::Confirmed) => {
                    CampaignStatus::Confirmed
                }
                (CampaignStatus::Benign, _) | (_, CampaignStatus::Benign) => CampaignStatus::Benign,
                _ => CampaignStatus::Active,
            };
        }
    }

    /// Set an analyst's verdict; `false` when there is no such campaign (merged ids resolve).
    pub fn set_status(&mut self, id: u64, status: CampaignStatus) -> bool {
        let id = self.resolve(id);
        match self.campaigns.get_mut(&id) {
            Some(c) => {
                c.status = status;
                true
            }
            None => false,
        }
    }

    /// A campaign by id (a merged id answers the campaign it is now part of).
    pub fn get(&self, id: u64) -> Option<&Campaign> {
        self.campaigns.get(&self.resolve(id))
    }

    /// Campaigns worth listing: at least `min_reports` reports, or reviewed. Newest activity first.
    pub fn list(&self) -> Vec<&Campaign> {
        let mut v: Vec<&Campaign> = self
            .campaigns
            .values()
            .filter(|c| self.listed(c.id))
            .collect();
        v.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id)));
        v
    }

    /// The campaign a claim's cues point at: a callback number or link domain from a campaign's
    /// reports, or the claimed text's shape near one of its reports. Only listed, non-benign
    /// campaigns count.
    pub fn matching(
        &self,
        numbers: &[String],
        domains: &[String],
        text: Option<&str>,
        brand_names: &[String],
    ) -> Option<(&Campaign, String)> {
        let usable = |id: u64| {
            self.campaigns.get(&self.resolve(id)).filter(|c| {
                c.status != CampaignStatus::Benign
                    && (c.reports >= self.cfg.min_reports || c.status == CampaignStatus::Confirmed)
            })
        };
        let cues = numbers
            .iter()
            .map(|n| (format!("number:{n}"), format!("the callback number {n}")))
            .chain(
                domains
                    .iter()
                    .map(|d| (format!("domain:{d}"), format!("the link domain {d}"))),
            );
        for (key, what) in cues {
            if let Some(c) = self.indicator_campaign.get(&key).and_then(|c| usable(*c)) {
                return Some((c, format!("{what} is in campaign {}'s reports", c.id)));
            }
        }
        let text = text?.trim();
        // A fragment of a few words is too little to call a text a campaign's.
        if text.split_whitespace().count() < 6 {
            return None;
        }
        let s = shape(text, brand_names);
        let shape_id = fingerprint(&s);
        let hit = self
            .shape_campaign
            .get(&shape_id)
            .and_then(|c| usable(*c))
            .or_else(|| {
                let sig = self.hasher.create_signature(shingles(&s).iter());
                let near: BTreeSet<u64> = self
                    .lsh
                    .query(&sig)
                    .into_iter()
                    .filter_map(|x| self.shape_campaign.get(x).copied())
                    .collect();
                near.into_iter().find_map(usable)
            })?;
        Some((
            hit,
            format!("the text matches campaign {}'s reports", hit.id),
        ))
    }

    /// The campaign that imitates a genuine notification with this shape: the largest share of
    /// the notification's words and word pairs found in a listed, non-benign campaign seen since
    /// `active_since`, when at least `min_containment`. (A scam copies the opening of the genuine
    /// text and swaps the ending for its callback number, so containment, not Jaccard.)
    pub fn spoofing(
        &self,
        genuine_shape: &str,
        min_containment: f64,
        active_since: Millis,
    ) -> Option<&Campaign> {
        let mine: HashSet<String> = shingles(genuine_shape).into_iter().collect();
        if mine.is_empty() {
            return None;
        }
        self.campaigns
            .values()
            .filter(|c| {
                c.status != CampaignStatus::Benign
                    && c.last_seen >= active_since
                    && (c.reports >= self.cfg.min_reports || c.status == CampaignStatus::Confirmed)
            })
            .map(|c| {
                let theirs: HashSet<String> = shingles(&c.example_shape).into_iter().collect();
                (
                    mine.intersection(&theirs).count() as f64 / mine.len() as f64,
                    c,
                )
            })
            .filter(|(share, _)| *share >= min_containment)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, c)| c)
    }

    /// Indicators of confirmed campaigns, for the SMS filter and for carriers.
    pub fn blocked(&self) -> Blocked {
        let mut b = Blocked::default();
        for c in self
            .campaigns
            .values()
            .filter(|c| c.status == CampaignStatus::Confirmed)
        {
            for n in &c.callback_numbers {
                b.numbers.insert(n.clone(), c.id);
            }
            for d in &c.domains {
                b.domains.insert(d.clone(), c.id);
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brands() -> Vec<String> {
        vec!["ACME Bank".to_string()]
    }

    #[test]
    fn shape_masks_what_rotates() {
        let b = brands();
        let a = shape(
            "ACME Bank: Did you authorise $480.00 at Best Buy? If not call 888-555-0142 now.",
            &b,
        );
        let c = shape(
            "ACME BANK: Did you authorise $1,250 at Walmart? If not call (877) 555-0199 now.",
            &b,
        );
        assert_eq!(a, c);
        assert_eq!(
            a,
            "<brand> did you authorise <amount> at <name> if not call <phone> now"
        );
        let l = shape(
            "Your parcel is held. Pay the fee at https://usps-redeliver.top/x9 today",
            &b,
        );
        assert!(l.contains("<link>"), "{l}");
    }

    #[test]
    fn indicators_of_a_text() {
        let cfg = ExtractConfig::default();
        let i = indicators(
            "ACME Bank: Did you authorise $480 at Best Buy? If not call 888-555-0142 or visit acme-secure.help/verify",
            &brands(),
            &cfg,
        );
        assert_eq!(i.callback_numbers, vec!["+18885550142".to_string()]);
        assert_eq!(i.domains, vec!["acme-secure.help".to_string()]);
        assert_eq!(
            i.amounts.iter().map(|m| m.minor).collect::<Vec<_>>(),
            vec![48000]
        );
        assert_eq!(i.merchant.as_deref(), Some("Best Buy"));
        assert_eq!(i.brand.as_deref(), Some("ACME Bank"));
    }

    #[test]
    fn clusters_merge_and_keep_the_oldest_id() {
        let cfg = ExtractConfig::default();
        let b = brands();
        let mut c = Campaigns::new(ClusterConfig::default());
        let r = |t: &str| indicators(t, &b, &cfg);
        // Two different-looking texts that share nothing yet: two campaigns.
        let a1 = c.assign(
            &r("ACME Bank: Did you authorise $480 at Best Buy? If not call 888-555-0142"),
            Some("c1"),
            0,
        );
        let b1 = c.assign(
            &r("Your ACME Bank account is locked. Unlock it at acme-unlock.top"),
            Some("c2"),
            1,
        );
        assert!(a1.created && b1.created && a1.campaign_id != b1.campaign_id);
        // Same shape, another amount and merchant: the first campaign.
        let a2 = c.assign(
            &r("ACME Bank: Did you authorise $92.10 at Target? If not call 888-555-0177"),
            Some("c3"),
            2,
        );
        assert_eq!((a2.campaign_id, a2.created), (a1.campaign_id, false));
        assert_eq!(a2.matched_by, vec!["shape".to_string()]);
        // A text naming the second campaign's domain and the first's number: they are one.
        let m = c.assign(
            &r("ACME alert: call 888-555-0142 or go to acme-unlock.top"),
            None,
            3,
        );
        assert_eq!(m.campaign_id, a1.campaign_id, "the oldest id survives");
        assert!(
            m.newly_listed && !a2.newly_listed,
            "four reports after the merge: listed now"
        );
        assert_eq!(m.merged, vec![b1.campaign_id]);
        assert_eq!(c.resolve(b1.campaign_id), a1.campaign_id);
        let camp = c.get(b1.campaign_id).unwrap();
        assert_eq!(
            (camp.id, camp.reports, camp.distinct_customers),
            (a1.campaign_id, 4, 3)
        );
        assert_eq!(camp.merged_from, vec![b1.campaign_id]);
        // Claims: a campaign number, a campaign domain, the campaign's text; benign never matches.
        let hit = c.matching(&["+18885550177".into()], &[], None, &b).unwrap();
        assert_eq!(hit.0.id, a1.campaign_id);
        assert!(c
            .matching(&[], &["acme-unlock.top".into()], None, &b)
            .is_some());
        assert!(c
            .matching(
                &[],
                &[],
                Some("Did you authorise $77 at Costco? If not call 800-555-0100"),
                &b
            )
            .is_some());
        assert!(c.matching(&[], &[], Some("call me"), &b).is_none());
        assert!(c.set_status(b1.campaign_id, CampaignStatus::Benign));
        assert!(c
            .matching(&["+18885550177".into()], &[], None, &b)
            .is_none());
        assert!(c.blocked().is_empty());
        c.set_status(a1.campaign_id, CampaignStatus::Confirmed);
        assert_eq!(
            c.blocked().numbers.get("+18885550142"),
            Some(&a1.campaign_id)
        );
    }

    #[test]
    fn a_genuine_card_alert_is_the_kind_a_card_campaign_spoofs() {
        let cfg = ExtractConfig::default();
        let b = brands();
        let mut c = Campaigns::new(ClusterConfig::default());
        for (i, t) in [
            "ACME Bank: Did you authorise a purchase of $480 at Best Buy? If not, call us now at 888-555-0142.",
            "ACME Bank: Did you authorise a purchase of $12 at Target? If not, call us now at 888-555-0143.",
            "ACME Bank: Did you authorise a purchase of $99 at Costco? If not, call us now at 888-555-0144.",
        ]
        .iter()
        .enumerate()
        {
            c.assign(&indicators(t, &b, &cfg), None, i as Millis);
        }
        let genuine = shape(
            "ACME Bank: Did you authorise $12.00 at Target on card ending 4417? Reply Y or N.",
            &b,
        );
        assert_eq!(c.spoofing(&genuine, 0.3, 0).map(|x| x.id), Some(1));
        let statement = shape("ACME Bank: your May statement is ready in the app.", &b);
        assert!(c.spoofing(&statement, 0.3, 0).is_none());
        assert!(c.spoofing(&genuine, 0.3, 10).is_none(), "not seen since");
    }

    #[test]
    fn a_plan_changes_nothing_until_applied_and_a_stale_plan_is_made_again() {
        let cfg = ExtractConfig::default();
        let b = brands();
        let first = indicators(
            "ACME Bank: Did you authorise $480 at Best Buy? If not call 888-555-0142",
            &b,
            &cfg,
        );
        let second = indicators(
            "Congratulations! You won a free cruise. Claim at cruise-prize.win",
            &b,
            &cfg,
        );
        let mut c = Campaigns::new(ClusterConfig::default());
        let dropped = c.plan(&first).assignment;
        assert_eq!((dropped.campaign_id, dropped.created), (1, true));
        // The write of `first` failed: its plan is dropped and nothing was taken from memory.
        assert!(c.get(1).is_none());
        let p2 = c.plan(&second);
        assert_eq!(
            p2.assignment.campaign_id, 1,
            "the id the failed report would have had is still free"
        );
        let stale = c.plan(&first);
        assert_eq!(c.apply(p2, &second, None, 0).campaign_id, 1);
        // `stale` was planned before `second` was applied: applying it plans again.
        let a = c.apply(stale, &first, None, 1);
        assert_eq!((a.campaign_id, a.created), (2, true));
        let mut fresh = Campaigns::new(ClusterConfig::default());
        fresh.assign(&second, None, 0);
        assert_eq!(fresh.assign(&first, None, 1), a, "plan + apply is assign");
    }

    #[test]
    fn a_lone_text_is_not_listed_and_replay_gives_the_same_ids() {
        let cfg = ExtractConfig::default();
        let b = brands();
        let texts = [
            "ACME Bank: Did you authorise $480 at Best Buy? If not call 888-555-0142",
            "Congratulations! You won a free cruise. Claim at cruise-prize.win",
            "ACME Bank: Did you authorise $12.99 at Amazon? If not call 888-555-0150",
            "ACME Bank: Did you authorise $300 at Apple Store? If not call 888-555-0151",
        ];
        let run = || {
            let mut c = Campaigns::new(ClusterConfig::default());
            let ids: Vec<u64> = texts
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    c.assign(&indicators(t, &b, &cfg), None, i as Millis)
                        .campaign_id
                })
                .collect();
            (
                c.list()
                    .iter()
                    .map(|c| (c.id, c.reports))
                    .collect::<Vec<_>>(),
                ids,
            )
        };
        let (listed, ids) = run();
        assert_eq!(
            listed,
            vec![(1, 3)],
            "the spam text is a cluster of one, not a campaign"
        );
        assert_eq!(run().1, ids);
    }
}
