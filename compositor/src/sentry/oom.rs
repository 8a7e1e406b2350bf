//! OOM kills, event-driven: when a capsule with a memory cgroup starts, the kernel is asked to
//! wake the event loop when that group hits its limit, and every rise of the group's
//! `oom_kill` counter is one `oom_kill` event (warning).
//!
//! * cgroup v1: an eventfd registered for `memory.oom_control` through `cgroup.event_control`;
//!   the counter is `oom_kill` in `memory.oom_control` (kernel 4.13+).
//! * cgroup v2: inotify on `memory.events` (the kernel reports a modification whenever one of
//!   its counters changes); the counter is its `oom_kill`. Not exercised on the build machines
//!   (their cgroup v2 mount has no controllers).
//!
//! The v1 notification comes when the group runs out of memory, which can be a moment before
//! the OOM killer has picked and killed its victim; a wake-up without a rise is checked again
//! after 50 ms, 250 ms and 1 s. When the capsule ends, the counter is read one last time before
//! its cgroup is removed, so a kill is recorded exactly once (and before `capsule_exited`).

use std::{
    collections::HashMap,
    io,
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd},
    path::Path,
    time::Duration,
};

use exo_shell::sentry::{EventKind, Severity};
use smithay::reexports::calloop::{
    generic::Generic,
    timer::{TimeoutAction, Timer},
    Interest, Mode, PostAction, RegistrationToken,
};

use crate::{capsules::confine::CgroupHandle, state::State};

/// Kills recorded at most per reading (a counter that jumped absurdly is not a flood of events).
const MAX_KILLS_PER_READING: u64 = 16;
/// When a wake-up found no new kill, look again after these delays.
const RECHECKS: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(250),
    Duration::from_secs(1),
];

#[derive(Debug)]
pub struct Watch {
    /// `None` when the kernel could not be asked: the count is still read at exit.
    token: Option<RegistrationToken>,
    /// The capsule's process (a watch belongs to one run).
    pid: u32,
    /// The `oom_kill` count already recorded.
    seen: u64,
}

/// The OOM watch of each running capsule with a memory cgroup.
pub type Watches = HashMap<String, Watch>;

/// An eventfd the kernel signals when the v1 group at `dir` is out of memory.
fn v1_notifier(dir: &Path) -> io::Result<OwnedFd> {
    let control = std::fs::File::open(dir.join("memory.oom_control"))?;
    // SAFETY: eventfd(2) returns a new descriptor we own (or -1).
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor owned by nothing else.
    let efd = unsafe { OwnedFd::from_raw_fd(raw) };
    let line = format!("{} {}", efd.as_raw_fd(), control.as_raw_fd());
    std::fs::write(dir.join("cgroup.event_control"), line)?;
    // The kernel holds the eventfd now; `memory.oom_control` was only needed to register.
    Ok(efd)
}

/// An inotify descriptor that is readable when the v2 group's `memory.events` changes.
fn v2_notifier(dir: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: inotify_init1(2) returns a new descriptor we own (or -1).
    let raw = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let path =
        std::ffi::CString::new(dir.join("memory.events").as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: a valid descriptor and a NUL-terminated path.
    if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), libc::IN_MODIFY) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// Reads whatever is pending on a non-blocking eventfd or inotify descriptor.
fn drain(fd: RawFd) {
    let mut buf = [0u8; 1024];
    // SAFETY: reading into a buffer of the given length.
    while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

impl State {
    /// Watches the OOM kills of `name`, which has just started (its cgroup is in its plan).
    pub fn oom_watch(&mut self, name: &str) {
        let Some(run) = self
            .nexq
            .supervisor
            .capsules
            .get(name)
            .and_then(|c| c.running.as_ref())
        else {
            return;
        };
        let Some(cgroup) = run.plan.cgroup.as_ref() else {
            return;
        };
        let Some(dir) = cgroup.memory_dir() else { return };
        let pid = run.pid;
        let seen = cgroup.oom_kills().unwrap_or(0);
        let notifier = match cgroup.backend() {
            "cgroup1" => v1_notifier(&dir),
            _ => v2_notifier(&dir),
        };
        let fd = match notifier {
            Ok(fd) => fd,
            Err(err) => {
                tracing::warn!(capsule = name, %err, dir = %dir.display(), "cannot watch the capsule's OOM kills; they show only when it exits");
                // Still checked once at exit.
                return self.oom_watch_insert(name, pid, seen, None);
            }
        };
        let owned = name.to_string();
        let source = Generic::new(fd, Interest::READ, Mode::Level);
        let token = self
            .nexq
            .loop_handle
            .insert_source(source, move |_, fd, state| {
                drain(fd.as_fd().as_raw_fd());
                state.oom_check(&owned, pid, 0);
                Ok(PostAction::Continue)
            })
            .map_err(|err| tracing::warn!(capsule = name, %err, "cannot watch the capsule's OOM kills"))
            .ok();
        self.oom_watch_insert(name, pid, seen, token);
    }

    fn oom_watch_insert(&mut self, name: &str, pid: u32, seen: u64, token: Option<RegistrationToken>) {
        let watch = Watch { token, pid, seen };
        if let Some(old) = self.nexq.sentry.agent.oom.insert(name.to_string(), watch) {
            if let Some(token) = old.token {
                self.nexq.loop_handle.remove(token);
            }
        }
    }

    /// Records the kills since the last reading; none yet: look again a little later.
    fn oom_check(&mut self, name: &str, pid: u32, attempt: usize) {
        let count = self
            .nexq
            .supervisor
            .capsules
            .get(name)
            .and_then(|c| c.running.as_ref())
            .filter(|r| r.pid == pid)
            .and_then(|r| r.plan.cgroup.as_ref()?.oom_kills());
        let Some(watch) = self.nexq.sentry.agent.oom.get_mut(name).filter(|w| w.pid == pid) else {
            return;
        };
        let Some(count) = count else { return };
        let new = count.saturating_sub(watch.seen);
        watch.seen = watch.seen.max(count);
        if new > 0 {
            self.record_oom_kills(name, new);
            return;
        }
        let Some(&delay) = RECHECKS.get(attempt) else {
            return;
        };
        let owned = name.to_string();
        let inserted =
            self.nexq
                .loop_handle
                .insert_source(Timer::from_duration(delay), move |_, _, state| {
                    state.oom_check(&owned, pid, attempt + 1);
                    TimeoutAction::Drop
                });
        if let Err(err) = inserted {
            tracing::debug!(%err, "cannot schedule an OOM recheck");
        }
    }

    fn record_oom_kills(&mut self, name: &str, new: u64) {
        tracing::warn!(capsule = name, kills = new, "OOM kill in the capsule's cgroup");
        for _ in 0..new.min(MAX_KILLS_PER_READING) {
            self.record_event(Some(name), Severity::Warning, EventKind::OomKill);
        }
    }

    /// The capsule has ended: its last kills are recorded and the watch goes, before its
    /// cgroup (`cgroup`) is removed.
    pub fn oom_unwatch(&mut self, name: &str, cgroup: &CgroupHandle) {
        let Some(watch) = self.nexq.sentry.agent.oom.remove(name) else {
            return;
        };
        if let Some(token) = watch.token {
            self.nexq.loop_handle.remove(token);
        }
        let new = cgroup.oom_kills().unwrap_or(0).saturating_sub(watch.seen);
        if new > 0 {
            self.record_oom_kills(name, new);
        }
    }
}
