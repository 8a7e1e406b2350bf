//! The main loop: poll over the signalfd and the power buttons, with a
//! timeout for the next restart and the next power button scan.

use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::log::say;
use crate::power::Kind;
use crate::power_button::PowerButtons;
use crate::reap::reap_all;
use crate::services::signal_name;
use crate::signals::{meaning, Request, SignalFd};
use crate::spawn::base_env;
use crate::supervisor::Supervisor;

/// How often to look for a power button that appeared.
const SCAN_INTERVAL: Duration = Duration::from_secs(5);

/// Polls `fds` for input until one is readable or `timeout` passes (None: forever).
/// Returns the readable fds.
pub fn poll_fds(fds: &[RawFd], timeout: Option<Duration>) -> Vec<RawFd> {
    let mut pollfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = timeout.map_or(-1, |t| {
        // Round up so a deadline is not polled for in a busy loop.
        let ms = t.as_micros().div_ceil(1000);
        i32::try_from(ms).unwrap_or(i32::MAX)
    });
    // SAFETY: pollfds is a valid array of its length.
    let n = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, ms) };
    if n <= 0 {
        return Vec::new();
    }
    pollfds.iter().filter(|p| p.revents != 0).map(|p| p.fd).collect()
}

/// Supervises the services until a power request; returns it with the
/// supervisor (the shutdown stops its services).
pub fn run(config: &Config, run_dir: &Path, input_dir: &Path, signals: &SignalFd) -> (Kind, Supervisor) {
    let mut sup = Supervisor::new(config, &base_env(), run_dir);
    sup.write_status();
    let mut buttons = PowerButtons::new(input_dir);
    let mut next_scan = Instant::now();
    loop {
        let now = Instant::now();
        sup.tick(now);
        if sup.became_ready || now >= next_scan {
            sup.became_ready = false;
            for path in buttons.scan() {
                let name = crate::power_button::device_name(&path).unwrap_or_default();
                say!("watching the power button {} ({name})", path.display());
            }
            next_scan = now + SCAN_INTERVAL;
        }
        let deadline = sup.next_deadline().map_or(next_scan, |d| d.min(next_scan));
        let mut fds = vec![signals.as_raw_fd()];
        fds.extend(buttons.fds());
        let ready = poll_fds(&fds, Some(deadline.saturating_duration_since(Instant::now())));

        for (sig, sender) in signals.read() {
            let name = signal_name(sig);
            match meaning(sig) {
                Request::Reap => {}
                Request::Reboot => {
                    say!("reboot requested ({name} from pid {sender})");
                    return (Kind::Reboot, sup);
                }
                Request::PowerOff => {
                    say!("power off requested ({name} from pid {sender})");
                    return (Kind::PowerOff, sup);
                }
                Request::Ignore(_) => say!("ignoring {name} (signal {sig}) from pid {sender}"),
            }
        }
        let now = Instant::now();
        for (pid, exit) in reap_all() {
            sup.child_exited(pid, exit, now);
        }
        for fd in ready.into_iter().filter(|&fd| fd != signals.as_raw_fd()) {
            if buttons.pressed(fd) {
                say!("power button pressed");
                return (Kind::PowerOff, sup);
            }
        }
    }
}
