//! zwlr_layer_shell_v1: panels, backgrounds and overlays. Exclusive zones shrink the area the
//! layout places windows in.

use exo_shell::geometry::Rect;
use smithay::{
    delegate_layer_shell,
    desktop::{layer_map_for_output, LayerSurface, PopupKind},
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
        _output: Option<WlOutput>,
        _layer: Layer,
        namespace: String,
    ) {
        // There is one output; a requested output is always that one.
        let output = self.nexq.output.clone();
        let mut map = layer_map_for_output(&output);
        if let Err(err) = map.map_layer(&LayerSurface::new(surface, namespace)) {
            tracing::warn!(?err, "cannot map layer surface");
        }
    }

    fn new_popup(&mut self, _parent: WlrLayerSurface, popup: PopupSurface) {
        self.unconstrain_popup(&popup);
        if let Err(err) = self.nexq.popups.track_popup(PopupKind::from(popup)) {
            tracing::warn!(%err, "cannot track layer popup");
        }
    }

    fn layer_destroyed(&mut self, surface: WlrLayerSurface) {
        let output = self.nexq.output.clone();
        let mut map = layer_map_for_output(&output);
        let layer = map.layers().find(|l| l.layer_surface() == &surface).cloned();
        if let Some(layer) = layer {
            map.unmap_layer(&layer);
        }
        drop(map);
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
    /// Recompute the area left by exclusive zones and hand it to the layout; give keyboard
    /// focus to a layer surface that asks for it exclusively.
    pub fn update_usable_area(&mut self) {
        let output = self.nexq.output.clone();
        let map = layer_map_for_output(&output);
        let zone = map.non_exclusive_zone();
        let exclusive_focus = map
            .layers()
            .rev()
            .find(|l| {
                l.cached_state().keyboard_interactivity == KeyboardInteractivity::Exclusive
                    && matches!(l.layer(), Layer::Top | Layer::Overlay)
            })
            .map(|l| KeyboardFocusTarget(l.wl_surface().clone()));
        drop(map);
        let full = self.nexq.output_logical_rect();
        let to_rect = |r: smithay::utils::Rectangle<i32, smithay::utils::Logical>| Rect {
            x: r.loc.x,
            y: r.loc.y,
            w: r.size.w,
            h: r.size.h,
        };
        self.nexq.layout.set_areas(to_rect(full), to_rect(zone));
        self.nexq.sync_space();
        if let Some(target) = exclusive_focus {
            self.set_keyboard_focus(Some(target));
        }
    }
}

delegate_layer_shell!(State);
