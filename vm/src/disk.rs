//! `exo-vm disk` and `exo-vm iso`: bootable media around the kernel and initramfs that
//! `exo-vm build` makes, for machines (and VirtualBox) that boot from a disk or a CD rather than
//! from QEMU's `-kernel`.
//!
//! Everything is made in plain files, without loop devices or mounts: `sfdisk` writes the GPT,
//! `mkfs.vfat --offset` and mtools (`mmd`, `mcopy -i FILE@@OFFSET`) make and fill the ESP inside
//! the image, `mkfs.ext4 -E offset=` the data partition, `grub-mkimage` the GRUB images, and
//! GRUB's BIOS boot sector is patched in here (what `grub-bios-setup` would do on a device).
//! `xorriso` makes the ISO. Every GUID, volume id, UUID, hash seed and timestamp is pinned, so
//! the same inputs give the same bytes (see docs/exo-vm.md). GRUB's images and boot sector are
//! in the `grub` module, the ISO in `iso`.

use std::fmt;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::arch::Arch;

mod grub;
mod iso;

use grub::{early_cfg, grub_mkimage, GRUB_LIB, GRUB_MODULES_BIOS, GRUB_MODULES_EFI};
pub use grub::{install_bios_boot, GRUB_MODULES};
pub use iso::{iso, iso_dates, utc, BuiltIso, IsoOptions};

/// Bytes per sector of the disk image.
pub const SECTOR: u64 = 512;
const MIB: u64 = 1 << 20;

/// File names in the image directory (`target/exosphere/`) of the x86_64 image; see
/// [`disk_file`] and [`iso_file`] for others.
pub const DISK_FILE: &str = "exosphere-x86_64.img";
pub const ISO_FILE: &str = "exosphere-x86_64.iso";

/// `exosphere-<arch>.img`.
pub fn disk_file(arch: Arch) -> String {
    format!("exosphere-{arch}.img")
}

/// `exosphere-<arch>.iso`.
pub fn iso_file(arch: Arch) -> String {
    format!("exosphere-{arch}.iso")
}

/// The GPT disk GUID and the partitions' unique GUIDs (fixed: the image must be reproducible).
pub const DISK_GUID: &str = "3C1F6B8E-2D4A-4F7B-9E5C-E70500000000";
pub const BIOS_BOOT_GUID: &str = "3C1F6B8E-2D4A-4F7B-9E5C-E70500000001";
pub const ESP_GUID: &str = "3C1F6B8E-2D4A-4F7B-9E5C-E70500000002";
pub const DATA_GUID: &str = "3C1F6B8E-2D4A-4F7B-9E5C-E70500000003";
/// GPT partition types.
const TYPE_BIOS_BOOT: &str = "21686148-6449-6E6F-744E-656564454649";
const TYPE_ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const TYPE_LINUX: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

/// The ESP's FAT volume id (GRUB finds the ESP by it: `search --fs-uuid E705-0001`).
pub const ESP_VOLUME_ID: u32 = 0xE705_0001;
pub const ESP_LABEL: &str = "EXOSPHERE";
/// The FAT volume id of the ISO's EFI boot image.
pub const ISO_EFI_VOLUME_ID: u32 = 0xE705_0002;
/// The data partition: ext4 label, UUID and directory hash seed.
pub const DATA_LABEL: &str = "exosphere-data";
pub const DATA_UUID: &str = "3c1f6b8e-2d4a-4f7b-9e5c-e705000000da";
pub const DATA_HASH_SEED: &str = "3c1f6b8e-2d4a-4f7b-9e5c-e705000000d5";
/// The ISO 9660 volume id.
pub const ISO_VOLUME_ID: &str = "EXOSPHERE";

/// Timestamps when SOURCE_DATE_EPOCH is unset: 1980-01-01 00:00:00 UTC, the earliest time FAT
/// can store.
pub const DEFAULT_EPOCH: u64 = 315_532_800;

/// The BIOS boot partition: 1 MiB at 1 MiB (GRUB's core.img, ~150 KB).
const BIOS_START: u64 = 2048;
const BIOS_SECTORS: u64 = 2048;
/// The ESP starts at 2 MiB.
const ESP_START: u64 = BIOS_START + BIOS_SECTORS;
const ESP_MIN_MIB: u64 = 64;

/// Inputs shared by the disk and the ISO.
#[derive(Debug, Clone)]
pub struct Media {
    /// The architecture: x86_64 media boot under BIOS and UEFI, aarch64 media under UEFI only
    /// (GRUB arm64-efi as `\EFI\BOOT\BOOTAA64.EFI`).
    pub arch: Arch,
    /// Where another architecture's GRUB package is downloaded and unpacked.
    pub sysroot_cache: PathBuf,
    /// The bzImage (GRUB cannot boot the PVH `vmlinux`).
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// The kernel command line in grub.cfg's default entry.
    pub cmdline: String,
    /// Every timestamp on the medium (SOURCE_DATE_EPOCH, else [`DEFAULT_EPOCH`]).
    pub epoch: u64,
    /// Scratch directory (GRUB images, grub.cfg, the ISO's EFI image).
    pub work: PathBuf,
    /// Print progress to stderr.
    pub verbose: bool,
}

impl Media {
    /// `<dir>/vmlinuz` and `<dir>/initramfs.cpio` (what `exo-vm build --out DIR` wrote), the
    /// command line `exo-vm run` uses, scratch space in `<dir>/build/media`, the architecture
    /// `exo-vm build` noted in `<dir>/arch` (the build machine's when there is none).
    pub fn for_image(dir: &Path) -> Media {
        let arch = Arch::of_image_dir(dir).ok().flatten().unwrap_or_else(Arch::host);
        Media::for_image_arch(dir, arch)
    }

    /// [`Media::for_image`] for an image of `arch`.
    pub fn for_image_arch(dir: &Path, arch: Arch) -> Media {
        Media {
            arch,
            sysroot_cache: dir.join("build/sysroot"),
            kernel: dir.join("vmlinuz"),
            initrd: dir.join("initramfs.cpio"),
            cmdline: crate::qemu::kernel_cmdline(arch, true),
            epoch: media_epoch(),
            work: dir.join("build/media"),
            verbose: false,
        }
    }

    fn check(&self) -> Result<()> {
        for (what, p) in [("kernel", &self.kernel), ("initramfs", &self.initrd)] {
            if !p.is_file() {
                bail!("{what} {} is missing (run `exo-vm build` first)", p.display());
            }
        }
        if self.epoch < DEFAULT_EPOCH {
            bail!(
                "SOURCE_DATE_EPOCH {} is before 1980: FAT cannot store it",
                self.epoch
            );
        }
        fs::create_dir_all(&self.work).with_context(|| format!("creating {}", self.work.display()))
    }

    fn log(&self, msg: &str) {
        if self.verbose {
            eprintln!("exo-vm: {msg}");
        }
    }

    /// A command with the environment that makes the tools reproducible.
    fn tool(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SOURCE_DATE_EPOCH", self.epoch.to_string())
            // mke2fs 1.47.0 ignores SOURCE_DATE_EPOCH; this is its own fixed clock.
            .env("E2FSPROGS_FAKE_TIME", self.epoch.to_string())
            // FAT stores local time: make it UTC whatever the build machine's zone.
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            // mtools refuses some geometries of a partition inside a file otherwise.
            .env("MTOOLS_SKIP_CHECK", "1");
        c
    }

    /// grub.cfg: a one-second menu, the default entry with `cmdline`, one without `quiet`.
    pub fn grub_cfg(&self) -> String {
        let verbose: Vec<&str> = self
            .cmdline
            .split_whitespace()
            .filter(|w| *w != "quiet")
            .collect();
        let entry = |title: &str, cmdline: &str| {
            format!(
                "menuentry \"{title}\" {{\n    linux /boot/vmlinuz {cmdline}\n    initrd /boot/initramfs.cpio\n}}\n"
            )
        };
        // On aarch64 UEFI's own console is the serial port already (AAVMF): GRUB's console
        // terminal reaches it, and arm64-efi GRUB has no `com0`.
        let terminals = if self.arch == Arch::X86_64 {
            "# in /boot. On a console without a serial port the two serial lines fail harmlessly.\n\
             serial --unit=0 --speed=115200\n\
             terminal_input console serial\n\
             terminal_output console serial\n"
        } else {
            "# in /boot. UEFI's console (AAVMF) is the serial port already.\n\
             terminal_input console\n\
             terminal_output console\n"
        };
        format!(
            "# Exosphere's boot menu (written by exo-vm). The kernel and initramfs are next to it\n\
             {terminals}\
             set default=0\n\
             set timeout=1\n\n{}\n{}",
            entry("Exosphere", &self.cmdline),
            entry("Exosphere (kernel messages)", &verbose.join(" "))
        )
    }
}

/// SOURCE_DATE_EPOCH, else [`DEFAULT_EPOCH`].
pub fn media_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(DEFAULT_EPOCH)
}

fn run(cmd: &mut Command, package: &str) -> Result<()> {
    run_with_input(cmd, package, None)
}

fn run_with_input(cmd: &mut Command, package: &str, input: Option<&str>) -> Result<()> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("running {program} (Debian package {package})"))?;
    if let Some(text) = input {
        child.stdin.take().unwrap().write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(())
}

fn file_len(p: &Path) -> Result<u64> {
    Ok(fs::metadata(p).with_context(|| format!("{}", p.display()))?.len())
}

/// Options of `exo-vm disk`.
#[derive(Debug, Clone)]
pub struct DiskOptions {
    pub media: Media,
    /// The image file to write.
    pub path: PathBuf,
    /// Size of the data partition in MiB.
    pub data_mib: u64,
    /// Files for the data partition (`mkfs.ext4 -d`); none: an empty file system.
    pub data_seed: Option<PathBuf>,
}

impl DiskOptions {
    /// The disk for the image in `dir`: `<dir>/exosphere-<arch>.img`, a 256 MiB data partition.
    pub fn for_image(dir: &Path) -> DiskOptions {
        DiskOptions::for_image_arch(dir, Media::for_image(dir).arch)
    }

    /// [`DiskOptions::for_image`] for an image of `arch`.
    pub fn for_image_arch(dir: &Path, arch: Arch) -> DiskOptions {
        let media = Media::for_image_arch(dir, arch);
        DiskOptions {
            path: dir.join(disk_file(media.arch)),
            media,
            data_mib: 256,
            data_seed: None,
        }
    }
}

/// One GPT partition of the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub number: u32,
    pub name: &'static str,
    /// What is in it.
    pub what: &'static str,
    pub type_guid: &'static str,
    pub guid: &'static str,
    pub start: u64,
    pub sectors: u64,
}

/// What [`disk`] produced.
#[derive(Debug, Clone)]
pub struct BuiltDisk {
    pub arch: Arch,
    pub path: PathBuf,
    /// Size of the image file in bytes.
    pub size: u64,
    pub partitions: Vec<Partition>,
}

impl fmt::Display for BuiltDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:.1} MiB, GPT {DISK_GUID}, {}",
            self.path.display(),
            self.size as f64 / MIB as f64,
            if self.arch == Arch::X86_64 {
                "BIOS (GRUB i386-pc) and UEFI (GRUB x86_64-efi)"
            } else {
                "UEFI (GRUB arm64-efi)"
            }
        )?;
        for p in &self.partitions {
            write!(
                f,
                "\n  {} {:<15} start {:>7} sectors {:>7} {:>7.1} MiB  {}",
                p.number,
                p.name,
                p.start,
                p.sectors,
                (p.sectors * SECTOR) as f64 / MIB as f64,
                p.what
            )?;
        }
        Ok(())
    }
}

/// The partition layout for an ESP of `esp_mib` and a data partition of `data_mib`, and the
/// image size in sectors (1 MiB after the last partition holds the backup GPT).
pub fn layout(esp_mib: u64, data_mib: u64) -> (Vec<Partition>, u64) {
    layout_for(Arch::X86_64, esp_mib, data_mib)
}

/// [`layout`] for `arch`: aarch64 disks have no BIOS boot partition (the ESP is partition 1,
/// the data partition 2, at the same offsets as on x86_64).
pub fn layout_for(arch: Arch, esp_mib: u64, data_mib: u64) -> (Vec<Partition>, u64) {
    let per_mib = MIB / SECTOR;
    let esp_sectors = esp_mib * per_mib;
    let data_start = ESP_START + esp_sectors;
    let data_sectors = data_mib * per_mib;
    let mut parts = vec![
        Partition {
            number: 1,
            name: "BIOS boot",
            what: "GRUB core.img (i386-pc)",
            type_guid: TYPE_BIOS_BOOT,
            guid: BIOS_BOOT_GUID,
            start: BIOS_START,
            sectors: BIOS_SECTORS,
        },
        Partition {
            number: 2,
            name: "EFI System",
            what: if arch == Arch::X86_64 {
                "FAT32 EXOSPHERE E705-0001: /EFI/BOOT/BOOTX64.EFI, /boot/{vmlinuz,initramfs.cpio,grub/grub.cfg}"
            } else {
                "FAT32 EXOSPHERE E705-0001: /EFI/BOOT/BOOTAA64.EFI, /boot/{vmlinuz,initramfs.cpio,grub/grub.cfg}"
            },
            type_guid: TYPE_ESP,
            guid: ESP_GUID,
            start: ESP_START,
            sectors: esp_sectors,
        },
        Partition {
            number: 3,
            name: DATA_LABEL,
            what: "ext4 exosphere-data (persistent data, mounted by exo-init at /var/lib/exosphere)",
            type_guid: TYPE_LINUX,
            guid: DATA_GUID,
            start: data_start,
            sectors: data_sectors,
        },
    ];
    if arch != Arch::X86_64 {
        parts.remove(0);
        for (i, p) in parts.iter_mut().enumerate() {
            p.number = i as u32 + 1;
        }
    }
    (parts, data_start + data_sectors + per_mib)
}

/// The `sfdisk` script for `parts`.
pub fn sfdisk_script(parts: &[Partition]) -> String {
    let mut s = format!("label: gpt\nlabel-id: {DISK_GUID}\nunit: sectors\nfirst-lba: 2048\n\n");
    for p in parts {
        s.push_str(&format!(
            "start={}, size={}, type={}, uuid={}, name=\"{}\"\n",
            p.start, p.sectors, p.type_guid, p.guid, p.name
        ));
    }
    s
}

/// The ESP's size: the files plus a quarter and 8 MiB, at least 64 MiB (so it is FAT32).
fn esp_mib(content: u64) -> u64 {
    (content + content / 4)
        .div_ceil(MIB)
        .saturating_add(8)
        .max(ESP_MIN_MIB)
}

fn fat_volume_id(id: u32) -> String {
    format!("{:04X}-{:04X}", id >> 16, id & 0xffff)
}

/// A FAT file system in a new file `path` of `kib` KiB (FAT32 when `hidden` is given: an ESP at
/// that LBA) holding `files` (host path, `::/DIR/NAME`); their directories are made first.
fn make_fat(
    media: &Media,
    path: &Path,
    kib: u64,
    volume_id: u32,
    label: &str,
    hidden: Option<u64>,
    files: &[(&PathBuf, &str)],
) -> Result<()> {
    let _ = fs::remove_file(path);
    let mut c = media.tool("mkfs.vfat");
    c.args(["-C", "--invariant", "-i"])
        .arg(format!("{volume_id:08X}"))
        .args(["-n", label]);
    if let Some(lba) = hidden {
        c.args(["-F", "32", "-h"]).arg(lba.to_string());
    }
    run(c.arg(path).arg(kib.to_string()), "dosfstools")?;
    let image = path.to_string_lossy().into_owned();
    let mut dirs: Vec<String> = Vec::new();
    for (_, dest) in files {
        let mut d = dest.to_string();
        while let Some(i) = d.rfind('/').filter(|&i| i > 2) {
            d.truncate(i);
            if !dirs.contains(&d) {
                dirs.push(d.clone());
            }
        }
    }
    dirs.sort();
    if !dirs.is_empty() {
        run(media.tool("mmd").args(["-i", &image]).args(&dirs), "mtools")?;
    }
    for (src, dest) in files {
        // Without -m mcopy stamps the file with SOURCE_DATE_EPOCH, not the source's mtime.
        run(
            media.tool("mcopy").args(["-i", &image]).arg(src).arg(dest),
            "mtools",
        )?;
    }
    Ok(())
}

/// Builds the disk image. It is written next to `opts.path` and renamed into place.
pub fn disk(opts: &DiskOptions) -> Result<BuiltDisk> {
    let media = &opts.media;
    media.check()?;
    if opts.data_mib < 8 {
        bail!(
            "the data partition needs at least 8 MiB (asked for {})",
            opts.data_mib
        );
    }
    let work = &media.work;

    // GRUB: the same early config for BIOS and UEFI (the ESP by its volume id).
    let bios = media.arch == Arch::X86_64;
    let early = work.join("disk-early.cfg");
    fs::write(&early, early_cfg(&fat_volume_id(ESP_VOLUME_ID)))?;
    let core = work.join("core.img");
    if bios {
        grub_mkimage(media, "i386-pc", &early, GRUB_MODULES_BIOS, &core)?;
        let core_len = file_len(&core)?;
        if core_len > BIOS_SECTORS * SECTOR {
            bail!("GRUB's core.img ({core_len} bytes) does not fit the 1 MiB BIOS boot partition");
        }
    }
    let (efi_format, efi_name) = media.arch.grub_efi();
    let efi = work.join(efi_name);
    grub_mkimage(media, efi_format, &early, GRUB_MODULES_EFI, &efi)?;
    let cfg = work.join("grub.cfg");
    fs::write(&cfg, media.grub_cfg())?;

    let content = file_len(&media.kernel)? + file_len(&media.initrd)? + file_len(&efi)? + 4096;
    let (parts, total) = layout_for(media.arch, esp_mib(content), opts.data_mib);
    let esp = parts
        .iter()
        .find(|p| p.type_guid == TYPE_ESP)
        .expect("the layout has an ESP");
    let data = parts
        .iter()
        .find(|p| p.type_guid == TYPE_LINUX)
        .expect("the layout has a data partition");
    let efi_dest = format!("::/EFI/BOOT/{efi_name}");

    if let Some(dir) = opts.path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = opts.path.with_extension("img.partial");
    let _ = fs::remove_file(&tmp);
    fs::File::create(&tmp)
        .and_then(|f| f.set_len(total * SECTOR))
        .with_context(|| format!("creating {}", tmp.display()))?;

    media.log("partitioning (sfdisk)");
    run_with_input(
        media
            .tool("sfdisk")
            .args(["--quiet", "--no-reread", "--no-tell-kernel", "--wipe", "always"])
            .arg(&tmp),
        "fdisk",
        Some(&sfdisk_script(&parts)),
    )?;

    media.log("making the ESP (mkfs.vfat -C, mtools)");
    // The ESP is made as a file of its own and copied in: mtools on a partition inside the
    // image (`-i FILE@@OFFSET`) failed with "No directory slots" on FAT32 with 4 KiB clusters.
    let esp_file = work.join("esp.img");
    make_fat(
        media,
        &esp_file,
        esp.sectors * SECTOR / 1024,
        ESP_VOLUME_ID,
        ESP_LABEL,
        Some(esp.start),
        &[
            (&efi, efi_dest.as_str()),
            (&cfg, "::/boot/grub/grub.cfg"),
            (&media.kernel, "::/boot/vmlinuz"),
            (&media.initrd, "::/boot/initramfs.cpio"),
        ],
    )?;
    {
        let mut src = fs::File::open(&esp_file)?;
        let mut dst = fs::OpenOptions::new().write(true).open(&tmp)?;
        dst.seek(SeekFrom::Start(esp.start * SECTOR))?;
        let n = std::io::copy(&mut src, &mut dst)?;
        if n != esp.sectors * SECTOR {
            bail!(
                "{} is {n} bytes, the ESP {}",
                esp_file.display(),
                esp.sectors * SECTOR
            );
        }
    }
    fs::remove_file(&esp_file)?;

    media.log("making the data partition (mkfs.ext4 -d)");
    let seed = match &opts.data_seed {
        Some(d) => d.clone(),
        None => {
            let d = work.join("data-seed");
            let _ = fs::remove_dir_all(&d);
            fs::create_dir_all(&d)?;
            d
        }
    };
    // The root directory's times come from the seed directory.
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(media.epoch);
    fs::File::open(&seed)
        .and_then(|f| f.set_times(fs::FileTimes::new().set_accessed(when).set_modified(when)))
        .with_context(|| format!("setting the times of {}", seed.display()))?;
    run(
        media
            .tool("mkfs.ext4")
            .args(["-q", "-F", "-t", "ext4", "-L", DATA_LABEL, "-U", DATA_UUID, "-E"])
            .arg(format!(
                "offset={},root_owner=0:0,hash_seed={DATA_HASH_SEED},nodiscard,lazy_itable_init=0,lazy_journal_init=0",
                data.start * SECTOR
            ))
            .arg("-d")
            .arg(&seed)
            .arg(&tmp)
            .arg(format!("{}k", data.sectors * SECTOR / 1024)),
        "e2fsprogs",
    )?;

    if !bios {
        fs::File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, &opts.path)?;
        return Ok(BuiltDisk {
            arch: media.arch,
            path: opts.path.clone(),
            size: total * SECTOR,
            partitions: parts,
        });
    }
    media.log("installing GRUB for BIOS (boot.img in the MBR, core.img in partition 1)");
    let boot_img = fs::read(Path::new(GRUB_LIB).join("i386-pc/boot.img"))
        .context("reading GRUB's boot.img (Debian package grub-pc-bin)")?;
    let mut core_img = fs::read(&core)?;
    let mut f = fs::OpenOptions::new().read(true).write(true).open(&tmp)?;
    let mut mbr = [0u8; 512];
    f.read_exact(&mut mbr)?;
    install_bios_boot(&mut mbr, &boot_img, &mut core_img, BIOS_START)?;
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&mbr)?;
    f.seek(SeekFrom::Start(BIOS_START * SECTOR))?;
    f.write_all(&core_img)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, &opts.path)?;

    Ok(BuiltDisk {
        arch: media.arch,
        path: opts.path.clone(),
        size: total * SECTOR,
        partitions: parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_aligned_and_in_order() {
        let (parts, total) = layout(100, 256);
        assert_eq!(parts[0].start, 2048);
        assert_eq!(parts[1].start, 4096);
        assert_eq!(parts[2].start, 4096 + 100 * 2048);
        for p in &parts {
            assert_eq!(p.start % 2048, 0, "{p:?}");
        }
        assert_eq!(total, parts[2].start + 256 * 2048 + 2048);
        let script = sfdisk_script(&parts);
        assert!(script.contains(&format!("label-id: {DISK_GUID}")), "{script}");
        assert!(
            script.contains(&format!("uuid={DATA_GUID}, name=\"exosphere-data\"")),
            "{script}"
        );
        assert_eq!(esp_mib(1), 64);
        assert_eq!(esp_mib(100 * MIB), 125 + 8);
        assert_eq!(fat_volume_id(ESP_VOLUME_ID), "E705-0001");
    }

    #[test]
    fn grub_cfg_boots_with_the_run_command_line() {
        let m = Media::for_image(Path::new("/nonexistent"));
        let a = Media::for_image_arch(Path::new("/nonexistent"), Arch::Aarch64);
        assert!(
            a.grub_cfg()
                .contains("linux /boot/vmlinuz console=tty0 console=ttyAMA0 panic=1 quiet\n"),
            "{}",
            a.grub_cfg()
        );
        let (parts, _) = layout_for(Arch::Aarch64, 100, 256);
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].number, parts[0].name), (1, "EFI System"));
        assert_eq!((parts[1].number, parts[1].start), (2, 4096 + 100 * 2048));
        assert!(parts[0].what.contains("BOOTAA64.EFI"));
        assert!(
            !a.grub_cfg().contains("serial --unit") && a.grub_cfg().contains("terminal_output console\n"),
            "{}",
            a.grub_cfg()
        );
        let cfg = m.grub_cfg();
        assert!(
            cfg.contains("linux /boot/vmlinuz console=tty0 console=ttyS0 panic=1 quiet\n"),
            "{cfg}"
        );
        assert!(
            cfg.contains("linux /boot/vmlinuz console=tty0 console=ttyS0 panic=1\n"),
            "{cfg}"
        );
        assert!(cfg.contains("set timeout=1"), "{cfg}");
        assert!(cfg.contains("terminal_output console serial\n"), "{cfg}");
    }
}
