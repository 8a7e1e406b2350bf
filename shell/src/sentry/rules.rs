//! The rules: events and resource samples in, anomalies (with the action the policy decides)
//! out. One state machine per capsule; time is whatever the inputs carry (`Event::time_ms`,
//! `Sample::time_ms`), so the rules are deterministic and testable. See `docs/sentry.md`.
//!
//! The compositor:
//! 1. calls [`Rules::configure`] for every manifest it loads (defaults otherwise);
//! 2. feeds every event it records to [`Rules::observe`] — lifecycle, `oom_kill`,
//!    `unresponsive`, `refused`, `control_refused`, `flood`; Sentry's own `anomaly` and
//!    `action` events are ignored, so feeding everything is safe — and every sample to
//!    [`Rules::sample`];
//! 3. records each [`Finding`] as an `anomaly` event ([`Finding::anomaly_event`]) with its
//!    severity, carries out its action and records that ([`Finding::action_event`]);
//! 4. samples a capsule once a second while [`Rules::wants_samples`] says so (or a person
//!    watches), and tells [`Rules::responsive`] when a window answers a ping again.
//!
//! A requested stop's exit is not a crash: feed its `capsule_stopped` either before the
//! `capsule_exited` it causes or right after it.

use std::collections::BTreeMap;

use super::event::{ActionKind, AnomalyKind, Event, EventKind, Sample, Severity};
use super::thresholds::{action_name, anomaly_name, Thresholds};
use super::watcher::Watcher;
use crate::capsule::{Manifest, Resources};

/// An anomaly found by a rule, and what the policy does about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub capsule: String,
    pub anomaly: AnomalyKind,
    /// The severity of both its `anomaly` and its `action` event.
    pub severity: Severity,
    /// What the rule saw, for people: `"3 abnormal exits in 4 s (threshold: …)"`.
    pub evidence: String,
    /// What the policy decided; [`ActionKind::Notify`] means record it, nothing more.
    pub action: ActionKind,
}

impl Finding {
    /// The `anomaly` event to record.
    pub fn anomaly_event(&self) -> EventKind {
        EventKind::Anomaly {
            anomaly: self.anomaly,
            evidence: self.evidence.clone(),
        }
    }

    /// The `action` event to record once the action is carried out (`by: "sentry"`); `None`
    /// for [`ActionKind::Notify`], which is the anomaly event alone.
    pub fn action_event(&self) -> Option<EventKind> {
        (self.action != ActionKind::Notify).then(|| EventKind::Action {
            action: self.action,
            by: "sentry".into(),
            reason: format!("{}: {}", anomaly_name(self.anomaly), self.evidence),
        })
    }
}

impl std::fmt::Display for Finding {
    /// `demo: crash_loop (critical, notify): 3 abnormal exits …`, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} ({}, {}): {}",
            self.capsule,
            anomaly_name(self.anomaly),
            self.severity.name(),
            action_name(self.action),
            self.evidence
        )
    }
}

/// The rules for every capsule the session knows.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    watchers: BTreeMap<String, Watcher>,
}

impl Rules {
    pub fn new() -> Rules {
        Rules::default()
    }

    /// Sets a capsule's thresholds and resource limits (its manifest was loaded or reloaded).
    /// What the rules have seen of it so far is kept.
    pub fn configure(&mut self, capsule: &str, thresholds: Thresholds, resources: Resources) {
        match self.watchers.get_mut(capsule) {
            Some(watcher) => watcher.configure(thresholds, resources),
            None => {
                let watcher = Watcher::new(capsule, thresholds, resources);
                self.watchers.insert(capsule.to_string(), watcher);
            }
        }
    }

    /// [`Rules::configure`] from a manifest's `[sentry]` and `[resources]`.
    pub fn configure_manifest(&mut self, manifest: &Manifest) {
        self.configure(&manifest.name, manifest.sentry, manifest.resources);
    }

    /// Drops a capsule (its manifest is gone) and everything seen of it.
    pub fn forget(&mut self, capsule: &str) {
        self.watchers.remove(capsule);
    }

    /// A capsule's thresholds: its manifest's, or the defaults (e.g. for `throttle_cpu_percent`
    /// and `unresponsive_secs`, which the compositor applies).
    pub fn thresholds(&self, capsule: &str) -> Thresholds {
        self.watchers
            .get(capsule)
            .map_or_else(Thresholds::default, |w| w.thresholds)
    }

    /// A capsule not configured yet (started with `exoctl run`) gets the defaults.
    fn watcher(&mut self, capsule: &str) -> &mut Watcher {
        self.watchers
            .entry(capsule.to_string())
            .or_insert_with(|| Watcher::new(capsule, Thresholds::default(), Resources::default()))
    }

    /// Feeds a recorded event (its capsule and time); events about no capsule are ignored.
    pub fn observe(&mut self, event: &Event) -> Vec<Finding> {
        match &event.capsule {
            Some(capsule) => self.event(capsule, &event.kind, event.time_ms),
            None => Vec::new(),
        }
    }

    /// Feeds one event about `capsule` that happened at `time_ms`.
    pub fn event(&mut self, capsule: &str, kind: &EventKind, time_ms: u64) -> Vec<Finding> {
        if matches!(
            kind,
            EventKind::Anomaly { .. } | EventKind::Action { .. } | EventKind::Dashboard { .. }
        ) {
            return Vec::new();
        }
        self.watcher(capsule).event(kind, time_ms)
    }

    /// Feeds one resource sample.
    pub fn sample(&mut self, sample: &Sample) -> Vec<Finding> {
        self.watcher(&sample.capsule).sample(sample)
    }

    /// A window of `capsule` answered a ping: its next timeout is a new anomaly.
    pub fn responsive(&mut self, capsule: &str, window: &str) {
        if let Some(watcher) = self.watchers.get_mut(capsule) {
            watcher.responsive(window);
        }
    }

    /// Whether the rules need samples of `capsule` now: it is running and under suspicion — in
    /// its first 30 s, within 30 s of an unresponsive, flood or OOM event, building up a CPU run,
    /// or with memory within 10 points below its threshold. Samples that arrive for other
    /// reasons are used as well.
    pub fn wants_samples(&self, capsule: &str) -> bool {
        self.watchers.get(capsule).is_some_and(Watcher::wants_samples)
    }

    /// Every capsule [`Rules::wants_samples`] is true for; empty when the session can idle.
    pub fn wanting_samples(&self) -> impl Iterator<Item = &str> {
        self.watchers
            .iter()
            .filter(|(_, w)| w.wants_samples())
            .map(|(name, _)| name.as_str())
    }

    /// The memory use, in bytes, at which `capsule` is `memory_high` (it has a memory limit), so
    /// the compositor can ask the kernel to tell it (a cgroup usage threshold) instead of polling.
    pub fn memory_threshold_bytes(&self, capsule: &str) -> Option<u64> {
        self.watchers.get(capsule)?.memory_threshold_bytes()
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "rules_sample_tests.rs"]
mod sample_tests;

#[cfg(test)]
#[path = "rules_proptests.rs"]
mod proptests;
