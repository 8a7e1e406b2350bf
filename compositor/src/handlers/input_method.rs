//! zwp_input_method_manager_v2: an input method (on-screen keyboard, IME) is activated and
//! deactivated as the focused client enables and disables its text-input-v3, and may commit text
//! to it. Gated by `input.method`. Input-method popups are not drawn: a client-positioned surface
//! over another capsule's window would be a way around the trusted labels.
//!
//! Text-input focus: with no input method bound Smithay sends no text-input `enter`/`leave`,
//! so nexquelium sends them (`focus.rs`, `handlers::text_input`); with one bound Smithay does.
//! Which of the two applies is `Nexq::input_method_bound`, kept here in step with Smithay's own
//! notion: set when an input method is created, cleared when any is destroyed. What text-inputs
//! asked while none was bound reaches Smithay when one is (`text_input::release_held`).

use smithay::{
    reexports::{
        wayland_protocols_misc::zwp_input_method_v2::server::{
            zwp_input_method_keyboard_grab_v2::ZwpInputMethodKeyboardGrabV2,
            zwp_input_method_manager_v2::{self, ZwpInputMethodManagerV2},
            zwp_input_method_v2::ZwpInputMethodV2,
            zwp_input_popup_surface_v2::ZwpInputPopupSurfaceV2,
        },
        wayland_server::{
            backend::ClientId, delegate_dispatch, delegate_global_dispatch, protocol::wl_surface::WlSurface,
            Client, DataInit, Dispatch, DisplayHandle,
        },
    },
    utils::{Logical, Rectangle},
    wayland::{
        input_method::{
            InputMethodHandler, InputMethodKeyboardUserData, InputMethodManagerGlobalData,
            InputMethodManagerState, InputMethodPopupSurfaceUserData, InputMethodUserData, PopupSurface,
        },
        text_input::TextInputSeat,
    },
};

use crate::{capsules::gate::filter_for, state::State};

pub fn create(dh: &DisplayHandle) -> InputMethodManagerState {
    InputMethodManagerState::new::<State, _>(dh, filter_for("zwp_input_method_manager_v2"))
}

/// A live grant of `input.method`: a new global, the old one removed.
pub fn reannounce(state: &mut State) {
    let dh = state.nexq.display_handle.clone();
    let old = std::mem::replace(&mut state.nexq.input_method_state, create(&dh));
    dh.remove_global::<State>(old.global());
}

impl InputMethodHandler for State {
    fn new_popup(&mut self, _surface: PopupSurface) {}
    fn dismiss_popup(&mut self, _surface: PopupSurface) {}
    fn popup_repositioned(&mut self, _surface: PopupSurface) {}

    fn parent_geometry(&self, parent: &WlSurface) -> Rectangle<i32, Logical> {
        self.nexq
            .window_id_for_any_surface(parent)
            .and_then(|id| self.nexq.content_of(id))
            .map(|c| Rectangle::new((c.x, c.y).into(), (c.w, c.h).into()))
            .unwrap_or_default()
    }
}

delegate_global_dispatch!(State: [ZwpInputMethodManagerV2: InputMethodManagerGlobalData] => InputMethodManagerState);
delegate_dispatch!(State: [ZwpInputMethodKeyboardGrabV2: InputMethodKeyboardUserData<State>] => InputMethodManagerState);
delegate_dispatch!(State: [ZwpInputPopupSurfaceV2: InputMethodPopupSurfaceUserData] => InputMethodManagerState);

impl Dispatch<ZwpInputMethodManagerV2, ()> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        resource: &ZwpInputMethodManagerV2,
        request: zwp_input_method_manager_v2::Request,
        data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        let creates = matches!(
            request,
            zwp_input_method_manager_v2::Request::GetInputMethod { .. }
        );
        if !creates {
            <InputMethodManagerState as Dispatch<ZwpInputMethodManagerV2, (), State>>::request(
                state, client, resource, request, data, dh, data_init,
            );
            return;
        }
        // Smithay enters the focused text-input for the new input method, which was entered
        // when it got focus: hidden from Smithay for the call, its client sees nothing and keeps
        // its text-input entered (and enabled).
        let text_input = state.nexq.seat.text_input().clone();
        let focus = text_input.focus();
        text_input.set_focus(None);
        <InputMethodManagerState as Dispatch<ZwpInputMethodManagerV2, (), State>>::request(
            state, client, resource, request, data, dh, data_init,
        );
        text_input.set_focus(focus);
        state.nexq.input_method_bound = true;
        crate::handlers::text_input::release_held(state, dh, data_init);
    }
}

impl Dispatch<ZwpInputMethodV2, InputMethodUserData<State>> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        resource: &ZwpInputMethodV2,
        request: <ZwpInputMethodV2 as smithay::reexports::wayland_server::Resource>::Request,
        data: &InputMethodUserData<State>,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        <InputMethodManagerState as Dispatch<ZwpInputMethodV2, InputMethodUserData<State>, State>>::request(
            state, client, resource, request, data, dh, data_init,
        );
    }

    fn destroyed(
        state: &mut Self,
        client: ClientId,
        resource: &ZwpInputMethodV2,
        data: &InputMethodUserData<State>,
    ) {
        // Smithay forgets its input method and sends the focused text-input `leave`; without an
        // input method nexquelium keeps the focused client's text-input entered.
        <InputMethodManagerState as Dispatch<ZwpInputMethodV2, InputMethodUserData<State>, State>>::destroyed(
            state, client, resource, data,
        );
        state.nexq.input_method_bound = false;
        state.nexq.seat.text_input().enter();
    }
}
