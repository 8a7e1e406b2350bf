//! The machine architecture an image is built for and booted on: the host's (x86_64, the
//! default) or aarch64 (ARM64, cross-built; its userland comes from Debian's arm64 packages,
//! unpacked into a sysroot, see `build::sysroot`). Everything that differs between the two is
//! answered here, so the build, the media and QEMU take an `Arch` rather than forking.

use std::fmt;
use std::fs;
use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    X86_64,
    Aarch64,
}

/// The file `exo-vm build` writes into its output directory naming the image's architecture.
pub const MARKER: &str = "arch";

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The architecture exo-vm was built for (the default of `--arch`).
    pub fn host() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        }
    }

    /// `x86_64` or `aarch64` (what `--arch` takes).
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// Debian's name: `amd64` or `arm64`.
    pub fn debian(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// The Rust target the workspace binaries are built for.
    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Aarch64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// The multiarch directory name (`/usr/lib/<triplet>`).
    pub fn triplet(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-linux-gnu",
            Arch::Aarch64 => "aarch64-linux-gnu",
        }
    }

    /// ELF `e_machine` of its binaries (EM_X86_64 62, EM_AARCH64 183).
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 62,
            Arch::Aarch64 => 183,
        }
    }

    /// Whether binaries of this architecture come from the build machine's own files (`/`)
    /// rather than from a sysroot of downloaded packages.
    pub fn is_host(self) -> bool {
        self == Arch::host()
    }

    /// The objcopy that understands its ELF files.
    pub fn objcopy(self) -> &'static str {
        if self.is_host() {
            "objcopy"
        } else {
            match self {
                Arch::X86_64 => "x86_64-linux-gnu-objcopy",
                Arch::Aarch64 => "aarch64-linux-gnu-objcopy",
            }
        }
    }

    /// Debian's kernel meta-package for it.
    pub fn kernel_meta(self) -> &'static str {
        match self {
            Arch::X86_64 => "linux-image-amd64",
            Arch::Aarch64 => "linux-image-arm64",
        }
    }

    /// The serial console the guest writes to (`console=` on the kernel command line).
    pub fn serial_console(self) -> &'static str {
        match self {
            Arch::X86_64 => "ttyS0",
            Arch::Aarch64 => "ttyAMA0",
        }
    }

    /// The QEMU system emulator and its Debian package.
    pub fn qemu(self) -> (&'static str, &'static str) {
        match self {
            Arch::X86_64 => ("qemu-system-x86_64", "qemu-system-x86"),
            Arch::Aarch64 => ("qemu-system-aarch64", "qemu-system-arm"),
        }
    }

    /// GRUB's EFI platform (`grub-mkimage -O`) and the removable-media boot file on the ESP.
    pub fn grub_efi(self) -> (&'static str, &'static str) {
        match self {
            Arch::X86_64 => ("x86_64-efi", "BOOTX64.EFI"),
            Arch::Aarch64 => ("arm64-efi", "BOOTAA64.EFI"),
        }
    }

    /// Default image directory under `target/`: `exosphere` for the host, else
    /// `exosphere/<arch>` (so the two images never overwrite each other).
    pub fn default_out(self, repo: &Path) -> std::path::PathBuf {
        let base = repo.join("target/exosphere");
        if self.is_host() {
            base
        } else {
            base.join(self.name())
        }
    }

    /// Default `--bin-dir`: `target/<profile>` for the host, `target/<rust target>/<profile>`
    /// for a cross build.
    pub fn default_bin_dir(self, repo: &Path, profile: &str) -> std::path::PathBuf {
        if self.is_host() {
            repo.join("target").join(profile)
        } else {
            repo.join("target").join(self.rust_target()).join(profile)
        }
    }

    /// The architecture `exo-vm build` wrote into `dir` ([`MARKER`]), if any.
    pub fn of_image_dir(dir: &Path) -> Result<Option<Arch>> {
        let marker = dir.join(MARKER);
        match fs::read_to_string(&marker) {
            Ok(text) => Ok(Some(
                text.trim()
                    .parse()
                    .with_context(|| format!("reading {}", marker.display()))?,
            )),
            Err(_) => Ok(None),
        }
    }

    /// Fails if `dir` holds an image `exo-vm build` made for another architecture (its
    /// [`MARKER`] file); a directory without one is accepted.
    pub fn check_image_dir(self, dir: &Path) -> Result<()> {
        let marker = dir.join(MARKER);
        let Some(built) = Arch::of_image_dir(dir)? else {
            return Ok(());
        };
        if built != self {
            bail!(
                "{} holds an {built} image (see {}), not {self}: pass --arch {built} (or another --out)",
                dir.display(),
                marker.display()
            );
        }
        Ok(())
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Arch> {
        match s {
            "x86_64" | "amd64" | "x86-64" => Ok(Arch::X86_64),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            _ => bail!("unknown architecture {s:?} (expected x86_64 or aarch64)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_aliases_work() {
        for a in Arch::ALL {
            assert_eq!(a.name().parse::<Arch>().unwrap(), a);
            assert_eq!(a.debian().parse::<Arch>().unwrap(), a);
        }
        let e = "riscv64".parse::<Arch>().unwrap_err().to_string();
        assert!(e.contains("riscv64") && e.contains("aarch64"), "{e}");
        assert_eq!(Arch::Aarch64.elf_machine(), 183);
        assert_eq!(Arch::Aarch64.grub_efi(), ("arm64-efi", "BOOTAA64.EFI"));
    }

    #[test]
    fn a_foreign_image_dir_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("exo-vm-arch-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        Arch::Aarch64.check_image_dir(&dir).unwrap();
        fs::write(dir.join(MARKER), "aarch64\n").unwrap();
        Arch::Aarch64.check_image_dir(&dir).unwrap();
        let e = Arch::X86_64.check_image_dir(&dir).unwrap_err().to_string();
        assert!(e.contains("aarch64 image") && e.contains("--arch aarch64"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
        let repo = Path::new("/r");
        assert_eq!(
            Arch::Aarch64.default_bin_dir(repo, "debug"),
            Path::new("/r/target/aarch64-unknown-linux-gnu/debug")
        );
        if Arch::host() == Arch::X86_64 {
            assert_eq!(
                Arch::Aarch64.default_out(repo),
                Path::new("/r/target/exosphere/aarch64")
            );
        }
    }
}
