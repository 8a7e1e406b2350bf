//! Trusted presentation (DESIGN.md §4.4–4.8) against the real binary: fullscreen keeps a label
//! strip unless the capsule holds `display.fullscreen`; the X-ray key shows the owner of every
//! window, popup and layer surface; secure keys never reach a client, not even one that inhibits
//! shortcuts; a background client cannot take focus with an activation token; per-client limits
//! come from `[limits]`. The clipboard policy between capsules is tested in-process
//! (`fixture/tests_trusted.rs`), where clients can be given capsule identities.

mod common;

use std::{os::fd::AsRawFd, process::Command, time::Duration};

use common::{
    client::{
        input::{focused_title, key_events, window, App, In, APP_FILL},
        privileged::{PLog, P},
        Client, Ev,
    },
    require_program, wait_for, Image, Session,
};
use exo_shell::{
    capsule::derived_color,
    control::{ButtonState, PointerButton, Request, WindowInfo},
};
use wayland_client::{
    backend::WaylandError,
    protocol::{wl_keyboard, wl_shm::Format},
    Proxy,
};
use wayland_protocols::{
    wp::keyboard_shortcuts_inhibit::zv1::client::zwp_keyboard_shortcuts_inhibit_manager_v1::ZwpKeyboardShortcutsInhibitManagerV1,
    xdg::{
        activation::v1::client::xdg_activation_v1::XdgActivationV1,
        shell::client::xdg_positioner::{Anchor, Gravity},
    },
};
use wayland_protocols_wlr::layer_shell::v1::client::{
    zwlr_layer_shell_v1::{Layer, ZwlrLayerShellV1},
    zwlr_layer_surface_v1::{self, Anchor as LayerAnchor},
};

const TIMEOUT: Duration = Duration::from_secs(15);
/// Title bar height of the default config.
const TITLE: i32 = 24;
/// weston-fullscreen draws a 10 px border of pure blue along its surface's edges.
const FULLSCREEN_BLUE: [u8; 3] = [0, 0, 255];
/// The colour of host clients' X-ray tags and tints (`ClientIdentity::default`).
const HOST: [u8; 3] = [0x55, 0x55, 0x55];
const BLUE: u32 = 0xff_20_40_c0;
const MAGENTA: u32 = 0xff_ff_00_ff;
const GREEN: u32 = 0xff_00_ff_00;
/// Evdev codes.
const KEY_X: u32 = 45;
const KEY_C: u32 = 46;
const KEY_V: u32 = 47;

type Area = (i32, i32, i32, i32);

fn rgb(argb: u32) -> [u8; 3] {
    [(argb >> 16) as u8, (argb >> 8) as u8, argb as u8]
}

fn capsule_rgb(name: &str) -> [u8; 3] {
    let c = derived_color(name);
    [c.r, c.g, c.b]
}

fn near(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= tolerance)
}

fn px(img: &Image, x: i32, y: i32) -> [u8; 3] {
    let p = img.pixel(x as u32, y as u32);
    [p[0], p[1], p[2]]
}

/// Half the owner's colour over half the client's: what an X-ray tint makes of a pixel.
fn tinted(client: [u8; 3], owner: [u8; 3]) -> [u8; 3] {
    [0, 1, 2].map(|i| ((u16::from(client[i]) + u16::from(owner[i])) / 2) as u8)
}

fn count(img: &Image, (x, y, w, h): Area, pred: impl Fn([u8; 3]) -> bool) -> usize {
    (y.max(0)..(y + h).min(img.height as i32))
        .flat_map(|yy| (x.max(0)..(x + w).min(img.width as i32)).map(move |xx| (xx, yy)))
        .filter(|&(xx, yy)| pred(px(img, xx, yy)))
        .count()
}

/// The most frequent colour in an area.
fn dominant(img: &Image, (x, y, w, h): Area) -> [u8; 3] {
    let mut counts = std::collections::HashMap::new();
    for yy in y..y + h {
        for xx in x..x + w {
            *counts.entry(px(img, xx, yy)).or_insert(0usize) += 1;
        }
    }
    counts.into_iter().max_by_key(|&(_, n)| n).expect("non-empty").0
}

/// What tesseract reads (lower case) in an area of the screen: light text on a bar of `bar`
/// colour (widened with more of it: tesseract misreads glyphs at the very edge).
fn ocr(s: &Session, (x, y, w, h): Area, bar: [u8; 3]) -> String {
    require_program("tesseract");
    require_program("convert");
    let shot = s.runtime.join("trusted-ocr.png");
    s.request(&Request::Screenshot {
        path: shot.display().to_string(),
        output: None,
    })
    .expect("screenshot");
    let crop = format!("{w}x{h}+{x}+{y}");
    let mut read = String::new();
    let variants: [&[&str]; 2] = [
        &[
            "-scale",
            "400%",
            "-colorspace",
            "Gray",
            "-negate",
            "-threshold",
            "60%",
        ],
        &["-scale", "400%"],
    ];
    for (i, args) in variants.iter().enumerate() {
        let out = s.runtime.join(format!("trusted-ocr-{i}.png"));
        let status = Command::new("convert")
            .arg(&shot)
            .args(["-crop", &crop, "+repage"])
            .args([
                "-bordercolor",
                &format!("#{:02x}{:02x}{:02x}", bar[0], bar[1], bar[2]),
            ])
            .args(["-border", "16"])
            .args(*args)
            .arg(&out)
            .status()
            .expect("run convert");
        assert!(status.success());
        let text = Command::new("tesseract")
            .arg(&out)
            .args(["stdout", "--psm", "7"])
            .output()
            .expect("run tesseract");
        read.push_str(&String::from_utf8_lossy(&text.stdout).to_lowercase());
        read.push('\n');
    }
    read
}

/// Start `weston-fullscreen` as a capsule and make it ask for fullscreen (its `f` key).
fn fullscreen_capsule(s: &Session, name: &str, caps: &[&str]) -> WindowInfo {
    s.request(&Request::Run {
        name: Some(name.into()),
        capabilities: caps.iter().map(|c| c.to_string()).collect(),
        argv: vec!["weston-fullscreen".into()],
    })
    .expect("run the capsule");
    let mine = |w: &WindowInfo| w.capsule.as_deref() == Some(name);
    wait_for(TIMEOUT, "the capsule's window, focused", || {
        s.windows().into_iter().find(|w| mine(w) && w.focused)
    });
    s.key("f");
    wait_for(TIMEOUT, "the capsule's window fullscreen", || {
        s.windows().into_iter().find(|w| mine(w) && w.fullscreen)
    })
}

#[test]
fn fullscreen_keeps_a_label_strip_without_display_fullscreen() {
    require_program("weston-fullscreen");
    let s = Session::start(&[]);
    let w = fullscreen_capsule(&s, "viewer", &["display.window"]);
    assert_eq!(
        (w.x, w.y, w.width, w.height),
        (0, TITLE, 1280, 720 - TITLE),
        "the content starts below the strip: {w:?}"
    );
    // The client fills what it was given: its blue top edge starts right below the strip.
    let img = wait_for(TIMEOUT, "the client's blue edge below the strip", || {
        let img = s.screenshot();
        (px(&img, 640, TITLE) == FULLSCREEN_BLUE).then_some(img)
    });
    let colour = capsule_rgb("viewer");
    let strip = (0, 0, 1280, TITLE);
    assert_eq!(
        dominant(&img, strip),
        colour,
        "the strip is in the capsule's colour"
    );
    assert_eq!(
        count(&img, strip, |p| p == FULLSCREEN_BLUE),
        0,
        "the client draws nothing on it"
    );
    // The pointer starts at (0, 0), on the strip's first letter: move it out of the way.
    s.pointer_move(640.0, 400.0);
    let read = ocr(&s, (0, 0, 400, TITLE), colour);
    assert!(read.contains("[viewer]"), "OCR of the strip read {read:?}");

    // Granting display.fullscreen live gives the whole output.
    s.request(&Request::Grant {
        name: "viewer".into(),
        capability: "display.fullscreen".into(),
    })
    .expect("grant");
    let w = wait_for(TIMEOUT, "the whole output", || {
        s.windows()
            .into_iter()
            .find(|w| w.capsule.as_deref() == Some("viewer") && w.y == 0 && w.height == 720)
    });
    assert_eq!((w.x, w.width), (0, 1280));
}

#[test]
fn display_fullscreen_covers_the_whole_output() {
    require_program("weston-fullscreen");
    let s = Session::start(&[]);
    let w = fullscreen_capsule(&s, "cinema", &["display.window", "display.fullscreen"]);
    assert_eq!((w.x, w.y, w.width, w.height), (0, 0, 1280, 720), "{w:?}");
    let img = wait_for(TIMEOUT, "the client's blue edge at the top of the output", || {
        let img = s.screenshot();
        (px(&img, 640, 0) == FULLSCREEN_BLUE).then_some(img)
    });
    // No label anywhere: the top rows are the client's (blue edge, then its black inside).
    let colour = capsule_rgb("cinema");
    assert_eq!(count(&img, (0, 0, 1280, TITLE), |p| p == colour), 0);
    assert_eq!(
        count(&img, (20, 0, 1240, 10), |p| p == FULLSCREEN_BLUE),
        1240 * 10
    );
}

/// A host layer surface on the top layer, anchored bottom-right, filled with `pixel`.
fn map_layer(
    c: &mut Client,
    (w, h): (u32, u32),
    pixel: u32,
) -> wayland_client::protocol::wl_surface::WlSurface {
    let shell: ZwlrLayerShellV1 = c.bind(1..=4);
    let surface = c.surface();
    let layer = shell.get_layer_surface(&surface, None, Layer::Top, "xray".into(), &c.qh, ());
    layer.set_anchor(LayerAnchor::Bottom | LayerAnchor::Right);
    layer.set_size(w, h);
    let mark = c.mark();
    c.attach_commit(&surface, None);
    let id = layer.id();
    let serial = c.wait_event(mark, "layer configure", |e| match e.kind {
        Ev::LayerSurface(zwlr_layer_surface_v1::Event::Configure { serial, .. }) if e.object == id => {
            Some(serial)
        }
        _ => None,
    });
    layer.ack_configure(serial);
    let buffer = c.shm_buffer(w as i32, h as i32, Format::Argb8888, pixel);
    c.attach_commit(&surface, Some(&buffer));
    c.roundtrip();
    surface
}

#[test]
fn x_ray_shows_the_owner_of_windows_popups_and_layer_surfaces() {
    let s = Session::start(&[]);
    s.request(&Request::Run {
        name: Some("ledger".into()),
        capabilities: vec!["display.window".into()],
        argv: vec!["weston-simple-shm".into()],
    })
    .expect("run a capsule");
    let ledger = wait_for(TIMEOUT, "the capsule's window", || {
        s.windows()
            .into_iter()
            .find(|w| w.capsule.as_deref() == Some("ledger"))
    });
    let mut c = Client::connect(&s.socket_path());
    let host = c.map_toplevel("host window", 300, 200, Format::Argb8888, BLUE);
    // It cascades over the capsule's window: drag it by its title bar to the upper left.
    let h = window(&s, "host window");
    let grab = (f64::from(h.x + 100), f64::from(h.y - TITLE / 2));
    s.pointer_move(grab.0, grab.1);
    button(&s, ButtonState::Press);
    s.pointer_move(grab.0 - 225.0, grab.1 - 75.0);
    s.pointer_move(grab.0 - 450.0, grab.1 - 150.0);
    button(&s, ButtonState::Release);
    let h = wait_for(TIMEOUT, "the host window moved", || {
        s.windows()
            .into_iter()
            .find(|w| w.title == "host window" && w.x == h.x - 450 && w.y == h.y - 150)
    });
    assert!(h.x + 300 < ledger.x - 2, "{h:?} still overlaps {ledger:?}");
    // A popup reaching 40 px below the window, and a panel in the bottom-right corner.
    let positioner = c.positioner((100, 80), (0, 0, 1, 1), Anchor::TopLeft, Gravity::BottomRight);
    positioner.set_offset(150, 160);
    c.map_popup(&host.xdg_surface, &positioner, Format::Argb8888, MAGENTA);
    map_layer(&mut c, (120, 40), GREEN);
    let popup_inside = (h.x + 160, h.y + 165, 80, 30);
    let popup_outside = (h.x + 160, h.y + 205, 80, 30);
    let host_body = (h.x + 100, h.y + 60, 150, 80);
    // Below the panel's X-ray tag (22 px high).
    let panel = (1280 - 110, 720 - 14, 100, 10);

    let before = wait_for(TIMEOUT, "everything on screen", || {
        let img = s.screenshot();
        (count(&img, popup_outside, |p| p == rgb(MAGENTA)) == 80 * 30).then_some(img)
    });
    let all = |img: &Image, area: Area, colour: [u8; 3]| {
        let n = count(img, area, |p| near(p, colour, 3));
        let seen = dominant(img, area);
        assert_eq!(
            n,
            (area.2 * area.3) as usize,
            "{area:?} is not {colour:?} everywhere (mostly {seen:?})"
        )
    };
    all(&before, host_body, rgb(BLUE));
    all(&before, popup_inside, rgb(MAGENTA));
    all(&before, panel, rgb(GREEN));

    s.key("super+x");
    let on = wait_for(TIMEOUT, "the X-ray tint", || {
        let img = s.screenshot();
        (count(&img, host_body, |p| near(p, tinted(rgb(BLUE), HOST), 3)) > 0).then_some(img)
    });
    // One tint over every pixel of each surface, in its owner's colour.
    all(&on, host_body, tinted(rgb(BLUE), HOST));
    all(&on, popup_inside, tinted(rgb(MAGENTA), HOST));
    all(&on, popup_outside, tinted(rgb(MAGENTA), HOST));
    all(&on, panel, tinted(rgb(GREEN), HOST));
    // Owner tags in the corners: [host] in grey, [ledger] in the capsule's colour, white text.
    for (w, colour) in [(&h, HOST), (&ledger, capsule_rgb("ledger"))] {
        let tag = (w.x, w.y, 40, 22);
        assert_eq!(dominant(&on, tag), colour, "tag of {w:?}");
        assert!(
            count(&on, tag, |p| p.iter().all(|&v| v > 220)) > 20,
            "tag text of {w:?}"
        );
    }
    let panel_tag = (1280 - 120, 720 - 40, 40, 22);
    assert_eq!(dominant(&on, panel_tag), HOST);

    s.key("super+x");
    let off = wait_for(TIMEOUT, "the X-ray tint gone", || {
        let img = s.screenshot();
        (count(&img, host_body, |p| p == rgb(BLUE)) == 150 * 80).then_some(img)
    });
    all(&off, popup_outside, rgb(MAGENTA));
    all(&off, panel, rgb(GREEN));
    assert_eq!(count(&off, (h.x, h.y, 40, 22), |p| p == HOST), 0);
    // The capsule's window, drawn as one element again, shows its content where its tag was.
    assert_ne!(
        dominant(&off, (ledger.x, ledger.y, 40, 22)),
        capsule_rgb("ledger")
    );
}

fn button(s: &Session, state: ButtonState) {
    s.request(&Request::PointerButton {
        button: PointerButton::Left,
        state: Some(state),
    })
    .expect("pointer_button");
}

/// The (evdev code, pressed) keys `app` was sent since `mark`.
fn keys_since(app: &App, mark: usize) -> Vec<(u32, bool)> {
    key_events(app.c.events_since(mark))
        .into_iter()
        .map(|(k, pressed, _)| (k, pressed))
        .collect()
}

/// Type a plain `x` and wait until it arrives: everything sent before it has arrived too.
fn type_x_and_collect(s: &Session, app: &mut App, mark: usize) -> Vec<(u32, bool)> {
    s.type_text("x");
    app.c.dispatch_until("the typed x", |st| {
        key_events(&st.events[mark..])
            .iter()
            .any(|&(k, pressed, _)| k == KEY_X && !pressed)
            .then_some(())
    });
    keys_since(app, mark)
}

#[test]
fn secure_keys_never_reach_the_focused_client() {
    let s = Session::start(&[]);
    let mut app = App::new(&s, "typist", 300, 200);
    app.c.keyboard_enter(0, &app.win.surface);
    let body = {
        let w = app.info(&s);
        (w.x + 50, w.y + 40, 100, 100)
    };

    let mark = app.c.mark();
    s.key("super+x");
    s.key("super+shift+c");
    s.key("super+shift+v");
    let keys = type_x_and_collect(&s, &mut app, mark);
    assert_eq!(
        keys.iter().filter(|k| k.0 == KEY_X).count(),
        2,
        "only the typed x (press and release) arrives: {keys:?}"
    );
    assert!(!keys.iter().any(|k| k.0 == KEY_C || k.0 == KEY_V), "{keys:?}");
    let img = s.screenshot();
    assert_eq!(
        count(&img, body, |p| near(p, tinted(rgb(APP_FILL), HOST), 3)),
        100 * 100,
        "Super+X turned X-ray on"
    );

    // With keyboard shortcuts inhibited (the client is active), Super+X still never arrives.
    let log = PLog::default();
    let manager: ZwpKeyboardShortcutsInhibitManagerV1 = app.c.bind_plogged(&log, 1..=1);
    let mark = log.mark();
    manager.inhibit_shortcuts(&app.win.surface, &app.dev.seat, &app.c.qh, log.clone());
    app.c.wait_plog(&log, mark, "the inhibitor active", |_, e| {
        matches!(e, P::InhibitActive).then_some(())
    });
    let mark = app.c.mark();
    s.key("super+x");
    let keys = type_x_and_collect(&s, &mut app, mark);
    assert_eq!(keys.iter().filter(|k| k.0 == KEY_X).count(), 2, "{keys:?}");
    let img = s.screenshot();
    assert_eq!(
        count(&img, body, |p| p == rgb(APP_FILL)),
        100 * 100,
        "Super+X turned X-ray off"
    );
    // The keyboard never left the client on the way.
    assert!(!app
        .c
        .events_since(mark)
        .iter()
        .any(|e| matches!(e.kind, Ev::Keyboard(wl_keyboard::Event::Leave { .. }))));
}

/// Ask for an activation token with an input serial; returns the token string.
fn token(app: &mut App, act: &XdgActivationV1, serial: u32) -> String {
    let mark = app.log.mark();
    let t = act.get_activation_token(&app.c.qh, app.log.clone());
    t.set_serial(serial, &app.dev.seat);
    t.set_surface(&app.win.surface);
    t.commit();
    let id = t.id();
    app.c
        .wait_log(&app.log, mark, "xdg_activation_token_v1.done", |o, e| match e {
            In::Token(t) if *o == id => Some(t.clone()),
            _ => None,
        })
}

#[test]
fn a_background_client_cannot_take_focus_with_a_token() {
    let s = Session::start(&[]);
    let mut alpha = App::new(&s, "alpha", 300, 200);
    let mut beta = App::new(&s, "beta", 300, 200);
    assert_eq!(focused_title(&s), "beta");
    // Alpha was told when it lost focus: that serial is beta's enter (Smithay sends both with
    // one serial), so it is as recent as the focus itself.
    let leave = alpha.c.dispatch_until("wl_keyboard.leave", |st| {
        st.events.iter().find_map(|e| match e.kind {
            Ev::Keyboard(wl_keyboard::Event::Leave { serial, .. }) => Some(serial),
            _ => None,
        })
    });
    let act_alpha: XdgActivationV1 = alpha.c.bind_logged(&alpha.log, 1..=1);
    for guess in [leave, leave.wrapping_add(1), leave.wrapping_add(100_000)] {
        let t = token(&mut alpha, &act_alpha, guess);
        act_alpha.activate(t, &alpha.win.surface);
        alpha.c.roundtrip();
        assert_eq!(focused_title(&s), "beta", "alpha took focus with serial {guess}");
    }

    // A token the focused client makes from its own input is good, also in another's hands.
    let mark = beta.c.mark();
    s.type_text("k");
    let serial = beta.c.dispatch_until("a key event", |st| {
        key_events(&st.events[mark..]).first().map(|k| k.2)
    });
    let act_beta: XdgActivationV1 = beta.c.bind_logged(&beta.log, 1..=1);
    let t = token(&mut beta, &act_beta, serial);
    act_alpha.activate(t, &alpha.win.surface);
    alpha.c.roundtrip();
    wait_for(TIMEOUT, "alpha focused by beta's token", || {
        (focused_title(&s) == "alpha").then_some(())
    });
}

/// Whether the compositor refused this client with wl_display.error(no_memory): ENOMEM from
/// libwayland, a protocol error with code 2 from the Rust backend.
fn refused_with_no_memory(c: &mut Client) -> bool {
    let _ = c.conn.flush();
    let deadline = std::time::Instant::now() + TIMEOUT;
    while std::time::Instant::now() < deadline {
        if let Some(err) = c.conn.protocol_error() {
            return err.code == 2;
        }
        let Some(guard) = c.conn.prepare_read() else {
            continue;
        };
        let mut pfd = libc::pollfd {
            fd: guard.connection_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        if unsafe { libc::poll(&mut pfd, 1, 200) } <= 0 {
            continue;
        }
        match guard.read() {
            Ok(_) => {}
            Err(WaylandError::Io(e)) if e.raw_os_error() == Some(libc::ENOMEM) => return true,
            Err(WaylandError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(WaylandError::Protocol(err)) => return err.code == 2,
            Err(e) => panic!("not refused with no_memory: {e}"),
        }
    }
    false
}

#[test]
fn the_window_limit_comes_from_the_config() {
    let config = std::env::temp_dir().join(format!("nexq-trusted-limits-{}.toml", std::process::id()));
    std::fs::write(&config, "[limits]\nwindows = 2\n").expect("write config");
    let mut s = Session::start(&["--config", config.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_file(&config);
    let mut c = Client::connect(&s.socket_path());
    c.map_toplevel("one", 200, 100, Format::Argb8888, BLUE);
    c.map_toplevel("two", 200, 100, Format::Argb8888, BLUE);
    window(&s, "two");
    let _third = c.create_toplevel("three");
    assert!(refused_with_no_memory(&mut c), "the third window was not refused");
    wait_for(TIMEOUT, "the flooding client's windows gone", || {
        s.windows().is_empty().then_some(())
    });
    s.assert_alive();
    let mut other = Client::connect(&s.socket_path());
    other.map_toplevel("after", 200, 100, Format::Argb8888, BLUE);
    assert!(window(&s, "after").focused);
}
