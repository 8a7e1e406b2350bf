//! `exoctl run --wait`: polls `capsules` until the new capsule has ended.

use std::time::Duration;

use anyhow::{anyhow, Context};
use serde::Deserialize;

use exo_shell::control::{CapsuleStatus, ControlClient, Request};

/// How often `--wait` asks for the capsule's state.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The part of a `capsules` entry `--wait` needs; other fields are ignored.
#[derive(Debug, Deserialize)]
struct Entry {
    name: String,
    status: CapsuleStatus,
}

/// The exit status `exoctl run --wait` ends with once a capsule is in
/// `status`, or `None` while it may still run (running, backoff).
///
/// An exit code is passed on; a signal N gives 128+N like a shell; a
/// capsule that failed (or whose manifest is invalid) gives 1; one that
/// was stopped gives 0.
pub(crate) fn exit_status(status: &CapsuleStatus) -> Option<u8> {
    match status {
        CapsuleStatus::Running { .. } | CapsuleStatus::Backoff { .. } => None,
        CapsuleStatus::Exited { code: Some(code), .. } => Some(u8::try_from(*code).unwrap_or(1)),
        CapsuleStatus::Exited {
            code: None,
            signal: Some(signal),
        } => Some(u8::try_from(128 + i64::from(*signal)).unwrap_or(255)),
        CapsuleStatus::Exited {
            code: None,
            signal: None,
        } => Some(1),
        CapsuleStatus::Stopped => Some(0),
        CapsuleStatus::Failed { .. } | CapsuleStatus::Invalid { .. } => Some(1),
    }
}

/// Polls until capsule `name` has ended; returns the exit status to end with.
pub(crate) fn wait_for_exit(client: &mut ControlClient, name: &str) -> anyhow::Result<u8> {
    loop {
        let reply = client.request(&Request::Capsules)?;
        let capsules: Vec<Entry> =
            serde_json::from_value(reply).context("unexpected reply to the capsules request")?;
        let entry = capsules
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| anyhow!("capsule \"{name}\" is no longer listed, so how it ended is unknown"))?;
        if let Some(status) = exit_status(&entry.status) {
            return Ok(status);
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses() {
        let exited = |code, signal| CapsuleStatus::Exited { code, signal };
        let cases = [
            (CapsuleStatus::Running { pid: 1, since_ms: 0 }, None),
            (CapsuleStatus::Backoff { restart_in_ms: 200 }, None),
            (exited(Some(0), None), Some(0)),
            (exited(Some(3), None), Some(3)),
            (exited(Some(255), None), Some(255)),
            (exited(None, Some(9)), Some(137)),
            (exited(None, Some(15)), Some(143)),
            (exited(None, None), Some(1)),
            (CapsuleStatus::Failed { reason: "x".into() }, Some(1)),
            (CapsuleStatus::Invalid { error: "x".into() }, Some(1)),
            (CapsuleStatus::Stopped, Some(0)),
        ];
        for (status, expected) in cases {
            assert_eq!(exit_status(&status), expected, "{status:?}");
        }
    }
}
