//! How each compositor is started and stopped: command line, environment, user, runtime
//! directory and socket. Peers run as the unprivileged `exobench` user (sway refuses root) with a
//! 0700 `XDG_RUNTIME_DIR` of their own; Nexquelium runs as root with a 0700 directory too.

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub const USER: &str = "exobench";
pub const WIDTH: u32 = 1280;
pub const HEIGHT: u32 = 720;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nexquelium,
    Weston,
    Sway,
    Cage,
    /// `smithay-floor` (bench/floor): the least a Smithay compositor does, built with
    /// Nexquelium; what the stack under Nexquelium costs on its own. Run with `--floor`.
    Floor,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Nexquelium,
        Kind::Weston,
        Kind::Sway,
        Kind::Cage,
        Kind::Floor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Nexquelium => "nexquelium",
            Kind::Weston => "weston",
            Kind::Sway => "sway",
            Kind::Cage => "cage",
            Kind::Floor => "smithay-floor",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Whether `grim` can capture it (wlr-screencopy); Weston 10 and the floor do not offer it.
    pub fn has_screencopy(self) -> bool {
        !matches!(self, Kind::Weston | Kind::Floor)
    }
}

/// Debian packages the peers and the screencopy test need (cage refuses to start without the
/// Xwayland binary).
pub const PACKAGES: [&str; 5] = ["weston", "sway", "cage", "xwayland", "grim"];

/// Installs missing peer packages with apt-get (as root).
pub fn ensure_packages() -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("exo-bench: installing {}", missing.join(" "));
    let ok = Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .status()?
        .success();
    if !ok {
        bail!("apt-get install {} failed", missing.join(" "));
    }
    Ok(())
}

/// uid and gid of the `exobench` system user, created with useradd when missing.
pub fn ensure_user() -> Result<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let o = Command::new("id")
            .args([flag, USER])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().parse().ok())?
    };
    if id("-u").is_none() {
        let ok = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                USER,
            ])
            .status()
            .context("running useradd")?
            .success();
        if !ok {
            bail!("useradd {USER} failed");
        }
    }
    match (id("-u"), id("-g")) {
        (Some(u), Some(g)) => Ok((u, g)),
        _ => bail!("no uid/gid for {USER}"),
    }
}

/// A started compositor.
pub struct Running {
    pub kind: Kind,
    pub child: Child,
    pub runtime_dir: PathBuf,
    pub launched: Instant,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The Wayland socket in its runtime directory (`wayland-*`, not a lock or control file).
    pub fn socket(&self) -> Option<PathBuf> {
        find_socket(&self.runtime_dir)
    }

    /// Signals its process group (the compositor and what it spawned; started with
    /// `process_group(0)`).
    fn signal(&self, sig: i32) {
        signal_group(self.child.id() as i32, sig);
    }

    /// SIGSTOP: a paused compositor uses no CPU and does not wake up while another is measured.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// SIGCONT after [`Running::pause`].
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Stops it (dropping it does the same; see the `Drop` impl).
    pub fn stop(self) {}
}

impl Drop for Running {
    /// SIGTERM to its process group (resumed, should it be paused), SIGKILL after 3 s. On every
    /// path out, an error's included: a compositor must not outlive the run, least of all a
    /// paused one.
    fn drop(&mut self) {
        self.signal(libc::SIGTERM);
        self.resume();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
        if let Some(groups) = live_groups().as_mut() {
            groups.retain(|&g| g != self.child.id() as i32);
        }
    }
}

/// Process groups of the compositors started and not yet stopped: what an interrupted run has
/// to stop. `None` once [`stop_all`] has run: no compositor starts after that.
static LIVE_GROUPS: Mutex<Option<Vec<i32>>> = Mutex::new(Some(Vec::new()));

fn live_groups() -> std::sync::MutexGuard<'static, Option<Vec<i32>>> {
    LIVE_GROUPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn signal_group(group: i32, sig: i32) {
    // SAFETY: signals a process group of our own children.
    unsafe { libc::kill(-group, sig) };
}

/// Stops every compositor still running, from another thread than the run's (a signal's):
/// SIGCONT and SIGTERM to each process group, SIGKILL `grace` later. Compositors cannot start
/// any more once it has begun.
pub fn stop_all(grace: Duration) {
    let groups = live_groups().take().unwrap_or_default();
    for &group in &groups {
        signal_group(group, libc::SIGCONT);
        signal_group(group, libc::SIGTERM);
    }
    if !groups.is_empty() {
        std::thread::sleep(grace);
    }
    for &group in &groups {
        signal_group(group, libc::SIGKILL);
    }
}

pub fn find_socket(dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let is_socket = e.file_type().map(|t| t.is_socket()).unwrap_or(false);
        (is_socket && name.starts_with("wayland-") && !name.ends_with(".lock") && !name.ends_with(".control"))
            .then(|| e.path())
    })
}

/// How Nexquelium is started (the peers have one way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// `--no-autostart`: the compositor alone.
    Bare,
    /// A full session: it autostarts the repository's capsules.
    Session,
    /// Bare, with `[layout] placement = "centre"` in its config: every window opens in the
    /// middle, so windows of one size cover each other as cage's do.
    Stacked,
}

/// Settings for starting compositors.
pub struct Launcher {
    pub nexquelium: PathBuf,
    /// Parent of every runtime directory (0755, root).
    pub work_dir: PathBuf,
    pub peer_ids: (u32, u32),
}

impl Launcher {
    /// Starts `kind` with a fresh runtime directory; the caller polls its socket.
    pub fn start(&self, kind: Kind, tag: &str) -> Result<Running> {
        self.start_as(kind, tag, Variant::Bare)
    }

    /// Nexquelium as a full session: it autostarts the repository's capsules (the Sentry
    /// dashboard among them, found next to the Nexquelium binary).
    pub fn start_session(&self, tag: &str) -> Result<Running> {
        self.start_as(Kind::Nexquelium, &format!("session-{tag}"), Variant::Session)
    }

    /// Nexquelium without capsules, placing every new window in the middle of the output (see
    /// [`Variant::Stacked`]).
    pub fn start_stacked(&self, tag: &str) -> Result<Running> {
        self.start_as(Kind::Nexquelium, &format!("stacked-{tag}"), Variant::Stacked)
    }

    fn start_as(&self, kind: Kind, tag: &str, variant: Variant) -> Result<Running> {
        let session = variant == Variant::Session;
        let dir = self.work_dir.join(format!("{}-{tag}", kind.name()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        let peer = kind != Kind::Nexquelium;
        if peer {
            chown(&dir, Some(self.peer_ids.0), Some(self.peer_ids.1))?;
        }
        let size = format!("{WIDTH}x{HEIGHT}");
        let mut cmd = match kind {
            Kind::Nexquelium => {
                let mut c = Command::new(&self.nexquelium);
                c.args(["--backend", "headless", "--size", &size, "--host-caps", "all"]);
                if !session {
                    c.arg("--no-autostart");
                }
                c.args(["--socket", "wayland-bench"]);
                if variant == Variant::Stacked {
                    // Passed with --config, so a file Nexquelium cannot use makes it exit
                    // instead of running with the default placement.
                    let config = dir.join("stacked.toml");
                    fs::write(&config, "[layout]\nplacement = \"centre\"\n")?;
                    c.arg("--config").arg(config);
                }
                c
            }
            Kind::Weston => {
                let mut c = Command::new("weston");
                c.args([
                    "--backend=headless-backend.so",
                    "--use-pixman",
                    "--idle-time=0",
                    "--socket=wayland-bench",
                ]);
                c.arg(format!("--width={WIDTH}"))
                    .arg(format!("--height={HEIGHT}"));
                c
            }
            Kind::Sway => {
                let config = dir.join("sway.config");
                fs::write(
                    &config,
                    format!(
                        "# exo-bench: one headless output, no bar, no background\n\
                         output HEADLESS-1 mode {WIDTH}x{HEIGHT}\n"
                    ),
                )?;
                chown(&config, Some(self.peer_ids.0), Some(self.peer_ids.1))?;
                let mut c = Command::new("sway");
                c.arg("-c").arg(&config);
                c
            }
            Kind::Cage => {
                // cage runs one application and exits with it; `sleep` keeps it up without
                // being a Wayland client.
                let mut c = Command::new("cage");
                c.args(["--", "sleep", "100000"]);
                c
            }
            Kind::Floor => {
                let mut c = Command::new(self.nexquelium.with_file_name("smithay-floor"));
                c.args(["--size", &size, "--socket", "wayland-bench"]);
                c
            }
        };
        let mut path = String::new();
        if session {
            if let Some(bin_dir) = self.nexquelium.parent() {
                path = format!("{}:", bin_dir.display());
            }
        }
        path.push_str("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        cmd.env_clear()
            .env("PATH", path)
            .env("HOME", &dir)
            .env("XDG_RUNTIME_DIR", &dir)
            .env("XDG_CONFIG_HOME", &dir)
            .env("LANG", "C.UTF-8");
        if matches!(kind, Kind::Sway | Kind::Cage) {
            cmd.env("WLR_BACKENDS", "headless")
                .env("WLR_RENDERER", "pixman")
                .env("WLR_LIBINPUT_NO_DEVICES", "1");
        }
        if peer {
            cmd.uid(self.peer_ids.0).gid(self.peer_ids.1);
        }
        let log = fs::File::create(self.work_dir.join(format!("{}-{tag}.log", kind.name())))?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        let launched = Instant::now();
        // Under the lock, so that an interrupted run's `stop_all` sees every compositor started.
        let mut live = live_groups();
        let Some(groups) = live.as_mut() else {
            bail!("not starting {}: the run is being stopped", kind.name());
        };
        let child = cmd.spawn().with_context(|| format!("starting {}", kind.name()))?;
        groups.push(child.id() as i32);
        drop(live);
        Ok(Running {
            kind,
            child,
            runtime_dir: dir,
            launched,
        })
    }
}
