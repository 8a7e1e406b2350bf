//! Sentry: the agent that watches capsules. Its events (`event`), the rules that find
//! anomalies in them and the actions its policy takes, and the event log that keeps them.
//! Plain data and functions: the compositor feeds it and carries out its actions.

pub mod event;
pub mod log;
pub mod rules;
pub mod thresholds;
mod watcher;

pub use event::{ActionKind, AnomalyKind, Event, EventKind, Sample, Severity};
pub use rules::{Finding, Rules};
pub use thresholds::{Policy, Thresholds};
