//! What both cgroup backends share: reading `/proc/self/mountinfo` and `/proc/self/cgroup`,
//! and small file helpers whose errors name the file.
//!
//! Only directories on a mount the kernel reports as `cgroup` or `cgroup2` are ever written:
//! on hybrid machines `/sys/fs/cgroup` itself is a tmpfs that accepts any file.

use std::{
    fs, io,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// One cgroup filesystem mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The cgroup path this mount shows at its mount point (`/` unless bind-mounted).
    pub root: String,
    pub point: PathBuf,
    /// `cgroup2`, or `cgroup` for a v1 hierarchy.
    pub fstype: String,
    /// The v1 controllers of the hierarchy (`memory`, `cpu`, …); empty for cgroup2.
    pub controllers: Vec<String>,
}

/// One line of `/proc/self/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Empty for the v2 line `0::/path`.
    pub controllers: Vec<String>,
    pub path: String,
}

/// Undo the octal escapes (`\040` for a space) of mountinfo fields.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b))
        {
            let digit = |k: usize| u32::from(bytes[i + k] - b'0');
            out.push((digit(1) * 64 + digit(2) * 8 + digit(3)) as u8);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup mounts in a mountinfo text.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let mut right = right.split(' ');
        let (Some(fstype), Some(_source), Some(options)) = (right.next(), right.next(), right.next()) else {
            continue;
        };
        if left.len() < 5 || (fstype != "cgroup" && fstype != "cgroup2") {
            continue;
        }
        let controllers = if fstype == "cgroup" {
            options
                .split(',')
                .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains('='))
                .filter(|o| !matches!(*o, "noprefix" | "clone_children" | "xattr" | "cpuset_v2_mode"))
                .map(str::to_string)
                .collect()
        } else {
            Vec::new()
        };
        mounts.push(Mount {
            root: unescape(left[3]),
            point: PathBuf::from(unescape(left[4])),
            fstype: fstype.to_string(),
            controllers,
        });
    }
    mounts
}

/// The lines of a `/proc/<pid>/cgroup` text.
pub fn parse_proc_cgroup(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            Some(Membership {
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                path: path.to_string(),
            })
        })
        .collect()
}

pub fn mounts() -> Vec<Mount> {
    fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse_mountinfo(&t))
        .unwrap_or_default()
}

pub fn memberships() -> Vec<Membership> {
    fs::read_to_string("/proc/self/cgroup")
        .map(|t| parse_proc_cgroup(&t))
        .unwrap_or_default()
}

/// The directory of cgroup `path` inside `mount`. A path outside what the mount shows (a
/// namespaced or bind-mounted view) maps to the mount point itself.
pub fn dir_for(mount: &Mount, path: &str) -> PathBuf {
    let root = mount.root.trim_end_matches('/');
    let rel = match path.strip_prefix(root) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => "",
    };
    let rel = rel.trim_start_matches('/');
    if rel.is_empty() || rel.split('/').any(|c| c == "..") {
        mount.point.clone()
    } else {
        mount.point.join(rel)
    }
}

fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

/// Write `value` to a control file in one `write(2)`, as the kernel expects.
pub fn write(path: &Path, value: &str) -> io::Result<()> {
    fs::write(path, value).map_err(|e| with_path(e, path))
}

pub fn read(path: &Path) -> io::Result<String> {
    fs::read_to_string(path).map_err(|e| with_path(e, path))
}

/// The value of `key` in a flat keyed file (`key value` per line: memory.events,
/// memory.oom_control, cgroup.events).
pub fn read_key(path: &Path, key: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// The processes listed in a `cgroup.procs` file.
pub fn read_pids(procs: &Path) -> io::Result<Vec<u32>> {
    Ok(read(procs)?
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect())
}

/// Create `dir` (its parent must exist); an existing directory is fine.
pub fn mkdir(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(with_path(e, dir)),
    }
}

/// Remove a cgroup directory, retrying while the kernel still counts exiting processes in it.
/// A directory that is already gone is fine.
pub fn rmdir_retry(dir: &Path, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(with_path(e, dir)),
        }
    }
}

/// The per-compositor directory capsule groups live in, so that several compositors sharing
/// one cgroup (parallel tests, nested sessions) never touch each other's capsules.
pub fn instance_name() -> String {
    format!("nexquelium-{}", std::process::id())
}

/// Remove the empty leftovers of compositors that are gone (`nexquelium-<pid>` for a pid that
/// no longer exists). Groups that still hold processes are left alone.
pub fn remove_stale_instances(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("nexquelium-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = entry.path();
        if let Ok(children) = fs::read_dir(&dir) {
            for child in children.flatten() {
                if child.file_type().is_ok_and(|t| t.is_dir()) {
                    kill_all(&child.path());
                    let _ = fs::remove_dir(child.path());
                }
            }
        }
        if fs::remove_dir(&dir).is_ok() {
            tracing::debug!(dir = %dir.display(), "removed a stale capsule cgroup");
        }
    }
}

/// SIGKILL every process left in the group at `dir` (a capsule of a compositor that died) and
/// wait, briefly, for the group to empty.
fn kill_all(dir: &Path) {
    let procs = dir.join("cgroup.procs");
    let Ok(pids) = read_pids(&procs) else { return };
    if pids.is_empty() {
        return;
    }
    tracing::info!(dir = %dir.display(), ?pids, "killing what a dead compositor's capsule left");
    for pid in pids {
        // SAFETY: kill(2) with a pid read from the group; a pid that has gone is ESRCH.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
    wait_until(Duration::from_secs(1), || {
        read_pids(&procs).map(|p| p.is_empty()).unwrap_or(true)
    });
}

/// Poll `done` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 /inner /sys/fs/cgroup/unified\\040x rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn mountinfo_lists_cgroup_mounts_with_their_controllers() {
        let mounts = parse_mountinfo(HYBRID);
        assert_eq!(mounts.len(), 4, "the tmpfs is not a cgroup mount: {mounts:?}");
        assert_eq!(mounts[0].point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(mounts[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(
            mounts[2].controllers,
            Vec::<String>::new(),
            "named hierarchies have no controller"
        );
        assert_eq!(mounts[3].fstype, "cgroup2");
        assert_eq!(mounts[3].point, Path::new("/sys/fs/cgroup/unified x"));
        assert_eq!(mounts[3].root, "/inner");
    }

    #[test]
    fn proc_cgroup_lines_and_directories() {
        let lines = parse_proc_cgroup("4:memory:/process_api/abc\n3:cpu,cpuacct:/\n0::/user.slice/x.scope\n");
        assert_eq!(lines[0].controllers, ["memory"]);
        assert_eq!(lines[0].path, "/process_api/abc");
        assert_eq!(lines[1].controllers, ["cpu", "cpuacct"]);
        assert!(lines[2].controllers.is_empty());

        let mounts = parse_mountinfo(HYBRID);
        assert_eq!(
            dir_for(&mounts[1], "/process_api/abc"),
            Path::new("/sys/fs/cgroup/memory/process_api/abc")
        );
        assert_eq!(dir_for(&mounts[0], "/"), Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(
            dir_for(&mounts[3], "/inner/a"),
            Path::new("/sys/fs/cgroup/unified x/a")
        );
        assert_eq!(
            dir_for(&mounts[3], "/innerx"),
            Path::new("/sys/fs/cgroup/unified x")
        );
        assert_eq!(
            dir_for(&mounts[3], "/inner/../etc"),
            Path::new("/sys/fs/cgroup/unified x")
        );
    }

    #[test]
    fn keyed_files() {
        let dir = std::env::temp_dir().join(format!("nexquelium-cgroupfs-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("memory.events");
        fs::write(&file, "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\n").unwrap();
        assert_eq!(read_key(&file, "oom_kill"), Some(2));
        assert_eq!(read_key(&file, "oom"), Some(3));
        assert_eq!(read_key(&file, "missing"), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
