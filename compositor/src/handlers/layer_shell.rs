//! zwlr_layer_shell_v1: panels, backgrounds and overlays. Exclusive zones shrink the area the
//! layout places windows in.

use smithay::{
    delegate_layer_shell,
    desktop::LayerSurface,
    output::Output,
    reexports::wayland_server::protocol::wl_output::WlOutput,
    wayland::shell::{
        wlr_layer::{
            KeyboardInteractivity, Layer, LayerSurface as WlrLayerSurface, WlrLayerShellHandler,
            WlrLayerShellState,
        },
        xdg::PopupSurface,
    },
};

use crate::{focus::KeyboardFocusTarget, state::State};

impl WlrLayerShellHandler for State {
    fn shell_state(&mut self) -> &mut WlrLayerShellState {
        &mut self.nexq.layer_shell_state
    }

    fn new_layer_surface(
        &mut self,
        surface: WlrLayerSurface,
        output: Option<WlOutput>,
        _layer: Layer,
        namespace: String,
    ) {
        // On the output asked for, else the primary one; placed (and configured) when it first
        // commits. An output already gone by now closes the surface at once.
        let wanted = match output.map(|o| Output::from_resource(&o)) {
            None => None,
            Some(Some(output)) => Some(output),
            Some(None) => {
                surface.send_close();
                return;
            }
        };
        self.nexq
            .layers
            .map(LayerSurface::new(surface, namespace), wanted);
    }

    fn new_popup(&mut self, _parent: WlrLayerSurface, popup: PopupSurface) {
        // Already tracked by `XdgShellHandler::new_popup` (as a popup without a parent yet); the
        // popup manager puts it under its layer surface when it first commits. Tracking it here
        // too would list it twice (two popup_done when it is dismissed).
        self.unconstrain_popup(&popup);
    }

    fn layer_destroyed(&mut self, surface: WlrLayerSurface) {
        self.nexq.layers.unmap(&surface);
        if self
            .nexq
            .seat
            .get_keyboard()
            .and_then(|k| k.current_focus())
            .is_some_and(|f| &f.0 == surface.wl_surface())
        {
            self.apply_focus();
        }
        self.update_usable_area();
        self.queue_redraw();
    }
}

impl State {
    /// Place the layer surfaces on their outputs (see `exo_shell::layer_layout`), configuring
    /// those whose size changed.
    pub fn arrange_layers(&mut self) {
        let outputs: Vec<_> = self
            .nexq
            .outputs
            .iter()
            .map(|o| (o.clone(), output_area(o)))
            .collect();
        self.nexq.layers.arrange(&outputs);
    }

    /// Place the layer surfaces, hand the areas their exclusive zones leave to the layout; give
    /// keyboard focus to a layer surface that asks for it exclusively.
    pub fn update_usable_area(&mut self) {
        self.arrange_layers();
        let exclusive_focus = self.exclusive_layer_focus();
        let screens = self.nexq.layers.screens();
        self.nexq.layout.set_screens(screens);
        self.nexq.sync_space();
        if let Some(target) = exclusive_focus {
            self.set_keyboard_focus(Some(target));
        } else if self.focused_layer_refuses_keyboard() {
            // Its keyboard interactivity went to none: the focus goes back to the windows.
            self.apply_focus();
        }
    }

    /// The topmost layer surface on the top or overlay layer that wants the keyboard exclusively.
    pub fn exclusive_layer_focus(&self) -> Option<KeyboardFocusTarget> {
        self.nexq
            .layers
            .iter()
            .rev()
            .find(|l| {
                l.cached_state().keyboard_interactivity == KeyboardInteractivity::Exclusive
                    && matches!(l.layer(), Layer::Top | Layer::Overlay)
            })
            .map(|l| KeyboardFocusTarget(l.wl_surface().clone()))
    }

    /// Whether the keyboard is on a layer surface that no longer takes keyboard input.
    fn focused_layer_refuses_keyboard(&self) -> bool {
        let Some(focus) = self.nexq.seat.get_keyboard().and_then(|k| k.current_focus()) else {
            return false;
        };
        self.nexq
            .layers
            .find(&focus.0)
            .is_some_and(|l| l.cached_state().keyboard_interactivity == KeyboardInteractivity::None)
    }

    /// A layer surface showed its first buffer: one that takes keyboard input on the top or
    /// overlay layer gets the focus, as a new window does.
    pub fn focus_new_layer(&mut self, layer: &LayerSurface) {
        let mapped = layer.user_data().insert_if_missing_threadsafe(|| FocusedOnMap);
        if !mapped {
            return;
        }
        announce_dashboard(layer);
        let wants = layer.cached_state().keyboard_interactivity != KeyboardInteractivity::None
            && matches!(layer.layer(), Layer::Top | Layer::Overlay);
        if wants {
            self.set_keyboard_focus(Some(KeyboardFocusTarget(layer.wl_surface().clone())));
        }
    }
}

/// An output's area in global logical coordinates, in the layout's terms.
fn output_area(output: &Output) -> exo_shell::geometry::Rect {
    let r = crate::outputs::logical_rect(output);
    exo_shell::geometry::Rect::new(r.loc.x, r.loc.y, r.size.w, r.size.h)
}

/// The line exo-init's console, `./x run` and the boot tests wait for: the Sentry dashboard
/// capsule's overlay showed its first frame (printed again if the dashboard is restarted).
pub const DASHBOARD_MAPPED: &str = "nexquelium: dashboard mapped";

fn announce_dashboard(layer: &LayerSurface) {
    use smithay::reexports::wayland_server::Resource;
    let by_dashboard = layer
        .wl_surface()
        .client()
        .and_then(|c| {
            c.get_data::<crate::state::ClientState>()
                .and_then(|d| d.identity.capsule.clone())
        })
        .is_some_and(|capsule| capsule == "sentry-dashboard");
    if by_dashboard && layer.namespace() == "exosphere-dashboard" {
        eprintln!("{DASHBOARD_MAPPED}");
        tracing::info!("the Sentry dashboard is on screen");
    }
}

/// Marks a layer surface that has been shown (and offered the focus) once.
struct FocusedOnMap;

delegate_layer_shell!(State);
