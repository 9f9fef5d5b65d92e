//! The simulated world's parameters (TOML, unknown keys rejected), each default a published
//! figure with its source or marked arbitrary; [`SimConfig::sources`] lists them for the report.

use serde::{Deserialize, Serialize};

/// Everything `countersign simulate` draws from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    pub customers: usize,
    pub days: u32,
    pub calls: usize,
    /// Fraud calls per call.
    pub base_rate: f64,
    pub customer: CustomerConfig,
    pub notifications: NotificationConfig,
    pub genuine: GenuineConfig,
    pub fraud: FraudConfig,
    pub campaigns: CampaignConfig,
    pub kba: KbaConfig,
    pub cost: CostConfig,
    pub sweep: SweepConfig,
}

/// The values `simulate --sweep` runs, one re-drawn run each with the rest as configured:
/// what no one has published. Defaults are issue #13's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepConfig {
    /// Shares of attacker calls (T1, T2) citing the fake text.
    pub cite_shares: Vec<f64>,
    /// Fraud calls per call.
    pub base_rates: Vec<f64>,
    /// Minutes from the fake text to the attacker's call, each an inclusive range.
    pub delay_mins: Vec<[i64; 2]>,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            cite_shares: vec![0.1, 0.3, 0.6, 0.9],
            base_rates: vec![1.0 / 2_500.0, 1.0 / 961.0, 1.0 / 599.0],
            delay_mins: vec![[1, 20], [60, 360], [1_440, 4_320], [4_320, 10_080]],
        }
    }
}

/// A delay range in words: "1–20 minutes", "1–6 hours", "3–7 days".
pub fn delay_words([lo, hi]: [i64; 2]) -> String {
    for (unit, mins) in [("days", 1_440), ("hours", 60)] {
        if lo % mins == 0 && hi % mins == 0 {
            return format!("{}–{} {unit}", lo / mins, hi / mins);
        }
    }
    format!("{lo}–{hi} minutes")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CustomerConfig {
    pub two_numbers: f64,
    pub international_number: f64,
    pub app_installed: f64,
}

/// Genuine notifications per customer per day, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationConfig {
    pub card_alerts_per_day: f64,
    /// Card alerts sent as push when the app is installed.
    pub card_alert_push_share: f64,
    pub otps_per_day: f64,
    pub deliveries_per_day: f64,
    pub statements_per_day: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenuineConfig {
    /// Calls from a number on file.
    pub from_number_on_file: f64,
    /// Attestation of ordinary traffic: unsigned, A, B (C is the rest).
    pub unsigned: f64,
    pub attest_a: f64,
    pub attest_b: f64,
    pub international: f64,
    pub voip: f64,
    pub withheld: f64,
    /// Genuine callers who cite a notification they really got.
    pub cite_share: f64,
    /// The amount said exactly; otherwise rounded or off.
    pub amount_exact: f64,
    /// The merchant said differently from the descriptor.
    pub merchant_differs: f64,
    /// A push or e-mail called "a text".
    pub channel_confused: f64,
    /// Remembered time's error per hour of the notification's age (minutes).
    pub time_error_mins_per_hour: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FraudConfig {
    /// Shares of tiers T0 (cold), T1 (knows the fake text), T2 (quotes it and its time, early).
    pub tier_shares: [f64; 3],
    /// Attacker calls (T1, T2) that cite the fake text.
    pub cite_share: f64,
    pub international: f64,
    pub voip: f64,
    pub withheld: f64,
    /// Calls spoofing the customer's own number.
    pub spoof_own_number: f64,
    /// Unsigned share of fraud calls that are not withheld (the rest C).
    pub unsigned: f64,
    /// Accounts each fraudster works (inclusive range).
    pub accounts_per_fraudster: [usize; 2],
    /// Numbers each fraudster calls from.
    pub numbers_per_fraudster: usize,
    /// Minutes between the fake text and the attacker's call, inclusive range, for tiers T1 and
    /// T2. Unset (the default): T2 calls 1–20 minutes after it, T1 within hours of a genuine
    /// text that followed it. What no one has published: `simulate --sweep` varies it.
    pub delay_mins: Option<[i64; 2]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignConfig {
    pub count: usize,
    pub targets_per_campaign: usize,
    /// Recipients who respond to a smish.
    pub response_rate: f64,
    /// Recipients who report it (7726 or the app).
    pub report_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KbaConfig {
    pub fraud_pass: f64,
    pub genuine_fail: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostConfig {
    /// A genuine caller sent to a call-back (agent and customer time), in dollars.
    pub false_flag: f64,
    /// A fraud call let through (the average loss), in dollars.
    pub miss: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            customers: 100_000,
            days: 30,
            calls: 1_000_000,
            base_rate: 1.0 / 599.0,
            customer: CustomerConfig::default(),
            notifications: NotificationConfig::default(),
            genuine: GenuineConfig::default(),
            fraud: FraudConfig::default(),
            campaigns: CampaignConfig::default(),
            kba: KbaConfig::default(),
            cost: CostConfig::default(),
            sweep: SweepConfig::default(),
        }
    }
}

impl Default for CustomerConfig {
    fn default() -> Self {
        CustomerConfig {
            two_numbers: 0.15,
            international_number: 0.03,
            app_installed: 0.6,
        }
    }
}

impl Default for NotificationConfig {
    fn default() -> Self {
        NotificationConfig {
            card_alerts_per_day: 0.4,
            card_alert_push_share: 0.5,
            otps_per_day: 0.15,
            deliveries_per_day: 0.1,
            statements_per_day: 1.0 / 30.0,
        }
    }
}

impl Default for GenuineConfig {
    fn default() -> Self {
        GenuineConfig {
            from_number_on_file: 0.85,
            unsigned: 0.5,
            attest_a: 0.33,
            attest_b: 0.12,
            international: 0.066,
            voip: 0.078,
            withheld: 0.05,
            cite_share: 0.2,
            amount_exact: 0.45,
            merchant_differs: 0.42,
            channel_confused: 0.1,
            time_error_mins_per_hour: 6.0,
        }
    }
}

impl Default for FraudConfig {
    fn default() -> Self {
        FraudConfig {
            tier_shares: [0.3, 0.4, 0.3],
            cite_share: 0.6,
            international: 0.64,
            voip: 0.53,
            withheld: 0.43,
            spoof_own_number: 0.1,
            unsigned: 0.6,
            accounts_per_fraudster: [5, 10],
            numbers_per_fraudster: 2,
            delay_mins: None,
        }
    }
}

impl Default for CampaignConfig {
    fn default() -> Self {
        CampaignConfig {
            count: 12,
            targets_per_campaign: 3_000,
            response_rate: 0.17,
            report_rate: 0.03,
        }
    }
}

impl Default for KbaConfig {
    fn default() -> Self {
        KbaConfig {
            fraud_pass: 0.53,
            genuine_fail: 0.2,
        }
    }
}

impl Default for CostConfig {
    fn default() -> Self {
        CostConfig {
            false_flag: 6.0,
            miss: 2_000.0,
        }
    }
}

impl SimConfig {
    /// Every problem with the parameters, at once.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let shares = [
            ("base_rate", self.base_rate),
            ("customer.two_numbers", self.customer.two_numbers),
            (
                "customer.international_number",
                self.customer.international_number,
            ),
            ("customer.app_installed", self.customer.app_installed),
            (
                "genuine.from_number_on_file",
                self.genuine.from_number_on_file,
            ),
            ("genuine.international", self.genuine.international),
            ("genuine.voip", self.genuine.voip),
            ("genuine.withheld", self.genuine.withheld),
            ("genuine.cite_share", self.genuine.cite_share),
            ("genuine.amount_exact", self.genuine.amount_exact),
            ("genuine.merchant_differs", self.genuine.merchant_differs),
            ("genuine.channel_confused", self.genuine.channel_confused),
            ("fraud.cite_share", self.fraud.cite_share),
            ("fraud.international", self.fraud.international),
            ("fraud.voip", self.fraud.voip),
            ("fraud.withheld", self.fraud.withheld),
            ("fraud.spoof_own_number", self.fraud.spoof_own_number),
            ("fraud.unsigned", self.fraud.unsigned),
            ("campaigns.response_rate", self.campaigns.response_rate),
            ("campaigns.report_rate", self.campaigns.report_rate),
            ("kba.fraud_pass", self.kba.fraud_pass),
            ("kba.genuine_fail", self.kba.genuine_fail),
        ];
        for (name, v) in shares {
            if !(0.0..=1.0).contains(&v) {
                out.push(format!("{name} is a share between 0 and 1, not {v}"));
            }
        }
        let g = &self.genuine;
        if g.unsigned + g.attest_a + g.attest_b > 1.0 {
            out.push("genuine.unsigned + attest_a + attest_b exceed 1".into());
        }
        if (self.fraud.tier_shares.iter().sum::<f64>() - 1.0).abs() > 1e-9 {
            out.push("fraud.tier_shares must add up to 1".into());
        }
        if self.customers == 0 || self.days == 0 || self.calls == 0 {
            out.push("customers, days and calls must be positive".into());
        }
        let [lo, hi] = self.fraud.accounts_per_fraudster;
        if lo == 0 || lo > hi || self.fraud.numbers_per_fraudster == 0 {
            out.push("fraud.accounts_per_fraudster is [low, high] with 1 ≤ low ≤ high, and numbers_per_fraudster ≥ 1".into());
        }
        if let Some(d) = self.fraud.delay_mins {
            out.extend(self.delay_problem("fraud.delay_mins", d));
        }
        if self.campaigns.count == 0 || self.campaigns.targets_per_campaign == 0 {
            out.push("campaigns.count and targets_per_campaign must be positive".into());
        }
        out
    }

    fn delay_problem(&self, name: &str, [lo, hi]: [i64; 2]) -> Option<String> {
        (lo < 1 || lo > hi || hi >= i64::from(self.days) * 24 * 60).then(|| format!("{name}: [{lo}, {hi}] is not [low, high] minutes with 1 ≤ low ≤ high and high shorter than the world's {} days", self.days))
    }

    /// Why `--sweep` cannot run the `[sweep]` values on this world: shares out of range, delays
    /// longer than the world, a base rate that gives it no fraud call.
    pub fn sweep_problems(&self) -> Vec<String> {
        let sw = &self.sweep;
        let mut out: Vec<String> = sw
            .delay_mins
            .iter()
            .filter_map(|d| self.delay_problem("sweep.delay_mins", *d))
            .collect();
        for (name, v) in sw
            .cite_shares
            .iter()
            .map(|v| ("sweep.cite_shares", v))
            .chain(sw.base_rates.iter().map(|v| ("sweep.base_rates", v)))
        {
            if !(0.0..=1.0).contains(v) {
                out.push(format!("{name}: each is a share between 0 and 1, not {v}"));
            }
        }
        let mut rates = sw.base_rates.clone();
        if !sw.cite_shares.is_empty() || !sw.delay_mins.is_empty() {
            rates.push(self.base_rate);
        }
        out.extend(
            rates
                .into_iter()
                .filter(|r| (self.calls as f64 * r).round() < 1.0)
                .map(|r| format!("a base rate of {r} gives {} calls no fraud call: sweep more calls or set [sweep] base_rates", self.calls)),
        );
        out
    }

    /// Each parameter, its value and where it comes from (the report's table).
    pub fn sources(&self) -> Vec<(&'static str, String, &'static str)> {
        let g = &self.genuine;
        let f = &self.fraud;
        vec![
            ("base_rate", format!("1 in {:.0}", 1.0 / self.base_rate), "issue #13's default base rate (1 fraud call in 599), the published contact-centre figure it cites"),
            ("genuine.unsigned / attest_a", format!("{} / {}", g.unsigned, g.attest_a), "issue #13: ordinary traffic about half unsigned, about a third attested A"),
            ("genuine.international", g.international.to_string(), "Pindrop (as cited in issue #13): 6.6% of genuine calls international"),
            ("fraud.international", f.international.to_string(), "Pindrop (as cited in issue #13): 64% of fraud calls international"),
            ("genuine.voip", g.voip.to_string(), "Pindrop (as cited in issue #13): 7.8% of genuine calls from VoIP"),
            ("fraud.voip", f.voip.to_string(), "Pindrop (as cited in issue #13): 53% of fraud calls from VoIP"),
            ("fraud.withheld", f.withheld.to_string(), "Smartnumbers: 43% of fraud calls withhold the number"),
            ("genuine.amount_exact", g.amount_exact.to_string(), "issue #13: amounts recalled exactly about 45% of the time"),
            ("genuine.merchant_differs", g.merchant_differs.to_string(), "issue #13: merchant said differently 27–58% of the time (mid-range)"),
            ("campaigns.response_rate", self.campaigns.response_rate.to_string(), "issue #13: about 17% of smish recipients respond"),
            ("kba.fraud_pass", self.kba.fraud_pass.to_string(), "Pindrop: fraudsters pass knowledge-based questions 53% of the time"),
            ("kba.genuine_fail", self.kba.genuine_fail.to_string(), "Gartner: genuine callers fail KBA 10–33% (mid-range)"),
            ("fraud.accounts_per_fraudster", format!("{:?}", f.accounts_per_fraudster), "issue #13: one fraudster works 5–10 accounts"),
            ("fraud.tier_shares", format!("{:?}", f.tier_shares), "arbitrary"),
            ("fraud.cite_share", f.cite_share.to_string(), "arbitrary (unpublished: swept)"),
            ("fraud.delay_mins", f.delay_mins.map_or("T2 1–20 minutes; T1 hours after a genuine text".into(), delay_words), "arbitrary (unpublished: swept)"),
            ("genuine.cite_share", g.cite_share.to_string(), "arbitrary"),
            ("genuine.from_number_on_file", g.from_number_on_file.to_string(), "arbitrary"),
            ("genuine.withheld", g.withheld.to_string(), "arbitrary"),
            ("genuine.channel_confused", g.channel_confused.to_string(), "arbitrary"),
            ("notifications (per customer per day)", format!("card {} · OTP {} · delivery {} · statement {:.3}", self.notifications.card_alerts_per_day, self.notifications.otps_per_day, self.notifications.deliveries_per_day, self.notifications.statements_per_day), "arbitrary"),
            ("campaigns.report_rate", self.campaigns.report_rate.to_string(), "arbitrary"),
            ("fraud.spoof_own_number", f.spoof_own_number.to_string(), "arbitrary"),
            ("cost.false_flag / cost.miss", format!("${} / ${}", self.cost.false_flag, self.cost.miss), "arbitrary"),
        ]
    }
}
