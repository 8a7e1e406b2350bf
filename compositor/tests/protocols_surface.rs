//! Surface-level protocols seen from a real wayland-client connection: presentation-time,
//! fractional-scale, xdg-decoration, the xdg-shell configure sequence and popup placement,
//! layer-shell, single-pixel buffers with viewporter, and wl_shm formats. Every test asserts on
//! events the client receives or on pixels of a screenshot, so a global that ignores its
//! requests fails here.

mod common;

use common::{
    client::{Client, Ev, Event, Toplevel},
    Image, Session,
};
use exo_shell::control::WindowInfo;
use std::time::Duration;
use wayland_client::{
    protocol::{
        wl_buffer::WlBuffer, wl_callback::WlCallback, wl_keyboard, wl_output::WlOutput, wl_shm::Format,
        wl_subcompositor::WlSubcompositor, wl_surface, wl_surface::WlSurface,
    },
    Proxy,
};
use wayland_protocols::{
    wp::{
        fractional_scale::v1::client::{
            wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1, wp_fractional_scale_v1,
        },
        presentation_time::client::{
            wp_presentation::{self, WpPresentation},
            wp_presentation_feedback::{self, WpPresentationFeedback},
        },
        single_pixel_buffer::v1::client::wp_single_pixel_buffer_manager_v1::WpSinglePixelBufferManagerV1,
        viewporter::client::wp_viewporter::WpViewporter,
    },
    xdg::{
        decoration::zv1::client::{
            zxdg_decoration_manager_v1::ZxdgDecorationManagerV1,
            zxdg_toplevel_decoration_v1::{self, Mode as DecorationMode},
        },
        shell::client::{xdg_positioner, xdg_surface},
    },
};
use wayland_protocols_wlr::layer_shell::v1::client::{
    zwlr_layer_shell_v1::{Layer, ZwlrLayerShellV1},
    zwlr_layer_surface_v1::{self, Anchor, KeyboardInteractivity, ZwlrLayerSurfaceV1},
};

const TIMEOUT: Duration = Duration::from_secs(10);
const OUTPUT_W: i32 = 1280;
/// Title bar (24) plus top border (2) above a window's content.
const FRAME_TOP: i32 = 26;

fn connect(session: &Session) -> Client {
    Client::connect(&session.socket_path())
}

/// The RGB a 0xAARRGGBB pixel value shows as on an opaque background.
fn rgb(pixel: u32) -> [u8; 3] {
    [(pixel >> 16) as u8, (pixel >> 8) as u8, pixel as u8]
}

/// The mapped window with this title, once the compositor lists it.
fn window(session: &Session, title: &str) -> WindowInfo {
    common::wait_for(TIMEOUT, &format!("window {title:?}"), || {
        session.windows().into_iter().find(|w| w.title == title)
    })
}

fn assert_filled(shot: &Image, pixel: u32, (x, y, w, h): (i32, i32, i32, i32), what: &str) {
    let wrong = shot.count_not(rgb(pixel), x, y, w, h);
    let sample = shot.pixel((x + w / 2) as u32, (y + h / 2) as u32);
    assert_eq!(
        wrong,
        0,
        "{what}: {wrong} pixels of {w}x{h} at ({x},{y}) are not {:?}; centre is {sample:?}",
        rgb(pixel)
    );
}

fn clock_monotonic_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to write into.
    assert_eq!(unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) }, 0);
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// What a wp_presentation_feedback ended with.
#[derive(Debug)]
enum Feedback {
    Presented {
        time_ns: u128,
        refresh_ns: u32,
        seq: u64,
    },
    Discarded,
}

fn wait_feedback(c: &mut Client, feedback: &WpPresentationFeedback) -> Feedback {
    let id = feedback.id();
    c.wait_event(0, "presented or discarded", |e| match e.kind {
        _ if e.object != id => None,
        Ev::Feedback(wp_presentation_feedback::Event::Presented {
            tv_sec_hi,
            tv_sec_lo,
            tv_nsec,
            refresh,
            seq_hi,
            seq_lo,
            ..
        }) => Some(Feedback::Presented {
            time_ns: ((tv_sec_hi as u128) << 32 | tv_sec_lo as u128) * 1_000_000_000 + tv_nsec as u128,
            refresh_ns: refresh,
            seq: (seq_hi as u64) << 32 | seq_lo as u64,
        }),
        Ev::Feedback(wp_presentation_feedback::Event::Discarded) => Some(Feedback::Discarded),
        _ => None,
    })
}

/// At 1 Hz a frame held back by the frame timer waits about a second, so the half-second bound
/// below tells "shown at once" from "shown at the next tick" without depending on machine speed.
#[test]
fn a_new_windows_first_buffer_is_not_held_back_by_frames_that_changed_nothing() {
    let session = Session::start(&["--refresh", "1"]);
    // The start-up frame is drawn as the compositor starts (not when the first client event
    // arrives); after one interval its timer has run out.
    std::thread::sleep(Duration::from_millis(1100));
    let mut c = connect(&session);
    let win = c.create_toplevel("prompt");
    // The empty initial commit is rendered and changes nothing on screen.
    c.initial_configure(&win);
    c.roundtrip();
    let buffer = c.shm_buffer(120, 80, Format::Xrgb8888, 0xff_40_90_d0);
    let callback = win.surface.frame(&c.qh, ());
    let start = std::time::Instant::now();
    c.attach_commit(&win.surface, Some(&buffer));
    let id = callback.id();
    c.wait_event(0, "the first buffer's frame callback", |e| {
        (e.object == id && matches!(e.kind, Ev::Callback(_))).then_some(())
    });
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(500),
        "the first buffer waited {took:?} for its frame (a 1 Hz frame tick is 1 s)"
    );
}

#[test]
fn presentation_feedback_is_presented_at_60hz_on_the_output() {
    let session = Session::start(&[]);
    let mut c = connect(&session);
    let presentation: WpPresentation = c.bind(1..=1);
    let output: WlOutput = c.bind(1..=4);
    c.roundtrip();
    let clock = c.wait_event(0, "wp_presentation.clock_id", |e| match e.kind {
        Ev::Presentation(wp_presentation::Event::ClockId { clk_id }) => Some(clk_id),
        _ => None,
    });
    assert_eq!(
        clock,
        libc::CLOCK_MONOTONIC as u32,
        "timestamps are on CLOCK_MONOTONIC"
    );

    let win = c.create_toplevel("presented");
    c.initial_configure(&win);
    let mut seqs = Vec::new();
    for pixel in [0xff_30_80_c0, 0xff_c0_80_30] {
        let buffer = c.shm_buffer(200, 150, Format::Argb8888, pixel);
        let feedback = presentation.feedback(&win.surface, &c.qh, ());
        let before = clock_monotonic_ns();
        c.attach_commit(&win.surface, Some(&buffer));
        let outcome = wait_feedback(&mut c, &feedback);
        let after = clock_monotonic_ns();
        let Feedback::Presented {
            time_ns,
            refresh_ns,
            seq,
        } = outcome
        else {
            panic!("frame with a new buffer was discarded, not presented");
        };
        assert!(
            (16_000_000..=17_000_000).contains(&refresh_ns),
            "refresh {refresh_ns} ns is not ~16.6 ms (60 Hz)"
        );
        assert!(
            before <= time_ns && time_ns <= after,
            "presentation time {time_ns} is outside the commit window {before}..{after}"
        );
        let id = feedback.id();
        let synced: Vec<_> = c
            .events_since(0)
            .iter()
            .filter(|e| e.object == id)
            .filter_map(|e| match &e.kind {
                Ev::Feedback(wp_presentation_feedback::Event::SyncOutput { output }) => Some(output.id()),
                _ => None,
            })
            .collect();
        assert_eq!(synced, vec![output.id()], "sync_output names our wl_output once");
        seqs.push(seq);
    }
    assert!(
        seqs[1] > seqs[0],
        "the second frame has a later sequence number: {seqs:?}"
    );
}

/// wp_fractional_scale_v1.preferred_scale for a new surface, in 120ths.
/// Waits for `surface`'s wl_surface.enter naming `output`, recorded after `mark`.
fn wait_enter(c: &mut Client, mark: usize, surface: &WlSurface, output: &WlOutput, what: &str) {
    let id = surface.id();
    c.wait_event(mark, what, |e| match &e.kind {
        Ev::Surface(wl_surface::Event::Enter { output: o }) if e.object == id && o == output => Some(()),
        _ => None,
    });
}

/// A window redrawing in place does not make the compositor recompute which outputs its
/// surfaces are on. A desynchronised subsurface that gets its first buffer while the window
/// redraws in place must still get its wl_surface.enter (clients pick their buffer scale from
/// it).
#[test]
fn a_subsurface_shown_while_its_window_redraws_in_place_enters_the_output() {
    let session = Session::start(&[]);
    let mut c = connect(&session);
    let output: WlOutput = c.bind(1..=4);
    c.roundtrip();
    let win = c.map_toplevel("enters", 200, 150, Format::Xrgb8888, 0xff_20_40_60);
    wait_enter(&mut c, 0, &win.surface, &output, "the window's enter");
    let in_place = |c: &mut Client, pixel: u32| {
        let callback = win.surface.frame(&c.qh, ());
        let buffer = c.shm_buffer(200, 150, Format::Xrgb8888, pixel);
        c.attach_commit(&win.surface, Some(&buffer));
        let id = callback.id();
        c.wait_event(0, "an in-place frame", |e| {
            (e.object == id && matches!(e.kind, Ev::Callback(_))).then_some(())
        });
    };
    in_place(&mut c, 0xff_30_50_70);
    let subcompositor: WlSubcompositor = c.bind(1..=1);
    let sub = c.surface();
    let subsurface = subcompositor.get_subsurface(&sub, &win.surface, &c.qh, ());
    subsurface.set_position(20, 20);
    subsurface.set_desync();
    // The window's next commit links the subsurface, which has no buffer yet.
    in_place(&mut c, 0xff_40_60_80);
    in_place(&mut c, 0xff_50_70_90);
    let mark = c.mark();
    let buffer = c.shm_buffer(50, 40, Format::Argb8888, 0xff_c0_30_30);
    c.attach_commit(&sub, Some(&buffer));
    wait_enter(&mut c, mark, &sub, &output, "the subsurface's enter");
}

fn preferred_scale(args: &[&str]) -> u32 {
    let session = Session::start(args);
    let mut c = connect(&session);
    let manager: WpFractionalScaleManagerV1 = c.bind(1..=1);
    let win = c.create_toplevel("scaled");
    let scale = manager.get_fractional_scale(&win.surface, &c.qh, ());
    c.initial_configure(&win);
    let id = scale.id();
    c.wait_event(0, "preferred_scale", |e| match e.kind {
        Ev::FractionalScale(wp_fractional_scale_v1::Event::PreferredScale { scale }) if e.object == id => {
            Some(scale)
        }
        _ => None,
    })
}

#[test]
fn fractional_scale_follows_the_output_scale() {
    assert_eq!(preferred_scale(&["--scale", "1.5"]), 180, "1.5 is 180/120");
}

#[test]
fn fractional_scale_defaults_to_one() {
    assert_eq!(preferred_scale(&[]), 120, "scale 1 is 120/120");
}

fn decoration_modes(c: &Client, deco: &impl Proxy) -> Vec<DecorationMode> {
    let id = deco.id();
    c.events_since(0)
        .iter()
        .filter(|e| e.object == id)
        .filter_map(|e| match &e.kind {
            Ev::Decoration(zxdg_toplevel_decoration_v1::Event::Configure { mode }) => mode.into_result().ok(),
            _ => None,
        })
        .collect()
}

#[test]
fn xdg_decoration_is_always_server_side() {
    let session = Session::start(&[]);
    let mut c = connect(&session);
    let manager: ZxdgDecorationManagerV1 = c.bind(1..=1);
    let win = c.create_toplevel("decorated");
    let deco = manager.get_toplevel_decoration(&win.toplevel, &c.qh, ());
    deco.set_mode(DecorationMode::ClientSide);
    let mark = c.mark();
    win.surface.commit();
    let serial = c.wait_configure(mark, &win.xdg_surface);
    assert_eq!(
        decoration_modes(&c, &deco),
        vec![DecorationMode::ServerSide],
        "the initial configure carries the enforced server-side mode"
    );
    win.xdg_surface.ack_configure(serial);
    let buffer = c.shm_buffer(200, 100, Format::Argb8888, 0xff_40_40_40);
    c.attach_commit(&win.surface, Some(&buffer));
    c.roundtrip();
    window(&session, "decorated");

    // Asking again after mapping must be answered with a configure, still server-side.
    let mark = c.mark();
    deco.set_mode(DecorationMode::ClientSide);
    c.wait_configure(mark, &win.xdg_surface);
    let modes = decoration_modes(&c, &deco);
    assert!(
        modes.iter().all(|m| *m == DecorationMode::ServerSide),
        "client-side was granted: {modes:?}"
    );
}

#[test]
fn xdg_shell_configure_sequence_and_activation() {
    let session = Session::start(&[]);
    let mut c = connect(&session);
    let first = c.create_toplevel("first");
    c.roundtrip();
    let early = c.events_since(0).iter().any(|e| {
        e.object == first.xdg_surface.id()
            && matches!(e.kind, Ev::XdgSurface(xdg_surface::Event::Configure { .. }))
    });
    assert!(!early, "configure sent before the initial commit");
    c.initial_configure(&first);

    let mark = c.mark();
    let buffer = c.shm_buffer(300, 200, Format::Argb8888, 0xff_20_60_a0);
    c.attach_commit(&first.surface, Some(&buffer));
    let activated = c.wait_toplevel_configure(mark, &first.toplevel, "first activated", |t| t.activated());
    assert_eq!(
        (activated.width, activated.height),
        (0, 0),
        "the layout leaves the size to the client"
    );
    let info = window(&session, "first");
    assert_eq!((info.width, info.height), (300, 200), "the mapped size is kept");

    let mark = c.mark();
    let second = c.map_toplevel("second", 300, 200, Format::Argb8888, 0xff_a0_60_20);
    c.wait_toplevel_configure(mark, &second.toplevel, "second activated", |t| t.activated());
    c.wait_toplevel_configure(mark, &first.toplevel, "first deactivated", |t| !t.activated());

    let windows = session.windows();
    let focused: Vec<_> = windows
        .iter()
        .filter(|w| w.focused)
        .map(|w| w.title.as_str())
        .collect();
    assert_eq!(focused, vec!["second"], "windows: {windows:?}");
}

const PARENT: u32 = 0xff_20_70_40;
const POPUP: u32 = 0xff_e0_20_c0;

#[test]
fn popup_is_placed_by_its_positioner_and_kept_on_screen() {
    use xdg_positioner::{Anchor as A, ConstraintAdjustment as Adjust, Gravity as G};
    let session = Session::start(&[]);
    let mut c = connect(&session);
    let parent = c.map_toplevel("parent", 300, 200, Format::Argb8888, PARENT);
    let content = window(&session, "parent");

    let positioner = c.positioner((100, 50), (10, 10, 20, 20), A::BottomRight, G::BottomRight);
    let (_popup, conf) = c.map_popup(&parent.xdg_surface, &positioner, Format::Argb8888, POPUP);
    assert_eq!((conf.x, conf.y, conf.width, conf.height), (30, 30, 100, 50));
    let shot = session.screenshot();
    let (px, py) = (content.x + 30, content.y + 30);
    assert_filled(&shot, POPUP, (px, py, 100, 50), "popup");
    assert_eq!(
        shot.pixel((px - 1) as u32, py as u32)[..3],
        rgb(PARENT),
        "left of the popup is the parent"
    );
    assert_eq!(
        shot.pixel(px as u32, (py - 1) as u32)[..3],
        rgb(PARENT),
        "above the popup is the parent"
    );

    // Anchored near the parent's right edge, a 600 px wide popup would cross the output's edge.
    let wide = |c: &Client, adjust: Adjust| {
        let p = c.positioner((600, 50), (270, 10, 20, 20), A::BottomRight, G::BottomRight);
        p.set_constraint_adjustment(adjust);
        p
    };
    assert!(
        content.x + 290 + 600 > OUTPUT_W,
        "the unadjusted popup must overflow: {content:?}"
    );

    let (_slid, slid) = c.map_popup(
        &parent.xdg_surface,
        &wide(&c, Adjust::SlideX),
        Format::Argb8888,
        POPUP,
    );
    assert_eq!(slid.y, 30, "sliding is horizontal only");
    assert!(
        content.x + slid.x + slid.width <= OUTPUT_W,
        "slid popup leaves the output: {slid:?}"
    );
    assert_eq!(
        content.x + slid.x + slid.width,
        OUTPUT_W,
        "sliding moves just far enough"
    );
    let shot = session.screenshot();
    assert_filled(
        &shot,
        POPUP,
        (OUTPUT_W - 20, content.y + 35, 20, 20),
        "slid popup at the right edge",
    );

    let (_flipped, flipped) = c.map_popup(
        &parent.xdg_surface,
        &wide(&c, Adjust::FlipX),
        Format::Argb8888,
        POPUP,
    );
    assert_eq!(
        (flipped.x, flipped.y),
        (270 - 600, 30),
        "flipped to the anchor rect's left side"
    );
    assert!(
        content.x + flipped.x >= 0,
        "flipped popup leaves the output: {flipped:?}"
    );
    let shot = session.screenshot();
    assert_filled(
        &shot,
        POPUP,
        (content.x + flipped.x, content.y + 30, 20, 50),
        "flipped popup left of the parent",
    );
}

/// Create a layer surface, ack its first configure, attach a buffer of the configured size.
/// Returns the surface, its role object and the configured size.
fn map_layer(
    c: &mut Client,
    shell: &ZwlrLayerShellV1,
    layer: Layer,
    setup: impl FnOnce(&ZwlrLayerSurfaceV1),
    pixel: u32,
) -> (WlSurface, ZwlrLayerSurfaceV1, (u32, u32)) {
    let surface = c.surface();
    let layer_surface = shell.get_layer_surface(&surface, None, layer, "nexq-test".into(), &c.qh, ());
    setup(&layer_surface);
    let mark = c.mark();
    surface.commit();
    let id = layer_surface.id();
    let (serial, w, h) = c.wait_event(mark, "layer surface configure", |e| match e.kind {
        Ev::LayerSurface(zwlr_layer_surface_v1::Event::Configure {
            serial,
            width,
            height,
        }) if e.object == id => Some((serial, width, height)),
        _ => None,
    });
    layer_surface.ack_configure(serial);
    let buffer = c.shm_buffer(w as i32, h as i32, Format::Argb8888, pixel);
    c.attach_commit(&surface, Some(&buffer));
    c.roundtrip();
    (surface, layer_surface, (w, h))
}

fn keyboard_enter(e: &Event, surface: &WlSurface) -> Option<()> {
    match &e.kind {
        Ev::Keyboard(wl_keyboard::Event::Enter { surface: s, .. }) if s == surface => Some(()),
        _ => None,
    }
}

#[test]
fn layer_shell_exclusive_zone_and_keyboard() {
    const BAR: u32 = 0xff_30_60_c0;
    const OVERLAY: u32 = 0xff_c0_c0_20;
    let session = Session::start(&[]);
    let mut c = connect(&session);
    let _seat = c.seat_devices();
    let shell: ZwlrLayerShellV1 = c.bind(1..=4);

    let (_bar, _bar_role, size) = map_layer(
        &mut c,
        &shell,
        Layer::Top,
        |l| {
            l.set_anchor(Anchor::Top | Anchor::Left | Anchor::Right);
            l.set_size(0, 40);
            l.set_exclusive_zone(40);
        },
        BAR,
    );
    assert_eq!(size, (OUTPUT_W as u32, 40), "the bar spans the output's width");
    let shot = session.screenshot();
    // The cursor sits at (0,0); look right of it.
    assert_filled(&shot, BAR, (100, 0, OUTPUT_W - 100, 40), "bar");
    assert_ne!(shot.pixel(640, 40)[..3], rgb(BAR), "the bar is 40 px tall");

    // Taller than what is left: the layout clamps it into the area below the bar.
    let mark = c.mark();
    let win: Toplevel = c.map_toplevel("below", 400, 700, Format::Argb8888, 0xff_80_80_80);
    let info = window(&session, "below");
    assert!(
        info.y >= 40 + FRAME_TOP,
        "content at y={} overlaps the bar: {info:?}",
        info.y
    );
    assert!(info.y + info.height <= 720, "content leaves the output: {info:?}");
    let conf = c.wait_toplevel_configure(mark, &win.toplevel, "a configure to the clamped size", |t| {
        t.height == info.height
    });
    assert!(
        conf.height <= 720 - 40 - FRAME_TOP - 2,
        "configured height {} ignores the bar",
        conf.height
    );
    c.wait_event(0, "keyboard enter on the toplevel", |e| {
        keyboard_enter(e, &win.surface)
    });

    let mark = c.mark();
    let (overlay, _overlay_role, _) = map_layer(
        &mut c,
        &shell,
        Layer::Overlay,
        |l| {
            l.set_size(200, 100);
            l.set_keyboard_interactivity(KeyboardInteractivity::Exclusive);
        },
        OVERLAY,
    );
    c.wait_event(mark, "keyboard enter on the exclusive layer surface", |e| {
        keyboard_enter(e, &overlay)
    });
    let shot = session.screenshot();
    assert_filled(
        &shot,
        OVERLAY,
        // Without an exclusive zone of its own it is centred in the area the bar leaves.
        (OUTPUT_W / 2 - 100, 40 + (680 - 100) / 2, 200, 100),
        "centred overlay",
    );
}

#[test]
fn a_viewport_source_moved_without_a_new_buffer_is_drawn() {
    let session = Session::start(&[]);
    let mut c = connect(&session);
    let viewporter: WpViewporter = c.bind(1..=1);
    let win = c.create_toplevel("viewport-source");
    let viewport = viewporter.get_viewport(&win.surface, &c.qh, ());
    viewport.set_source(0.0, 0.0, 100.0, 100.0);
    c.initial_configure(&win);
    // Left half red, right half blue.
    let buffer = c.shm_buffer_with(200, 100, Format::Xrgb8888, |x, _| {
        if x < 100 {
            0xff_ff_00_00
        } else {
            0xff_00_00_ff
        }
    });
    c.attach_commit(&win.surface, Some(&buffer));
    c.roundtrip();
    let info = window(&session, "viewport-source");
    assert_eq!(
        (info.width, info.height),
        (100, 100),
        "the source's size is the size"
    );
    assert_filled(
        &session.screenshot(),
        0xff_ff_00_00,
        (info.x, info.y, 100, 100),
        "left half",
    );
    // The same buffer, the same size: only the part of the buffer shown changes, and the
    // client damages nothing.
    viewport.set_source(100.0, 0.0, 100.0, 100.0);
    win.surface.commit();
    c.roundtrip();
    assert_filled(
        &session.screenshot(),
        0xff_00_00_ff,
        (info.x, info.y, 100, 100),
        "right half",
    );
}

/// A toplevel titled `title` showing a 64x64 buffer of `pixel`, mapped and drawn.
fn window_showing(session: &Session, title: &str, pixel: u32) -> (Client, Toplevel, WlBuffer) {
    let mut c = connect(session);
    let win = c.create_toplevel(title);
    c.initial_configure(&win);
    let buffer = c.shm_buffer(64, 64, Format::Xrgb8888, pixel);
    c.attach_commit(&win.surface, Some(&buffer));
    c.roundtrip();
    (c, win, buffer)
}

/// Attaches `buffer`, damages all of it and commits, without flushing.
fn attach_queued(surface: &WlSurface, buffer: &WlBuffer) {
    surface.attach(Some(buffer), 0, 0);
    surface.damage_buffer(0, 0, 64, 64);
    surface.commit();
}

/// Whether `e` is the event `callback` is done with.
fn is_done(e: &Event, callback: &WlCallback) -> bool {
    e.object == callback.id() && matches!(e.kind, Ev::Callback(_))
}

/// Waits (from `mark`) until `callback` is done.
fn wait_done(c: &mut Client, mark: usize, callback: &WlCallback, what: &str) {
    c.wait_event(mark, what, |e| is_done(e, callback).then_some(()));
}

/// The wl_buffer.release events `buffer` got since `mark`.
fn releases(c: &Client, mark: usize, buffer: &WlBuffer) -> usize {
    c.events_since(mark)
        .iter()
        .filter(|e| e.object == buffer.id() && matches!(e.kind, Ev::Buffer(_)))
        .count()
}

/// Asserts that `title`'s 64x64 content is filled with `pixel`.
fn assert_shows(session: &Session, title: &str, pixel: u32, what: &str) {
    let info = window(session, title);
    assert_filled(&session.screenshot(), pixel, (info.x, info.y, 64, 64), what);
}

/// A commit that replaces a buffer does not release the old one by itself: the release goes out
/// with the next frame, in the same write as its callbacks. A wl_display.sync sent in the same
/// write as the commit is answered first; the release follows, and the frame callback after it.
#[test]
fn a_replaced_buffer_is_released_with_the_next_frame() {
    let session = Session::start(&[]);
    let (mut c, win, first) = window_showing(&session, "replaced-buffer", 0xff_ff_00_00);
    let second = c.shm_buffer(64, 64, Format::Xrgb8888, 0xff_00_00_ff);
    let mark = c.mark();
    // attach, damage, frame, commit and sync in one write: the compositor reads them together.
    win.surface.attach(Some(&second), 0, 0);
    win.surface.damage_buffer(0, 0, 64, 64);
    let frame = win.surface.frame(&c.qh, ());
    win.surface.commit();
    let sync = c.conn.display().sync(&c.qh, ());
    wait_done(&mut c, mark, &frame, "the frame callback");
    let events = c.events_since(mark);
    let at = |what: &dyn Fn(&Event) -> bool| events.iter().position(what);
    let at_sync = at(&|e| is_done(e, &sync)).expect("the sync was answered");
    let at_frame = at(&|e| is_done(e, &frame)).expect("the frame callback");
    let at_release = at(&|e| e.object == first.id() && matches!(e.kind, Ev::Buffer(_)));
    assert!(
        at_release.is_some_and(|at| at_sync < at && at < at_frame),
        "the first buffer is released after the sync's answer and before the frame callback \
         (sync {at_sync}, release {at_release:?}, frame {at_frame}): {events:?}"
    );
    assert_eq!(
        releases(&c, mark, &second),
        0,
        "the buffer on screen is not released"
    );
    assert_shows(
        &session,
        "replaced-buffer",
        0xff_00_00_ff,
        "the second buffer is shown",
    );
}

/// A buffer replaced and then attached again before the next frame (A, B, A) is on screen: it is
/// not released with that frame, only once a later commit replaces it. B is released with the
/// frame.
#[test]
fn a_buffer_attached_again_before_the_frame_is_not_released_while_shown() {
    let session = Session::start(&[]);
    let (mut c, win, red) = window_showing(&session, "attached-again", 0xff_ff_00_00);
    let blue = c.shm_buffer(64, 64, Format::Xrgb8888, 0xff_00_00_ff);
    let green = c.shm_buffer(64, 64, Format::Xrgb8888, 0xff_00_ff_00);
    let mark = c.mark();
    // Red, blue and red again, all before a frame is drawn.
    attach_queued(&win.surface, &blue);
    attach_queued(&win.surface, &red);
    let frame = win.surface.frame(&c.qh, ());
    win.surface.commit();
    wait_done(&mut c, mark, &frame, "the frame callback");
    // One more frame, so that anything released with the first has arrived.
    let frame = win.surface.frame(&c.qh, ());
    win.surface.commit();
    wait_done(&mut c, mark, &frame, "the second frame callback");
    assert_eq!(
        releases(&c, mark, &red),
        0,
        "red is on screen: {:?}",
        c.events_since(mark)
    );
    assert_eq!(
        releases(&c, mark, &blue),
        1,
        "blue was replaced: {:?}",
        c.events_since(mark)
    );
    assert_shows(&session, "attached-again", 0xff_ff_00_00, "red is shown");
    // Red committed again, more often than MAX_COPIES: still shown, so still not released.
    for _ in 0..nexquelium::replaced::MAX_COPIES + 4 {
        attach_queued(&win.surface, &red);
    }
    let frame = win.surface.frame(&c.qh, ());
    win.surface.commit();
    wait_done(&mut c, mark, &frame, "the frame callback after red again");
    assert_eq!(
        releases(&c, mark, &red),
        0,
        "red, committed again, is still on screen"
    );
    // Green replaces red: red's two attachments are released with the next frame.
    let mark = c.mark();
    let frame = win.surface.frame(&c.qh, ());
    c.attach_commit(&win.surface, Some(&green));
    wait_done(&mut c, mark, &frame, "the frame callback after green");
    assert_eq!(
        releases(&c, mark, &red),
        2,
        "red, attached twice, is released twice once replaced"
    );
    assert_eq!(releases(&c, mark, &green), 0, "green is on screen");
}

/// A client that flips between two buffers many times before a frame, attaching each again
/// without waiting for its release, still gets one release per attachment, and the compositor
/// holds no more than `MAX_COPIES` references to one buffer: the oldest are released early.
#[test]
fn buffers_flipped_many_times_before_a_frame_are_held_a_bounded_number_of_times() {
    // 30 flips and the frame request fit in one 4-KiB write, so no frame falls between them.
    const FLIPS: usize = 30;
    let mut session = Session::start(&[]);
    let (mut c, win, red) = window_showing(&session, "flipped", 0xff_ff_00_00);
    let blue = c.shm_buffer(64, 64, Format::Xrgb8888, 0xff_00_00_ff);
    let mark = c.mark();
    for _ in 0..FLIPS {
        attach_queued(&win.surface, &blue);
        attach_queued(&win.surface, &red);
    }
    let frame = win.surface.frame(&c.qh, ());
    win.surface.commit();
    wait_done(&mut c, mark, &frame, "the frame callback");
    c.roundtrip();
    assert_eq!(
        releases(&c, mark, &blue),
        FLIPS,
        "every blue attachment was replaced"
    );
    assert_eq!(
        releases(&c, mark, &red),
        FLIPS - nexquelium::replaced::MAX_COPIES,
        "red is on screen: all but the newest MAX_COPIES of its replaced attachments are released"
    );
    assert_shows(&session, "flipped", 0xff_ff_00_00, "red is shown");
    session.assert_alive();
}

#[test]
fn single_pixel_buffer_scaled_by_viewporter() {
    let session = Session::start(&[]);
    let mut c = connect(&session);
    let spb: WpSinglePixelBufferManagerV1 = c.bind(1..=1);
    let viewporter: WpViewporter = c.bind(1..=1);
    let win = c.create_toplevel("single-pixel");
    let viewport = viewporter.get_viewport(&win.surface, &c.qh, ());
    viewport.set_destination(200, 100);
    c.initial_configure(&win);
    let red = spb.create_u32_rgba_buffer(u32::MAX, 0, 0, u32::MAX, &c.qh, ());
    c.attach_commit(&win.surface, Some(&red));
    c.roundtrip();
    let info = window(&session, "single-pixel");
    assert_eq!(
        (info.width, info.height),
        (200, 100),
        "the viewport's destination is the size"
    );
    let shot = session.screenshot();
    assert_filled(
        &shot,
        0xff_ff_00_00,
        (info.x, info.y, 200, 100),
        "single-pixel buffer",
    );
    assert_ne!(
        shot.pixel((info.x + 200) as u32, info.y as u32)[..3],
        [255, 0, 0],
        "red ends at 200 px"
    );
    assert_ne!(
        shot.pixel(info.x as u32, (info.y + 100) as u32)[..3],
        [255, 0, 0],
        "red ends at 100 px"
    );
}

#[test]
fn shm_xrgb_and_argb_both_draw() {
    // The X byte is zero on purpose: XRGB8888 must ignore it, not treat it as alpha.
    const XRGB: u32 = 0x00_20_c0_40;
    const ARGB: u32 = 0xff_c0_40_a0;
    let session = Session::start(&[]);
    let mut c = connect(&session);
    let formats: Vec<Format> = c
        .events_since(0)
        .iter()
        .filter_map(|e| match &e.kind {
            Ev::Shm(wayland_client::protocol::wl_shm::Event::Format { format }) => format.into_result().ok(),
            _ => None,
        })
        .collect();
    assert!(
        formats.contains(&Format::Xrgb8888) && formats.contains(&Format::Argb8888),
        "wl_shm formats {formats:?}"
    );
    c.map_toplevel("xrgb", 300, 200, Format::Xrgb8888, XRGB);
    c.map_toplevel("argb", 300, 200, Format::Argb8888, ARGB);
    let a = window(&session, "xrgb");
    let b = window(&session, "argb");
    let shot = session.screenshot();
    assert_filled(&shot, ARGB, (b.x, b.y, b.width, b.height), "ARGB8888 window");
    // The XRGB window's content where the ARGB window's frame does not cover it.
    let (bx0, by0, bx1, by1) = (b.x - 2, b.y - FRAME_TOP, b.x + b.width + 2, b.y + b.height + 2);
    let (mut visible, mut wrong) = (0, 0);
    for y in a.y..a.y + a.height {
        for x in a.x..a.x + a.width {
            if (bx0..bx1).contains(&x) && (by0..by1).contains(&y) {
                continue;
            }
            visible += 1;
            if shot.pixel(x as u32, y as u32)[..3] != rgb(XRGB) {
                wrong += 1;
            }
        }
    }
    assert!(visible > 1000, "the XRGB window is hidden: {a:?} under {b:?}");
    assert_eq!(
        wrong, 0,
        "{wrong} of {visible} visible XRGB8888 pixels have the wrong colour"
    );
}
