//! The `exo-vm` command: build the boot image, run it in QEMU, talk to a running VM over QMP.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use exo_vm::build::{default_repo, source_date_epoch};
use exo_vm::qemu::SerialTail;
use exo_vm::{
    Arch, Boot, BuildOptions, DiskOptions, Display, Firmware, IsoOptions, KernelChoice, Qmp, Variant, Vga,
    Vm, VmOptions,
};

/// Exosphere's boot image: build it, boot it in QEMU, drive a running VM.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum VariantArg {
    /// What users boot.
    Shipped,
    /// Adds the fault-injection service on ttyS1 (end-to-end tests only).
    Test,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum VgaArg {
    /// virtio-gpu (the virtio_gpu DRM driver).
    Virtio,
    /// QEMU's standard VGA (the bochs DRM driver).
    Std,
    /// No display adapter (Nexquelium cannot start; shows the error path).
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FirmwareArg {
    /// SeaBIOS (QEMU's default; aarch64: no firmware at all).
    Bios,
    /// OVMF (Debian package ovmf; aarch64: AAVMF, package qemu-efi-aarch64), with a fresh copy
    /// of its variable store in --out.
    Uefi,
}

fn parse_arch(s: &str) -> Result<Arch, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build <out>/initramfs.cpio, <out>/vmlinuz (and <out>/vmlinux for faster PVH boot).
    /// With --arch aarch64: from the workspace cross-built for aarch64-unknown-linux-gnu and
    /// Debian's arm64 packages (downloaded and unpacked into <out>/build/sysroot, never
    /// installed).
    Build {
        /// Machine architecture: x86_64 (this machine's, the default) or aarch64.
        #[arg(long, value_name = "ARCH", value_parser = parse_arch)]
        arch: Option<Arch>,
        /// Directory holding nexquelium, sentry-dashboard, exoctl and exo-init (default
        /// target/release; for aarch64 target/aarch64-unknown-linux-gnu/release).
        #[arg(long, value_name = "DIR")]
        bin_dir: Option<PathBuf>,
        /// Image variant.
        #[arg(long, value_enum, default_value = "shipped")]
        variant: VariantArg,
        /// Boot this vmlinuz instead of Debian's linux-image-amd64 (linux-image-arm64).
        #[arg(long, value_name = "PATH")]
        kernel: Option<PathBuf>,
        /// With --kernel: a directory holding lib/modules/<kver>/ (default: no modules).
        #[arg(long, value_name = "DIR", requires = "kernel")]
        modules: Option<PathBuf>,
        /// Output directory (default target/exosphere; for aarch64 target/exosphere/aarch64).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Repository root (for assets/).
        #[arg(long, value_name = "DIR")]
        repo: Option<PathBuf>,
        /// Also put this host file in the image at its host path, with its shared libraries
        /// (repeatable; for debugging, e.g. --extra /usr/bin/ls; for aarch64 a path in the
        /// arm64 sysroot).
        #[arg(long, value_name = "PATH")]
        extra: Vec<PathBuf>,
    },
    /// Write <out>/exosphere-<arch>.img: a GPT disk that boots under BIOS and UEFI (GRUB; aarch64:
    /// UEFI only) the kernel and initramfs `exo-vm build` put in <out>, with an ext4 data
    /// partition.
    Disk {
        /// The image's architecture (default: what `exo-vm build` noted in <out>, else x86_64).
        #[arg(long, value_name = "ARCH", value_parser = parse_arch)]
        arch: Option<Arch>,
        /// Directory of the built image (vmlinuz, initramfs.cpio); the disk is written there.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Write the disk image here instead of <out>/exosphere-<arch>.img.
        #[arg(long, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Size of the data partition (exosphere-data, ext4) in MiB.
        #[arg(long, value_name = "MIB", default_value_t = 256,
              value_parser = clap::value_parser!(u64).range(8..=1 << 20))]
        data_size: u64,
        /// Put this directory's files on the data partition (mkfs.ext4 -d).
        #[arg(long, value_name = "DIR")]
        data_seed: Option<PathBuf>,
    },
    /// Write <out>/exosphere-<arch>.iso: a hybrid ISO (El Torito BIOS and UEFI, isohybrid MBR
    /// and GPT; aarch64: UEFI only) with the kernel and initramfs `exo-vm build` put in <out>.
    Iso {
        /// The image's architecture (default: what `exo-vm build` noted in <out>, else x86_64).
        #[arg(long, value_name = "ARCH", value_parser = parse_arch)]
        arch: Option<Arch>,
        /// Directory of the built image (vmlinuz, initramfs.cpio); the ISO is written there.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Write the ISO here instead of <out>/exosphere-<arch>.iso.
        #[arg(long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Write <out>/exosphere-x86_64.ova: the disk image `exo-vm disk` made, as a VirtualBox
    /// appliance (streamOptimized VMDK, OVF 1.0 descriptor, SHA256 manifest; the .ovf first).
    Ova {
        /// Directory of the disk image; the OVA is written there.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The raw disk image (default: <out>/exosphere-x86_64.img).
        #[arg(long, value_name = "PATH")]
        disk: Option<PathBuf>,
        /// Write the OVA here instead of <out>/exosphere-x86_64.ova.
        #[arg(long, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Virtual CPUs.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
        cpus: u32,
        /// Memory in MiB.
        #[arg(long, value_name = "MIB", default_value_t = 2048,
              value_parser = clap::value_parser!(u32).range(512..=65536))]
        memory: u32,
        /// Video memory in MiB (VMSVGA).
        #[arg(long, value_name = "MIB", default_value_t = 64,
              value_parser = clap::value_parser!(u32).range(16..=256))]
        vram: u32,
        /// Give the machine a NAT network adapter (it has none by default).
        #[arg(long)]
        network: bool,
    },
    /// Boot the built image in QEMU (TCG): qemu-system-x86_64 -machine pc, or for aarch64
    /// qemu-system-aarch64 -machine virt -cpu cortex-a72.
    Run {
        /// The machine (default: what `exo-vm build` noted in <out>, else x86_64).
        #[arg(long, value_name = "ARCH", value_parser = parse_arch)]
        arch: Option<Arch>,
        /// No window: serial log and screenshot under --out.
        #[arg(long)]
        headless: bool,
        /// Graphics device.
        #[arg(long, value_enum, default_value = "virtio")]
        vga: VgaArg,
        /// Number of monitors (virtio-gpu max_outputs=N), 1 to 16, each 1280x800; more than one
        /// needs --vga virtio. The guest's connectors Virtual-2..Virtual-N are forced on with
        /// video=Virtual-K:1280x800e. Headless: head 0 goes to <out>/screenshot.png, head K
        /// (1..N-1) to <out>/screenshot-K.png.
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u8).range(1..=exo_vm::qemu::MAX_OUTPUTS as i64),
              allow_negative_numbers = true)]
        outputs: u8,
        /// Extra kernel command line (repeatable).
        #[arg(long, value_name = "EXTRA")]
        append: Vec<String>,
        /// Run this capsule as the first program, then power off (adds exo.run=NAME).
        #[arg(long, value_name = "NAME")]
        exo_run: Option<String>,
        /// Headless: stop after the screenshot (system_powerdown, exit with QEMU's status).
        #[arg(long)]
        once: bool,
        /// Try KVM instead of TCG (does not boot on machines with emulated nesting).
        #[arg(long)]
        kvm: bool,
        /// Second serial port as <out>/fault.sock (for test images).
        #[arg(long)]
        fault_channel: bool,
        /// Kernel messages on the console too (drops `quiet`).
        #[arg(long)]
        verbose_kernel: bool,
        /// Seconds to wait for the dashboard (headless).
        #[arg(long, default_value_t = 180)]
        timeout: u64,
        /// Directory of the built image; serial.log, qmp.sock, screenshot.png go there too.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Boot this disk image (exo-vm disk) on an AHCI controller instead of the kernel.
        #[arg(long, value_name = "PATH", conflicts_with = "cdrom")]
        disk: Option<PathBuf>,
        /// Boot this ISO (exo-vm iso) as a CD-ROM on an AHCI controller instead of the kernel.
        #[arg(long, value_name = "PATH")]
        cdrom: Option<PathBuf>,
        /// Firmware (default: bios; uefi for --disk and --cdrom on aarch64). x86_64: uefi for
        /// --disk and --cdrom only; the kernel boot is always SeaBIOS. aarch64: bios means no
        /// firmware (QEMU starts the kernel itself; the fastest, and QEMU's power button still
        /// reaches exo-init as a gpio-keys device) and the kernel boot only; uefi is AAVMF, for
        /// every boot (the kernel then has ACPI).
        #[arg(long, value_enum)]
        firmware: Option<FirmwareArg>,
    },
    /// Write a PNG screenshot of a running VM.
    Screenshot {
        /// Where to write the PNG.
        path: PathBuf,
        /// Capture monitor N (0-based) of the virtio-gpu (QMP screendump device=gpu head=N);
        /// heads above 0 need a VM started with --outputs N+1 or more. Without --head: the
        /// primary display, whatever the graphics device.
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        head: Option<u32>,
        /// The VM's directory (its qmp.sock).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Press key combos in a running VM, e.g. super-ret ctrl-alt-delete.
    Key {
        /// Combos: keys joined with '-' or '+'.
        #[arg(required = true)]
        combos: Vec<String>,
        /// The VM's directory (its qmp.sock).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Type text in a running VM (US layout; \n is Return).
    Type {
        text: String,
        /// The VM's directory (its qmp.sock).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

fn default_out() -> PathBuf {
    default_repo().join("target/exosphere")
}

/// The architecture and image directory of a command: `--arch`, else what `exo-vm build` noted
/// in `--out`, else this machine's; `--out` defaults to the architecture's directory. An image
/// directory of another architecture is an error naming both.
fn arch_and_dir(arch: Option<Arch>, out: Option<PathBuf>) -> Result<(Arch, PathBuf)> {
    let arch = match (arch, &out) {
        (Some(a), _) => a,
        (None, Some(dir)) => Arch::of_image_dir(dir)?.unwrap_or_else(Arch::host),
        (None, None) => Arch::host(),
    };
    let dir = out.unwrap_or_else(|| arch.default_out(&default_repo()));
    arch.check_image_dir(&dir)?;
    Ok((arch, dir))
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

fn catch_sigint() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("exo-vm: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::Build {
            arch,
            bin_dir,
            variant,
            kernel,
            modules,
            out,
            repo,
            extra,
        } => {
            let repo = repo.unwrap_or_else(default_repo);
            let mut opts = BuildOptions::for_arch(&repo, arch.unwrap_or_else(Arch::host));
            if let Some(b) = bin_dir {
                opts.bin_dir = b;
            }
            opts.variant = match variant {
                VariantArg::Shipped => Variant::Shipped,
                VariantArg::Test => Variant::Test,
            };
            if let Some(k) = kernel {
                opts.kernel = KernelChoice::Custom { vmlinuz: k, modules };
            }
            if let Some(o) = out {
                opts.out = o;
            }
            opts.extra = extra;
            opts.mtime = source_date_epoch().unwrap_or(0);
            opts.verbose = true;
            let built = exo_vm::build(&opts)?;
            println!(
                "{} {:.1} MB ({} kernel modules{})",
                built.initramfs.display(),
                built.size as f64 / 1e6,
                built.modules,
                built
                    .kver
                    .as_deref()
                    .map(|k| format!(", kernel {k}"))
                    .unwrap_or_default()
            );
            println!("{}", built.boot_kernel().display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Disk {
            arch,
            out,
            output,
            data_size,
            data_seed,
        } => {
            let (arch, dir) = arch_and_dir(arch, out)?;
            let mut opts = DiskOptions::for_image_arch(&dir, arch);
            if let Some(p) = output {
                opts.path = p;
            }
            opts.data_mib = data_size;
            opts.data_seed = data_seed;
            opts.media.verbose = true;
            let started = Instant::now();
            let built = exo_vm::disk(&opts)?;
            eprintln!(
                "exo-vm: disk image made in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            println!("{built}");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Iso { arch, out, output } => {
            let (arch, dir) = arch_and_dir(arch, out)?;
            let mut opts = IsoOptions::for_image_arch(&dir, arch);
            if let Some(p) = output {
                opts.path = p;
            }
            opts.media.verbose = true;
            let started = Instant::now();
            let built = exo_vm::iso(&opts)?;
            eprintln!("exo-vm: ISO made in {:.1} s", started.elapsed().as_secs_f64());
            println!(
                "{} {:.1} MiB, volume {} (UUID {}), {}",
                built.path.display(),
                built.size as f64 / (1u64 << 20) as f64,
                exo_vm::disk::ISO_VOLUME_ID,
                built.uuid,
                if arch == Arch::X86_64 {
                    "El Torito BIOS + UEFI, isohybrid MBR + GPT"
                } else {
                    "El Torito UEFI (GRUB arm64-efi), GPT"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Ova {
            out,
            disk,
            output,
            cpus,
            memory,
            vram,
            network,
        } => {
            let dir = out.unwrap_or_else(default_out);
            // VirtualBox appliances are x86_64 machines (EFI, VMSVGA, SATA): no arm64 OVA.
            if let Some(arch @ Arch::Aarch64) = Arch::of_image_dir(&dir)? {
                anyhow::bail!(
                    "{} holds an {arch} image: `exo-vm ova` makes x86_64 VirtualBox appliances only",
                    dir.display()
                );
            }
            let disk = disk.unwrap_or_else(|| dir.join(exo_vm::disk::DISK_FILE));
            let output = output.unwrap_or_else(|| dir.join("exosphere-x86_64.ova"));
            let mut opts = exo_vm::ova::OvaOptions::new(disk, output);
            (opts.cpus, opts.memory_mb, opts.vram_mb, opts.network) = (cpus, memory, vram, network);
            let started = Instant::now();
            let built = exo_vm::ova::build_ova(&opts)?;
            eprintln!("exo-vm: OVA made in {:.1} s", started.elapsed().as_secs_f64());
            let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
            println!(
                "{} {:.1} MiB: {} ({:.1} MiB streamOptimized VMDK of a {:.1} MiB disk), {}, {}; \
                 {cpus} CPUs, {memory} MiB, VMSVGA {vram} MiB, EFI, USB tablet, {}",
                built.path.display(),
                mib(built.size),
                exo_vm::ova::OVF_NAME,
                mib(built.vmdk_size),
                mib(built.capacity),
                exo_vm::ova::VMDK_NAME,
                exo_vm::ova::MF_NAME,
                if network { "NAT network" } else { "no network" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run {
            arch,
            headless,
            vga,
            outputs,
            append,
            exo_run,
            once,
            kvm,
            fault_channel,
            verbose_kernel,
            timeout,
            out,
            disk,
            cdrom,
            firmware,
        } => {
            let (arch, out) = arch_and_dir(arch, out)?;
            let firmware = match firmware {
                Some(FirmwareArg::Bios) => Firmware::Bios,
                Some(FirmwareArg::Uefi) => Firmware::Uefi,
                None if arch == Arch::Aarch64 && (disk.is_some() || cdrom.is_some()) => Firmware::Uefi,
                None => Firmware::Bios,
            };
            let mut opts = match (disk, cdrom) {
                (Some(d), _) => VmOptions::for_media(Boot::Disk(d), firmware, out)?,
                (None, Some(c)) => VmOptions::for_media(Boot::Cdrom(c), firmware, out)?,
                (None, None) => {
                    let mut o = VmOptions::for_image(out)?;
                    o.firmware = firmware;
                    o
                }
            };
            opts.arch = arch;
            opts.vga = match vga {
                VgaArg::Virtio => Vga::Virtio,
                VgaArg::Std => Vga::Std,
                VgaArg::None => Vga::None,
            };
            opts.outputs = outputs;
            opts.append = append;
            opts.exo_run = exo_run;
            opts.kvm = kvm;
            opts.fault_channel = fault_channel;
            opts.quiet = !verbose_kernel;
            let has_display =
                std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
            opts.display = if headless || !has_display {
                Display::None
            } else {
                Display::Window
            };
            opts.validate()?;
            run_vm(opts, once, Duration::from_secs(timeout))
        }
        Cmd::Screenshot { path, head, out } => {
            let mut q = connect(out)?;
            match head {
                Some(head) => q.screendump_head(&path, head)?,
                None => q.screendump(&path)?,
            }
            println!("{}", std::path::absolute(&path)?.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Key { combos, out } => {
            let mut q = connect(out)?;
            for c in combos {
                let codes = exo_vm::keys::combo(&c)?;
                q.send_key(&codes, 100)?;
                std::thread::sleep(Duration::from_millis(150));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Type { text, out } => {
            let mut q = connect(out)?;
            let text = text.replace("\\n", "\n");
            for codes in exo_vm::keys::text(&text)? {
                q.send_key(&codes, 30)?;
                std::thread::sleep(Duration::from_millis(40));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn connect(out: Option<PathBuf>) -> Result<Qmp> {
    let sock = out.unwrap_or_else(default_out).join("qmp.sock");
    Qmp::connect(&sock, Duration::from_secs(2)).context("is a VM running (exo-vm run)?")
}

/// Prints the serial lines that start with `exo-init:` (and the other milestones) as they come.
struct Progress {
    tail: SerialTail,
    partial: Vec<u8>,
    started: Instant,
}

impl Progress {
    fn pump(&mut self) {
        let new = self.tail.poll();
        self.partial.extend_from_slice(&new);
        while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end();
            if ["exo-init:", "exo-fault:", "nexquelium:", "Hello, Exosphere!"]
                .iter()
                .any(|p| line.contains(p))
            {
                eprintln!("[{:6.2}] {line}", self.started.elapsed().as_secs_f64());
            }
        }
    }
}

fn run_vm(opts: VmOptions, once: bool, timeout: Duration) -> Result<ExitCode> {
    catch_sigint();
    let serial = opts.serial_log();
    let out = opts.out.clone();
    let window = opts.display == Display::Window;
    let first_program = opts.exo_run.is_some();
    let what = match &opts.boot {
        Boot::Kernel => format!("{} + {}", opts.kernel.display(), opts.initrd.display()),
        Boot::Disk(p) => format!("the disk {} ({:?})", p.display(), opts.firmware),
        Boot::Cdrom(p) => format!("the CD-ROM {} ({:?})", p.display(), opts.firmware),
    };
    eprintln!("exo-vm: booting {what} (serial log {})", serial.display());
    let mut vm = Vm::start(opts)?;
    let mut progress = Progress {
        tail: SerialTail::new(serial, 0),
        partial: Vec::new(),
        started: Instant::now(),
    };
    const MAPPED: &str = "nexquelium: dashboard mapped";
    let mut shot_taken = window || first_program;
    let deadline = Instant::now() + timeout;
    let mut searched = 0u64;
    loop {
        progress.pump();
        if let Some(status) = vm.try_status()? {
            progress.pump();
            eprintln!("exo-vm: QEMU exited ({status})");
            return Ok(exit_code(status));
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            eprintln!("exo-vm: interrupted: powering the VM down (system_powerdown)");
            return shutdown(&mut vm, &mut progress);
        }
        if !shot_taken {
            let mut t = SerialTail::new(vm.options().serial_log(), searched);
            t.poll();
            if t.find(MAPPED).is_some() {
                let took = vm.elapsed();
                // Give the compositor a moment to flip the first full frame.
                std::thread::sleep(Duration::from_millis(1500));
                let png = out.join("screenshot.png");
                vm.screenshot(&png)?;
                shot_taken = true;
                eprintln!(
                    "exo-vm: dashboard mapped {:.1} s after QEMU started",
                    took.as_secs_f64()
                );
                println!("{}", std::path::absolute(&png)?.display());
                for head in 1..u32::from(vm.options().outputs) {
                    let png = out.join(format!("screenshot-{head}.png"));
                    match vm.screenshot_head(&png, head) {
                        Ok(()) => println!("{}", std::path::absolute(&png)?.display()),
                        Err(e) => eprintln!("exo-vm: screenshot of output {head} failed: {e:#}"),
                    }
                }
                if once {
                    return shutdown(&mut vm, &mut progress);
                }
                eprintln!("exo-vm: VM running; Ctrl-C powers it down");
            } else {
                searched = vm.serial_len().saturating_sub(MAPPED.len() as u64);
                if Instant::now() >= deadline {
                    eprintln!(
                        "exo-vm: no {MAPPED:?} within {} s; last serial lines:\n{}",
                        timeout.as_secs(),
                        exo_vm::qemu::last_lines(&vm.serial_text(), 30)
                    );
                    vm.kill();
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn shutdown(vm: &mut Vm, progress: &mut Progress) -> Result<ExitCode> {
    if let Err(e) = vm.powerdown() {
        eprintln!("exo-vm: system_powerdown failed: {e:#}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        progress.pump();
        if let Some(status) = vm.try_status()? {
            eprintln!("exo-vm: QEMU exited ({status})");
            return Ok(exit_code(status));
        }
        if Instant::now() >= deadline {
            eprintln!("exo-vm: the guest did not power off within 60 s: killing QEMU");
            vm.kill();
            return Ok(ExitCode::FAILURE);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    match status.code() {
        Some(c) => ExitCode::from(c.clamp(0, 255) as u8),
        None => ExitCode::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("exo-vm").chain(args.iter().copied()))
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_outputs() {
        match parse(&["run", "--headless"]).unwrap().cmd {
            Cmd::Run { outputs, .. } => assert_eq!(outputs, 1),
            c => panic!("{c:?}"),
        }
        match parse(&["run", "--outputs", "2"]).unwrap().cmd {
            Cmd::Run { outputs, .. } => assert_eq!(outputs, 2),
            c => panic!("{c:?}"),
        }
        for bad in ["0", "17", "two", "-1"] {
            let e = parse(&["run", "--outputs", bad]).unwrap_err().to_string();
            assert!(e.contains("--outputs"), "--outputs {bad}: {e}");
        }
    }

    #[test]
    fn run_disk_and_cdrom() {
        match parse(&["run", "--disk", "d.img", "--firmware", "uefi"])
            .unwrap()
            .cmd
        {
            Cmd::Run {
                disk,
                cdrom,
                firmware,
                ..
            } => {
                assert_eq!(disk, Some(PathBuf::from("d.img")));
                assert_eq!(cdrom, None);
                assert_eq!(firmware, Some(FirmwareArg::Uefi));
            }
            c => panic!("{c:?}"),
        }
        match parse(&["run", "--cdrom", "x.iso"]).unwrap().cmd {
            Cmd::Run { cdrom, firmware, .. } => {
                assert_eq!(cdrom, Some(PathBuf::from("x.iso")));
                assert_eq!(firmware, None);
            }
            c => panic!("{c:?}"),
        }
        assert!(parse(&["run", "--disk", "d.img", "--cdrom", "x.iso"]).is_err());
        assert!(parse(&["run", "--firmware", "coreboot"]).is_err());
        match parse(&["disk"]).unwrap().cmd {
            Cmd::Disk { data_size, .. } => assert_eq!(data_size, 256),
            c => panic!("{c:?}"),
        }
        assert!(parse(&["disk", "--data-size", "4"]).is_err());
    }

    #[test]
    fn arch_is_parsed_and_bad_names_are_named() {
        match parse(&["build", "--arch", "aarch64"]).unwrap().cmd {
            Cmd::Build { arch, .. } => assert_eq!(arch, Some(Arch::Aarch64)),
            c => panic!("{c:?}"),
        }
        match parse(&["run", "--arch", "arm64", "--cdrom", "x.iso"])
            .unwrap()
            .cmd
        {
            Cmd::Run { arch, .. } => assert_eq!(arch, Some(Arch::Aarch64)),
            c => panic!("{c:?}"),
        }
        for cmd in ["build", "disk", "iso", "run"] {
            let e = parse(&[cmd, "--arch", "sparc"]).unwrap_err().to_string();
            assert!(e.contains("--arch") && e.contains("sparc"), "{cmd}: {e}");
        }
    }

    #[test]
    fn screenshot_head() {
        match parse(&["screenshot", "shot.png"]).unwrap().cmd {
            Cmd::Screenshot { head, path, .. } => {
                assert_eq!(head, None);
                assert_eq!(path, PathBuf::from("shot.png"));
            }
            c => panic!("{c:?}"),
        }
        match parse(&["screenshot", "shot.png", "--head", "1"]).unwrap().cmd {
            Cmd::Screenshot { head, .. } => assert_eq!(head, Some(1)),
            c => panic!("{c:?}"),
        }
        for bad in ["x", "-1"] {
            let e = parse(&["screenshot", "shot.png", "--head", bad])
                .unwrap_err()
                .to_string();
            assert!(e.contains("--head"), "--head {bad}: {e}");
        }
    }
}
