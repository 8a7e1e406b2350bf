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
/// digest. The whole descriptor area named by the sparse extent header is rewritten: the text
/// up to its first NUL with the new id, then zeros. qemu-img rewrites the CID once more when it
/// first writes data, and when that id is shorter it leaves the old text's last bytes after the
/// NUL; those must not reach the OVA.
fn pin_cid(vmdk: &Path, digest: &[u8]) -> Result<()> {
    let mut file = fs::OpenOptions::new().read(true).write(true).open(vmdk)?;
    let mut header = [0u8; 44];
    file.read_exact(&mut header)
        .with_context(|| format!("{}: too short for a VMDK header", vmdk.display()))?;
    if &header[..4] != b"KDMV" {
        bail!("{}: not a sparse VMDK (no KDMV magic)", vmdk.display());
    }
    let sectors = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap());
    let (offset, size) = (sectors(28), sectors(36));
    if offset == 0 || !(1..=128).contains(&size) {
        bail!(
            "{}: the header puts the descriptor at sector {offset}, {size} sectors long",
            vmdk.display()
        );
    }
    let mut area = vec![0u8; size as usize * 512];
    file.seek(SeekFrom::Start(offset * 512))?;
    file.read_exact(&mut area)
        .with_context(|| format!("{}: the descriptor area is cut short", vmdk.display()))?;
    let text = &area[..area.iter().position(|&b| b == 0).unwrap_or(area.len())];
    let at = find(text, b"\nCID=")
        .with_context(|| format!("{}: no CID= in the VMDK descriptor", vmdk.display()))?
        + 5;
    let len = text[at..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if !(1..=8).contains(&len) || text.get(at + len) != Some(&b'\n') {
        bail!("{}: the CID is not 1 to 8 hex digits", vmdk.display());
    }
    let mut pinned = text[..at].to_vec();
    pinned.extend_from_slice(hex(&digest[..4]).as_bytes());
    pinned.extend_from_slice(&text[at + len..]);
    if pinned.len() >= area.len() {
        bail!(
            "{}: no room in the VMDK descriptor for an 8-digit CID",
            vmdk.display()
        );
    }
    pinned.resize(area.len(), 0);
    file.seek(SeekFrom::Start(offset * 512))?;
    file.write_all(&pinned)?;
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

    /// A file laid out like qemu-img's: a sparse extent header naming a one-sector descriptor
    /// at sector 1, then `descriptor` and whatever `tail` follows its NUL.
    fn vmdk_with(dir: &Path, descriptor: &[u8], tail: &[u8]) -> PathBuf {
        let mut bytes = vec![0u8; 512];
        bytes[..4].copy_from_slice(b"KDMV");
        bytes[28..36].copy_from_slice(&1u64.to_le_bytes());
        bytes[36..44].copy_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(descriptor);
        bytes.push(0);
        bytes.extend_from_slice(tail);
        bytes.resize(1024, 0);
        bytes.extend_from_slice(&[0xee; 512]);
        let vmdk = dir.join("test.vmdk");
        fs::write(&vmdk, &bytes).unwrap();
        vmdk
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("exo-vm-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// qemu-img prints the CID without leading zeros (one run in sixteen has 7 digits): the
    /// pinned CID still has 8, the rest of the descriptor is kept, and the data after the
    /// descriptor area is untouched.
    #[test]
    fn a_short_cid_is_pinned_to_eight_digits_keeping_the_descriptor() {
        let dir = scratch("cid");
        let vmdk = vmdk_with(
            &dir,
            b"# Disk DescriptorFile\nversion=1\nCID=abc1234\nparentCID=ffffffff\n",
            b"",
        );
        pin_cid(&vmdk, &[0x01, 0x23, 0x45, 0x67, 0x89]).unwrap();
        let after = fs::read(&vmdk).unwrap();
        let want = b"# Disk DescriptorFile\nversion=1\nCID=01234567\nparentCID=ffffffff\n";
        assert_eq!(&after[512..512 + want.len()], want);
        assert!(after[512 + want.len()..1024].iter().all(|&b| b == 0));
        assert!(after[1024..].iter().all(|&b| b == 0xee));
        assert_eq!(after.len(), 1536);
        // An 8-digit CID is replaced in place.
        pin_cid(&vmdk, &[0xfe, 0xdc, 0xba, 0x98]).unwrap();
        let again = fs::read(&vmdk).unwrap();
        assert_eq!(
            &again[512..512 + want.len()],
            &b"# Disk DescriptorFile\nversion=1\nCID=fedcba98\nparentCID=ffffffff\n"[..]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// When qemu-img rewrites a long CID with a shorter one it leaves the old text's last
    /// bytes after the NUL (seen about once in a hundred conversions): they are cleared, so the
    /// pinned descriptor depends on nothing random.
    #[test]
    fn bytes_left_after_the_descriptor_text_are_cleared() {
        let dir = scratch("cid-tail");
        let text = b"# Disk DescriptorFile\nversion=1\nCID=eea45\nparentCID=ffffffff\n";
        let vmdk = vmdk_with(&dir, text, b"\"\n");
        pin_cid(&vmdk, &[0xaa, 0xbb, 0xcc, 0xdd]).unwrap();
        let after = fs::read(&vmdk).unwrap();
        let want = b"# Disk DescriptorFile\nversion=1\nCID=aabbccdd\nparentCID=ffffffff\n";
        assert_eq!(&after[512..512 + want.len()], want);
        assert!(after[512 + want.len()..1024].iter().all(|&b| b == 0));
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A descriptor that fills its area leaves no room for the longer id: named, not written.
    #[test]
    fn a_full_descriptor_area_is_refused_by_name() {
        let dir = scratch("cid-full");
        let mut text = b"# Disk DescriptorFile\nversion=1\nCID=1\n".to_vec();
        text.resize(510, b'#');
        let vmdk = vmdk_with(&dir, &text, b"");
        let before = fs::read(&vmdk).unwrap();
        let err = pin_cid(&vmdk, &[0; 4]).unwrap_err().to_string();
        assert!(err.contains("test.vmdk") && err.contains("no room"), "{err}");
        assert_eq!(fs::read(&vmdk).unwrap(), before);
        let not_vmdk = dir.join("plain.bin");
        fs::write(&not_vmdk, [0u8; 2048]).unwrap();
        let err = pin_cid(&not_vmdk, &[0; 4]).unwrap_err().to_string();
        assert!(err.contains("plain.bin") && err.contains("KDMV"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
