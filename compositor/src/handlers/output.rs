//! wl_output with xdg-output, fractional-scale and presentation-time.

use smithay::{
    delegate_fractional_scale, delegate_output, delegate_presentation,
    reexports::wayland_server::protocol::wl_surface::WlSurface,
    wayland::{
        compositor::with_states,
        fractional_scale::{with_fractional_scale, FractionalScaleHandler},
        output::OutputHandler,
    },
};

use crate::state::State;

impl OutputHandler for State {}

impl FractionalScaleHandler for State {
    fn new_fractional_scale(&mut self, surface: WlSurface) {
        // One output: its scale is every surface's preferred scale.
        let scale = self.nexq.output.current_scale().fractional_scale();
        with_states(&surface, |states| {
            with_fractional_scale(states, |fs| fs.set_preferred_scale(scale));
        });
    }
}

delegate_output!(State);
delegate_fractional_scale!(State);
delegate_presentation!(State);
