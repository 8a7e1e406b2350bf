//! Signals arrive through a signalfd, never through handlers.
//!
//! Every signal is blocked first (children get an empty mask back: see
//! [`crate::spawn`]), so none is lost or ignored: a blocked signal is queued even for a PID 1 that has no handler.
//!
//! | signal | meaning |
//! |---|---|
//! | SIGCHLD | reap children |
//! | SIGINT | reboot (the kernel sends it on Ctrl-Alt-Del once hard CAD is off) |
//! | SIGPWR, SIGUSR1, SIGTERM | power off |
//! | others | logged and ignored |

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// What a signal asks init to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Reap,
    Reboot,
    PowerOff,
    /// Anything else: the signal number, for the log.
    Ignore(i32),
}

/// The meaning of signal `sig` (see the module table).
pub fn meaning(sig: i32) -> Request {
    match sig {
        libc::SIGCHLD => Request::Reap,
        libc::SIGINT => Request::Reboot,
        libc::SIGPWR | libc::SIGUSR1 | libc::SIGTERM => Request::PowerOff,
        other => Request::Ignore(other),
    }
}

/// Blocks every signal for this (single-threaded) process.
pub fn block_all() -> io::Result<()> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises the set; sigprocmask reads it.
    unsafe {
        libc::sigfillset(set.as_mut_ptr());
        if libc::sigprocmask(libc::SIG_BLOCK, set.as_ptr(), std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A non-blocking signalfd for every signal.
pub struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    pub fn new() -> io::Result<SignalFd> {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: the set is initialised by sigfillset before signalfd reads it;
        // a non-negative result is a new fd we own.
        unsafe {
            libc::sigfillset(set.as_mut_ptr());
            let fd = libc::signalfd(-1, set.as_ptr(), libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(SignalFd {
                fd: OwnedFd::from_raw_fd(fd),
            })
        }
    }

    /// The pending signals, with the sender's pid (0 from the kernel); empty when none.
    pub fn read(&self) -> Vec<(i32, u32)> {
        let mut out = Vec::new();
        loop {
            let mut info = MaybeUninit::<libc::signalfd_siginfo>::uninit();
            let size = size_of::<libc::signalfd_siginfo>();
            // SAFETY: reads at most `size` bytes into the buffer.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), info.as_mut_ptr().cast(), size) };
            if n != size as isize {
                // EAGAIN (drained), EINTR, or a short read: stop here.
                return out;
            }
            // SAFETY: the kernel filled the whole struct.
            let info = unsafe { info.assume_init() };
            out.push((info.ssi_signo as i32, info.ssi_pid));
        }
    }
}

impl AsRawFd for SignalFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_meanings() {
        assert_eq!(meaning(libc::SIGCHLD), Request::Reap);
        assert_eq!(meaning(libc::SIGINT), Request::Reboot);
        assert_eq!(meaning(libc::SIGPWR), Request::PowerOff);
        assert_eq!(meaning(libc::SIGUSR1), Request::PowerOff);
        assert_eq!(meaning(libc::SIGTERM), Request::PowerOff);
        assert_eq!(meaning(libc::SIGHUP), Request::Ignore(libc::SIGHUP));
    }
}
