//! The cgroup v1 backend, for hybrid hosts (the build machines) where the controllers live in
//! separate v1 hierarchies: one group per hierarchy that has `memory`, `cpu`, `pids` or
//! `freezer`, each under the compositor's own group of that hierarchy:
//! `<own>/nexquelium-<pid>/exosphere-<name>`.

use std::{
    io,
    path::{Path, PathBuf},
    time::Duration,
};

use super::{cgroupfs, Resources, CPU_PERIOD_US, FREEZE_TIMEOUT, REMOVE_TIMEOUT};

/// The controllers this backend uses, in the order `describe` lists them.
const USED: [&str; 4] = ["memory", "cpu", "pids", "freezer"];

/// A usable hierarchy: its controllers and the compositor's own group in it.
#[derive(Debug, Clone)]
struct Hierarchy {
    controllers: Vec<String>,
    own_dir: PathBuf,
}

/// What the machine offers, found without writing anything.
#[derive(Debug, Clone)]
pub struct Probe {
    hierarchies: Vec<Hierarchy>,
}

/// The v1 hierarchies with a controller we use, or `None` when there are none.
pub fn probe() -> Option<Probe> {
    let memberships = cgroupfs::memberships();
    let mut hierarchies: Vec<Hierarchy> = Vec::new();
    for mount in cgroupfs::mounts().into_iter().filter(|m| m.fstype == "cgroup") {
        if !mount.controllers.iter().any(|c| USED.contains(&c.as_str())) {
            continue;
        }
        // The same hierarchy can be mounted twice; the first mount wins.
        if hierarchies.iter().any(|h| h.controllers == mount.controllers) {
            continue;
        }
        let Some(own) = memberships.iter().find(|m| {
            let mut a = m.controllers.clone();
            let mut b = mount.controllers.clone();
            a.sort();
            b.sort();
            a == b
        }) else {
            continue;
        };
        hierarchies.push(Hierarchy {
            controllers: mount.controllers.clone(),
            own_dir: cgroupfs::dir_for(&mount, &own.path),
        });
    }
    (!hierarchies.is_empty()).then_some(Probe { hierarchies })
}

#[derive(Debug)]
struct Dir {
    path: PathBuf,
    controllers: Vec<String>,
}

/// One capsule's groups, one per hierarchy.
#[derive(Debug)]
pub struct Group {
    dirs: Vec<Dir>,
}

/// New cpuset groups start with no CPUs and no memory nodes; copy the parent's.
fn init_cpuset(dir: &Path) -> io::Result<()> {
    let parent = dir.parent().unwrap_or(dir);
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let current = cgroupfs::read(&dir.join(file))?;
        if current.trim().is_empty() {
            cgroupfs::write(&dir.join(file), cgroupfs::read(&parent.join(file))?.trim())?;
        }
    }
    Ok(())
}

fn create_dir(hierarchy: &Hierarchy, leaf: &str) -> io::Result<PathBuf> {
    cgroupfs::remove_stale_instances(&hierarchy.own_dir);
    let instance = hierarchy.own_dir.join(cgroupfs::instance_name());
    let dir = instance.join(leaf);
    let cpuset = hierarchy.controllers.iter().any(|c| c == "cpuset");
    // Another capsule's `remove` may take the (then empty) instance directory away between
    // the two mkdirs; try again.
    let mut attempt = 0;
    loop {
        cgroupfs::mkdir(&instance)?;
        if cpuset {
            init_cpuset(&instance)?;
        }
        match cgroupfs::mkdir(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < 5 => attempt += 1,
            other => break other?,
        }
    }
    if cpuset {
        init_cpuset(&dir)?;
    }
    Ok(dir)
}

/// Memory and memory+swap limits; `memsw` must stay at or above the memory limit, so the
/// order of the two writes depends on the direction of the change.
fn set_memory(dir: &Path, value: &str) -> io::Result<()> {
    let limit = dir.join("memory.limit_in_bytes");
    let memsw = dir.join("memory.memsw.limit_in_bytes");
    if !memsw.exists() {
        return cgroupfs::write(&limit, value);
    }
    cgroupfs::write(&limit, value)
        .and_then(|()| cgroupfs::write(&memsw, value))
        .or_else(|_| cgroupfs::write(&memsw, value).and_then(|()| cgroupfs::write(&limit, value)))
}

fn apply_limits(dir: &Dir, resources: &Resources, unenforced: &mut Vec<String>) {
    let has = |c: &str| dir.controllers.iter().any(|x| x == c);
    let mut check = |what: &str, result: io::Result<()>| {
        if let Err(err) = result {
            tracing::warn!(%err, "cannot set the capsule's {what} limit");
            unenforced.push(what.to_string());
        }
    };
    if has("memory") {
        let value = resources.memory_max.map_or("-1".to_string(), |b| b.to_string());
        check("memory_max", set_memory(&dir.path, &value));
    }
    if has("cpu") {
        let quota = resources
            .cpu_max_percent
            .map_or("-1".to_string(), |p| super::cpu_quota_us(p).to_string());
        check(
            "cpu_max",
            cgroupfs::write(&dir.path.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())
                .and_then(|()| cgroupfs::write(&dir.path.join("cpu.cfs_quota_us"), &quota)),
        );
    }
    if has("pids") {
        let value = resources.pids_max.map_or("max".to_string(), |n| n.to_string());
        check("pids_max", cgroupfs::write(&dir.path.join("pids.max"), &value));
    }
}

impl Group {
    /// Create `leaf` in every usable hierarchy and apply the limits. Hierarchies we may not
    /// write to are skipped; it is an error only when none is left.
    pub fn create(
        probe: &Probe,
        leaf: &str,
        resources: &Resources,
        unenforced: &mut Vec<String>,
    ) -> io::Result<Group> {
        let mut dirs = Vec::new();
        let mut first_error = None;
        for hierarchy in &probe.hierarchies {
            match create_dir(hierarchy, leaf) {
                Ok(path) => dirs.push(Dir {
                    path,
                    controllers: hierarchy.controllers.clone(),
                }),
                Err(err) => {
                    tracing::debug!(%err, controllers = ?hierarchy.controllers, "cannot create a v1 capsule group");
                    first_error.get_or_insert(err);
                }
            }
        }
        if dirs.is_empty() {
            return Err(first_error.unwrap_or_else(|| io::Error::other("no cgroup v1 hierarchy")));
        }
        for dir in &dirs {
            apply_limits(dir, resources, unenforced);
        }
        Ok(Group { dirs })
    }

    fn dir_with(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == controller))
            .map(|d| d.path.as_path())
    }

    /// The controllers in force, in `describe` order.
    pub fn controllers(&self) -> Vec<&'static str> {
        USED.into_iter().filter(|c| self.dir_with(c).is_some()).collect()
    }

    pub fn paths(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.path.clone()).collect()
    }

    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.path.join("cgroup.procs")).collect()
    }

    pub fn freeze(&self, frozen: bool) -> io::Result<()> {
        let dir = self
            .dir_with("freezer")
            .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "no freezer hierarchy"))?;
        let state = dir.join("freezer.state");
        let target = if frozen { "FROZEN" } else { "THAWED" };
        cgroupfs::write(&state, target)?;
        if cgroupfs::wait_until(FREEZE_TIMEOUT, || {
            cgroupfs::read(&state).is_ok_and(|s| s.trim() == target)
        }) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{} did not reach {target}", state.display()),
            ))
        }
    }

    pub fn oom_kills(&self) -> Option<u64> {
        cgroupfs::read_key(&self.dir_with("memory")?.join("memory.oom_control"), "oom_kill")
    }

    /// The memory hierarchy's group (for `memory.oom_control` notifications).
    pub fn memory_dir(&self) -> Option<PathBuf> {
        self.dir_with("memory").map(Path::to_path_buf)
    }

    /// Lowers the CFS quota to `percent` of one CPU, never raising it; see
    /// [`super::CgroupHandle::throttle_cpu`].
    pub fn throttle_cpu(&self, percent: u32) -> io::Result<Option<u64>> {
        let dir = self
            .dir_with("cpu")
            .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "no cpu hierarchy"))?;
        let period = cgroupfs::read(&dir.join("cpu.cfs_period_us"))?
            .trim()
            .parse::<u64>()
            .map_err(io::Error::other)?;
        // -1: no quota.
        let current = cgroupfs::read(&dir.join("cpu.cfs_quota_us"))?
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|q| u64::try_from(q).ok());
        let Some(quota) = super::lowered_quota(current, period, percent) else {
            return Ok(None);
        };
        cgroupfs::write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
        Ok(Some(quota * 100 / period.max(1)))
    }

    /// Every process in any of the groups.
    pub fn pids(&self) -> io::Result<Vec<u32>> {
        let mut pids = Vec::new();
        for file in self.procs_files() {
            pids.extend(cgroupfs::read_pids(&file)?);
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// SIGKILL everything in the groups. Frozen first so nothing forks away meanwhile; v1
    /// frozen tasks only die once thawed.
    pub fn kill_all(&self) -> io::Result<()> {
        let frozen = self.freeze(true).is_ok();
        for _ in 0..10 {
            let pids = self.pids()?;
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                // SAFETY: kill(2) has no memory effects.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
            if !frozen {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if frozen {
            self.freeze(false)?;
        }
        Ok(())
    }

    pub fn remove(&self) -> io::Result<()> {
        if !self.pids().unwrap_or_default().is_empty() {
            self.kill_all()?;
        }
        let mut result = Ok(());
        for dir in &self.dirs {
            if let Err(err) = cgroupfs::rmdir_retry(&dir.path, REMOVE_TIMEOUT) {
                result = result.and(Err(err));
            }
            // The instance directory goes when its last capsule does.
            if let Some(instance) = dir.path.parent() {
                let _ = std::fs::remove_dir(instance);
            }
        }
        result
    }
}
