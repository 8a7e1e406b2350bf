//! The image build end to end without QEMU: a fixture bin dir (host programs standing in for
//! ours) and a fixture kernel file, built twice into different directories.

use std::fs;
use std::path::{Path, PathBuf};

use exo_vm::build::{default_repo, OUR_BINARIES};
use exo_vm::{BuildOptions, KernelChoice, Variant};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("exo-vm-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// A bin dir whose "nexquelium" etc. are copies of small host ELF programs.
fn fixture_bins(dir: &Path) {
    for (name, _) in OUR_BINARIES {
        fs::copy("/usr/bin/true", dir.join(name)).unwrap();
    }
}

fn options(bins: &Path, kernel: &Path, out: &Path, variant: Variant) -> BuildOptions {
    let mut o = BuildOptions::new(default_repo());
    o.bin_dir = bins.to_path_buf();
    o.kernel = KernelChoice::Custom {
        vmlinuz: kernel.to_path_buf(),
        modules: None,
    };
    o.out = out.to_path_buf();
    o.variant = variant;
    o.mtime = 0;
    o
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn same_inputs_give_a_byte_identical_image() {
    let root = scratch("repro");
    let bins = root.join("bin");
    fs::create_dir_all(&bins).unwrap();
    fixture_bins(&bins);
    let kernel = root.join("vmlinuz");
    fs::write(&kernel, b"not really a kernel").unwrap();

    let a = exo_vm::build(&options(&bins, &kernel, &root.join("a"), Variant::Shipped)).unwrap();
    // Different file times for the inputs must not matter.
    for (name, _) in OUR_BINARIES {
        let f = fs::File::options().append(true).open(bins.join(name)).unwrap();
        f.set_modified(std::time::SystemTime::now()).unwrap();
    }
    let b = exo_vm::build(&options(&bins, &kernel, &root.join("b"), Variant::Shipped)).unwrap();
    let (ia, ib) = (fs::read(&a.initramfs).unwrap(), fs::read(&b.initramfs).unwrap());
    assert_eq!(ia.len() as u64, a.size);
    assert!(ia == ib, "two builds of the same inputs differ");
    assert_eq!(fs::read(&a.vmlinuz).unwrap(), b"not really a kernel");
    assert!(a.vmlinux.is_none());

    // The contract's layout is there (names appear NUL-terminated in newc headers).
    for name in [
        "init",
        "usr/bin/nexquelium",
        "usr/bin/foot",
        "usr/bin/dash",
        "usr/lib/systemd/systemd-udevd",
        "usr/bin/udevadm",
        "usr/lib64/ld-linux-x86-64.so.2",
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        "usr/lib/udev/rules.d/80-drivers.rules",
        "usr/lib/udev/rules.d/60-input-id.rules",
        "usr/share/X11/xkb/rules/evdev",
        "etc/exosphere/init.toml",
        "etc/exosphere/capsules/hello/Capsule.toml",
        "etc/exosphere/capsules/terminal/Capsule.toml",
        "usr/share/exosphere/cursor.png",
        "etc/passwd",
        "dev/console",
    ] {
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        assert!(contains(&ia, &n), "{name} is not in the image");
    }
    assert!(!contains(&ia, b"usr/libexec/exosphere/fault.sh\0"));

    // The test variant adds the fault service and differs from the shipped image.
    let t = exo_vm::build(&options(&bins, &kernel, &root.join("t"), Variant::Test)).unwrap();
    let it = fs::read(&t.initramfs).unwrap();
    assert!(contains(&it, b"usr/libexec/exosphere/fault.sh\0"));
    assert!(contains(&it, b"name = \"fault\""));
    assert_ne!(ia, it);
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_missing_binary_is_named_with_the_fix() {
    let root = scratch("missing");
    let bins = root.join("bin");
    fs::create_dir_all(&bins).unwrap();
    fixture_bins(&bins);
    fs::remove_file(bins.join("sentry-dashboard")).unwrap();
    let kernel = root.join("vmlinuz");
    fs::write(&kernel, b"k").unwrap();
    let err = exo_vm::build(&options(&bins, &kernel, &root.join("o"), Variant::Shipped))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sentry-dashboard") && err.contains("cargo build --bins"),
        "{err}"
    );
    fs::remove_dir_all(&root).unwrap();
}

/// `sfdisk --json` of an image.
fn partition_table(image: &Path) -> serde_json::Value {
    let out = std::process::Command::new("sfdisk")
        .arg("--json")
        .arg(image)
        .output()
        .expect("sfdisk (Debian package fdisk)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `blkid -p -O OFFSET -o export` of a file system inside an image: TYPE, UUID, LABEL…
fn probe(image: &Path, offset: u64) -> String {
    let out = std::process::Command::new("blkid")
        .args(["-p", "-o", "export", "-O", &offset.to_string()])
        .arg(image)
        .output()
        .expect("blkid (Debian package util-linux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A file from the FAT file system at `offset` (mtools' `mtype`).
fn fat_file(image: &Path, offset: u64, path: &str) -> Vec<u8> {
    let out = std::process::Command::new("mtype")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(format!("{}@@{offset}", image.display()))
        .arg(path)
        .output()
        .expect("mtype (Debian package mtools)");
    assert!(
        out.status.success(),
        "mtype {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `exo-vm disk` and `exo-vm iso` twice from the same (fixture) kernel and initramfs, with the
/// inputs' file times changed in between and other scratch directories: the same bytes. And the
/// disk's layout: the pinned GPT, GRUB in the MBR, the ESP's files, the ext4 data partition.
#[test]
fn disk_and_iso_are_reproducible_and_laid_out_as_documented() {
    let root = scratch("media");
    let kernel = root.join("vmlinuz");
    let initrd = root.join("initramfs.cpio");
    fs::write(&kernel, b"not really a kernel").unwrap();
    fs::write(&initrd, vec![0x5a; 3 << 20]).unwrap();
    let media = |work: &str| {
        let mut m = exo_vm::Media::for_image(&root);
        m.work = root.join(work);
        m
    };
    let disk_opts = |name: &str| exo_vm::DiskOptions {
        media: media(&format!("work-{name}")),
        path: root.join(format!("{name}.img")),
        data_mib: 16,
        data_seed: None,
    };

    let a = exo_vm::disk(&disk_opts("a")).unwrap();
    for f in [&kernel, &initrd] {
        let f = fs::File::options().append(true).open(f).unwrap();
        f.set_modified(std::time::SystemTime::now()).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = exo_vm::disk(&disk_opts("b")).unwrap();
    let (da, db) = (fs::read(&a.path).unwrap(), fs::read(&b.path).unwrap());
    assert_eq!(da.len() as u64, a.size);
    assert!(da == db, "two disk images of the same inputs differ");

    // GRUB's boot.img in the MBR (its code, and core.img's LBA at 0x5c), the protective MBR's
    // partition entry and signature kept.
    assert_eq!(&da[0x5c..0x64], &2048u64.to_le_bytes());
    assert_eq!(da[0x1c2], 0xee, "no protective MBR partition");
    assert_eq!(&da[510..512], &[0x55, 0xaa]);
    assert_eq!(&da[2048 * 512 + 500..2048 * 512 + 508], &2049u64.to_le_bytes());

    let table = partition_table(&a.path);
    let pt = &table["partitiontable"];
    assert_eq!(pt["label"], "gpt");
    assert_eq!(pt["id"], exo_vm::disk::DISK_GUID);
    let parts = pt["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    for (p, (want, guid)) in parts.iter().zip([
        ("BIOS boot", exo_vm::disk::BIOS_BOOT_GUID),
        ("EFI System", exo_vm::disk::ESP_GUID),
        ("exosphere-data", exo_vm::disk::DATA_GUID),
    ]) {
        assert_eq!(p["name"], want, "{p}");
        assert_eq!(p["uuid"], guid, "{p}");
    }
    let start = |i: usize| parts[i]["start"].as_u64().unwrap() * 512;

    let esp = probe(&a.path, start(1));
    assert!(
        esp.contains("TYPE=vfat") && esp.contains("UUID=E705-0001"),
        "{esp}"
    );
    assert_eq!(
        fat_file(&a.path, start(1), "::/boot/vmlinuz"),
        b"not really a kernel"
    );
    assert_eq!(
        fat_file(&a.path, start(1), "::/boot/initramfs.cpio").len(),
        3 << 20
    );
    let efi = fat_file(&a.path, start(1), "::/EFI/BOOT/BOOTX64.EFI");
    assert_eq!(&efi[..2], b"MZ", "BOOTX64.EFI is no PE file");
    let cfg = String::from_utf8(fat_file(&a.path, start(1), "::/boot/grub/grub.cfg")).unwrap();
    assert!(
        cfg.contains("linux /boot/vmlinuz console=tty0 console=ttyS0 panic=1 quiet\n"),
        "{cfg}"
    );

    let data = probe(&a.path, start(2));
    for want in [
        "TYPE=ext4",
        "LABEL=exosphere-data",
        &format!("UUID={}", exo_vm::disk::DATA_UUID),
    ] {
        assert!(data.contains(want), "{want} not in {data}");
    }

    let iso_opts = |name: &str| exo_vm::IsoOptions {
        media: media(&format!("work-{name}")),
        path: root.join(format!("{name}.iso")),
    };
    let ia = exo_vm::iso(&iso_opts("a")).unwrap();
    let ib = exo_vm::iso(&iso_opts("b")).unwrap();
    let (xa, xb) = (fs::read(&ia.path).unwrap(), fs::read(&ib.path).unwrap());
    assert!(xa == xb, "two ISOs of the same inputs differ");
    assert_eq!(&xa[0x8001..0x8006], b"CD001", "no ISO 9660 volume descriptor");
    assert_eq!(&xa[510..512], &[0x55, 0xaa], "no isohybrid MBR");
    let iso = probe(&ia.path, 0);
    assert!(
        iso.contains("LABEL=EXOSPHERE") && iso.contains(&format!("UUID={}", ia.uuid)),
        "{iso}"
    );
    fs::remove_dir_all(&root).unwrap();
}
