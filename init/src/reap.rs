//! Reaping: every child, including orphans the kernel hands to PID 1.

use crate::services::Exit;

/// Collects every child that has exited, without blocking.
pub fn reap_all() -> Vec<(i32, Exit)> {
    let mut out = Vec::new();
    loop {
        let mut status = 0;
        // SAFETY: waitpid only writes the status int.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            // 0: children remain, none exited; -1: ECHILD (none left) or EINTR.
            return out;
        }
        out.push((pid, Exit::from_wait_status(status)));
    }
}

/// True when this process has no children left (waitpid says ECHILD).
pub fn no_children() -> bool {
    let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
    // SAFETY: waitid writes only into `info`; WNOWAIT leaves any exited child to reap_all.
    let r = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            info.as_mut_ptr(),
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD)
}
