//! Per-capsule thresholds and the action policy: the optional `[sentry]` table of
//! `Capsule.toml` (parsed in `capsule::manifest`), with the documented defaults of
//! `docs/sentry.md`.
//!
//! ```toml
//! [sentry]
//! crash_loop_exits = 3      # abnormal exits ...
//! crash_loop_secs = 60      # ... within this many seconds
//! memory_percent = 90       # of its memory limit
//! cpu_percent = 90          # of its CPU allowance (one CPU, or resources.cpu_max)
//! cpu_secs = 10             # ... in every sample for this long
//! unresponsive_secs = 5     # how long a ping may go unanswered
//! refused_count = 5         # refused requests ...
//! refused_secs = 60         # ... within this many seconds
//! refused_quarantine = 25   # ... escalate to quarantine (0: never)
//! throttle_cpu = "50%"      # what throttling lowers cpu.max to
//!
//! [sentry.actions]
//! cpu_saturation = "throttle"
//! ```

use crate::sentry::event::{ActionKind, AnomalyKind, Severity};

/// The thresholds the rules apply to one capsule. Every field has a default (see [`Default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Crash loop: this many abnormal exits (non-zero status or a signal) ...
    pub crash_loop_exits: u32,
    /// ... within this many seconds.
    pub crash_loop_secs: u32,
    /// Memory high: in-use memory at or above this share (%) of its memory limit.
    pub memory_percent: u32,
    /// CPU saturation: every sample at or above this share (%) of its CPU allowance ...
    pub cpu_percent: u32,
    /// ... for at least this many seconds.
    pub cpu_secs: u32,
    /// Unresponsive: a window that has not answered a ping after this many seconds (the
    /// compositor's ping timeout for the capsule).
    pub unresponsive_secs: u32,
    /// Refused capability: this many refused requests ...
    pub refused_count: u32,
    /// ... within this many seconds.
    pub refused_secs: u32,
    /// This many refused requests within `refused_secs` escalate to quarantine; 0 never does.
    /// When not 0, more than `refused_count`.
    pub refused_quarantine: u32,
    /// What the throttle action lowers the capsule's CPU limit to, in % of one CPU (like
    /// `resources.cpu_max`). It never raises a lower limit.
    pub throttle_cpu_percent: u32,
    /// The action taken for each kind of anomaly.
    pub actions: Policy,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            crash_loop_exits: 3,
            crash_loop_secs: 60,
            memory_percent: 90,
            cpu_percent: 90,
            cpu_secs: 10,
            unresponsive_secs: 5,
            refused_count: 5,
            refused_secs: 60,
            refused_quarantine: 25,
            throttle_cpu_percent: 50,
            actions: Policy::default(),
        }
    }
}

/// The action Sentry takes for each kind of anomaly (`[sentry.actions]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub crash_loop: ActionKind,
    pub oom_kill: ActionKind,
    pub memory_high: ActionKind,
    pub cpu_saturation: ActionKind,
    pub unresponsive: ActionKind,
    /// For reaching `refused_count`; reaching `refused_quarantine` always quarantines.
    pub refused_capability: ActionKind,
    pub window_flood: ActionKind,
}

impl Default for Policy {
    /// Notify for everything but CPU saturation, which is throttled: the supervisor already
    /// stops a crash loop (the capsule becomes `failed`), the kernel already ended the OOM
    /// kill, and the compositor already refuses (and disconnects) a client over its window
    /// limit; a spinning capsule is the one condition that keeps costing the session.
    fn default() -> Self {
        Policy {
            crash_loop: ActionKind::Notify,
            oom_kill: ActionKind::Notify,
            memory_high: ActionKind::Notify,
            cpu_saturation: ActionKind::Throttle,
            unresponsive: ActionKind::Notify,
            refused_capability: ActionKind::Notify,
            window_flood: ActionKind::Notify,
        }
    }
}

impl Policy {
    /// The action for `kind`.
    pub fn action(&self, kind: AnomalyKind) -> ActionKind {
        *self.slot(kind)
    }

    /// Sets the action for `kind`; callers check it with [`allowed_actions`] first.
    pub fn set(&mut self, kind: AnomalyKind, action: ActionKind) {
        *self.slot_mut(kind) = action;
    }

    fn slot(&self, kind: AnomalyKind) -> &ActionKind {
        match kind {
            AnomalyKind::CrashLoop => &self.crash_loop,
            AnomalyKind::OomKill => &self.oom_kill,
            AnomalyKind::MemoryHigh => &self.memory_high,
            AnomalyKind::CpuSaturation => &self.cpu_saturation,
            AnomalyKind::Unresponsive => &self.unresponsive,
            AnomalyKind::RefusedCapability => &self.refused_capability,
            AnomalyKind::WindowFlood => &self.window_flood,
        }
    }

    fn slot_mut(&mut self, kind: AnomalyKind) -> &mut ActionKind {
        match kind {
            AnomalyKind::CrashLoop => &mut self.crash_loop,
            AnomalyKind::OomKill => &mut self.oom_kill,
            AnomalyKind::MemoryHigh => &mut self.memory_high,
            AnomalyKind::CpuSaturation => &mut self.cpu_saturation,
            AnomalyKind::Unresponsive => &mut self.unresponsive,
            AnomalyKind::RefusedCapability => &mut self.refused_capability,
            AnomalyKind::WindowFlood => &mut self.window_flood,
        }
    }
}

/// Every anomaly kind, in the order the docs list them.
pub const ANOMALY_KINDS: [AnomalyKind; 7] = [
    AnomalyKind::CrashLoop,
    AnomalyKind::OomKill,
    AnomalyKind::MemoryHigh,
    AnomalyKind::CpuSaturation,
    AnomalyKind::Unresponsive,
    AnomalyKind::RefusedCapability,
    AnomalyKind::WindowFlood,
];

/// The actions a policy can choose (the others are taken by people).
pub const POLICY_ACTIONS: [ActionKind; 6] = [
    ActionKind::Notify,
    ActionKind::Restart,
    ActionKind::Throttle,
    ActionKind::Freeze,
    ActionKind::Kill,
    ActionKind::Quarantine,
];

/// The actions that make sense for `kind`. A crash-looping capsule has no process most of
/// the time (it is between restarts), so restarting, throttling or freezing it means nothing.
pub fn allowed_actions(kind: AnomalyKind) -> &'static [ActionKind] {
    match kind {
        AnomalyKind::CrashLoop => &[ActionKind::Notify, ActionKind::Kill, ActionKind::Quarantine],
        _ => &POLICY_ACTIONS,
    }
}

/// The snake_case name of `kind`, as in the JSON and in `[sentry.actions]`.
pub fn anomaly_name(kind: AnomalyKind) -> &'static str {
    match kind {
        AnomalyKind::CrashLoop => "crash_loop",
        AnomalyKind::OomKill => "oom_kill",
        AnomalyKind::MemoryHigh => "memory_high",
        AnomalyKind::CpuSaturation => "cpu_saturation",
        AnomalyKind::Unresponsive => "unresponsive",
        AnomalyKind::RefusedCapability => "refused_capability",
        AnomalyKind::WindowFlood => "window_flood",
    }
}

/// The snake_case name of `action`, as in the JSON and in `[sentry.actions]`.
pub fn action_name(action: ActionKind) -> &'static str {
    match action {
        ActionKind::Notify => "notify",
        ActionKind::Restart => "restart",
        ActionKind::Throttle => "throttle",
        ActionKind::Freeze => "freeze",
        ActionKind::Kill => "kill",
        ActionKind::Quarantine => "quarantine",
        ActionKind::Release => "release",
        ActionKind::Start => "start",
        ActionKind::Stop => "stop",
        ActionKind::Grant => "grant",
        ActionKind::Revoke => "revoke",
    }
}

/// How much an anomaly of `kind` matters. A refused-capability anomaly that escalates to
/// quarantine is [`Severity::Critical`]; see `rules`.
pub fn anomaly_severity(kind: AnomalyKind) -> Severity {
    match kind {
        AnomalyKind::CrashLoop => Severity::Critical,
        AnomalyKind::Unresponsive => Severity::Notice,
        AnomalyKind::OomKill
        | AnomalyKind::MemoryHigh
        | AnomalyKind::CpuSaturation
        | AnomalyKind::RefusedCapability
        | AnomalyKind::WindowFlood => Severity::Warning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_json_names() {
        for kind in ANOMALY_KINDS {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, anomaly_name(kind));
        }
        for action in POLICY_ACTIONS.into_iter().chain([
            ActionKind::Release,
            ActionKind::Start,
            ActionKind::Stop,
            ActionKind::Grant,
            ActionKind::Revoke,
        ]) {
            assert_eq!(serde_json::to_value(action).unwrap(), action_name(action));
        }
    }

    #[test]
    fn policy_slots_are_independent() {
        let mut policy = Policy::default();
        assert_eq!(policy.action(AnomalyKind::CpuSaturation), ActionKind::Throttle);
        for kind in ANOMALY_KINDS {
            let mut expected = Policy::default();
            policy = Policy::default();
            policy.set(kind, ActionKind::Kill);
            assert_eq!(policy.action(kind), ActionKind::Kill);
            for other in ANOMALY_KINDS.into_iter().filter(|&k| k != kind) {
                assert_eq!(policy.action(other), expected.action(other));
            }
            expected.set(kind, ActionKind::Kill);
            assert_eq!(policy, expected);
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let t = Thresholds::default();
        assert_eq!((t.crash_loop_exits, t.crash_loop_secs), (3, 60));
        assert_eq!((t.memory_percent, t.cpu_percent, t.cpu_secs), (90, 90, 10));
        assert_eq!(t.unresponsive_secs, 5);
        assert_eq!(
            (t.refused_count, t.refused_secs, t.refused_quarantine),
            (5, 60, 25)
        );
        assert_eq!(t.throttle_cpu_percent, 50);
        for kind in ANOMALY_KINDS {
            let expected = match kind {
                AnomalyKind::CpuSaturation => ActionKind::Throttle,
                _ => ActionKind::Notify,
            };
            assert_eq!(t.actions.action(kind), expected, "{kind:?}");
            assert!(allowed_actions(kind).contains(&expected));
        }
    }
}
