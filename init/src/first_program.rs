//! `exo.run=NAME`: run capsule NAME as the first program, then power off.
//!
//! The capsule's manifest (`<capsules dir>/NAME/Capsule.toml`) gives the argv
//! and `[env]`; its output goes to the console, which is also its controlling
//! terminal. No services start in this mode. Permissions and resources are not
//! applied: nothing else runs, and there is no display server to gate.

use std::path::Path;

use exo_shell::capsule::manifest::{Manifest, MANIFEST_FILE};

use crate::event_loop::poll_fds;
use crate::log::say;
use crate::power::Kind;
use crate::reap::reap_all;
use crate::signals::{meaning, Request, SignalFd};
use crate::spawn::{base_env, display_argv, spawn};

/// Runs the capsule to its end (or until a power signal); returns how to shut down.
pub fn run(name: &str, capsules_dir: &Path, console_tty: bool, signals: &SignalFd) -> Kind {
    let path = capsules_dir.join(name).join(MANIFEST_FILE);
    if !path.exists() {
        say!(
            "exo.run={name}: there is no capsule \"{name}\" ({} does not exist)",
            path.display()
        );
        return Kind::PowerOff;
    }
    let manifest = match Manifest::load(&path) {
        Ok(m) => m,
        Err(e) => {
            say!("exo.run={name}: {e}");
            return Kind::PowerOff;
        }
    };
    let mut env = base_env();
    env.extend(manifest.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let argv = display_argv(&manifest.exec);
    // Printed first: the capsule's own output may follow at once.
    say!("running capsule {name}: {argv}");
    let pid = match spawn(&manifest.exec, &env, console_tty) {
        Ok(pid) => pid,
        Err(e) => {
            say!("exo.run={name}: cannot start {argv}: {e}");
            return Kind::PowerOff;
        }
    };
    loop {
        poll_fds(&[std::os::fd::AsRawFd::as_raw_fd(signals)], None);
        for (sig, sender) in signals.read() {
            match meaning(sig) {
                Request::Reap => {}
                Request::Reboot => {
                    say!("reboot requested (signal {sig} from pid {sender})");
                    return Kind::Reboot;
                }
                Request::PowerOff => {
                    say!("power off requested (signal {sig} from pid {sender})");
                    return Kind::PowerOff;
                }
                Request::Ignore(_) => {}
            }
        }
        for (child, exit) in reap_all() {
            if child == pid {
                say!("{name} exited with {exit}");
                return Kind::PowerOff;
            }
        }
    }
}
