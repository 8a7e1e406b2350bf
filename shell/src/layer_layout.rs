//! Where wlr-layer-shell surfaces go on an output, and the area their exclusive zones leave to
//! windows (zwlr_layer_surface_v1: set_size, set_anchor, set_exclusive_zone, set_margin).
//!
//! The protocol's rules, as this module applies them:
//! - A requested size is kept and centred between two opposite anchors (or on the output when
//!   neither of the two is set); only a size of 0 stretches the surface between its anchors.
//! - Margins count only on the edges the surface is anchored to.
//! - A positive exclusive zone reserves `zone + margin` along one edge, and only when the surface
//!   is anchored to exactly that edge or to it and both perpendicular edges; anchored to a
//!   corner, to two parallel edges, to all edges or to none, it counts as zero.
//! - Every reserved zone is taken before the other surfaces are placed, whatever their mapping
//!   order, so a surface mapped before a panel still moves out of the panel's way. Zones are
//!   taken layer by layer from the overlay down (mapping order within a layer), and a panel sits
//!   in the area the panels taken before it leave (as wlroots-based compositors do).
//! - A surface with an exclusive zone of 0 (or a zone that counts as zero) is placed in the area
//!   the zones leave; one with a negative zone ignores them and uses the whole output.
//! - Only a shown (mapped) surface reserves its zone.

use crate::geometry::{Rect, Size};

/// The four layers, bottom to top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Background,
    Bottom,
    Top,
    Overlay,
}

/// The output edges a surface is anchored to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Anchors {
    pub top: bool,
    pub bottom: bool,
    pub left: bool,
    pub right: bool,
}

/// Distances from the anchor edges, in surface-local (logical) pixels; may be negative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Margins {
    pub top: i32,
    pub right: i32,
    pub bottom: i32,
    pub left: i32,
}

/// An output edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Edge {
    Top,
    Bottom,
    Left,
    Right,
}

/// A layer surface's committed state, as far as placement goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSpec {
    pub layer: Layer,
    pub anchors: Anchors,
    /// As the client set it: > 0 reserves that much, 0 keeps clear of the reserved zones,
    /// < 0 ignores them.
    pub exclusive_zone: i32,
    pub margins: Margins,
    /// The requested size; 0 (or less) on an axis stretches the surface between its anchors.
    pub size: Size,
    /// Whether the surface is shown (has a buffer): only then does it reserve its zone.
    pub mapped: bool,
}

/// The result of [`arrange`]: one rectangle per surface, in the order given, and what is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrangement {
    /// Where each surface goes, in global coordinates; its size is the size to configure.
    pub rects: Vec<Rect>,
    /// The output minus every reserved zone: where windows go (and maximize to).
    pub usable: Rect,
}

impl Anchors {
    pub const NONE: Anchors = Anchors {
        top: false,
        bottom: false,
        left: false,
        right: false,
    };
    pub const ALL: Anchors = Anchors {
        top: true,
        bottom: true,
        left: true,
        right: true,
    };

    /// The edge an exclusive zone applies to: the one edge anchored alone, or with both edges
    /// perpendicular to it. `None` for a corner, two parallel edges, all edges or none.
    pub fn exclusive_edge(self) -> Option<Edge> {
        let one_vertical = self.top != self.bottom;
        let one_horizontal = self.left != self.right;
        match (one_vertical, one_horizontal) {
            (true, false) => Some(if self.top { Edge::Top } else { Edge::Bottom }),
            (false, true) => Some(if self.left { Edge::Left } else { Edge::Right }),
            _ => None,
        }
    }
}

impl LayerSpec {
    /// The edge this surface would reserve a zone along and how deep the zone is (the exclusive
    /// zone plus the margin on that edge), whether or not it is shown yet.
    pub fn claim(&self) -> Option<(Edge, i64)> {
        if self.exclusive_zone <= 0 {
            return None;
        }
        let edge = self.anchors.exclusive_edge()?;
        let margin = match edge {
            Edge::Top => self.margins.top,
            Edge::Bottom => self.margins.bottom,
            Edge::Left => self.margins.left,
            Edge::Right => self.margins.right,
        };
        Some((edge, i64::from(self.exclusive_zone) + i64::from(margin)))
    }

    /// Where the surface goes inside `bounds`, with the size it is configured to.
    pub fn place_in(&self, bounds: Rect) -> Rect {
        let a = self.anchors;
        let m = self.margins;
        let (x, w) = place_axis(
            bounds.x,
            bounds.w,
            (a.left, m.left),
            (a.right, m.right),
            self.size.w,
        );
        let (y, h) = place_axis(
            bounds.y,
            bounds.h,
            (a.top, m.top),
            (a.bottom, m.bottom),
            self.size.h,
        );
        Rect::new(x, y, w, h)
    }
}

/// Narrows an `i64` back to `i32`, saturating at the ends.
fn sat(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// One axis of a placement: the start and length of the surface inside `start..start + len`.
/// Each end is (anchored, margin); a margin counts only where the surface is anchored.
fn place_axis(start: i32, len: i32, lo: (bool, i32), hi: (bool, i32), requested: i32) -> (i32, i32) {
    let (start, len) = (i64::from(start), i64::from(len));
    let lo_margin = if lo.0 { i64::from(lo.1) } else { 0 };
    let hi_margin = if hi.0 { i64::from(hi.1) } else { 0 };
    // The span between the anchor points, margins taken off.
    let span_start = start + lo_margin;
    let span_len = len - lo_margin - hi_margin;
    // Stretched: the whole span, but never 0, which would tell the client to pick a size.
    let size = if requested > 0 {
        i64::from(requested)
    } else {
        span_len.max(1)
    };
    let pos = match (lo.0, hi.0) {
        (true, true) => span_start + (span_len - size) / 2,
        (true, false) => span_start,
        (false, true) => start + len - hi_margin - size,
        (false, false) => start + (len - size) / 2,
    };
    (sat(pos), sat(size))
}

/// `area` minus a zone `depth` deep along `edge` (never more than the area has, never less
/// than nothing).
fn reserve(area: Rect, edge: Edge, depth: i64) -> Rect {
    let extent = match edge {
        Edge::Top | Edge::Bottom => area.h,
        Edge::Left | Edge::Right => area.w,
    };
    let d = sat(depth.clamp(0, i64::from(extent.max(0))));
    match edge {
        Edge::Top => Rect::new(area.x, area.y + d, area.w, area.h - d),
        Edge::Bottom => Rect::new(area.x, area.y, area.w, area.h - d),
        Edge::Left => Rect::new(area.x + d, area.y, area.w - d, area.h),
        Edge::Right => Rect::new(area.x, area.y, area.w - d, area.h),
    }
}

/// Place every surface on an output whose area is `output`; `surfaces` in mapping order.
///
/// First the surfaces that reserve a zone, layer by layer from the overlay down (mapping order
/// within a layer), each in the area the zones taken so far leave, each then taking its own
/// zone if it is shown. Then the others: in what is left, or on the whole output for a
/// negative zone.
pub fn arrange(output: Rect, surfaces: &[LayerSpec]) -> Arrangement {
    let mut rects = vec![Rect::default(); surfaces.len()];
    let mut placed = vec![false; surfaces.len()];
    let mut usable = output;
    for layer in [Layer::Overlay, Layer::Top, Layer::Bottom, Layer::Background] {
        for (i, spec) in surfaces.iter().enumerate() {
            let Some((edge, depth)) = spec.claim().filter(|_| spec.layer == layer) else {
                continue;
            };
            rects[i] = spec.place_in(usable);
            placed[i] = true;
            if spec.mapped {
                usable = reserve(usable, edge, depth);
            }
        }
    }
    for (i, spec) in surfaces.iter().enumerate() {
        if !placed[i] {
            let bounds = if spec.exclusive_zone < 0 { output } else { usable };
            rects[i] = spec.place_in(bounds);
        }
    }
    Arrangement { rects, usable }
}

#[cfg(test)]
#[path = "layer_layout_tests.rs"]
mod tests;
