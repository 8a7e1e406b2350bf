//! Several outputs (`--outputs 2` on the headless backend): what real clients see of them
//! (wayland-info, grim -o), where windows go and what each output's pixels show.

mod common;

use std::{process::Command, time::Duration};

use common::{
    client::{Client, Ev},
    require_program, Image, Session,
};
use exo_shell::control::{OutputInfo, Request, WindowInfo};
use wayland_client::{
    protocol::{wl_output::WlOutput, wl_shm::Format},
    Proxy,
};
use wayland_protocols_wlr::layer_shell::v1::client::{
    zwlr_layer_shell_v1::{Layer, ZwlrLayerShellV1},
    zwlr_layer_surface_v1::{self, Anchor, ZwlrLayerSurfaceV1},
};

const W: i32 = 640;
const H: i32 = 480;
/// The default config's background colour (assets/config.toml).
const BACKGROUND: [u8; 3] = [0x1d, 0x2b, 0x3a];
const RED: u32 = 0xff_d0_20_20;

fn two_outputs() -> Session {
    Session::start(&["--outputs", "2", "--size", "640x480"])
}

/// Run a real program against the session and return its stdout; it must succeed.
fn run(session: &Session, program: &str, args: &[&str]) -> String {
    require_program(program);
    let out = Command::new(program)
        .args(args)
        .envs(session.env())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screenshot_of(session: &Session, output: Option<&str>, file: &str) -> Image {
    let path = session.runtime.join(file);
    session
        .request(&Request::Screenshot {
            path: path.display().to_string(),
            output: output.map(String::from),
        })
        .expect("screenshot request");
    Image::load(&path)
}

fn window(session: &Session, title: &str) -> WindowInfo {
    session
        .windows()
        .into_iter()
        .find(|w| w.title == title)
        .unwrap_or_else(|| panic!("no window {title:?}"))
}

/// Wait until the window reports `output` (moves are applied on the compositor's next loop).
fn wait_on_output(session: &Session, title: &str, output: &str) -> WindowInfo {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let w = window(session, title);
        if w.output == output {
            return w;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{title} stays on {:?}, not {output}: {w:?}",
            w.output
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rgb(image: &Image, x: i32, y: i32) -> [u8; 3] {
    let [r, g, b, _] = image.pixel(x as u32, y as u32);
    [r, g, b]
}

#[test]
fn clients_see_two_outputs_side_by_side() {
    let session = two_outputs();
    let outputs: Vec<OutputInfo> =
        serde_json::from_value(session.request(&Request::Outputs).expect("outputs")).expect("reply");
    let placed: Vec<_> = outputs
        .iter()
        .map(|o| (o.name.as_str(), o.x, o.y, o.logical_width, o.logical_height))
        .collect();
    assert_eq!(placed, [("HEADLESS-1", 0, 0, W, H), ("HEADLESS-2", W, 0, W, H)]);

    // wayland-info: two wl_outputs, and xdg-output puts the second one right of the first.
    let info = run(&session, "wayland-info", &[]);
    let outputs = info.matches("interface: 'wl_output'").count();
    assert_eq!(outputs, 2, "wayland-info lists {outputs} wl_outputs:\n{info}");
    assert!(
        info.contains("HEADLESS-2"),
        "no output named HEADLESS-2 in:\n{info}"
    );
    assert!(
        info.lines()
            .any(|l| l.contains("logical_x: 640") && l.contains("logical_y: 0")),
        "xdg-output does not place an output at x=640:\n{info}"
    );
}

#[test]
fn a_window_moves_to_the_next_output_and_shows_only_there() {
    let session = two_outputs();
    let mut c = Client::connect(&session.socket_path());
    c.map_toplevel("red", 200, 150, Format::Argb8888, RED);
    session.wait_windows(1, Duration::from_secs(5));
    let first = wait_on_output(&session, "red", "HEADLESS-1");
    assert!(
        first.x + first.width <= W,
        "{first:?} is not inside the first output"
    );

    session.key("super+o");
    let moved = wait_on_output(&session, "red", "HEADLESS-2");
    assert_eq!(
        (moved.x, moved.y),
        (first.x + W, first.y),
        "the window keeps its place on the new output"
    );
    c.dispatch_timeout(Duration::from_millis(100));

    // Each output's own picture: the window on the second, none of it on the first.
    let (cx, cy) = (moved.x - W + moved.width / 2, moved.y + moved.height / 2);
    let second = screenshot_of(&session, Some("HEADLESS-2"), "second.png");
    assert_eq!((second.width, second.height), (W as u32, H as u32));
    assert_eq!(
        rgb(&second, cx, cy),
        [0xd0, 0x20, 0x20],
        "the window on HEADLESS-2"
    );
    let first_shot = screenshot_of(&session, Some("HEADLESS-1"), "first.png");
    assert_eq!(
        rgb(&first_shot, cx, cy),
        BACKGROUND,
        "HEADLESS-1 where the window was"
    );
    assert_eq!(
        first_shot.count_not(BACKGROUND, first.x, first.y, first.width, first.height),
        0,
        "part of the window is still drawn on HEADLESS-1"
    );

    // The whole session: both outputs side by side.
    let all = screenshot_of(&session, None, "all.png");
    assert_eq!((all.width, all.height), (2 * W as u32, H as u32));
    assert_eq!(rgb(&all, cx + W, cy), [0xd0, 0x20, 0x20]);

    // grim -o captures one output through wlr-screencopy.
    let path = session.runtime.join("grim-2.png");
    run(&session, "grim", &["-o", "HEADLESS-2", path.to_str().unwrap()]);
    let grabbed = Image::load(&path);
    assert_eq!((grabbed.width, grabbed.height), (W as u32, H as u32));
    assert_eq!(rgb(&grabbed, cx, cy), [0xd0, 0x20, 0x20], "grim -o HEADLESS-2");
    let path = session.runtime.join("grim-1.png");
    run(&session, "grim", &["-o", "HEADLESS-1", path.to_str().unwrap()]);
    assert_eq!(rgb(&Image::load(&path), cx, cy), BACKGROUND, "grim -o HEADLESS-1");

    // Maximized on the second output: it fills that output, not the first.
    session.key("super+m");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let maximized = loop {
        c.dispatch_timeout(Duration::from_millis(50));
        let w = window(&session, "red");
        if w.maximized {
            break w;
        }
        assert!(std::time::Instant::now() < deadline, "not maximized: {w:?}");
    };
    assert!(
        maximized.x >= W && maximized.x + maximized.width <= 2 * W && maximized.width > W / 2,
        "maximized on HEADLESS-2 should span most of it: {maximized:?}"
    );

    // And back round to the first output.
    session.key("super+o");
    let back = wait_on_output(&session, "red", "HEADLESS-1");
    assert!(back.x < W, "{back:?}");
}

#[test]
fn the_pointer_crosses_to_the_second_output_and_stays_on_the_outputs() {
    let session = two_outputs();
    session.pointer_move(900.0, 100.0);
    session.pointer_move(5000.0, 5000.0);
    // The cursor is drawn where the pointer is: the bottom-right corner of HEADLESS-2.
    let second = screenshot_of(&session, Some("HEADLESS-2"), "cursor.png");
    let first = screenshot_of(&session, Some("HEADLESS-1"), "no-cursor.png");
    assert_eq!(
        first.count_not(BACKGROUND, 0, 0, W, H),
        0,
        "HEADLESS-1 shows something though the pointer is on HEADLESS-2"
    );
    assert!(
        second.count_not(BACKGROUND, W - 4, H - 4, 4, 4) > 0,
        "no cursor at the bottom-right corner of HEADLESS-2"
    );
}

#[test]
fn bad_output_names_are_refused_with_the_names_there_are() {
    let session = two_outputs();
    let err = session
        .request(&Request::Screenshot {
            path: session.runtime.join("x.png").display().to_string(),
            output: Some("HDMI-9".into()),
        })
        .expect_err("a screenshot of an unknown output");
    let message = format!("{err:#}");
    assert!(
        message.contains("\"HDMI-9\"") && message.contains("HEADLESS-1, HEADLESS-2"),
        "{message}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_nexquelium"))
        .args(["--backend", "headless", "--outputs", "9"])
        .output()
        .expect("run nexquelium");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--outputs"), "{stderr}");
}

/// The `n`th wl_output global (0: the first advertised), bound.
fn nth_output(c: &Client, n: usize) -> WlOutput {
    let (name, version) = c.globals.contents().with_list(|list| {
        let outputs: Vec<_> = list.iter().filter(|g| g.interface == "wl_output").collect();
        let g = outputs
            .get(n)
            .unwrap_or_else(|| panic!("no wl_output number {n}"));
        (g.name, g.version.min(4))
    });
    c.globals.registry().bind(name, version, &c.qh, ())
}

/// A panel across the top of `output`, `height` pixels tall and as exclusive, committed without
/// a buffer (its first configure is on its way).
fn top_bar_on(
    c: &Client,
    shell: &ZwlrLayerShellV1,
    output: &WlOutput,
    height: u32,
) -> (
    wayland_client::protocol::wl_surface::WlSurface,
    ZwlrLayerSurfaceV1,
) {
    let surface = c.surface();
    let bar = shell.get_layer_surface(&surface, Some(output), Layer::Top, "bar".into(), &c.qh, ());
    bar.set_anchor(Anchor::Top | Anchor::Left | Anchor::Right);
    bar.set_size(0, height);
    bar.set_exclusive_zone(height as i32);
    surface.commit();
    (surface, bar)
}

#[test]
fn a_panel_on_the_second_output_shows_there_and_shrinks_only_its_usable_area() {
    const BAR: u32 = 0xff_30_c0_60;
    let session = two_outputs();
    let mut c = Client::connect(&session.socket_path());
    let shell: ZwlrLayerShellV1 = c.bind(1..=4);
    let second = nth_output(&c, 1);
    c.roundtrip();

    let mark = c.mark();
    let (surface, bar) = top_bar_on(&c, &shell, &second, 40);
    let id = bar.id();
    let (serial, w, h) = c.wait_event(mark, "layer surface configure", |e| match e.kind {
        Ev::LayerSurface(zwlr_layer_surface_v1::Event::Configure {
            serial,
            width,
            height,
        }) if e.object == id => Some((serial, width, height)),
        _ => None,
    });
    assert_eq!((w, h), (W as u32, 40), "the bar spans the second output");
    bar.ack_configure(serial);
    let buffer = c.shm_buffer(w as i32, h as i32, Format::Argb8888, BAR);
    c.attach_commit(&surface, Some(&buffer));
    c.roundtrip();

    let shot = screenshot_of(&session, Some("HEADLESS-2"), "bar-2.png");
    assert_eq!(rgb(&shot, W / 2, 20), [0x30, 0xc0, 0x60], "the bar on HEADLESS-2");
    let first = screenshot_of(&session, Some("HEADLESS-1"), "bar-1.png");
    assert_eq!(rgb(&first, W / 2, 20), BACKGROUND, "no bar on HEADLESS-1");

    // A window maximized on each output: below the bar on the second, from the top on the first.
    c.map_toplevel("a", 200, 150, Format::Argb8888, RED);
    session.wait_windows(1, Duration::from_secs(5));
    session.key("super+m");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let on_first = loop {
        let w = window(&session, "a");
        if w.maximized {
            break w;
        }
        assert!(std::time::Instant::now() < deadline, "not maximized: {w:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        on_first.y < 40,
        "maximized on HEADLESS-1 must not leave room for HEADLESS-2's bar: {on_first:?}"
    );
    session.key("super+o");
    let on_second = wait_on_output(&session, "a", "HEADLESS-2");
    assert!(
        on_second.maximized && on_second.y >= 40 && on_second.x >= W,
        "maximized on HEADLESS-2 below its bar: {on_second:?}"
    );
}

#[test]
fn outputs_come_and_go_windows_come_back_and_their_panels_are_closed() {
    let session = two_outputs();
    let mut c = Client::connect(&session.socket_path());
    let shell: ZwlrLayerShellV1 = c.bind(1..=4);
    let second = nth_output(&c, 1);
    c.roundtrip();
    // A panel that asked for HEADLESS-2, and a window there.
    let (_surface, bar) = top_bar_on(&c, &shell, &second, 30);
    c.roundtrip();
    c.map_toplevel("red", 200, 150, Format::Argb8888, RED);
    session.wait_windows(1, Duration::from_secs(5));
    session.key("super+o");
    wait_on_output(&session, "red", "HEADLESS-2");

    // Unplugged: the window is back on HEADLESS-1 (and drawn there), the panel got `closed`,
    // the client saw the wl_output global go.
    let mark = c.mark();
    session
        .request(&Request::OutputRemove {
            name: "HEADLESS-2".into(),
        })
        .expect("output_remove");
    let back = wait_on_output(&session, "red", "HEADLESS-1");
    assert!(back.x + back.width <= W, "{back:?} is not inside HEADLESS-1");
    let id = bar.id();
    c.wait_event(mark, "layer surface closed", |e| match e.kind {
        Ev::LayerSurface(zwlr_layer_surface_v1::Event::Closed) if e.object == id => Some(()),
        _ => None,
    });
    let shot = screenshot_of(&session, None, "after-remove.png");
    assert_eq!((shot.width, shot.height), (W as u32, H as u32), "one output left");
    assert_eq!(
        rgb(&shot, back.x + back.width / 2, back.y + back.height / 2),
        [0xd0, 0x20, 0x20]
    );
    let info = run(&session, "wayland-info", &[]);
    assert_eq!(info.matches("interface: 'wl_output'").count(), 1, "{info}");

    // The last output stays; a bad name is named.
    let last = session.request(&Request::OutputRemove {
        name: "HEADLESS-1".into(),
    });
    let message = format!("{:#}", last.expect_err("removing the last output"));
    assert!(message.contains("last output"), "{message}");
    let bad = session.request(&Request::OutputRemove { name: "DP-7".into() });
    assert!(format!("{:#}", bad.expect_err("unknown output")).contains("\"DP-7\""));

    // Plugged in again: a new output right of the first, with the first free name.
    let added: OutputInfo = serde_json::from_value(
        session
            .request(&Request::OutputCreate {
                width: 800,
                height: 600,
            })
            .expect("output_create"),
    )
    .expect("reply");
    assert_eq!(
        (
            added.name.as_str(),
            added.x,
            added.logical_width,
            added.logical_height
        ),
        ("HEADLESS-2", W, 800, 600)
    );
    session.key("super+o");
    let moved = wait_on_output(&session, "red", "HEADLESS-2");
    let shot = screenshot_of(&session, Some("HEADLESS-2"), "new-output.png");
    assert_eq!((shot.width, shot.height), (800, 600));
    assert_eq!(
        rgb(&shot, moved.x - W + moved.width / 2, moved.y + moved.height / 2),
        [0xd0, 0x20, 0x20]
    );
    let too_small = session.request(&Request::OutputCreate {
        width: 10,
        height: 600,
    });
    assert!(format!("{:#}", too_small.expect_err("10 px wide")).contains("64..=16384"));
}
