//! Sentry's events: what happened to a capsule, what Sentry concluded (anomalies) and what it
//! or a person did (actions). One event is one JSON object, one line of the event log and of
//! the control protocol's `events` stream:
//!
//! `{"seq":7,"time_ms":1795000000123,"capsule":"demo","severity":"warning","kind":"capsule_exited","code":1,"signal":null}`
//!
//! `kind` names the variant of [`EventKind`]; its fields sit next to it.

use serde::{Deserialize, Serialize};

/// How much an event matters, least first (so `>=` filters by minimum severity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Notice,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Notice,
        Severity::Warning,
        Severity::Critical,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One event, as logged and streamed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Assigned by the event log: strictly increasing, also across compositor restarts.
    pub seq: u64,
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The capsule it is about; `None` for the session itself (or a host client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capsule: Option<String>,
    pub severity: Severity,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. Inputs (lifecycle, Wayland behaviour, resource pressure), the anomalies the
/// rules find in them, and the actions taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The supervisor started the capsule's process.
    CapsuleStarted { pid: u32 },
    /// Its process ended: exit code, or the signal that killed it.
    CapsuleExited { code: Option<i32>, signal: Option<i32> },
    /// The restart policy will start it again after `delay_ms` (restart number `attempt`).
    CapsuleRestarting { attempt: u32, delay_ms: u64 },
    /// The supervisor gave up on it (too many failures, or it cannot be started).
    CapsuleFailed { reason: String },
    /// It was stopped on request; `by` says by whom (`"user"`, `"sentry"`, a capsule's name).
    CapsuleStopped { by: String },
    /// The kernel's OOM killer killed a process of its cgroup.
    OomKill,
    /// A window of the capsule did not answer a ping in time.
    Unresponsive { window: String },
    /// Its client was disconnected for a Wayland protocol error.
    ProtocolError {
        interface: String,
        code: u32,
        message: String,
    },
    /// It asked for something its capabilities do not grant (`what`: the global, request or
    /// action; `capability`: the one it would need).
    Refused { what: String, capability: String },
    /// It hit a per-capsule limit (`what`: `"windows"`, `"surfaces"`, `"shm_bytes"`, …).
    Flood { what: String, count: u64, limit: u64 },
    /// A rule found an anomaly; `evidence` says what it saw, for people.
    Anomaly { anomaly: AnomalyKind, evidence: String },
    /// An action was taken on the capsule; `by` as in `CapsuleStopped`, `reason` for people.
    Action {
        action: ActionKind,
        by: String,
        reason: String,
    },
    /// A read-only control channel (`sentry.observe` without `sentry.control`) asked for an
    /// action; it was refused.
    ControlRefused { request: String },
    /// The dashboard was shown or hidden (by the secure key, the panel or `exoctl`).
    Dashboard { visible: bool },
    /// The launcher key (Super+Space) was pressed: the dashboard opens or closes its launcher.
    Launcher,
}

impl EventKind {
    /// The `kind` tag, e.g. `"capsule_exited"`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::CapsuleStarted { .. } => "capsule_started",
            EventKind::CapsuleExited { .. } => "capsule_exited",
            EventKind::CapsuleRestarting { .. } => "capsule_restarting",
            EventKind::CapsuleFailed { .. } => "capsule_failed",
            EventKind::CapsuleStopped { .. } => "capsule_stopped",
            EventKind::OomKill => "oom_kill",
            EventKind::Unresponsive { .. } => "unresponsive",
            EventKind::ProtocolError { .. } => "protocol_error",
            EventKind::Refused { .. } => "refused",
            EventKind::Flood { .. } => "flood",
            EventKind::Anomaly { .. } => "anomaly",
            EventKind::Action { .. } => "action",
            EventKind::ControlRefused { .. } => "control_refused",
            EventKind::Dashboard { .. } => "dashboard",
            EventKind::Launcher => "launcher",
        }
    }

    /// What happened, in words, for people (the dashboard's feed, `exoctl events`):
    /// `exited with code 1`, `anomaly crash loop: 5 exits in 60 s`.
    pub fn describe(&self) -> String {
        match self {
            EventKind::CapsuleStarted { pid } => format!("started (pid {pid})"),
            EventKind::CapsuleExited { code: Some(code), .. } => format!("exited with code {code}"),
            EventKind::CapsuleExited {
                signal: Some(signal), ..
            } => format!("killed by signal {signal}"),
            EventKind::CapsuleExited { .. } => "exited".to_string(),
            EventKind::CapsuleRestarting { attempt, delay_ms } => {
                format!("restarting in {delay_ms} ms (attempt {attempt})")
            }
            EventKind::CapsuleFailed { reason } => format!("failed: {reason}"),
            EventKind::CapsuleStopped { by } => format!("stopped by {by}"),
            EventKind::OomKill => "killed by the OOM killer".to_string(),
            EventKind::Unresponsive { window } => format!("window {window} is not responding"),
            EventKind::ProtocolError {
                interface,
                code,
                message,
            } => format!("protocol error on {interface} ({code}): {message}"),
            EventKind::Refused { what, capability } => {
                format!("refused {what} (needs {capability})")
            }
            EventKind::Flood { what, count, limit } => format!("{what} flood: {count} of {limit}"),
            EventKind::Anomaly { anomaly, evidence } => {
                format!("anomaly {}: {evidence}", snake_words(anomaly))
            }
            EventKind::Action { action, by, reason } => format!("{} by {by}: {reason}", snake_words(action)),
            EventKind::ControlRefused { request } => format!("control request {request} refused"),
            EventKind::Dashboard { visible } => {
                format!("dashboard {}", if *visible { "shown" } else { "hidden" })
            }
            EventKind::Launcher => "launcher key".to_string(),
        }
    }
}

/// A serde enum's snake_case name with spaces: `crash loop`.
fn snake_words(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s.replace('_', " "),
        _ => "?".to_string(),
    }
}

/// What the rules can conclude about a capsule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// It exited abnormally again and again within a short window.
    CrashLoop,
    /// The OOM killer killed it (or a process of it).
    OomKill,
    /// Its memory use is above the configured share of its limit.
    MemoryHigh,
    /// Its CPU use stayed above the configured share over a window of samples.
    CpuSaturation,
    /// A window stopped answering pings.
    Unresponsive,
    /// It kept asking for what it is not granted.
    RefusedCapability,
    /// It opened windows or surfaces up to its limit.
    WindowFlood,
}

/// What can be done to a capsule, by Sentry's policy or by a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Record the anomaly only.
    Notify,
    Restart,
    /// Lower its CPU share (`cpu.max` / `cpu.cfs_quota_us`).
    Throttle,
    /// Freeze its cgroup (`cgroup.freeze` / the v1 freezer).
    Freeze,
    Kill,
    /// Stop it and revoke every capability but `display.window` until a person releases it.
    Quarantine,
    /// A person released it from quarantine.
    Release,
    Start,
    Stop,
    Grant,
    Revoke,
}

/// One resource sample of a capsule (`samples` stream, and the rules' input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub capsule: String,
    /// Memory in use (cgroup `memory.current` / `memory.usage_in_bytes`, else the RSS sum).
    pub memory_bytes: u64,
    /// Its memory limit, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_bytes: Option<u64>,
    /// CPU use since the previous sample, in percent of one CPU.
    pub cpu_percent: f64,
    /// Processes (tasks) in it.
    pub pids: u64,
    /// Memory pressure (PSI `some avg10`), where the kernel has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_pressure: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_one_flat_object_tagged_by_kind() {
        let event = Event {
            seq: 7,
            time_ms: 1_795_000_000_123,
            capsule: Some("demo".into()),
            severity: Severity::Warning,
            kind: EventKind::CapsuleExited {
                code: Some(1),
                signal: None,
            },
        };
        let line = serde_json::to_string(&event).unwrap();
        assert_eq!(
            line,
            r#"{"seq":7,"time_ms":1795000000123,"capsule":"demo","severity":"warning","kind":"capsule_exited","code":1,"signal":null}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), event);
    }

    #[test]
    fn every_kind_round_trips_and_names_its_tag() {
        let kinds = [
            EventKind::CapsuleStarted { pid: 3 },
            EventKind::CapsuleRestarting {
                attempt: 2,
                delay_ms: 400,
            },
            EventKind::CapsuleFailed { reason: "x".into() },
            EventKind::CapsuleStopped { by: "user".into() },
            EventKind::OomKill,
            EventKind::Unresponsive { window: "w".into() },
            EventKind::ProtocolError {
                interface: "wl_surface".into(),
                code: 2,
                message: "m".into(),
            },
            EventKind::Refused {
                what: "zwlr_screencopy_manager_v1".into(),
                capability: "display.capture".into(),
            },
            EventKind::Flood {
                what: "windows".into(),
                count: 64,
                limit: 64,
            },
            EventKind::Anomaly {
                anomaly: AnomalyKind::CrashLoop,
                evidence: "e".into(),
            },
            EventKind::Action {
                action: ActionKind::Quarantine,
                by: "sentry".into(),
                reason: "r".into(),
            },
            EventKind::ControlRefused {
                request: "capsule_stop".into(),
            },
            EventKind::Dashboard { visible: false },
            EventKind::Launcher,
        ];
        for kind in kinds {
            let event = Event {
                seq: 1,
                time_ms: 2,
                capsule: None,
                severity: Severity::Info,
                kind,
            };
            let value = serde_json::to_value(&event).unwrap();
            assert_eq!(value["kind"], event.kind.name(), "{value}");
            assert!(value.get("capsule").is_none(), "{value}");
            let back: Event = serde_json::from_value(value).unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn severities_order_from_info_to_critical() {
        assert!(Severity::ALL.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            serde_json::to_string(&Severity::Critical).unwrap(),
            r#""critical""#
        );
    }
}
