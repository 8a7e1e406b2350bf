//! The privileged protocols behind capabilities, seen by real `wayland-client` connections:
//! data control (wlr and ext, `clipboard.manage`), virtual keyboard (`input.inject`),
//! ext-foreign-toplevel-list (`display.toplevels`), ext-session-lock (`display.lock`),
//! input-method v2 (`input.method`) and keyboard-shortcuts-inhibit (`input.inhibit`). Each works
//! for a host client that holds its capability, and is not even listed for one that does not.

mod common;

use std::os::fd::AsFd;

use common::{
    client::{
        input::{key_events, read_to_end, App, In, Mimes, SOURCE_BYTES},
        privileged::{Handle, PLog, MANAGER_BYTES, P},
        Client, Ev, Event, TIMEOUT,
    },
    wait_for, Image, Session, BACKGROUND,
};
use exo_shell::control::{CapsuleLogs, Request};
use wayland_client::{
    protocol::{
        wl_data_device::WlDataDevice, wl_data_device_manager::WlDataDeviceManager, wl_keyboard,
        wl_output::WlOutput, wl_pointer, wl_seat::WlSeat, wl_shm,
    },
    Proxy,
};
use wayland_protocols::{
    ext::{
        data_control::v1::client::ext_data_control_manager_v1::ExtDataControlManagerV1,
        foreign_toplevel_list::v1::client::{
            ext_foreign_toplevel_handle_v1::ExtForeignToplevelHandleV1,
            ext_foreign_toplevel_list_v1::ExtForeignToplevelListV1,
        },
        session_lock::v1::client::{
            ext_session_lock_manager_v1::ExtSessionLockManagerV1, ext_session_lock_v1::ExtSessionLockV1,
        },
    },
    wp::{
        keyboard_shortcuts_inhibit::zv1::client::zwp_keyboard_shortcuts_inhibit_manager_v1::ZwpKeyboardShortcutsInhibitManagerV1,
        text_input::zv3::client::zwp_text_input_manager_v3::ZwpTextInputManagerV3,
    },
    xdg::shell::client::xdg_toplevel,
};
use wayland_protocols_misc::{
    zwp_input_method_v2::client::zwp_input_method_manager_v2::ZwpInputMethodManagerV2,
    zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1,
};
use wayland_protocols_wlr::data_control::v1::client::zwlr_data_control_manager_v1::ZwlrDataControlManagerV1;

const MIME: &str = "text/plain;charset=utf-8";
/// The RGB of `App` windows (APP_FILL) in screenshots.
const FILL_RGB: [u8; 3] = [0x20, 0x80, 0xc0];
/// The lock surface's colour (ARGB8888) and its RGB.
const LOCK_FILL: u32 = 0xff_c0_30_60;
const LOCK_RGB: [u8; 3] = [0xc0, 0x30, 0x60];
/// The default arrow cursor is 20x28: the most pixels it can cover.
const CURSOR_PIXELS: usize = 20 * 28;
const KEY_A: u32 = 30;
const KEY_Q: u32 = 16;

/// Each privileged global and the capability that shows it.
const GATED: [(&str, &str); 7] = [
    ("zwlr_data_control_manager_v1", "clipboard.manage"),
    ("ext_data_control_manager_v1", "clipboard.manage"),
    ("zwp_virtual_keyboard_manager_v1", "input.inject"),
    ("ext_foreign_toplevel_list_v1", "display.toplevels"),
    ("ext_session_lock_manager_v1", "display.lock"),
    ("zwp_input_method_manager_v2", "input.method"),
    ("zwp_keyboard_shortcuts_inhibit_manager_v1", "input.inhibit"),
];

/// A focused window whose client owns the clipboard (a wl_data_source offering MIME).
fn clipboard_owner(s: &Session) -> (App, WlDataDevice) {
    let mut a = App::new(s, "owner", 300, 200);
    let serial = a.c.keyboard_enter(0, &a.win.surface.clone());
    let manager: WlDataDeviceManager = a.c.bind_logged(&a.log, 1..=3);
    let device = manager.get_data_device(&a.dev.seat, &a.c.qh, a.log.clone());
    let source = manager.create_data_source(&a.c.qh, a.log.clone());
    source.offer(MIME.into());
    device.set_selection(Some(&source), serial);
    a.c.roundtrip();
    (a, device)
}

/// A client without any window, with the seat bound.
fn windowless(s: &Session) -> (Client, PLog, WlSeat) {
    let c = Client::connect(&s.socket_path());
    let seat: WlSeat = c.bind(1..=7);
    (c, PLog::default(), seat)
}

/// Ask an offer for its data through a pipe (`receive`), send the request (`flush`), let the
/// source's client answer (`answer` dispatches it until asked) and read the pipe to its end.
fn read_offer(
    receive: impl FnOnce(std::os::fd::BorrowedFd),
    flush: impl FnOnce(),
    answer: impl FnOnce(),
) -> Vec<u8> {
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    receive(writer.as_fd());
    flush();
    drop(writer);
    answer();
    read_to_end(&mut reader)
}

/// The owner's next wl_data_device.selection offer after `mark`.
fn owner_offer(
    a: &mut App,
    device: &WlDataDevice,
    mark: usize,
) -> wayland_client::protocol::wl_data_offer::WlDataOffer {
    let id = device.id();
    a.c.wait_log(&a.log, mark, "wl_data_device.selection", |o, e| match e {
        In::Selection(Some(offer)) if *o == id => Some(offer.clone()),
        _ => None,
    })
}

// ---------------------------------------------------------------------------------------------
// Data control.

/// A clipboard manager without focus reads the selection a focused client set, then sets one
/// that the focused client is offered and reads (the same steps for the wlr and ext protocols).
macro_rules! data_control_test {
    ($name:ident, $manager:ty, $versions:expr, $selection:path) => {
        #[test]
        fn $name() {
            let s = Session::start(&[]);
            let (mut a, device) = clipboard_owner(&s);
            let (mut m, log, seat) = windowless(&s);
            let manager: $manager = m.bind_plogged(&log, $versions);
            let dev = manager.get_data_device(&seat, &m.qh, log.clone());
            let dev_id = dev.id();
            let offer = m.wait_plog(&log, 0, "data-control selection", |o, e| match e {
                $selection(Some(offer)) if *o == dev_id => Some(offer.clone()),
                _ => None,
            });
            assert!(
                Mimes::of(&offer).contains(&MIME.to_string()),
                "{:?}",
                Mimes::of(&offer)
            );
            let mark = a.log.mark();
            let bytes = read_offer(
                |fd| offer.receive(MIME.into(), fd),
                || m.roundtrip(),
                || {
                    a.c.wait_log(&a.log, mark, "owner asked", |_, e| {
                        matches!(e, In::Sent(_)).then_some(())
                    })
                },
            );
            assert_eq!(
                bytes, SOURCE_BYTES,
                "the manager read the owner's clipboard"
            );

            // The manager sets the clipboard; the focused client is offered it and reads it.
            let owner_mark = a.log.mark();
            let source = manager.create_data_source(&m.qh, log.clone());
            source.offer(MIME.into());
            dev.set_selection(Some(&source));
            m.roundtrip();
            let offer = owner_offer(&mut a, &device, owner_mark);
            let mark = log.mark();
            let bytes = read_offer(
                |fd| offer.receive(MIME.into(), fd),
                || a.c.roundtrip(),
                || {
                    m.wait_plog(&log, mark, "manager asked", |_, e| {
                        matches!(e, P::Sent(_)).then_some(())
                    })
                },
            );
            assert_eq!(
                bytes, MANAGER_BYTES,
                "the focused client read the manager's clipboard"
            );
            a.c.wait_log(
                &a.log,
                owner_mark,
                "the owner's source cancelled",
                |_, e| matches!(e, In::Cancelled).then_some(()),
            );
        }
    };
}

data_control_test!(
    wlr_data_control_reads_the_focused_clients_clipboard_and_sets_one_it_receives,
    ZwlrDataControlManagerV1,
    1..=2,
    P::WlrSelection
);
data_control_test!(
    ext_data_control_reads_the_focused_clients_clipboard_and_sets_one_it_receives,
    ExtDataControlManagerV1,
    1..=1,
    P::ExtSelection
);

// ---------------------------------------------------------------------------------------------
// Virtual keyboard.

#[test]
fn virtual_keyboard_keys_reach_the_focused_client() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "typed-into", 300, 200);
    a.c.keyboard_enter(0, &a.win.surface.clone());
    let (keymap, size) = a.c.keymap_copy();

    let (mut v, log, seat) = windowless(&s);
    let manager: ZwpVirtualKeyboardManagerV1 = v.bind_plogged(&log, 1..=1);
    let keyboard = manager.create_virtual_keyboard(&seat, &v.qh, log.clone());
    keyboard.keymap(wl_keyboard::KeymapFormat::XkbV1 as u32, keymap.as_fd(), size);
    let mark = a.c.mark();
    keyboard.key(1000, KEY_A, wl_keyboard::KeyState::Pressed as u32);
    keyboard.key(1010, KEY_A, wl_keyboard::KeyState::Released as u32);
    v.roundtrip();

    let keys = a.c.dispatch_until("two wl_keyboard.key events", |st| {
        let k = key_events(&st.events[mark..]);
        (k.len() >= 2).then_some(k)
    });
    let keys: Vec<_> = keys.iter().map(|(k, pressed, _)| (*k, *pressed)).collect();
    assert_eq!(keys, vec![(KEY_A, true), (KEY_A, false)]);
}

// ---------------------------------------------------------------------------------------------
// Foreign toplevel list.

/// Wait for a handle announced on `log` whose title as of its last `done` is `title`.
fn wait_handle(l: &mut Client, log: &PLog, title: &str) -> ExtForeignToplevelHandleV1 {
    l.dispatch_until(&format!("a foreign-toplevel handle titled {title:?}"), |_| {
        log.find_all(0, |_, e| match e {
            P::Toplevel(h) => Some(h.clone()),
            _ => None,
        })
        .into_iter()
        .find(|h| Handle::of(h).done_title.as_deref() == Some(title))
    })
}

#[test]
fn foreign_toplevel_list_has_a_handle_per_window_with_updates_and_closed() {
    let mut s = Session::start(&[]);
    // Mapped before the list is bound: announced on bind.
    let mut a = App::new(&s, "ftl-own", 300, 200);
    let (mut l, log, _seat) = windowless(&s);
    let _list: ExtForeignToplevelListV1 = l.bind_plogged(&log, 1..=1);
    let own = wait_handle(&mut l, &log, "ftl-own");
    let state = Handle::of(&own);
    assert_eq!(state.done_app_id.as_deref(), Some("nexq-test"));
    assert!(!state.identifier.is_empty() && !state.closed, "{state:?}");

    // Mapped while the list is bound: announced when it maps.
    s.spawn("weston-simple-shm", &[]);
    let shm = wait_handle(&mut l, &log, "simple-shm");
    assert_ne!(Handle::of(&shm).identifier, state.identifier);

    // A new title reaches the handle.
    a.win.toplevel.set_title("ftl-renamed".into());
    a.c.roundtrip();
    l.dispatch_until("the renamed title", |_| {
        (Handle::of(&own).done_title.as_deref() == Some("ftl-renamed")).then_some(())
    });

    // Unmapping the toplevel (a commit without a buffer) closes its handle; the other stays.
    a.c.attach_commit(&a.win.surface, None);
    a.c.roundtrip();
    l.dispatch_until("closed on the destroyed toplevel", |_| {
        Handle::of(&own).closed.then_some(())
    });
    l.roundtrip();
    assert!(!Handle::of(&shm).closed, "the other window's handle was closed");
    s.assert_alive();
}

// ---------------------------------------------------------------------------------------------
// Session lock.

/// Whether the screenshot shows `rgb` over the whole output but for the cursor.
fn covered_by(img: &Image, rgb: [u8; 3]) -> bool {
    img.count_not(rgb, 0, 0, img.width as i32, img.height as i32) <= CURSOR_PIXELS
}

/// Lock the session from a new connection and wait for `locked` (or `finished`, returned false).
fn lock_session(s: &Session) -> (Client, ExtSessionLockV1, bool) {
    let mut c = Client::connect(&s.socket_path());
    let log = PLog::default();
    let manager: ExtSessionLockManagerV1 = c.bind_plogged(&log, 1..=1);
    let lock = manager.lock(&c.qh, log.clone());
    let locked = c.wait_plog(&log, 0, "locked or finished", |_, e| match e {
        P::Locked => Some(true),
        P::LockFinished => Some(false),
        _ => None,
    });
    (c, lock, locked)
}

#[test]
fn session_lock_shows_only_the_lock_surface_and_gives_it_all_input_until_unlocked() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "behind", 300, 200);
    a.c.keyboard_enter(0, &a.win.surface.clone());
    let info = a.info(&s);
    let centre = (info.x + info.width / 2, info.y + info.height / 2);
    let before = s.screenshot();
    assert_eq!(before.pixel(centre.0 as u32, centre.1 as u32)[..3], FILL_RGB);

    let a_mark = a.c.mark();
    let (mut lc, lock, locked) = lock_session(&s);
    assert!(locked, "no ext_session_lock_v1.locked");
    let _devices = lc.seat_devices();
    let output: WlOutput = lc.bind(1..=4);
    let log = PLog::default();
    // The window behind loses the keyboard.
    let behind = a.win.surface.id();
    a.c.wait_event(a_mark, "wl_keyboard.leave on the window behind", |e| {
        match &e.kind {
            Ev::Keyboard(wl_keyboard::Event::Leave { surface, .. }) if surface.id() == behind => Some(()),
            _ => None,
        }
    });
    // Nothing of the desktop shows while no lock surface is drawn yet.
    assert!(
        covered_by(&s.screenshot(), [0, 0, 0]),
        "client content shows while locked"
    );

    // The lock surface is configured with the output's size and covers the output.
    let surface = lc.surface();
    let mark = lc.mark();
    let lock_surface = lock.get_lock_surface(&surface, &output, &lc.qh, log.clone());
    let (serial, width, height) = lc.wait_plog(&log, 0, "lock surface configure", |_, e| match e {
        P::LockConfigure {
            serial,
            width,
            height,
        } => Some((*serial, *width, *height)),
        _ => None,
    });
    assert_eq!((width, height), (before.width, before.height), "configured size");
    lock_surface.ack_configure(serial);
    let buffer = lc.shm_buffer(width as i32, height as i32, wl_shm::Format::Argb8888, LOCK_FILL);
    lc.attach_commit(&surface, Some(&buffer));
    lc.keyboard_enter(mark, &surface);
    wait_for(TIMEOUT, "the lock surface over the whole output", || {
        covered_by(&s.screenshot(), LOCK_RGB).then_some(())
    });

    // Keys, pointer and bindings: the lock surface gets input, the window behind nothing.
    let (a_mark, lc_mark) = (a.c.mark(), lc.mark());
    s.type_text("a");
    s.pointer_move(centre.0 as f64, centre.1 as f64);
    s.key("super+q");
    // The lock surface (the client's one surface, at the output's origin) has the pointer.
    let at = (centre.0 as f64, centre.1 as f64);
    let motion_at = |e: &Event| match e.kind {
        Ev::Pointer(wl_pointer::Event::Motion {
            surface_x, surface_y, ..
        }) => (surface_x, surface_y) == at,
        _ => false,
    };
    lc.dispatch_until("wl_pointer.motion over the window behind", |st| {
        st.events[lc_mark..].iter().any(motion_at).then_some(())
    });
    let typed = lc.dispatch_until("the key on the lock surface", |st| {
        let k = key_events(&st.events[lc_mark..]);
        (k.len() >= 2).then_some(k)
    });
    assert_eq!((typed[0].0, typed[0].1), (KEY_A, true));
    a.c.roundtrip();
    let leaked = |e: &&Event| {
        matches!(
            e.kind,
            Ev::Keyboard(_) | Ev::Pointer(_) | Ev::Toplevel(xdg_toplevel::Event::Close)
        )
    };
    let leaked: Vec<_> = a.c.events_since(a_mark).iter().filter(leaked).collect();
    assert!(
        leaked.is_empty(),
        "the window behind got input while locked: {leaked:?}"
    );
    assert!(covered_by(&s.screenshot(), LOCK_RGB));

    // Unlocking restores the desktop: the window, the background and its keyboard focus.
    s.pointer_move(0.0, 0.0); // where the cursor was in `before`
    let a_mark = a.c.mark();
    lock.unlock_and_destroy();
    lc.roundtrip();
    a.c.keyboard_enter(a_mark, &a.win.surface.clone());
    let after = wait_for(TIMEOUT, "the desktop after unlock", || {
        let img = s.screenshot();
        (img.pixel(centre.0 as u32, centre.1 as u32)[..3] == FILL_RGB).then_some(img)
    });
    assert_eq!(after.pixel(before.width - 5, before.height - 5)[..3], BACKGROUND);
    assert_eq!(
        after.count_changed(&before, info.x, info.y, info.width, info.height),
        0,
        "the window's content differs after unlock"
    );
}

#[test]
fn a_dead_locker_leaves_the_session_locked_until_another_takes_over() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "behind", 300, 200);
    a.c.keyboard_enter(0, &a.win.surface.clone());
    let (first, _, locked) = lock_session(&s);
    assert!(locked);
    // A second locker is refused while the first holds the lock, and cannot unlock it.
    let (mut refused, lock, locked) = lock_session(&s);
    assert!(!locked, "a second client locked a locked session");
    lock.unlock_and_destroy();
    let result = refused.queue.roundtrip(&mut refused.state);
    assert!(
        result.is_err() && refused.conn.protocol_error().is_some(),
        "a refused lock unlocked"
    );
    drop(first); // the locker crashes
    let a_mark = a.c.mark();
    s.type_text("a");
    a.c.roundtrip();
    assert!(
        key_events(a.c.events_since(a_mark)).is_empty(),
        "keys reached the desktop"
    );
    assert!(
        covered_by(&s.screenshot(), [0, 0, 0]),
        "the desktop shows after the locker died"
    );

    // Another locker takes over and unlocks.
    // (Polled: the compositor notices the dead connection in its own time.)
    let (mut second, lock) = wait_for(TIMEOUT, "a new locker to take over", || {
        let (c, lock, locked) = lock_session(&s);
        locked.then_some((c, lock))
    });
    lock.unlock_and_destroy();
    second.roundtrip();
    a.c.keyboard_enter(a_mark, &a.win.surface.clone());
}

// ---------------------------------------------------------------------------------------------
// Input method and shortcuts inhibitor.

#[test]
fn input_method_is_activated_and_deactivated_by_the_focused_text_input() {
    let s = Session::start(&[]);
    let (mut im_client, log, seat) = windowless(&s);
    let manager: ZwpInputMethodManagerV2 = im_client.bind_plogged(&log, 1..=1);
    let im = manager.get_input_method(&seat, &im_client.qh, log.clone());
    im_client.roundtrip();

    let mut a = App::new(&s, "writer", 300, 200);
    a.c.keyboard_enter(0, &a.win.surface.clone());
    let text_manager: ZwpTextInputManagerV3 = a.c.bind_logged(&a.log, 1..=1);
    let ti = text_manager.get_text_input(&a.dev.seat, &a.c.qh, a.log.clone());
    let (tid, sid) = (ti.id(), a.win.surface.id());
    a.c.wait_log(&a.log, 0, "text-input enter", |o, e| {
        (*o == tid && matches!(e, In::TextEnter(s) if *s == sid)).then_some(())
    });
    a.c.roundtrip();
    let enters = a.log.find_all(0, |o, e| {
        (*o == tid && matches!(e, In::TextEnter(_))).then_some(())
    });
    assert_eq!(enters.len(), 1, "text-input entered more than once");
    assert!(
        log.find(0, |_, e| matches!(e, P::Activate).then_some(()))
            .is_none(),
        "activated before enable"
    );

    let mark = log.mark();
    ti.enable();
    ti.commit();
    a.c.roundtrip();
    let imid = im.id();
    im_client.wait_plog(&log, mark, "input method activate", |o, e| {
        (*o == imid && matches!(e, P::Activate)).then_some(())
    });
    let mark = log.mark();
    ti.disable();
    ti.commit();
    a.c.roundtrip();
    im_client.wait_plog(&log, mark, "input method deactivate", |o, e| {
        (*o == imid && matches!(e, P::Deactivate)).then_some(())
    });
}

#[test]
fn shortcuts_inhibitor_is_active_but_secure_keys_still_work() {
    let s = Session::start(&[]);
    let mut a = App::new(&s, "inhibitor", 300, 200);
    a.c.keyboard_enter(0, &a.win.surface.clone());
    let log = PLog::default();
    let manager: ZwpKeyboardShortcutsInhibitManagerV1 = a.c.bind_plogged(&log, 1..=1);
    let inhibitor = manager.inhibit_shortcuts(&a.win.surface, &a.dev.seat, &a.c.qh, log.clone());
    let iid = inhibitor.id();
    a.c.wait_plog(&log, 0, "inhibitor active", |o, e| {
        (*o == iid && matches!(e, P::InhibitActive)).then_some(())
    });

    let mark = a.c.mark();
    s.key("super+q");
    let tid = a.win.toplevel.id();
    a.c.wait_event(mark, "xdg_toplevel.close from super+q", |e| {
        (e.object == tid && matches!(e.kind, Ev::Toplevel(xdg_toplevel::Event::Close))).then_some(())
    });
    a.c.roundtrip();
    let keys = key_events(a.c.events_since(mark));
    assert!(
        keys.iter().all(|(k, ..)| *k != KEY_Q),
        "super+q reached the inhibitor: {keys:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Gating.

#[test]
fn each_privileged_global_is_listed_only_with_its_capability() {
    for caps in ["display.window", "all"]
        .into_iter()
        .map(String::from)
        .chain(GATED.iter().map(|(_, cap)| format!("display.window,{cap}")))
    {
        let s = Session::start(&["--host-caps", &caps]);
        let c = Client::connect(&s.socket_path());
        for (interface, cap) in GATED {
            let expected = caps == "all" || caps.ends_with(cap);
            assert_eq!(
                c.has_global(interface),
                expected,
                "{interface} listed = {} with --host-caps {caps}",
                !expected
            );
        }
    }
}

/// A capsule's Wayland client that is already connected sees each privileged global announced
/// when its capability is granted live (libwayland's WAYLAND_DEBUG trace of a real client, in the
/// capsule's log).
#[test]
fn a_live_grant_announces_the_privileged_globals_to_a_connected_capsule() {
    let dir = std::env::temp_dir().join(format!("nexq-privileged-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("watcher")).unwrap();
    std::fs::write(
        dir.join("watcher/Capsule.toml"),
        "[capsule]\nname = \"watcher\"\nversion = \"0.1.0\"\nexec = [\"weston-simple-shm\"]\n\
         autostart = true\n[permissions]\nrequired = [\"display.window\"]\n\
         [env]\nWAYLAND_DEBUG = \"client\"\n",
    )
    .unwrap();
    let s = Session::start(&["--system-capsules", dir.to_str().unwrap()]);
    s.wait_windows(1, TIMEOUT);
    let announced = |interface: &str| {
        let value = s
            .request(&Request::Logs {
                name: "watcher".into(),
                tail_bytes: None,
            })
            .expect("logs");
        let text = serde_json::from_value::<CapsuleLogs>(value)
            .expect("logs reply")
            .text;
        text.lines().any(|l| {
            l.contains("wl_registry") && l.contains(".global(") && l.contains(&format!("\"{interface}\""))
        })
    };
    // The trace shows the ordinary globals the client got when it connected.
    wait_for(TIMEOUT, "xdg_wm_base in the client's trace", || {
        announced("xdg_wm_base").then_some(())
    });
    for (interface, _) in GATED {
        assert!(
            !announced(interface),
            "{interface} announced to a display.window capsule"
        );
    }
    let mut granted = Vec::new();
    for (_, cap) in GATED {
        if granted.contains(&cap) {
            continue;
        }
        s.request(&Request::Grant {
            name: "watcher".into(),
            capability: cap.into(),
        })
        .expect("grant");
        granted.push(cap);
        for (interface, needs) in GATED {
            if granted.contains(&needs) {
                wait_for(
                    TIMEOUT,
                    &format!("{interface} announced after granting {cap}"),
                    || announced(interface).then_some(()),
                );
            } else {
                assert!(
                    !announced(interface),
                    "{interface} announced after granting only {granted:?}"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
