//! Starting programs from key bindings and the command line. They inherit WAYLAND_DISPLAY and
//! NEXQUELIUM_CONTROL, which `main` exports into the compositor's own environment.

use std::{
    os::unix::process::CommandExt,
    process::{Command, Stdio},
};

pub fn spawn(argv: &[String]) {
    let Some((program, args)) = argv.split_first() else {
        return;
    };
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null());
    // SAFETY: the closure only makes async-signal-safe calls (sigemptyset, pthread_sigmask).
    unsafe { cmd.pre_exec(unblock_signals) };
    match cmd.spawn() {
        Ok(child) => {
            tracing::info!(program, pid = child.id(), "spawned");
            // Reap in the background so no zombie is left behind.
            std::thread::spawn(move || {
                let mut child = child;
                let _ = child.wait();
            });
        }
        Err(err) => tracing::warn!(program, %err, "cannot spawn"),
    }
}

/// Between fork and exec: an empty signal mask. The compositor blocks the signals its event loop
/// takes (SIGTERM, SIGINT, SIGHUP); a child would inherit that mask and never see SIGTERM.
///
/// Async-signal-safe: sigemptyset and pthread_sigmask only.
pub(crate) fn unblock_signals() -> std::io::Result<()> {
    // SAFETY: `set` is initialised by sigemptyset before pthread_sigmask reads it.
    unsafe {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        match libc::pthread_sigmask(libc::SIG_SETMASK, set.as_ptr(), std::ptr::null_mut()) {
            0 => Ok(()),
            err => Err(std::io::Error::from_raw_os_error(err)),
        }
    }
}
