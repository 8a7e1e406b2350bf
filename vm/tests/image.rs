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
