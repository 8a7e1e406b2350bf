//! The userland of an image for another architecture (arm64 on an amd64 build machine): Debian's
//! packages for that architecture, with their dependency closure, fetched with
//! `apt-get download` into a cache folder and unpacked with `dpkg -x` into a sysroot — never
//! installed over the build machine's own files. The sysroot is usr-merged like the image
//! (`bin`, `sbin`, `lib`, `lib64` are symlinks into `usr/`), so paths found in it are the paths
//! in the image. Paths inside it are resolved with [`resolve_in`], never through the host's `/`.
//!
//! Needs `dpkg --add-architecture <arch>` and `apt-get update` on the build machine (`./x
//! test-arm64` does both), so that apt knows the foreign packages.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::arch::Arch;

/// The packages whose programs the image runs (see `HOST_PROGRAMS` in `build`): foot, weston
/// (weston-flower, the clock capsule), dash, udev, kmod; libc-bin for the C.UTF-8 locale; and
/// the libraries our own binaries link (the run-time halves of the `-dev` packages the
/// workspace builds against: seat, input, xkbcommon, gbm, pixman, udev).
pub const USERLAND: &[&str] = &[
    "foot",
    "weston",
    "dash",
    "udev",
    "kmod",
    "libc6",
    "libc-bin",
    "libseat1",
    "libinput10",
    "libxkbcommon0",
    "libgbm1",
    "libpixman-1-0",
    "libudev1",
];

/// GRUB's EFI modules for arm64 (`/usr/lib/grub/arm64-efi`), for `grub-mkimage -O arm64-efi`.
pub const GRUB_EFI_ARM64: &str = "grub-efi-arm64-bin";

/// The file in a sysroot naming the packages unpacked into it (one `name version` a line).
const STAMP: &str = ".exosphere-packages";

/// Runs `cmd` (a step of `what`) with no input; its standard output, or an error with its
/// standard error.
pub(crate) fn run(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {cmd:?} ({what})"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `apt-cache depends` output → for each package block, the packages it needs: per `Depends:` /
/// `PreDepends:` group the first alternative (a virtual one, `<name>`, by its first provider),
/// keeping only names qualified with `:<debian arch>` (architecture-independent packages are
/// data the build takes from the build machine).
pub fn parse_depends(out: &str, debian_arch: &str) -> BTreeMap<String, BTreeSet<String>> {
    let suffix = format!(":{debian_arch}");
    let mut blocks: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    // Inside a group: whether its first alternative has been taken, and whether the last
    // dependency line was a virtual package waiting for its provider.
    let mut group_done = false;
    let mut want_provider = false;
    for line in out.lines() {
        if !line.starts_with(' ') {
            let name = line.trim().to_string();
            blocks.entry(name.clone()).or_default();
            current = Some(name);
            group_done = false;
            want_provider = false;
            continue;
        }
        let Some(cur) = current.clone() else { continue };
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent >= 4 {
            // A provider of the dependency above.
            if want_provider {
                want_provider = false;
                if trimmed.ends_with(&suffix) {
                    blocks.get_mut(&cur).unwrap().insert(trimmed.to_string());
                }
            }
            continue;
        }
        let alternative = trimmed.starts_with('|');
        let body = trimmed.trim_start_matches('|');
        let Some((kind, dep)) = body.split_once(':') else {
            continue;
        };
        let dep = dep.trim();
        if kind != "Depends" && kind != "PreDepends" {
            group_done = false;
            want_provider = false;
            continue;
        }
        if !group_done {
            if dep.starts_with('<') && dep.ends_with('>') {
                want_provider = true;
            } else {
                want_provider = false;
                if dep.ends_with(&suffix) {
                    blocks.get_mut(&cur).unwrap().insert(dep.to_string());
                }
            }
            group_done = true;
        } else {
            want_provider = false;
        }
        // `|Depends:` means the next line is another alternative of this group.
        if !alternative {
            group_done = false;
        }
    }
    blocks
}

/// The dependency closure of `roots` (plain names) for `arch`, as `name:<debian arch>`.
pub fn closure(arch: Arch, roots: &[&str]) -> Result<BTreeSet<String>> {
    let deb = arch.debian();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut todo: BTreeSet<String> = roots.iter().map(|r| format!("{r}:{deb}")).collect();
    while !todo.is_empty() {
        let batch: Vec<String> = std::mem::take(&mut todo).into_iter().collect();
        let out = run(
            Command::new("apt-cache")
                .args([
                    "depends",
                    "--no-recommends",
                    "--no-suggests",
                    "--no-conflicts",
                    "--no-breaks",
                    "--no-replaces",
                    "--no-enhances",
                ])
                .args(&batch),
            "package apt",
        )
        .with_context(|| {
            format!(
                "apt knows no {deb} packages: run `dpkg --add-architecture {deb} && apt-get update` (./x test-arm64 does)"
            )
        })?;
        let blocks = parse_depends(&out, deb);
        for b in &batch {
            if !blocks.contains_key(b) {
                bail!("apt-cache depends {b}: no such package (is `dpkg --add-architecture {deb}` done and apt-get update run?)");
            }
            done.insert(b.clone());
        }
        for deps in blocks.values() {
            for d in deps {
                if !done.contains(d) {
                    todo.insert(d.clone());
                }
            }
        }
    }
    Ok(done)
}

/// The newest `.deb` of `name` (without its `:arch`) in `dir`.
fn find_deb(dir: &Path, name: &str, debian_arch: &str) -> Option<PathBuf> {
    let mut debs: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(&format!("{name}_"))
                    && (n.ends_with(&format!("_{debian_arch}.deb")) || n.ends_with("_all.deb"))
            })
        })
        .collect();
    debs.sort();
    debs.pop()
}

/// Makes (once) a sysroot of `packages` for `arch` in `<cache>/<name>/`, downloading the .debs
/// into `<cache>/debs/`; with `follow_deps`, their dependency closure too. Returns the sysroot.
/// A sysroot whose stamp lists the same packages is reused as it is.
pub fn ensure(
    arch: Arch,
    cache: &Path,
    name: &str,
    packages: &[&str],
    follow_deps: bool,
    log: &dyn Fn(&str),
) -> Result<PathBuf> {
    let deb = arch.debian();
    let wanted: BTreeSet<String> = if follow_deps {
        closure(arch, packages)?
    } else {
        packages.iter().map(|p| format!("{p}:{deb}")).collect()
    };
    let debs_dir = cache.join("debs");
    fs::create_dir_all(&debs_dir).with_context(|| format!("creating {}", debs_dir.display()))?;
    let plain = |q: &String| q.split(':').next().unwrap_or(q).to_string();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|q| find_deb(&debs_dir, &plain(q), deb).is_none())
        .cloned()
        .collect();
    if !missing.is_empty() {
        log(&format!(
            "downloading {} {deb} packages for {name} (apt-get download into {})",
            missing.len(),
            debs_dir.display()
        ));
        run(
            Command::new("apt-get")
                .args(["-q", "-o", "APT::Sandbox::User=root", "download"])
                .args(&missing)
                .current_dir(&debs_dir),
            "package apt",
        )?;
    }
    let mut files = Vec::new();
    for q in &wanted {
        let f = find_deb(&debs_dir, &plain(q), deb)
            .with_context(|| format!("apt-get download {q} wrote no .deb into {}", debs_dir.display()))?;
        files.push(f);
    }
    let stamp: String = files
        .iter()
        .map(|f| format!("{}\n", f.file_name().unwrap().to_string_lossy()))
        .collect();
    let root = cache.join(name);
    if fs::read_to_string(root.join(STAMP)).is_ok_and(|s| s == stamp) {
        return Ok(root);
    }
    log(&format!(
        "unpacking {} {deb} packages into {} (dpkg -x)",
        files.len(),
        root.display()
    ));
    let tmp = cache.join(format!("{name}.unpacking"));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    for f in &files {
        run(Command::new("dpkg").arg("-x").arg(f).arg(&tmp), "package dpkg")?;
    }
    merge_usr(&tmp)?;
    fs::write(tmp.join(STAMP), &stamp)?;
    let _ = fs::remove_dir_all(&root);
    fs::rename(&tmp, &root)?;
    Ok(root)
}

/// Moves `bin`, `sbin`, `lib` and `lib64` of an unpacked tree under `usr/` and replaces them
/// with symlinks (what Debian's usrmerge does on an installed system; `dpkg -x` does not).
pub fn merge_usr(root: &Path) -> Result<()> {
    for d in ["bin", "sbin", "lib", "lib64"] {
        let top = root.join(d);
        let usr = root.join("usr").join(d);
        let meta = fs::symlink_metadata(&top);
        if meta.as_ref().is_ok_and(|m| m.is_dir()) {
            move_into(&top, &usr)?;
            fs::remove_dir_all(&top)?;
        } else if meta.is_ok() {
            continue;
        }
        fs::create_dir_all(&usr)?;
        std::os::unix::fs::symlink(format!("usr/{d}"), &top)
            .with_context(|| format!("linking {} to usr/{d}", top.display()))?;
    }
    Ok(())
}

/// Moves every entry of directory `from` into directory `to` (merging directories; a file or
/// symlink replaces what is there).
fn move_into(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for e in fs::read_dir(from)? {
        let e = e?;
        let src = e.path();
        let dst = to.join(e.file_name());
        let is_dir = e.file_type()?.is_dir();
        match fs::symlink_metadata(&dst) {
            Ok(m) if is_dir && m.is_dir() => move_into(&src, &dst)?,
            Ok(m) => {
                if m.is_dir() {
                    fs::remove_dir_all(&dst)?;
                } else {
                    fs::remove_file(&dst)?;
                }
                fs::rename(&src, &dst)?;
            }
            Err(_) => fs::rename(&src, &dst)?,
        }
    }
    Ok(())
}

/// `logical` (an absolute path as the image sees it) with every symlink in it resolved inside
/// `root`: absolute link targets are taken relative to `root`, `..` never leaves it. With
/// `keep_last`, the last component is not followed (a symlink stays a symlink).
pub fn resolve_in(root: &Path, logical: &Path, keep_last: bool) -> Result<PathBuf> {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    let mut pending: Vec<std::ffi::OsString> = Vec::new();
    let push_rev = |pending: &mut Vec<std::ffi::OsString>, p: &Path| {
        let comps: Vec<_> = p
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_os_string()),
                Component::ParentDir => Some("..".into()),
                _ => None,
            })
            .collect();
        pending.extend(comps.into_iter().rev());
    };
    push_rev(&mut pending, logical);
    let mut links = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            parts.pop();
            continue;
        }
        let mut cand: PathBuf = parts.iter().collect();
        cand.push(&c);
        let last = pending.is_empty();
        let on_disk = root.join(&cand);
        match fs::symlink_metadata(&on_disk) {
            Ok(m) if m.file_type().is_symlink() && !(last && keep_last) => {
                links += 1;
                if links > 40 {
                    bail!(
                        "{}: too many levels of symlinks in {}",
                        logical.display(),
                        root.display()
                    );
                }
                let target = fs::read_link(&on_disk)?;
                if target.is_absolute() {
                    parts.clear();
                }
                push_rev(&mut pending, &target);
            }
            _ => parts.push(c),
        }
    }
    let mut out = PathBuf::from("/");
    out.extend(parts);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_alternatives_and_providers_of_this_architecture_only() {
        let out = "weston:arm64
  Depends: <adduser:arm64>
    adduser
  Depends: libc6:arm64
 |Depends: libsystemd0:arm64
  Depends: libelogind0:arm64
  Depends: <libgl1:arm64>
    libgl1-mesa:arm64
    other:arm64
  PreDepends: dpkg:arm64
  Recommends: libgl1-mesa-dri:arm64
  Depends: xkb-data
libc6:arm64
  Depends: libgcc-s1:arm64
";
        let b = parse_depends(out, "arm64");
        let w: Vec<&str> = b["weston:arm64"].iter().map(String::as_str).collect();
        assert_eq!(
            w,
            [
                "dpkg:arm64",
                "libc6:arm64",
                "libgl1-mesa:arm64",
                "libsystemd0:arm64"
            ]
        );
        let l: Vec<&str> = b["libc6:arm64"].iter().map(String::as_str).collect();
        assert_eq!(l, ["libgcc-s1:arm64"]);
    }

    #[test]
    fn usr_merge_and_resolution_stay_inside_the_root() {
        let root = std::env::temp_dir().join(format!("exo-vm-sysroot-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("lib/aarch64-linux-gnu")).unwrap();
        fs::create_dir_all(root.join("usr/lib/aarch64-linux-gnu")).unwrap();
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(root.join("lib/aarch64-linux-gnu/libc.so.6"), b"c").unwrap();
        fs::write(root.join("usr/lib/aarch64-linux-gnu/libm.so.6"), b"m").unwrap();
        fs::write(root.join("bin/dash"), b"d").unwrap();
        std::os::unix::fs::symlink("dash", root.join("bin/sh")).unwrap();
        // An absolute link must resolve inside the root, not on the build machine.
        std::os::unix::fs::symlink("/lib/aarch64-linux-gnu/libc.so.6", root.join("usr/lib/libc-abs"))
            .unwrap();
        merge_usr(&root).unwrap();
        assert!(fs::symlink_metadata(root.join("lib"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(root.join("usr/lib/aarch64-linux-gnu/libc.so.6").is_file());
        assert!(root.join("usr/lib/aarch64-linux-gnu/libm.so.6").is_file());
        assert_eq!(
            resolve_in(&root, Path::new("/lib/aarch64-linux-gnu/libc.so.6"), false).unwrap(),
            Path::new("/usr/lib/aarch64-linux-gnu/libc.so.6")
        );
        assert_eq!(
            resolve_in(&root, Path::new("/bin/sh"), true).unwrap(),
            Path::new("/usr/bin/sh")
        );
        assert_eq!(
            resolve_in(&root, Path::new("/bin/sh"), false).unwrap(),
            Path::new("/usr/bin/dash")
        );
        assert_eq!(
            resolve_in(&root, Path::new("/usr/lib/libc-abs"), false).unwrap(),
            Path::new("/usr/lib/aarch64-linux-gnu/libc.so.6")
        );
        assert_eq!(
            resolve_in(&root, Path::new("/../../etc/passwd"), false).unwrap(),
            Path::new("/etc/passwd")
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
