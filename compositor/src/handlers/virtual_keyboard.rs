//! zwp_virtual_keyboard_manager_v1: keys typed by a client (an on-screen keyboard, a test driver)
//! reach the focused client. Gated by `input.inject`. Virtual keys go straight to the focused
//! client, never through the compositor's bindings, so they cannot trigger secure keys.

use smithay::{
    delegate_virtual_keyboard_manager, reexports::wayland_server::DisplayHandle,
    wayland::virtual_keyboard::VirtualKeyboardManagerState,
};

use crate::{capsules::gate::filter_for, state::State};

delegate_virtual_keyboard_manager!(State);

pub fn create(dh: &DisplayHandle) -> VirtualKeyboardManagerState {
    VirtualKeyboardManagerState::new::<State, _>(dh, filter_for("zwp_virtual_keyboard_manager_v1"))
}

/// A live grant of `input.inject`: a new global, the old one removed.
pub fn reannounce(state: &mut State) {
    let dh = state.nexq.display_handle.clone();
    let old = std::mem::replace(&mut state.nexq.virtual_keyboard_state, create(&dh));
    dh.remove_global::<State>(old.global());
}
