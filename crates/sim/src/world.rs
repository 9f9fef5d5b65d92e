//! The simulated world, drawn from a seed: customers with numbers on file, their genuine
//! notifications, genuine calls (some citing a real notification, remembered imperfectly),
//! smishing campaigns with their reports, and attackers in tiers calling on days their target
//! also got genuine texts. Everything is wire-format input (`NotificationIn`, `CallIn`,
//! `ClaimIn`, `ReportIn`) for the real server code, plus the truth the report scores against.

use countersign_core::call::CallIn;
use countersign_core::report::ReportIn;
use countersign_core::validate::{format_time, NotificationIn};
use countersign_core::verify::{ClaimIn, MentionsIn};
use countersign_core::Millis;
use serde_json::{json, Value};

use crate::config::SimConfig;

const MIN: Millis = 60_000;
const HOUR: Millis = 3_600_000;
const DAY: Millis = 86_400_000;

/// Card-alert merchants as the statement descriptor says them, and as a customer says them.
const MERCHANTS: [(&str, &str); 12] = [
    ("BEST BUY 00123", "Best Buy"),
    ("AMZN MKTP US*2K4", "Amazon"),
    ("WAL-MART #4521", "Walmart"),
    ("TARGET T-1842", "Target"),
    ("SQ *BLUE BOTTLE", "the coffee place"),
    ("UBER *TRIP", "Uber"),
    ("SHELL OIL 5744", "the gas station"),
    ("APPLE.COM/BILL", "Apple"),
    ("COSTCO WHSE #0112", "Costco"),
    ("HOME DEPOT 6621", "Home Depot"),
    ("NETFLIX.COM", "Netflix"),
    ("DELTA AIR 0062", "Delta"),
];

/// The smishing templates: what the fake text says (the caller quotes it).
const SMISH_TEMPLATES: [&str; 4] = [
    "ACME Bank: Did you authorise ${amount} at {merchant}? If not call {number} now",
    "ACME BANK ALERT: unusual purchase ${amount} {merchant}. Not you? Call {number}",
    "Acme Bank Fraud Dept: ${amount} charge pending at {merchant}. Reply NO or call {number}",
    "ACME: your card is locked after a ${amount} payment to {merchant}. Call {number} to unlock",
];

/// Lookalike sender IDs of the fake texts (the bank's own is ACMEBANK).
const SMISH_SENDERS: [&str; 6] = [
    "ACMEBNK",
    "ACME-BANK",
    "+18885550100",
    "ACMEBANK-ALERT",
    "AcmeSecure",
    "+18445550177",
];

/// The genuine intents of callers, with their shares.
const GENUINE_INTENTS: [(&str, f64); 6] = [
    ("balance", 0.30),
    ("card_lost", 0.10),
    ("dispute", 0.20),
    ("payment", 0.20),
    ("change_address", 0.05),
    ("general", 0.15),
];

/// What attackers ask for.
const FRAUD_INTENTS: [&str; 3] = ["change_phone", "add_payee", "card_replacement"];

/// The institution's contact-centre number (the DNIS of every call).
pub const DNIS: &str = "+18005550199";

/// A customer as the bank knows them.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub phones: Vec<String>,
    pub app: bool,
}

/// A genuine notification as the simulator remembers it (the ledger has the full record).
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    pub at: Millis,
    pub kind: Kind,
    pub channel: &'static str,
    pub amount_minor: i64,
    pub merchant: usize,
    pub card: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CardAlert,
    Otp,
    Delivery,
    Statement,
}

/// A smishing campaign.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub template: usize,
    pub sender: &'static str,
    pub numbers: Vec<String>,
    pub amount_minor: i64,
    pub merchant: usize,
    pub start: Millis,
    pub hours: i64,
    /// Each recipient and when the fake text reached them.
    pub recipients: Vec<(usize, Millis)>,
}

impl Campaign {
    /// The fake text as a recipient got it.
    pub fn text(&self, number: &str) -> String {
        SMISH_TEMPLATES[self.template]
            .replace("{amount}", &money(self.amount_minor))
            .replace("{merchant}", MERCHANTS[self.merchant].1)
            .replace("{number}", number)
    }
}

/// The truth about a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truth {
    pub fraud: bool,
    /// 0, 1 or 2 for fraud calls.
    pub tier: Option<u8>,
    /// The caller cites a message.
    pub cites: bool,
    /// Would the caller pass knowledge-based questions.
    pub kba_pass: bool,
    /// For a genuine caller citing a card alert: the amount said exactly.
    pub amount_exact: Option<bool>,
}

/// A call, as the platform reports it, with the claim the caller will cite.
#[derive(Debug, Clone)]
pub struct SimCall {
    pub at: Millis,
    pub call: CallIn,
    /// The claim and how many seconds into the call it is cited.
    pub claim: Option<(ClaimIn, i64)>,
    pub truth: Truth,
}

/// Something that happens at a time, in the order the run replays it.
#[derive(Debug, Clone)]
pub enum Event {
    Report(Millis, ReportIn),
    Call(Box<SimCall>),
}

impl Event {
    pub fn at(&self) -> Millis {
        match self {
            Event::Report(at, _) => *at,
            Event::Call(c) => c.at,
        }
    }
}

/// The whole world.
pub struct World {
    pub start: Millis,
    pub end: Millis,
    pub customers: Vec<Customer>,
    /// Per customer, oldest first.
    pub sent: Vec<Vec<Sent>>,
    pub campaigns: Vec<Campaign>,
    /// Recipients of fake texts who responded (draws, for the validation).
    pub smish_responded: usize,
    pub events: Vec<Event>,
}

fn money(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

fn pick<T: Clone>(rng: &mut fastrand::Rng, items: &[T]) -> T {
    items[rng.usize(0..items.len())].clone()
}

fn weighted(rng: &mut fastrand::Rng, shares: &[f64]) -> usize {
    let mut x = rng.f64() * shares.iter().sum::<f64>();
    for (i, s) in shares.iter().enumerate() {
        if x < *s {
            return i;
        }
        x -= s;
    }
    shares.len() - 1
}

/// A Poisson draw (Knuth for small means, normal approximation above 30).
fn poisson(rng: &mut fastrand::Rng, mean: f64) -> usize {
    if mean > 30.0 {
        let u1 = rng.f64().max(1e-12);
        let u2 = rng.f64();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        return (mean + z * mean.sqrt()).round().max(0.0) as usize;
    }
    let l = (-mean).exp();
    let (mut k, mut p) = (0, 1.0);
    loop {
        p *= rng.f64();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

/// A US number from a space large enough (six area codes × 8M lines) that customers do not
/// share numbers by accident: shared lines would look like one caller's velocity.
fn us_number(rng: &mut fastrand::Rng) -> String {
    let exchange = loop {
        let e = rng.u32(200..1_000);
        // N11 codes are not exchanges.
        if e % 100 != 11 {
            break e;
        }
    };
    format!(
        "+1{}{exchange}{:04}",
        pick(rng, &[202, 212, 415, 312, 617, 713]),
        rng.u32(0..10_000)
    )
}

fn foreign_number(rng: &mut fastrand::Rng) -> String {
    match rng.u8(0..4) {
        0 => format!("+4420{:08}", rng.u32(0..100_000_000)),
        1 => format!("+234803{:07}", rng.u32(0..10_000_000)),
        2 => format!("+63917{:07}", rng.u32(0..10_000_000)),
        _ => format!("+9198{:08}", rng.u32(0..100_000_000)),
    }
}

/// A time of day between 08:00 and 20:00 on one of the world's `days`.
fn daytime(rng: &mut fastrand::Rng, start: Millis, days: i64) -> Millis {
    let day = rng.i64(0..days);
    start + day * DAY + 8 * HOUR + rng.i64(0..12 * HOUR)
}

impl World {
    /// Draw the world for `seed`, ending at `end` (the simulator's clock at the last call).
    pub fn generate(cfg: &SimConfig, seed: u64, end: Millis) -> World {
        let mut rng = fastrand::Rng::with_seed(seed);
        let days = i64::from(cfg.days);
        // Days start at midnight UTC so "daytime" means the same every day.
        let start = (end - days * DAY).div_euclid(DAY) * DAY;
        let end = start + days * DAY;
        let customers: Vec<Customer> = (0..cfg.customers)
            .map(|i| {
                let c = &cfg.customer;
                let mut phones = vec![if rng.f64() < c.international_number {
                    foreign_number(&mut rng)
                } else {
                    us_number(&mut rng)
                }];
                if rng.f64() < c.two_numbers {
                    phones.push(us_number(&mut rng));
                }
                Customer {
                    id: format!("sim-{i:07}"),
                    phones,
                    app: rng.f64() < c.app_installed,
                }
            })
            .collect();
        let sent = customers
            .iter()
            .map(|c| genuine_stream(cfg, &mut rng, c, start, days))
            .collect();
        let mut w = World {
            start,
            end,
            customers,
            sent,
            campaigns: Vec::new(),
            smish_responded: 0,
            events: Vec::new(),
        };
        w.campaigns(cfg, &mut rng);
        w.genuine_calls(cfg, &mut rng);
        w.fraud_calls(cfg, &mut rng);
        // Stable: equal times keep their drawing order.
        w.events.sort_by_key(Event::at);
        w
    }

    /// The ledger's record of customer `i`'s `k`-th notification, as a producer sends it.
    pub fn record(&self, i: usize, k: usize) -> NotificationIn {
        let c = &self.customers[i];
        let s = &self.sent[i][k];
        let (category, body, vars) = match s.kind {
            Kind::CardAlert => (
                "card_auth",
                format!(
                    "ACME Bank: Did you authorise ${} at {} on card ending {:04}? Reply Y or N.",
                    money(s.amount_minor),
                    MERCHANTS[s.merchant].0,
                    s.card
                ),
                Some(json!({"amount": format!("{} USD", money(s.amount_minor)),
                    "merchant": MERCHANTS[s.merchant].0, "card_last4": format!("{:04}", s.card)})),
            ),
            Kind::Otp => (
                "otp",
                format!(
                    "ACME Bank: your code is {:06}. We will never call to ask for it.",
                    s.amount_minor
                ),
                None,
            ),
            Kind::Delivery => (
                "card_delivery",
                "ACME Bank: your new card is on its way and arrives within 5 days.".to_string(),
                None,
            ),
            Kind::Statement => (
                "statement",
                "Your ACME Bank statement is ready in online banking.".to_string(),
                None,
            ),
        };
        let (sender, recipient) = match s.channel {
            "sms" => (Some("ACMEBANK".to_string()), Some(c.phones[0].clone())),
            "email" => (
                Some("alerts@acmebank.example".to_string()),
                Some(format!("{}@mail.example", c.id)),
            ),
            _ => (Some("ACME Bank".to_string()), None),
        };
        NotificationIn {
            source: Some(
                if s.kind == Kind::CardAlert {
                    "cards"
                } else {
                    "messaging"
                }
                .into(),
            ),
            id: Some(format!("{}-{k}", c.id)),
            customer_id: Some(c.id.clone()),
            channel: Some(s.channel.into()),
            sender,
            recipient,
            sent_at: Some(format_time(s.at)),
            category: Some(category.into()),
            template_id: Some(format!("{category}-v1")),
            variables: vars.and_then(|v| v.as_object().cloned()),
            facts: None,
            body: Some(body),
            status: None,
        }
    }

    fn campaigns(&mut self, cfg: &SimConfig, rng: &mut fastrand::Rng) {
        let c = &cfg.campaigns;
        let span = (self.end - self.start - 3 * DAY).max(DAY);
        for k in 0..c.count {
            let hours = rng.i64(6..72);
            let start = self.start + rng.i64(0..span);
            let numbers = (0..rng.usize(1..=3))
                .map(|_| format!("+1888555{:04}", rng.u32(0..10_000)))
                .collect();
            let mut recipients: Vec<(usize, Millis)> = (0..c.targets_per_campaign)
                .map(|_| {
                    (
                        rng.usize(0..self.customers.len()),
                        start + rng.i64(0..hours * HOUR),
                    )
                })
                .collect();
            recipients.sort_by_key(|r| r.1);
            let campaign = Campaign {
                template: k % SMISH_TEMPLATES.len(),
                sender: pick(rng, &SMISH_SENDERS),
                numbers,
                amount_minor: rng.i64(20_000..150_000),
                merchant: rng.usize(0..MERCHANTS.len()),
                start,
                hours,
                recipients,
            };
            for &(who, at) in &campaign.recipients {
                if rng.f64() < c.response_rate {
                    self.smish_responded += 1;
                }
                if rng.f64() < c.report_rate {
                    let number = pick(rng, &campaign.numbers);
                    let report_at = at + rng.i64(MIN..6 * HOUR);
                    self.events.push(Event::Report(
                        report_at,
                        ReportIn {
                            customer_id: Some(self.customers[who].id.clone()),
                            reporter_number: Some(self.customers[who].phones[0].clone()),
                            sender: Some(campaign.sender.into()),
                            body: Some(campaign.text(&number)),
                            received_at: Some(format_time(at)),
                            reported_via: Some(if rng.bool() { "7726" } else { "app" }.into()),
                            report_id: Some(format!("r-{k}-{who}-{at}")),
                        },
                    ));
                }
            }
            self.campaigns.push(campaign);
        }
    }

    fn genuine_calls(&mut self, cfg: &SimConfig, rng: &mut fastrand::Rng) {
        let frauds = (cfg.calls as f64 * cfg.base_rate).round() as usize;
        let g = &cfg.genuine;
        let days = i64::from(cfg.days);
        for n in 0..cfg.calls.saturating_sub(frauds) {
            let who = rng.usize(0..self.customers.len());
            let at = daytime(rng, self.start, days);
            let c = &self.customers[who];
            let withheld = rng.f64() < g.withheld;
            let ani = if withheld {
                "anonymous".to_string()
            } else if rng.f64() < g.from_number_on_file {
                pick(rng, &c.phones)
            } else if rng.f64() < g.international / (1.0 - g.from_number_on_file) {
                foreign_number(rng)
            } else {
                us_number(rng)
            };
            let c_share = (1.0 - g.unsigned - g.attest_a - g.attest_b).max(0.0);
            let attestation = match weighted(rng, &[g.unsigned, g.attest_a, g.attest_b, c_share]) {
                0 => None,
                1 => Some("A"),
                2 => Some("B"),
                _ => Some("C"),
            };
            let voip = rng.f64() < g.voip;
            let intent = GENUINE_INTENTS[weighted(
                rng,
                &GENUINE_INTENTS.iter().map(|i| i.1).collect::<Vec<_>>(),
            )]
            .0;
            let mut claim = None;
            let mut exact = None;
            if rng.f64() < g.cite_share {
                // The latest notification of the last three days, remembered imperfectly.
                let recent = self.sent[who]
                    .iter()
                    .rev()
                    .find(|s| s.at < at && at - s.at < 3 * DAY && s.kind != Kind::Statement)
                    .copied();
                if let Some(s) = recent {
                    let (cl, ex) = remembered(cfg, rng, &s, at);
                    claim = Some((cl, rng.i64(30..300)));
                    exact = ex;
                }
            }
            self.events.push(Event::Call(Box::new(SimCall {
                at,
                call: call_in(format!("g-{n}"), &c.id, &ani, at, attestation, voip, intent),
                truth: Truth {
                    fraud: false,
                    tier: None,
                    cites: claim.is_some(),
                    kba_pass: rng.f64() >= cfg.kba.genuine_fail,
                    amount_exact: exact,
                },
                claim,
            })));
        }
    }

    fn fraud_calls(&mut self, cfg: &SimConfig, rng: &mut fastrand::Rng) {
        let f = &cfg.fraud;
        let frauds = (cfg.calls as f64 * cfg.base_rate).round() as usize;
        let mut made = 0;
        let mut fraudster = 0;
        while made < frauds {
            fraudster += 1;
            let accounts = rng.usize(f.accounts_per_fraudster[0]..=f.accounts_per_fraudster[1]);
            let lines: Vec<String> = (0..f.numbers_per_fraudster)
                .map(|_| {
                    if rng.f64() < f.international {
                        foreign_number(rng)
                    } else {
                        us_number(rng)
                    }
                })
                .collect();
            let voip = rng.f64() < f.voip;
            let tier = weighted(rng, &f.tier_shares) as u8;
            for _ in 0..accounts.min(frauds - made) {
                let event = self.attack(cfg, rng, tier, &lines, voip, fraudster, made);
                self.events.push(Event::Call(Box::new(event)));
                made += 1;
            }
        }
    }

    /// One attacker call on one account.
    #[allow(clippy::too_many_arguments)]
    fn attack(
        &self,
        cfg: &SimConfig,
        rng: &mut fastrand::Rng,
        tier: u8,
        lines: &[String],
        voip: bool,
        fraudster: usize,
        n: usize,
    ) -> SimCall {
        let f = &cfg.fraud;
        // T1 and T2 target recipients of a fake text; T0 anyone. With a set delay, a recipient
        // whose call that long after the fake text still falls inside the world.
        let delay = match f.delay_mins {
            Some([lo, hi]) if tier > 0 => Some(rng.i64(lo..=hi) * MIN),
            _ => None,
        };
        let (who, smish) = if tier == 0 {
            (rng.usize(0..self.customers.len()), None)
        } else {
            let mut draw = || {
                let camp = &self.campaigns[rng.usize(0..self.campaigns.len())];
                let (who, got) = camp.recipients[rng.usize(0..camp.recipients.len())];
                (who, camp, got)
            };
            let fits = |got: Millis| delay.is_none_or(|d| got + d < self.end - MIN);
            let mut pick = draw();
            for _ in 0..64 {
                if fits(pick.2) {
                    break;
                }
                pick = draw();
            }
            (pick.0, Some((pick.1, pick.2)))
        };
        let c = &self.customers[who];
        // On a day the customer also got genuine texts, after the fake one when there is one.
        let not_before = smish.map_or(self.start, |(_, got)| got + MIN);
        let genuine_day = self.sent[who]
            .iter()
            .filter(|s| s.at >= not_before && s.channel == "sms")
            .map(|s| s.at)
            .next();
        let at = match (tier, smish, genuine_day, delay) {
            // A set delay after the fake text.
            (_, Some((_, got)), _, Some(d)) => (got + d).min(self.end - MIN),
            // T2 calls within minutes of the fake text.
            (2, Some((_, got)), _, _) => got + rng.i64(MIN..20 * MIN),
            (_, _, Some(day_text), _) => (day_text + rng.i64(MIN..4 * HOUR)).min(self.end - MIN),
            (_, Some((_, got)), None, _) => (got + rng.i64(MIN..DAY)).min(self.end - MIN),
            _ => daytime(rng, self.start, i64::from(cfg.days)),
        };
        let withheld = rng.f64() < f.withheld;
        let ani = if withheld {
            "anonymous".to_string()
        } else if rng.f64() < f.spoof_own_number {
            c.phones[0].clone()
        } else {
            pick(rng, lines)
        };
        let attestation = if withheld || rng.f64() < f.unsigned {
            None
        } else {
            Some("C")
        };
        let cites = smish.is_some() && rng.f64() < f.cite_share;
        let claim = match smish {
            Some((camp, got)) if cites => {
                let number = pick(rng, &camp.numbers);
                let text = camp.text(&number);
                let mut claim = ClaimIn {
                    customer_id: Some(c.id.clone()),
                    channel: Some("sms".into()),
                    received_at: None,
                    sender_seen: None,
                    mentions: MentionsIn {
                        amount: Some(Value::String(format!("${}", money(camp.amount_minor)))),
                        merchant: Some(MERCHANTS[camp.merchant].1.into()),
                        callback_number: Some(number),
                        ..Default::default()
                    },
                };
                let secs = if tier == 2 {
                    claim.received_at = Some(format_time(got));
                    claim.sender_seen = Some(camp.sender.into());
                    claim.mentions.text = Some(text.chars().take(60).collect());
                    rng.i64(5..25)
                } else {
                    rng.i64(60..300)
                };
                Some((claim, secs))
            }
            _ => None,
        };
        SimCall {
            at,
            call: call_in(
                format!("f-{fraudster}-{n}"),
                &c.id,
                &ani,
                at,
                attestation,
                voip,
                pick(rng, &FRAUD_INTENTS),
            ),
            truth: Truth {
                fraud: true,
                tier: Some(tier),
                cites: claim.is_some(),
                kba_pass: rng.f64() < cfg.kba.fraud_pass,
                amount_exact: None,
            },
            claim,
        }
    }
}

fn call_in(
    id: String,
    customer: &str,
    ani: &str,
    at: Millis,
    attestation: Option<&str>,
    voip: bool,
    intent: &str,
) -> CallIn {
    CallIn {
        call_id: Some(id),
        customer_id: Some(customer.into()),
        ani: Some(ani.into()),
        dnis: Some(DNIS.into()),
        started_at: Some(format_time(at)),
        verstat: None,
        attestation: attestation.map(str::to_string),
        line_type: Some(if voip { "non_fixed_voip" } else { "mobile" }.into()),
        intent: Some(intent.into()),
        identity: Vec::new(),
    }
}

/// A customer's genuine notifications over the world's days, oldest first.
fn genuine_stream(
    cfg: &SimConfig,
    rng: &mut fastrand::Rng,
    c: &Customer,
    start: Millis,
    days: i64,
) -> Vec<Sent> {
    let n = &cfg.notifications;
    let span = days as f64;
    let mut out = Vec::new();
    for (kind, per_day) in [
        (Kind::CardAlert, n.card_alerts_per_day),
        (Kind::Otp, n.otps_per_day),
        (Kind::Delivery, n.deliveries_per_day),
        (Kind::Statement, n.statements_per_day),
    ] {
        for _ in 0..poisson(rng, per_day * span) {
            let channel = match kind {
                Kind::CardAlert if c.app && rng.f64() < n.card_alert_push_share => "push",
                Kind::Statement => "email",
                _ => "sms",
            };
            out.push(Sent {
                at: start + rng.i64(0..days * DAY),
                kind,
                channel,
                amount_minor: if kind == Kind::Otp {
                    rng.i64(0..1_000_000)
                } else {
                    rng.i64(500..60_000)
                },
                merchant: rng.usize(0..MERCHANTS.len()),
                card: rng.u16(0..10_000),
            });
        }
    }
    out.sort_by_key(|s| s.at);
    out
}

/// What a genuine caller says about a notification they really got: the amount exact or not,
/// the merchant in their words or not, the time off by more the older it is, the channel
/// sometimes confused. The second value: whether the amount was said exactly.
fn remembered(
    cfg: &SimConfig,
    rng: &mut fastrand::Rng,
    s: &Sent,
    now: Millis,
) -> (ClaimIn, Option<bool>) {
    let g = &cfg.genuine;
    let age_h = (now - s.at) as f64 / HOUR as f64;
    let err = (rng.f64() * 2.0 - 1.0) * g.time_error_mins_per_hour * age_h * MIN as f64;
    let channel = if s.channel != "sms" && rng.f64() < g.channel_confused {
        "sms"
    } else {
        s.channel
    };
    let mut mentions = MentionsIn::default();
    let mut exact = None;
    if s.kind == Kind::CardAlert {
        let is_exact = rng.f64() < g.amount_exact;
        let said = if is_exact {
            s.amount_minor
        } else if rng.bool() {
            // Rounded: to the dollar, or to the ten above $100.
            let unit = if s.amount_minor >= 10_000 && rng.bool() {
                1_000
            } else {
                100
            };
            ((s.amount_minor + unit / 2) / unit * unit).max(unit)
        } else {
            // Off by 5–20%.
            let f = 1.0 + (rng.f64() * 0.15 + 0.05) * if rng.bool() { 1.0 } else { -1.0 };
            (s.amount_minor as f64 * f) as i64
        };
        mentions.amount = Some(Value::String(format!("${}", money(said))));
        mentions.merchant = Some(
            if rng.f64() < g.merchant_differs {
                MERCHANTS[s.merchant].1
            } else {
                MERCHANTS[s.merchant].0
            }
            .into(),
        );
        if rng.f64() < 0.3 {
            mentions.card_last4 = Some(format!("{:04}", s.card));
        }
        exact = Some(is_exact);
    }
    (
        ClaimIn {
            customer_id: None,
            channel: Some(channel.into()),
            received_at: Some(format_time(s.at + err as Millis)),
            sender_seen: None,
            mentions,
        },
        exact,
    )
}

/// The deliberately obvious scenario: every attacker cites, with its time and sender, a card
/// alert that never existed; full Countersign must flag every one.
pub fn sanity_config() -> SimConfig {
    let mut cfg = SimConfig {
        customers: 500,
        days: 7,
        calls: 3_000,
        base_rate: 0.02,
        ..SimConfig::default()
    };
    cfg.fraud.tier_shares = [0.0, 0.0, 1.0];
    cfg.fraud.cite_share = 1.0;
    cfg.campaigns.count = 3;
    cfg.campaigns.targets_per_campaign = 200;
    cfg.campaigns.report_rate = 0.0;
    cfg
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// |observed − p| within 4.5 standard errors of a share drawn `n` times.
    fn near(what: &str, hits: usize, n: usize, p: f64) {
        let obs = hits as f64 / n as f64;
        let tol = 4.5 * (p * (1.0 - p) / n as f64).sqrt() + 1e-9;
        assert!(
            (obs - p).abs() <= tol,
            "{what}: {obs:.4} against {p} (n = {n}, tolerance {tol:.4})"
        );
    }

    fn calls(w: &World) -> Vec<&SimCall> {
        w.events
            .iter()
            .filter_map(|e| match e {
                Event::Call(c) => Some(&**c),
                Event::Report(..) => None,
            })
            .collect()
    }

    const END: Millis = 1_790_000_000_000;

    fn world() -> (SimConfig, World) {
        let cfg = SimConfig {
            customers: 4_000,
            days: 20,
            calls: 40_000,
            base_rate: 0.02,
            ..SimConfig::default()
        };
        let w = World::generate(&cfg, 42, END);
        (cfg, w)
    }

    #[test]
    fn customers_and_their_notifications_follow_the_configuration() {
        let (cfg, w) = world();
        near(
            "customers with two numbers",
            w.customers.iter().filter(|c| c.phones.len() == 2).count(),
            cfg.customers,
            cfg.customer.two_numbers,
        );
        near(
            "customers with the app",
            w.customers.iter().filter(|c| c.app).count(),
            cfg.customers,
            cfg.customer.app_installed,
        );
        // Poisson: the total over customer-days has variance equal to its mean.
        let n = &cfg.notifications;
        let rate =
            n.card_alerts_per_day + n.otps_per_day + n.deliveries_per_day + n.statements_per_day;
        let expected = rate * (cfg.customers * cfg.days as usize) as f64;
        let total: usize = w.sent.iter().map(Vec::len).sum();
        assert!(
            (total as f64 - expected).abs() <= 4.5 * expected.sqrt(),
            "{total} notifications against {expected:.0}"
        );
        for s in w.sent.iter().flatten() {
            assert!(s.at >= w.start && s.at < w.end);
        }
    }

    #[test]
    fn calls_follow_the_configuration() {
        let (cfg, w) = world();
        let all = calls(&w);
        assert_eq!(all.len(), cfg.calls);
        let frauds: Vec<&&SimCall> = all.iter().filter(|c| c.truth.fraud).collect();
        assert_eq!(
            frauds.len(),
            (cfg.calls as f64 * cfg.base_rate).round() as usize
        );
        let genuine: Vec<&&SimCall> = all.iter().filter(|c| !c.truth.fraud).collect();
        let ani = |c: &SimCall| c.call.ani.clone().unwrap();
        near(
            "genuine callers withholding",
            genuine.iter().filter(|c| ani(c) == "anonymous").count(),
            genuine.len(),
            cfg.genuine.withheld,
        );
        let shown: Vec<&&&SimCall> = genuine.iter().filter(|c| ani(c) != "anonymous").collect();
        let on_file = shown
            .iter()
            .filter(|c| {
                let who: usize = c.call.customer_id.as_deref().unwrap()[4..].parse().unwrap();
                w.customers[who].phones.contains(&ani(c))
            })
            .count();
        near(
            "genuine calls from a number on file",
            on_file,
            shown.len(),
            cfg.genuine.from_number_on_file,
        );
        near(
            "genuine calls unsigned",
            genuine
                .iter()
                .filter(|c| c.call.attestation.is_none())
                .count(),
            genuine.len(),
            cfg.genuine.unsigned,
        );
        near(
            "fraud calls withholding",
            frauds.iter().filter(|c| ani(c) == "anonymous").count(),
            frauds.len(),
            cfg.fraud.withheld,
        );
        near(
            "fraudsters passing KBA",
            frauds.iter().filter(|c| c.truth.kba_pass).count(),
            frauds.len(),
            cfg.kba.fraud_pass,
        );
        let exact: Vec<bool> = genuine
            .iter()
            .filter_map(|c| c.truth.amount_exact)
            .collect();
        near(
            "genuine citers exact on the amount",
            exact.iter().filter(|e| **e).count(),
            exact.len(),
            cfg.genuine.amount_exact,
        );
    }

    #[test]
    fn attackers_call_after_their_text_and_t2_quotes_it_early() {
        let (_, w) = world();
        let texts: std::collections::HashMap<usize, Vec<Millis>> = w
            .campaigns
            .iter()
            .flat_map(|c| c.recipients.iter().copied())
            .fold(Default::default(), |mut m, (who, at)| {
                m.entry(who).or_default().push(at);
                m
            });
        let mut t2 = 0;
        for c in calls(&w)
            .into_iter()
            .filter(|c| c.truth.fraud && c.truth.tier != Some(0))
        {
            let who: usize = c.call.customer_id.as_deref().unwrap()[4..].parse().unwrap();
            let got = &texts[&who];
            assert!(
                got.iter().any(|t| *t < c.at),
                "a T1/T2 call comes after a fake text"
            );
            if let (Some(2), Some((claim, secs))) = (c.truth.tier, &c.claim) {
                t2 += 1;
                assert!((5..25).contains(secs), "early: {secs}");
                assert!(claim.received_at.is_some() && claim.sender_seen.is_some());
                assert!(got.iter().any(|t| c.at - t <= 20 * MIN && c.at > *t));
            }
        }
        assert!(t2 > 0);
    }

    #[test]
    fn a_set_delay_puts_every_t1_and_t2_call_that_long_after_a_fake_text() {
        let mut cfg = SimConfig {
            customers: 2_000,
            days: 20,
            calls: 20_000,
            base_rate: 0.02,
            ..SimConfig::default()
        };
        cfg.fraud.delay_mins = Some([1_440, 4_320]);
        let w = World::generate(&cfg, 9, END);
        let mut texts: std::collections::HashMap<usize, Vec<Millis>> = Default::default();
        for (who, at) in w
            .campaigns
            .iter()
            .flat_map(|c| c.recipients.iter().copied())
        {
            texts.entry(who).or_default().push(at);
        }
        let late = calls(&w)
            .into_iter()
            .filter(|c| c.truth.fraud && c.truth.tier != Some(0))
            .map(|c| {
                let who: usize = c.call.customer_id.as_deref().unwrap()[4..].parse().unwrap();
                let ok = texts[&who]
                    .iter()
                    .any(|t| (DAY..=3 * DAY).contains(&(c.at - t)));
                assert!(ok, "call at {} not 1–3 days after a fake text", c.at);
            })
            .count();
        assert!(late > 200, "{late}");
    }

    #[test]
    fn a_seed_gives_the_same_world_and_events_are_in_time_order() {
        let cfg = SimConfig {
            customers: 300,
            calls: 2_000,
            ..SimConfig::default()
        };
        let a = World::generate(&cfg, 7, END);
        let b = World::generate(&cfg, 7, END);
        let ids = |w: &World| {
            w.events
                .iter()
                .map(|e| match e {
                    Event::Call(c) => format!(
                        "{}{:?}{:?}",
                        c.at,
                        c.call.ani,
                        c.claim.as_ref().map(|x| x.1)
                    ),
                    Event::Report(at, r) => format!("{at}{:?}", r.body),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&World::generate(&cfg, 8, END)));
        assert!(a.events.windows(2).all(|p| p[0].at() <= p[1].at()));
    }
}
