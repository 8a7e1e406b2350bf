//! `exo-vm build`: Exosphere's boot image (an initramfs run by the kernel, no root switch) and
//! the kernel it boots with. The layout is the contract in docs/exo-vm.md.

pub mod cpio;
pub mod elf;
pub mod init_toml;
pub mod kernel;
pub mod layout;
pub mod modules;
pub mod sysroot;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::arch::Arch;
use layout::{Category, Content, Image, Summary};

/// Which image to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    /// What users boot.
    #[default]
    Shipped,
    /// Adds the `fault` service (fault injection over ttyS1) for the end-to-end tests.
    Test,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Shipped => "shipped",
            Variant::Test => "test",
        }
    }
}

/// Where the kernel comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelChoice {
    /// Debian's `linux-image-amd64` (`linux-image-arm64` for aarch64), downloaded into
    /// `<out>/build/kernel/`.
    Debian,
    /// A vmlinuz file; modules from a directory holding `lib/modules/<kver>/`, or none.
    Custom {
        vmlinuz: PathBuf,
        modules: Option<PathBuf>,
    },
}

#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The architecture of the image (default: the build machine's). For another one the
    /// userland comes from Debian's packages for it, unpacked into a sysroot (`sysroot_cache`).
    pub arch: Arch,
    /// Where our binaries (nexquelium, sentry-dashboard, exoctl, exo-init) are.
    pub bin_dir: PathBuf,
    pub variant: Variant,
    pub kernel: KernelChoice,
    /// Output directory (`target/exosphere`).
    pub out: PathBuf,
    /// Where the kernel package is downloaded and unpacked (default `<out>/build/kernel`);
    /// point several output directories at one cache to download once.
    pub kernel_cache: Option<PathBuf>,
    /// Another architecture's packages: downloaded into `<cache>/debs`, unpacked into
    /// `<cache>/userland` (default `<out>/build/sysroot`).
    pub sysroot_cache: Option<PathBuf>,
    /// The repository root (for `assets/`).
    pub repo: PathBuf,
    /// More host files to put in the image at their host paths, with their libraries (for
    /// another architecture: paths in its sysroot).
    pub extra: Vec<PathBuf>,
    /// The mtime of every archive entry (SOURCE_DATE_EPOCH, else 0).
    pub mtime: u32,
    /// Print progress to stderr.
    pub verbose: bool,
}

impl BuildOptions {
    /// Defaults: `<repo>/target/release` binaries, shipped variant, Debian kernel,
    /// `<repo>/target/exosphere`, mtime from SOURCE_DATE_EPOCH.
    pub fn new(repo: impl Into<PathBuf>) -> BuildOptions {
        BuildOptions::for_arch(repo, Arch::host())
    }

    /// Defaults for `arch`: binaries from `<repo>/target/<rust target>/release` and the image in
    /// `<repo>/target/exosphere/<arch>` when it is not the build machine's (see [`Arch`]).
    pub fn for_arch(repo: impl Into<PathBuf>, arch: Arch) -> BuildOptions {
        let repo = repo.into();
        BuildOptions {
            arch,
            bin_dir: arch.default_bin_dir(&repo, "release"),
            variant: Variant::Shipped,
            kernel: KernelChoice::Debian,
            out: arch.default_out(&repo),
            kernel_cache: None,
            sysroot_cache: None,
            repo,
            extra: Vec::new(),
            mtime: source_date_epoch().unwrap_or(0),
            verbose: false,
        }
    }
}

/// SOURCE_DATE_EPOCH, if set and a number that fits the archive's 32-bit field.
pub fn source_date_epoch() -> Option<u32> {
    std::env::var("SOURCE_DATE_EPOCH").ok()?.trim().parse().ok()
}

/// The repository this crate was built from (the default for `--repo`).
pub fn default_repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("vm/ has a parent")
        .to_path_buf()
}

/// What `build` produced.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub initramfs: PathBuf,
    pub vmlinuz: PathBuf,
    /// The uncompressed PVH kernel (boots faster under TCG), when it could be extracted.
    pub vmlinux: Option<PathBuf>,
    pub kver: Option<String>,
    /// Size of the initramfs in bytes.
    pub size: u64,
    pub modules: usize,
    pub summary: Summary,
}

impl BuiltImage {
    /// The kernel file to boot: vmlinux when there is one, else vmlinuz.
    pub fn boot_kernel(&self) -> &Path {
        self.vmlinux.as_deref().unwrap_or(&self.vmlinuz)
    }
}

/// Our binaries: (file in --bin-dir, path in the image).
pub const OUR_BINARIES: &[(&str, &str)] = &[
    ("exo-init", "/init"),
    ("nexquelium", "/usr/bin/nexquelium"),
    ("sentry-dashboard", "/usr/bin/sentry-dashboard"),
    ("exoctl", "/usr/bin/exoctl"),
];

/// Host programs in every image (kept at their host paths).
pub const HOST_PROGRAMS: &[&str] = &[
    "/usr/bin/foot",
    // The `clock` demo capsule's program (Debian's weston package).
    "/usr/bin/weston-flower",
    "/usr/bin/dash",
    "/usr/bin/sh",
    "/usr/lib/systemd/systemd-udevd",
    "/usr/bin/udevadm",
    "/usr/bin/kmod",
    "/usr/sbin/modprobe",
];

/// udev rules the image needs: module loading (80-drivers), the ID_INPUT* properties libinput
/// requires (60-input-id), DRM and input naming, the power switch tag.
pub const UDEV_RULES: &[&str] = &[
    "50-udev-default.rules",
    "60-drm.rules",
    "60-input-id.rules",
    "60-persistent-input.rules",
    "60-evdev.rules",
    "70-mouse.rules",
    "70-touchpad.rules",
    "70-power-switch.rules",
    "80-drivers.rules",
];

/// Host data directories and files, at their host paths.
pub const HOST_DATA: &[&str] = &[
    "/usr/share/X11/xkb",
    "/usr/share/libinput",
    "/etc/fonts",
    "/usr/lib/locale/C.utf8",
    "/lib/terminfo/x/xterm-256color",
    "/lib/terminfo/l/linux",
    "/etc/xdg/foot/foot.ini",
];

/// The fonts directory and the faces taken from it (foot: monospace; sans for the rest).
pub const FONT_DIR: &str = "/usr/share/fonts/truetype/dejavu";
pub const FONTS: &[&str] = &[
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
];

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n";
/// Debian's static groups, so udev's rules find every group they name.
const GROUP: &str = "root:x:0:
tty:x:5:
disk:x:6:
lp:x:7:
kmem:x:15:
dialout:x:20:
cdrom:x:24:
tape:x:26:
audio:x:29:
video:x:44:
input:x:101:
sgx:x:102:
kvm:x:103:
render:x:104:
";

fn log(opts: &BuildOptions, msg: &str) {
    if opts.verbose {
        eprintln!("exo-vm: {msg}");
    }
}

/// Builds the image and the kernel files into `opts.out`.
pub fn build(opts: &BuildOptions) -> Result<BuiltImage> {
    let started = Instant::now();
    let build_dir = opts.out.join("build");
    fs::create_dir_all(&build_dir).with_context(|| format!("creating {}", build_dir.display()))?;

    // Our binaries, stripped of debug info into the build folder. Check them all first, so a
    // missing one is reported before the kernel download.
    let mut staged = Vec::new();
    for (name, _) in OUR_BINARIES {
        let src = opts.bin_dir.join(name);
        if !src.is_file() {
            bail!(
                "{} is missing: run `cargo build --bins` (or pass --bin-dir)",
                src.display()
            );
        }
    }
    for (name, _) in OUR_BINARIES {
        let src = opts.bin_dir.join(name);
        match elf::machine(&src) {
            Some(m) if m != opts.arch.elf_machine() => bail!(
                "{} is an ELF file for another machine (e_machine {m}), not {}: pass --bin-dir {}",
                src.display(),
                opts.arch,
                opts.arch.default_bin_dir(&opts.repo, "release").display()
            ),
            _ => {}
        }
    }
    let stage_bin = build_dir.join("bin");
    fs::create_dir_all(&stage_bin)?;
    for (name, dest) in OUR_BINARIES {
        let src = opts.bin_dir.join(name);
        let staged_path = stage_bin.join(name);
        strip_debug(opts.arch, &src, &staged_path)?;
        staged.push((staged_path, *dest));
    }

    let kernel = match &opts.kernel {
        KernelChoice::Debian => kernel::debian(
            opts.kernel_cache.as_deref().unwrap_or(&build_dir.join("kernel")),
            opts.arch,
            &|m| log(opts, m),
        )?,
        KernelChoice::Custom { vmlinuz, modules } => kernel::custom(vmlinuz, modules.as_deref())?,
    };

    // Where the image's programs, libraries and their packages' data come from: this machine,
    // or another architecture's sysroot.
    let root = userland_root(opts, &build_dir)?;
    let root = root.as_path();
    let triplet = (!opts.arch.is_host()).then(|| opts.arch.triplet());
    let mut img = Image::new();
    for (path, dest) in &staged {
        img.file(dest, Content::Host(path.clone()), 0o755, Category::Binaries)?;
    }
    let mut elves: Vec<PathBuf> = staged.iter().map(|(p, _)| p.clone()).collect();
    for p in HOST_PROGRAMS {
        img.host_in(root, Path::new(p), Category::Binaries)
            .with_context(|| format!("adding {p} (is its Debian package installed?)"))?;
        elves.push(on_disk(root, Path::new(p))?);
    }
    for p in &opts.extra {
        let abs = if opts.arch.is_host() {
            // The directory made absolute, the name kept: a soname symlink stays a symlink
            // (with its target), as programs ask for it by that name.
            let name = p
                .file_name()
                .with_context(|| format!("--extra {}: not a file", p.display()))?;
            let dir = match p.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir,
                _ => Path::new("."),
            };
            fs::canonicalize(dir)
                .with_context(|| format!("--extra {}", p.display()))?
                .join(name)
        } else {
            Path::new("/").join(p)
        };
        img.host_in(root, &abs, Category::Binaries)
            .with_context(|| format!("--extra {}", p.display()))?;
        elves.push(on_disk(root, &abs)?);
    }
    let libs = elf::closure_of_all_in(root, triplet, elves.iter().map(PathBuf::as_path))?;
    for lib in &libs {
        img.host_in(root, lib, Category::Libraries)?;
    }
    log(
        opts,
        &format!("{} shared libraries (ELF DT_NEEDED closure)", libs.len()),
    );

    add_data(&mut img, opts, root)?;

    let modules = match (&kernel.modules_root, &kernel.kver) {
        (Some(mroot), Some(kver)) => {
            modules::add_to_image(&mut img, mroot, kver, &build_dir.join("modules"), opts.arch)?
        }
        _ => 0,
    };

    fs::create_dir_all(&opts.out)?;
    fs::write(opts.out.join(crate::arch::MARKER), format!("{}\n", opts.arch))?;
    let initramfs = opts.out.join("initramfs.cpio");
    let size = cpio::write_file(&img, opts.mtime, &initramfs)?;

    let vmlinuz = opts.out.join("vmlinuz");
    copy_if_changed(&kernel.vmlinuz, &vmlinuz)?;
    let vmlinux_path = opts.out.join("vmlinux");
    let vmlinux = if vmlinux_is_fresh(&kernel.vmlinuz, &vmlinux_path, &build_dir) {
        Some(vmlinux_path)
    } else if kernel::extract_pvh_vmlinux(&kernel.vmlinuz, kernel.config.as_deref(), &vmlinux_path)? {
        mark_vmlinux(&kernel.vmlinuz, &build_dir)?;
        Some(vmlinux_path)
    } else {
        None
    };

    let summary = img.summary()?;
    let built = BuiltImage {
        initramfs,
        vmlinuz,
        vmlinux,
        kver: kernel.kver.clone(),
        size,
        modules,
        summary,
    };
    log(
        opts,
        &format!(
            "built {} ({} {} variant, {:.1} MB uncompressed newc) in {:.1} s\n{}",
            built.initramfs.display(),
            opts.arch,
            opts.variant.name(),
            size as f64 / 1e6,
            started.elapsed().as_secs_f64(),
            built.summary
        ),
    );
    Ok(built)
}

/// The root the image's programs come from: `/` for the build machine's architecture, else
/// the sysroot of Debian's packages for `opts.arch` (downloaded and unpacked once).
fn userland_root(opts: &BuildOptions, build_dir: &Path) -> Result<PathBuf> {
    if opts.arch.is_host() {
        return Ok(PathBuf::from("/"));
    }
    let cache = opts
        .sysroot_cache
        .clone()
        .unwrap_or_else(|| build_dir.join("sysroot"));
    sysroot::ensure(opts.arch, &cache, "userland", sysroot::USERLAND, true, &|m| {
        log(opts, m)
    })
}

/// The file on this machine behind `path` of the image (resolved inside `root`).
fn on_disk(root: &Path, path: &Path) -> Result<PathBuf> {
    if root == Path::new("/") {
        return Ok(path.to_path_buf());
    }
    let resolved = sysroot::resolve_in(root, path, false)?;
    Ok(elf::rooted(root, &resolved))
}

/// Adds data at `path`: from the sysroot `root` when it has it (files of architecture-specific
/// packages: udev's rules, foot.ini, fontconfig's configuration, the C.UTF-8 locale), else from
/// this machine (architecture-independent packages: xkb-data, libinput-data, fonts, terminfo).
fn add_data_file(img: &mut Image, root: &Path, path: &Path) -> Result<()> {
    if root != Path::new("/") && fs::symlink_metadata(elf::rooted(root, path)).is_ok() {
        img.host_in(root, path, Category::Data)
    } else {
        img.host(path, Category::Data)
    }
}

fn add_data(img: &mut Image, opts: &BuildOptions, root: &Path) -> Result<()> {
    for p in HOST_DATA {
        add_data_file(img, root, Path::new(p))
            .with_context(|| format!("adding {p} (is its Debian package installed?)"))?;
    }
    for f in FONTS {
        let p = Path::new(FONT_DIR).join(f);
        add_data_file(img, root, &p)
            .with_context(|| format!("adding {} (package fonts-dejavu-core)", p.display()))?;
    }
    for r in UDEV_RULES {
        let p = Path::new("/usr/lib/udev/rules.d").join(r);
        add_data_file(img, root, &p).with_context(|| format!("adding {} (package udev)", p.display()))?;
    }

    let assets = opts.repo.join("assets");
    let capsules = assets.join("capsules");
    if !capsules.is_dir() {
        bail!("{}: no such directory (is --repo right?)", capsules.display());
    }
    img.tree_at(&capsules, Path::new("/etc/exosphere/capsules"), Category::Data)?;
    let mut names: Vec<_> = fs::read_dir(&assets)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    for n in names.into_iter().filter(|n| n != "capsules") {
        img.tree_at(
            &assets.join(&n),
            &Path::new("/usr/share/exosphere").join(&n),
            Category::Data,
        )?;
    }

    let text = |s: &str| Content::Bytes(s.as_bytes().to_vec());
    img.file(
        "/etc/exosphere/init.toml",
        text(&init_toml::render(opts.variant)),
        0o644,
        Category::Data,
    )?;
    img.file("/etc/passwd", text(PASSWD), 0o644, Category::Data)?;
    img.file("/etc/group", text(GROUP), 0o644, Category::Data)?;
    img.file("/etc/hostname", text("exosphere\n"), 0o644, Category::Data)?;
    img.file(
        "/etc/exosphere/variant",
        text(&format!("{}\n", opts.variant.name())),
        0o644,
        Category::Data,
    )?;
    if opts.variant == Variant::Test {
        img.file(
            init_toml::FAULT_SH_PATH,
            text(init_toml::FAULT_SH),
            0o755,
            Category::Data,
        )?;
    }
    Ok(())
}

/// Copies an ELF file without its debug sections (`objcopy --strip-debug`, the cross objcopy
/// for another architecture); other files (scripts) are copied as they are.
fn strip_debug(arch: Arch, src: &Path, dest: &Path) -> Result<()> {
    let tmp = dest.with_extension("tmp");
    if elf::is_elf(src) {
        let objcopy = arch.objcopy();
        let package = if arch.is_host() {
            "binutils".to_string()
        } else {
            format!("binutils-{}", arch.triplet())
        };
        let out = Command::new(objcopy)
            .arg("--strip-debug")
            .arg(src)
            .arg(&tmp)
            .output()
            .with_context(|| format!("running {objcopy} (package {package})"))?;
        if !out.status.success() {
            bail!(
                "objcopy --strip-debug {} failed: {}",
                src.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    } else {
        fs::copy(src, &tmp).with_context(|| format!("copying {}", src.display()))?;
    }
    fs::rename(&tmp, dest)?;
    Ok(())
}

fn copy_if_changed(src: &Path, dest: &Path) -> Result<()> {
    let same = match (fs::read(src), fs::read(dest)) {
        (Ok(a), Ok(b)) => a == b,
        (Err(e), _) => return Err(e).with_context(|| format!("reading {}", src.display())),
        _ => false,
    };
    if !same {
        fs::copy(src, dest).with_context(|| format!("copying {} to {}", src.display(), dest.display()))?;
    }
    Ok(())
}

/// A stamp naming the vmlinuz the current vmlinux came from (path, size, mtime).
fn vmlinux_stamp(vmlinuz: &Path) -> Option<String> {
    let m = fs::metadata(vmlinuz).ok()?;
    let mtime = m.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!(
        "{} {} {}\n",
        vmlinuz.display(),
        m.len(),
        mtime.as_nanos()
    ))
}

fn vmlinux_is_fresh(vmlinuz: &Path, vmlinux: &Path, build_dir: &Path) -> bool {
    vmlinux.is_file()
        && vmlinux_stamp(vmlinuz)
            .is_some_and(|s| fs::read_to_string(build_dir.join("vmlinux.stamp")).is_ok_and(|old| old == s))
}

fn mark_vmlinux(vmlinuz: &Path, build_dir: &Path) -> Result<()> {
    if let Some(s) = vmlinux_stamp(vmlinuz) {
        fs::write(build_dir.join("vmlinux.stamp"), s)?;
    }
    Ok(())
}
