//! xdg-activation: a token is valid only when the client that has keyboard focus created it with
//! an input serial it got since it took focus (and not one from the future), so a background
//! client cannot steal focus, neither with its own old serials nor with guessed ones
//! (DESIGN.md §4.6). The focused client may hand its token on (that is what tokens are for).

use std::time::Duration;

use smithay::{
    delegate_xdg_activation,
    input::Seat,
    reexports::wayland_server::{protocol::wl_surface::WlSurface, Resource},
    utils::SERIAL_COUNTER,
    wayland::xdg_activation::{
        XdgActivationHandler, XdgActivationState, XdgActivationToken, XdgActivationTokenData,
    },
};

use crate::state::State;

/// How long an activation token stays usable.
const TOKEN_LIFETIME: Duration = Duration::from_secs(10);

impl XdgActivationHandler for State {
    fn activation_state(&mut self) -> &mut XdgActivationState {
        &mut self.nexq.xdg_activation_state
    }

    fn token_created(&mut self, _token: XdgActivationToken, data: XdgActivationTokenData) -> bool {
        let Some((serial, seat)) = data.serial.clone() else {
            tracing::warn!(
                capsule = %capsule_of(self, &data),
                "refused an activation token: made without an input serial"
            );
            return false;
        };
        let Some(keyboard) = self.nexq.seat.get_keyboard() else {
            return false;
        };
        let focused_client = keyboard
            .current_focus()
            .and_then(|f| f.0.client())
            .map(|c| c.id());
        let issued_to_focused = data.client_id.is_some() && data.client_id == focused_client;
        // Serials only grow: one the compositor has not sent yet is a guess.
        let sent = SERIAL_COUNTER.next_serial();
        let valid = issued_to_focused
            && Seat::from_resource(&seat).as_ref() == Some(&self.nexq.seat)
            && sent.is_no_older_than(&serial)
            && keyboard
                .last_enter()
                .is_some_and(|enter| serial.is_no_older_than(&enter));
        if !valid {
            tracing::warn!(
                capsule = %capsule_of(self, &data),
                ?serial,
                "refused an activation token: not made by the focused client with a serial since it took focus"
            );
        }
        valid
    }

    fn request_activation(
        &mut self,
        _token: XdgActivationToken,
        data: XdgActivationTokenData,
        surface: WlSurface,
    ) {
        if data.timestamp.elapsed() >= TOKEN_LIFETIME {
            return;
        }
        if let Some(id) = self.nexq.window_id_for_surface(&surface) {
            self.nexq.layout.focus(&id);
            self.apply_focus();
        }
    }
}

/// The capsule (or "(host)") that asked for an activation token, for the log.
fn capsule_of(state: &State, data: &XdgActivationTokenData) -> String {
    let handle = state.nexq.display_handle.backend_handle();
    data.client_id
        .clone()
        .and_then(|id| handle.get_client_data(id).ok())
        .and_then(|d| d.downcast_arc::<crate::state::ClientState>().ok())
        .and_then(|d| d.identity.capsule.clone())
        .unwrap_or_else(|| "(host)".into())
}

delegate_xdg_activation!(State);
