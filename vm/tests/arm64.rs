//! End-to-end on ARM64: the image `exo-vm build --arch aarch64` makes from the workspace
//! cross-built for aarch64-unknown-linux-gnu (debug) and Debian's arm64 packages, booted in
//! `qemu-system-aarch64 -M virt` under TCG. Not part of `cargo test --workspace`: this target
//! needs the feature `arm64-tests`, and `./x test-arm64` installs what it needs, cross-builds
//! the binaries and runs it:
//!
//! ```text
//! cargo test -p exo-vm --features arm64-tests --test arm64
//! ```
//!
//! Boots are shared between checks (CI has two cores): one direct-kernel boot runs the first
//! program `exo.run=hello`; one boot of the arm64 ISO under AAVMF (UEFI, GRUB arm64-efi) reaches
//! the dashboard, which OCR reads, and powers off with the ACPI button. The image itself is
//! checked without booting: every ELF file in it is an aarch64 one, and no amd64 path is there.

#[path = "../../sentry-dashboard/tests/common/image.rs"]
mod image;
#[path = "common/vm.rs"]
mod vmtest;

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
    time::{Duration, Instant},
};

use exo_vm::build::{elf, OUR_BINARIES};
use exo_vm::{build, Arch, Boot, BuildOptions, Firmware, IsoOptions, Variant, Vm, VmOptions};
use image::{require_program, Area, Image, PREPROCESS_TITLE_BARS};
use vmtest::{assert_hello_ran, console_tail, one_vm_at_a_time, record, repo, BOOT, DASHBOARD_MAPPED};

/// The arm64 test image, built once per test process into target/exosphere/aarch64/test-image
/// from target/aarch64-unknown-linux-gnu/debug.
fn test_image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let repo = repo();
        let bin_dir = Arch::Aarch64.default_bin_dir(&repo, "debug");
        for (bin, _) in OUR_BINARIES {
            assert!(
                bin_dir.join(bin).is_file(),
                "{} is missing: cross-build the workspace for aarch64 first (./x test-arm64 does)",
                bin_dir.join(bin).display()
            );
        }
        let mut opts = BuildOptions::for_arch(&repo, Arch::Aarch64);
        opts.bin_dir = bin_dir;
        opts.variant = Variant::Test;
        let shared = Arch::Aarch64.default_out(&repo).join("build");
        opts.out = Arch::Aarch64.default_out(&repo).join("test-image");
        // One download of the kernel and the packages for `exo-vm build --arch aarch64` and
        // the tests.
        opts.kernel_cache = Some(shared.join("kernel"));
        opts.sysroot_cache = Some(shared.join("sysroot"));
        let started = Instant::now();
        let built = build(&opts).expect("exo-vm build --arch aarch64 (test variant)");
        record("arm64 image build", started.elapsed());
        eprintln!(
            "arm64 test image: {} ({} bytes, {} modules, kernel {:?})",
            built.initramfs.display(),
            built.size,
            built.modules,
            built.kver
        );
        opts.out
    })
}

/// A fresh directory for one boot's serial log, QMP socket and screenshots.
fn boot_dir(name: &str) -> PathBuf {
    let dir = repo().join("target/exosphere/boot-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the boot test directory");
    dir
}

/// The entries of a newc archive: (path, mode, file data).
fn cpio_entries(archive: &[u8]) -> Vec<(String, u32, &[u8])> {
    let hex = |b: &[u8]| u32::from_str_radix(std::str::from_utf8(b).unwrap(), 16).unwrap();
    let pad4 = |n: usize| n.div_ceil(4) * 4;
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let h = &archive[at..at + 110];
        assert_eq!(&h[..6], b"070701", "no newc header at byte {at}");
        let mode = hex(&h[14..22]);
        let size = hex(&h[54..62]) as usize;
        let namesize = hex(&h[94..102]) as usize;
        let name = std::str::from_utf8(&archive[at + 110..at + 110 + namesize - 1])
            .unwrap()
            .to_string();
        let data_at = pad4(at + 110 + namesize);
        if name == "TRAILER!!!" {
            break;
        }
        out.push((name, mode, &archive[data_at..data_at + size]));
        at = pad4(data_at + size);
    }
    out
}

/// No boot: the image's ELF files are all aarch64 (e_machine 183, read from their headers), our
/// binaries and the arm64 loader are there, no path names x86_64, and the kernel is an arm64
/// Image.
#[test]
fn the_arm64_image_holds_only_aarch64_elf_files() {
    let dir = test_image();
    let archive = std::fs::read(dir.join("initramfs.cpio")).expect("read the initramfs");
    let entries = cpio_entries(&archive);
    let mut elves = 0;
    let mut wrong = Vec::new();
    for (name, mode, data) in &entries {
        assert!(
            !name.contains("x86_64") && !name.contains("x86-64") && !name.contains("amd64"),
            "an amd64 path is in the arm64 image: /{name}"
        );
        if mode & 0o170000 != 0o100000 {
            continue;
        }
        if let Some(m) = elf::machine_of(&data[..data.len().min(20)]) {
            elves += 1;
            if m != Arch::Aarch64.elf_machine() {
                wrong.push(format!("/{name} (e_machine {m})"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "ELF files for another machine in the arm64 image: {wrong:?}"
    );
    let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
    for want in [
        "init",
        "usr/bin/nexquelium",
        "usr/bin/sentry-dashboard",
        "usr/bin/exoctl",
        "usr/bin/foot",
        "usr/bin/dash",
        "usr/lib/systemd/systemd-udevd",
        "usr/lib/ld-linux-aarch64.so.1",
        "usr/lib/aarch64-linux-gnu/libc.so.6",
        "usr/lib/aarch64-linux-gnu/libinput.so.10",
        "usr/lib/udev/rules.d/60-input-id.rules",
        "usr/share/X11/xkb/rules/evdev",
        "etc/exosphere/capsules/hello/Capsule.toml",
    ] {
        assert!(names.contains(&want), "/{want} is not in the arm64 image");
    }
    // Our four, foot, weston-flower, dash, udevd, udevadm, kmod and ~60 libraries.
    assert!(elves > 50, "only {elves} ELF files in the image");
    let kernel = std::fs::read(dir.join("vmlinuz")).expect("read the kernel");
    assert_eq!(
        &kernel[0x38..0x3c],
        b"ARM\x64",
        "{} is not an arm64 Image",
        dir.join("vmlinuz").display()
    );
    assert_eq!(Arch::of_image_dir(dir).unwrap(), Some(Arch::Aarch64));
}

/// First program: `exo.run=hello` prints the greeting and the machine powers off (QEMU exits 0).
#[test]
fn hello_runs_as_the_first_program_on_arm64() {
    let _one = one_vm_at_a_time();
    require_program("qemu-system-aarch64");
    let mut opts = VmOptions::for_image(test_image()).expect("the arm64 test image");
    assert_eq!(opts.arch, Arch::Aarch64);
    opts.out = boot_dir("arm64-hello");
    opts.exo_run = Some("hello".into());
    let mut vm = Vm::start(opts).expect("start qemu-system-aarch64");
    let status = vm
        .wait_exit(Duration::from_secs(180))
        .unwrap_or_else(|e| panic!("{e:#}\n--- serial console ---\n{}", console_tail(&vm)));
    record(
        "arm64 exo.run=hello to power-off (QEMU TCG, no firmware)",
        vm.elapsed(),
    );
    assert_hello_ran(&vm, status);
}

/// The arm64 hybrid ISO as a CD-ROM (virtio-scsi) under AAVMF: firmware, GRUB arm64-efi, the
/// kernel, exo-init, Nexquelium on virtio-gpu and the dashboard, read by OCR from a QMP
/// screendump; then the ACPI power button and a clean power-off.
#[test]
fn the_arm64_iso_boots_under_aavmf_to_the_dashboard() {
    let _one = one_vm_at_a_time();
    require_program("qemu-system-aarch64");
    require_program("tesseract");
    let image = test_image();
    let started = Instant::now();
    let iso = exo_vm::iso(&IsoOptions::for_image(image)).expect("exo-vm iso --arch aarch64");
    record("arm64 ISO build", started.elapsed());
    // GRUB's EFI image is an arm64 PE file (COFF machine 0xAA64).
    let efi = std::fs::read(image.join("build/media/iso-BOOTAA64.EFI")).expect("GRUB's EFI image");
    assert_eq!(&efi[..2], b"MZ", "BOOTAA64.EFI is no PE file");
    let pe = u32::from_le_bytes(efi[0x3c..0x40].try_into().unwrap()) as usize;
    assert_eq!(&efi[pe..pe + 4], b"PE\0\0");
    assert_eq!(
        u16::from_le_bytes([efi[pe + 4], efi[pe + 5]]),
        0xaa64,
        "BOOTAA64.EFI is not an arm64 EFI program"
    );
    let mut opts = VmOptions::for_media(
        Boot::Cdrom(iso.path.clone()),
        Firmware::Uefi,
        boot_dir("arm64-iso"),
    )
    .expect("options for the ISO");
    opts.arch = Arch::Aarch64;
    let mut vm = Vm::start(opts).expect("start qemu-system-aarch64");
    let at = vm
        .wait_for_serial(DASHBOARD_MAPPED, BOOT)
        .unwrap_or_else(|e| panic!("{e:#}\n--- serial console ---\n{}", console_tail(&vm)));
    record("arm64 ISO under AAVMF to the dashboard (QEMU TCG)", at);
    let console = vm.serial_text();
    for (what, line) in [
        ("AAVMF did not start the CD-ROM", "BdsDxe: starting"),
        ("GRUB's menu is not on the console", "GNU GRUB"),
        ("exo-init did not start", "exo-init: started"),
    ] {
        assert!(console.contains(line), "{what}:\n{}", console_tail(&vm));
    }

    // OCR: the dashboard's title, its capsule table and the panel.
    let wanted = ["sentry", "terminal", "session"];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let path = vm.options().out.join("dashboard.png");
        vm.screenshot(&path).expect("QMP screendump");
        vm.with_qmp(|q| q.execute("stop", None)).expect("QMP stop");
        let shot = Image::load(&path);
        assert_eq!((shot.width, shot.height), (1280, 800), "{}", path.display());
        let all = Area {
            x: 0,
            y: 0,
            w: shot.width,
            h: shot.height,
        };
        let text = shot
            .ocr_words_using(all, &PREPROCESS_TITLE_BARS)
            .iter()
            .map(|w| w.text.clone())
            .collect::<Vec<_>>()
            .join(" ");
        vm.with_qmp(|q| q.execute("cont", None)).expect("QMP cont");
        let missing: Vec<_> = wanted.iter().filter(|w| !text.contains(*w)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "OCR of {} never showed {missing:?}; it read:\n{text}\n--- serial console ---\n{}",
            path.display(),
            console_tail(&vm)
        );
        std::thread::sleep(Duration::from_secs(2));
    }

    // Under UEFI the kernel has ACPI: QEMU's power button reaches exo-init.
    vm.powerdown().expect("QMP system_powerdown");
    let status = vm
        .wait_exit(Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{e:#}\n--- serial console ---\n{}", console_tail(&vm)));
    let console = vm.serial_text();
    assert!(
        status.success() && console.contains("exo-init: powering off"),
        "no clean power-off after the power button (QEMU: {status}):\n{}",
        console_tail(&vm)
    );
    drop(vm);
    // The ISO is 120 MiB; the screenshots and the serial log stay.
    let _ = std::fs::remove_file(&iso.path);
}
