//! The kernel modules in the image: a fixed list of what Exosphere needs in a VM (and on
//! ordinary PCs' USB input), plus their dependency closure from the kernel's `modules.dep`,
//! indexed again with `depmod -b` so udev's kmod builtin can load them by alias.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::layout::{Category, Image};
use crate::arch::Arch;

/// Modules an x86_64 image carries (names as `modprobe` spells them, `-` or `_` alike). Those
/// built into the kernel are skipped.
pub const WANTED: &[&str] = &[
    // virtio transport and devices
    "virtio_pci",
    "virtio_input",
    "virtio_gpu",
    "virtio_console",
    "virtio_rng",
    // DRM drivers: QEMU -vga std, VMware/VirtualBox VMSVGA, QEMU cirrus
    "bochs",
    "vmwgfx",
    // input
    "evdev",
    "hid_generic",
    "usbhid",
    "psmouse",
    // USB host controllers for real keyboards/mice (VirtualBox: OHCI, EHCI, xHCI)
    "xhci_pci",
    "xhci_hcd",
    "ehci_pci",
    "ehci_hcd",
    "ohci_pci",
    "ohci_hcd",
    "uhci_hcd",
    // PS/2 keyboard and mouse (built into Debian's kernel: skipped there)
    "i8042",
    "atkbd",
    // disks: SATA (AHCI, what VirtualBox and `exo-vm run --disk` attach), virtio, SCSI disks,
    // and ext4 for the data partition (metadata_csum needs crc32c, which ext4 asks the crypto
    // API for at mount time, so modules.dep does not list it)
    "ahci",
    "virtio_blk",
    "sd_mod",
    "ext4",
    "crc32c_generic",
    "crc32c_intel",
    // ACPI power button (QEMU system_powerdown)
    "button",
];

/// Modules an aarch64 image carries: the virtio devices of QEMU's `virt` machine (and
/// virtio-scsi, its CD-ROM), USB input, the disk drivers and ext4 as for x86_64, and the power
/// key: `virt` signals `system_powerdown` through a GPIO key under a device tree (`gpio_keys`)
/// and the ACPI button under UEFI's ACPI tables. There is no PS/2, cirrus, VMware or UHCI here.
pub const WANTED_AARCH64: &[&str] = &[
    "virtio_pci",
    "virtio_input",
    "virtio_gpu",
    "virtio_console",
    "virtio_rng",
    "evdev",
    "hid_generic",
    "usbhid",
    "xhci_pci",
    "xhci_hcd",
    "ehci_pci",
    "ehci_hcd",
    "ohci_pci",
    "ohci_hcd",
    "ahci",
    "virtio_blk",
    "virtio_scsi",
    "sd_mod",
    "ext4",
    "crc32c_generic",
    "button",
    "gpio_keys",
];

/// The module list for `arch`.
pub fn wanted(arch: Arch) -> &'static [&'static str] {
    match arch {
        Arch::X86_64 => WANTED,
        Arch::Aarch64 => WANTED_AARCH64,
    }
}

fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

fn module_name(relpath: &str) -> String {
    let file = relpath.rsplit('/').next().unwrap_or(relpath);
    let stem = file.split(".ko").next().unwrap_or(file);
    normalize(stem)
}

/// `modules.dep` as name → (path, direct dependency paths).
fn read_dep(path: &Path) -> Result<BTreeMap<String, (String, Vec<String>)>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let Some((m, deps)) = line.split_once(':') else {
            bail!("{}:{}: no ':' in {line:?}", path.display(), i + 1);
        };
        let deps = deps.split_whitespace().map(str::to_string).collect();
        out.insert(module_name(m), (m.to_string(), deps));
    }
    Ok(out)
}

fn read_builtin(path: &Path) -> BTreeSet<String> {
    fs::read_to_string(path)
        .map(|t| t.lines().map(module_name).collect())
        .unwrap_or_default()
}

/// The relative paths (under `lib/modules/<kver>/`) of `wanted` and everything they depend on,
/// sorted. Built-in modules are skipped; an unknown module is an error.
pub fn closure(moddir: &Path, wanted: &[&str]) -> Result<BTreeSet<String>> {
    let dep = read_dep(&moddir.join("modules.dep"))?;
    let builtin = read_builtin(&moddir.join("modules.builtin"));
    let by_path: BTreeMap<&str, &Vec<String>> = dep.values().map(|(p, d)| (p.as_str(), d)).collect();
    let mut out = BTreeSet::new();
    for w in wanted {
        let name = normalize(w);
        match dep.get(&name) {
            Some((path, _)) => {
                let mut stack = vec![path.clone()];
                while let Some(p) = stack.pop() {
                    if out.insert(p.clone()) {
                        let deps = by_path.get(p.as_str()).with_context(|| {
                            format!("{}: {p} is a dependency but has no entry", moddir.display())
                        })?;
                        stack.extend(deps.iter().cloned());
                    }
                }
            }
            None if builtin.contains(&name) => {}
            None => bail!(
                "kernel module {w} is neither in {} nor built in",
                moddir.join("modules.dep").display()
            ),
        }
    }
    Ok(out)
}

/// Copies the module closure into `stage/lib/modules/<kver>/` (emptied first), runs
/// `depmod -b stage kver`, and adds the result to the image. Returns the module count.
pub fn add_to_image(
    img: &mut Image,
    modules_root: &Path,
    kver: &str,
    stage: &Path,
    arch: Arch,
) -> Result<usize> {
    let src = modules_root.join("lib/modules").join(kver);
    let set = closure(&src, wanted(arch))?;
    let _ = fs::remove_dir_all(stage);
    let dst = stage.join("lib/modules").join(kver);
    fs::create_dir_all(&dst).with_context(|| format!("creating {}", dst.display()))?;
    for rel in &set {
        let to = dst.join(rel);
        fs::create_dir_all(to.parent().unwrap())?;
        fs::copy(src.join(rel), &to).with_context(|| format!("copying {}", src.join(rel).display()))?;
    }
    for f in ["modules.order", "modules.builtin", "modules.builtin.modinfo"] {
        if src.join(f).exists() {
            fs::copy(src.join(f), dst.join(f))?;
        }
    }
    let status = Command::new("depmod")
        .arg("-b")
        .arg(stage)
        .arg(kver)
        .status()
        .context("running depmod (Debian package kmod)")?;
    if !status.success() {
        bail!("depmod -b {} {kver} failed ({status})", stage.display());
    }
    img.tree_at(&dst, &PathBuf::from("/lib/modules").join(kver), Category::Modules)?;
    Ok(set.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closure_follows_modules_dep_and_skips_builtins() {
        let dir = std::env::temp_dir().join(format!("exo-vm-modules-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("modules.dep"),
            "kernel/drivers/gpu/drm/virtio/virtio-gpu.ko: kernel/drivers/gpu/drm/drm_kms_helper.ko kernel/drivers/gpu/drm/drm.ko\n\
             kernel/drivers/gpu/drm/drm_kms_helper.ko: kernel/drivers/gpu/drm/drm.ko\n\
             kernel/drivers/gpu/drm/drm.ko:\n\
             kernel/drivers/input/evdev.ko:\n",
        )
        .unwrap();
        fs::write(
            dir.join("modules.builtin"),
            "kernel/drivers/input/serio/i8042.ko\n",
        )
        .unwrap();
        let set = closure(&dir, &["virtio_gpu", "i8042"]).unwrap();
        assert_eq!(
            set.into_iter().collect::<Vec<_>>(),
            vec![
                "kernel/drivers/gpu/drm/drm.ko",
                "kernel/drivers/gpu/drm/drm_kms_helper.ko",
                "kernel/drivers/gpu/drm/virtio/virtio-gpu.ko",
            ]
        );
        let err = closure(&dir, &["nonesuch"]).unwrap_err().to_string();
        assert!(err.contains("nonesuch") && err.contains("modules.dep"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
