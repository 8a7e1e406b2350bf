//! The pseudo file systems a booted system needs, and unmounting at shutdown.

use std::ffi::CString;
use std::io;
use std::path::Path;

/// One mount: what, where, type, flags, options.
struct Mount {
    source: &'static str,
    target: &'static str,
    fstype: &'static str,
    flags: libc::c_ulong,
    data: &'static str,
}

const NOSUID: libc::c_ulong = libc::MS_NOSUID;
const NODEV: libc::c_ulong = libc::MS_NODEV;
const NOEXEC: libc::c_ulong = libc::MS_NOEXEC;

/// In order: each target's parent is mounted before it.
const MOUNTS: [Mount; 8] = [
    Mount {
        source: "proc",
        target: "/proc",
        fstype: "proc",
        flags: NOSUID | NODEV | NOEXEC,
        data: "",
    },
    Mount {
        source: "sysfs",
        target: "/sys",
        fstype: "sysfs",
        flags: NOSUID | NODEV | NOEXEC,
        data: "",
    },
    Mount {
        source: "devtmpfs",
        target: "/dev",
        fstype: "devtmpfs",
        flags: NOSUID,
        data: "mode=0755",
    },
    Mount {
        source: "devpts",
        target: "/dev/pts",
        fstype: "devpts",
        flags: NOSUID | NOEXEC,
        data: "gid=5,mode=0620,ptmxmode=0666",
    },
    Mount {
        source: "tmpfs",
        target: "/dev/shm",
        fstype: "tmpfs",
        flags: NOSUID | NODEV,
        data: "mode=1777",
    },
    Mount {
        source: "tmpfs",
        target: "/run",
        fstype: "tmpfs",
        flags: NOSUID | NODEV,
        data: "mode=0755",
    },
    Mount {
        source: "cgroup2",
        target: "/sys/fs/cgroup",
        fstype: "cgroup2",
        flags: NOSUID | NODEV | NOEXEC,
        data: "nsdelegate",
    },
    // Root-only (0700); the kernel's own state, e.g. `dri/0/state` for the planes in use.
    Mount {
        source: "debugfs",
        target: "/sys/kernel/debug",
        fstype: "debugfs",
        flags: NOSUID | NODEV | NOEXEC,
        data: "mode=0700",
    },
];

/// The mount points listed in /proc/self/mountinfo (field 5, octal escapes decoded), in mount order.
pub fn mount_points() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|text| parse_mountinfo(&text))
        .unwrap_or_default()
}

/// Mount points from mountinfo text.
pub fn parse_mountinfo(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape)
        .collect()
}

/// Decodes mountinfo's `\040`-style escapes.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b));
        if bytes[i] == b'\\' && octal {
            let digit = |j: usize| u32::from(bytes[j] - b'0');
            let v = digit(i + 1) * 64 + digit(i + 2) * 8 + digit(i + 3);
            out.push(u8::try_from(v).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

/// Mounts everything in [`MOUNTS`] that is not mounted yet. Returns messages
/// for the console (it may not be open yet when this runs).
pub fn mount_all() -> Vec<String> {
    let mut messages = Vec::new();
    for m in &MOUNTS {
        // /proc may not be mounted for the first check; EBUSY covers that case.
        if mount_points().iter().any(|p| p == m.target) {
            continue;
        }
        if let Err(e) = std::fs::create_dir_all(m.target) {
            messages.push(format!("cannot create {}: {e}", m.target));
        }
        match mount_one(m) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => messages.push(format!(
                "cannot mount {} ({}) on {}: {e}",
                m.source, m.fstype, m.target
            )),
        }
    }
    messages
}

fn mount_one(m: &Mount) -> io::Result<()> {
    let source = cstring(m.source)?;
    let target = cstring(m.target)?;
    let fstype = cstring(m.fstype)?;
    let data = cstring(m.data)?;
    let data_ptr = if m.data.is_empty() {
        std::ptr::null()
    } else {
        data.as_ptr().cast()
    };
    // SAFETY: all pointers are valid NUL-terminated strings (or null data).
    let r = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            m.flags,
            data_ptr,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// What [`unmount_all`] managed.
#[derive(Debug, Default)]
pub struct Unmounted {
    pub unmounted: usize,
    pub read_only: Vec<String>,
    pub kept: Vec<(String, io::Error)>,
}

/// Unmounts everything but `/`, newest first; what cannot be unmounted is
/// remounted read-only, and what cannot be either is reported.
pub fn unmount_all() -> Unmounted {
    let mut result = Unmounted::default();
    for point in mount_points().into_iter().rev() {
        if point == "/" {
            continue;
        }
        let Ok(target) = cstring(&point) else { continue };
        // SAFETY: target is a valid C string.
        if unsafe { libc::umount2(target.as_ptr(), 0) } == 0 {
            result.unmounted += 1;
            continue;
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EINVAL) || err.raw_os_error() == Some(libc::ENOENT) {
            // Already gone with a parent (or never a mount point of ours).
            continue;
        }
        let flags = libc::MS_REMOUNT | libc::MS_RDONLY;
        // SAFETY: remount with null source, type and data is valid.
        let r = unsafe {
            libc::mount(
                std::ptr::null(),
                target.as_ptr(),
                std::ptr::null(),
                flags,
                std::ptr::null(),
            )
        };
        if r == 0 {
            result.read_only.push(point);
        } else {
            result.kept.push((point, err));
        }
    }
    // The root file system: read-only so nothing is half-written at power off.
    // (An initramfs root cannot be remounted; that is harmless.)
    let root = c"/";
    // SAFETY: as above.
    unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT | libc::MS_RDONLY,
            std::ptr::null(),
        );
    }
    result
}

/// Creates `path` (and parents) with `mode` for the last component.
pub fn make_dir(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_points_with_escapes() {
        let text = "22 1 0:21 / / rw - rootfs rootfs rw\n\
                    23 22 0:22 / /proc rw,nosuid - proc proc rw\n\
                    41 23 0:38 /inner /sys/fs/cgroup/unified\\040x rw shared:9 - cgroup2 cgroup2 rw\n";
        assert_eq!(parse_mountinfo(text), ["/", "/proc", "/sys/fs/cgroup/unified x"]);
    }

    #[test]
    fn mounts_are_ordered_parents_first() {
        for (i, m) in MOUNTS.iter().enumerate() {
            for later in &MOUNTS[i + 1..] {
                assert!(
                    !m.target.starts_with(&format!("{}/", later.target)),
                    "{} before {}",
                    m.target,
                    later.target
                );
            }
        }
    }
}
