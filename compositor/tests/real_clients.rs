//! Real Debian clients (weston-simple-shm, foot, GTK 4, wayland-info, grim) and the real `exoctl`
//! against a headless nexquelium, judged by the pixels of screenshots taken through the control
//! socket and by what the clients themselves print.

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use common::{require_program, wait_for, Image, Session, BACKGROUND};
use exo_shell::{
    config::{Color, Config},
    control::WindowInfo,
};

const SIMPLE_SHM: &str = "org.freedesktop.weston.simple-shm";
const FLOWER: &str = "org.freedesktop.weston.flower";
const OUTPUT_W: u32 = 1280;
const OUTPUT_H: u32 = 720;

/// A rectangle in output pixels (scale 1 throughout this file).
#[derive(Debug, Clone, Copy)]
struct Area {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
}

fn area(x: i32, y: i32, w: i32, h: i32) -> Area {
    Area { x, y, w, h }
}

impl Area {
    fn content(w: &WindowInfo) -> Area {
        area(w.x, w.y, w.width, w.height)
    }

    /// The title bar: full content width, directly above the content.
    fn title_bar(w: &WindowInfo, config: &Config) -> Area {
        let title = config.appearance.title_height as i32;
        area(w.x, w.y - title, w.width, title)
    }

    /// The part of the rectangle that lies on the output.
    fn clip(self) -> Area {
        let x0 = self.x.max(0);
        let y0 = self.y.max(0);
        let x1 = (self.x + self.w).min(OUTPUT_W as i32);
        let y1 = (self.y + self.h).min(OUTPUT_H as i32);
        area(x0, y0, (x1 - x0).max(0), (y1 - y0).max(0))
    }

    fn pixels(self) -> usize {
        (self.w.max(0) * self.h.max(0)) as usize
    }

    fn points(self) -> impl Iterator<Item = (u32, u32)> {
        let a = self.clip();
        (a.y..a.y + a.h).flat_map(move |y| (a.x..a.x + a.w).map(move |x| (x as u32, y as u32)))
    }
}

fn rgb(c: Color) -> [u8; 3] {
    [c.r, c.g, c.b]
}

fn rgb_of(p: [u8; 4]) -> [u8; 3] {
    [p[0], p[1], p[2]]
}

fn count_not(img: &Image, colour: [u8; 3], a: Area) -> usize {
    img.count_not(colour, a.x, a.y, a.w, a.h)
}

/// Pixels whose RGB differ between `a` at `area` and `b` at `area` shifted by (-dx, -dy), skipping
/// points inside `skip`. Alpha is ignored: grim writes RGB PNGs, the control socket RGBA.
fn rgb_diff(a: &Image, b: &Image, area: Area, (dx, dy): (i32, i32), skip: Option<Area>) -> usize {
    let inside = |(x, y): (u32, u32), s: Area| {
        let (x, y) = (x as i32, y as i32);
        x >= s.x && x < s.x + s.w && y >= s.y && y < s.y + s.h
    };
    area.points()
        .filter(|&p| !skip.is_some_and(|s| inside(p, s)))
        .filter(|&(x, y)| {
            rgb_of(a.pixel(x, y)) != rgb_of(b.pixel((x as i32 - dx) as u32, (y as i32 - dy) as u32))
        })
        .count()
}

fn distinct_colours(img: &Image, a: Area) -> usize {
    let mut seen: Vec<[u8; 3]> = a.points().map(|(x, y)| rgb_of(img.pixel(x, y))).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

/// Wait until a window with `app_id` is mapped.
fn wait_app(session: &Session, app_id: &str, timeout: Duration) -> WindowInfo {
    wait_for(timeout, &format!("a window with app_id {app_id}"), || {
        session.windows().into_iter().find(|w| w.app_id == app_id)
    })
}

/// Screenshots until two taken ~150 ms apart agree on every pixel of `area` and `ready` holds.
fn wait_stable(session: &Session, area: Area, timeout: Duration, ready: impl Fn(&Image) -> bool) -> Image {
    let mut last = session.screenshot();
    wait_for(timeout, &format!("the screen to settle in {area:?}"), || {
        std::thread::sleep(Duration::from_millis(150));
        let shot = session.screenshot();
        let settled = rgb_diff(&shot, &last, area, (0, 0), None) == 0 && ready(&shot);
        last = shot.clone();
        settled.then_some(shot)
    })
}

/// What a finished program left behind.
struct Ran {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// Panics with the program's stderr unless it exited with status 0.
    fn ok(self, what: &str) -> Ran {
        assert!(
            self.status.success(),
            "{what} failed: {:?}\n{}",
            self.status,
            self.stderr
        );
        self
    }
}

/// Run a real program against the session (its env, cwd `dir`) to completion, killing it after
/// `timeout`. Output goes through files so a chatty program can never block on a full pipe.
fn run_in(session: &Session, dir: &Path, program: &Path, args: &[&str], timeout: Duration) -> Ran {
    let name = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out_path = session.runtime.join(format!("{name}.stdout"));
    let err_path = session.runtime.join(format!("{name}.stderr"));
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env_remove("DISPLAY")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("create stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("create stderr file"));
    for (k, v) in session.env() {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} did not finish within {timeout:?}", program.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        status,
        stdout: std::fs::read_to_string(&out_path).expect("read stdout"),
        stderr: std::fs::read_to_string(&err_path).expect("read stderr"),
    }
}

fn run(session: &Session, program: &str, args: &[&str]) -> Ran {
    require_program(program);
    run_in(
        session,
        &session.runtime,
        Path::new(program),
        args,
        Duration::from_secs(20),
    )
}

#[test]
fn simple_shm_maps_with_content_and_frame() {
    let mut session = Session::start(&["--size", "1280x720"]);
    session.spawn("weston-simple-shm", &[]);
    let win = wait_app(&session, SIMPLE_SHM, Duration::from_secs(10));
    assert!(win.width > 0 && win.height > 0, "{win:?}");
    let config = Config::default();
    let content = Area::content(&win);
    let title = Area::title_bar(&win, &config);
    assert!(
        title.y >= 0,
        "a new window's title bar must be on screen: {win:?}"
    );

    // The client may not have drawn yet in the first frame after map; poll until it has.
    let shot = wait_for(Duration::from_secs(10), "simple-shm content on screen", || {
        let shot = session.screenshot();
        (count_not(&shot, BACKGROUND, content) * 10 > content.pixels() * 9).then_some(shot)
    });

    // Far away from the centred window (and from the cursor at 0,0): untouched background.
    let far = area(1080, 560, 180, 140);
    assert_eq!(
        count_not(&shot, BACKGROUND, far),
        0,
        "far region is not background"
    );
    assert_eq!(count_not(&shot, rgb(config.appearance.background), far), 0);

    // The title bar is drawn: not background, one solid colour.
    assert_eq!(
        count_not(&shot, BACKGROUND, title),
        title.pixels(),
        "title bar above {win:?} has background pixels"
    );
    // One colour apart from the label text the compositor draws on it (see tests/labels.rs).
    let title_colour = rgb_of(shot.pixel(title.x as u32, title.y as u32));
    assert!(
        count_not(&shot, title_colour, title) < title.pixels() / 3,
        "title bar is not mostly one colour"
    );

    // The border around it has the focused border colour (simple-shm is the only, focused, window).
    assert!(
        session.windows().iter().any(|w| w.id == win.id && w.focused),
        "simple-shm not focused"
    );
    let border = config.appearance.border_width as i32;
    assert!(border > 0);
    let left_border = area(content.x - border, title.y, border, content.h + title.h);
    assert_eq!(
        count_not(&shot, rgb(config.appearance.focused_border), left_border),
        0,
        "left border of {win:?} is not the focused border colour"
    );
    assert_ne!(
        title_colour,
        rgb(config.appearance.focused_border),
        "title bar should be darker"
    );
    session.assert_alive();
}

#[test]
fn foot_shows_typed_command_and_its_output() {
    let mut session = Session::start(&["--size", "1280x720"]);
    session.spawn("foot", &[]);
    let win = wait_app(&session, "foot", Duration::from_secs(15));
    wait_for(Duration::from_secs(10), "foot to get keyboard focus", || {
        session
            .windows()
            .into_iter()
            .find(|w| w.id == win.id && w.focused)
    });
    let content = Area::content(&win).clip();

    // Wait for the shell prompt: something besides the terminal background (bottom-right
    // pixel) is drawn, and the window stopped changing.
    let has_text = |img: &Image| {
        let bg = rgb_of(img.pixel(
            (content.x + content.w - 1) as u32,
            (content.y + content.h - 1) as u32,
        ));
        count_not(img, bg, content) > 20
    };
    let before = wait_stable(&session, content, Duration::from_secs(15), has_text);

    session.type_text("echo nexq");
    session.key("return");

    let changed = wait_for(
        Duration::from_secs(10),
        "foot's window to change after typing",
        || {
            let shot = session.screenshot();
            (rgb_diff(&shot, &before, content, (0, 0), None) > 50).then_some(shot)
        },
    );
    assert!(rgb_diff(&changed, &before, content, (0, 0), None) > 50);

    // Let the shell finish: the command line, the echoed "nexq" and a new prompt are on three
    // different text lines, so the changed pixels span well over one line's height.
    let after = wait_stable(&session, content, Duration::from_secs(10), |_| true);
    let rows: Vec<u32> = content
        .points()
        .filter(|&(x, y)| after.pixel(x, y) != before.pixel(x, y))
        .map(|(_, y)| y)
        .collect();
    let (top, bottom) = (rows.iter().min().unwrap(), rows.iter().max().unwrap());
    assert!(
        bottom - top > 20,
        "typed text and command output should span several lines, changed rows {top}..={bottom}"
    );
    session.assert_alive();
}

#[test]
fn gtk4_widget_factory_maps_and_draws() {
    let mut session = Session::start(&["--size", "1280x720"]);
    session.spawn("gtk4-widget-factory", &[]);
    let win = wait_app(&session, "gtk4-widget-factory", Duration::from_secs(30));
    let content = Area::content(&win).clip();
    assert!(content.pixels() > 10_000, "GTK window is tiny: {win:?}");
    let shot = wait_for(Duration::from_secs(30), "GTK to draw its widgets", || {
        let shot = session.screenshot();
        let drawn = count_not(&shot, BACKGROUND, content) * 10 > content.pixels() * 9;
        (drawn && distinct_colours(&shot, content) > 100).then_some(shot)
    });
    // Not one flat fill: a good part of the window differs from the colour near its top centre.
    let sample = rgb_of(shot.pixel(content.x as u32 + content.w as u32 / 2, content.y as u32 + 40));
    assert!(
        count_not(&shot, sample, content) > content.pixels() / 10,
        "GTK window is nearly uniform"
    );
    let title = Area::title_bar(&win, &Config::default()).clip();
    assert_eq!(
        count_not(&shot, BACKGROUND, title),
        title.pixels(),
        "GTK window has no title bar"
    );
    session.assert_alive();
}

/// `(interface, version)` for every `interface: 'name', version: N, name: M` line.
fn advertised(info: &str) -> Vec<(String, u32)> {
    info.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("interface: '")?;
            let (name, rest) = rest.split_once('\'')?;
            let version = rest
                .split("version:")
                .nth(1)?
                .split(',')
                .next()?
                .trim()
                .parse()
                .ok()?;
            Some((name.to_string(), version))
        })
        .collect()
}

/// The lines wayland-info prints below one interface's line, up to the next interface.
fn section<'a>(info: &'a str, interface: &str) -> Vec<&'a str> {
    let head = format!("interface: '{interface}'");
    info.lines()
        .skip_while(|l| !l.starts_with(&head))
        .skip(1)
        .take_while(|l| !l.starts_with("interface:"))
        .collect()
}

#[test]
fn wayland_info_lists_every_global() {
    let session = Session::start(&["--size", "1280x720"]);
    let ran = run(&session, "wayland-info", &[]).ok("wayland-info");
    let globals = advertised(&ran.stdout);
    let required = [
        "wl_compositor",
        "wl_subcompositor",
        "wl_shm",
        "wl_seat",
        "wl_output",
        "zxdg_output_manager_v1",
        "wl_data_device_manager",
        "zwp_primary_selection_device_manager_v1",
        "xdg_wm_base",
        "zxdg_decoration_manager_v1",
        "zwlr_layer_shell_v1",
        "wp_viewporter",
        "wp_fractional_scale_manager_v1",
        "wp_presentation",
        "wp_single_pixel_buffer_manager_v1",
        "xdg_activation_v1",
        "wp_cursor_shape_manager_v1",
        "zwp_pointer_constraints_v1",
        "zwp_relative_pointer_manager_v1",
        "zwp_text_input_manager_v3",
        "zwlr_screencopy_manager_v1",
    ];
    let missing: Vec<_> = required
        .iter()
        .filter(|r| !globals.iter().any(|(g, _)| g == *r))
        .collect();
    assert!(
        missing.is_empty(),
        "missing globals {missing:?}; wayland-info printed:\n{}",
        ran.stdout
    );
    let screencopy = globals
        .iter()
        .find(|(g, _)| g == "zwlr_screencopy_manager_v1")
        .unwrap();
    assert_eq!(screencopy.1, 3, "zwlr_screencopy_manager_v1 version");

    // wl_shm lists formats as `0 = 'AR24'` (fourcc codes; newer versions may print names).
    let shm = section(&ran.stdout, "wl_shm");
    for (fourcc, name) in [("'AR24'", "ARGB8888"), ("'XR24'", "XRGB8888")] {
        assert!(
            shm.iter().any(|l| l.contains(fourcc) || l.contains(name)),
            "wl_shm does not list {name}: {shm:#?}"
        );
    }
    // The output's mode as the client sees it.
    assert!(
        section(&ran.stdout, "wl_output")
            .iter()
            .any(|l| l.contains("width: 1280 px, height: 720 px")),
        "wl_output mode is not 1280x720:\n{}",
        ran.stdout
    );
}

/// Run `grim ARGS… FILE` against the session, insist on success, and load the PNG it wrote.
fn grim(session: &Session, args: &[&str], file: &str) -> Image {
    let path = session.runtime.join(file);
    let all: Vec<&str> = args.iter().copied().chain([path.to_str().unwrap()]).collect();
    run(session, "grim", &all).ok(&format!("grim {all:?}"));
    Image::load(&path)
}

#[test]
fn grim_matches_control_socket_screenshot() {
    let mut session = Session::start(&["--size", "1280x720"]);
    // weston-flower draws once and then stays still, so two captures must agree exactly.
    session.spawn("weston-flower", &[]);
    let win = wait_app(&session, FLOWER, Duration::from_secs(10));
    let content = Area::content(&win);
    let whole = area(0, 0, OUTPUT_W as i32, OUTPUT_H as i32);
    wait_stable(&session, whole, Duration::from_secs(10), |img| {
        count_not(img, BACKGROUND, content) * 2 > content.pixels()
    });

    let full = grim(&session, &[], "grim-full.png");
    let with_cursor = grim(&session, &["-c"], "grim-cursor.png");
    let region = grim(&session, &["-g", "100,100 200x150"], "grim-region.png");
    // A region over the window's top-left corner: background, border, title bar and content.
    let (rx, ry) = (content.x - 30, content.y - 40);
    let geometry = format!("{rx},{ry} 120x90");
    let corner = grim(&session, &["-g", &geometry], "grim-corner.png");
    // Taken right after grim; nothing on screen moves.
    let shot = session.screenshot();
    assert_eq!((shot.width, shot.height), (OUTPUT_W, OUTPUT_H));

    assert_eq!((full.width, full.height), (OUTPUT_W, OUTPUT_H), "grim image size");
    // Plain grim asks for no cursor overlay: outside the cursor (at 0,0) it matches the
    // screenshot, and the cursor's corner is plain background.
    let cursor = area(0, 0, 64, 64);
    let diff = rgb_diff(&full, &shot, whole, (0, 0), Some(cursor));
    assert_eq!(
        diff, 0,
        "grim and the control-socket screenshot differ in {diff} pixels"
    );
    assert_eq!(
        count_not(&full, BACKGROUND, cursor),
        0,
        "plain grim (no overlay_cursor) must not contain the cursor"
    );
    assert!(
        count_not(&shot, BACKGROUND, cursor) > 20,
        "the screenshot shows the cursor at 0,0"
    );
    assert!(
        count_not(&full, BACKGROUND, content) * 2 > content.pixels(),
        "grim shows no window"
    );

    assert_eq!((with_cursor.width, with_cursor.height), (OUTPUT_W, OUTPUT_H));
    let diff = rgb_diff(&with_cursor, &shot, whole, (0, 0), None);
    assert_eq!(
        diff, 0,
        "grim -c and the control-socket screenshot differ in {diff} pixels"
    );

    assert_eq!((region.width, region.height), (200, 150), "grim -g region size");
    let diff = rgb_diff(&region, &shot, area(0, 0, 200, 150), (-100, -100), None);
    assert_eq!(
        diff, 0,
        "grim -g 100,100 200x150 differs from the screenshot in {diff} pixels"
    );

    assert_eq!(
        (corner.width, corner.height),
        (120, 90),
        "grim -g {geometry} size"
    );
    let diff = rgb_diff(&corner, &shot, area(0, 0, 120, 90), (-rx, -ry), None);
    assert_eq!(
        diff, 0,
        "grim -g {geometry} differs from the screenshot in {diff} pixels"
    );
    assert!(
        distinct_colours(&corner, area(0, 0, 120, 90)) >= 3,
        "corner region is featureless"
    );
    session.assert_alive();
}

/// The real exoctl binary, built next to nexquelium by `cargo test --workspace`.
fn exoctl_path() -> PathBuf {
    let nexquelium = Path::new(env!("CARGO_BIN_EXE_nexquelium"));
    let path = nexquelium.parent().expect("target dir").join("exoctl");
    assert!(
        path.is_file(),
        "{} does not exist: build it first with `cargo build -p exo-shell --bin exoctl` \
         (or run `cargo test --workspace`, which builds it)",
        path.display()
    );
    path
}

/// Run the real exoctl in the session's runtime dir with the session's environment.
fn exoctl(session: &Session, args: &[&str]) -> Ran {
    let timeout = Duration::from_secs(20);
    run_in(session, &session.runtime, &exoctl_path(), args, timeout).ok(&format!("exoctl {args:?}"))
}

#[test]
fn exoctl_ends_quietly_when_its_reader_goes_away() {
    let session = Session::start(&[]);
    // `exoctl windows | head -0`: the reading end is closed before exoctl writes.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = std::process::Command::new(exoctl_path())
        .arg("--socket")
        .arg(&session.control)
        .arg("windows")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run exoctl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "exoctl on a closed stdout: {} with {stderr:?}",
        out.status
    );
}

#[test]
fn exoctl_lists_windows_and_takes_screenshots() {
    exoctl_path();
    let mut session = Session::start(&["--size", "1280x720"]);
    session.spawn("weston-simple-shm", &[]);
    let win = wait_app(&session, SIMPLE_SHM, Duration::from_secs(10));

    let ran = exoctl(&session, &["windows", "--json"]);
    let value: serde_json::Value = serde_json::from_str(ran.stdout.trim())
        .unwrap_or_else(|e| panic!("exoctl printed no JSON ({e}): {:?}", ran.stdout));
    assert!(value.is_array(), "exoctl windows --json printed {value}");
    let listed: Vec<WindowInfo> = serde_json::from_value(value).expect("window list");
    let entry = listed.iter().find(|w| w.app_id == SIMPLE_SHM);
    let entry = entry.unwrap_or_else(|| panic!("simple-shm missing from {listed:?}"));
    let geometry = |w: &WindowInfo| (w.id, w.x, w.y, w.width, w.height);
    assert_eq!(geometry(entry), geometry(&win));

    // A relative path: exoctl resolves it against its own working directory.
    exoctl(&session, &["screenshot", "exoctl-shot.png"]);
    let shot = Image::load(&session.runtime.join("exoctl-shot.png"));
    assert_eq!((shot.width, shot.height), (OUTPUT_W, OUTPUT_H));
    let reference = session.screenshot();
    // simple-shm animates, so compare what stands still: the background and the window's frame.
    let title = Area::title_bar(&win, &Config::default());
    let far = area(900, 500, 380, 220);
    for a in [far, title] {
        let diff = rgb_diff(&shot, &reference, a, (0, 0), None);
        assert_eq!(
            diff, 0,
            "exoctl screenshot differs from the control screenshot in {a:?}"
        );
    }
    assert_eq!(count_not(&shot, BACKGROUND, far), 0);
    assert_eq!(count_not(&shot, BACKGROUND, title), title.pixels());
    let content = Area::content(&win);
    assert!(
        count_not(&shot, BACKGROUND, content) * 10 > content.pixels() * 9,
        "no window content"
    );
    session.assert_alive();
}

#[test]
fn exoctl_adds_and_removes_virtual_outputs() {
    exoctl_path();
    let mut session = Session::start(&["--size", "1280x720"]);
    let created = exoctl(&session, &["output", "create", "800x600"]);
    assert!(
        created.stdout.contains("HEADLESS-2") && created.stdout.contains("800x600@1280,0"),
        "exoctl output create printed {:?}",
        created.stdout
    );
    let listed = exoctl(&session, &["outputs"]).stdout;
    assert_eq!(listed.matches("HEADLESS-").count(), 2, "{listed}");
    exoctl(&session, &["output", "remove", "HEADLESS-2"]);
    let listed = exoctl(&session, &["outputs"]).stdout;
    assert!(!listed.contains("HEADLESS-2"), "{listed}");

    // Bad sizes are refused before anything is sent, and named.
    let bad = run_in(
        &session,
        &session.runtime,
        &exoctl_path(),
        &["output", "create", "800by600"],
        Duration::from_secs(20),
    );
    assert!(
        !bad.status.success() && bad.stderr.contains("\"800by600\""),
        "exoctl output create 800by600: {} {:?}",
        bad.status,
        bad.stderr
    );
    session.assert_alive();
}
