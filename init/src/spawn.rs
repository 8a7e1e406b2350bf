//! Starting programs: argv without a shell, the environment given, output on
//! the console (inherited), each in its own session.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Where programs are looked up when the environment has no `PATH` (the
/// kernel starts init without one).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Init's own environment, plus `PATH` when it has none: the base for every child.
pub fn base_env() -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    env.entry("PATH".to_string())
        .or_insert_with(|| DEFAULT_PATH.to_string());
    env
}

/// Starts `argv` with exactly `env`; returns its pid. Standard input is
/// /dev/null unless `console_tty`, in which case the child keeps init's
/// standard input and takes the console as its controlling terminal (for a
/// first program that may be interactive). Output goes where init's goes.
pub fn spawn(argv: &[String], env: &BTreeMap<String, String>, console_tty: bool) -> io::Result<i32> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty argv"))?;
    let mut cmd = Command::new(program);
    cmd.args(args).env_clear().envs(env).current_dir("/");
    if !console_tty {
        cmd.stdin(Stdio::null());
    }
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Init blocks every signal; a child starts with none blocked.
            let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(set.as_mut_ptr());
            libc::sigprocmask(libc::SIG_SETMASK, set.as_ptr(), std::ptr::null_mut());
            // A new session, so a terminal's signals and init's process group stay apart.
            libc::setsid();
            if console_tty {
                // Fails harmlessly when standard input is not a terminal.
                libc::ioctl(0, libc::TIOCSCTTY, 0);
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // Dropping a Child neither waits nor kills: init reaps it with waitpid(-1).
    Ok(child.id() as i32)
}

/// `a b 'c d'` for the console.
pub fn display_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty() && a.bytes().all(|b| b.is_ascii_graphic() && b != b'\'' && b != b'"') {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
