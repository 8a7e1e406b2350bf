//! `exo-vm iso`: a hybrid ISO (El Torito BIOS and UEFI, isohybrid MBR and GPT) made with
//! xorriso, with pinned dates and volume id.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::grub::{early_cfg, grub_mkimage, GRUB_LIB, GRUB_MODULES_BIOS, GRUB_MODULES_EFI};
use super::*;

/// Options of `exo-vm iso`.
#[derive(Debug, Clone)]
pub struct IsoOptions {
    pub media: Media,
    /// The ISO file to write.
    pub path: PathBuf,
}

impl IsoOptions {
    /// The ISO for the image in `dir`: `<dir>/exosphere-<arch>.iso`.
    pub fn for_image(dir: &Path) -> IsoOptions {
        IsoOptions::for_image_arch(dir, Media::for_image(dir).arch)
    }

    /// [`IsoOptions::for_image`] for an image of `arch`.
    pub fn for_image_arch(dir: &Path, arch: crate::Arch) -> IsoOptions {
        let media = Media::for_image_arch(dir, arch);
        IsoOptions {
            path: dir.join(iso_file(media.arch)),
            media,
        }
    }
}

/// What [`iso`] produced.
#[derive(Debug, Clone)]
pub struct BuiltIso {
    pub path: PathBuf,
    pub size: u64,
    /// The ISO 9660 volume's UUID as GRUB reads it (its modification date).
    pub uuid: String,
}

/// UTC calendar fields (year, month, day, hour, minute, second) of a Unix time.
pub fn utc(epoch: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Days since 1970-01-01 to a proleptic Gregorian date, counting in 400-year eras that
    // start on 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (secs / 3600) as u32,
        (secs / 60 % 60) as u32,
        (secs % 60) as u32,
    )
}

/// xorriso's `--modification-date` (`YYYYMMDDhhmmss00`) and GRUB's UUID of that volume
/// (`YYYY-MM-DD-hh-mm-ss-00`).
pub fn iso_dates(epoch: u64) -> (String, String) {
    let (y, mo, d, h, mi, s) = utc(epoch);
    (
        format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}00"),
        format!("{y:04}-{mo:02}-{d:02}-{h:02}-{mi:02}-{s:02}-00"),
    )
}

/// Builds the hybrid ISO: El Torito BIOS (GRUB i386-pc eltorito image) and UEFI (a FAT image
/// with BOOTX64.EFI, also appended as a GPT partition), isohybrid MBR, so it boots as a CD and
/// as a disk. For aarch64: UEFI only (BOOTAA64.EFI, GRUB arm64-efi), same layout otherwise.
pub fn iso(opts: &IsoOptions) -> Result<BuiltIso> {
    let media = &opts.media;
    media.check()?;
    let work = &media.work;
    let (date, uuid) = iso_dates(media.epoch);

    let bios = media.arch == Arch::X86_64;
    let early = work.join("iso-early.cfg");
    fs::write(&early, early_cfg(&uuid))?;
    let eltorito = work.join("eltorito.img");
    if bios {
        grub_mkimage(media, "i386-pc-eltorito", &early, GRUB_MODULES_BIOS, &eltorito)?;
    }
    let (efi_format, efi_name) = media.arch.grub_efi();
    let efi = work.join(format!("iso-{efi_name}"));
    grub_mkimage(media, efi_format, &early, GRUB_MODULES_EFI, &efi)?;
    let cfg = work.join("grub.cfg");
    fs::write(&cfg, media.grub_cfg())?;

    media.log("making the EFI boot image (mkfs.vfat -C, mtools)");
    let efi_img = work.join("efi.img");
    let kib = (file_len(&efi)? / 1024 + 256).div_ceil(64) * 64;
    make_fat(
        media,
        &efi_img,
        kib,
        ISO_EFI_VOLUME_ID,
        "EXOSPHEREFI",
        None,
        &[(&efi, &format!("::/EFI/BOOT/{efi_name}"))],
    )?;

    media.log("making the ISO (xorriso)");
    if let Some(dir) = opts.path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = opts.path.with_extension("iso.partial");
    let _ = fs::remove_file(&tmp);
    let graft = |inside: &str, host: &Path| format!("{inside}={}", host.display());
    let mut x = media.tool("xorriso");
    x.args(["-as", "mkisofs", "-quiet", "-o"])
        .arg(&tmp)
        .args(["-R", "-J", "-V", ISO_VOLUME_ID])
        .arg(format!("--modification-date={date}"))
        .args(["--set_all_file_dates", &format!("={}", media.epoch)]);
    if bios {
        x.args([
            "-b",
            "boot/grub/bios.img",
            "-no-emul-boot",
            "-boot-load-size",
            "4",
        ])
        .args(["-boot-info-table", "--grub2-boot-info", "--grub2-mbr"])
        .arg(Path::new(GRUB_LIB).join("i386-pc/boot_hybrid.img"));
    }
    x.args(["-append_partition", "2", "0xef"])
        .arg(&efi_img)
        .arg("-appended_part_as_gpt");
    if bios {
        x.arg("-eltorito-alt-boot");
    }
    x.args(["-e", "--interval:appended_partition_2:all::", "-no-emul-boot"])
        .arg("-graft-points")
        .arg(graft("boot/vmlinuz", &media.kernel))
        .arg(graft("boot/initramfs.cpio", &media.initrd))
        .arg(graft("boot/grub/grub.cfg", &cfg));
    if bios {
        x.arg(graft("boot/grub/bios.img", &eltorito));
    }
    run(&mut x, "xorriso")?;
    fs::rename(&tmp, &opts.path)?;
    Ok(BuiltIso {
        path: opts.path.clone(),
        size: file_len(&opts.path)?,
        uuid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(utc(DEFAULT_EPOCH), (1980, 1, 1, 0, 0, 0));
        assert_eq!(utc(1_700_000_000), (2023, 11, 14, 22, 13, 20));
        assert_eq!(utc(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(
            iso_dates(1_700_000_000),
            ("2023111422132000".into(), "2023-11-14-22-13-20-00".into())
        );
    }
}
