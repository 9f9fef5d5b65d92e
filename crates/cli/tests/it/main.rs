//! The CLI crate's one integration-test binary: the real `countersign` binary (and the server
//! it runs) driven end to end, one module per area. One binary links once, instead of seven
//! times, after every edit.
#![allow(clippy::unwrap_used)]

mod common;

mod adapters;
mod api;
mod browser;
mod calls;
mod campaign_state;
mod campaigns;
mod cli;
mod connections;
mod console;
mod contract;
mod customers;
mod exercises;
#[cfg(feature = "kafka")]
mod kafka;
mod oidc;
mod postgres;
mod simulate;
mod sms;
mod stir;
mod text_checks;
mod tidy;
mod tls;
// The HTTPS `x5u` host `bench --only stir` uses, shared with the STIR tests.
#[path = "../../src/x5u_host.rs"]
mod x5u_host;
