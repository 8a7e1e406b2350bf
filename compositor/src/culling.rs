//! Damage that leaves out what opaque elements in front hide.
//!
//! Smithay's `OutputDamageTracker` adds each element's damage to the frame's damage as it is,
//! even where an opaque element in front hides it. With cascaded windows, a lower window's
//! damage then covers the labels and borders of the windows above it, so they are drawn again
//! every frame, and the damage shaper's tiles reach out to the bare background between them,
//! which is cleared again (docs/benchmarks.md, tenth run). [`Culling`] wraps a frame's elements
//! (front to back) so that each reports only the damage nothing opaque in front of it hides.
//!
//! Nothing is lost: a hidden part that comes into view is damaged by the tracker itself, as the
//! element in front moves, goes or stops being opaque there (it compares each frame's opaque
//! regions with the last frame's), and is then drawn from the element's current contents.

use smithay::{
    backend::renderer::{
        element::{Element, Id, Kind, RenderElement, UnderlyingStorage},
        utils::{CommitCounter, DamageSet, OpaqueRegions},
        Renderer,
    },
    utils::{Buffer, Physical, Point, Rectangle, Scale, Transform},
};

type Rect = Rectangle<i32, Physical>;

/// The opaque regions of a frame's elements, kept between frames for their room.
#[derive(Default)]
pub struct Culling {
    /// Every element's opaque regions in output coordinates, front to back.
    opaque: Vec<Rect>,
    /// Each element's geometry and where its regions end in `opaque`.
    placed: Vec<(Rect, usize)>,
}

impl Culling {
    /// `elements` (front to back), each reporting only the damage that no opaque region of an
    /// element before it hides. The wrappers are made for `scale`, the output's: they keep each
    /// element's geometry and opaque regions at it.
    pub fn cull<'a, E: Element>(&'a mut self, elements: &'a [E], scale: Scale<f64>) -> Vec<Culled<'a, E>> {
        self.opaque.clear();
        self.placed.clear();
        for element in elements {
            let geometry = element.geometry(scale);
            self.opaque.extend(
                element
                    .opaque_regions(scale)
                    .into_iter()
                    .map(|r| Rect::new(r.loc + geometry.loc, r.size)),
            );
            self.placed.push((geometry, self.opaque.len()));
        }
        let mut start = 0;
        elements
            .iter()
            .zip(&self.placed)
            .map(|(element, &(geometry, end))| {
                let culled = Culled {
                    element,
                    geometry,
                    in_front: &self.opaque[..start],
                    own: &self.opaque[start..end],
                };
                start = end;
                culled
            })
            .collect()
    }
}

/// An element of a frame that reports only the damage nothing opaque in front of it hides.
pub struct Culled<'a, E> {
    element: &'a E,
    /// Its geometry at the output's scale, asked for several times per frame by the tracker.
    geometry: Rect,
    /// The opaque regions of the elements in front, in output coordinates.
    in_front: &'a [Rect],
    /// Its own opaque regions, in output coordinates (computed once, for the tracker too).
    own: &'a [Rect],
}

impl<E: Element> Element for Culled<'_, E> {
    fn id(&self) -> &Id {
        self.element.id()
    }

    fn current_commit(&self) -> CommitCounter {
        self.element.current_commit()
    }

    fn location(&self, scale: Scale<f64>) -> Point<i32, Physical> {
        self.element.location(scale)
    }

    fn src(&self) -> Rectangle<f64, Buffer> {
        self.element.src()
    }

    fn transform(&self) -> Transform {
        self.element.transform()
    }

    fn geometry(&self, _scale: Scale<f64>) -> Rect {
        self.geometry
    }

    fn damage_since(&self, scale: Scale<f64>, commit: Option<CommitCounter>) -> DamageSet<i32, Physical> {
        let damage = self.element.damage_since(scale, commit);
        let geometry = self.geometry;
        let mut hiding = self.in_front.iter().filter(|r| r.overlaps(geometry)).peekable();
        if damage.is_empty() || hiding.peek().is_none() {
            return damage;
        }
        let hiding = hiding.map(|r| Rect::new(r.loc - geometry.loc, r.size));
        Rect::subtract_rects_many(damage.iter().copied(), hiding)
            .into_iter()
            .collect()
    }

    fn opaque_regions(&self, _scale: Scale<f64>) -> OpaqueRegions<i32, Physical> {
        let at = self.geometry.loc;
        self.own.iter().map(|r| Rect::new(r.loc - at, r.size)).collect()
    }

    fn alpha(&self) -> f32 {
        self.element.alpha()
    }

    fn kind(&self) -> Kind {
        self.element.kind()
    }
}

impl<R: Renderer, E: RenderElement<R>> RenderElement<R> for Culled<'_, E> {
    fn draw(
        &self,
        frame: &mut R::Frame<'_, '_>,
        src: Rectangle<f64, Buffer>,
        dst: Rect,
        damage: &[Rect],
        opaque_regions: &[Rect],
    ) -> Result<(), R::Error> {
        self.element.draw(frame, src, dst, damage, opaque_regions)
    }

    fn underlying_storage(&self, renderer: &mut R) -> Option<UnderlyingStorage<'_>> {
        self.element.underlying_storage(renderer)
    }
}

#[cfg(test)]
mod tests;
