//! The keyboard focus target: a surface, wrapped so that Smithay's popup grabs can turn a popup
//! into a focus (`From<PopupKind>`), which a bare `WlSurface` cannot offer.

use std::borrow::Cow;

use smithay::{
    backend::input::KeyState,
    desktop::PopupKind,
    input::{
        keyboard::{KeyboardTarget, KeysymHandle, ModifiersState},
        Seat,
    },
    reexports::wayland_server::{backend::ObjectId, protocol::wl_surface::WlSurface, Resource},
    utils::{IsAlive, Serial},
    wayland::{seat::WaylandFocus, text_input::TextInputSeat},
};

use crate::state::State;

#[derive(Debug, Clone, PartialEq)]
pub struct KeyboardFocusTarget(pub WlSurface);

impl From<PopupKind> for KeyboardFocusTarget {
    fn from(popup: PopupKind) -> Self {
        KeyboardFocusTarget(popup.wl_surface().clone())
    }
}

impl From<KeyboardFocusTarget> for WlSurface {
    fn from(target: KeyboardFocusTarget) -> Self {
        target.0
    }
}

impl IsAlive for KeyboardFocusTarget {
    fn alive(&self) -> bool {
        self.0.alive()
    }
}

impl WaylandFocus for KeyboardFocusTarget {
    fn wl_surface(&self) -> Option<Cow<'_, WlSurface>> {
        Some(Cow::Borrowed(&self.0))
    }
    fn same_client_as(&self, object_id: &ObjectId) -> bool {
        self.0.id().same_client_as(object_id)
    }
}

impl KeyboardTarget<State> for KeyboardFocusTarget {
    // Text-input focus follows keyboard focus (text-input-v3). Smithay sends text-input
    // enter/leave only while an input method is bound, so without one they are sent here (see
    // `handlers::input_method`); and what text-inputs enabled before is void.
    fn enter(&self, seat: &Seat<State>, data: &mut State, keys: Vec<KeysymHandle<'_>>, serial: Serial) {
        KeyboardTarget::enter(&self.0, seat, data, keys, serial);
        crate::handlers::text_input::focus_moved(seat);
        if !data.nexq.input_method_bound {
            seat.text_input().enter();
        }
    }
    fn leave(&self, seat: &Seat<State>, data: &mut State, serial: Serial) {
        crate::handlers::text_input::focus_moved(seat);
        if !data.nexq.input_method_bound {
            seat.text_input().leave();
        }
        KeyboardTarget::leave(&self.0, seat, data, serial)
    }
    fn key(
        &self,
        seat: &Seat<State>,
        data: &mut State,
        key: KeysymHandle<'_>,
        state: KeyState,
        serial: Serial,
        time: u32,
    ) {
        KeyboardTarget::key(&self.0, seat, data, key, state, serial, time)
    }
    fn modifiers(&self, seat: &Seat<State>, data: &mut State, modifiers: ModifiersState, serial: Serial) {
        KeyboardTarget::modifiers(&self.0, seat, data, modifiers, serial)
    }
}
