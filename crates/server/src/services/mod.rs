//! Services: state and logic shared by several resources' handlers, held in `AppState` and
//! rebuilt at start. Handlers call services; services never call handlers.

pub mod calls;
pub mod campaigns;
pub mod exercises;
pub mod feeds;
pub mod shared;
