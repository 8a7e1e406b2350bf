//! zwp_keyboard_shortcuts_inhibit_manager_v1: a client (a VM viewer, a remote desktop) asks for
//! the keys the compositor would take. Gated by `input.inhibit`.
//!
//! Inhibitors are activated (the client gets `active`), but secure keys are never inhibited:
//! every compositor binding is still matched before a key reaches any client (`input.rs`), so an
//! inhibitor changes nothing a client could use against the user.
//!
//! Smithay 0.7 gives this global no client filter: the `GlobalDispatch` for its `()` global data
//! is written here, with a gated `can_view`, and binds are served by Smithay.

use smithay::{
    reexports::{
        wayland_protocols::wp::keyboard_shortcuts_inhibit::zv1::server::{
            zwp_keyboard_shortcuts_inhibit_manager_v1::ZwpKeyboardShortcutsInhibitManagerV1,
            zwp_keyboard_shortcuts_inhibitor_v1::ZwpKeyboardShortcutsInhibitorV1,
        },
        wayland_server::{
            backend::GlobalId, delegate_dispatch, Client, DataInit, DisplayHandle, GlobalDispatch, New,
        },
    },
    wayland::keyboard_shortcuts_inhibit::{
        KeyboardShortcutsInhibitHandler, KeyboardShortcutsInhibitState, KeyboardShortcutsInhibitor,
        KeyboardShortcutsInhibitorUserData,
    },
};

use crate::{capsules::gate::client_caps, state::State};

const INTERFACE: &str = "zwp_keyboard_shortcuts_inhibit_manager_v1";

pub fn create(dh: &DisplayHandle) -> KeyboardShortcutsInhibitState {
    KeyboardShortcutsInhibitState::new::<State>(dh)
}

/// A live grant of `input.inhibit`: a new global (served by the same state, which holds the
/// inhibitors), the old one removed.
pub fn reannounce(state: &mut State) {
    let dh = state.nexq.display_handle.clone();
    let global = dh.create_global::<State, ZwpKeyboardShortcutsInhibitManagerV1, _>(1, ());
    let old: GlobalId = std::mem::replace(&mut state.nexq.shortcuts_inhibit_global, global);
    dh.remove_global::<State>(old);
}

impl GlobalDispatch<ZwpKeyboardShortcutsInhibitManagerV1, ()> for State {
    fn bind(
        state: &mut Self,
        dh: &DisplayHandle,
        client: &Client,
        resource: New<ZwpKeyboardShortcutsInhibitManagerV1>,
        global_data: &(),
        data_init: &mut DataInit<'_, Self>,
    ) {
        <KeyboardShortcutsInhibitState as GlobalDispatch<ZwpKeyboardShortcutsInhibitManagerV1, (), State>>::bind(
            state,
            dh,
            client,
            resource,
            global_data,
            data_init,
        );
    }

    fn can_view(client: Client, _global_data: &()) -> bool {
        exo_shell::gating::client_may_see(INTERFACE, client_caps(&client))
    }
}

delegate_dispatch!(State: [ZwpKeyboardShortcutsInhibitManagerV1: ()] => KeyboardShortcutsInhibitState);
delegate_dispatch!(State: [ZwpKeyboardShortcutsInhibitorV1: KeyboardShortcutsInhibitorUserData] => KeyboardShortcutsInhibitState);

impl KeyboardShortcutsInhibitHandler for State {
    fn keyboard_shortcuts_inhibit_state(&mut self) -> &mut KeyboardShortcutsInhibitState {
        &mut self.nexq.shortcuts_inhibit_state
    }

    fn new_inhibitor(&mut self, inhibitor: KeyboardShortcutsInhibitor) {
        inhibitor.activate();
    }
}
