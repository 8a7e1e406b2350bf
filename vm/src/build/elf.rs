//! Shared-library closure of ELF files, read from their dynamic sections (DT_NEEDED, RPATH,
//! RUNPATH, PT_INTERP) and resolved through `/etc/ld.so.conf` like the loader does — with the
//! `lddtree` crate; never by running `ldd`.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Whether the file starts with the ELF magic.
pub fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map(|_| magic == *b"\x7fELF")
        .unwrap_or(false)
}

/// The host paths of every shared library `path` needs, transitively, and of its program
/// interpreter (the dynamic loader), as the loader would look them up (not canonicalized: a
/// lookup path that is a symlink must exist as a symlink in the image too).
/// A library that cannot be found is an error naming the binary and the library.
pub fn closure(path: &Path) -> Result<BTreeSet<PathBuf>> {
    let tree = lddtree::DependencyAnalyzer::new(PathBuf::from("/"))
        .analyze(path)
        .with_context(|| format!("reading the ELF dynamic section of {}", path.display()))?;
    let mut out = BTreeSet::new();
    if let Some(interp) = &tree.interpreter {
        out.insert(PathBuf::from(interp));
    }
    let mut names: Vec<_> = tree.libraries.values().collect();
    names.sort_by(|a, b| a.name.cmp(&b.name));
    for lib in names {
        if !lib.found() {
            bail!(
                "{}: shared library {} not found (needed through DT_NEEDED)",
                path.display(),
                lib.name
            );
        }
        out.insert(lib.path.clone());
    }
    Ok(out)
}

/// The union of [`closure`] over several ELF files; non-ELF files (scripts) are skipped.
pub fn closure_of_all<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<BTreeSet<PathBuf>> {
    let mut out = BTreeSet::new();
    for p in paths {
        if is_elf(p) {
            out.extend(closure(p)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foot_needs_libc_and_the_loader() {
        let libs = closure(Path::new("/usr/bin/foot")).unwrap();
        let names: Vec<String> = libs
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().any(|n| n == "libc.so.6"), "{names:?}");
        assert!(
            libs.contains(Path::new("/lib64/ld-linux-x86-64.so.2")),
            "{libs:?}"
        );
        // foot talks Wayland and renders fonts: transitive and direct needs both appear.
        assert!(
            names.iter().any(|n| n.starts_with("libwayland-client")),
            "{names:?}"
        );
        assert!(names.iter().any(|n| n.starts_with("libfreetype")), "{names:?}");
        for p in &libs {
            assert!(p.exists(), "{} does not exist", p.display());
        }
    }

    #[test]
    fn scripts_are_not_elf_and_missing_files_are_errors() {
        assert!(!is_elf(Path::new("/etc/passwd")));
        assert!(is_elf(Path::new("/usr/bin/dash")));
        let err = closure(Path::new("/nonexistent/binary")).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/binary"), "{err:#}");
    }
}
