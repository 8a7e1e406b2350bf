//! Running the image in QEMU: the command line from the contract (TCG, virtio-gpu or `-vga std`,
//! virtio keyboard and tablet, no network, QMP socket, serial console to a file) and a handle
//! the end-to-end tests drive.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::arch::Arch;
use crate::keys;
use crate::qmp::Qmp;

/// The most outputs a virtio-gpu has (QEMU's `VIRTIO_GPU_MAX_SCANOUTS`).
pub const MAX_OUTPUTS: u8 = 16;

/// The QEMU device id of the virtio-gpu (`-device virtio-gpu-pci,id=gpu`): QMP `screendump`
/// names it to pick a head.
pub const GPU_ID: &str = "gpu";

/// The graphics device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Vga {
    /// `-vga none -device virtio-gpu-pci` (the virtio-gpu DRM driver).
    #[default]
    Virtio,
    /// `-vga std` (the bochs DRM driver: no dumb-buffer export, like VirtualBox's vmwgfx).
    Std,
    /// No display adapter at all (`-vga none`): what a machine without a usable GPU looks like.
    None,
}

/// What the machine boots.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Boot {
    /// QEMU's direct kernel boot: `-kernel` [`VmOptions::kernel`] `-initrd` [`VmOptions::initrd`]
    /// `-append` [`VmOptions::cmdline`].
    #[default]
    Kernel,
    /// A disk image (`exo-vm disk`) on an AHCI controller, as VirtualBox attaches SATA disks.
    Disk(PathBuf),
    /// An ISO (`exo-vm iso`) as a CD-ROM on an AHCI controller.
    Cdrom(PathBuf),
}

/// The machine's firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Firmware {
    /// SeaBIOS, QEMU's default on x86_64 (on aarch64 the kernel boot needs no firmware and
    /// media boot only under UEFI).
    #[default]
    Bios,
    /// UEFI: OVMF on x86_64 (Debian package `ovmf`): [`OVMF_CODE`] read-only and a fresh copy
    /// of [`OVMF_VARS`] as `<out>/OVMF_VARS.fd` at every start; AAVMF on aarch64 (package
    /// `qemu-efi-aarch64`), the same way with [`AAVMF_CODE`] and [`AAVMF_VARS`].
    Uefi,
}

/// OVMF's code and its variable store template (the 2 MiB pair, Debian package `ovmf`).
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE.fd";
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS.fd";
/// AAVMF (OVMF for arm64, Debian package `qemu-efi-aarch64`): code and variable store, each
/// padded to the 64 MiB of the `virt` machine's flash banks.
pub const AAVMF_CODE: &str = "/usr/share/AAVMF/AAVMF_CODE.fd";
pub const AAVMF_VARS: &str = "/usr/share/AAVMF/AAVMF_VARS.fd";
/// The size of each of the `virt` machine's two flash banks.
pub const VIRT_FLASH_BYTES: u64 = 64 << 20;

/// The UEFI firmware of `arch`: (code, variable store template, Debian package).
pub fn uefi_firmware(arch: Arch) -> (&'static str, &'static str, &'static str) {
    match arch {
        Arch::X86_64 => (OVMF_CODE, OVMF_VARS, "ovmf"),
        Arch::Aarch64 => (AAVMF_CODE, AAVMF_VARS, "qemu-efi-aarch64"),
    }
}

/// The kernel command line every boot starts with (`exo-vm run` appends to it; the GRUB menu of
/// `exo-vm disk`/`iso` boots with it). The last `console=` is `/dev/console`: init's output goes
/// to the serial port (ttyS0; the PL011 ttyAMA0 on aarch64). `panic=1` with `-no-reboot`: a
/// kernel panic (e.g. init died) ends QEMU instead of hanging.
pub fn kernel_cmdline(arch: Arch, quiet: bool) -> String {
    let mut s = format!("console=tty0 console={} panic=1", arch.serial_console());
    if quiet {
        s.push_str(" quiet");
    }
    s
}

/// Where QEMU shows the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Display {
    /// `-display none`: screenshots only.
    #[default]
    None,
    /// A window (gtk, else sdl), for a desktop session.
    Window,
}

#[derive(Debug, Clone)]
pub struct VmOptions {
    /// The machine: x86_64 (`qemu-system-x86_64 -machine pc`) or aarch64
    /// (`qemu-system-aarch64 -machine virt -cpu cortex-a72`).
    pub arch: Arch,
    /// What to boot: the kernel and initramfs below (default), a disk image or an ISO.
    pub boot: Boot,
    /// SeaBIOS or OVMF. On x86_64 UEFI needs a disk or an ISO: QEMU's direct boot of `vmlinux`
    /// (PVH) is SeaBIOS only. On aarch64 `Bios` means no firmware (QEMU starts the kernel; no
    /// ACPI: the power button is a gpio-keys device) and needs the kernel boot; `Uefi` is
    /// AAVMF, which also loads QEMU's `-kernel` (the kernel then has ACPI).
    pub firmware: Firmware,
    /// Kernel to boot (vmlinux for PVH boot, or a bzImage); unused for disk and CD boots.
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// Directory for serial.log, qmp.sock, fault.sock.
    pub out: PathBuf,
    pub vga: Vga,
    pub display: Display,
    /// Extra kernel command line.
    pub append: Vec<String>,
    /// `exo.run=NAME`: run this capsule as the first program, then power off.
    pub exo_run: Option<String>,
    /// Second serial port (guest ttyS1) as a unix socket `<out>/fault.sock` (test images).
    pub fault_channel: bool,
    /// Try KVM (falls back to TCG only if QEMU refuses to start; see PLATFORM.md).
    pub kvm: bool,
    pub memory_mb: u32,
    pub smp: u32,
    /// virtio-gpu resolution (of every output).
    pub width: u32,
    pub height: u32,
    /// Number of virtio-gpu outputs (monitors), 1..=[`MAX_OUTPUTS`]; more than one needs
    /// [`Vga::Virtio`]. Outputs 2.. are forced on with `video=Virtual-K:WxHe` on the kernel
    /// command line (see [`VmOptions::cmdline`]).
    pub outputs: u8,
    /// Kernel `quiet` (fewer kernel lines on the serial console).
    pub quiet: bool,
}

impl VmOptions {
    /// Options for the image built into `out` (`exo-vm build --out`): vmlinux when present,
    /// else vmlinuz; initramfs.cpio; the architecture the build wrote into `<out>/arch`
    /// (the build machine's when there is none).
    pub fn for_image(out: impl Into<PathBuf>) -> Result<VmOptions> {
        let out = out.into();
        let arch = Arch::of_image_dir(&out)?.unwrap_or_else(Arch::host);
        let kernel = ["vmlinux", "vmlinuz"]
            .iter()
            .map(|k| out.join(k))
            .find(|p| p.is_file())
            .with_context(|| {
                format!(
                    "{}: no vmlinux or vmlinuz (run `exo-vm build` first)",
                    out.display()
                )
            })?;
        let initrd = out.join("initramfs.cpio");
        if !initrd.is_file() {
            bail!("{} is missing (run `exo-vm build` first)", initrd.display());
        }
        Ok(VmOptions {
            arch,
            kernel,
            initrd,
            ..VmOptions::without_image(out)
        })
    }

    /// Options to boot `boot` (a disk image or an ISO) under `firmware`; serial.log, qmp.sock
    /// and the OVMF variables go to `out`.
    pub fn for_media(boot: Boot, firmware: Firmware, out: impl Into<PathBuf>) -> Result<VmOptions> {
        match &boot {
            Boot::Kernel => bail!("VmOptions::for_media needs Boot::Disk or Boot::Cdrom"),
            Boot::Disk(p) | Boot::Cdrom(p) => {
                if !p.is_file() {
                    bail!(
                        "{} is missing (run `exo-vm disk` or `exo-vm iso` first)",
                        p.display()
                    );
                }
            }
        }
        Ok(VmOptions {
            boot,
            firmware,
            ..VmOptions::without_image(out)
        })
    }

    fn without_image(out: impl Into<PathBuf>) -> VmOptions {
        VmOptions {
            arch: Arch::host(),
            boot: Boot::Kernel,
            firmware: Firmware::Bios,
            kernel: PathBuf::new(),
            initrd: PathBuf::new(),
            out: out.into(),
            vga: Vga::Virtio,
            display: Display::None,
            append: Vec::new(),
            exo_run: None,
            fault_channel: false,
            kvm: false,
            memory_mb: 1024,
            smp: 2,
            width: 1280,
            height: 800,
            outputs: 1,
            quiet: true,
        }
    }

    pub fn serial_log(&self) -> PathBuf {
        self.out.join("serial.log")
    }

    pub fn qmp_socket(&self) -> PathBuf {
        self.out.join("qmp.sock")
    }

    pub fn fault_socket(&self) -> PathBuf {
        self.out.join("fault.sock")
    }

    /// The VM's own copy of the UEFI variable store (`OVMF_VARS.fd`, `AAVMF_VARS.fd`).
    pub fn ovmf_vars(&self) -> PathBuf {
        match self.arch {
            Arch::X86_64 => self.out.join("OVMF_VARS.fd"),
            Arch::Aarch64 => self.out.join("AAVMF_VARS.fd"),
        }
    }

    /// The UEFI code flash QEMU reads: the firmware's file, or a copy padded to the flash
    /// bank's size in `out` when it is smaller (aarch64's `virt` wants exactly 64 MiB).
    pub fn ovmf_code(&self) -> PathBuf {
        let (code, _, _) = uefi_firmware(self.arch);
        if self.arch == Arch::Aarch64 && fs::metadata(code).is_ok_and(|m| m.len() != VIRT_FLASH_BYTES) {
            self.out.join("AAVMF_CODE.fd")
        } else {
            PathBuf::from(code)
        }
    }

    /// Checks the options QEMU would otherwise reject or silently ignore: `outputs` must be
    /// 1..=[`MAX_OUTPUTS`], and more than one output needs virtio-gpu. The errors name the
    /// `exo-vm run` options.
    pub fn validate(&self) -> Result<()> {
        let n = self.outputs;
        if self.arch == Arch::Aarch64 {
            if self.vga == Vga::Std {
                bail!("--vga std is x86_64 only: the aarch64 machine (virt) boots with --vga virtio or none");
            }
            if self.fault_channel {
                bail!("--fault-channel is x86_64 only: QEMU's aarch64 virt machine has a single serial port");
            }
            if self.boot != Boot::Kernel && self.firmware != Firmware::Uefi {
                bail!("--firmware bios is x86_64 only: aarch64 boots --disk and --cdrom under UEFI (AAVMF)");
            }
        }
        if n == 0 {
            bail!("--outputs 0: the VM needs at least one output (VmOptions::outputs is 1..={MAX_OUTPUTS})");
        }
        if n > MAX_OUTPUTS {
            bail!("--outputs {n}: virtio-gpu has at most {MAX_OUTPUTS} outputs");
        }
        if self.boot != Boot::Kernel {
            // GRUB's menu holds the command line of a disk or CD boot.
            let what = if matches!(self.boot, Boot::Disk(_)) {
                "--disk"
            } else {
                "--cdrom"
            };
            if !self.append.is_empty() || self.exo_run.is_some() || !self.quiet {
                bail!(
                    "{what} boots with the command line in the image's grub.cfg: --append, \
                     --exo-run and --verbose-kernel only work with the kernel boot (or pick the \
                     GRUB entry \"Exosphere (kernel messages)\" in a window)"
                );
            }
            if n > 1 {
                bail!(
                    "--outputs {n} needs video=Virtual-K:... on the kernel command line, which \
                     {what} cannot pass (the command line is in the image's grub.cfg)"
                );
            }
        } else if self.firmware == Firmware::Uefi && self.arch == Arch::X86_64 {
            bail!("--firmware uefi needs --disk or --cdrom: the kernel boot (vmlinux, PVH) is SeaBIOS only");
        }
        if n > 1 && self.vga != Vga::Virtio {
            let vga = match self.vga {
                Vga::Std => "std",
                Vga::None => "none",
                Vga::Virtio => unreachable!(),
            };
            bail!(
                "--outputs {n} needs --vga virtio: only virtio-gpu has more than one output \
                 (--vga {vga} has {})",
                if self.vga == Vga::Std { "one" } else { "none" }
            );
        }
        Ok(())
    }

    /// `video=Virtual-K:WxHe` for the outputs after the first (virtio-gpu only). QEMU 7.2
    /// enables only output 0 at start; the others only when a display UI reports a size,
    /// which never happens with `-display none`. The trailing `e` makes the guest kernel
    /// treat the connector (virtio-gpu's DRM connectors are Virtual-1, Virtual-2, ...) as
    /// connected, at the first output's size.
    pub fn video_params(&self) -> Vec<String> {
        if self.vga != Vga::Virtio {
            return Vec::new();
        }
        (2..=u32::from(self.outputs))
            .map(|k| format!("video=Virtual-{k}:{}x{}e", self.width, self.height))
            .collect()
    }

    /// The `-device` argument of the virtio-gpu (`id=gpu`, so screendumps can name it).
    pub fn gpu_device(&self) -> String {
        let outputs = if self.outputs > 1 {
            format!(",max_outputs={}", self.outputs)
        } else {
            String::new()
        };
        format!(
            "virtio-gpu-pci,id={GPU_ID}{outputs},xres={},yres={}",
            self.width, self.height
        )
    }

    /// The kernel command line.
    pub fn cmdline(&self) -> String {
        let mut s = kernel_cmdline(self.arch, self.quiet);
        if let Some(name) = &self.exo_run {
            s.push_str(&format!(" exo.run={name}"));
        }
        for v in self.video_params() {
            s.push(' ');
            s.push_str(&v);
        }
        for a in &self.append {
            s.push(' ');
            s.push_str(a);
        }
        s
    }

    /// The QEMU command.
    pub fn command(&self) -> Command {
        let x86 = self.arch == Arch::X86_64;
        let mut c = Command::new(self.arch.qemu().0);
        if x86 {
            c.args(["-machine", "pc"]);
        } else {
            c.args(["-machine", "virt", "-cpu", "cortex-a72"]);
        }
        c.args(["-nodefaults", "-no-user-config"]);
        c.args(["-m", &self.memory_mb.to_string()]);
        c.args(["-smp", &self.smp.to_string()]);
        c.args(["-accel", if self.kvm { "kvm" } else { "tcg" }]);
        if self.firmware == Firmware::Uefi {
            c.arg("-drive").arg(format!(
                "if=pflash,format=raw,unit=0,readonly=on,file={}",
                self.ovmf_code().display()
            ));
            c.arg("-drive").arg(format!(
                "if=pflash,format=raw,unit=1,file={}",
                self.ovmf_vars().display()
            ));
        }
        match &self.boot {
            Boot::Kernel => {
                c.arg("-kernel").arg(&self.kernel);
                c.arg("-initrd").arg(&self.initrd);
                c.args(["-append", &self.cmdline()]);
            }
            // aarch64: virtio disks (AAVMF drives virtio-blk and virtio-scsi).
            Boot::Disk(path) if !x86 => {
                let format = if path.extension().is_some_and(|e| e == "vmdk") {
                    "vmdk,snapshot=on"
                } else {
                    "raw"
                };
                c.arg("-drive")
                    .arg(format!("if=none,id=disk,format={format},file={}", path.display()));
                c.args(["-device", "virtio-blk-pci,drive=disk,bootindex=0"]);
            }
            Boot::Cdrom(path) if !x86 => {
                c.arg("-drive").arg(format!(
                    "if=none,id=cd,format=raw,media=cdrom,readonly=on,file={}",
                    path.display()
                ));
                c.args(["-device", "virtio-scsi-pci,id=scsi"]);
                c.args(["-device", "scsi-cd,drive=cd,bus=scsi.0,bootindex=0"]);
            }
            Boot::Disk(path) => {
                c.args(["-device", "ahci,id=ahci", "-drive"]);
                // A raw image is written in place (the data partition persists); QEMU cannot
                // write a streamOptimized VMDK (the OVA's), so its writes go to a throw-away
                // overlay.
                let format = if path.extension().is_some_and(|e| e == "vmdk") {
                    "vmdk,snapshot=on"
                } else {
                    "raw"
                };
                c.arg(format!("if=none,id=disk,format={format},file={}", path.display()));
                c.args(["-device", "ide-hd,drive=disk,bus=ahci.0,bootindex=0"]);
            }
            Boot::Cdrom(path) => {
                c.args(["-device", "ahci,id=ahci", "-drive"]);
                c.arg(format!(
                    "if=none,id=cd,format=raw,media=cdrom,readonly=on,file={}",
                    path.display()
                ));
                c.args(["-device", "ide-cd,drive=cd,bus=ahci.0,bootindex=0"]);
            }
        }
        match self.display {
            Display::None => {
                c.args(["-display", "none"]);
            }
            Display::Window => {
                c.args(["-display", window_display(self.arch)]);
            }
        }
        c.arg("-serial")
            .arg(format!("file:{}", self.serial_log().display()));
        if self.fault_channel {
            c.arg("-serial").arg(format!(
                "unix:{},server=on,wait=off",
                self.fault_socket().display()
            ));
        }
        c.args(["-nic", "none", "-no-reboot"]);
        c.arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", self.qmp_socket().display()));
        match self.vga {
            Vga::Virtio if !x86 => {
                c.arg("-device").arg(self.gpu_device());
            }
            Vga::Virtio => {
                c.args(["-vga", "none", "-device"]);
                c.arg(self.gpu_device());
            }
            Vga::Std => {
                c.args(["-vga", "std"]);
            }
            Vga::None if !x86 => {}
            Vga::None => {
                c.args(["-vga", "none"]);
            }
        }
        c.args(["-device", "virtio-keyboard-pci", "-device", "virtio-tablet-pci"]);
        c
    }
}

/// gtk when this QEMU has it, else sdl.
fn window_display(arch: Arch) -> &'static str {
    let help = Command::new(arch.qemu().0)
        .args(["-display", "help"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if help.lines().any(|l| l.trim() == "gtk") {
        "gtk"
    } else {
        "sdl"
    }
}

/// A running VM. Dropping it kills QEMU.
pub struct Vm {
    child: Child,
    opts: VmOptions,
    started: Instant,
    status: Option<ExitStatus>,
}

impl Vm {
    /// Starts QEMU (in its own process group, so a terminal's Ctrl-C reaches only us) and
    /// connects to its QMP socket.
    /// Fails without starting anything if [`VmOptions::validate`] does.
    pub fn start(opts: VmOptions) -> Result<Vm> {
        opts.validate()?;
        fs::create_dir_all(&opts.out)?;
        for p in [opts.serial_log(), opts.qmp_socket(), opts.fault_socket()] {
            let _ = fs::remove_file(p);
        }
        if opts.firmware == Firmware::Uefi {
            let (code, vars, package) = uefi_firmware(opts.arch);
            if !Path::new(code).is_file() {
                bail!("{code} is missing (Debian package {package})");
            }
            // A fresh variable store every boot: no boot entries left from an earlier run.
            fs::copy(vars, opts.ovmf_vars()).with_context(|| {
                format!(
                    "copying {vars} (Debian package {package}) to {}",
                    opts.ovmf_vars().display()
                )
            })?;
            if opts.arch == Arch::Aarch64 {
                // The virt machine's flash banks are 64 MiB: pad smaller images.
                pad_file(&opts.ovmf_vars(), VIRT_FLASH_BYTES)?;
                let padded = opts.ovmf_code();
                if padded != Path::new(code) {
                    fs::copy(code, &padded)?;
                    pad_file(&padded, VIRT_FLASH_BYTES)?;
                }
            }
        }
        let mut cmd = opts.command();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        let started = Instant::now();
        let (qemu, package) = opts.arch.qemu();
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {qemu} (Debian package {package})"))?;
        let mut vm = Vm {
            child,
            opts,
            started,
            status: None,
        };
        // QEMU's QMP socket serves one client at a time: connect to check it is up, then let
        // go, so `exo-vm key` and friends can talk to this VM too. Every command connects anew.
        match Qmp::connect(&vm.opts.qmp_socket(), Duration::from_secs(20)) {
            Ok(q) => drop(q),
            Err(e) => {
                let stderr = vm.stderr_after_exit();
                return Err(e).context(format!("QEMU did not start: {stderr}"));
            }
        }
        Ok(vm)
    }

    pub fn options(&self) -> &VmOptions {
        &self.opts
    }

    /// Time since QEMU was started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr_after_exit(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s.trim().to_string()
    }

    /// Everything the guest wrote to its serial console so far.
    pub fn serial_text(&self) -> String {
        fs::read(self.opts.serial_log())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Whether QEMU has exited (and its status).
    pub fn try_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// Waits until the serial console contains `needle` (searching everything written since
    /// boot) and returns the time since QEMU started. Fails on timeout or if QEMU exits first,
    /// with the end of the serial log in the error.
    pub fn wait_for_serial(&mut self, needle: &str, timeout: Duration) -> Result<Duration> {
        self.wait_for_serial_after(0, needle, timeout)
    }

    /// Like [`Vm::wait_for_serial`] but only searches the log from byte `offset` on (take
    /// [`Vm::serial_len`] before provoking something, e.g. a crash, to wait for what follows).
    pub fn wait_for_serial_after(
        &mut self,
        offset: u64,
        needle: &str,
        timeout: Duration,
    ) -> Result<Duration> {
        let deadline = Instant::now() + timeout;
        let mut tail = SerialTail::new(self.opts.serial_log(), offset);
        loop {
            tail.poll();
            if tail.find(needle).is_some() {
                return Ok(self.started.elapsed());
            }
            if let Some(status) = self.try_status()? {
                tail.poll();
                if tail.find(needle).is_some() {
                    return Ok(self.started.elapsed());
                }
                bail!(
                    "QEMU exited ({status}) before the serial console showed {needle:?}; last lines:\n{}",
                    last_lines(&self.serial_text(), 30)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "no {needle:?} on the serial console within {:.0} s; last lines:\n{}",
                    timeout.as_secs_f64(),
                    last_lines(&self.serial_text(), 30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Current length of the serial log in bytes.
    pub fn serial_len(&self) -> u64 {
        fs::metadata(self.opts.serial_log()).map(|m| m.len()).unwrap_or(0)
    }

    /// Runs `f` on a fresh QMP connection (closed afterwards).
    pub fn with_qmp<T>(&mut self, f: impl FnOnce(&mut Qmp) -> Result<T>) -> Result<T> {
        if let Some(status) = self.try_status()? {
            bail!("QEMU has exited ({status})");
        }
        let mut q = Qmp::connect(&self.opts.qmp_socket(), Duration::from_secs(10))?;
        f(&mut q)
    }

    /// A PNG screenshot of the display.
    pub fn screenshot(&mut self, path: &Path) -> Result<()> {
        self.with_qmp(|q| q.screendump(path))
    }

    /// A PNG screenshot of output `head` (0-based, below [`VmOptions::outputs`]). With
    /// virtio-gpu this names the device and head (`screendump` with `device: "gpu"`); other
    /// adapters have only head 0, which is [`Vm::screenshot`]. A head the guest has not
    /// enabled yet comes out as QEMU's 640×480 placeholder.
    pub fn screenshot_head(&mut self, path: &Path, head: u32) -> Result<()> {
        let outputs = u32::from(self.opts.outputs);
        if head >= outputs {
            bail!(
                "no head {head}: this VM has {outputs} output{} (heads 0..={})",
                if outputs == 1 { "" } else { "s" },
                outputs.saturating_sub(1)
            );
        }
        if self.opts.vga != Vga::Virtio {
            return self.screenshot(path);
        }
        self.with_qmp(|q| q.screendump_head(path, head))
    }

    /// Presses a combo such as `super-ret` (see [`keys::combo`]).
    pub fn key(&mut self, combo: &str) -> Result<()> {
        let codes = keys::combo(combo)?;
        self.with_qmp(|q| q.send_key(&codes, 100))
    }

    /// Types text (US layout), one key (with shift when needed) at a time.
    pub fn type_text(&mut self, text: &str) -> Result<()> {
        let all = keys::text(text)?;
        self.with_qmp(|q| {
            for codes in all {
                q.send_key(&codes, 30)?;
                // Under TCG the guest needs time to see each press and release apart.
                std::thread::sleep(Duration::from_millis(40));
            }
            Ok(())
        })
    }

    /// Presses (`down`) or releases a single key by name (e.g. hold `super` across a drag).
    pub fn key_event(&mut self, key: &str, down: bool) -> Result<()> {
        let code = keys::qcode(key)?;
        self.with_qmp(|q| q.key_event(code, down))?;
        settle();
        Ok(())
    }

    /// Moves the tablet pointer to absolute axes (0..=32767 each).
    pub fn pointer_abs(&mut self, x: u32, y: u32) -> Result<()> {
        self.with_qmp(|q| q.pointer_abs(x, y))
    }

    /// Moves the tablet pointer to pixel (x, y) of the `width`×`height` screen.
    pub fn pointer_px(&mut self, x: u32, y: u32) -> Result<()> {
        let (w, h) = (self.opts.width.max(2), self.opts.height.max(2));
        let ax = (x.min(w - 1) as u64 * 32767 / (w as u64 - 1)) as u32;
        let ay = (y.min(h - 1) as u64 * 32767 / (h as u64 - 1)) as u32;
        self.pointer_abs(ax, ay)
    }

    /// Presses or releases a mouse button: "left", "middle", "right".
    pub fn button(&mut self, button: &str, down: bool) -> Result<()> {
        self.with_qmp(|q| q.button(button, down))?;
        settle();
        Ok(())
    }

    /// ACPI power button (`system_powerdown`).
    pub fn powerdown(&mut self) -> Result<()> {
        self.with_qmp(|q| q.system_powerdown())
    }

    /// Sends one line to the guest's ttyS1 (the test variant's fault service).
    pub fn send_fault_line(&mut self, line: &str) -> Result<()> {
        if !self.opts.fault_channel {
            bail!("this VM was started without the fault channel (VmOptions::fault_channel)");
        }
        let sock = self.opts.fault_socket();
        let mut s =
            UnixStream::connect(&sock).with_context(|| format!("connecting to {}", sock.display()))?;
        s.write_all(line.as_bytes())?;
        s.write_all(b"\n")?;
        s.flush()?;
        // Closing at once can drop the bytes before QEMU's chardev reads them.
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    }

    /// Waits for QEMU to exit; after `timeout` kills it and fails.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_status()? {
                return Ok(s);
            }
            if Instant::now() >= deadline {
                self.kill();
                bail!(
                    "QEMU did not exit within {:.0} s (killed); last serial lines:\n{}",
                    timeout.as_secs_f64(),
                    last_lines(&self.serial_text(), 30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills QEMU at once.
    pub fn kill(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Extends `path` with zeros to `len` bytes; a larger file is an error naming it.
fn pad_file(path: &Path, len: u64) -> Result<()> {
    let f = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let have = f.metadata()?.len();
    if have > len {
        bail!(
            "{} is {have} bytes, more than the {len} of a flash bank",
            path.display()
        );
    }
    f.set_len(len)?;
    Ok(())
}

/// The keyboard and the tablet are separate virtio devices: the guest may read their queues in
/// either order. A pause after a key or button change keeps e.g. "Super down, then button down"
/// in that order under TCG.
fn settle() {
    std::thread::sleep(Duration::from_millis(150));
}

/// The last `n` lines of `s`.
pub fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Reads a growing log file from an offset on.
pub struct SerialTail {
    path: PathBuf,
    offset: u64,
    base: u64,
    buf: Vec<u8>,
}

impl SerialTail {
    pub fn new(path: PathBuf, offset: u64) -> SerialTail {
        SerialTail {
            path,
            offset,
            base: offset,
            buf: Vec::new(),
        }
    }

    /// Reads what was appended since the last poll; returns it.
    pub fn poll(&mut self) -> Vec<u8> {
        let Ok(mut f) = fs::File::open(&self.path) else {
            return Vec::new();
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut new = Vec::new();
        let _ = f.read_to_end(&mut new);
        self.offset += new.len() as u64;
        self.buf.extend_from_slice(&new);
        new
    }

    /// Offset just after the first occurrence of `needle` in what was read.
    pub fn find(&self, needle: &str) -> Option<u64> {
        let n = needle.as_bytes();
        self.buf
            .windows(n.len().max(1))
            .position(|w| w == n)
            .map(|i| self.base + (i + n.len()) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> VmOptions {
        VmOptions {
            arch: Arch::X86_64,
            boot: Boot::Kernel,
            firmware: Firmware::Bios,
            kernel: "/k".into(),
            initrd: "/i".into(),
            out: "/o".into(),
            vga: Vga::Virtio,
            display: Display::None,
            append: vec!["loglevel=7".into()],
            exo_run: Some("hello".into()),
            fault_channel: true,
            kvm: false,
            memory_mb: 1024,
            smp: 2,
            width: 1280,
            height: 800,
            outputs: 1,
            quiet: true,
        }
    }

    fn args(o: &VmOptions) -> Vec<String> {
        o.command()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn append_of(args: &[String]) -> String {
        args[args.iter().position(|a| a == "-append").unwrap() + 1].clone()
    }

    #[test]
    fn command_line_follows_the_contract() {
        let c = opts().command();
        let args: Vec<String> = c.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let joined = args.join(" ");
        for want in [
            "-accel tcg",
            "-kernel /k",
            "-initrd /i",
            "-serial file:/o/serial.log",
            "-serial unix:/o/fault.sock,server=on,wait=off",
            "-nic none",
            "-no-reboot",
            "-qmp unix:/o/qmp.sock,server=on,wait=off",
            "-vga none -device virtio-gpu-pci,id=gpu,xres=1280,yres=800",
            "-device virtio-keyboard-pci -device virtio-tablet-pci",
            "-display none",
        ] {
            assert!(joined.contains(want), "{want:?} missing from {joined}");
        }
        let append = &args[args.iter().position(|a| a == "-append").unwrap() + 1];
        assert!(append.starts_with("console=tty0 console=ttyS0"), "{append}");
        assert!(append.contains(" exo.run=hello"), "{append}");
        assert!(append.ends_with(" loglevel=7"), "{append}");
        assert!(!append.contains("video="), "{append}");
        assert!(!joined.contains("max_outputs"), "{joined}");
        opts().validate().unwrap();

        let mut std = opts();
        std.vga = Vga::Std;
        std.fault_channel = false;
        let joined: Vec<String> = std
            .command()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = joined.join(" ");
        assert!(
            joined.contains("-vga std") && !joined.contains("virtio-gpu"),
            "{joined}"
        );
        assert!(!joined.contains("fault.sock"), "{joined}");
    }

    #[test]
    fn two_outputs_force_the_second_connector_on() {
        let mut o = opts();
        o.outputs = 2;
        o.validate().unwrap();
        let av = args(&o);
        let joined = av.join(" ");
        assert!(
            joined.contains("-vga none -device virtio-gpu-pci,id=gpu,max_outputs=2,xres=1280,yres=800"),
            "{joined}"
        );
        let append = append_of(&av);
        assert!(append.contains(" video=Virtual-2:1280x800e"), "{append}");
        assert!(!append.contains("Virtual-1"), "{append}");
        assert!(!append.contains("Virtual-3"), "{append}");
        // The user's extra arguments still come last (and can override).
        assert!(append.ends_with(" loglevel=7"), "{append}");

        o.outputs = 4;
        o.width = 1024;
        o.height = 768;
        let append = append_of(&args(&o));
        for k in 2..=4 {
            assert!(
                append.contains(&format!(" video=Virtual-{k}:1024x768e")),
                "{append}"
            );
        }
        assert!(!append.contains("Virtual-5"), "{append}");
    }

    #[test]
    fn more_outputs_need_virtio_gpu() {
        for vga in [Vga::Std, Vga::None] {
            let mut o = opts();
            o.vga = vga;
            o.validate().unwrap();
            o.outputs = 2;
            let e = o.validate().unwrap_err().to_string();
            assert!(e.contains("--outputs 2 needs --vga virtio"), "{e}");
            // Nothing virtio-gpu specific leaks into the command line either way.
            let a = args(&o);
            assert!(!append_of(&a).contains("video="), "{a:?}");
        }
        let mut o = opts();
        o.outputs = 0;
        let e = o.validate().unwrap_err().to_string();
        assert!(e.contains("--outputs 0"), "{e}");
        o.outputs = MAX_OUTPUTS;
        o.validate().unwrap();
        o.outputs = MAX_OUTPUTS + 1;
        let e = o.validate().unwrap_err().to_string();
        assert!(e.contains("--outputs 17") && e.contains("at most 16"), "{e}");
    }

    #[test]
    fn start_rejects_bad_outputs_before_running_qemu() {
        let mut o = opts();
        o.vga = Vga::Std;
        o.outputs = 2;
        o.out = std::env::temp_dir().join(format!("exo-vm-outputs-{}", std::process::id()));
        let e = Vm::start(o.clone())
            .err()
            .expect("Vm::start accepted --outputs 2 with std VGA");
        assert!(
            format!("{e:#}").contains("--outputs 2 needs --vga virtio"),
            "{e:#}"
        );
        assert!(
            !o.out.exists(),
            "Vm::start created {} before failing",
            o.out.display()
        );
    }

    #[test]
    fn disk_and_cdrom_boot_on_ahci_under_either_firmware() {
        let mut o = opts();
        o.boot = Boot::Disk("/d.img".into());
        o.append.clear();
        o.exo_run = None;
        o.validate().unwrap();
        let joined = args(&o).join(" ");
        assert!(
            joined.contains(
                "-device ahci,id=ahci -drive if=none,id=disk,format=raw,file=/d.img \
                 -device ide-hd,drive=disk,bus=ahci.0,bootindex=0"
            ),
            "{joined}"
        );
        for absent in ["-kernel", "-initrd", "-append", "pflash"] {
            assert!(!joined.contains(absent), "{absent} in {joined}");
        }
        // Everything else as for the kernel boot.
        for want in [
            "-serial file:/o/serial.log",
            "-qmp unix:/o/qmp.sock",
            "virtio-gpu-pci",
            "fault.sock",
        ] {
            assert!(joined.contains(want), "{want} missing from {joined}");
        }

        o.firmware = Firmware::Uefi;
        o.boot = Boot::Cdrom("/x.iso".into());
        o.validate().unwrap();
        let joined = args(&o).join(" ");
        assert!(
            joined.contains(&format!(
                "-drive if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE} \
                 -drive if=pflash,format=raw,unit=1,file=/o/OVMF_VARS.fd"
            )),
            "{joined}"
        );
        assert!(
            joined.contains(
                "-drive if=none,id=cd,format=raw,media=cdrom,readonly=on,file=/x.iso \
                 -device ide-cd,drive=cd,bus=ahci.0,bootindex=0"
            ),
            "{joined}"
        );

        // The command line is GRUB's: options that change it are refused.
        let mut bad = o.clone();
        bad.append = vec!["loglevel=7".into()];
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--cdrom boots with the command line"));
        let mut bad = o.clone();
        bad.outputs = 2;
        assert!(bad.validate().unwrap_err().to_string().contains("--outputs 2"));
        // UEFI needs a medium.
        let mut bad = opts();
        bad.firmware = Firmware::Uefi;
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--firmware uefi needs --disk"));
        assert!(VmOptions::for_media(Boot::Kernel, Firmware::Bios, "/o").is_err());
        assert!(VmOptions::for_media(Boot::Disk("/nonexistent.img".into()), Firmware::Bios, "/o").is_err());
    }

    #[test]
    fn aarch64_boots_the_virt_machine_with_virtio_devices() {
        let mut o = opts();
        o.arch = Arch::Aarch64;
        o.fault_channel = false;
        o.validate().unwrap();
        let av = args(&o);
        let joined = av.join(" ");
        assert_eq!(o.command().get_program(), "qemu-system-aarch64");
        for want in [
            "-machine virt -cpu cortex-a72",
            "-accel tcg",
            "-kernel /k",
            "-nic none",
            "-device virtio-gpu-pci,id=gpu,xres=1280,yres=800",
            "-device virtio-keyboard-pci -device virtio-tablet-pci",
            "-qmp unix:/o/qmp.sock,server=on,wait=off",
        ] {
            assert!(joined.contains(want), "{want:?} missing from {joined}");
        }
        assert!(!joined.contains("-vga"), "{joined}");
        assert!(append_of(&av).starts_with("console=tty0 console=ttyAMA0 panic=1"));
        // AAVMF can start the kernel too (then with ACPI: the power button works).
        let mut uefi = o.clone();
        uefi.firmware = Firmware::Uefi;
        uefi.validate().unwrap();
        let joined = args(&uefi).join(" ");
        assert!(
            joined.contains("-kernel /k") && joined.contains("if=pflash"),
            "{joined}"
        );

        o.boot = Boot::Cdrom("/x.iso".into());
        o.append.clear();
        o.exo_run = None;
        let e = o.validate().unwrap_err().to_string();
        assert!(e.contains("--firmware bios is x86_64 only"), "{e}");
        o.firmware = Firmware::Uefi;
        o.validate().unwrap();
        let joined = args(&o).join(" ");
        assert!(
            joined.contains(&format!(
                "-drive if=pflash,format=raw,unit=0,readonly=on,file={AAVMF_CODE} \
                 -drive if=pflash,format=raw,unit=1,file=/o/AAVMF_VARS.fd"
            )) || !Path::new(AAVMF_CODE).exists(),
            "{joined}"
        );
        assert!(
            joined
                .contains("-device virtio-scsi-pci,id=scsi -device scsi-cd,drive=cd,bus=scsi.0,bootindex=0"),
            "{joined}"
        );
        assert!(!joined.contains("ahci"), "{joined}");

        let mut bad = opts();
        bad.arch = Arch::Aarch64;
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("--fault-channel is x86_64 only"), "{e}");
        bad.fault_channel = false;
        bad.vga = Vga::Std;
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("--vga std is x86_64 only"), "{e}");
    }

    #[test]
    fn serial_tail_finds_text_across_polls() {
        let p = std::env::temp_dir().join(format!("exo-vm-tail-{}", std::process::id()));
        fs::write(&p, b"exo-init: mounting\nnexq").unwrap();
        let mut t = SerialTail::new(p.clone(), 0);
        t.poll();
        assert_eq!(t.find("nexquelium: dashboard mapped"), None);
        fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"uelium: dashboard mapped\n")
            .unwrap();
        t.poll();
        let end = t.find("nexquelium: dashboard mapped").unwrap();
        assert_eq!(end, 19 + 28);
        let mut later = SerialTail::new(p.clone(), end);
        later.poll();
        assert_eq!(later.find("dashboard"), None);
        fs::remove_file(p).unwrap();
    }
}
