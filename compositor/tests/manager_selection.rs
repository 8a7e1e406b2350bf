//! Setting the clipboard and the primary selection without keyboard focus, through the core
//! protocols (wl_data_device, zwp_primary_selection_device_v1), seen by real `wayland-client`
//! connections: a clipboard manager (`clipboard.manage`) may, and the focused client reads what
//! it set; any other client may not, and the focused client keeps its own selection.

mod common;

use std::os::fd::AsFd;

use common::{
    client::{
        input::{read_to_end, App, In, Log, Mimes, SOURCE_BYTES},
        Client,
    },
    Session,
};
use wayland_client::{
    protocol::{wl_data_device_manager::WlDataDeviceManager, wl_seat::WlSeat},
    Proxy,
};
use wayland_protocols::wp::primary_selection::zv1::client::zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1;

const MIME: &str = "text/plain;charset=utf-8";

/// A client without any window (so it never has keyboard focus), with the seat bound.
fn windowless(s: &Session) -> (Client, Log, WlSeat) {
    let c = Client::connect(&s.socket_path());
    let seat: WlSeat = c.bind(1..=7);
    (c, Log::default(), seat)
}

/// The focused window's client with a clipboard and a primary-selection device.
struct Focused {
    app: App,
    clipboard: wayland_client::protocol::wl_data_device::WlDataDevice,
    primary: wayland_protocols::wp::primary_selection::zv1::client::zwp_primary_selection_device_v1::ZwpPrimarySelectionDeviceV1,
}

impl Focused {
    fn new(s: &Session) -> Focused {
        let mut app = App::new(s, "focused", 300, 200);
        app.c.keyboard_enter(0, &app.win.surface.clone());
        let m: WlDataDeviceManager = app.c.bind_logged(&app.log, 1..=3);
        let clipboard = m.get_data_device(&app.dev.seat, &app.c.qh, app.log.clone());
        let p: ZwpPrimarySelectionDeviceManagerV1 = app.c.bind_logged(&app.log, 1..=1);
        let primary = p.get_device(&app.dev.seat, &app.c.qh, app.log.clone());
        app.c.roundtrip();
        Focused {
            app,
            clipboard,
            primary,
        }
    }

    /// The offers of the selections sent to this client at or after `mark`: (clipboard, primary).
    fn offers(&self, mark: usize) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
        let (clip, prim) = (self.clipboard.id(), self.primary.id());
        let clipboard = self.app.log.find_all(mark, |o, e| match e {
            In::Selection(Some(offer)) if *o == clip => Some(Mimes::of(offer)),
            _ => None,
        });
        let primary = self.app.log.find_all(mark, |o, e| match e {
            In::PrimarySelection(Some(offer)) if *o == prim => Some(Mimes::of(offer)),
            _ => None,
        });
        (clipboard, primary)
    }
}

/// Read `receive`'s data through a pipe while the source's client answers.
fn read(
    receive: impl FnOnce(std::os::fd::BorrowedFd),
    reader_flush: impl FnOnce(),
    answer: impl FnOnce(),
) -> Vec<u8> {
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    receive(writer.as_fd());
    reader_flush();
    drop(writer);
    answer();
    read_to_end(&mut reader)
}

/// Wait until the manager's source is asked for [`MIME`] (it writes [`SOURCE_BYTES`]).
fn source_asked(m: &mut Client, log: &Log, mark: usize) {
    let mime = m.wait_log(log, mark, "the manager's source asked", |_, e| match e {
        In::Sent(mime) => Some(mime.clone()),
        _ => None,
    });
    assert_eq!(mime, MIME);
}

#[test]
fn a_clipboard_manager_sets_both_selections_without_focus_and_the_focused_client_reads_them() {
    let s = Session::start(&[]);
    let mut f = Focused::new(&s);
    let (mut m, log, seat) = windowless(&s);
    let clip_manager: WlDataDeviceManager = m.bind_logged(&log, 1..=3);
    let prim_manager: ZwpPrimarySelectionDeviceManagerV1 = m.bind_logged(&log, 1..=1);
    let clip_device = clip_manager.get_data_device(&seat, &m.qh, log.clone());
    let prim_device = prim_manager.get_device(&seat, &m.qh, log.clone());

    let mark = f.app.log.mark();
    let clip_source = clip_manager.create_data_source(&m.qh, log.clone());
    clip_source.offer(MIME.into());
    clip_device.set_selection(Some(&clip_source), 0);
    let prim_source = prim_manager.create_source(&m.qh, log.clone());
    prim_source.offer(MIME.into());
    prim_device.set_selection(Some(&prim_source), 0);
    m.roundtrip();

    let (clip, prim) = (f.clipboard.id(), f.primary.id());
    let offer = f
        .app
        .c
        .wait_log(&f.app.log, mark, "clipboard offer", |o, e| match e {
            In::Selection(Some(offer)) if *o == clip => Some(offer.clone()),
            _ => None,
        });
    let primary_offer = f
        .app
        .c
        .wait_log(&f.app.log, mark, "primary offer", |o, e| match e {
            In::PrimarySelection(Some(offer)) if *o == prim => Some(offer.clone()),
            _ => None,
        });
    assert_eq!(Mimes::of(&offer), [MIME], "clipboard offer types");
    assert_eq!(Mimes::of(&primary_offer), [MIME], "primary offer types");

    let asked = log.mark();
    let bytes = read(
        |fd| offer.receive(MIME.into(), fd),
        || f.app.c.roundtrip(),
        || source_asked(&mut m, &log, asked),
    );
    assert_eq!(
        bytes, SOURCE_BYTES,
        "the focused client read the manager's clipboard"
    );
    let asked = log.mark();
    let bytes = read(
        |fd| primary_offer.receive(MIME.into(), fd),
        || f.app.c.roundtrip(),
        || source_asked(&mut m, &log, asked),
    );
    assert_eq!(
        bytes, SOURCE_BYTES,
        "the focused client read the manager's primary selection"
    );

    // The focused client sets a clipboard of its own: the manager's source is cancelled.
    let serial = f.app.c.keyboard_enter(0, &f.app.win.surface.clone());
    let own = f
        .app
        .c
        .bind_logged::<WlDataDeviceManager>(&f.app.log, 1..=3)
        .create_data_source(&f.app.c.qh, f.app.log.clone());
    own.offer("text/html".into());
    let cancelled = log.mark();
    f.clipboard.set_selection(Some(&own), serial);
    f.app.c.roundtrip();
    let source_id = clip_source.id();
    m.wait_log(
        &log,
        cancelled,
        "the manager's clipboard source cancelled",
        |o, e| (*o == source_id && matches!(e, In::Cancelled)).then_some(()),
    );

    // The manager destroys its primary source: the primary selection is cleared.
    let mark = f.app.log.mark();
    prim_source.destroy();
    m.roundtrip();
    f.app
        .c
        .wait_log(&f.app.log, mark, "primary selection cleared", |o, e| {
            (*o == prim && matches!(e, In::PrimarySelection(None))).then_some(())
        });
}

#[test]
fn a_client_without_clipboard_manage_cannot_set_a_selection_without_focus() {
    // Host clients hold only display.window here.
    let s = Session::start(&["--host-caps", "display.window"]);
    let mut f = Focused::new(&s);
    let own = f
        .app
        .c
        .bind_logged::<WlDataDeviceManager>(&f.app.log, 1..=3)
        .create_data_source(&f.app.c.qh, f.app.log.clone());
    own.offer(MIME.into());
    let serial = f.app.c.keyboard_enter(0, &f.app.win.surface.clone());
    f.clipboard.set_selection(Some(&own), serial);
    f.app.c.roundtrip();

    let (mut m, log, seat) = windowless(&s);
    let clip_manager: WlDataDeviceManager = m.bind_logged(&log, 1..=3);
    let prim_manager: ZwpPrimarySelectionDeviceManagerV1 = m.bind_logged(&log, 1..=1);
    let mark = f.app.log.mark();
    let source = clip_manager.create_data_source(&m.qh, log.clone());
    source.offer("text/x-intruder".into());
    clip_manager
        .get_data_device(&seat, &m.qh, log.clone())
        .set_selection(Some(&source), 0);
    let prim_source = prim_manager.create_source(&m.qh, log.clone());
    prim_source.offer("text/x-intruder".into());
    prim_manager
        .get_device(&seat, &m.qh, log.clone())
        .set_selection(Some(&prim_source), 0);
    m.roundtrip();
    // Anything the compositor sent the focused client in reply has arrived after this.
    f.app.c.roundtrip();

    let (clipboard, primary) = f.offers(mark);
    assert!(
        clipboard.is_empty(),
        "the focused client was offered {clipboard:?}"
    );
    assert!(
        primary.is_empty(),
        "the focused client was offered a primary selection {primary:?}"
    );
    // Its own clipboard is still the one it reads.
    let (clip_id, mark) = (f.clipboard.id(), 0);
    let offer = f
        .app
        .c
        .wait_log(&f.app.log, mark, "own clipboard offer", |o, e| match e {
            In::Selection(Some(offer)) if *o == clip_id => Some(offer.clone()),
            _ => None,
        });
    let last = f.offers(0).0.last().cloned();
    assert_eq!(last, Some(vec![MIME.to_string()]), "the last clipboard offered");
    let bytes = read(|fd| offer.receive(MIME.into(), fd), || f.app.c.roundtrip(), || {});
    assert_eq!(bytes, SOURCE_BYTES);
}
