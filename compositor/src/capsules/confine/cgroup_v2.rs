//! The cgroup v2 backend (Exosphere images, systemd desktops): one group
//! `<own>/nexquelium-<pid>/exosphere-<name>` in the unified hierarchy.
//!
//! v2 forbids processes in a non-root group that hands controllers to its children. When the
//! compositor's own group is not the root and enabling controllers there fails with `EBUSY`, the
//! compositor moves itself into `<own>/nexquelium-<pid>/supervisor` first (what systemd expects
//! of a delegated service). That only helps when it was alone in its group.

use std::{
    io,
    path::{Path, PathBuf},
    sync::Mutex,
};

use super::{cgroupfs, Resources, CPU_PERIOD_US, FREEZE_TIMEOUT, REMOVE_TIMEOUT};

/// The controllers that carry limits, in `describe` order.
const LIMITS: [&str; 3] = ["memory", "cpu", "pids"];

/// The unified hierarchy as found, without writing anything.
#[derive(Debug, Clone)]
pub struct Probe {
    mount_point: PathBuf,
    own_dir: PathBuf,
    /// `cgroup.controllers` of the compositor's own group.
    available: Vec<String>,
}

impl Probe {
    pub fn has(&self, controller: &str) -> bool {
        self.available.iter().any(|c| c == controller)
    }
}

fn controllers_of(dir: &Path) -> Vec<String> {
    cgroupfs::read(&dir.join("cgroup.controllers"))
        .map(|t| t.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

fn subtree_of(dir: &Path) -> Vec<String> {
    cgroupfs::read(&dir.join("cgroup.subtree_control"))
        .map(|t| t.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The unified hierarchy (preferring `/sys/fs/cgroup` itself over a hybrid
/// `/sys/fs/cgroup/unified`) and the compositor's group in it.
pub fn probe() -> Option<Probe> {
    let mut mounts: Vec<_> = cgroupfs::mounts()
        .into_iter()
        .filter(|m| m.fstype == "cgroup2")
        .collect();
    mounts.sort_by_key(|m| m.point != Path::new("/sys/fs/cgroup"));
    let mount = mounts.into_iter().next()?;
    let own = cgroupfs::memberships()
        .into_iter()
        .find(|m| m.controllers.is_empty())?;
    let own_dir = cgroupfs::dir_for(&mount, &own.path);
    let available = controllers_of(&own_dir);
    own_dir.join("cgroup.procs").exists().then_some(Probe {
        mount_point: mount.point,
        own_dir,
        available,
    })
}

/// Enable the limit controllers `dir` offers for its children.
fn enable_controllers(dir: &Path) -> io::Result<()> {
    let enabled = subtree_of(dir);
    for controller in controllers_of(dir) {
        if LIMITS.contains(&controller.as_str()) && !enabled.contains(&controller) {
            cgroupfs::write(&dir.join("cgroup.subtree_control"), &format!("+{controller}"))?;
        }
    }
    Ok(())
}

/// Instance directories already set up by this process.
static READY: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Make `<own>/nexquelium-<pid>` with the limit controllers enabled for its children.
fn instance_dir(probe: &Probe) -> io::Result<PathBuf> {
    let instance = probe.own_dir.join(cgroupfs::instance_name());
    let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
    if ready.contains(&instance) && instance.is_dir() {
        return Ok(instance);
    }
    cgroupfs::remove_stale_instances(&probe.own_dir);
    match enable_controllers(&probe.own_dir) {
        Err(err) if err.raw_os_error() == Some(libc::EBUSY) && probe.own_dir != probe.mount_point => {
            let supervisor = instance.join("supervisor");
            cgroupfs::mkdir(&instance)?;
            cgroupfs::mkdir(&supervisor)?;
            cgroupfs::write(&supervisor.join("cgroup.procs"), &std::process::id().to_string())?;
            tracing::info!(dir = %supervisor.display(), "moved the compositor into a leaf cgroup to delegate controllers");
            enable_controllers(&probe.own_dir)?;
        }
        other => other?,
    }
    cgroupfs::mkdir(&instance)?;
    enable_controllers(&instance)?;
    ready.push(instance.clone());
    Ok(instance)
}

/// One capsule's group.
#[derive(Debug)]
pub struct Group {
    dir: PathBuf,
}

fn limit(value: Option<impl ToString>) -> String {
    value.map_or("max".to_string(), |v| v.to_string())
}

impl Group {
    pub fn create(
        probe: &Probe,
        leaf: &str,
        resources: &Resources,
        unenforced: &mut Vec<String>,
    ) -> io::Result<Group> {
        let instance = instance_dir(probe)?;
        let dir = instance.join(leaf);
        if let Err(err) = cgroupfs::mkdir(&dir) {
            // `remove` of the last other capsule may have taken the instance directory.
            if err.kind() != io::ErrorKind::NotFound {
                return Err(err);
            }
            READY
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|d| d != &instance);
            instance_dir(probe)?;
            cgroupfs::mkdir(&dir)?;
        }
        let group = Group { dir };
        group.apply_limits(resources, unenforced);
        Ok(group)
    }

    fn has(&self, controller: &str) -> bool {
        controllers_of(&self.dir).iter().any(|c| c == controller)
    }

    fn apply_limits(&self, resources: &Resources, unenforced: &mut Vec<String>) {
        let mut set = |what: &str, requested: bool, controller: &str, writes: &[(&str, String)]| {
            if !self.has(controller) {
                if requested {
                    tracing::warn!(
                        "no {controller} controller in the capsule's cgroup: {what} is not enforced"
                    );
                    unenforced.push(what.to_string());
                }
                return;
            }
            for (file, value) in writes {
                let path = self.dir.join(file);
                // Optional files (memory.swap.max without swap accounting, memory.oom.group
                // on old kernels) are skipped.
                if !path.exists() && *file != writes[0].0 {
                    continue;
                }
                if let Err(err) = cgroupfs::write(&path, value) {
                    tracing::warn!(%err, "cannot set the capsule's {what} limit");
                    unenforced.push(what.to_string());
                    return;
                }
            }
        };
        let memory = resources.memory_max;
        let swap = if memory.is_some() {
            "0".to_string()
        } else {
            "max".to_string()
        };
        set(
            "memory_max",
            memory.is_some(),
            "memory",
            &[
                ("memory.max", limit(memory)),
                ("memory.swap.max", swap),
                ("memory.oom.group", "1".into()),
            ],
        );
        let quota = resources.cpu_max_percent.map(super::cpu_quota_us);
        set(
            "cpu_max",
            quota.is_some(),
            "cpu",
            &[("cpu.max", format!("{} {CPU_PERIOD_US}", limit(quota)))],
        );
        set(
            "pids_max",
            resources.pids_max.is_some(),
            "pids",
            &[("pids.max", limit(resources.pids_max))],
        );
    }

    /// The limit controllers in force and `freeze`, in `describe` order.
    pub fn controllers(&self) -> Vec<&'static str> {
        let mut list: Vec<&'static str> = LIMITS.into_iter().filter(|c| self.has(c)).collect();
        if self.dir.join("cgroup.freeze").exists() {
            list.push("freeze");
        }
        list
    }

    pub fn paths(&self) -> Vec<PathBuf> {
        vec![self.dir.clone()]
    }

    pub fn procs_files(&self) -> Vec<PathBuf> {
        vec![self.dir.join("cgroup.procs")]
    }

    pub fn freeze(&self, frozen: bool) -> io::Result<()> {
        let file = self.dir.join("cgroup.freeze");
        if !file.exists() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no cgroup.freeze (kernel older than 5.2)",
            ));
        }
        cgroupfs::write(&file, if frozen { "1" } else { "0" })?;
        let events = self.dir.join("cgroup.events");
        let target = u64::from(frozen);
        if cgroupfs::wait_until(FREEZE_TIMEOUT, || {
            cgroupfs::read_key(&events, "frozen") == Some(target)
        }) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{} did not reach frozen {target}", events.display()),
            ))
        }
    }

    pub fn oom_kills(&self) -> Option<u64> {
        cgroupfs::read_key(&self.dir.join("memory.events"), "oom_kill")
    }

    /// The group, when it has the memory controller (for `memory.events` notifications).
    pub fn memory_dir(&self) -> Option<PathBuf> {
        self.has("memory").then(|| self.dir.clone())
    }

    /// Lowers `cpu.max` to `percent` of one CPU, never raising it; see
    /// [`super::CgroupHandle::throttle_cpu`].
    pub fn throttle_cpu(&self, percent: u32) -> io::Result<Option<u64>> {
        if !self.has("cpu") {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "no cpu controller"));
        }
        let file = self.dir.join("cpu.max");
        let text = cgroupfs::read(&file)?;
        let mut fields = text.split_whitespace();
        // `max 100000` or `50000 100000`.
        let current = fields.next().and_then(|q| q.parse::<u64>().ok());
        let period = fields
            .next()
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(CPU_PERIOD_US);
        let Some(quota) = super::lowered_quota(current, period, percent) else {
            return Ok(None);
        };
        cgroupfs::write(&file, &format!("{quota} {period}"))?;
        Ok(Some(quota * 100 / period.max(1)))
    }

    pub fn pids(&self) -> io::Result<Vec<u32>> {
        cgroupfs::read_pids(&self.dir.join("cgroup.procs"))
    }

    pub fn kill_all(&self) -> io::Result<()> {
        let kill = self.dir.join("cgroup.kill");
        if kill.exists() {
            return cgroupfs::write(&kill, "1");
        }
        // Before 5.14: freeze, kill what is there, thaw (v2 frozen tasks do die on SIGKILL).
        let frozen = self.freeze(true).is_ok();
        for pid in self.pids()? {
            // SAFETY: kill(2) has no memory effects.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        if frozen {
            self.freeze(false)?;
        }
        Ok(())
    }

    pub fn remove(&self) -> io::Result<()> {
        if cgroupfs::read_key(&self.dir.join("cgroup.events"), "populated") == Some(1) {
            self.kill_all()?;
        }
        let result = cgroupfs::rmdir_retry(&self.dir, REMOVE_TIMEOUT);
        if let Some(instance) = self.dir.parent() {
            // Fails while other capsules (or the moved compositor) are still in there.
            if std::fs::remove_dir(instance).is_ok() {
                READY
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|d| d != instance);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    //! The hybrid build machines have a cgroup2 mount without controllers; its core files
    //! (cgroup.procs, cgroup.freeze, cgroup.events, cgroup.kill) are enough to test
    //! everything here except the limits.

    use std::{os::unix::process::CommandExt, process::Command, time::Duration};

    use super::*;
    use crate::capsules::confine::cgroupfs::wait_until;

    #[test]
    fn v2_group_joins_freezes_kills_and_goes_away() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // Not root: creating groups is refused; `plan` falls back (tested in tests/confine.rs).
            return;
        }
        let probe = probe().expect("root on Linux always has a cgroup2 mount");
        let mut unenforced = Vec::new();
        let group = Group::create(
            &probe,
            "exosphere-v2-unit",
            &Resources::default(),
            &mut unenforced,
        )
        .unwrap();
        assert!(unenforced.is_empty(), "{unenforced:?}");
        assert!(group.dir.is_dir());

        // Join through the pre-opened cgroup.procs, as `apply_in_child` does.
        let procs = std::fs::OpenOptions::new()
            .write(true)
            .open(&group.procs_files()[0])
            .unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&procs);
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "while :; do :; done"]);
        // SAFETY: write(2) is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        assert_eq!(group.pids().unwrap(), [child.id()]);

        group.freeze(true).unwrap();
        assert_eq!(
            cgroupfs::read_key(&group.dir.join("cgroup.events"), "frozen"),
            Some(1)
        );
        group.freeze(false).unwrap();
        assert_eq!(
            cgroupfs::read_key(&group.dir.join("cgroup.events"), "frozen"),
            Some(0)
        );

        group.kill_all().unwrap();
        assert!(wait_until(Duration::from_secs(5), || matches!(
            child.try_wait(),
            Ok(Some(_))
        )));
        let dir = group.dir.clone();
        group.remove().unwrap();
        assert!(!dir.exists());
    }
}
