//! End-to-end: Debian's kernel boots the image `exo-vm` builds (from the debug binaries, test
//! variant) in QEMU under TCG, exo-init runs as PID 1 and Nexquelium drives the DRM device.
//! Screens are read with QMP screendumps and OCR (tesseract), input arrives as QMP events on
//! the virtio keyboard and tablet. Boots are shared between checks: CI has two cores.
//!
//! Needs the workspace's binaries in target/debug (`cargo build --workspace --bins`, or the
//! `cargo test --workspace` that `./x test` runs) and the Debian packages `./x deps` installs.
//! One VM runs at a time whatever `--test-threads` says: two TCG guests on two cores would only
//! slow each other past their timeouts.

#[path = "../../sentry-dashboard/tests/common/image.rs"]
mod image;
#[path = "common/vm.rs"]
mod vmtest;

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
    time::{Duration, Instant},
};

use exo_vm::{build, Boot, BuildOptions, DiskOptions, Firmware, IsoOptions, Variant, Vga, Vm, VmOptions};
use image::{require_program, Area, Image, Word, PREPROCESS_TITLE_BARS};
use vmtest::{assert_hello_ran, console_tail, one_vm_at_a_time, record, repo, BOOT, DASHBOARD_MAPPED};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 800;
const ALL: Area = Area {
    x: 0,
    y: 0,
    w: WIDTH,
    h: HEIGHT,
};
/// The panel's height: a window's title bar is below it.
const PANEL: f64 = 28.0;

/// The test image, built once per test process into target/exosphere/test-image.
fn test_image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let repo = repo();
        let bin_dir = repo.join("target/debug");
        for bin in ["nexquelium", "sentry-dashboard", "exoctl", "exo-init"] {
            assert!(
                bin_dir.join(bin).is_file(),
                "{} is missing: run `cargo build --workspace --bins` first (./x test does)",
                bin_dir.join(bin).display()
            );
        }
        let mut opts = BuildOptions::new(&repo);
        opts.bin_dir = bin_dir;
        opts.variant = Variant::Test;
        opts.out = repo.join("target/exosphere/test-image");
        // One download of Debian's kernel for `./x run` and the tests.
        opts.kernel_cache = Some(repo.join("target/exosphere/build/kernel"));
        let built = build(&opts).expect("exo-vm build (test variant)");
        eprintln!(
            "test image: {} ({} bytes, {} modules, kernel {:?})",
            built.initramfs.display(),
            built.size,
            built.modules,
            built.kver
        );
        opts.out
    })
}

/// The disk image (`exo-vm disk`) of the test image, built once per test process into
/// target/exosphere/test-image/exosphere-x86_64.img. Call it holding [`one_vm_at_a_time`].
fn test_disk() -> &'static Path {
    static DISK: OnceLock<PathBuf> = OnceLock::new();
    DISK.get_or_init(|| {
        let built = exo_vm::disk(&DiskOptions::for_image(test_image())).expect("exo-vm disk (test image)");
        eprintln!("test disk: {built}");
        built.path
    })
}

/// The hybrid ISO (`exo-vm iso`) of the test image. Call it holding [`one_vm_at_a_time`].
fn test_iso() -> &'static Path {
    static ISO: OnceLock<PathBuf> = OnceLock::new();
    ISO.get_or_init(|| {
        let built = exo_vm::iso(&IsoOptions::for_image(test_image())).expect("exo-vm iso (test image)");
        eprintln!("test ISO: {} ({} bytes)", built.path.display(), built.size);
        built.path
    })
}

/// Options for one boot of the test image; its serial log, QMP socket and screenshots go to
/// their own directory.
fn boot_options(name: &str) -> VmOptions {
    require_program("qemu-system-x86_64");
    let mut opts = VmOptions::for_image(test_image()).expect("the test image");
    opts.out = repo().join("target/exosphere/boot-tests").join(name);
    let _ = std::fs::remove_dir_all(&opts.out);
    std::fs::create_dir_all(&opts.out).expect("create the boot test directory");
    opts
}

fn wait_serial(vm: &mut Vm, needle: &str, timeout: Duration) -> Duration {
    wait_serial_after(vm, 0, needle, timeout)
}

/// Like [`wait_serial`], searching only from byte `offset` of the serial log (taken with
/// `vm.serial_len()` before provoking what prints `needle`); panics with the console's end.
fn wait_serial_after(vm: &mut Vm, offset: u64, needle: &str, timeout: Duration) -> Duration {
    match vm.wait_for_serial_after(offset, needle, timeout) {
        Ok(at) => at,
        Err(err) => panic!("{err:#}\n--- serial console ---\n{}", console_tail(vm)),
    }
}

fn shot(vm: &mut Vm, name: &str) -> Image {
    shot_head(vm, name, 0)
}

/// A screendump of monitor `head` (0: the first).
fn shot_head(vm: &mut Vm, name: &str, head: u32) -> Image {
    let path = vm.options().out.join(format!("{name}.png"));
    let taken = if head == 0 {
        vm.screenshot(&path)
    } else {
        vm.screenshot_head(&path, head)
    };
    taken.unwrap_or_else(|e| panic!("screendump {name}: {e:#}"));
    Image::load(&path)
}

/// Take screendumps of monitor `head` until one `shows` what is expected (`what`), or panic
/// after 30 s naming the last one.
fn wait_for_shot(vm: &mut Vm, name: &str, head: u32, what: &str, shows: impl Fn(&Image) -> bool) -> Image {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let image = shot_head(vm, name, head);
        if shows(&image) {
            return image;
        }
        assert!(
            Instant::now() < deadline,
            "no screendump showed {what} within 30 s; the last: {}",
            image.path.display()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Take screenshots until OCR finds every word (lower case) on one, or panic after `timeout`.
/// OCR takes seconds of CPU: the guest is paused (QMP stop) while it reads.
fn wait_for_words(vm: &mut Vm, name: &str, wanted: &[&str], timeout: Duration) -> Image {
    let deadline = Instant::now() + timeout;
    loop {
        let image = shot(vm, name);
        vm.with_qmp(|q| q.execute("stop", None)).expect("QMP stop");
        let text = words(&image)
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        vm.with_qmp(|q| q.execute("cont", None)).expect("QMP cont");
        let missing: Vec<_> = wanted.iter().filter(|w| !text.contains(*w)).collect();
        if missing.is_empty() {
            return image;
        }
        assert!(
            Instant::now() < deadline,
            "OCR of {} never showed {missing:?}; it read:\n{text}\n--- serial console ---\n{}",
            image.path.display(),
            console_tail(vm)
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Every word OCR reads on the screen, lower case, over all preprocessings.
fn words(image: &Image) -> Vec<Word> {
    image.ocr_words_using(ALL, &PREPROCESS_TITLE_BARS)
}

/// Where OCR read `word` below the panel (in a window, not the panel's copy of its label).
fn find_in_windows(image: &Image, word: &str) -> Option<Word> {
    words(image)
        .into_iter()
        .find(|w| w.y > PANEL && w.text.contains(word))
}

/// Take screenshots until OCR reads `label` on a window's title bar; where it is.
fn wait_for_label(vm: &mut Vm, name: &str, label: &str, timeout: Duration) -> Word {
    wait_for_label_on(vm, name, 0, label, timeout)
}

/// [`wait_for_label`] on monitor `head`.
fn wait_for_label_on(vm: &mut Vm, name: &str, head: u32, label: &str, timeout: Duration) -> Word {
    let deadline = Instant::now() + timeout;
    loop {
        let image = shot_head(vm, name, head);
        if let Some(word) = find_in_windows(&image, label) {
            return word;
        }
        assert!(
            Instant::now() < deadline,
            "OCR never read {label:?} on a title bar in {}\n--- serial console ---\n{}",
            image.path.display(),
            console_tail(vm)
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Power off with the ACPI button and check init's clean shutdown on the console.
fn power_off(vm: &mut Vm, session_running: bool) {
    vm.powerdown().expect("QMP system_powerdown");
    let status = vm
        .wait_exit(Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{e:#}\n--- serial console ---\n{}", console_tail(vm)));
    let console = vm.serial_text();
    assert!(
        status.success(),
        "QEMU exited with {status} after the power button\n{}",
        console_tail(vm)
    );
    let mut steps = vec![
        "exo-init: shutting down for power off",
        "exo-init: sending SIGTERM to all processes",
        "exo-init: syncing file systems",
        "exo-init: powering off",
    ];
    if session_running {
        // The session first: Nexquelium stops its capsules, then everything else is stopped.
        steps.insert(1, "exo-init: stopping nexquelium");
    }
    let mut from = 0;
    for step in steps {
        let at = console[from..].find(step).unwrap_or_else(|| {
            panic!(
                "the console lacks {step:?} (in this order) after the power button:\n{}",
                console_tail(vm)
            )
        });
        from += at + step.len();
    }
}

#[test]
fn hello_runs_as_the_first_program_and_the_machine_powers_off() {
    let _one = one_vm_at_a_time();
    let mut opts = boot_options("hello");
    opts.exo_run = Some("hello".into());
    let mut vm = Vm::start(opts).expect("start QEMU");
    let status = vm
        .wait_exit(Duration::from_secs(180))
        .unwrap_or_else(|e| panic!("{e:#}\n--- serial console ---\n{}", console_tail(&vm)));
    assert_hello_ran(&vm, status);
}

/// One boot on virtio-gpu with two monitors for the graphical checks: the dashboard on screen,
/// a terminal opened and used with the keyboard, sent to the second monitor and back, a window
/// dragged with the mouse, a switch to VT 2 (the compositor stays asleep there) and back,
/// Nexquelium killed and brought back by exo-init, and a clean power-off.
#[test]
fn virtio_gpu_session_boots_to_the_dashboard_takes_input_switches_vts_survives_a_crash_and_powers_off() {
    let _one = one_vm_at_a_time();
    require_program("tesseract");
    let mut opts = boot_options("virtio");
    opts.fault_channel = true;
    opts.outputs = 2;
    let mut vm = Vm::start(opts).expect("start QEMU");

    // 1. Graphical boot: the dashboard on screen.
    let at = wait_serial(&mut vm, DASHBOARD_MAPPED, BOOT);
    record("boot to the dashboard on virtio-gpu (QEMU TCG)", at);
    wait_for_words(
        &mut vm,
        "dashboard",
        &["sentry", "terminal", "session"],
        Duration::from_secs(60),
    );
    // Smithay's DRM compositor has no GBM device for a cursor plane: the arrow is in the frame.
    vm.pointer_px(FLAT.0, FLAT.1).expect("pointer to the flat spot");
    wait_for_shot(
        &mut vm,
        "pointer-in-frame",
        0,
        &format!("the pointer at {FLAT:?} drawn into the frame"),
        |image| pointer_drawn_at(image, FLAT),
    );

    // 2. Keyboard: hide the dashboard, open the terminal capsule, type into it.
    vm.key("super-d").expect("Super+D");
    vm.key("super-ret").expect("Super+Return");
    wait_for_label(&mut vm, "terminal", "[terminal]", Duration::from_secs(90));
    vm.type_text("echo nexquelium-ok\n")
        .expect("type into the terminal");
    wait_for_words(&mut vm, "typed", &["nexquelium-ok"], Duration::from_secs(60));

    // 2b. The second monitor (its own connector, CRTC and output): Super+O sends the terminal
    // there, and it is drawn on that monitor and gone from the first; Super+O brings it back.
    vm.key("super-o").expect("Super+O");
    wait_for_label_on(
        &mut vm,
        "second-monitor",
        1,
        "[terminal]",
        Duration::from_secs(60),
    );
    let first = shot(&mut vm, "first-monitor");
    assert!(
        find_in_windows(&first, "[terminal]").is_none(),
        "the terminal is still on the first monitor: {}",
        first.path.display()
    );
    vm.key("super-o").expect("Super+O");
    let label = wait_for_label(&mut vm, "terminal-back", "[terminal]", Duration::from_secs(60));

    // 3. Mouse: Super + drag moves the window by its body.
    let (lx, ly) = label.center();
    let (from_x, from_y) = (lx as u32, ly as u32 + 120);
    let (to_x, to_y) = (from_x.saturating_sub(250).max(40), from_y + 150);
    vm.pointer_px(from_x, from_y).expect("pointer to the window");
    vm.key_event("meta_l", true).expect("Super down");
    vm.button("left", true).expect("button down");
    for step in 1..=10 {
        let x = from_x as i64 + (to_x as i64 - from_x as i64) * step / 10;
        let y = from_y as i64 + (to_y as i64 - from_y as i64) * step / 10;
        vm.pointer_px(x as u32, y as u32).expect("drag");
        std::thread::sleep(Duration::from_millis(50));
    }
    vm.button("left", false).expect("button up");
    vm.key_event("meta_l", false).expect("Super up");
    let after = wait_for_label(&mut vm, "moved", "[terminal]", Duration::from_secs(30));
    let (ax, ay) = after.center();
    assert!(
        (ax - lx).abs() > 100.0 || (ay - ly).abs() > 100.0,
        "the window did not move: its label was at ({lx:.0},{ly:.0}), now ({ax:.0},{ay:.0}); see {}",
        vm.options().out.join("moved.png").display()
    );

    // 3b. VT switch: Ctrl+Alt+F2 pauses the session (libseat takes the DRM device and input
    // back, the kernel console shows VT 2, no window is drawn); Ctrl+Alt+F1, handled there by the
    // kernel's keymap, resumes it: the outputs are lit again and the terminal is drawn again.
    // Meanwhile the terminal prints without end, so it asks for a frame after each one: while
    // the session shows, the compositor wakes for each; while it is paused, no frame callback
    // goes out, so the terminal stops committing and the compositor barely wakes.
    vm.type_text("while :; do echo tick; done\n")
        .expect("type into the terminal");
    let drawing = wakeups_per_second(&mut vm);
    // Involuntary switches are mostly TCG's CPU contention; the voluntary ones are the
    // compositor waking for the terminal's frames.
    assert!(
        drawing.voluntary >= 20.0,
        "only {drawing:.1?} compositor wakeups a second while the terminal prints"
    );
    // The second monitor, empty now, shows the background; VT 2 does not.
    let background = shot_head(&mut vm, "second-before-vt", 1).rgb(10, 10);
    assert_ne!(
        background,
        [0, 0, 0],
        "the background is black: the check below would pass unlit"
    );
    let before = vm.serial_len();
    vm.key("ctrl-alt-f2").expect("Ctrl+Alt+F2");
    wait_serial_after(&mut vm, before, "session paused", Duration::from_secs(30));
    wait_for_shot(
        &mut vm,
        "vt2-second",
        1,
        "VT 2 on the second monitor, without the background",
        |image| image.rgb(10, 10) != background,
    );
    wait_for_shot(&mut vm, "vt2", 0, "VT 2 without the terminal", |image| {
        find_in_windows(image, "[terminal]").is_none()
    });
    let away = wakeups_per_second(&mut vm);
    assert!(
        away.total() <= 10.0,
        "{away:.1?} compositor wakeups a second while the session is paused \
         ({drawing:.1?} while it showed)"
    );
    eprintln!("compositor wakeups per s with a terminal printing: {drawing:.1?} shown, {away:.1?} on VT 2");
    vm.key("ctrl-alt-f1").expect("Ctrl+Alt+F1");
    wait_serial_after(&mut vm, before, "session active again", Duration::from_secs(30));
    wait_for_label(&mut vm, "vt1-back", "[terminal]", Duration::from_secs(60));
    wait_for_shot(
        &mut vm,
        "second-after-vt",
        1,
        "the second monitor lit again with the background",
        |image| image.rgb(10, 10) == background,
    );
    // The keyboard works again: Ctrl+C stops the loop, and a new command is typed and run.
    vm.key("ctrl-c").expect("Ctrl+C to the terminal");
    // The output differs from the line typed: it shows the shell ran the command. The moved
    // window's last rows are below the screen: blank lines lift the output into view.
    vm.type_text("v=okay; echo resumed$v; echo; echo; echo\n")
        .expect("type into the terminal");
    wait_for_words(
        &mut vm,
        "typed-after-vt",
        &["resumedokay"],
        Duration::from_secs(60),
    );

    // 4. Fault: Nexquelium killed inside the guest; exo-init restarts it, the dashboard is back.
    let before = vm.serial_len();
    let killed_at = Instant::now();
    vm.send_fault_line("kill-nexquelium")
        .expect("write to the fault channel");
    wait_serial(&mut vm, "exo-fault: killed nexquelium", Duration::from_secs(60));
    wait_serial_after(&mut vm, before, DASHBOARD_MAPPED, BOOT);
    record(
        "SIGKILLed Nexquelium back to the dashboard (QEMU TCG)",
        killed_at.elapsed(),
    );
    wait_for_words(
        &mut vm,
        "restarted",
        &["sentry", "session"],
        Duration::from_secs(60),
    );

    // 5. The ACPI power button: a clean shutdown, QEMU exits 0.
    power_off(&mut vm, true);
}

/// A flat spot of the dashboard (the empty events list) and the square checked there for
/// the pointer's image: the default arrow's tip is its hotspot, so it lies right and below.
const FLAT: (u32, u32) = (640, 600);
const ARROW: u32 = 20;

/// Whether the screendump shows anything in the arrow's square at `(x, y)`: every pixel
/// there has the colour of the spot 60 pixels to the left, when nothing is drawn over it.
fn pointer_drawn_at(image: &Image, (x, y): (u32, u32)) -> bool {
    let flat = image.rgb(x - 60, y);
    image.count(flat, x, y, ARROW, ARROW) != (ARROW * ARROW) as usize
}

/// The compositor's context switches so far (all its threads), voluntary and involuntary,
/// through the fault channel.
fn nexquelium_switches(vm: &mut Vm) -> (u64, u64) {
    let before = vm.serial_len();
    vm.send_fault_line("nexquelium-switches")
        .expect("write to the fault channel");
    let from = usize::try_from(before).expect("serial offset");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // The whole line, up to its closing word: the serial port may deliver it in pieces.
        let text = vm.serial_text();
        let counts = String::from_utf8_lossy(&text.as_bytes()[from.min(text.len())..])
            .lines()
            .filter_map(|l| l.trim_end_matches('\r').strip_prefix("exo-switches: "))
            .find_map(|l| {
                let mut words = l.split(' ');
                let counts = (words.next()?.parse().ok()?, words.next()?.parse().ok()?);
                (words.next() == Some("end")).then_some(counts)
            });
        if let Some(counts) = counts {
            return counts;
        }
        assert!(
            Instant::now() < deadline,
            "no `exo-switches: V N end` line within 30 s:\n{}",
            console_tail(vm)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The compositor's wakeups (context switches, voluntary and involuntary) per second over four
/// seconds.
fn wakeups_per_second(vm: &mut Vm) -> Wakeups {
    let (first, from) = (nexquelium_switches(vm), Instant::now());
    std::thread::sleep(Duration::from_secs(4));
    let last = nexquelium_switches(vm);
    let secs = from.elapsed().as_secs_f64();
    Wakeups {
        voluntary: last.0.saturating_sub(first.0) as f64 / secs,
        involuntary: last.1.saturating_sub(first.1) as f64 / secs,
    }
}

/// Context switches per second.
#[derive(Debug)]
struct Wakeups {
    voluntary: f64,
    involuntary: f64,
}

impl Wakeups {
    fn total(&self) -> f64 {
        self.voluntary + self.involuntary
    }
}

/// The kernel's atomic state (debugfs `dri/0/state`), through the test image's fault channel.
fn plane_state(vm: &mut Vm) -> String {
    let before = vm.serial_len();
    vm.send_fault_line("plane-state")
        .expect("write to the fault channel");
    wait_serial_after(vm, before, "exo-plane: end", Duration::from_secs(60));
    let text = vm.serial_text();
    let from = usize::try_from(before).expect("serial offset").min(text.len());
    text[from..]
        .lines()
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix("exo-plane: "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where the state puts an ARGB8888 framebuffer on a CRTC: the `crtc-pos` (WxH+X+Y) of each
/// plane that shows an `AR24` framebuffer.
fn argb_planes(state: &str) -> Vec<(u32, u32, i32, i32)> {
    let mut found = Vec::new();
    for block in state.split("plane[").skip(1) {
        if !block.contains("format=AR24") || block.contains("crtc=(null)") {
            continue;
        }
        let Some(pos) = block.lines().find_map(|l| l.trim().strip_prefix("crtc-pos=")) else {
            continue;
        };
        if let Some(rect) = parse_drm_rect(pos) {
            found.push(rect);
        }
    }
    found
}

/// `64x64+100-3` → (64, 64, 100, -3).
fn parse_drm_rect(s: &str) -> Option<(u32, u32, i32, i32)> {
    let (w, rest) = s.split_once('x')?;
    let split = rest.find(['+', '-'])?;
    let (h, offsets) = rest.split_at(split);
    let second = offsets[1..].find(['+', '-'])? + 1;
    let (x, y) = offsets.split_at(second);
    Some((w.parse().ok()?, h.parse().ok()?, x.parse().ok()?, y.parse().ok()?))
}

/// Polls the plane state until a cursor-sized ARGB plane has its top-left corner at the pointer
/// `(x, y)` (the arrow's hotspot is its tip); returns that plane's rectangle.
fn wait_for_cursor_plane_at(vm: &mut Vm, (x, y): (u32, u32)) -> (u32, u32, i32, i32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = plane_state(vm);
        let planes = argb_planes(&state);
        // Within 2 pixels: the tablet's 0..32767 axes do not land on exact pixels.
        let holding = planes.iter().copied().find(|&(w, h, px, py)| {
            let (dx, dy) = (x as i32 - px, y as i32 - py);
            w <= 256 && h <= 256 && (-2..8).contains(&dx) && (-2..8).contains(&dy)
        });
        if let Some(plane) = holding {
            return plane;
        }
        assert!(
            Instant::now() < deadline,
            "no ARGB8888 plane holds the pointer at ({x},{y}); ARGB planes: {planes:?}\nstate:\n{state}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn parse_drm_rect_reads_debugfs_positions() {
    assert_eq!(parse_drm_rect("64x64+100+200"), Some((64, 64, 100, 200)));
    assert_eq!(parse_drm_rect("64x64-3+0"), Some((64, 64, -3, 0)));
    assert_eq!(parse_drm_rect("1280x800+0-1"), Some((1280, 800, 0, -1)));
    assert_eq!(parse_drm_rect("64x64"), None);
}

/// Nexquelium's own scanout path on virtio-gpu (`nexquelium.scanout=mapped` on the kernel
/// command line) puts the pointer on the CRTC's cursor plane: the kernel's plane state shows an
/// ARGB8888 framebuffer where the pointer is, following it, and the screendump (the primary
/// plane only) has no arrow there. The first virtio test checks that the same screendump does
/// show the arrow where the pointer is drawn with the frame.
#[test]
fn mapped_scanout_on_virtio_gpu_puts_the_pointer_on_the_cursor_plane() {
    let _one = one_vm_at_a_time();
    require_program("tesseract");
    let mut opts = boot_options("cursor-plane");
    opts.fault_channel = true;
    opts.append.push("nexquelium.scanout=mapped".into());
    let mut vm = Vm::start(opts).expect("start QEMU");
    let at = wait_serial(&mut vm, DASHBOARD_MAPPED, BOOT);
    record(
        "boot to the dashboard on virtio-gpu, mapped scanout (QEMU TCG)",
        at,
    );
    let console = vm.serial_text();
    assert!(
        console.contains("scanout: two mapped dumb buffers") && console.contains("cursor_plane=64x64"),
        "Nexquelium did not take the mapped path with a 64x64 cursor plane:\n{}",
        console_tail(&vm)
    );
    wait_for_words(
        &mut vm,
        "dashboard",
        &["sentry", "events"],
        Duration::from_secs(60),
    );

    vm.pointer_px(FLAT.0, FLAT.1).expect("pointer to the flat spot");
    let first = wait_for_cursor_plane_at(&mut vm, FLAT);
    let image = shot(&mut vm, "pointer-on-plane");
    assert!(
        !pointer_drawn_at(&image, FLAT),
        "the pointer is on the cursor plane ({first:?}) yet drawn into the frame: {}",
        image.path.display()
    );
    let elsewhere = (FLAT.0 - 300, FLAT.1 + 50);
    vm.pointer_px(elsewhere.0, elsewhere.1).expect("pointer moved");
    let second = wait_for_cursor_plane_at(&mut vm, elsewhere);
    assert_ne!(first, second, "the cursor plane did not follow the pointer");
    power_off(&mut vm, true);
}

/// Mesa's EGL and GLES (glvnd) and its software driver for KMS devices, kms_swrast (llvmpipe
/// rendering into dumb buffers): the GLES test image adds them, with their libraries.
const MESA: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libEGL.so.1",
    "/usr/lib/x86_64-linux-gnu/libEGL_mesa.so.0",
    "/usr/lib/x86_64-linux-gnu/libGLESv2.so.2",
    "/usr/lib/x86_64-linux-gnu/dri/kms_swrast_dri.so",
    "/usr/share/glvnd/egl_vendor.d/50_mesa.json",
];

/// The test image with Mesa added, built once per test process into
/// target/exosphere/test-image-gles (the other boots keep the smaller image).
fn test_image_gles() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let repo = repo();
        for file in MESA {
            assert!(
                Path::new(file).exists(),
                "{file} is missing: ./x deps installs Mesa"
            );
        }
        let mut opts = BuildOptions::new(&repo);
        opts.bin_dir = repo.join("target/debug");
        opts.variant = Variant::Test;
        opts.out = repo.join("target/exosphere/test-image-gles");
        opts.kernel_cache = Some(repo.join("target/exosphere/build/kernel"));
        opts.extra = MESA.iter().map(PathBuf::from).collect();
        let built = build(&opts).expect("exo-vm build (test variant with Mesa)");
        eprintln!(
            "GLES test image: {} ({} bytes)",
            built.initramfs.display(),
            built.size
        );
        opts.out
    })
}

/// GLES on GBM (`nexquelium.renderer=gles`): with Mesa in the image, Nexquelium renders with
/// OpenGL ES (llvmpipe here: QEMU's virtio-gpu has no 3D without virgl) into GBM buffers that
/// Smithay's DRM compositor scans out, the dashboard is on screen, and the pointer is on the
/// cursor plane (Smithay's compositor has a GBM device for it), not in the screendump.
#[test]
fn gles_on_gbm_renders_the_session_with_the_pointer_on_the_cursor_plane() {
    let _one = one_vm_at_a_time();
    require_program("tesseract");
    require_program("qemu-system-x86_64");
    let mut opts = VmOptions::for_image(test_image_gles()).expect("the GLES test image");
    opts.out = repo().join("target/exosphere/boot-tests/gles");
    let _ = std::fs::remove_dir_all(&opts.out);
    std::fs::create_dir_all(&opts.out).expect("create the boot test directory");
    opts.fault_channel = true;
    opts.append.push("nexquelium.renderer=gles".into());
    let mut vm = Vm::start(opts).expect("start QEMU");
    let at = wait_serial(&mut vm, DASHBOARD_MAPPED, BOOT);
    record(
        "boot to the dashboard on virtio-gpu, GLES (llvmpipe) on GBM (QEMU TCG)",
        at,
    );
    let console = vm.serial_text();
    assert!(
        console.contains("renderer: GLES on GBM") && console.contains("over GBM buffers (GLES)"),
        "Nexquelium did not render with GLES on GBM:\n{}",
        console_tail(&vm)
    );
    wait_for_words(
        &mut vm,
        "dashboard",
        &["sentry", "events"],
        Duration::from_secs(120),
    );

    vm.pointer_px(FLAT.0, FLAT.1).expect("pointer to the flat spot");
    let plane = wait_for_cursor_plane_at(&mut vm, FLAT);
    let image = shot(&mut vm, "pointer-on-plane");
    assert!(
        !pointer_drawn_at(&image, FLAT),
        "the pointer is on the cursor plane ({plane:?}) yet drawn into the frame: {}",
        image.path.display()
    );
    power_off(&mut vm, true);
}

/// bochs-drm (`-vga std`) cannot export dumb buffers: Nexquelium maps them itself.
#[test]
fn bochs_drm_session_boots_to_the_dashboard_through_mapped_dumb_buffers() {
    let _one = one_vm_at_a_time();
    require_program("tesseract");
    let mut opts = boot_options("bochs");
    opts.vga = Vga::Std;
    let mut vm = Vm::start(opts).expect("start QEMU");
    let at = wait_serial(&mut vm, DASHBOARD_MAPPED, BOOT);
    record("boot to the dashboard on bochs-drm (QEMU TCG)", at);
    wait_for_words(
        &mut vm,
        "dashboard",
        &["sentry", "terminal", "session"],
        Duration::from_secs(60),
    );
    assert!(
        vm.serial_text().contains("scanout: two mapped dumb buffers"),
        "Nexquelium did not take the mapped dumb-buffer path on bochs:\n{}",
        console_tail(&vm)
    );
    power_off(&mut vm, true);
}

/// Without a display adapter Nexquelium cannot start: its error names what is missing, exo-init
/// shows it on the console, backs off, marks the service failed, and still powers off cleanly.
#[test]
fn without_a_gpu_the_error_names_the_device_and_init_marks_the_session_failed() {
    let _one = one_vm_at_a_time();
    let mut opts = boot_options("no-gpu");
    opts.vga = Vga::None;
    let mut vm = Vm::start(opts).expect("start QEMU");
    wait_serial(&mut vm, "nexquelium failed: exited", BOOT);
    let console = vm.serial_text();
    assert!(
        console.contains("nexquelium: the DRM backend cannot start")
            && console.contains("/dev/dri has no card"),
        "the compositor's error does not say which device is missing:\n{}",
        console_tail(&vm)
    );
    assert!(
        console.contains("exo-init: nexquelium exited with") && console.contains("restarting in"),
        "exo-init did not back off before giving up:\n{}",
        console_tail(&vm)
    );
    assert!(!console.contains(DASHBOARD_MAPPED));
    power_off(&mut vm, false);
}

/// Boots `boot` under `firmware` through GRUB to the dashboard (console line, then OCR of the
/// screen); records the time to the dashboard and returns the running VM. Dropping it kills
/// QEMU: the clean power-off is checked where it matters (it costs ~10 s under TCG).
fn boot_media_to_the_dashboard(name: &str, boot: Boot, firmware: Firmware, what: &str) -> Vm {
    require_program("tesseract");
    let out = boot_options(name).out;
    let opts = VmOptions::for_media(boot, firmware, out).expect("options for the medium");
    let mut vm = Vm::start(opts).expect("start QEMU");
    let at = wait_serial(&mut vm, DASHBOARD_MAPPED, BOOT);
    record(&format!("boot to the dashboard {what} (QEMU TCG)"), at);
    let console = vm.serial_text();
    assert!(
        console.contains("GNU GRUB"),
        "GRUB's menu is not on the serial console:\n{}",
        console_tail(&vm)
    );
    if firmware == Firmware::Uefi {
        assert!(
            console.contains("BdsDxe: starting"),
            "OVMF did not start the boot entry (no BdsDxe line):\n{}",
            console_tail(&vm)
        );
    }
    wait_for_words(
        &mut vm,
        "dashboard",
        &["sentry", "terminal", "session"],
        Duration::from_secs(60),
    );
    vm
}

/// Hides the dashboard, opens the terminal capsule and types `line` into it.
fn in_the_terminal(vm: &mut Vm, name: &str, line: &str) {
    vm.key("super-d").expect("Super+D");
    vm.key("super-ret").expect("Super+Return");
    wait_for_label(vm, name, "[terminal]", Duration::from_secs(90));
    vm.type_text(line).expect("type into the terminal");
}

/// `events=N` of Nexquelium's "Sentry event log opened" line (the events already in the log).
fn events_in_log(console: &str) -> Option<(u64, String)> {
    let line = console.lines().find(|l| l.contains("Sentry event log opened"))?;
    let field = |name: &str| {
        let at = line.find(&format!("{name}="))? + name.len() + 1;
        Some(line[at..].split_whitespace().next()?.to_string())
    };
    Some((field("events")?.parse().ok()?, field("log")?))
}

/// The disk image (`exo-vm disk`, test variant) on AHCI under SeaBIOS (GRUB i386-pc from the MBR
/// and the BIOS boot partition), then the same disk packed as the OVA (`exo-vm ova`), its VMDK
/// under OVMF (GRUB x86_64-efi as \EFI\BOOT\BOOTX64.EFI), as VirtualBox would boot it. exo-init
/// mounts the data partition both times: a file written in the terminal in the first boot and
/// Sentry's event log are there in the second.
#[test]
fn the_disk_boots_under_seabios_then_its_ova_under_ovmf_with_the_data_kept() {
    let _one = one_vm_at_a_time();
    let work = repo().join("target/exosphere/boot-tests/persist");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("create the work directory");
    let disk = work.join("exosphere-x86_64.img");
    std::fs::copy(test_disk(), &disk).expect("copy the test disk");

    // 1. The raw disk under SeaBIOS; a file in the terminal's home, then a clean power-off.
    let mut vm = boot_media_to_the_dashboard(
        "disk-bios",
        Boot::Disk(disk.clone()),
        Firmware::Bios,
        "from the disk image under SeaBIOS (GRUB, AHCI)",
    );
    let console = vm.serial_text();
    assert!(
        console.contains("exo-init: mounted /dev/")
            && console.contains("labelled exosphere-data) on /var/lib/exosphere"),
        "exo-init did not mount the data partition:\n{}",
        console_tail(&vm)
    );
    let (first_events, log) = events_in_log(&console).expect("Nexquelium's Sentry log line");
    assert!(
        log.starts_with("/var/lib/exosphere/state/"),
        "Sentry's log is at {log}"
    );
    // What the file holds (persisted-42) is not what was typed, so OCR of the second boot's
    // `cat` can only read it from the file.
    in_the_terminal(&mut vm, "terminal-1", "echo persisted-$((6*7)) > note.txt\n");
    wait_for_words(&mut vm, "typed-1", &["note.txt"], Duration::from_secs(60));
    power_off(&mut vm, true);
    drop(vm);

    // 2. The OVA of that disk; its VMDK under OVMF.
    let ova = exo_vm::ova::build_ova(&exo_vm::ova::OvaOptions::new(disk, work.join("exosphere.ova")))
        .expect("exo-vm ova");
    let untar = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&ova.path)
        .arg(exo_vm::ova::VMDK_NAME)
        .current_dir(&work)
        .status()
        .expect("run tar");
    assert!(untar.success(), "cannot take the VMDK out of the OVA");
    let mut vm = boot_media_to_the_dashboard(
        "ova-uefi",
        Boot::Disk(work.join(exo_vm::ova::VMDK_NAME)),
        Firmware::Uefi,
        "from the OVA's VMDK under OVMF (GRUB, AHCI)",
    );
    let (events, _) = events_in_log(&vm.serial_text()).expect("Nexquelium's Sentry log line");
    assert!(
        events > first_events,
        "Sentry's log had {first_events} events at the first boot and {events} at the second: \
         the first boot's events were not kept"
    );
    // dash's builtins only: the image has no coreutils (no cat).
    in_the_terminal(&mut vm, "terminal-2", "read -r kept < note.txt; echo \"$kept\"\n");
    wait_for_words(&mut vm, "kept", &["persisted-42"], Duration::from_secs(60));
    drop(vm);
    // The disk copy, the OVA and the VMDK are most of a GB; the screenshots and logs stay.
    for file in [
        work.join("exosphere-x86_64.img"),
        ova.path.clone(),
        work.join(exo_vm::ova::VMDK_NAME),
    ] {
        let _ = std::fs::remove_file(file);
    }
}

/// The hybrid ISO (`exo-vm iso`) as a CD-ROM on AHCI under SeaBIOS (El Torito, GRUB
/// i386-pc-eltorito; the fastest of the ISO boots tried here).
#[test]
fn iso_boots_to_the_dashboard_as_a_cdrom() {
    let _one = one_vm_at_a_time();
    let iso = test_iso().to_path_buf();
    boot_media_to_the_dashboard(
        "iso-cdrom",
        Boot::Cdrom(iso),
        Firmware::Bios,
        "from the ISO as a CD-ROM under SeaBIOS (El Torito, GRUB)",
    );
}
