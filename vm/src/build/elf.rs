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
    closure_in(Path::new("/"), None, path)
}

/// [`closure`] inside a sysroot: `path` is the file to read (a path on this machine, e.g. in
/// the sysroot or one of our staged binaries); the results are paths as the image sees them
/// (absolute, without `root`); libraries are looked up only under `root` — in its
/// `etc/ld.so.conf` and in `usr/lib/<triplet>` and `usr/lib` when `triplet` is given — never in
/// the build machine's own directories.
pub fn closure_in(root: &Path, triplet: Option<&str>, path: &Path) -> Result<BTreeSet<PathBuf>> {
    let mut analyzer = lddtree::DependencyAnalyzer::new(root.to_path_buf());
    if let Some(t) = triplet {
        analyzer = analyzer
            .add_library_path(root.join("usr/lib").join(t))
            .add_library_path(root.join("usr/lib"));
    }
    let tree = analyzer
        .analyze(path)
        .with_context(|| format!("reading the ELF dynamic section of {}", path.display()))?;
    let unroot = |p: &Path| -> PathBuf {
        match p.strip_prefix(root) {
            Ok(rel) if root != Path::new("/") => Path::new("/").join(rel),
            _ => p.to_path_buf(),
        }
    };
    let mut out = BTreeSet::new();
    if let Some(interp) = &tree.interpreter {
        out.insert(unroot(Path::new(interp)));
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
        out.insert(unroot(&lib.path));
    }
    Ok(out)
}

/// `logical` (absolute, as in the image) as a file under `root`.
pub fn rooted(root: &Path, logical: &Path) -> PathBuf {
    if root == Path::new("/") {
        return logical.to_path_buf();
    }
    root.join(logical.strip_prefix("/").unwrap_or(logical))
}

/// The ELF `e_machine` of a file (e.g. 62 x86_64, 183 aarch64), or `None` if it is no ELF file.
pub fn machine(path: &Path) -> Option<u16> {
    let mut head = [0u8; 20];
    File::open(path).and_then(|mut f| f.read_exact(&mut head)).ok()?;
    machine_of(&head)
}

/// [`machine`] from the first 20 bytes of a file.
pub fn machine_of(head: &[u8]) -> Option<u16> {
    if head.len() < 20 || &head[..4] != b"\x7fELF" {
        return None;
    }
    let m = [head[18], head[19]];
    // EI_DATA: 1 little-endian, 2 big-endian.
    Some(if head[5] == 2 {
        u16::from_be_bytes(m)
    } else {
        u16::from_le_bytes(m)
    })
}

/// The union of [`closure`] over several ELF files; non-ELF files (scripts) are skipped.
pub fn closure_of_all<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<BTreeSet<PathBuf>> {
    closure_of_all_in(Path::new("/"), None, paths)
}

/// [`closure_of_all`] inside a sysroot (see [`closure_in`]); `paths` are files on this machine.
pub fn closure_of_all_in<'a>(
    root: &Path,
    triplet: Option<&str>,
    paths: impl IntoIterator<Item = &'a Path>,
) -> Result<BTreeSet<PathBuf>> {
    let mut out = BTreeSet::new();
    for p in paths {
        if is_elf(p) {
            out.extend(closure_in(root, triplet, p)?);
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
    fn machine_reads_e_machine() {
        assert_eq!(
            machine(Path::new("/usr/bin/dash")),
            Some(if cfg!(target_arch = "x86_64") { 62 } else { 183 })
        );
        assert_eq!(machine(Path::new("/etc/passwd")), None);
        let mut head = vec![0x7f, b'E', b'L', b'F', 2, 1];
        head.resize(20, 0);
        head[18] = 183;
        assert_eq!(machine_of(&head), Some(183));
    }

    #[test]
    fn scripts_are_not_elf_and_missing_files_are_errors() {
        assert!(!is_elf(Path::new("/etc/passwd")));
        assert!(is_elf(Path::new("/usr/bin/dash")));
        let err = closure(Path::new("/nonexistent/binary")).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/binary"), "{err:#}");
    }
}
