//! The paired-pattern simulator's pure half: the world drawn from a seed ([`world`]), its
//! parameters with their sources ([`config`]), the detection metrics ([`metrics`]) and the
//! report they make ([`report`]). The CLI's `simulate` command runs the world through the real
//! server code and hands the scores back here.

pub mod config;
pub mod metrics;
pub mod report;
pub mod world;

pub use config::SimConfig;
pub use world::World;
