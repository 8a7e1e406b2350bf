//! `exo-vm ova`: the disk image as a VirtualBox appliance. The raw disk becomes a
//! streamOptimized VMDK (`qemu-img convert`, with its random CID replaced by one derived from
//! the disk), the OVF 1.0 descriptor is ours ([`ovf`]), the manifest holds the SHA256 of both,
//! and the three go into a tar with the `.ovf` first, as OVF requires. The same disk gives the
//! same bytes.

pub mod ovf;
pub mod tar;

use std::{
    fs::{self, File},
    io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

/// Names of the files inside the OVA.
pub const OVF_NAME: &str = "exosphere-x86_64.ovf";
pub const VMDK_NAME: &str = "exosphere-x86_64-disk1.vmdk";
pub const MF_NAME: &str = "exosphere-x86_64.mf";

#[derive(Debug, Clone)]
pub struct OvaOptions {
    /// The raw disk image (`exo-vm disk`'s output).
    pub disk: PathBuf,
    /// The `.ova` to write; its directory also holds the work files.
    pub out: PathBuf,
    pub cpus: u32,
    pub memory_mb: u32,
    pub vram_mb: u32,
    pub network: bool,
    /// The files' time in the tar (`SOURCE_DATE_EPOCH`, else 0).
    pub mtime: u64,
}

impl OvaOptions {
    pub fn new(disk: PathBuf, out: PathBuf) -> Self {
        Self {
            disk,
            out,
            cpus: 2,
            memory_mb: 2048,
            vram_mb: 64,
            network: false,
            mtime: crate::build::source_date_epoch().map_or(0, u64::from),
        }
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct BuiltOva {
    pub path: PathBuf,
    pub size: u64,
    pub vmdk_size: u64,
    pub capacity: u64,
}

pub fn build_ova(opts: &OvaOptions) -> Result<BuiltOva> {
    let capacity = fs::metadata(&opts.disk)
        .with_context(|| {
            format!(
                "cannot read the disk image {} (run `exo-vm disk` first)",
                opts.disk.display()
            )
        })?
        .len();
    if capacity == 0 || capacity % 512 != 0 {
        bail!(
            "{} is {capacity} bytes: not a raw disk image (a whole number of 512-byte sectors)",
            opts.disk.display()
        );
    }
    let parent = opts.out.parent().unwrap_or(Path::new("."));
    let work = parent.join("ova-work");
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let vmdk = work.join(VMDK_NAME);
    to_stream_optimized_vmdk(&opts.disk, &vmdk)?;
    let disk_digest = sha256_file(&opts.disk)?;
    pin_cid(&vmdk, &disk_digest)?;

    let vmdk_size = fs::metadata(&vmdk)?.len();
    let machine_digest = Sha256::digest([&disk_digest[..], b"machine"].concat());
    let appliance = ovf::Appliance {
        name: "Exosphere".into(),
        disk_file: VMDK_NAME.into(),
        disk_file_size: vmdk_size,
        capacity,
        disk_uuid: ovf::uuid_from(&disk_digest),
        machine_uuid: ovf::uuid_from(&machine_digest),
        cpus: opts.cpus,
        memory_mb: opts.memory_mb,
        vram_mb: opts.vram_mb,
        network: opts.network,
    };
    let descriptor = ovf::descriptor(&appliance);
    let manifest = format!(
        "SHA256({OVF_NAME})= {}\nSHA256({VMDK_NAME})= {}\n",
        hex(&Sha256::digest(descriptor.as_bytes())),
        hex(&sha256_file(&vmdk)?)
    );

    let partial = opts.out.with_extension("ova.partial");
    let written = (|| -> Result<()> {
        let mut out = BufWriter::new(File::create(&partial)?);
        tar::append(
            &mut out,
            OVF_NAME,
            descriptor.len() as u64,
            opts.mtime,
            &mut descriptor.as_bytes(),
        )?;
        let mut disk = BufReader::new(File::open(&vmdk)?);
        tar::append(&mut out, VMDK_NAME, vmdk_size, opts.mtime, &mut disk)?;
        tar::append(
            &mut out,
            MF_NAME,
            manifest.len() as u64,
            opts.mtime,
            &mut manifest.as_bytes(),
        )?;
        tar::finish(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(())
    })();
    written.with_context(|| format!("cannot write {}", partial.display()))?;
    fs::rename(&partial, &opts.out).with_context(|| format!("cannot write {}", opts.out.display()))?;
    let _ = fs::remove_dir_all(&work);
    Ok(BuiltOva {
        path: opts.out.clone(),
        size: fs::metadata(&opts.out)?.len(),
        vmdk_size,
        capacity,
    })
}

/// `qemu-img convert -O vmdk -o subformat=streamOptimized`, into a file with its final name
/// (the descriptor names its own extent file).
fn to_stream_optimized_vmdk(raw: &Path, vmdk: &Path) -> Result<()> {
    let _ = fs::remove_file(vmdk);
    let out = Command::new("qemu-img")
        .args([
            "convert",
            "-f",
            "raw",
            "-O",
            "vmdk",
            "-o",
            "subformat=streamOptimized",
        ])
        .arg(raw)
        .arg(vmdk)
        .output()
        .context("cannot run qemu-img (Debian's qemu-utils; ./x installs it)")?;
    if !out.status.success() {
        bail!(
            "qemu-img convert {} to a streamOptimized VMDK failed: {}",
            raw.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// qemu-img writes a random content id into the embedded descriptor (`CID=` and up to 8 hex
/// digits: it prints no leading zeros); replace it with the first 8 hex digits of the disk's
/// digest, moving the rest of the descriptor into the NUL padding that follows it when the old
/// id was shorter.
fn pin_cid(vmdk: &Path, digest: &[u8]) -> Result<()> {
    let mut file = fs::OpenOptions::new().read(true).write(true).open(vmdk)?;
    let mut head = vec![0u8; 64 * 1024];
    let n = file.read(&mut head)?;
    head.truncate(n);
    let at = find(&head, b"\nCID=")
        .with_context(|| format!("{}: no CID= in the VMDK descriptor", vmdk.display()))?
        + 5;
    let len = head[at..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if !(1..=8).contains(&len) || head.get(at + len) != Some(&b'\n') {
        bail!("{}: the CID is not 1 to 8 hex digits", vmdk.display());
    }
    let end = head[at..]
        .iter()
        .position(|&b| b == 0)
        .map(|i| at + i)
        .with_context(|| format!("{}: the VMDK descriptor has no NUL padding", vmdk.display()))?;
    let grow = 8 - len;
    if head
        .get(end..end + grow)
        .is_none_or(|pad| pad.iter().any(|&b| b != 0))
    {
        bail!(
            "{}: no room in the VMDK descriptor for an 8-digit CID",
            vmdk.display()
        );
    }
    let mut text = hex(&digest[..4]).into_bytes();
    text.extend_from_slice(&head[at + len..end]);
    file.seek(SeekFrom::Start(at as u64))?;
    file.write_all(&text)?;
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub fn sha256_file(path: &Path) -> Result<Vec<u8>> {
    let mut file =
        BufReader::new(File::open(path).with_context(|| format!("cannot open {}", path.display()))?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().to_vec())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// qemu-img prints the CID without leading zeros (one run in sixteen has 7 digits): the
    /// pinned CID still has 8 and the rest of the descriptor is kept, shifted into the padding.
    #[test]
    fn a_short_cid_is_pinned_to_eight_digits_keeping_the_descriptor() {
        let dir = std::env::temp_dir().join(format!("exo-vm-cid-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let vmdk = dir.join("short.vmdk");
        let descriptor = b"# Disk DescriptorFile\nversion=1\nCID=abc1234\nparentCID=ffffffff\n";
        let mut bytes = vec![0u8; 512];
        bytes.extend_from_slice(descriptor);
        bytes.resize(1024, 0);
        fs::write(&vmdk, &bytes).unwrap();
        pin_cid(&vmdk, &[0x01, 0x23, 0x45, 0x67, 0x89]).unwrap();
        let after = fs::read(&vmdk).unwrap();
        let want = b"# Disk DescriptorFile\nversion=1\nCID=01234567\nparentCID=ffffffff\n";
        assert_eq!(&after[512..512 + want.len()], want);
        assert!(after[512 + want.len()..].iter().all(|&b| b == 0));
        assert_eq!(after.len(), 1024);
        // An 8-digit CID is replaced in place.
        pin_cid(&vmdk, &[0xfe, 0xdc, 0xba, 0x98]).unwrap();
        let again = fs::read(&vmdk).unwrap();
        assert_eq!(
            &again[512..512 + want.len()],
            &b"# Disk DescriptorFile\nversion=1\nCID=fedcba98\nparentCID=ffffffff\n"[..]
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
