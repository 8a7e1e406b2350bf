//! GRUB for the disk and the ISO: the images `grub-mkimage` makes (every module built in, an
//! early config that finds /boot by its file system's UUID), and the BIOS boot sector patched
//! into the disk's protective MBR (what `grub-bios-setup` would do on a device).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::{run, Media};
use crate::arch::Arch;
use crate::build::sysroot;

/// GRUB modules built into both GRUB images (nothing is loaded from disk at boot).
pub const GRUB_MODULES: &[&str] = &[
    "part_gpt",
    "part_msdos",
    "fat",
    "iso9660",
    "search",
    "search_fs_uuid",
    "configfile",
    "normal",
    "linux",
    "echo",
    "test",
    "serial",
    "terminal",
    "boot",
];
pub(super) const GRUB_MODULES_BIOS: &[&str] = &["biosdisk"];
pub(super) const GRUB_MODULES_EFI: &[&str] = &["efi_gop"];
pub(super) const GRUB_LIB: &str = "/usr/lib/grub";

/// GRUB's early configuration (built into the image): find the file system holding /boot by
/// its UUID, then read its grub.cfg.
pub(super) fn early_cfg(fs_uuid: &str) -> String {
    format!(
        "search --no-floppy --fs-uuid --set=root {fs_uuid}\n\
         set prefix=($root)/boot/grub\n\
         configfile ($root)/boot/grub/grub.cfg\n"
    )
}

/// GRUB's module directory for `format`: the build machine's `/usr/lib/grub/<platform>`, but
/// arm64-efi's from Debian's `grub-efi-arm64-bin` for arm64, downloaded and unpacked (never
/// installed) into `<media.sysroot_cache>/grub` when this machine is not arm64.
fn grub_dir(media: &Media, format: &str) -> Result<PathBuf> {
    let platform = format.trim_end_matches("-eltorito");
    if platform == "arm64-efi" && !Arch::Aarch64.is_host() {
        let root = sysroot::ensure(
            Arch::Aarch64,
            &media.sysroot_cache,
            "grub",
            &[sysroot::GRUB_EFI_ARM64],
            false,
            &|m| media.log(m),
        )?;
        return Ok(root.join("usr/lib/grub").join(platform));
    }
    Ok(Path::new(GRUB_LIB).join(platform))
}

/// `grub-mkimage -O format` with [`GRUB_MODULES`] and `extra`, the early config embedded.
pub(super) fn grub_mkimage(
    media: &Media,
    format: &str,
    early: &Path,
    extra: &[&str],
    out: &Path,
) -> Result<()> {
    let dir = grub_dir(media, format)?;
    if !dir.is_dir() {
        let pkg = if format.starts_with("x86_64-efi") {
            "grub-efi-amd64-bin"
        } else if format.starts_with("arm64-efi") {
            sysroot::GRUB_EFI_ARM64
        } else {
            "grub-pc-bin"
        };
        bail!("{} is missing (Debian package {pkg})", dir.display());
    }
    let mut c = media.tool("grub-mkimage");
    c.args(["-O", format, "-d"])
        .arg(&dir)
        .arg("-o")
        .arg(out)
        .arg("-c")
        .arg(early)
        .args(["-p", "/boot/grub"])
        .args(GRUB_MODULES)
        .args(extra);
    run(&mut c, "grub-common")
}

// Offsets in GRUB's i386-pc boot.img and diskboot.img (grub's include/grub/i386/pc/boot.h).
/// The BIOS parameter block a boot sector must leave alone.
const BPB_START: usize = 0x03;
const BPB_END: usize = 0x5a;
/// LBA (u64) of the first sector of core.img.
const KERNEL_SECTOR: usize = 0x5c;
/// Boot drive (0xff: take the one the BIOS passes in DL).
const BOOT_DRIVE: usize = 0x64;
/// A 2-byte jump that checks DL; replaced by two NOPs on hard disks (what grub-bios-setup does
/// for buggy BIOSes that pass a wrong drive number).
const DRIVE_CHECK: usize = 0x66;
/// From here on: the disk signature and the partition table (kept from the protective MBR).
const PART_TABLE_START: usize = 0x1b8;

/// Puts GRUB's boot.img into `mbr` (keeping its BPB area, disk signature, partition table and
/// boot signature) pointing at core.img at LBA `core_lba`, and fills core.img's first blocklist
/// (its last 12 bytes of the first sector: start u64, sectors u16, segment u16) with where the
/// rest of core.img is.
/// `core` is padded to whole sectors.
pub fn install_bios_boot(
    mbr: &mut [u8; 512],
    boot_img: &[u8],
    core: &mut Vec<u8>,
    core_lba: u64,
) -> Result<()> {
    if boot_img.len() != 512 {
        bail!("GRUB's boot.img is {} bytes, not 512", boot_img.len());
    }
    if core.len() < 512 {
        bail!("GRUB's core.img is {} bytes, less than a sector", core.len());
    }
    core.resize(core.len().div_ceil(512) * 512, 0);
    if mbr[510..] != [0x55, 0xaa] {
        bail!("the image's MBR has no boot signature (sfdisk wrote no protective MBR?)");
    }
    mbr[..BPB_START].copy_from_slice(&boot_img[..BPB_START]);
    mbr[BPB_END..PART_TABLE_START].copy_from_slice(&boot_img[BPB_END..PART_TABLE_START]);
    mbr[KERNEL_SECTOR..KERNEL_SECTOR + 8].copy_from_slice(&core_lba.to_le_bytes());
    mbr[BOOT_DRIVE] = 0xff;
    mbr[DRIVE_CHECK..DRIVE_CHECK + 2].copy_from_slice(&[0x90, 0x90]);

    let sectors = (core.len() / 512) as u64;
    let bl = 512 - 12;
    let len = u16::from_le_bytes([core[bl + 8], core[bl + 9]]);
    if u64::from(len) != sectors - 1 {
        bail!(
            "GRUB's core.img blocklist says {len} sectors follow, the file has {}",
            sectors - 1
        );
    }
    core[bl..bl + 8].copy_from_slice(&(core_lba + 1).to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bios_boot_sector_keeps_the_partition_table() {
        let mut mbr = [0u8; 512];
        mbr[0x1c0..0x1d0].copy_from_slice(&[7u8; 16]);
        mbr[510] = 0x55;
        mbr[511] = 0xaa;
        let boot: Vec<u8> = (0..512).map(|i| (i % 251) as u8 + 1).collect();
        let mut core = vec![0u8; 2 * 512 + 100];
        core[500..512].copy_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x20, 0x08]);
        install_bios_boot(&mut mbr, &boot, &mut core, 2048).unwrap();
        assert_eq!(&mbr[..3], &boot[..3]);
        assert_eq!(&mbr[3..0x5a], &[0u8; 0x57][..]);
        assert_eq!(&mbr[0x5c..0x64], &2048u64.to_le_bytes());
        assert_eq!(mbr[0x64], 0xff);
        assert_eq!(&mbr[0x66..0x68], &[0x90, 0x90]);
        assert_eq!(&mbr[0x68..0x1b8], &boot[0x68..0x1b8]);
        assert_eq!(&mbr[0x1c0..0x1d0], &[7u8; 16]);
        assert_eq!(&mbr[510..], &[0x55, 0xaa]);
        assert_eq!(&core[500..508], &2049u64.to_le_bytes());
        assert_eq!(&core[508..512], &[2, 0, 0x20, 0x08]);

        let mut bad = vec![0u8; 512 * 4];
        bad[508] = 2;
        assert!(install_bios_boot(&mut mbr, &boot, &mut bad, 2048).is_err());
    }

    #[test]
    fn the_early_config_finds_boot_by_uuid() {
        assert!(early_cfg("E705-0001").contains("--fs-uuid --set=root E705-0001"));
    }
}
