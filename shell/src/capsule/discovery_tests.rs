//! Tests for `discovery`: search paths, overriding, and error entries.

use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A fresh directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("exo-shell-discovery-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `<dir>/<folder>/Capsule.toml`.
    fn capsule(&self, folder: &str, text: &str) -> PathBuf {
        let path = self.0.join(folder).join(MANIFEST_FILE);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn manifest(name: &str, version: &str) -> String {
    format!("[capsule]\nname = \"{name}\"\nversion = \"{version}\"\nexec = [\"true\"]\n")
}

#[test]
fn finds_capsules_sorted_and_user_overrides_system() {
    let system = TempDir::new();
    let user = TempDir::new();
    system.capsule("zeta", &manifest("zeta", "1"));
    system.capsule("alpha", &manifest("alpha", "1"));
    system.capsule("shared", &manifest("shared", "system"));
    user.capsule("shared", &manifest("shared", "user"));
    user.capsule("mine", &manifest("mine", "1"));
    // Ignored: no Capsule.toml, a hidden folder, a plain file.
    fs::create_dir_all(system.0.join("empty")).unwrap();
    system.capsule(".hidden", &manifest("hidden", "1"));
    fs::write(system.0.join("README"), "not a capsule").unwrap();

    let found = discover(&CapsuleDirs {
        system: system.0.clone(),
        user: Some(user.0.clone()),
    });
    let names: Vec<&str> = found.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["alpha", "mine", "shared", "zeta"]);
    let shared = &found[2];
    assert_eq!(shared.source, user.0.join("shared/Capsule.toml"));
    assert_eq!(shared.manifest.as_ref().unwrap().version, "user");
    assert!(found.iter().all(|d| d.manifest.is_ok()));
}

#[test]
fn broken_manifests_become_error_entries() {
    let system = TempDir::new();
    let user = TempDir::new();
    system.capsule("good", &manifest("good", "1"));
    system.capsule("wrong-folder", &manifest("other", "1"));
    system.capsule(
        "bad",
        "[capsule]\nname = \"bad\"\nversion = \"1\"\nexec = [\"x\"]\n[permissions]\nrequired = [\"root\"]\n",
    );
    // A broken user override hides the good system one rather than silently falling back.
    user.capsule("good", "not toml [");
    // A Capsule.toml that is a directory cannot be read.
    fs::create_dir_all(system.0.join("unreadable").join(MANIFEST_FILE)).unwrap();

    let found = discover(&CapsuleDirs {
        system: system.0.clone(),
        user: Some(user.0.clone()),
    });
    let names: Vec<&str> = found.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["bad", "good", "unreadable", "wrong-folder"]);
    let error = |i: usize| found[i].manifest.as_ref().unwrap_err().to_string();
    assert!(
        error(0).contains("bad/Capsule.toml:6:13: permissions.required[0]: unknown capability \"root\""),
        "{}",
        error(0)
    );
    assert!(
        error(1).starts_with(&format!("{}:1:", user.0.join("good/Capsule.toml").display())),
        "{}",
        error(1)
    );
    assert!(
        matches!(found[2].manifest, Err(ManifestError::Read { .. })),
        "{:?}",
        found[2].manifest
    );
    assert!(
        error(3).contains("does not match its folder \"wrong-folder\""),
        "{}",
        error(3)
    );
}

#[test]
fn missing_directories_give_nothing() {
    let found = discover(&CapsuleDirs {
        system: PathBuf::from("/nonexistent/exosphere/capsules"),
        user: None,
    });
    assert!(found.is_empty());
}

#[test]
fn default_dirs() {
    let dirs = CapsuleDirs::default_for(Some(PathBuf::from("/opt/caps")));
    assert_eq!(dirs.system, Path::new("/opt/caps"));
    let dirs = CapsuleDirs::default_for(None);
    if Path::new(SYSTEM_CAPSULES_DIR).exists() {
        assert_eq!(dirs.system, Path::new(SYSTEM_CAPSULES_DIR));
    } else {
        assert!(
            dirs.system.ends_with("assets/capsules"),
            "{}",
            dirs.system.display()
        );
        assert!(dirs.system.join("hello").join(MANIFEST_FILE).is_file());
    }
}

#[test]
fn user_dir_follows_xdg() {
    let dir =
        |xdg: Option<&str>, home: Option<&str>| user_dir_from(xdg.map(Into::into), home.map(Into::into));
    assert_eq!(
        dir(Some("/x/cfg"), Some("/home/u")),
        Some(PathBuf::from("/x/cfg/exosphere/capsules"))
    );
    assert_eq!(
        dir(Some("relative"), Some("/home/u")),
        Some(PathBuf::from("/home/u/.config/exosphere/capsules"))
    );
    assert_eq!(
        dir(None, Some("/home/u")),
        Some(PathBuf::from("/home/u/.config/exosphere/capsules"))
    );
    assert_eq!(dir(None, Some("")), None);
    assert_eq!(dir(None, None), None);
}

#[test]
fn the_shipped_capsules_are_discovered() {
    let found = discover(&CapsuleDirs {
        system: PathBuf::from(REPO_CAPSULES_DIR),
        user: None,
    });
    let names: Vec<&str> = found.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["clock", "hello", "sentry-dashboard", "terminal"]);
    for d in &found {
        if let Err(e) = &d.manifest {
            panic!("{e}");
        }
    }
}
