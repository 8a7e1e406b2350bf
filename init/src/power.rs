//! The shutdown sequence, and the emergency loop for when everything else failed.
//!
//! In order, each step printed: stop the services in reverse start order
//! (SIGTERM, wait up to the grace period each), SIGTERM to every process,
//! grace, SIGKILL to every process, sync, unmount (reverse mount order;
//! what is busy is remounted read-only), then `reboot(2)`.
//!
//! Inside a PID namespace (the tests) `reboot(2)` does not touch the machine:
//! the kernel ends the namespace's init as if killed by SIGINT (power off)
//! or SIGHUP (reboot).

use std::time::{Duration, Instant};

use crate::log::say;
use crate::reap::{no_children, reap_all};
use crate::services::seconds;
use crate::signals::{self, Request, SignalFd};
use crate::supervisor::Supervisor;

/// How the machine ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PowerOff,
    Reboot,
}

impl Kind {
    fn reboot_cmd(self) -> libc::c_int {
        match self {
            Kind::PowerOff => libc::RB_POWER_OFF,
            Kind::Reboot => libc::RB_AUTOBOOT,
        }
    }

    /// "power off" / "reboot".
    pub fn word(self) -> &'static str {
        match self {
            Kind::PowerOff => "power off",
            Kind::Reboot => "reboot",
        }
    }
}

/// What the shutdown needs to know.
pub struct Plan<'a> {
    pub kind: Kind,
    pub grace: Duration,
    pub unmount: bool,
    pub signals: Option<&'a SignalFd>,
}

/// Reaps (telling the supervisor) until `done` or the deadline; true when done.
fn wait_until(
    plan: &Plan<'_>,
    sup: &mut Option<&mut Supervisor>,
    deadline: Instant,
    mut done: impl FnMut(&Option<&mut Supervisor>) -> bool,
) -> bool {
    loop {
        let now = Instant::now();
        for (pid, exit) in reap_all() {
            if let Some(sup) = sup.as_deref_mut() {
                sup.child_exited(pid, exit, now);
            }
        }
        if done(sup) {
            return true;
        }
        if now >= deadline {
            return false;
        }
        let wait = (deadline - now).min(Duration::from_millis(100));
        match plan.signals {
            Some(fd) => {
                crate::event_loop::poll_fds(&[std::os::fd::AsRawFd::as_raw_fd(fd)], Some(wait));
                // Further requests are moot now; SIGCHLD is handled by reaping above.
                let _ = fd.read();
            }
            None => std::thread::sleep(wait.min(Duration::from_millis(20))),
        }
    }
}

fn kill(pid: i32, sig: i32) {
    // SAFETY: kill has no memory effects.
    unsafe { libc::kill(pid, sig) };
}

/// Runs the whole sequence; returns only if `reboot(2)` failed.
pub fn shutdown(plan: &Plan<'_>, mut sup: Option<&mut Supervisor>) {
    say!("shutting down for {}", plan.kind.word());
    let grace = plan.grace;
    let services = sup
        .as_deref_mut()
        .map(Supervisor::begin_shutdown)
        .unwrap_or_default();
    for (name, pid) in services {
        say!("stopping {name} (pid {pid}) with SIGTERM");
        kill(pid, libc::SIGTERM);
        let deadline = Instant::now() + grace;
        let stopped = wait_until(
            plan,
            &mut sup,
            deadline,
            |sup| !matches!(sup.as_deref(), Some(s) if s.is_running(pid)),
        );
        if !stopped {
            say!("{name} did not stop within {}; going on", seconds(grace));
        }
    }

    say!("sending SIGTERM to all processes");
    kill(-1, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    if !wait_until(plan, &mut sup, deadline, |_| no_children()) {
        say!("processes remain after {}", seconds(grace));
    }

    say!("sending SIGKILL to all processes");
    kill(-1, libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(2);
    if !wait_until(plan, &mut sup, deadline, |_| no_children()) {
        say!("processes remain after SIGKILL");
    }

    say!("syncing file systems");
    // SAFETY: sync has no memory effects.
    unsafe { libc::sync() };

    if plan.unmount {
        say!("unmounting file systems");
        let result = crate::mounts::unmount_all();
        for point in &result.read_only {
            say!("{point} is busy; remounted read-only");
        }
        for (point, e) in &result.kept {
            say!("cannot unmount {point}: {e}");
        }
    } else {
        say!("not unmounting file systems (--no-mount)");
    }

    say!(
        "{}",
        if plan.kind == Kind::PowerOff {
            "powering off"
        } else {
            "rebooting"
        }
    );
    // SAFETY: reboot either does not return or fails with errno.
    unsafe { libc::reboot(plan.kind.reboot_cmd()) };
    say!("reboot() failed: {}", std::io::Error::last_os_error());
}

/// The last resort: reap forever; SIGINT reboots, SIGPWR/SIGUSR1/SIGTERM power off
/// (briefly: TERM all, KILL all, sync, reboot). Never returns.
pub fn emergency_loop() -> ! {
    say!("emergency loop: reaping children; SIGINT reboots, SIGUSR1, SIGPWR or SIGTERM powers off");
    let _ = signals::block_all();
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises the set.
    unsafe { libc::sigfillset(set.as_mut_ptr()) };
    loop {
        let _ = reap_all();
        let timeout = libc::timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        // SAFETY: the set is initialised; info may be null.
        let sig = unsafe { libc::sigtimedwait(set.as_ptr(), std::ptr::null_mut(), &timeout) };
        let kind = match signals::meaning(sig) {
            Request::Reboot => Kind::Reboot,
            Request::PowerOff => Kind::PowerOff,
            _ => continue,
        };
        let plan = Plan {
            kind,
            grace: Duration::from_secs(1),
            unmount: false,
            signals: None,
        };
        shutdown(&plan, None);
    }
}
