//! The store contract: behaviour every [`Store`] backend must show, written once, one file per
//! table group (as the trait is). Compiled only with the `testsuite` feature. A backend's
//! test file runs all of it with [`crate::store_contract_tests!`], giving a fresh store per test.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use countersign_core::{Channel, DeliveryStatus, Facts, Millis, Money, Notification};

use crate::Store;

/// 2026-06-03T12:00:00Z.
pub const T0: Millis = 1_780_488_000_000;
const MIN: Millis = 60_000;
const HOUR: Millis = 3_600_000;

mod alerts;
mod audit;
mod calls;
mod campaigns;
mod checks;
mod console;
mod customers;
mod exercises;
mod ledger;
pub mod pg;
mod registry;

pub use alerts::*;
pub use audit::*;
pub use calls::*;
pub use campaigns::*;
pub use checks::*;
pub use console::*;
pub use customers::*;
pub use exercises::*;
pub use ledger::*;
pub use registry::*;

/// A realistic notification for tests.
pub fn note(source: &str, id: &str, customer: &str, sent_at: Millis) -> Notification {
    Notification {
        source: source.into(),
        id: id.into(),
        customer_id: customer.into(),
        channel: Channel::Sms,
        sender: Some("ACMEBANK".into()),
        recipient: Some("+14155550100".into()),
        sent_at,
        category: Some("card_auth".into()),
        template_id: Some("card-auth-v3".into()),
        facts: Facts {
            amount: Some(Money {
                minor: 47999,
                currency: Some("USD".into()),
            }),
            merchant: Some("BESTBUY #1123".into()),
            card_last4: Some("1123".into()),
            ..Default::default()
        },
        body: Some("ACME: Did you authorise $479.99 at BESTBUY #1123? Reply Y/N".into()),
        body_mac: Some([7u8; 16]),
        status: DeliveryStatus::Sent,
    }
}

fn call(id: &str, cust: Option<&str>, ani: &str, at: Millis) -> crate::CallRecord {
    crate::CallRecord {
        call_id: id.into(),
        customer_id: cust.map(str::to_string),
        ani: ani.into(),
        started_at: at,
        doc: "{}".into(),
    }
}

/// Generates one `#[tokio::test]` per contract case. `$make` is an async expression giving
/// `(store, guard)`: a fresh, empty store and whatever must live as long as it (a temp dir).
#[macro_export]
macro_rules! store_contract_tests {
    (@cases $how:ident $make:expr) => {
        $crate::store_contract_tests!(@ $how $make;
            ingest_outcomes, facts_only_round_trip, status_updates, watermarks_and_sources, records_before_complete,
            customer_timeline, ledger_view, purge, audit_log, source_activity, concurrent_ingest, brands, profiles, calls, call_context, velocity, scored_and_stored, surge_by_hours, smish_reports, report_order, alerts_and_outbox, sms_kinds, console_sessions, text_checks, exercise_purge);
    };
    (@each $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $make.await;
                $crate::contract::$case(&*store).await;
            }
        )*
    };
    (@maybe $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some((store, _guard)) = $make.await else { return };
                $crate::contract::$case(&*store).await;
            }
        )*
    };
    // `$make` gives `Option<(store, guard)>`: `None` when the backend's server is not there
    // (outside CI only — see [`pg::TestDb`]); the case then passes, having said it skipped.
    (optional $make:expr) => {
        $crate::store_contract_tests!(@cases maybe $make);
    };
    ($make:expr) => {
        $crate::store_contract_tests!(@cases each $make);
    };
}
