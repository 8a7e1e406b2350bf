//! The layer surfaces on the outputs, in mapping order, and where each one is. A surface goes
//! on the output it asked for, else on the primary one (following it when the primary output
//! changes); a surface whose own output goes away is closed. The placement on each output is
//! `exo_shell::layer_layout`'s (the protocol's rules); this list replaces Smithay's `LayerMap`,
//! whose `arrange` (which it also runs on every map and unmap) stretches a requested size between
//! opposite anchors, arranges in one pass in mapping order and applies exclusive zones the
//! protocol says count as zero.

use exo_shell::{
    geometry::{Rect, Size},
    layer_layout::{self, Anchors, LayerSpec, Margins},
    layout::Screen,
};
use smithay::{
    backend::renderer::utils::with_renderer_surface_state,
    desktop::{LayerSurface, PopupManager, WindowSurfaceType},
    output::Output,
    reexports::wayland_server::protocol::wl_surface::WlSurface,
    utils::{IsAlive, Logical, Point},
    wayland::{
        compositor::{with_states, with_surface_tree_downward, TraversalAction},
        shell::wlr_layer::{Anchor, ExclusiveZone, Layer, LayerSurface as WlrLayerSurface, LayerSurfaceData},
    },
};

/// The layer surfaces of all outputs, oldest first, with the origin each was given.
#[derive(Debug, Default)]
pub struct LayerSurfaces {
    entries: Vec<Placed>,
    /// Each output's area and what the exclusive zones leave of it, primary first.
    screens: Vec<Screen>,
}

#[derive(Debug)]
struct Placed {
    surface: LayerSurface,
    /// The output the client asked for; None: the primary output, whichever that is.
    wanted: Option<Output>,
    /// The output it is on, as of the last arrange.
    on: Option<Output>,
    origin: Point<i32, Logical>,
}

impl LayerSurfaces {
    /// Track a new layer surface for `wanted` (None: the primary output); it is placed by the
    /// next [`arrange`](Self::arrange).
    pub fn map(&mut self, surface: LayerSurface, wanted: Option<Output>) {
        if !self.entries.iter().any(|p| p.surface == surface) {
            self.entries.push(Placed {
                surface,
                wanted,
                on: None,
                origin: Point::default(),
            });
        }
    }

    /// Stop tracking a layer surface and take it (with its popups) off its output.
    pub fn unmap(&mut self, surface: &WlrLayerSurface) {
        let Some(i) = self
            .entries
            .iter()
            .position(|p| p.surface.layer_surface() == surface)
        else {
            return;
        };
        let placed = self.entries.remove(i);
        if let Some(output) = &placed.on {
            for_surface_trees(&placed.surface, |s| output.leave(s));
        }
    }

    /// Every layer surface, oldest (lowest in its layer) first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LayerSurface> {
        self.entries.iter().map(|p| &p.surface)
    }

    /// The surfaces on one layer of one output with their origins, lowest first.
    pub fn on<'a>(
        &'a self,
        output: &'a Output,
        layer: Layer,
    ) -> impl DoubleEndedIterator<Item = (&'a LayerSurface, Point<i32, Logical>)> + 'a {
        self.entries
            .iter()
            .filter(move |p| p.surface.layer() == layer && p.on.as_ref() == Some(output))
            .map(|p| (&p.surface, p.origin))
    }

    /// The surfaces on one layer of every output with their origins, lowest first.
    fn on_any(&self, layer: Layer) -> impl DoubleEndedIterator<Item = (&LayerSurface, Point<i32, Logical>)> {
        self.entries
            .iter()
            .filter(move |p| p.surface.layer() == layer && p.on.is_some())
            .map(|p| (&p.surface, p.origin))
    }

    /// The layer surface whose own (root) surface is `surface`.
    pub fn find(&self, surface: &WlSurface) -> Option<&LayerSurface> {
        self.iter().find(|l| l.wl_surface() == surface)
    }

    /// Where a layer surface's origin is, in global coordinates.
    pub fn origin(&self, layer: &LayerSurface) -> Option<Point<i32, Logical>> {
        self.entries
            .iter()
            .find(|p| &p.surface == layer)
            .map(|p| p.origin)
    }

    /// The topmost surface (a layer surface, its subsurfaces or popups) on `layer` under `pos`,
    /// with that surface's global origin.
    pub fn surface_under(
        &self,
        layer: Layer,
        pos: Point<f64, Logical>,
    ) -> Option<(WlSurface, Point<f64, Logical>)> {
        self.on_any(layer).rev().find_map(|(l, origin)| {
            l.surface_under(pos - origin.to_f64(), WindowSurfaceType::ALL)
                .map(|(s, loc)| (s, (loc + origin).to_f64()))
        })
    }

    /// The topmost layer surface on `layer` whose surfaces or popups cover `pos`.
    pub fn layer_under(&self, layer: Layer, pos: Point<f64, Logical>) -> Option<&LayerSurface> {
        self.on_any(layer).rev().find_map(|(l, origin)| {
            let mut bbox = l.bbox_with_popups();
            bbox.loc += origin;
            bbox.to_f64().contains(pos).then_some(l)
        })
    }

    /// Each output's area and what the exclusive zones leave of it, as of the last
    /// [`arrange`](Self::arrange), primary first.
    pub fn screens(&self) -> Vec<Screen> {
        self.screens.clone()
    }

    /// Place every layer surface on its output (`outputs`: each with its global area, the
    /// primary first): record the origins and the usable areas, and tell every configured
    /// surface whose size changed its new size (a surface gets its first configure from its
    /// initial commit, see `initial_configure_sent`). A surface whose output is gone is closed.
    pub fn arrange(&mut self, outputs: &[(Output, Rect)]) {
        self.entries.retain(|p| p.surface.alive());
        let known = |o: &Output| outputs.iter().any(|(known, _)| known == o);
        self.entries.retain(|p| match &p.wanted {
            Some(wanted) if !known(wanted) => {
                p.surface.layer_surface().send_close();
                if let Some(output) = &p.on {
                    for_surface_trees(&p.surface, |s| output.leave(s));
                }
                false
            }
            _ => true,
        });
        let primary = outputs.first().map(|(o, _)| o.clone());
        self.screens.clear();
        for (output, area) in outputs {
            let on_this: Vec<usize> = (0..self.entries.len())
                .filter(|&i| self.entries[i].wanted.as_ref().or(primary.as_ref()) == Some(output))
                .collect();
            let specs: Vec<LayerSpec> = on_this
                .iter()
                .map(|&i| spec_of(&self.entries[i].surface))
                .collect();
            let arrangement = layer_layout::arrange(*area, &specs);
            for (&i, rect) in on_this.iter().zip(&arrangement.rects) {
                let placed = &mut self.entries[i];
                if let Some(old) = placed.on.as_ref().filter(|old| *old != output) {
                    for_surface_trees(&placed.surface, |s| old.leave(s));
                }
                placed.on = Some(output.clone());
                placed.origin = Point::from((rect.x, rect.y));
                let layer = placed.surface.layer_surface();
                layer.with_pending_state(|state| state.size = Some((rect.w, rect.h).into()));
                if initial_configure_sent(layer.wl_surface()) {
                    layer.send_pending_configure();
                }
                for_surface_trees(&placed.surface, |s| output.enter(s));
            }
            self.screens.push(Screen::new(*area, arrangement.usable));
        }
    }
}

/// Whether a layer surface has had its first configure (sent in reply to its initial commit).
pub fn initial_configure_sent(surface: &WlSurface) -> bool {
    with_states(surface, |states| {
        states
            .data_map
            .get::<LayerSurfaceData>()
            .map(|d| d.lock().map(|d| d.initial_configure_sent).unwrap_or(true))
            .unwrap_or(true)
    })
}

/// A layer surface's committed state, in the terms of `exo_shell::layer_layout`.
fn spec_of(surface: &LayerSurface) -> LayerSpec {
    let state = surface.cached_state();
    let a = state.anchor;
    LayerSpec {
        layer: match state.layer {
            Layer::Background => layer_layout::Layer::Background,
            Layer::Bottom => layer_layout::Layer::Bottom,
            Layer::Top => layer_layout::Layer::Top,
            Layer::Overlay => layer_layout::Layer::Overlay,
        },
        anchors: Anchors {
            top: a.contains(Anchor::TOP),
            bottom: a.contains(Anchor::BOTTOM),
            left: a.contains(Anchor::LEFT),
            right: a.contains(Anchor::RIGHT),
        },
        exclusive_zone: match state.exclusive_zone {
            ExclusiveZone::Exclusive(zone) => i32::try_from(zone).unwrap_or(i32::MAX),
            ExclusiveZone::Neutral => 0,
            ExclusiveZone::DontCare => -1,
        },
        margins: Margins {
            top: state.margin.top,
            right: state.margin.right,
            bottom: state.margin.bottom,
            left: state.margin.left,
        },
        size: Size::new(state.size.w, state.size.h),
        mapped: with_renderer_surface_state(surface.wl_surface(), |s| s.buffer().is_some()).unwrap_or(false),
    }
}

/// Run `f` on every surface of a layer surface: its own tree and its popups' trees.
fn for_surface_trees(layer: &LayerSurface, mut f: impl FnMut(&WlSurface)) {
    let mut each_in_tree = |root: &WlSurface| {
        with_surface_tree_downward(
            root,
            (),
            |_, _, _| TraversalAction::DoChildren(()),
            |s, _, _| f(s),
            |_, _, _| true,
        );
    };
    each_in_tree(layer.wl_surface());
    for (popup, _) in PopupManager::popups_for_surface(layer.wl_surface()) {
        each_in_tree(popup.wl_surface());
    }
}
