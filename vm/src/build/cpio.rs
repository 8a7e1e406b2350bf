//! Writes an [`Image`] as an uncompressed `newc` cpio archive, the format the kernel unpacks into
//! its initramfs.
//!
//! Reproducible by construction: entries in sorted path order (parents before children),
//! inode numbers counted in that order, one fixed mtime, uid/gid 0, no device numbers except
//! for device nodes. Host file metadata other than the permission bits is never read.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use anyhow::{Context, Result};

use super::layout::{Content, Image, Node};

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

struct Header {
    ino: u32,
    mode: u32,
    nlink: u32,
    mtime: u32,
    filesize: u32,
    rdevmajor: u32,
    rdevminor: u32,
}

fn pad4<W: Write>(w: &mut W, len: u64) -> io::Result<()> {
    let pad = (4 - (len % 4) as usize) % 4;
    w.write_all(&[0u8; 3][..pad])
}

fn write_header<W: Write>(w: &mut W, h: &Header, name: &str) -> io::Result<()> {
    let namesize = name.len() as u32 + 1;
    let fields = [
        h.ino,
        h.mode,
        0, // uid
        0, // gid
        h.nlink,
        h.mtime,
        h.filesize,
        0, // devmajor
        0, // devminor
        h.rdevmajor,
        h.rdevminor,
        namesize,
        0, // check
    ];
    let mut s = String::with_capacity(110);
    s.push_str("070701");
    for f in fields {
        s.push_str(&format!("{f:08x}"));
    }
    w.write_all(s.as_bytes())?;
    w.write_all(name.as_bytes())?;
    w.write_all(&[0])?;
    // The header is 110 bytes; name and header together are padded to a multiple of 4.
    pad4(w, 110 + namesize as u64)
}

/// Writes the archive to `w` and returns the number of bytes written.
pub fn write_image<W: Write>(img: &Image, mtime: u32, w: W) -> Result<u64> {
    let mut w = CountingWriter { inner: w, count: 0 };
    for (ino, (path, node)) in (1u32..).zip(img.entries()) {
        match node {
            Node::Dir { mode } => write_header(
                &mut w,
                &Header {
                    ino,
                    mode: S_IFDIR | mode,
                    nlink: 2,
                    mtime,
                    filesize: 0,
                    rdevmajor: 0,
                    rdevminor: 0,
                },
                path,
            )?,
            Node::CharDev { mode, major, minor } => write_header(
                &mut w,
                &Header {
                    ino,
                    mode: S_IFCHR | mode,
                    nlink: 1,
                    mtime,
                    filesize: 0,
                    rdevmajor: *major,
                    rdevminor: *minor,
                },
                path,
            )?,
            Node::Symlink { target } => {
                write_header(
                    &mut w,
                    &Header {
                        ino,
                        mode: S_IFLNK | 0o777,
                        nlink: 1,
                        mtime,
                        filesize: target.len() as u32,
                        rdevmajor: 0,
                        rdevminor: 0,
                    },
                    path,
                )?;
                w.write_all(target.as_bytes())?;
                pad4(&mut w, target.len() as u64)?;
            }
            Node::File { content, mode, .. } => {
                let data = match content {
                    Content::Bytes(b) => b.clone(),
                    Content::Host(p) => read_host(p)?,
                };
                let size =
                    u32::try_from(data.len()).with_context(|| format!("/{path} is larger than 4 GiB"))?;
                write_header(
                    &mut w,
                    &Header {
                        ino,
                        mode: S_IFREG | mode,
                        nlink: 1,
                        mtime,
                        filesize: size,
                        rdevmajor: 0,
                        rdevminor: 0,
                    },
                    path,
                )?;
                w.write_all(&data)?;
                pad4(&mut w, data.len() as u64)?;
            }
        }
    }
    write_header(
        &mut w,
        &Header {
            ino: 0,
            mode: 0,
            nlink: 1,
            mtime: 0,
            filesize: 0,
            rdevmajor: 0,
            rdevminor: 0,
        },
        "TRAILER!!!",
    )?;
    w.flush()?;
    Ok(w.count)
}

fn read_host(p: &Path) -> Result<Vec<u8>> {
    let mut f = File::open(p).with_context(|| format!("opening {}", p.display()))?;
    let mut v = Vec::new();
    f.read_to_end(&mut v)
        .with_context(|| format!("reading {}", p.display()))?;
    Ok(v)
}

/// Writes the archive to `path` atomically (a temporary file renamed over it).
pub fn write_file(img: &Image, mtime: u32, path: &Path) -> Result<u64> {
    let tmp = path.with_extension("cpio.tmp");
    let f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let n = write_image(img, mtime, BufWriter::with_capacity(1 << 20, f))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(n)
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::Category;
    use super::*;

    fn sample() -> Image {
        let mut img = Image::new();
        img.file(
            "/etc/hello",
            Content::Bytes(b"hi\n".to_vec()),
            0o644,
            Category::Data,
        )
        .unwrap();
        img.symlink("/usr/bin/sh", "dash").unwrap();
        img
    }

    /// Parses a newc archive back into (name, mode, ino, mtime, data) — enough to check what
    /// the writer produced without trusting it.
    fn parse(bytes: &[u8]) -> Vec<(String, u32, u32, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut off = 0;
        loop {
            assert_eq!(&bytes[off..off + 6], b"070701", "magic at {off}");
            let field = |i: usize| {
                let s = std::str::from_utf8(&bytes[off + 6 + i * 8..off + 14 + i * 8]).unwrap();
                u32::from_str_radix(s, 16).unwrap()
            };
            let (ino, mode, mtime, size, namesize) = (field(0), field(1), field(5), field(6), field(11));
            let name_start = off + 110;
            let name = std::str::from_utf8(&bytes[name_start..name_start + namesize as usize - 1])
                .unwrap()
                .to_string();
            let data_start = (name_start + namesize as usize + 3) & !3;
            let data = bytes[data_start..data_start + size as usize].to_vec();
            off = (data_start + size as usize + 3) & !3;
            if name == "TRAILER!!!" {
                assert_eq!(off, bytes.len());
                return out;
            }
            out.push((name, mode, ino, mtime, data));
        }
    }

    #[test]
    fn archive_round_trips_and_is_sorted_with_fixed_metadata() {
        let mut buf = Vec::new();
        let n = write_image(&sample(), 1234, &mut buf).unwrap();
        assert_eq!(n as usize, buf.len());
        let entries = parse(&buf);
        let names: Vec<_> = entries.iter().map(|e| e.0.clone()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.2, i as u32 + 1, "inode of {}", e.0);
            assert_eq!(e.3, 1234, "mtime of {}", e.0);
        }
        let hello = entries.iter().find(|e| e.0 == "etc/hello").unwrap();
        assert_eq!(hello.1, S_IFREG | 0o644);
        assert_eq!(hello.4, b"hi\n");
        let sh = entries.iter().find(|e| e.0 == "usr/bin/sh").unwrap();
        assert_eq!(sh.1, S_IFLNK | 0o777);
        assert_eq!(sh.4, b"dash");
        let tmp = entries.iter().find(|e| e.0 == "tmp").unwrap();
        assert_eq!(tmp.1, S_IFDIR | 0o1777);
        let lib = entries.iter().find(|e| e.0 == "lib").unwrap();
        assert_eq!(lib.4, b"usr/lib");
    }

    #[test]
    fn same_image_same_bytes() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write_image(&sample(), 0, &mut a).unwrap();
        write_image(&sample(), 0, &mut b).unwrap();
        assert_eq!(a, b);
        let mut c = Vec::new();
        write_image(&sample(), 1, &mut c).unwrap();
        assert_ne!(a, c, "the mtime must be in the archive");
    }
}
