//! Starting one capsule process: a clean environment, its own Wayland connection on fd 3
//! (`WAYLAND_SOCKET=3`) when it has `display.window`, its control channel on fd 4
//! (`EXOSPHERE_CONTROL_FD=4`) when it has `sentry.observe`, output captured to its log file,
//! and the kernel confinement applied between fork and exec.

use std::{
    fs::{File, OpenOptions},
    os::{
        fd::{AsRawFd, OwnedFd},
        unix::{net::UnixStream, process::CommandExt},
    },
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use anyhow::Context;
use exo_shell::{capsule::Manifest, Capability, CapabilitySet};

use super::confine::{self, ConfinementPlan};

/// The file descriptor number the capsule finds its Wayland connection on.
const WAYLAND_FD: i32 = 3;
/// The file descriptor number the capsule finds its control channel on.
const CONTROL_FD: i32 = 4;

/// Environment variables passed through from the compositor when set; everything else a
/// capsule sees is declared in its manifest or set here.
const PASSED_ENV: [&str; 5] = ["PATH", "LANG", "LC_ALL", "TZ", "EXO_INIT"];

pub struct Launched {
    pub child: Child,
    /// The compositor's end of the capsule's Wayland connection.
    pub wayland: Option<UnixStream>,
    /// The compositor's end of the capsule's control channel (`sentry.observe`).
    pub control: Option<UnixStream>,
    pub plan: ConfinementPlan,
}

/// Resolve `exec[0]`: a bare name is looked up next to the nexquelium binary first, then in PATH.
pub fn resolve_program(program: &str) -> PathBuf {
    if program.contains('/') {
        return PathBuf::from(program);
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return candidate;
        }
    }
    PathBuf::from(program)
}

fn open_log(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the capsule log {}", path.display()))
}

/// Spawn the capsule. `runtime_dir` is its private XDG_RUNTIME_DIR, `home` its HOME (and
/// working directory, kept across sessions), `log` its log file.
pub fn launch(
    manifest: &Manifest,
    caps: CapabilitySet,
    runtime_dir: &Path,
    home: &Path,
    log: &Path,
) -> anyhow::Result<Launched> {
    let plan = confine::plan(
        &manifest.name,
        caps.contains(Capability::NetConnect),
        &manifest.resources,
    );
    std::fs::create_dir_all(runtime_dir)
        .with_context(|| format!("cannot create {}", runtime_dir.display()))?;
    if let Some((uid, gid)) = plan.uid_gid {
        rustix::fs::chown(
            runtime_dir,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .with_context(|| format!("cannot hand {} to uid {uid}", runtime_dir.display()))?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(runtime_dir, std::fs::Permissions::from_mode(0o700))?;
    // A capsule under its own uid needs a way to its home; else it keeps the old behaviour, its
    // runtime directory as HOME (gone with the session).
    let reachable = plan.uid_gid.is_none() || home.parent().is_some_and(super::home::reachable_by_others);
    let home = if reachable {
        super::home::prepare(home, plan.uid_gid)?;
        home
    } else {
        tracing::warn!(
            capsule = %manifest.name,
            home = %home.display(),
            "capsule homes are out of reach of capsule uids (a parent directory is private); \
             HOME is the capsule's runtime directory and does not persist"
        );
        runtime_dir
    };

    let program = resolve_program(&manifest.exec[0]);
    let mut cmd = Command::new(&program);
    cmd.args(&manifest.exec[1..]).env_clear();
    for key in PASSED_ENV {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
    cmd.env("HOME", home)
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .env("EXOSPHERE_CAPSULE", &manifest.name)
        .envs(&manifest.env)
        // Only the compositor says where a control channel is.
        .env_remove(exo_shell::control::CONTROL_FD_ENV)
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(open_log(log)?)
        .stderr(open_log(log)?);

    let mut wayland = None;
    let mut their_end: Option<OwnedFd> = None;
    if caps.contains(Capability::DisplayWindow) {
        let (ours, theirs) = UnixStream::pair().context("cannot create the capsule's Wayland socket pair")?;
        cmd.env("WAYLAND_SOCKET", WAYLAND_FD.to_string());
        wayland = Some(ours);
        their_end = Some(theirs.into());
    }
    let mut control = None;
    let mut their_control: Option<OwnedFd> = None;
    if caps.contains(Capability::SentryObserve) {
        let (ours, theirs) = UnixStream::pair().context("cannot create the capsule's control channel")?;
        cmd.env(exo_shell::control::CONTROL_FD_ENV, CONTROL_FD.to_string());
        control = Some(ours);
        their_control = Some(theirs.into());
    }
    let placed = [
        (their_end.as_ref().map(|fd| fd.as_raw_fd()), WAYLAND_FD),
        (their_control.as_ref().map(|fd| fd.as_raw_fd()), CONTROL_FD),
    ];
    let prepared = confine::prepare(&plan);
    // SAFETY: the closure only makes async-signal-safe system calls (dup2, fcntl, and the
    // confinement calls, which are written to be safe between fork and exec).
    unsafe {
        cmd.pre_exec(move || {
            crate::spawn::unblock_signals()?;
            place_fds(placed)?;
            confine::apply_in_child(&prepared)
        });
    }
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {} for capsule {}", program.display(), manifest.name))?;
    // Our copies of the capsule's ends are closed here; the capsule holds the only ones.
    drop(their_end);
    drop(their_control);
    Ok(Launched {
        child,
        wayland,
        control,
        plan,
    })
}

/// Between fork and exec: puts each inherited descriptor on its fixed number, without
/// close-on-exec. A source sitting on another's target number is moved out of the way first.
///
/// # Safety
/// Only async-signal-safe calls (fcntl, dup2).
unsafe fn place_fds(placed: [(Option<i32>, i32); 2]) -> std::io::Result<()> {
    let mut sources = placed.map(|(fd, _)| fd);
    for (i, source) in sources.iter_mut().enumerate() {
        let Some(fd) = *source else { continue };
        let clashes = placed
            .iter()
            .enumerate()
            .any(|(j, (_, target))| j != i && *target == fd);
        if clashes {
            let moved = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
            if moved < 0 {
                return Err(std::io::Error::last_os_error());
            }
            *source = Some(moved);
        }
    }
    for (source, (_, target)) in sources.iter().zip(placed) {
        let Some(fd) = *source else { continue };
        if fd == target {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
        } else if libc::dup2(fd, target) < 0 {
            // dup2 clears FD_CLOEXEC on the new descriptor, so it survives exec.
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
