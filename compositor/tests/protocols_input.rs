//! Input protocols as a real `wayland-client` sees them, with input driven through the control
//! socket: wl_pointer and wl_keyboard, pointer constraints, relative pointer, cursor shape,
//! text-input-v3, xdg-activation, clipboard and primary selection, and frame pacing.

mod common;

use std::os::fd::AsFd;

use common::{
    client::{
        input::{
            click, focused_title, key_events, read_to_end, App, In, Log, Mimes, APP_FILL as FILL,
            SOURCE_BYTES,
        },
        Client, Ev, TIMEOUT,
    },
    wait_for, Session,
};
use wayland_client::{
    backend::ObjectId,
    protocol::{
        wl_callback, wl_data_device_manager::WlDataDeviceManager, wl_pointer, wl_shm, wl_surface::WlSurface,
    },
    Proxy, WEnum,
};
use wayland_protocols::{
    wp::{
        cursor_shape::v1::client::{
            wp_cursor_shape_device_v1::Shape, wp_cursor_shape_manager_v1::WpCursorShapeManagerV1,
        },
        pointer_constraints::zv1::client::{
            zwp_locked_pointer_v1::ZwpLockedPointerV1,
            zwp_pointer_constraints_v1::{Lifetime, ZwpPointerConstraintsV1},
        },
        presentation_time::client::{wp_presentation::WpPresentation, wp_presentation_feedback},
        primary_selection::zv1::client::zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1,
        relative_pointer::zv1::client::zwp_relative_pointer_manager_v1::ZwpRelativePointerManagerV1,
        text_input::zv3::client::zwp_text_input_manager_v3::ZwpTextInputManagerV3,
    },
    xdg::{activation::v1::client::xdg_activation_v1::XdgActivationV1, shell::client::xdg_toplevel},
};

/// The RGB of `App` windows (APP_FILL) in screenshots.
const FILL_RGB: [u8; 3] = [0x20, 0x80, 0xc0];
/// The default arrow is 20x28 with its hotspot at the top-left corner.
const ARROW: (i32, i32) = (20, 28);
const BTN_LEFT: u32 = 0x110;
const MIME: &str = "text/plain;charset=utf-8";

/// Wait until the constraint `id` is active (locked or confined).
fn wait_active(a: &mut App, id: ObjectId) {
    a.c.wait_log(&a.log, 0, "locked / confined", |o, e| {
        (*o == id && matches!(e, In::Locked | In::Confined)).then_some(())
    });
}

fn lock(a: &mut App) -> ZwpLockedPointerV1 {
    let constraints: ZwpPointerConstraintsV1 = a.c.bind_logged(&a.log, 1..=1);
    let (surface, pointer) = (&a.win.surface, &a.dev.pointer);
    let lock = constraints.lock_pointer(
        surface,
        pointer,
        None,
        Lifetime::Persistent,
        &a.c.qh,
        a.log.clone(),
    );
    wait_active(a, lock.id());
    lock
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn locked_pointer_gets_no_motion_and_the_cursor_stays() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "lock", 400, 300);
    let info = a.info(&s);
    let (x0, y0) = (info.x + 100, info.y + 100);
    a.enter_at(&s, x0 as f64, y0 as f64);
    let locked = lock(&mut a);
    let before = s.screenshot();
    assert!(
        before.count_not(FILL_RGB, x0, y0, ARROW.0, ARROW.1) > 20,
        "no arrow drawn at the pointer ({x0},{y0})"
    );

    let mark = a.c.mark();
    let targets = [(x0 + 120, y0 + 80), (x0 + 150, y0 - 60), (x0 - 60, y0 + 120)];
    for (x, y) in targets {
        s.pointer_move(x as f64, y as f64);
    }
    a.c.roundtrip();
    assert_eq!(
        a.c.pointer_motions(mark),
        vec![],
        "wl_pointer.motion while locked"
    );
    let after = s.screenshot();
    assert_eq!(
        after.count_changed(&before, x0 - 4, y0 - 4, ARROW.0 + 8, ARROW.1 + 8),
        0,
        "the arrow left the lock position"
    );
    for (x, y) in targets {
        assert_eq!(
            after.count_not(FILL_RGB, x, y, ARROW.0, ARROW.1),
            0,
            "cursor drawn at ({x},{y}) while locked"
        );
    }

    // Unlocked, the same move goes through: motion and the arrow at the new place.
    locked.destroy();
    a.c.roundtrip();
    let mark = a.c.mark();
    let (x, y) = targets[0];
    s.pointer_move(x as f64, y as f64);
    a.c.roundtrip();
    assert_eq!(
        a.c.pointer_motions(mark),
        vec![((x - info.x) as f64, (y - info.y) as f64)]
    );
    let moved = s.screenshot();
    assert!(
        moved.count_not(FILL_RGB, x, y, ARROW.0, ARROW.1) > 20,
        "arrow missing at ({x},{y})"
    );
    assert_eq!(
        moved.count_not(FILL_RGB, x0, y0, ARROW.0, ARROW.1),
        0,
        "arrow left behind"
    );
}

#[test]
fn confined_pointer_reports_motion_only_inside_the_surface() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "confine", 300, 200);
    let i = a.info(&s);
    a.enter_at(&s, (i.x + 50) as f64, (i.y + 50) as f64);
    let constraints: ZwpPointerConstraintsV1 = a.c.bind_logged(&a.log, 1..=1);
    let (surface, pointer) = (&a.win.surface, &a.dev.pointer);
    let confined = constraints.confine_pointer(
        surface,
        pointer,
        None,
        Lifetime::Persistent,
        &a.c.qh,
        a.log.clone(),
    );
    wait_active(&mut a, confined.id());

    let mark = a.c.mark();
    let targets = [
        (i.x + i.width + 100, i.y + 50),
        (i.x + 250, i.y + 150),
        (i.x - 100, i.y - 100),
        (0, 0),
        (i.x + 150, i.y - 10), // the title bar
        (i.x + 150, i.y + i.height + 40),
        (i.x + i.width - 1, i.y + i.height - 1),
        (1279, 719),
    ];
    for (x, y) in targets {
        s.pointer_move(x as f64, y as f64);
    }
    a.c.roundtrip();
    let seen = a.c.pointer_motions(mark);
    for inside in [(250.0, 150.0), ((i.width - 1) as f64, (i.height - 1) as f64)] {
        assert!(
            seen.contains(&inside),
            "move to {inside:?} not delivered: {seen:?}"
        );
    }
    let (w, h) = (i.width as f64, i.height as f64);
    assert!(
        seen.iter()
            .all(|(x, y)| (0.0..w).contains(x) && (0.0..h).contains(y)),
        "motion outside the {w}x{h} surface: {seen:?}"
    );
    let left =
        a.c.events_since(mark)
            .iter()
            .any(|e| matches!(e.kind, Ev::Pointer(wl_pointer::Event::Leave { .. })));
    assert!(!left, "wl_pointer.leave while confined");
}

#[test]
fn relative_pointer_reports_the_move_also_while_locked() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "relative", 600, 400);
    let i = a.info(&s);
    for (x, y) in [(600, 400), (650, 380), (700, 300)] {
        assert!(
            (i.x..i.x + i.width).contains(&x) && (i.y..i.y + i.height).contains(&y),
            "({x},{y}) not on {i:?}"
        );
    }
    let manager: ZwpRelativePointerManagerV1 = a.c.bind_logged(&a.log, 1..=1);
    let relative = manager.get_relative_pointer(&a.dev.pointer, &a.c.qh, a.log.clone());
    a.enter_at(&s, 600.0, 400.0);
    a.c.roundtrip();
    let id = relative.id();
    let deltas = |log: &Log, mark: usize| {
        log.find_all(mark, |o, e| match e {
            In::Relative(dx, dy, dx_raw, dy_raw) if *o == id => Some((*dx, *dy, *dx_raw, *dy_raw)),
            _ => None,
        })
    };

    let mark = a.log.mark();
    s.pointer_move(650.0, 380.0);
    a.c.roundtrip();
    assert_eq!(deltas(&a.log, mark), vec![(50.0, -20.0, 50.0, -20.0)]);

    lock(&mut a);
    let mark = a.log.mark();
    let events = a.c.mark();
    s.pointer_move(700.0, 300.0);
    a.c.roundtrip();
    assert_eq!(deltas(&a.log, mark), vec![(50.0, -80.0, 50.0, -80.0)]);
    assert_eq!(
        a.c.pointer_motions(events),
        vec![],
        "wl_pointer.motion while locked"
    );
}

#[test]
fn cursor_shape_text_replaces_the_arrow_and_default_restores_it() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "shape", 400, 300);
    let i = a.info(&s);
    let (x, y) = (i.x + 150, i.y + 100);
    let (serial, ..) = a.enter_at(&s, x as f64, y as f64);
    let arrow = s.screenshot();
    // The arrow's hotspot is its top-left corner: nothing of it is up and left of the pointer.
    assert_eq!(arrow.count_not(FILL_RGB, x - 12, y - 12, 12, 12), 0);
    assert!(
        arrow.count_not(FILL_RGB, x, y, ARROW.0, ARROW.1) > 20,
        "no arrow at the pointer"
    );

    let manager: WpCursorShapeManagerV1 = a.c.bind_logged(&a.log, 1..=1);
    let device = manager.get_pointer(&a.dev.pointer, &a.c.qh, a.log.clone());
    device.set_shape(serial, Shape::Text);
    a.c.roundtrip();
    let text = s.screenshot();
    let changed = text.count_changed(&arrow, x - 16, y - 16, 48, 48);
    assert!(
        changed > 20,
        "only {changed} pixels changed around the pointer for shape text"
    );
    // The I-beam is centred on the pointer, so part of it lies up and left of it.
    assert!(
        text.count_not(FILL_RGB, x - 12, y - 12, 12, 12) > 0,
        "no I-beam around the pointer"
    );

    device.set_shape(serial, Shape::Default);
    a.c.roundtrip();
    let restored = s.screenshot();
    assert_eq!(
        restored.count_changed(&arrow, x - 16, y - 16, 48, 48),
        0,
        "arrow not restored"
    );
}

#[test]
fn pointer_enter_motion_buttons_and_leave_in_surface_coordinates() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "pointer", 300, 200);
    let i = a.info(&s);
    let (_, ex, ey) = a.enter_at(&s, (i.x + 10) as f64, (i.y + 20) as f64);
    assert_eq!((ex, ey), (10.0, 20.0));

    let mark = a.c.mark();
    s.pointer_move((i.x + 30) as f64, (i.y + 45) as f64);
    click(&s);
    a.c.roundtrip();
    assert_eq!(a.c.pointer_motions(mark), vec![(30.0, 45.0)]);
    let buttons: Vec<_> =
        a.c.events_since(mark)
            .iter()
            .filter_map(|e| match &e.kind {
                Ev::Pointer(wl_pointer::Event::Button { button, state, .. }) => Some((*button, *state)),
                _ => None,
            })
            .collect();
    use wl_pointer::ButtonState::{Pressed, Released};
    assert_eq!(
        buttons,
        vec![
            (BTN_LEFT, WEnum::Value(Pressed)),
            (BTN_LEFT, WEnum::Value(Released))
        ]
    );

    // The title bar is the compositor's: the surface loses the pointer.
    let mark = a.c.mark();
    s.pointer_move((i.x + 30) as f64, (i.y - 10) as f64);
    let id = a.win.surface.id();
    a.c.wait_event(mark, "wl_pointer.leave", |e| match &e.kind {
        Ev::Pointer(wl_pointer::Event::Leave { surface, .. }) if surface.id() == id => Some(()),
        _ => None,
    });
}

#[test]
fn typed_keys_arrive_as_evdev_codes_and_bindings_are_swallowed() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "keys", 300, 200);
    a.c.keyboard_enter(0, &a.win.surface.clone());
    let mark = a.c.mark();
    s.type_text("hi");
    let typed = a.c.dispatch_until("four wl_keyboard.key events", |st| {
        let k = key_events(&st.events[mark..]);
        (k.len() >= 4).then_some(k)
    });
    let typed: Vec<_> = typed.iter().map(|(k, pressed, _)| (*k, *pressed)).collect();
    assert_eq!(typed, vec![(35, true), (35, false), (23, true), (23, false)]);

    let mark = a.c.mark();
    s.key("super+q");
    let id = a.win.toplevel.id();
    a.c.wait_event(mark, "xdg_toplevel.close", |e| {
        (e.object == id && matches!(e.kind, Ev::Toplevel(xdg_toplevel::Event::Close))).then_some(())
    });
    a.c.roundtrip();
    let k = key_events(a.c.events_since(mark));
    assert!(
        k.iter().all(|(code, ..)| *code != 16),
        "KEY_Q reached the client: {k:?}"
    );
}

#[test]
fn text_input_enter_and_leave_follow_keyboard_focus() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "text-a", 300, 200);
    a.c.keyboard_enter(0, &a.win.surface.clone());
    // Created while its window already has keyboard focus.
    let manager: ZwpTextInputManagerV3 = a.c.bind_logged(&a.log, 1..=1);
    let ti_a = manager.get_text_input(&a.dev.seat, &a.c.qh, a.log.clone());
    let (ta, sa) = (ti_a.id(), a.win.surface.id());
    a.c.wait_log(&a.log, 0, "text-input enter on the focused surface", |o, e| {
        (*o == ta && matches!(e, In::TextEnter(sf) if *sf == sa)).then_some(())
    });

    // A second client creates its text-input before its window exists, then maps and takes focus.
    let mut c = Client::connect(&s.socket_path());
    let log_b = Log::default();
    let dev_b = c.seat_devices();
    let manager_b: ZwpTextInputManagerV3 = c.bind_logged(&log_b, 1..=1);
    let ti_b = manager_b.get_text_input(&dev_b.seat, &c.qh, log_b.clone());
    c.roundtrip();
    let mark_a = a.log.mark();
    let win_b = c.map_toplevel("text-b", 300, 200, wl_shm::Format::Argb8888, FILL);
    let (tb, sb) = (ti_b.id(), win_b.surface.id());
    c.wait_log(&log_b, 0, "text-input enter on the new window", |o, e| {
        (*o == tb && matches!(e, In::TextEnter(sf) if *sf == sb)).then_some(())
    });
    a.c.wait_log(&a.log, mark_a, "text-input leave on the old window", |o, e| {
        (*o == ta && matches!(e, In::TextLeave(sf) if *sf == sa)).then_some(())
    });
    assert_eq!(focused_title(&s), "text-b");
}

/// Ask for an activation token, optionally with an input serial and a surface.
fn token(a: &mut App, act: &XdgActivationV1, serial: Option<u32>, surface: Option<&WlSurface>) -> String {
    let mark = a.log.mark();
    let t = act.get_activation_token(&a.c.qh, a.log.clone());
    if let Some(serial) = serial {
        t.set_serial(serial, &a.dev.seat);
    }
    if let Some(surface) = surface {
        t.set_surface(surface);
    }
    t.commit();
    let id = t.id();
    a.c.wait_log(&a.log, mark, "xdg_activation_token_v1.done", |o, e| match e {
        In::Token(t) if *o == id => Some(t.clone()),
        _ => None,
    })
}

#[test]
fn activation_token_with_a_key_serial_focuses_the_clients_other_window() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "first", 300, 200);
    let second =
        a.c.map_toplevel("second", 300, 200, wl_shm::Format::Argb8888, FILL);
    wait_for(TIMEOUT, "second focused", || {
        (focused_title(&s) == "second").then_some(())
    });
    a.c.keyboard_enter(0, &second.surface);
    let mark = a.c.mark();
    s.type_text("a");
    let serial = a.c.dispatch_until("a key event", |st| {
        key_events(&st.events[mark..]).first().map(|k| k.2)
    });

    let act: XdgActivationV1 = a.c.bind_logged(&a.log, 1..=1);
    let t = token(&mut a, &act, Some(serial), Some(&second.surface));
    act.activate(t, &a.win.surface);
    a.c.roundtrip();
    assert_eq!(focused_title(&s), "first");
}

#[test]
fn activation_needs_a_fresh_serial_from_the_focused_client() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "alpha", 300, 200);
    let mut b = App::new(&s, "beta", 300, 200);
    assert_eq!(focused_title(&s), "beta");
    let act_a: XdgActivationV1 = a.c.bind_logged(&a.log, 1..=1);
    let act_b: XdgActivationV1 = b.c.bind_logged(&b.log, 1..=1);
    let surface_a = a.win.surface.clone();

    // Unfocused alpha cannot take focus with a token that has no serial.
    let t = token(&mut a, &act_a, None, Some(&surface_a));
    act_a.activate(t, &a.win.surface);
    a.c.roundtrip();
    assert_eq!(focused_title(&s), "beta");

    // Clicking alpha focuses it; the serial of the button release makes a valid token, which
    // the other client uses for its own window.
    let mark = a.c.mark();
    a.focus_by_click(&s, &[&b]);
    let release = a.c.dispatch_until("button release", |st| {
        st.events[mark..].iter().find_map(|e| match &e.kind {
            Ev::Pointer(wl_pointer::Event::Button { serial, state, .. })
                if *state == WEnum::Value(wl_pointer::ButtonState::Released) =>
            {
                Some(*serial)
            }
            _ => None,
        })
    });
    let t = token(&mut a, &act_a, Some(release), Some(&surface_a));
    act_b.activate(t, &b.win.surface);
    b.c.roundtrip();
    assert_eq!(focused_title(&s), "beta");

    // Alpha's serial is now older than beta's focus: it no longer activates anything.
    let t = token(&mut a, &act_a, Some(release), Some(&surface_a));
    act_a.activate(t, &a.win.surface);
    a.c.roundtrip();
    assert_eq!(focused_title(&s), "beta");
}

/// Ask the target's offer for MIME through a pipe, let the source answer, and read the pipe.
fn transfer(source: &mut App, target: &mut App, receive: impl FnOnce(std::os::fd::BorrowedFd)) -> Vec<u8> {
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    let mark = source.log.mark();
    receive(writer.as_fd());
    target.c.roundtrip();
    drop(writer);
    let mime = source
        .c
        .wait_log(&source.log, mark, "source send", |_, e| match e {
            In::Sent(m) => Some(m.clone()),
            _ => None,
        });
    assert_eq!(mime, MIME);
    read_to_end(&mut reader)
}

#[test]
fn clipboard_and_primary_selection_reach_the_next_focused_client() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "source", 300, 200);
    let mut b = App::new(&s, "target", 300, 200);
    let [clip_a, clip_b] = [&a, &b].map(|x| {
        let m: WlDataDeviceManager = x.c.bind_logged(&x.log, 1..=3);
        (m.get_data_device(&x.dev.seat, &x.c.qh, x.log.clone()), m)
    });
    let [prim_a, prim_b] = [&a, &b].map(|x| {
        let m: ZwpPrimarySelectionDeviceManagerV1 = x.c.bind_logged(&x.log, 1..=1);
        (m.get_device(&x.dev.seat, &x.c.qh, x.log.clone()), m)
    });
    b.c.roundtrip();

    // The source client takes focus and sets both selections.
    let serial = a.focus_by_click(&s, &[&b]);
    let source = clip_a.1.create_data_source(&a.c.qh, a.log.clone());
    source.offer(MIME.into());
    clip_a.0.set_selection(Some(&source), serial);
    let primary = prim_a.1.create_source(&a.c.qh, a.log.clone());
    primary.offer(MIME.into());
    prim_a.0.set_selection(Some(&primary), serial);
    a.c.roundtrip();

    // The target gets offers for both once it has focus, and reads the source's bytes.
    let mark = b.log.mark();
    b.focus_by_click(&s, &[&a]);
    let (clip_id, prim_id) = (clip_b.0.id(), prim_b.0.id());
    let offer =
        b.c.wait_log(&b.log, mark, "wl_data_device.selection", |o, e| match e {
            In::Selection(Some(offer)) if *o == clip_id => Some(offer.clone()),
            _ => None,
        });
    let primary_offer = b.c.wait_log(&b.log, mark, "primary selection", |o, e| match e {
        In::PrimarySelection(Some(offer)) if *o == prim_id => Some(offer.clone()),
        _ => None,
    });
    assert!(
        Mimes::of(&offer).contains(&MIME.to_string()),
        "offered {:?}",
        Mimes::of(&offer)
    );
    assert!(Mimes::of(&primary_offer).contains(&MIME.to_string()));
    let bytes = transfer(&mut a, &mut b, |fd| offer.receive(MIME.into(), fd));
    assert_eq!(bytes, SOURCE_BYTES, "clipboard");
    let bytes = transfer(&mut a, &mut b, |fd| primary_offer.receive(MIME.into(), fd));
    assert_eq!(bytes, SOURCE_BYTES, "primary selection");
}

#[test]
fn frame_callbacks_do_not_outrun_a_30_hz_output() {
    let s = Session::start(&["--refresh", "30"]);
    let mut c = Client::connect(&s.socket_path());
    let win = c.map_toplevel("pacing", 200, 150, wl_shm::Format::Argb8888, FILL);
    let presentation: WpPresentation = c.bind(1..=1);
    let mut times = Vec::new();
    let mut feedbacks = Vec::new();
    for i in 0..21u32 {
        let mark = c.mark();
        let callback = win.surface.frame(&c.qh, ());
        feedbacks.push(presentation.feedback(&win.surface, &c.qh, ()).id());
        let buffer = c.shm_buffer(200, 150, wl_shm::Format::Argb8888, 0xff00_0000 | (i * 12) << 8);
        c.attach_commit(&win.surface, Some(&buffer));
        let id = callback.id();
        times.push(c.wait_event(mark, "wl_surface.frame done", |e| match &e.kind {
            Ev::Callback(wl_callback::Event::Done { callback_data }) if e.object == id => {
                Some(*callback_data)
            }
            _ => None,
        }));
    }
    for pair in times.windows(2) {
        let gap = pair[1].wrapping_sub(pair[0]);
        assert!(gap >= 26, "frame callbacks {gap} ms apart at 30 Hz: {times:?}");
    }

    let last = feedbacks.last().cloned().expect("feedbacks");
    c.wait_event(0, "feedback for the last frame", |e| {
        (e.object == last && matches!(e.kind, Ev::Feedback(_))).then_some(())
    });
    let refresh: Vec<u32> = c
        .events_since(0)
        .iter()
        .filter(|e| feedbacks.contains(&e.object))
        .filter_map(|e| match &e.kind {
            Ev::Feedback(wp_presentation_feedback::Event::Presented { refresh, .. }) => Some(*refresh),
            _ => None,
        })
        .collect();
    assert!(
        refresh.len() >= 10,
        "only {} of 21 frames presented",
        refresh.len()
    );
    assert!(
        refresh.iter().all(|r| (32_800_000..=33_900_000).contains(r)),
        "refresh (ns) is not ~33.3 ms: {refresh:?}"
    );
}
