//! Input method v2 with text-input v3, seen by real `wayland-client` connections: the order in
//! which the input method is bound and the focused client enables its text-input does not
//! matter, the serials of `done` stay the client's, and destroying the active text-input
//! deactivates the input method.

mod common;

use common::{
    client::{
        input::{App, In, Log},
        privileged::{PLog, P},
        Client,
    },
    Session,
};
use wayland_client::{protocol::wl_seat::WlSeat, Proxy};
use wayland_protocols::wp::text_input::zv3::client::{
    zwp_text_input_manager_v3::ZwpTextInputManagerV3,
    zwp_text_input_v3::{ContentHint, ContentPurpose, ZwpTextInputV3},
};
use wayland_protocols_misc::zwp_input_method_v2::client::{
    zwp_input_method_manager_v2::ZwpInputMethodManagerV2, zwp_input_method_v2::ZwpInputMethodV2,
};

/// A focused window whose client has a text-input (entered), and that text-input.
fn writer(s: &Session, title: &str) -> (App, ZwpTextInputManagerV3, ZwpTextInputV3) {
    let mut a = App::new(s, title, 300, 200);
    a.c.keyboard_enter(0, &a.win.surface.clone());
    let manager: ZwpTextInputManagerV3 = a.c.bind_logged(&a.log, 1..=1);
    let ti = text_input(&mut a, &manager);
    (a, manager, ti)
}

fn text_input(a: &mut App, manager: &ZwpTextInputManagerV3) -> ZwpTextInputV3 {
    let ti = manager.get_text_input(&a.dev.seat, &a.c.qh, a.log.clone());
    a.c.roundtrip();
    ti
}

/// A windowless client's input method, its log and the client.
fn input_method(s: &Session) -> (Client, PLog, ZwpInputMethodV2) {
    let mut c = Client::connect(&s.socket_path());
    let seat: WlSeat = c.bind(1..=7);
    let log = PLog::default();
    let manager: ZwpInputMethodManagerV2 = c.bind_plogged(&log, 1..=1);
    let im = manager.get_input_method(&seat, &c.qh, log.clone());
    c.roundtrip();
    (c, log, im)
}

/// The input method's events from `mark` on, without `unavailable` (there is none) as text.
fn im_events(log: &PLog, mark: usize, im: &ZwpInputMethodV2) -> Vec<String> {
    let id = im.id();
    log.find_all(mark, |o, e| {
        (*o == id).then(|| match e {
            P::Activate => "activate".to_string(),
            P::Deactivate => "deactivate".into(),
            P::Surrounding(text) => format!("surrounding {text}"),
            P::ImDone => "done".into(),
            other => format!("{other:?}"),
        })
    })
}

fn text_events(log: &Log, mark: usize, ti: &ZwpTextInputV3) -> Vec<String> {
    let id = ti.id();
    log.find_all(mark, |o, e| {
        (*o == id).then(|| match e {
            In::TextEnter(_) => "enter".to_string(),
            In::TextLeave(_) => "leave".into(),
            In::TextCommit(text) => format!("commit {}", text.as_deref().unwrap_or("")),
            In::TextDone(serial) => format!("done {serial}"),
            other => format!("{other:?}"),
        })
    })
}

#[test]
fn an_input_method_bound_after_the_text_input_was_enabled_is_activated() {
    let s = Session::start(&[]);
    let (mut a, _manager, ti) = writer(&s, "writer");
    ti.commit(); // a commit before enabling: the serial of `done` counts it too
    ti.enable();
    ti.set_surrounding_text("some text".into(), 2, 1);
    ti.commit();
    a.c.roundtrip();
    let mark = a.log.mark();

    let (mut im_client, log, im) = input_method(&s);
    assert_eq!(
        im_events(&log, 0, &im),
        ["activate", "surrounding some text", "done"],
        "the input method was not activated for the enabled text-input"
    );
    a.c.roundtrip();
    assert!(
        text_events(&a.log, mark, &ti).is_empty(),
        "binding an input method changed the text-input's focus"
    );

    // The input method writes; the text-input's `done` carries the client's 2 commits.
    im.commit_string("written".into());
    im.commit(1);
    im_client.roundtrip();
    a.c.roundtrip();
    assert_eq!(text_events(&a.log, mark, &ti), ["commit written", "done 2"]);

    let mark = log.mark();
    ti.disable();
    ti.commit();
    a.c.roundtrip();
    im_client.roundtrip();
    assert_eq!(im_events(&log, mark, &im), ["deactivate", "done"]);
}

#[test]
fn a_text_input_enabled_before_its_window_lost_focus_does_not_activate_an_input_method() {
    let s = Session::start(&[]);
    let (mut a, _manager, ti) = writer(&s, "writer");
    ti.enable();
    ti.commit();
    a.c.roundtrip();
    // The focus moves to another window and back: the text-input was left, so it is no longer
    // enabled (its client would enable it again after `enter`).
    let b = App::new(&s, "other", 300, 200);
    a.focus_by_click(&s, &[&b]);
    a.c.roundtrip();
    let (_c, log, im) = input_method(&s);
    assert!(
        im_events(&log, 0, &im).is_empty(),
        "a text-input left since it was enabled activated the input method"
    );
}

#[test]
fn destroying_the_active_text_input_deactivates_the_input_method_once() {
    let s = Session::start(&[]);
    let (mut im_client, log, im) = input_method(&s);
    let (mut a, manager, first) = writer(&s, "writer");
    let second = text_input(&mut a, &manager);
    im_client.roundtrip(); // Smithay deactivates the input method on every focus change
    let mark = log.mark();
    second.enable();
    second.commit();
    a.c.roundtrip();
    im_client.roundtrip();
    assert_eq!(im_events(&log, mark, &im), ["activate", "done"]);

    let mark = log.mark();
    second.destroy();
    a.c.roundtrip();
    im_client.roundtrip();
    assert_eq!(im_events(&log, mark, &im), ["deactivate", "done"]);

    // The other text-input of the client may take over.
    let mark = log.mark();
    first.enable();
    first.commit();
    a.c.roundtrip();
    im_client.roundtrip();
    assert_eq!(im_events(&log, mark, &im), ["activate", "done"]);
    let mark = log.mark();
    first.destroy();
    a.c.roundtrip();
    im_client.roundtrip();
    assert_eq!(im_events(&log, mark, &im), ["deactivate", "done"]);

    // With no text-input left active, a new one is not refused.
    let mark = log.mark();
    let third = text_input(&mut a, &manager);
    third.enable();
    third.commit();
    a.c.roundtrip();
    im_client.roundtrip();
    assert_eq!(im_events(&log, mark, &im), ["activate", "done"]);
}

#[test]
fn an_undefined_content_hint_is_dropped_not_fatal() {
    let s = Session::start(&[]);
    let (mut im_client, log, im) = input_method(&s);
    let (mut a, _manager, ti) = writer(&s, "writer");
    im_client.roundtrip();
    let mark = log.mark();
    ti.enable();
    ti.set_content_type(ContentHint::from_bits_retain(1 << 30), ContentPurpose::Normal);
    ti.commit();
    a.c.roundtrip();
    im_client.roundtrip();
    assert_eq!(im_events(&log, mark, &im), ["activate", "done"]);
}
