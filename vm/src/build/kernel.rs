//! The kernel: Debian's `linux-image-amd64` (or `linux-image-arm64` for aarch64 images),
//! downloaded with `apt-get download` and unpacked
//! with `dpkg -x` into the build folder (never installed on the build machine), or a vmlinuz
//! given on the command line.
//!
//! Besides the bzImage (`vmlinuz`) the build writes the uncompressed ELF kernel (`vmlinux`,
//! extracted from the bzImage's xz payload) when the kernel supports PVH boot: QEMU then jumps
//! straight into it, which saves the 3–4 s that emulated xz decompression costs under TCG.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::arch::Arch;

/// A kernel ready for the image.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// The bzImage.
    pub vmlinuz: PathBuf,
    /// Directory holding `lib/modules/<kver>/` (with `modules.dep`), if modules are wanted.
    pub modules_root: Option<PathBuf>,
    /// Kernel release, e.g. `6.1.0-56-amd64`, when known.
    pub kver: Option<String>,
    /// Kernel config (`boot/config-<kver>`), when known.
    pub config: Option<PathBuf>,
}

/// Runs a step of getting the kernel; its standard output, or an error with its standard error.
fn run(cmd: &mut Command) -> Result<String> {
    super::sysroot::run(cmd, "getting the kernel")
}

/// The versioned package the meta-package `meta` depends on (`linux-image-6.1.0-N-amd64`),
/// without an `:arch` qualifier.
fn versioned_package(meta: &str) -> Result<Option<String>> {
    let out = run(Command::new("apt-cache").args(["depends", meta]))?;
    Ok(parse_depends(&out, "linux-image-"))
}

fn parse_depends(apt_cache_out: &str, prefix: &str) -> Option<String> {
    apt_cache_out.lines().find_map(|l| {
        let dep = l.trim().strip_prefix("Depends:")?.trim();
        let dep = dep.split(':').next().unwrap_or(dep);
        (dep.starts_with(prefix) && dep.chars().any(|c| c.is_ascii_digit())).then(|| dep.to_string())
    })
}

/// Downloads (once) and unpacks (once) Debian's current kernel for `arch` into `cache`
/// (`<out>/build/kernel`), runs `depmod` over its full module tree, and returns it.
pub fn debian(cache: &Path, arch: Arch, log: &dyn Fn(&str)) -> Result<Kernel> {
    // A foreign architecture's packages are named with their `:arch` (multiarch).
    let qualify = |p: &str| {
        if arch.is_host() {
            p.to_string()
        } else {
            format!("{p}:{}", arch.debian())
        }
    };
    let meta = qualify(arch.kernel_meta());
    let pkg = match versioned_package(&meta).ok().flatten() {
        Some(p) => p,
        None => {
            log(&format!("apt lists have no {meta}: running apt-get update"));
            run(Command::new("apt-get").args(["update", "-q"]))?;
            versioned_package(&meta)?.with_context(|| {
                format!(
                    "apt-cache depends {meta} names no linux-image-<version> package{}",
                    if arch.is_host() {
                        String::new()
                    } else {
                        format!(" (run `dpkg --add-architecture {}` first)", arch.debian())
                    }
                )
            })?
        }
    };
    let kver = pkg
        .strip_prefix("linux-image-")
        .context("package name")?
        .to_string();
    fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let root = cache.join(&pkg);
    let vmlinuz = root.join(format!("boot/vmlinuz-{kver}"));
    if !vmlinuz.exists() {
        let deb = find_deb(cache, &pkg)?;
        let deb = match deb {
            Some(d) => d,
            None => {
                log(&format!("downloading {pkg} (apt-get download)"));
                run(Command::new("apt-get")
                    .args(["-q", "-o", "APT::Sandbox::User=root", "download", &qualify(&pkg)])
                    .current_dir(cache))?;
                find_deb(cache, &pkg)?.with_context(|| format!("apt-get download {pkg} wrote no .deb"))?
            }
        };
        log(&format!("unpacking {} (dpkg -x)", deb.display()));
        let tmp = cache.join(format!("{pkg}.unpacking"));
        let _ = fs::remove_dir_all(&tmp);
        run(Command::new("dpkg").arg("-x").arg(&deb).arg(&tmp))?;
        let moddir = tmp.join("lib/modules").join(&kver);
        if moddir.is_dir() {
            run(Command::new("depmod").arg("-b").arg(&tmp).arg(&kver))?;
        }
        let _ = fs::remove_dir_all(&root);
        fs::rename(&tmp, &root)?;
    }
    if !vmlinuz.exists() {
        bail!("{pkg} holds no {}", vmlinuz.display());
    }
    let config = root.join(format!("boot/config-{kver}"));
    Ok(Kernel {
        vmlinuz,
        modules_root: Some(root.clone()),
        kver: Some(kver),
        config: config.exists().then_some(config),
    })
}

fn find_deb(dir: &Path, pkg: &str) -> Result<Option<PathBuf>> {
    let mut debs: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{pkg}_")) && n.ends_with(".deb"))
        })
        .collect();
    debs.sort();
    Ok(debs.pop())
}

/// A kernel given on the command line: `vmlinuz` and optionally a directory holding
/// `lib/modules/<kver>/` (its kver is the only directory there).
pub fn custom(vmlinuz: &Path, modules: Option<&Path>) -> Result<Kernel> {
    if !vmlinuz.is_file() {
        bail!("--kernel {}: no such file", vmlinuz.display());
    }
    let (modules_root, kver) = match modules {
        None => (None, None),
        Some(dir) => {
            let base = dir.join("lib/modules");
            let mut kvers: Vec<String> = fs::read_dir(&base)
                .with_context(|| format!("--modules {}: no lib/modules/ in it", dir.display()))?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            kvers.sort();
            if kvers.len() != 1 {
                bail!(
                    "--modules {}: expected one kernel version under lib/modules, found {kvers:?}",
                    dir.display()
                );
            }
            let kver = kvers.pop().unwrap();
            if !base.join(&kver).join("modules.dep").exists() {
                run(Command::new("depmod").arg("-b").arg(dir).arg(&kver))?;
            }
            (Some(dir.to_path_buf()), Some(kver))
        }
    };
    Ok(Kernel {
        vmlinuz: vmlinuz.to_path_buf(),
        modules_root,
        kver,
        config: None,
    })
}

/// Extracts the ELF kernel from an xz-compressed bzImage into `dest`, if the kernel can be
/// booted that way (PVH entry, `CONFIG_PVH=y` in `config`). Returns whether it did; a stale
/// `dest` is removed when it did not.
pub fn extract_pvh_vmlinux(vmlinuz: &Path, config: Option<&Path>, dest: &Path) -> Result<bool> {
    let _ = fs::remove_file(dest);
    let pvh = config
        .and_then(|c| fs::read_to_string(c).ok())
        .is_some_and(|c| c.lines().any(|l| l.trim() == "CONFIG_PVH=y"));
    if !pvh {
        return Ok(false);
    }
    let image = fs::read(vmlinuz).with_context(|| format!("reading {}", vmlinuz.display()))?;
    const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
    let Some(at) = image.windows(XZ_MAGIC.len()).position(|w| w == XZ_MAGIC) else {
        return Ok(false);
    };
    let tmp = dest.with_extension("tmp");
    let out = fs::File::create(&tmp)?;
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(Stdio::piped())
        .spawn()
        .context("running xz (package xz-utils)")?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        // xz stops after the first stream; the bzImage's trailer after it is ignored.
        let _ = stdin.write_all(&image[at..]);
    }
    let status = child.wait()?;
    let elf = fs::read(&tmp).map(|b| b.starts_with(b"\x7fELF")).unwrap_or(false);
    if !status.success() || !elf {
        let _ = fs::remove_file(&tmp);
        return Ok(false);
    }
    fs::rename(&tmp, dest)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_package_is_read_from_apt_cache_output() {
        let out = "linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n";
        assert_eq!(
            parse_depends(out, "linux-image-").as_deref(),
            Some("linux-image-6.1.0-56-amd64")
        );
        assert_eq!(parse_depends("linux-image-amd64\n", "linux-image-"), None);
        let out = "linux-image-arm64:arm64\n  Depends: linux-image-6.1.0-41-arm64:arm64\n";
        assert_eq!(
            parse_depends(out, "linux-image-").as_deref(),
            Some("linux-image-6.1.0-41-arm64")
        );
    }
}
