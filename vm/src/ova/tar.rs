//! A ustar archive of regular files, written in the order given, with fixed owner, mode and
//! time, so the same files make the same bytes. An OVA is such a tar with the `.ovf` first.

use std::io::{self, Read, Write};

const BLOCK: usize = 512;

/// Appends one regular file of `size` bytes read from `data` under `name` (at most 100 bytes).
pub fn append(
    out: &mut impl Write,
    name: &str,
    size: u64,
    mtime: u64,
    data: &mut impl Read,
) -> io::Result<()> {
    out.write_all(&header(name, size, mtime)?)?;
    let copied = io::copy(&mut data.take(size), out)?;
    if copied != size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{name}: {copied} bytes read, {size} expected"),
        ));
    }
    let pad = (BLOCK - (size as usize % BLOCK)) % BLOCK;
    out.write_all(&[0; BLOCK][..pad])
}

/// Ends the archive: two zero blocks.
pub fn finish(out: &mut impl Write) -> io::Result<()> {
    out.write_all(&[0; 2 * BLOCK])
}

fn header(name: &str, size: u64, mtime: u64) -> io::Result<[u8; BLOCK]> {
    if name.len() > 100 || name.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("tar member name {name:?} must be 1 to 100 bytes"),
        ));
    }
    // ustar's octal size field holds up to 8 GiB - 1.
    if size >= 1 << 33 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name} is {size} bytes; ustar holds at most 8 GiB per file"),
        ));
    }
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0); // uid
    octal(&mut h[116..124], 0); // gid
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[156] = b'0'; // regular file
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    // The checksum is computed with its own field as spaces.
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    Ok(h)
}

/// `value` as zero-padded octal filling the field but its last byte (a NUL).
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in files {
            append(&mut out, name, data.len() as u64, 1_700_000_000, &mut &data[..]).unwrap();
        }
        finish(&mut out).unwrap();
        out
    }

    #[test]
    fn gnu_tar_lists_and_extracts_it_in_order() {
        let dir = std::env::temp_dir().join(format!("exo-vm-tar-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let big = vec![7u8; 1300];
        let bytes = archive(&[("b.ovf", b"<Envelope/>\n"), ("a.vmdk", &big), ("c.mf", b"")]);
        assert_eq!(bytes.len() % BLOCK, 0);
        std::fs::write(dir.join("x.tar"), &bytes).unwrap();
        let listed = std::process::Command::new("tar")
            .args(["-tvf", "x.tar"])
            .current_dir(&dir)
            .output()
            .expect("run tar");
        assert!(
            listed.status.success(),
            "{}",
            String::from_utf8_lossy(&listed.stderr)
        );
        let text = String::from_utf8_lossy(&listed.stdout);
        let names: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().last()).collect();
        assert_eq!(names, ["b.ovf", "a.vmdk", "c.mf"], "{text}");
        assert!(text.contains("root/root"), "{text}");
        let extracted = std::process::Command::new("tar")
            .args(["-xf", "x.tar"])
            .current_dir(&dir)
            .status()
            .expect("run tar");
        assert!(extracted.success());
        assert_eq!(std::fs::read(dir.join("a.vmdk")).unwrap(), big);
        assert_eq!(std::fs::read(dir.join("b.ovf")).unwrap(), b"<Envelope/>\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn names_and_sizes_out_of_range_are_refused() {
        let long = "x".repeat(101);
        assert!(header(&long, 1, 0)
            .unwrap_err()
            .to_string()
            .contains("1 to 100 bytes"));
        assert!(header("big.vmdk", 1 << 33, 0)
            .unwrap_err()
            .to_string()
            .contains("8 GiB"));
        let short = [1u8; 3];
        let err = append(&mut Vec::new(), "s", 10, 0, &mut &short[..]).unwrap_err();
        assert!(err.to_string().contains("3 bytes read, 10 expected"));
    }
}
