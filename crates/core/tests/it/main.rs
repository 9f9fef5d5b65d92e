//! The core crate's one integration-test binary: the data-driven suites that read the corpora in
//! `tests/corpus/` — claim verification as callers phrase it, and the sender-ID audit.
#![allow(clippy::unwrap_used)]

mod sender_audit;
mod verify_corpus;
