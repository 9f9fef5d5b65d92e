//! Domain types shared by every crate: channels, delivery status, extracted facts and the
//! validated notification record. Plain data only — no IO, no clock.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Milliseconds since the Unix epoch (UTC). Every time in the core is one of these, passed in.
pub type Millis = i64;

/// The channel a notification went out on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Push,
    Email,
    Voice,
    InApp,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Sms,
        Channel::Push,
        Channel::Email,
        Channel::Voice,
        Channel::InApp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Push => "push",
            Channel::Email => "email",
            Channel::Voice => "voice",
            Channel::InApp => "in_app",
        }
    }

    /// Stable small integer used by storage backends (never reorder).
    pub fn code(self) -> i64 {
        match self {
            Channel::Sms => 1,
            Channel::Push => 2,
            Channel::Email => 3,
            Channel::Voice => 4,
            Channel::InApp => 5,
        }
    }

    pub fn from_code(code: i64) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Bit used in a source's "channels it sends on" mask.
    pub fn bit(self) -> i64 {
        1 << self.code()
    }

    /// What a person calls it, with its article ("a text message", "an email").
    pub fn spoken_a(self) -> &'static str {
        match self {
            Channel::Sms => "a text message",
            Channel::Push => "an app notification",
            Channel::Email => "an email",
            Channel::Voice => "an automated call",
            Channel::InApp => "an in-app message",
        }
    }

    /// What a person calls it ("text message", "email").
    pub fn spoken(self) -> &'static str {
        match self {
            Channel::Sms => "text message",
            Channel::Push => "app notification",
            Channel::Email => "email",
            Channel::Voice => "automated call",
            Channel::InApp => "in-app message",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "sms" | "text" | "mms" => Ok(Channel::Sms),
            "push" => Ok(Channel::Push),
            "email" | "e_mail" => Ok(Channel::Email),
            "voice" | "call" => Ok(Channel::Voice),
            "in_app" | "inapp" => Ok(Channel::InApp),
            _ => Err(()),
        }
    }
}

/// Delivery status of a notification, as the producer reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
    /// A voice call that is over (hung up, completed, not answered): no longer in progress.
    Ended,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Ended => "ended",
        }
    }
    pub fn code(self) -> i64 {
        match self {
            DeliveryStatus::Queued => 0,
            DeliveryStatus::Sent => 1,
            DeliveryStatus::Delivered => 2,
            DeliveryStatus::Read => 3,
            DeliveryStatus::Failed => 4,
            DeliveryStatus::Ended => 5,
        }
    }
    pub fn from_code(code: i64) -> Option<DeliveryStatus> {
        [
            DeliveryStatus::Queued,
            DeliveryStatus::Sent,
            DeliveryStatus::Delivered,
            DeliveryStatus::Read,
            DeliveryStatus::Failed,
            DeliveryStatus::Ended,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

impl FromStr for DeliveryStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "queued" | "accepted" | "pending" => Ok(DeliveryStatus::Queued),
            "sent" => Ok(DeliveryStatus::Sent),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "read" | "opened" => Ok(DeliveryStatus::Read),
            "failed" | "undelivered" | "bounced" | "rejected" => Ok(DeliveryStatus::Failed),
            "ended" | "completed" | "hung_up" | "no_answer" | "busy" => Ok(DeliveryStatus::Ended),
            _ => Err(()),
        }
    }
}

/// An amount of money in minor units (cents), with its currency when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Money {
    /// Minor units (1/100 of the currency unit).
    pub minor: i64,
    /// ISO 4217 code when the text or producer said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let sym = match self.currency.as_deref() {
            Some("USD") | None => "$",
            Some("GBP") => "£",
            Some("EUR") => "€",
            Some(other) => return write!(f, "{sign}{} {}.{:02}", other, abs / 100, abs % 100),
        };
        write!(f, "{sign}{sym}{}.{:02}", abs / 100, abs % 100)
    }
}

/// The facts a notification carried, from the producer's variables or extracted from the body.
/// These are what a caller's cues are matched against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Facts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_last4: Option<String>,
    /// Phone numbers in the message, E.164.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub callback_numbers: Vec<String>,
    /// Registrable domains of links in the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// Other producer variables, kept verbatim (strings only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

impl Facts {
    /// Fill every empty field of `self` from `other` (producer facts win over extraction).
    pub fn fill_from(&mut self, other: Facts) {
        if self.amount.is_none() {
            self.amount = other.amount;
        }
        if self.merchant.is_none() {
            self.merchant = other.merchant;
        }
        if self.card_last4.is_none() {
            self.card_last4 = other.card_last4;
        }
        if self.callback_numbers.is_empty() {
            self.callback_numbers = other.callback_numbers;
        }
        if self.domains.is_empty() {
            self.domains = other.domains;
        }
        if self.code.is_none() {
            self.code = other.code;
        }
        if self.tracking_number.is_none() {
            self.tracking_number = other.tracking_number;
        }
    }
}

/// Length of the keyed body hash kept in `facts_only` mode (128 bits: exact-text matching only).
pub const BODY_MAC_LEN: usize = 16;

/// A validated notification, ready to store. Built only by [`crate::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub source: String,
    pub id: String,
    pub customer_id: String,
    pub channel: Channel,
    pub sender: Option<String>,
    pub recipient: Option<String>,
    pub sent_at: Millis,
    pub category: Option<String>,
    pub template_id: Option<String>,
    pub facts: Facts,
    /// Present only when body retention is `full`.
    pub body: Option<String>,
    /// Keyed hash of the normalised body (both retention modes), for exact-text matching.
    pub body_mac: Option<[u8; BODY_MAC_LEN]>,
    pub status: DeliveryStatus,
}

impl Notification {
    /// True when `other` is the same record content (status aside): a retry, not a conflict.
    pub fn same_content(&self, other: &Notification) -> bool {
        self.source == other.source
            && self.id == other.id
            && self.customer_id == other.customer_id
            && self.channel == other.channel
            && self.sender == other.sender
            && self.recipient == other.recipient
            && self.sent_at == other.sent_at
            && self.category == other.category
            && self.template_id == other.template_id
            && self.facts == other.facts
            && self.body_mac == other.body_mac
    }
}

/// A stored notification as read back, with the store's bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNotification {
    pub record: Notification,
    /// When the ledger acknowledged it.
    pub acked_at: Millis,
    /// When the status last changed (initially `sent_at`: the record states its status as of sending).
    pub status_at: Millis,
}

/// A delivery-status update, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub source: String,
    pub id: String,
    pub status: DeliveryStatus,
    pub at: Millis,
}

/// What the ledger knows about one source's feed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceState {
    pub source: String,
    /// Bit mask of [`Channel::bit`] for the channels this source has sent on.
    pub channels_mask: i64,
    /// "Everything I sent up to this time has been delivered to you", as declared.
    pub declared_watermark: Option<Millis>,
    /// When the declared watermark was last received.
    pub watermark_updated_at: Option<Millis>,
    /// The earliest time from which this source's record is complete, as declared; else the
    /// time of its first acknowledged record.
    pub complete_since: Option<Millis>,
    pub first_acked_at: Option<Millis>,
    pub last_acked_at: Option<Millis>,
    pub last_sent_at: Option<Millis>,
    pub records_total: i64,
    /// Records kept whose `sent_at` is before the record is complete (a backfill, typically):
    /// they can confirm a claim, never support `not_sent`.
    pub records_before_complete: i64,
    /// The earliest `sent_at` this source has sent (a purge does not move it).
    pub first_sent_at: Option<Millis>,
    /// The latest `sent_at` a *derived* watermark may reach whatever the newest record says —
    /// set by the server, never stored: with Kafka input, the time up to which every
    /// partition's messages are stored and committed (a partition still behind may hold
    /// older records than the newest seen elsewhere).
    pub derived_cap: Option<Millis>,
}

impl SourceState {
    /// Whether a record sent at `sent_at` lies before this source's record is complete (the
    /// declared `complete_since`, else the first acknowledgement; see `verify::freshness`).
    pub fn before_complete(&self, sent_at: Millis) -> bool {
        self.complete_since
            .or(self.first_acked_at)
            .is_some_and(|cs| sent_at < cs)
    }

    /// Count a newly stored record of this source, acknowledged at `acked_at`: its channel,
    /// first and last times, totals (every backend keeps source state by this one rule).
    pub fn record_accepted(&mut self, channel: Channel, sent_at: Millis, acked_at: Millis) {
        self.channels_mask |= channel.bit();
        self.first_acked_at = Some(self.first_acked_at.map_or(acked_at, |v| v.min(acked_at)));
        self.last_acked_at = Some(self.last_acked_at.map_or(acked_at, |v| v.max(acked_at)));
        self.last_sent_at = Some(self.last_sent_at.map_or(sent_at, |v| v.max(sent_at)));
        self.first_sent_at = Some(self.first_sent_at.map_or(sent_at, |v| v.min(sent_at)));
        self.records_total += 1;
        if self.before_complete(sent_at) {
            self.records_before_complete += 1;
        }
    }

    pub fn sends_on(&self, channel: Channel) -> bool {
        self.channels_mask & channel.bit() != 0
    }
    pub fn channels(&self) -> Vec<Channel> {
        Channel::ALL
            .into_iter()
            .filter(|c| self.sends_on(*c))
            .collect()
    }
}
