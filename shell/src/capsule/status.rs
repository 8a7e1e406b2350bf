//! What `exoctl capsules` shows: each capsule's state and identity, as
//! serde types of the control protocol.

use serde::{Deserialize, Serialize};

use crate::capability::CapabilitySet;

/// The supervisor's view of one capsule, tagged by `state`:
/// `{"state":"running","pid":1234,"since_ms":5021}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CapsuleStatus {
    /// Not running and not scheduled to run (never started, or stopped by the user or its policy).
    Stopped,
    /// Running since `since_ms` (milliseconds of session-monotonic time).
    Running { pid: u32, since_ms: u64 },
    /// Exited; restarts in `restart_in_ms` milliseconds.
    Backoff { restart_in_ms: u64 },
    /// Exited and not restarted: its exit code, or the signal that killed it.
    Exited { code: Option<i32>, signal: Option<i32> },
    /// Gave up restarting (too many failures, or it could not be started).
    Failed { reason: String },
    /// The manifest is invalid; `error` is the located message.
    Invalid { error: String },
}

impl CapsuleStatus {
    /// The `state` tag, e.g. `"running"`.
    pub fn state(&self) -> &'static str {
        match self {
            CapsuleStatus::Stopped => "stopped",
            CapsuleStatus::Running { .. } => "running",
            CapsuleStatus::Backoff { .. } => "backoff",
            CapsuleStatus::Exited { .. } => "exited",
            CapsuleStatus::Failed { .. } => "failed",
            CapsuleStatus::Invalid { .. } => "invalid",
        }
    }
}

/// One entry of the reply to the control request listing capsules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapsuleInfo {
    pub name: String,
    pub status: CapsuleStatus,
    /// The running process, if any.
    pub pid: Option<u32>,
    /// Seconds since the current process started, if running.
    pub uptime_s: Option<u64>,
    /// Restarts by the policy since the user last started it.
    pub restarts: u32,
    /// The capabilities it holds now (the manifest's, minus revocations).
    pub capabilities: CapabilitySet,
    /// How it is confined, in words, e.g. `"uid 60001, no network"`; `""` when not running.
    pub confinement: String,
    /// Its label colour, `#rrggbb`.
    pub color: String,
    /// The `Capsule.toml` it came from.
    pub source: String,
    /// Stopped by Sentry and held to `display.window` until a person releases it (control
    /// protocol v2; absent from v1 replies, read as false).
    #[serde(default)]
    pub quarantined: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::Capability;

    #[test]
    fn status_is_tagged_by_state() {
        let cases = [
            (CapsuleStatus::Stopped, r#"{"state":"stopped"}"#),
            (
                CapsuleStatus::Running {
                    pid: 42,
                    since_ms: 1500,
                },
                r#"{"state":"running","pid":42,"since_ms":1500}"#,
            ),
            (
                CapsuleStatus::Backoff { restart_in_ms: 400 },
                r#"{"state":"backoff","restart_in_ms":400}"#,
            ),
            (
                CapsuleStatus::Exited {
                    code: None,
                    signal: Some(9),
                },
                r#"{"state":"exited","code":null,"signal":9}"#,
            ),
            (
                CapsuleStatus::Failed { reason: "x".into() },
                r#"{"state":"failed","reason":"x"}"#,
            ),
            (
                CapsuleStatus::Invalid { error: "e".into() },
                r#"{"state":"invalid","error":"e"}"#,
            ),
        ];
        for (status, json) in cases {
            assert_eq!(serde_json::to_string(&status).unwrap(), json);
            assert_eq!(serde_json::from_str::<CapsuleStatus>(json).unwrap(), status);
            assert!(json.contains(status.state()));
        }
    }

    #[test]
    fn info_round_trips() {
        let info = CapsuleInfo {
            name: "terminal".into(),
            status: CapsuleStatus::Running { pid: 7, since_ms: 10 },
            pid: Some(7),
            uptime_s: Some(3),
            restarts: 1,
            capabilities: Capability::DisplayWindow.into(),
            confinement: "uid 60001, no network".into(),
            color: "#4a90d9".into(),
            source: "/etc/exosphere/capsules/terminal/Capsule.toml".into(),
            quarantined: false,
        };
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["status"]["state"], "running");
        assert_eq!(json["capabilities"], serde_json::json!(["display.window"]));
        assert_eq!(json["quarantined"], false);
        let back: CapsuleInfo = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, info);
        // A v1 reply has no `quarantined`.
        let mut v1 = json;
        v1.as_object_mut().unwrap().remove("quarantined");
        assert!(!serde_json::from_value::<CapsuleInfo>(v1).unwrap().quarantined);
    }
}
