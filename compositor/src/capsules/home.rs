//! Capsule homes: each capsule's `HOME` is a directory of its own that outlives the session,
//! `$NEXQUELIUM_CAPSULE_HOMES/<name>`, by default `$XDG_STATE_HOME/exosphere/homes/<name>` (else
//! `~/.local/state/exosphere/homes/<name>`), so what a capsule keeps there (a terminal's files,
//! an app's settings) is there after a restart or a reboot. On Exosphere's disk image that is
//! `/var/lib/exosphere/homes` on the data partition. Capsules running under their own uids (the
//! compositor runs as root) must be able to reach it: the default sits inside Sentry's private
//! state directory, so there they fall back to their runtime directory (see `launch`). The base is traversable
//! but not listable (0711); each home is 0700 and, when the compositor runs as root, owned by
//! the capsule's uid. Its runtime directory (sockets) stays apart, in memory.

use std::{
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
};

use anyhow::Context;

/// Where the homes live (see the module documentation).
pub fn default_base() -> PathBuf {
    if let Some(dir) = std::env::var_os("NEXQUELIUM_CAPSULE_HOMES").map(PathBuf::from) {
        if dir.is_absolute() {
            return dir;
        }
        tracing::warn!(dir = %dir.display(), "NEXQUELIUM_CAPSULE_HOMES is not an absolute path; ignored");
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    state.join("exosphere/homes")
}

/// Whether a process of another uid can reach `dir`'s children: every existing directory from
/// `dir` up is searchable by others (missing ones are made searchable). Homes under a 0700
/// directory (root's own ~/.local/state, a private runtime directory) are not, for capsules
/// running under their own uids.
pub fn reachable_by_others(dir: &Path) -> bool {
    dir.ancestors().all(|d| match std::fs::metadata(d) {
        Ok(m) => m.mode() & 0o001 != 0,
        Err(_) => true,
    })
}

/// Make `home` ready for a capsule running as `uid_gid` (None: the compositor's own ids). A home
/// left by an earlier uid (the capsule's slot moved) is handed over whole.
pub fn prepare(home: &Path, uid_gid: Option<(u32, u32)>) -> anyhow::Result<()> {
    if let Some(base) = home.parent() {
        std::fs::create_dir_all(base).with_context(|| format!("cannot create {}", base.display()))?;
        std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o711))
            .with_context(|| format!("cannot set the mode of {}", base.display()))?;
    }
    std::fs::create_dir_all(home).with_context(|| format!("cannot create {}", home.display()))?;
    if let Some((uid, gid)) = uid_gid {
        let owner = std::fs::metadata(home)?.uid();
        if owner != uid {
            chown_tree(home, uid, gid)
                .with_context(|| format!("cannot hand {} to uid {uid}", home.display()))?;
        }
    }
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot set the mode of {}", home.display()))?;
    Ok(())
}

/// lchown `path` and everything below it (symlinks are not followed).
fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if std::fs::symlink_metadata(path)?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_home_is_made_private_and_keeps_its_files() {
        let base = std::env::temp_dir().join(format!("nexq-homes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let home = base.join("terminal");
        prepare(&home, None).unwrap();
        std::fs::write(home.join("note.txt"), "kept").unwrap();
        prepare(&home, None).unwrap();
        assert_eq!(std::fs::read_to_string(home.join("note.txt")).unwrap(), "kept");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!((mode(&base), mode(&home)), (0o711, 0o700));
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn homes_under_a_private_directory_are_out_of_reach() {
        let dir = std::env::temp_dir().join(format!("nexq-homes-reach-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("open/homes")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(reachable_by_others(&dir.join("open/homes")));
        std::fs::set_permissions(dir.join("open"), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(!reachable_by_others(&dir.join("open/homes")));
        assert!(!reachable_by_others(&dir.join("open/not/made/yet")));
        assert!(reachable_by_others(&dir.join("not/made/yet")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_home_from_another_uid_is_handed_over_whole() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("not root: chown cannot be tried here");
            return;
        }
        let base = std::env::temp_dir().join(format!("nexq-homes-uid-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let home = base.join("app");
        prepare(&home, Some((61001, 61001))).unwrap();
        std::fs::create_dir_all(home.join("sub")).unwrap();
        std::fs::write(home.join("sub/f"), "x").unwrap();
        prepare(&home, Some((61002, 61002))).unwrap();
        for p in [home.clone(), home.join("sub"), home.join("sub/f")] {
            assert_eq!(std::fs::metadata(&p).unwrap().uid(), 61002, "{}", p.display());
        }
        let _ = std::fs::remove_dir_all(&base);
    }
}
