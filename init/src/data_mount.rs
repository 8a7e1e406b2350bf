//! `exo-init --mount-label LABEL --mount-at DIR`: find the block device whose ext2/3/4
//! filesystem carries LABEL and mount it at DIR. The image runs it as a ready command of udevd
//! (after coldplug has loaded the disk and ext4 modules), so the disk image's data partition
//! (`exosphere-data`) is mounted before Nexquelium starts and keeps the user's configuration,
//! the capsules' homes and Sentry's event log across reboots. Read from the superblock itself:
//! no blkid, no udev symlinks needed.

use std::{
    fs::File,
    io::{self, Read},
    path::{Path, PathBuf},
};

/// The ext2/3/4 superblock starts 1024 bytes into the filesystem.
const SUPERBLOCK: usize = 1024;
const MAGIC_AT: usize = SUPERBLOCK + 0x38;
const LABEL_AT: usize = SUPERBLOCK + 0x78;
const EXT_MAGIC: u16 = 0xEF53;

/// The label of the ext2/3/4 filesystem on `dev`, or None when it holds none.
pub fn ext_label(dev: &Path) -> io::Result<Option<String>> {
    let mut head = [0u8; SUPERBLOCK + 0x100];
    let mut file = File::open(dev)?;
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..])? {
            0 => return Ok(None),
            n => read += n,
        }
    }
    if u16::from_le_bytes([head[MAGIC_AT], head[MAGIC_AT + 1]]) != EXT_MAGIC {
        return Ok(None);
    }
    let label = &head[LABEL_AT..LABEL_AT + 16];
    let end = label.iter().position(|&b| b == 0).unwrap_or(label.len());
    Ok(Some(String::from_utf8_lossy(&label[..end]).into_owned()))
}

/// The device in `dev_dir` named like an entry of `class_dir` (`/sys/class/block`) whose
/// filesystem is labelled `label`; devices that cannot be read are skipped.
pub fn find_by_label(class_dir: &Path, dev_dir: &Path, label: &str) -> Option<PathBuf> {
    let mut names: Vec<String> = std::fs::read_dir(class_dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| dev_dir.join(name))
        .find(|dev| matches!(ext_label(dev), Ok(Some(l)) if l == label))
}

/// What `--mount-label` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataMount {
    pub label: String,
    pub target: PathBuf,
    pub fstype: String,
    /// A missing filesystem is not an error (an image booted without its disk).
    pub optional: bool,
}

/// Mount it; the message says what happened (for the console), Err when it failed.
pub fn mount(m: &DataMount) -> Result<String, String> {
    // The directory exists either way (searchable by all, as /var/lib is): what the session keeps
    // there goes to memory when there is no filesystem to mount.
    std::fs::create_dir_all(&m.target).map_err(|e| format!("cannot create {}: {e}", m.target.display()))?;
    let Some(dev) = find_by_label(Path::new("/sys/class/block"), Path::new("/dev"), &m.label) else {
        let message = format!("no filesystem labelled {} on any block device", m.label);
        return if m.optional {
            Ok(format!("{message}; {} stays in memory", m.target.display()))
        } else {
            Err(message)
        };
    };
    let c = |s: &str| std::ffi::CString::new(s).map_err(|_| format!("NUL in {s:?}"));
    let source = c(&dev.to_string_lossy())?;
    let target = c(&m.target.to_string_lossy())?;
    let fstype = c(&m.fstype)?;
    // SAFETY: valid NUL-terminated strings; no data argument.
    let r = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            libc::MS_NOATIME,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(format!(
            "cannot mount {} ({}) on {}: {}",
            dev.display(),
            m.fstype,
            m.target.display(),
            io::Error::last_os_error()
        ));
    }
    Ok(format!(
        "mounted {} ({}, labelled {}) on {}",
        dev.display(),
        m.fstype,
        m.label,
        m.target.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("exo-init-data-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A real ext4 filesystem from mkfs.ext4 (e2fsprogs; ./x installs it).
    fn mkfs(path: &Path, label: &str) {
        let out = std::process::Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", label])
            .arg(path)
            .arg("4M")
            .output()
            .expect("run mkfs.ext4 (e2fsprogs)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    #[test]
    fn labels_are_read_from_real_ext4_superblocks() {
        let dir = scratch("labels");
        mkfs(&dir.join("a"), "exosphere-data");
        assert_eq!(
            ext_label(&dir.join("a")).unwrap().as_deref(),
            Some("exosphere-data")
        );
        // Not a filesystem, and too short to be one.
        std::fs::write(dir.join("zeros"), vec![0u8; 8192]).unwrap();
        assert_eq!(ext_label(&dir.join("zeros")).unwrap(), None);
        std::fs::write(dir.join("short"), b"tiny").unwrap();
        assert_eq!(ext_label(&dir.join("short")).unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_device_with_the_label_is_found_among_others() {
        let dir = scratch("find");
        let (class, dev) = (dir.join("class"), dir.join("dev"));
        std::fs::create_dir_all(&class).unwrap();
        std::fs::create_dir_all(&dev).unwrap();
        for name in ["sda", "sda1", "sda2", "sda3", "vanished"] {
            std::fs::create_dir_all(class.join(name)).unwrap();
        }
        std::fs::write(dev.join("sda"), vec![0u8; 4096]).unwrap();
        mkfs(&dev.join("sda1"), "other");
        std::fs::write(dev.join("sda2"), vec![0u8; 4096]).unwrap();
        mkfs(&dev.join("sda3"), "exosphere-data");
        assert_eq!(
            find_by_label(&class, &dev, "exosphere-data"),
            Some(dev.join("sda3"))
        );
        assert_eq!(find_by_label(&class, &dev, "nowhere"), None);
        assert_eq!(find_by_label(&dir.join("no-class-dir"), &dev, "other"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_filesystem_is_fine_only_when_optional() {
        let mut m = DataMount {
            label: "no-such-label-here".into(),
            target: std::env::temp_dir().join("exo-init-never-mounted"),
            fstype: "ext4".into(),
            optional: true,
        };
        let _ = std::fs::remove_dir_all(&m.target);
        let said = mount(&m).unwrap();
        assert!(said.contains("stays in memory"), "{said}");
        assert!(
            m.target.is_dir(),
            "the directory is made even without a filesystem"
        );
        let _ = std::fs::remove_dir_all(&m.target);
        m.optional = false;
        assert!(mount(&m).unwrap_err().contains("no-such-label-here"));
    }
}
