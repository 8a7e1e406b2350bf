//! xdg-activation: a token is valid only when created with a recent input serial of the client
//! that has keyboard focus, so a background client cannot steal focus.

use std::time::Duration;

use smithay::{
    delegate_xdg_activation,
    input::Seat,
    reexports::wayland_server::protocol::wl_surface::WlSurface,
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
        let Some((serial, seat)) = data.serial else {
            return false;
        };
        let Some(keyboard) = self.nexq.seat.get_keyboard() else {
            return false;
        };
        Seat::from_resource(&seat).as_ref() == Some(&self.nexq.seat)
            && keyboard
                .last_enter()
                .is_some_and(|enter| serial.is_no_older_than(&enter))
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

delegate_xdg_activation!(State);
