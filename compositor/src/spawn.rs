//! Starting programs from key bindings and the command line. They inherit WAYLAND_DISPLAY and
//! NEXQUELIUM_CONTROL, which `main` exports into the compositor's own environment.

use std::process::{Command, Stdio};

pub fn spawn(argv: &[String]) {
    let Some((program, args)) = argv.split_first() else {
        return;
    };
    match Command::new(program).args(args).stdin(Stdio::null()).spawn() {
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
