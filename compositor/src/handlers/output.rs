//! wl_output with xdg-output, fractional-scale and presentation-time; outputs that come and go.

use smithay::{
    delegate_fractional_scale, delegate_output, delegate_presentation,
    output::Output,
    reexports::wayland_server::{backend::GlobalId, protocol::wl_surface::WlSurface},
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
        // The primary output's scale is every surface's preferred scale.
        let scale = self.nexq.outputs.primary().current_scale().fractional_scale();
        with_states(&surface, |states| {
            with_fractional_scale(states, |fs| fs.set_preferred_scale(scale));
        });
    }
}

/// The wl_output global of an output, kept in its user data to remove it when the output goes.
pub struct OutputGlobal(pub GlobalId);

impl State {
    /// Outputs came, went or changed size: place them again, then what is on them; the pointer
    /// stays on an output.
    pub fn outputs_changed(&mut self) {
        self.nexq.outputs.arrange(&mut self.nexq.space);
        self.update_usable_area();
        let pos = self.nexq.pointer.current_location();
        let kept = self.nexq.outputs.clamp(pos);
        if kept != pos {
            self.pointer_motion(kept, None);
        }
        self.queue_redraw();
    }

    /// A new output, placed right of the others.
    pub fn add_output(&mut self, output: Output) {
        tracing::info!(output = %output.name(), "output added");
        self.nexq.outputs.add(output);
        self.outputs_changed();
    }

    /// An output went away: its global goes, its windows move to the remaining outputs and the
    /// layer surfaces that asked for it are closed. The last output is never removed.
    pub fn remove_output(&mut self, output: &Output) -> bool {
        if !self.nexq.outputs.remove(output) {
            return false;
        }
        tracing::info!(output = %output.name(), "output removed");
        self.nexq.space.unmap_output(output);
        if let Some(global) = output.user_data().get::<OutputGlobal>() {
            self.nexq.display_handle.remove_global::<State>(global.0.clone());
        }
        self.outputs_changed();
        true
    }
}

delegate_output!(State);
delegate_fractional_scale!(State);
delegate_presentation!(State);
