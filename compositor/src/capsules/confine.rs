//! Kernel confinement of capsule processes: what `plan` decides, `prepare` readies before fork,
//! and `apply_in_child` does between fork and exec.
//!
//! * **uid/gid** — when the compositor runs as root, every capsule gets its own unprivileged
//!   uid and gid, `UID_BASE + slot` (61000..=61127: between systemd-homed's and systemd's
//!   dynamic-user ranges), the slot derived from the name (stable across restarts) and probed
//!   past collisions and ids listed in /etc/passwd or /etc/group; no supplementary groups.
//!   These ids have no passwd entry. If all slots are taken a capsule gets `nobody` (65534).
//!   As an ordinary user, capsules keep the compositor's uid.
//! * **network** — a capsule without `net.connect` gets a new network namespace holding only
//!   `lo`, brought up. As root that is `unshare(CLONE_NEWNET)`; as an ordinary user it is a new
//!   user namespace mapping only the compositor's uid and gid, when the kernel allows
//!   unprivileged user namespaces (probed once). Otherwise the capsule shares the network and
//!   `unenforced` says `net.connect`.
//! * **cgroup** — `<own group>/nexquelium-<pid>/exosphere-<name>`, on cgroup v2 when the unified
//!   hierarchy offers the memory and pids controllers, else on the v1 hierarchies (memory, cpu,
//!   pids, freezer), with `memory_max` (swap off), `cpu_max` (period 100 ms) and `pids_max`. The
//!   child joins it itself before exec, so nothing it runs escapes accounting. No cgroup when no
//!   backend is writable (not root, no delegation); the reason is logged.
//! * always: its own session (no controlling terminal, so no TIOCSTI into the compositor's),
//!   an empty bounding set, no capabilities, no ambient capabilities, and `PR_SET_NO_NEW_PRIVS`.
//!
//! Whatever could not be applied is listed in [`ConfinementPlan::unenforced`] and in
//! [`describe`]. What cannot be prepared fails the spawn instead of starting the capsule with
//! less confinement than planned.

mod cgroup_v1;
mod cgroup_v2;
mod cgroupfs;

use std::{
    ffi::CStr,
    fs::OpenOptions,
    io,
    os::fd::{AsRawFd, OwnedFd},
    path::PathBuf,
    sync::{Mutex, OnceLock},
    time::Duration,
};

pub use exo_shell::capsule::Resources;

/// The first capsule uid (and gid).
pub const UID_BASE: u32 = 61000;
/// How many capsule uids there are.
pub const UID_SLOTS: u32 = 128;
/// The uid and gid of a capsule when every slot is taken.
pub const NOBODY: u32 = 65534;

const CPU_PERIOD_US: u64 = 100_000;
const FREEZE_TIMEOUT: Duration = Duration::from_secs(2);
const REMOVE_TIMEOUT: Duration = Duration::from_secs(1);

/// `cpu_max` as a CFS quota per [`CPU_PERIOD_US`] (the kernel's minimum is 1 ms).
fn cpu_quota_us(percent: u32) -> u64 {
    (u64::from(percent) * CPU_PERIOD_US / 100).max(1000)
}

/// The quota (µs per `period`) that is `percent` of one CPU, if it is below `current` (`None`:
/// no quota); `None` when the current quota is already at or below it.
fn lowered_quota(current: Option<u64>, period: u64, percent: u32) -> Option<u64> {
    let target = (u64::from(percent) * period / 100).max(1000);
    current.is_none_or(|q| q > target).then_some(target)
}

/// What `plan` decided for one capsule start. Keep it (and its cgroup) for the capsule's life.
#[derive(Debug)]
pub struct ConfinementPlan {
    /// The unprivileged uid and gid to run as (only when the compositor is root).
    pub uid_gid: Option<(u32, u32)>,
    /// A new network namespace with only `lo` (no `net.connect`).
    pub new_netns: bool,
    pub cgroup: Option<CgroupHandle>,
    /// Always true: `PR_SET_NO_NEW_PRIVS`, so setuid binaries and file capabilities grant nothing.
    pub no_new_privs: bool,
    /// What was asked for but is not enforced: `net.connect` (the capsule shares the network),
    /// `memory_max`, `cpu_max`, `pids_max`.
    pub unenforced: Vec<String>,
}

/// A capsule's cgroup (one directory on v2, one per hierarchy on v1).
#[derive(Debug)]
pub struct CgroupHandle {
    group: Group,
    resources: Resources,
}

#[derive(Debug)]
enum Group {
    V1(cgroup_v1::Group),
    V2(cgroup_v2::Group),
}

macro_rules! each {
    ($self:expr, $g:ident => $e:expr) => {
        match &$self.group {
            Group::V1($g) => $e,
            Group::V2($g) => $e,
        }
    };
}

impl CgroupHandle {
    /// `"cgroup2"` or `"cgroup1"`.
    pub fn backend(&self) -> &'static str {
        match self.group {
            Group::V1(_) => "cgroup1",
            Group::V2(_) => "cgroup2",
        }
    }

    /// The controllers in force: `memory`, `cpu`, `pids`, and `freezer` (v1) or `freeze` (v2).
    pub fn controllers(&self) -> Vec<&'static str> {
        each!(self, g => g.controllers())
    }

    /// The group directories.
    pub fn paths(&self) -> Vec<PathBuf> {
        each!(self, g => g.paths())
    }

    /// Move a process into the group (the child does this itself before exec; this is for
    /// processes started otherwise).
    pub fn add_pid(&self, pid: u32) -> io::Result<()> {
        for file in each!(self, g => g.procs_files()) {
            cgroupfs::write(&file, &pid.to_string())?;
        }
        Ok(())
    }

    /// The processes in the group.
    pub fn pids(&self) -> io::Result<Vec<u32>> {
        each!(self, g => g.pids())
    }

    /// Freeze or thaw every process in the group; returns once the kernel reports the new
    /// state (`TimedOut` if that takes over 2 s — the request stays in effect).
    pub fn freeze(&self, frozen: bool) -> io::Result<()> {
        each!(self, g => g.freeze(frozen))
    }

    /// How many processes the kernel OOM-killed in the group (`None` without a memory
    /// controller, or on kernels before 4.13).
    pub fn oom_kills(&self) -> Option<u64> {
        each!(self, g => g.oom_kills())
    }

    /// The group directory with the memory controller: `memory.oom_control` (v1) or
    /// `memory.events` (v2) is there.
    pub fn memory_dir(&self) -> Option<PathBuf> {
        each!(self, g => g.memory_dir())
    }

    /// Lowers the group's CPU limit (v1 `cpu.cfs_quota_us`, v2 `cpu.max`) to `percent` of one
    /// CPU; a lower limit is left alone. `Some(percent in force)` when it was lowered, `None`
    /// when it already was at or below that; `Unsupported` without a cpu controller.
    pub fn throttle_cpu(&self, percent: u32) -> io::Result<Option<u64>> {
        each!(self, g => g.throttle_cpu(percent))
    }

    /// SIGKILL every process in the group.
    pub fn kill_all(&self) -> io::Result<()> {
        each!(self, g => g.kill_all())
    }

    /// Remove the group once the capsule has exited; whatever it left running in there is
    /// killed first.
    pub fn remove(self) -> io::Result<()> {
        each!(self, g => g.remove())
    }

    fn describe(&self) -> String {
        let limits = self
            .controllers()
            .into_iter()
            .map(|c| match c {
                "memory" => self
                    .resources
                    .memory_max
                    .map_or(c.to_string(), |b| format!("memory {}", bytes(b))),
                "cpu" => self
                    .resources
                    .cpu_max_percent
                    .map_or(c.to_string(), |p| format!("cpu {p}%")),
                "pids" => self
                    .resources
                    .pids_max
                    .map_or(c.to_string(), |n| format!("pids {n}")),
                _ => c.to_string(),
            })
            .collect::<Vec<_>>();
        format!("{} ({})", self.backend(), limits.join(", "))
    }
}

fn bytes(b: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    UNITS
        .iter()
        .find(|(unit, _)| b >= *unit && b.is_multiple_of(*unit))
        .map_or(b.to_string(), |(unit, suffix)| format!("{}{suffix}", b / unit))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Capsule names are validated by the manifest parser; this only makes sure nothing else
/// reaches a path.
fn sanitize(name: &str) -> String {
    let clean: String = name
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean.is_empty() {
        "unnamed".into()
    } else {
        clean
    }
}

fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The ids named in /etc/passwd and /etc/group (never handed to a capsule).
fn system_ids() -> Vec<u32> {
    ["/etc/passwd", "/etc/group"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|l| l.split(':').nth(2).and_then(|id| id.parse().ok()))
                .collect::<Vec<u32>>()
        })
        .collect()
}

static UIDS: Mutex<Vec<(String, u32)>> = Mutex::new(Vec::new());

/// The capsule's uid and gid (equal): its name's slot, or the next free one.
fn capsule_id(name: &str, system: &[u32]) -> u32 {
    let mut table = UIDS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, id)) = table.iter().find(|(n, _)| n == name) {
        return *id;
    }
    let start = fnv1a(name) % UID_SLOTS;
    let free = (0..UID_SLOTS)
        .map(|i| UID_BASE + (start + i) % UID_SLOTS)
        .find(|id| !system.contains(id) && !table.iter().any(|(_, t)| t == id));
    let id = free.unwrap_or_else(|| {
        tracing::warn!(
            capsule = name,
            "all {UID_SLOTS} capsule uids are taken; running it as nobody"
        );
        NOBODY
    });
    table.push((name.to_string(), id));
    id
}

/// How a new network namespace is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NetnsKind {
    /// `unshare(CLONE_NEWNET)` (root).
    Plain,
    /// Inside a new user namespace (ordinary user, unprivileged user namespaces allowed).
    User,
    Unavailable,
}

fn netns_kind() -> NetnsKind {
    static KIND: OnceLock<NetnsKind> = OnceLock::new();
    *KIND.get_or_init(|| {
        if is_root() {
            NetnsKind::Plain
        } else if userns_works() {
            NetnsKind::User
        } else {
            NetnsKind::Unavailable
        }
    })
}

/// Try the user-namespace path in a throwaway child.
fn userns_works() -> bool {
    let netns = Netns::user();
    // SAFETY: the child only makes async-signal-safe system calls, then _exit()s.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            let code = if enter_netns(&netns).is_ok() { 0 } else { 1 };
            libc::_exit(code);
        }
        if pid < 0 {
            return false;
        }
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) < 0 {
            if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return false;
            }
        }
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    }
}

type Probes = (Option<cgroup_v1::Probe>, Option<cgroup_v2::Probe>);

/// The backends, probed once: the v2 probe must not see the compositor after it moved itself.
fn probes() -> &'static Probes {
    static PROBES: OnceLock<Probes> = OnceLock::new();
    PROBES.get_or_init(|| (cgroup_v1::probe(), cgroup_v2::probe()))
}

fn create_cgroup(name: &str, resources: &Resources, unenforced: &mut Vec<String>) -> Option<CgroupHandle> {
    let (v1, v2) = probes();
    let leaf = format!("exosphere-{name}");
    let v2_preferred = v2.as_ref().is_some_and(|p| p.has("memory") && p.has("pids"));
    let mut reasons = Vec::new();
    for try_v2 in [v2_preferred, !v2_preferred] {
        let mut partial = Vec::new();
        let created = match (try_v2, v1, v2) {
            (true, _, Some(p)) => cgroup_v2::Group::create(p, &leaf, resources, &mut partial).map(Group::V2),
            (false, Some(p), _) => cgroup_v1::Group::create(p, &leaf, resources, &mut partial).map(Group::V1),
            _ => continue,
        };
        match created {
            Ok(group) => {
                unenforced.extend(partial);
                return Some(CgroupHandle {
                    group,
                    resources: *resources,
                });
            }
            Err(err) => reasons.push(format!("{}: {err}", if try_v2 { "cgroup2" } else { "cgroup1" })),
        }
    }
    if reasons.is_empty() {
        reasons.push("no cgroup filesystem is mounted".into());
    }
    tracing::warn!(capsule = name, reasons = %reasons.join("; "), "capsule runs without a cgroup");
    None
}

/// Decide how to confine capsule `name`. Creates its cgroup with the limits applied.
pub fn plan(name: &str, net_connect: bool, resources: &Resources) -> ConfinementPlan {
    let name = sanitize(name);
    let mut unenforced = Vec::new();
    let uid_gid = is_root().then(|| {
        let id = capsule_id(&name, &system_ids());
        (id, id)
    });
    let new_netns = !net_connect
        && match netns_kind() {
            NetnsKind::Plain | NetnsKind::User => true,
            NetnsKind::Unavailable => {
                tracing::warn!(
                    capsule = name,
                    "no network namespace (not root, no unprivileged user namespaces): the capsule shares the network"
                );
                unenforced.push("net.connect".to_string());
                false
            }
        };
    let cgroup = create_cgroup(&name, resources, &mut unenforced);
    let controllers = cgroup.as_ref().map(CgroupHandle::controllers).unwrap_or_default();
    for (what, requested, controller) in [
        ("memory_max", resources.memory_max.is_some(), "memory"),
        ("cpu_max", resources.cpu_max_percent.is_some(), "cpu"),
        ("pids_max", resources.pids_max.is_some(), "pids"),
    ] {
        if requested && !controllers.contains(&controller) && !unenforced.iter().any(|u| u == what) {
            unenforced.push(what.to_string());
        }
    }
    unenforced.dedup();
    ConfinementPlan {
        uid_gid,
        new_netns,
        cgroup,
        no_new_privs: true,
        unenforced,
    }
}

/// One line for `exoctl capsules`, e.g. `uid 61001, netns, cgroup1 (memory 64M, cpu 50%,
/// pids, freezer)`, or `unconfined`; followed by `not enforced: …` when something is missing.
pub fn describe(plan: &ConfinementPlan) -> String {
    let mut parts = Vec::new();
    if let Some((uid, _)) = plan.uid_gid {
        parts.push(format!("uid {uid}"));
    }
    if plan.new_netns {
        parts.push("netns".to_string());
    }
    if let Some(cgroup) = &plan.cgroup {
        parts.push(cgroup.describe());
    }
    let mut text = if parts.is_empty() {
        "unconfined".to_string()
    } else {
        parts.join(", ")
    };
    if !plan.unenforced.is_empty() {
        text.push_str(&format!("; not enforced: {}", plan.unenforced.join(", ")));
    }
    text
}

/// A new network namespace, as the child makes it.
#[derive(Debug)]
enum Netns {
    None,
    Plain,
    /// `uid_map` / `gid_map` contents mapping the compositor's ids to themselves.
    User {
        uid_map: Vec<u8>,
        gid_map: Vec<u8>,
    },
}

impl Netns {
    fn user() -> Netns {
        // SAFETY: geteuid/getegid have no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        Netns::User {
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
        }
    }
}

/// Everything `apply_in_child` needs, allocated and opened before fork.
#[derive(Debug)]
pub struct PreparedPlan {
    /// An errno from preparing: the child fails with it instead of running less confined.
    error: Option<i32>,
    /// `cgroup.procs` of each group, opened for writing (close-on-exec).
    cgroup_procs: Vec<OwnedFd>,
    netns: Netns,
    uid_gid: Option<(u32, u32)>,
    last_cap: u32,
    /// Whether failing to drop the bounding set is an error (we hold CAP_SETPCAP: root, or the
    /// owner of a new user namespace).
    bounding_required: bool,
    no_new_privs: bool,
    /// The compositor's pid: the capsule dies with it (parent-death signal).
    parent: libc::pid_t,
}

/// Ready `plan` for `apply_in_child`. Never fails: a problem is kept and makes the spawn fail.
pub fn prepare(plan: &ConfinementPlan) -> PreparedPlan {
    let mut error = None;
    let mut cgroup_procs = Vec::new();
    if let Some(cgroup) = &plan.cgroup {
        for file in each!(cgroup, g => g.procs_files()) {
            match OpenOptions::new().write(true).open(&file) {
                Ok(f) => cgroup_procs.push(OwnedFd::from(f)),
                Err(err) => {
                    tracing::warn!(file = %file.display(), %err, "cannot open the capsule's cgroup");
                    error.get_or_insert(err.raw_os_error().unwrap_or(libc::EIO));
                }
            }
        }
    }
    let kind = netns_kind();
    let netns = match (plan.new_netns, kind) {
        (false, _) => Netns::None,
        (true, NetnsKind::Plain) => Netns::Plain,
        (true, NetnsKind::User) => Netns::user(),
        (true, NetnsKind::Unavailable) => {
            error.get_or_insert(libc::EPERM);
            Netns::None
        }
    };
    let last_cap = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63);
    let bounding_required = is_root() || matches!(netns, Netns::User { .. });
    PreparedPlan {
        error,
        cgroup_procs,
        netns,
        uid_gid: plan.uid_gid,
        last_cap,
        bounding_required,
        no_new_privs: plan.no_new_privs,
        parent: std::process::id() as libc::pid_t,
    }
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        Err(last_error())
    } else {
        Ok(())
    }
}

/// Write `data` to `path` in one write(2). Async-signal-safe.
unsafe fn write_file(path: &CStr, data: &[u8]) -> io::Result<()> {
    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
    check(fd)?;
    let written = libc::write(fd, data.as_ptr().cast(), data.len());
    let result = if written == data.len() as isize {
        Ok(())
    } else {
        Err(last_error())
    };
    libc::close(fd);
    result
}

/// Bring `lo` up in the current network namespace. Async-signal-safe.
unsafe fn loopback_up() -> io::Result<()> {
    let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
    check(sock)?;
    let mut req: libc::ifreq = std::mem::zeroed();
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    let mut result = check(libc::ioctl(sock, libc::SIOCGIFFLAGS as _, &mut req));
    if result.is_ok() {
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        result = check(libc::ioctl(sock, libc::SIOCSIFFLAGS as _, &req));
    }
    libc::close(sock);
    result
}

/// Enter a new network namespace with `lo` up. Async-signal-safe.
unsafe fn enter_netns(netns: &Netns) -> io::Result<()> {
    match netns {
        Netns::None => return Ok(()),
        Netns::Plain => check(libc::unshare(libc::CLONE_NEWNET))?,
        Netns::User { uid_map, gid_map } => {
            check(libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET))?;
            write_file(c"/proc/self/setgroups", b"deny")?;
            write_file(c"/proc/self/uid_map", uid_map)?;
            write_file(c"/proc/self/gid_map", gid_map)?;
        }
    }
    loopback_up()
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Confine the calling process; for `Command::pre_exec`, between fork and exec. Only
/// async-signal-safe system calls, no allocation.
///
/// In order: new session; join the cgroup(s); new network namespace with `lo` up; empty the
/// bounding set (while still privileged); `setgroups([])`, gid, uid; clear the capability
/// sets and ambient capabilities; the parent-death signal; `PR_SET_NO_NEW_PRIVS`. Do not combine with
/// `CommandExt::process_group` (setsid then fails with EPERM) or `CommandExt::uid`.
///
/// # Safety
/// Call only in a freshly forked child, before exec.
pub unsafe fn apply_in_child(plan: &PreparedPlan) -> io::Result<()> {
    if let Some(errno) = plan.error {
        return Err(io::Error::from_raw_os_error(errno));
    }
    check(libc::setsid())?;
    for fd in &plan.cgroup_procs {
        if libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) != 1 {
            return Err(last_error());
        }
    }
    enter_netns(&plan.netns)?;
    for cap in 0..=plan.last_cap {
        if libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) < 0 {
            let err = last_error();
            match err.raw_os_error() {
                // Past the kernel's last capability.
                Some(libc::EINVAL) => break,
                // An ordinary user cannot change its bounding set; no-new-privs below keeps
                // it from ever gaining anything in it.
                Some(libc::EPERM) if !plan.bounding_required => break,
                _ => return Err(err),
            }
        }
    }
    if let Some((uid, gid)) = plan.uid_gid {
        check(libc::setgroups(0, std::ptr::null()))?;
        check(libc::setresgid(gid, gid, gid))?;
        check(libc::setresuid(uid, uid, uid))?;
    }
    let header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    if libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) < 0 {
        return Err(last_error());
    }
    // Already empty after the capset above; cleared explicitly all the same (EINVAL: a
    // kernel before 4.3, without ambient capabilities).
    let ambient = libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong;
    if libc::prctl(libc::PR_CAP_AMBIENT, ambient, 0, 0, 0) < 0 {
        let err = last_error();
        if err.raw_os_error() != Some(libc::EINVAL) {
            return Err(err);
        }
    }
    // A capsule cannot outlive the compositor whose connection identifies it: SIGKILL when the
    // compositor dies. Set after the uid change, which clears it; if the compositor is already
    // gone, do not start at all. (Its own children are swept with its cgroup by the next
    // compositor: `cgroupfs::remove_stale_instances`.)
    check(libc::prctl(
        libc::PR_SET_PDEATHSIG,
        libc::SIGKILL as libc::c_ulong,
        0,
        0,
        0,
    ))?;
    if libc::getppid() != plan.parent {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    if plan.no_new_privs {
        check(libc::prctl(
            libc::PR_SET_NO_NEW_PRIVS,
            1 as libc::c_ulong,
            0,
            0,
            0,
        ))?;
    }
    Ok(())
}

/// `prepare` + `pre_exec(apply_in_child)` for a command that needs nothing else in its
/// pre-exec hook.
pub fn confine_command(cmd: &mut std::process::Command, plan: &ConfinementPlan) {
    use std::os::unix::process::CommandExt;
    let prepared = prepare(plan);
    // SAFETY: apply_in_child is async-signal-safe and runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || apply_in_child(&prepared));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_stable_distinct_ids_in_range() {
        let a = capsule_id("unit-alpha", &[]);
        let b = capsule_id("unit-beta", &[]);
        assert_eq!(capsule_id("unit-alpha", &[]), a, "the same name keeps its id");
        assert_ne!(a, b);
        for id in [a, b] {
            assert!((UID_BASE..UID_BASE + UID_SLOTS).contains(&id), "{id}");
        }
        // A system id is skipped: the next slot is used.
        let slot = UID_BASE + fnv1a("unit-gamma") % UID_SLOTS;
        let c = capsule_id("unit-gamma", &[slot]);
        assert_ne!(c, slot);
        assert!((UID_BASE..UID_BASE + UID_SLOTS).contains(&c));
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitize("terminal-2"), "terminal-2");
        assert_eq!(sanitize("../x/Y"), "---x--");
        assert_eq!(sanitize(""), "unnamed");
    }

    #[test]
    fn quotas_and_sizes() {
        assert_eq!(cpu_quota_us(50), 50_000);
        assert_eq!(cpu_quota_us(150), 150_000);
        assert_eq!(cpu_quota_us(0), 1000);
        assert_eq!(bytes(64 << 20), "64M");
        assert_eq!(bytes(3 << 30), "3G");
        assert_eq!(bytes(1000), "1000");
    }

    #[test]
    fn throttling_only_ever_lowers_the_quota() {
        // No quota, or a higher one: lowered to the share of one CPU (at least 1 ms).
        assert_eq!(lowered_quota(None, 100_000, 50), Some(50_000));
        assert_eq!(lowered_quota(Some(400_000), 100_000, 50), Some(50_000));
        assert_eq!(lowered_quota(Some(60_000), 200_000, 25), Some(50_000));
        assert_eq!(lowered_quota(None, 100_000, 0), Some(1000));
        // Already at or below it: left alone.
        assert_eq!(lowered_quota(Some(50_000), 100_000, 50), None);
        assert_eq!(lowered_quota(Some(20_000), 100_000, 50), None);
    }

    #[test]
    fn describe_lists_what_is_in_force() {
        let plan = ConfinementPlan {
            uid_gid: Some((61001, 61001)),
            new_netns: true,
            cgroup: None,
            no_new_privs: true,
            unenforced: vec!["memory_max".into()],
        };
        assert_eq!(describe(&plan), "uid 61001, netns; not enforced: memory_max");
        let bare = ConfinementPlan {
            uid_gid: None,
            new_netns: false,
            cgroup: None,
            no_new_privs: true,
            unenforced: vec![],
        };
        assert_eq!(describe(&bare), "unconfined");
    }
}
