//! Service states and the restart backoff: pure bookkeeping, driven by the
//! supervisor with monotonic times.
//!
//! - A service that exits unexpectedly is restarted (as its `restart` policy
//!   says) after a delay: `initial_delay`, doubling each time up to `max_delay`.
//! - A run that lasted at least `reset_after` resets the delay and forgets
//!   earlier exits.
//! - `max_failures` unexpected exits within `failure_window` mark the service
//!   `failed`: it is not restarted again (until the next boot).

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::config::{BackoffConfig, Restart};

/// How a process ended, from `waitpid`'s status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// Decodes a `waitpid` status.
    pub fn from_wait_status(status: i32) -> Exit {
        if libc::WIFSIGNALED(status) {
            Exit::Signal(libc::WTERMSIG(status))
        } else {
            Exit::Code(libc::WEXITSTATUS(status))
        }
    }

    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Exit::Code(code) => write!(f, "status {code}"),
            Exit::Signal(sig) => write!(f, "signal {sig} ({})", signal_name(sig)),
        }
    }
}

/// `SIGTERM` for 15, and so on; `SIG?` for numbers without a name here.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGPWR => "SIGPWR",
        libc::SIGSYS => "SIGSYS",
        _ => "SIG?",
    }
}

/// What to do after a service's process exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after this delay.
    Restart(Duration),
    /// Too many exits within the window: give up, state `failed`.
    Failed,
    /// Its policy says not to restart: state `stopped`.
    Stop,
}

/// The restart delay and recent exits of one service.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    next_delay: Duration,
    /// Times of recent unexpected exits, oldest first.
    exits: VecDeque<Instant>,
}

impl Backoff {
    pub fn new(config: BackoffConfig) -> Backoff {
        Backoff {
            config,
            next_delay: config.initial_delay,
            exits: VecDeque::new(),
        }
    }

    /// Records an exit at `now` of a run that started at `started`.
    pub fn on_exit(&mut self, policy: Restart, exit: Exit, started: Instant, now: Instant) -> Decision {
        if now.saturating_duration_since(started) >= self.config.reset_after {
            self.next_delay = self.config.initial_delay;
            self.exits.clear();
        }
        match policy {
            Restart::Never => return Decision::Stop,
            Restart::OnFailure if exit.success() => return Decision::Stop,
            _ => {}
        }
        self.exits.push_back(now);
        while self
            .exits
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= self.config.failure_window)
        {
            self.exits.pop_front();
        }
        if self.exits.len() >= self.config.max_failures as usize {
            return Decision::Failed;
        }
        let delay = self.next_delay;
        self.next_delay = (delay * 2).min(self.config.max_delay);
        Decision::Restart(delay)
    }

    /// How many exits count toward `failed` now.
    #[cfg(test)]
    pub fn recent_exits(&self) -> usize {
        self.exits.len()
    }
}

/// Where a service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not started yet: waiting for the services in `after` to become ready.
    Waiting,
    /// Running; its `ready` commands have not all finished yet.
    Starting,
    /// Running and ready.
    Running,
    /// Exited; restarts at this time.
    Backoff(Instant),
    /// Exited too often; not restarted.
    Failed,
    /// Exited and its policy says not to restart.
    Stopped,
    /// Asked to stop at shutdown.
    Stopping,
}

impl State {
    /// The word in the status file and on the console.
    pub fn word(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Starting => "starting",
            State::Running => "running",
            State::Backoff(_) => "backoff",
            State::Failed => "failed",
            State::Stopped => "stopped",
            State::Stopping => "stopping",
        }
    }
}

/// `0.5 s`, `2 s`: seconds with as few digits as needed.
pub fn seconds(d: Duration) -> String {
    let text = format!("{:.3}", d.as_secs_f64());
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} s")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BackoffConfig {
        BackoffConfig {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            reset_after: Duration::from_secs(30),
            max_failures: 5,
            failure_window: Duration::from_secs(60),
        }
    }

    /// Runs of `run` each, exits failing; returns the decisions.
    fn schedule(b: &mut Backoff, t0: Instant, runs: &[Duration]) -> Vec<Decision> {
        let mut now = t0;
        let mut out = Vec::new();
        for &run in runs {
            let started = now;
            now += run;
            let d = b.on_exit(Restart::Always, Exit::Code(1), started, now);
            if let Decision::Restart(delay) = d {
                now += delay;
            }
            out.push(d);
        }
        out
    }

    #[test]
    fn delays_double_then_fail_after_five_quick_exits() {
        let mut b = Backoff::new(config());
        let quick = [Duration::from_millis(10); 5];
        assert_eq!(
            schedule(&mut b, Instant::now(), &quick),
            [
                Decision::Restart(Duration::from_millis(500)),
                Decision::Restart(Duration::from_secs(1)),
                Decision::Restart(Duration::from_secs(2)),
                Decision::Restart(Duration::from_secs(4)),
                Decision::Failed,
            ]
        );
    }

    #[test]
    fn delay_is_capped() {
        let mut c = config();
        c.max_failures = 100;
        c.failure_window = Duration::from_secs(10_000);
        let mut b = Backoff::new(c);
        let decisions = schedule(&mut b, Instant::now(), &[Duration::from_millis(1); 10]);
        let delays: Vec<_> = decisions
            .iter()
            .map(|d| match d {
                Decision::Restart(d) => d.as_secs_f64(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(delays, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]);
    }

    #[test]
    fn a_long_run_resets_delay_and_count() {
        let mut b = Backoff::new(config());
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let d = schedule(
            &mut b,
            t0,
            &[ms(1), ms(1), ms(1), ms(1), Duration::from_secs(31), ms(1)],
        );
        assert_eq!(d[3], Decision::Restart(Duration::from_secs(4)));
        assert_eq!(d[4], Decision::Restart(ms(500)), "{d:?}");
        assert_eq!(d[5], Decision::Restart(Duration::from_secs(1)));
        assert_eq!(b.recent_exits(), 2);
    }

    #[test]
    fn exits_outside_the_window_do_not_count() {
        let mut c = config();
        c.max_delay = Duration::from_millis(500);
        c.reset_after = Duration::from_secs(1000);
        let mut b = Backoff::new(c);
        // Runs of 20 s: 4 exits fit in 60 s, never 5.
        let d = schedule(&mut b, Instant::now(), &[Duration::from_secs(20); 12]);
        assert!(d.iter().all(|d| matches!(d, Decision::Restart(_))), "{d:?}");
    }

    #[test]
    fn policies() {
        let t = Instant::now();
        let mut b = Backoff::new(config());
        assert_eq!(b.on_exit(Restart::Never, Exit::Code(1), t, t), Decision::Stop);
        assert_eq!(b.on_exit(Restart::OnFailure, Exit::Code(0), t, t), Decision::Stop);
        assert_eq!(
            b.on_exit(Restart::OnFailure, Exit::Signal(9), t, t),
            Decision::Restart(Duration::from_millis(500))
        );
        assert_eq!(
            b.on_exit(Restart::Always, Exit::Code(0), t, t),
            Decision::Restart(Duration::from_secs(1))
        );
    }

    #[test]
    fn exit_status_decoding_and_text() {
        assert_eq!(Exit::from_wait_status(0), Exit::Code(0));
        assert_eq!(Exit::from_wait_status(3 << 8), Exit::Code(3));
        assert_eq!(Exit::from_wait_status(libc::SIGKILL), Exit::Signal(9));
        assert_eq!(Exit::Code(3).to_string(), "status 3");
        assert_eq!(Exit::Signal(15).to_string(), "signal 15 (SIGTERM)");
        assert!(Exit::Code(0).success() && !Exit::Signal(0).success());
    }

    #[test]
    fn seconds_text() {
        assert_eq!(seconds(Duration::from_millis(500)), "0.5 s");
        assert_eq!(seconds(Duration::from_secs(2)), "2 s");
        assert_eq!(seconds(Duration::from_millis(100)), "0.1 s");
        assert_eq!(seconds(Duration::from_millis(1250)), "1.25 s");
    }
}
