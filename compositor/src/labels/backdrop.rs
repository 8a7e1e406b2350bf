//! The solid frame behind a window's label and content (its border shows around them), as an
//! element that reports itself opaque only where the window's surfaces leave its content
//! uncovered.
//!
//! Smithay's damage tracker subtracts every opaque region above an element from that element's
//! damage, rectangle by rectangle. A full-frame backdrop under an opaque label and an opaque
//! surface adds one large rectangle per window that overlaps both: with 16 cascaded windows
//! that alone cost 0.4–0.6 ms a frame in `smithay-floor --frames` (bench/floor;
//! docs/benchmarks.md). Where the content is opaque the backdrop therefore reports nothing: the
//! label and the surface cull what lies below them, and below the 2-pixel border a lower window
//! is drawn and then covered. Where it is not (a translucent or undersized surface) the
//! backdrop still reports the whole frame, so what lies below stays culled.

use smithay::{
    backend::renderer::{
        element::{solid::SolidColorRenderElement, Element, Id, Kind, RenderElement, UnderlyingStorage},
        utils::{CommitCounter, DamageSet, OpaqueRegions},
        Renderer,
    },
    utils::{Buffer, Physical, Point, Rectangle, Scale, Transform},
};

pub struct Backdrop {
    solid: SolidColorRenderElement,
    /// Whether its opaque region is reported (see the module docs).
    opaque: bool,
}

impl Backdrop {
    pub fn new(solid: SolidColorRenderElement, opaque: bool) -> Self {
        Self { solid, opaque }
    }
}

impl Element for Backdrop {
    fn id(&self) -> &Id {
        self.solid.id()
    }

    fn current_commit(&self) -> CommitCounter {
        self.solid.current_commit()
    }

    fn location(&self, scale: Scale<f64>) -> Point<i32, Physical> {
        self.solid.location(scale)
    }

    fn src(&self) -> Rectangle<f64, Buffer> {
        self.solid.src()
    }

    fn transform(&self) -> Transform {
        self.solid.transform()
    }

    fn geometry(&self, scale: Scale<f64>) -> Rectangle<i32, Physical> {
        self.solid.geometry(scale)
    }

    fn damage_since(&self, scale: Scale<f64>, commit: Option<CommitCounter>) -> DamageSet<i32, Physical> {
        self.solid.damage_since(scale, commit)
    }

    fn opaque_regions(&self, scale: Scale<f64>) -> OpaqueRegions<i32, Physical> {
        if self.opaque {
            self.solid.opaque_regions(scale)
        } else {
            OpaqueRegions::default()
        }
    }

    fn alpha(&self) -> f32 {
        self.solid.alpha()
    }

    fn kind(&self) -> Kind {
        self.solid.kind()
    }
}

impl<R: Renderer> RenderElement<R> for Backdrop {
    fn draw(
        &self,
        frame: &mut R::Frame<'_, '_>,
        src: Rectangle<f64, Buffer>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
    ) -> Result<(), R::Error> {
        RenderElement::<R>::draw(&self.solid, frame, src, dst, damage, opaque_regions)
    }

    fn underlying_storage(&self, renderer: &mut R) -> Option<UnderlyingStorage<'_>> {
        RenderElement::<R>::underlying_storage(&self.solid, renderer)
    }
}
