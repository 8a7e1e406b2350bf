//! The restart policy: what to do when a capsule's process exits.
//!
//! Pure bookkeeping, driven by the supervisor with monotonic times:
//!
//! - `restart = "never"` never restarts; `"on-failure"` restarts after a
//!   non-zero exit or a signal; `"always"` restarts after any exit.
//! - Restarts are delayed by an exponential backoff: 0.2 s, 0.4 s, 0.8 s, …
//!   doubling up to 30 s. A run that lasted at least 60 s resets it to 0.2 s.
//! - A capsule that fails 5 times within 60 s is marked failed and is not
//!   restarted again until the user starts it ([`RestartTracker::reset`]).
//!
//! Exits the supervisor asked for (a user's stop) are not reported here.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The first restart delay.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// The longest restart delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run at least this long resets the backoff.
pub const STABLE_UPTIME: Duration = Duration::from_secs(60);
/// This many failures within [`FAILURE_WINDOW`] mark the capsule failed.
pub const MAX_FAILURES: usize = 5;
/// See [`MAX_FAILURES`].
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// The manifest's `capsule.restart`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    Never,
    OnFailure,
    Always,
}

impl RestartPolicy {
    pub const ALL: [RestartPolicy; 3] = [
        RestartPolicy::Never,
        RestartPolicy::OnFailure,
        RestartPolicy::Always,
    ];

    /// `"never"`, `"on-failure"` or `"always"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Never => "never",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Always => "always",
        }
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of `never`, `on-failure`, `always`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown restart policy \"{0}\"; expected one of \"never\", \"on-failure\", \"always\"")]
pub struct ParseRestartPolicyError(pub String);

impl FromStr for RestartPolicy {
    type Err = ParseRestartPolicyError;

    fn from_str(s: &str) -> Result<Self, ParseRestartPolicyError> {
        RestartPolicy::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ParseRestartPolicyError(s.to_string()))
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitKind {
    /// Exit status 0.
    Success,
    Failure(ExitFailure),
}

/// A non-successful end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitFailure {
    /// A non-zero exit status.
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
}

impl ExitKind {
    /// From `wait` results: an exit code, or the terminating signal.
    pub fn from_parts(code: Option<i32>, signal: Option<i32>) -> ExitKind {
        match (code, signal) {
            (Some(0), _) => ExitKind::Success,
            (Some(code), _) => ExitKind::Failure(ExitFailure::Code(code)),
            (None, Some(signal)) => ExitKind::Failure(ExitFailure::Signal(signal)),
            // Neither: stopped or otherwise unknown; not a success.
            (None, None) => ExitKind::Failure(ExitFailure::Code(-1)),
        }
    }

    pub fn is_success(self) -> bool {
        self == ExitKind::Success
    }
}

impl From<std::process::ExitStatus> for ExitKind {
    fn from(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        ExitKind::from_parts(status.code(), status.signal())
    }
}

impl fmt::Display for ExitFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitFailure::Code(code) => write!(f, "exit code {code}"),
            ExitFailure::Signal(signal) => match signal_name(*signal) {
                Some(name) => write!(f, "signal {signal} ({name})"),
                None => write!(f, "signal {signal}"),
            },
        }
    }
}

impl fmt::Display for ExitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitKind::Success => f.write_str("exit code 0"),
            ExitKind::Failure(failure) => failure.fmt(f),
        }
    }
}

/// The usual name of a Linux signal number.
fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// What the supervisor should do after an exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartDecision {
    /// Start the capsule again after this delay.
    Restart { after: Duration },
    /// Leave it stopped; the policy does not restart this exit.
    Stop,
    /// Leave it stopped and show it as failed until the user starts it.
    Fail { reason: String },
}

/// Restart bookkeeping for one capsule.
#[derive(Debug, Clone, Default)]
pub struct RestartTracker {
    /// Restarts since the backoff was last reset; the next delay is 0.2 s × 2^attempt.
    attempt: u32,
    /// When recent failures happened (session-monotonic), oldest first.
    failures: VecDeque<Duration>,
    /// Restarts decided since the last [`RestartTracker::reset`].
    restarts: u32,
    /// Set by a `Fail` decision.
    failed: Option<String>,
}

impl RestartTracker {
    pub fn new() -> Self {
        RestartTracker::default()
    }

    /// Decides what happens after the process exited with `exit` at `now`
    /// (monotonic time since the session started), having run for `uptime`.
    pub fn on_exit(
        &mut self,
        policy: RestartPolicy,
        exit: ExitKind,
        uptime: Duration,
        now: Duration,
    ) -> RestartDecision {
        if let Some(reason) = &self.failed {
            return RestartDecision::Fail {
                reason: reason.clone(),
            };
        }
        if uptime >= STABLE_UPTIME {
            self.attempt = 0;
        }
        if let ExitKind::Failure(failure) = exit {
            self.failures.push_back(now);
            while self
                .failures
                .front()
                .is_some_and(|&t| now.saturating_sub(t) > FAILURE_WINDOW)
            {
                self.failures.pop_front();
            }
            let wanted = policy != RestartPolicy::Never;
            if wanted && self.failures.len() >= MAX_FAILURES {
                let reason = format!(
                    "failed {MAX_FAILURES} times within {} s (last: {failure})",
                    FAILURE_WINDOW.as_secs()
                );
                self.failed = Some(reason.clone());
                return RestartDecision::Fail { reason };
            }
        }
        let restart = match policy {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => !exit.is_success(),
            RestartPolicy::Always => true,
        };
        if !restart {
            return RestartDecision::Stop;
        }
        let after = backoff(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        self.restarts = self.restarts.saturating_add(1);
        RestartDecision::Restart { after }
    }

    /// Forgets everything: the user started the capsule again.
    pub fn reset(&mut self) {
        *self = RestartTracker::default();
    }

    /// Restarts decided since the last reset.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Whether the last decision was `Fail` (and no reset since).
    pub fn is_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// The reason given with the `Fail` decision, if any.
    pub fn failure_reason(&self) -> Option<&str> {
        self.failed.as_deref()
    }
}

/// The delay before restart number `attempt` (0-based) since the last reset.
pub fn backoff(attempt: u32) -> Duration {
    crate::backoff::doubling(INITIAL_BACKOFF, attempt, MAX_BACKOFF)
}

#[cfg(test)]
#[path = "restart_tests.rs"]
mod tests;
