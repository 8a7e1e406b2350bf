//! `exo-vm ova` checked with tools that are not ours: GNU tar reads the archive, sha256sum the
//! manifest, xmllint and COT (the Common OVF Tool, from PyPI) the descriptor, and qemu-img turns
//! the VMDK back into the raw disk. The disk here is a made-up one (random sectors and zeros, so
//! the VMDK has both kinds of grain); the boot tests boot the real appliance's disk.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use exo_vm::ova::{build_ova, OvaOptions, MF_NAME, OVF_NAME, VMDK_NAME};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("exo-vm-ova-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 6 MiB: 1 MiB of pseudo-random bytes, then zeros, then a marker in the last sector.
fn raw_disk(dir: &Path) -> PathBuf {
    let mut bytes = vec![0u8; 6 << 20];
    let mut x: u32 = 0x1234_5678;
    for b in &mut bytes[..1 << 20] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let end = bytes.len() - 512;
    bytes[end..end + 9].copy_from_slice(b"exosphere");
    let path = dir.join("disk.img");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {program} (./x installs it): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `cot info --verbose` of the descriptor in `dir` (COT prints problems as ERROR lines).
fn cot_info(dir: &Path) -> String {
    let out = Command::new("cot")
        .args(["--force", "info", "--verbose", OVF_NAME])
        .current_dir(dir)
        .output()
        .expect("run cot (the PyPI package cot; ./x installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn attr<'a>(xml: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=\"");
    let at = xml.find(&key).unwrap_or_else(|| panic!("no {name} in the OVF")) + key.len();
    &xml[at..at + xml[at..].find('"').unwrap()]
}

#[test]
fn the_ova_verifies_with_independent_tools_and_gives_the_disk_back() {
    let dir = scratch("verify");
    let disk = raw_disk(&dir);
    let built = build_ova(&OvaOptions::new(disk.clone(), dir.join("x.ova"))).expect("build the OVA");
    assert_eq!(built.capacity, 6 << 20);

    // The tar: the descriptor first, as OVF 1.0 requires, then the disk and the manifest.
    let listed = run(&dir, "tar", &["-tf", "x.ova"]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), [OVF_NAME, VMDK_NAME, MF_NAME]);
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    run(&out, "tar", &["-xf", "../x.ova"]);

    // The manifest's checksums are what sha256sum computes.
    let manifest = std::fs::read_to_string(out.join(MF_NAME)).unwrap();
    for name in [OVF_NAME, VMDK_NAME] {
        let sum = run(&out, "sha256sum", &[name]);
        let sum = sum.split_whitespace().next().unwrap();
        assert!(
            manifest.contains(&format!("SHA256({name})= {sum}\n")),
            "{name}: sha256sum says {sum}; the manifest:\n{manifest}"
        );
    }

    // The descriptor: well-formed, and its references agree with the files and the disk.
    run(&out, "xmllint", &["--noout", OVF_NAME]);
    let ovf = std::fs::read_to_string(out.join(OVF_NAME)).unwrap();
    let vmdk_size = std::fs::metadata(out.join(VMDK_NAME)).unwrap().len();
    assert_eq!(attr(&ovf, "ovf:href"), VMDK_NAME);
    assert_eq!(attr(&ovf, "ovf:size"), vmdk_size.to_string());
    assert_eq!(attr(&ovf, "ovf:capacity"), (6u64 << 20).to_string());
    assert_eq!(attr(&ovf, "ovf:fileRef"), attr(&ovf, "ovf:id"));
    let info = run(&out, "qemu-img", &["info", "--output=json", VMDK_NAME]);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["format"], "vmdk");
    assert_eq!(info["virtual-size"], 6u64 << 20);
    assert_eq!(info["format-specific"]["data"]["create-type"], "streamOptimized");

    // COT reads the descriptor and checks its references against the files next to it. (It
    // checks manifests of OVF 1.0 packages with SHA1 only, so it reads the descriptor and the
    // disk without our SHA256 manifest, which sha256sum checked above.)
    let cot_dir = out.join("cot");
    std::fs::create_dir_all(&cot_dir).unwrap();
    for name in [OVF_NAME, VMDK_NAME] {
        std::fs::copy(out.join(name), cot_dir.join(name)).unwrap();
    }
    let cot = cot_info(&cot_dir);
    assert!(!cot.contains("ERROR"), "cot info reports errors:\n{cot}");
    for wanted in [VMDK_NAME, "harddisk @ SATA 0:0", "6 MiB", "virtualbox-2.2"] {
        assert!(cot.contains(wanted), "cot info does not show {wanted:?}:\n{cot}");
    }
    let profile = cot
        .lines()
        .find(|l| l.contains("None (default)"))
        .unwrap_or_default();
    let columns: Vec<&str> = profile.split_whitespace().collect();
    assert_eq!(
        columns.get(2..6),
        Some(&["2", "2", "GiB", "0"][..]),
        "2 CPUs, 2 GiB, no NIC:\n{cot}"
    );
    // And it notices a reference to a file that is not there.
    std::fs::remove_file(cot_dir.join(VMDK_NAME)).unwrap();
    assert!(
        cot_info(&cot_dir).contains("ERROR"),
        "cot info missed a missing disk"
    );

    // The VMDK turns back into exactly the raw disk.
    run(
        &out,
        "qemu-img",
        &["convert", "-f", "vmdk", "-O", "raw", VMDK_NAME, "back.img"],
    );
    assert!(
        std::fs::read(out.join("back.img")).unwrap() == std::fs::read(&disk).unwrap(),
        "the VMDK does not convert back to the raw disk"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_same_disk_makes_the_same_ova() {
    let dir = scratch("repro");
    let disk = raw_disk(&dir);
    let a = build_ova(&OvaOptions::new(disk.clone(), dir.join("a.ova"))).unwrap();
    let b = build_ova(&OvaOptions::new(disk.clone(), dir.join("b.ova"))).unwrap();
    assert!(
        std::fs::read(&a.path).unwrap() == std::fs::read(&b.path).unwrap(),
        "two OVAs of the same disk differ"
    );
    // A different disk gives a different content id and disk UUID.
    let other = dir.join("other.img");
    let mut bytes = std::fs::read(&disk).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&other, bytes).unwrap();
    let c = build_ova(&OvaOptions::new(other, dir.join("c.ova"))).unwrap();
    assert!(std::fs::read(&c.path).unwrap() != std::fs::read(&a.path).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_or_odd_sized_disk_is_named() {
    let dir = scratch("bad");
    let missing = build_ova(&OvaOptions::new(dir.join("nope.img"), dir.join("x.ova"))).unwrap_err();
    assert!(format!("{missing:#}").contains("nope.img"), "{missing:#}");
    std::fs::write(dir.join("odd.img"), [0u8; 1000]).unwrap();
    let odd = build_ova(&OvaOptions::new(dir.join("odd.img"), dir.join("x.ova"))).unwrap_err();
    assert!(format!("{odd:#}").contains("1000 bytes"), "{odd:#}");
    let _ = std::fs::remove_dir_all(&dir);
}
