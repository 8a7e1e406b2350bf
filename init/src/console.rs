//! The console: /dev/console as standard input, output and error.
//!
//! Init opens it without making it its controlling terminal (O_NOCTTY): a
//! Ctrl-C typed on the console must never reach PID 1, whose SIGINT means
//! reboot. A first program started with `exo.run` takes the console as its
//! controlling terminal instead (see [`crate::spawn`]).

use std::io;

/// Points fds 0, 1 and 2 at /dev/console, and starts a new session so init
/// holds no terminal.
pub fn setup() -> io::Result<()> {
    // SAFETY: setsid has no memory effects; it fails harmlessly (EPERM) when
    // init already leads a process group.
    unsafe { libc::setsid() };
    let path = c"/dev/console";
    // SAFETY: a valid C string; the result is checked.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_NOCTTY) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    for target in 0..3 {
        // SAFETY: dup2 onto the standard fds, which init owns.
        if fd != target && unsafe { libc::dup2(fd, target) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if fd > 2 {
        // SAFETY: fd is ours and no longer needed.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// Turns off the kernel's hard Ctrl-Alt-Del (immediate reboot): it sends
/// SIGINT to init instead, which reboots cleanly.
pub fn disable_hard_cad() -> io::Result<()> {
    // SAFETY: reboot with CAD_OFF only changes a kernel flag.
    if unsafe { libc::reboot(libc::RB_DISABLE_CAD) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
