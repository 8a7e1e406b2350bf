//! Finding capsules: one folder per capsule, `<dir>/<name>/Capsule.toml`,
//! in the system directory and the user's, the user's winning by name.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::manifest::{Manifest, ManifestError, MANIFEST_FILE};

/// The installed system's capsules directory.
pub const SYSTEM_CAPSULES_DIR: &str = "/etc/exosphere/capsules";

/// The demo capsules shipped in this repository, used when the system directory is absent.
pub const REPO_CAPSULES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/capsules");

/// Where capsules are looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapsuleDirs {
    pub system: PathBuf,
    /// Overrides `system` by capsule name; `None` when there is no home to put it in.
    pub user: Option<PathBuf>,
}

impl CapsuleDirs {
    /// `system_override` (e.g. from the command line), else
    /// `/etc/exosphere/capsules` if it exists, else the repository's
    /// `assets/capsules`; and the user's `$XDG_CONFIG_HOME/exosphere/capsules`
    /// (or `~/.config/exosphere/capsules`).
    pub fn default_for(system_override: Option<PathBuf>) -> CapsuleDirs {
        let system = system_override.unwrap_or_else(|| {
            let installed = Path::new(SYSTEM_CAPSULES_DIR);
            if installed.exists() {
                installed.to_path_buf()
            } else {
                repo_capsules_dir()
            }
        });
        CapsuleDirs {
            system,
            user: user_dir_from(std::env::var_os("XDG_CONFIG_HOME"), std::env::var_os("HOME")),
        }
    }
}

/// [`REPO_CAPSULES_DIR`] without the `..`, when it can be resolved.
fn repo_capsules_dir() -> PathBuf {
    let dir = PathBuf::from(REPO_CAPSULES_DIR);
    dir.canonicalize().unwrap_or(dir)
}

/// The user directory for given variable values, testable without the environment.
fn user_dir_from(xdg_config_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    // The XDG spec says to ignore relative values.
    let base = match xdg_config_home.map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(dir) => dir,
        None => PathBuf::from(home.filter(|h| !h.is_empty())?).join(".config"),
    };
    Some(base.join("exosphere").join("capsules"))
}

/// One capsule folder found, valid or not.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// The folder name.
    pub name: String,
    /// The `Capsule.toml` path.
    pub source: PathBuf,
    pub manifest: Result<Manifest, ManifestError>,
}

/// Every `<dir>/<name>/Capsule.toml` of the system and user directories,
/// sorted by name. A user folder replaces the system folder of the same name
/// (even when the user's manifest is invalid: its error is reported, the
/// system one is not silently used instead). Folders without a
/// `Capsule.toml`, hidden folders (`.name`) and missing or unreadable
/// directories are skipped; a `Capsule.toml` that cannot be read or parsed
/// gives an entry with the error.
pub fn discover(dirs: &CapsuleDirs) -> Vec<Discovered> {
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in std::iter::once(&dirs.system).chain(&dirs.user) {
        for (name, source) in manifests_in(dir) {
            found.insert(name, source);
        }
    }
    found
        .into_iter()
        .map(|(name, source)| {
            let manifest = Manifest::load(&source);
            Discovered {
                name,
                source,
                manifest,
            }
        })
        .collect()
}

/// `(folder name, manifest path)` for each capsule folder directly in `dir`.
fn manifests_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let folder = entry.path();
            // is_dir follows symlinks, so a linked capsule folder counts.
            if name.starts_with('.') || !folder.is_dir() {
                return None;
            }
            let source = folder.join(MANIFEST_FILE);
            // symlink_metadata: a dangling link or unreadable file still yields an entry.
            source.symlink_metadata().is_ok().then_some((name, source))
        })
        .collect()
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
mod tests;
