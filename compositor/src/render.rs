//! Builds the list of render elements for one output, front to back: cursor, overlay and top
//! layers, windows with their frames and trusted labels (see [`crate::labels`] for their order),
//! bottom and background layers. While the session is locked: cursor and the output's lock
//! surface only. Elements are made in global coordinates and moved to the output's own.

use std::cell::RefCell;

use smithay::{
    backend::renderer::{
        element::{
            memory::MemoryRenderBufferRenderElement,
            solid::SolidColorRenderElement,
            surface::{render_elements_from_surface_tree, WaylandSurfaceRenderElement},
            texture::TextureRenderElement,
            utils::{CropRenderElement, Relocate, RelocateRenderElement},
            AsRenderElements, Element, Kind,
        },
        utils::RendererSurfaceStateUserData,
        ImportAll, ImportMem, Renderer, RendererSuper, Texture,
    },
    input::pointer::CursorImageStatus,
    output::Output,
    reexports::wayland_server::protocol::wl_surface::WlSurface,
    utils::{Logical, Physical, Point, Rectangle, Scale, Size},
    wayland::{
        compositor::{with_surface_tree_downward, SurfaceData, TraversalAction},
        shell::wlr_layer::Layer,
    },
};

use crate::{
    cursor::CursorImages,
    labels::{Backdrop, FramedWindow, XRayDecor},
    state::Nexq,
};

smithay::backend::renderer::element::render_elements! {
    pub OutputElement<R> where R: ImportAll + ImportMem;
    Surface = WaylandSurfaceRenderElement<R>,
    Solid = SolidColorRenderElement,
    Memory = MemoryRenderBufferRenderElement<R>,
    Texture = TextureRenderElement<<R as RendererSuper>::TextureId>,
    Clipped = CropRenderElement<WaylandSurfaceRenderElement<R>>,
    Backdrop = Backdrop,
    Framed = FramedWindow<R>,
}

pub(crate) fn to_phys(p: Point<i32, Logical>, scale: f64) -> Point<i32, smithay::utils::Physical> {
    p.to_f64().to_physical(scale).to_i32_round()
}

smithay::backend::renderer::element::render_elements! {
    /// An element in an output's own coordinates: moved there from global coordinates, or left
    /// as made where the two are the same (an output at the origin), which spares the damage
    /// tracker a wrapper that maps every rectangle list it asks for.
    pub PlacedElement<R> where R: ImportAll + ImportMem;
    Direct = OutputElement<R>,
    Moved = RelocateRenderElement<OutputElement<R>>,
}

/// `element` moved by `offset` (physical pixels).
fn place<R>(element: OutputElement<R>, offset: Point<i32, Physical>) -> PlacedElement<R>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Texture + Clone + Send + 'static,
{
    if offset.x == 0 && offset.y == 0 {
        PlacedElement::Direct(element)
    } else {
        PlacedElement::Moved(RelocateRenderElement::from_element(
            element,
            offset,
            Relocate::Relative,
        ))
    }
}

/// What `output` shows. `with_cursor: false` leaves the pointer out (screencopy without
/// overlay_cursor).
pub fn output_elements<R>(
    renderer: &mut R,
    nexq: &Nexq,
    output: &Output,
    cursors: &mut CursorImages,
    with_cursor: bool,
) -> Vec<PlacedElement<R>>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Texture + Clone + Send + 'static,
{
    let mut global = Vec::new();
    global_elements(renderer, nexq, output, cursors, with_cursor, &mut global);
    let offset = output_offset(output);
    global.into_iter().map(|e| place(e, offset)).collect()
}

/// The move from global physical coordinates to `output`'s own.
fn output_offset(output: &Output) -> Point<i32, Physical> {
    let origin = to_phys(
        output.current_location(),
        output.current_scale().fractional_scale(),
    );
    Point::from((-origin.x, -origin.y))
}

/// The element lists of an output's frames, kept from frame to frame so that each frame reuses
/// their room: with a few elements per window they are kilobytes, and allocating them anew
/// each frame showed in profiles (the allocator consolidating its free lists).
pub struct FrameElements<R: Renderer> {
    global: Vec<OutputElement<R>>,
    placed: Vec<PlacedElement<R>>,
}

impl<R: Renderer> Default for FrameElements<R> {
    fn default() -> Self {
        Self {
            global: Vec::new(),
            placed: Vec::new(),
        }
    }
}

impl<R> FrameElements<R>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Texture + Clone + Send + 'static,
{
    /// `f` with what `output` shows (as [`output_elements`]); the elements are dropped when `f`
    /// returns, so that no client buffer is held past its frame.
    pub fn render_with<T>(
        &mut self,
        renderer: &mut R,
        nexq: &Nexq,
        output: &Output,
        cursors: &mut CursorImages,
        with_cursor: bool,
        f: impl FnOnce(&mut R, &[PlacedElement<R>]) -> T,
    ) -> T {
        global_elements(renderer, nexq, output, cursors, with_cursor, &mut self.global);
        let offset = output_offset(output);
        self.placed
            .extend(self.global.drain(..).map(|e| place(e, offset)));
        let result = f(renderer, &self.placed);
        self.placed.clear();
        result
    }
}

/// The elements of `surface` and its subsurfaces at `location`, in the order and with the
/// offsets of Smithay's `render_elements_from_surface_tree`, each passed through `wrap` and
/// pushed onto `out`: made straight into the frame's list instead of a vector of their own
/// for each window every frame.
pub(crate) fn push_surface_tree<R, E>(
    renderer: &mut R,
    surface: &WlSurface,
    location: Point<i32, Physical>,
    scale: f64,
    out: &mut Vec<E>,
    mut wrap: impl FnMut(WaylandSurfaceRenderElement<R>) -> Option<E>,
) where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Texture + Clone + Send + 'static,
{
    let scale = Scale::from(scale);
    // Where a surface's view puts its content, if it has one to show.
    let view_at = |states: &SurfaceData, at: &Point<f64, Physical>| {
        let view = states
            .data_map
            .get::<RendererSurfaceStateUserData>()?
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .view()?;
        Some(*at + view.offset.to_f64().to_physical(scale))
    };
    with_surface_tree_downward(
        surface,
        location.to_f64(),
        |_, states, at| match view_at(states, at) {
            Some(at) => TraversalAction::DoChildren(at),
            None => TraversalAction::SkipChildren,
        },
        |surface, states, at| {
            let Some(at) = view_at(states, at) else {
                return;
            };
            match WaylandSurfaceRenderElement::from_surface(
                renderer,
                surface,
                states,
                at,
                1.0,
                Kind::Unspecified,
            ) {
                Ok(Some(element)) => out.extend(wrap(element)),
                Ok(None) => {}
                Err(err) => tracing::warn!(?err, "cannot import a surface"),
            }
        },
        |_, _, _| true,
    );
}

/// The pointer's image for a cursor plane: its elements placed with the image's top-left corner
/// at (0, 0), and where that corner is on `output` (physical, output coordinates).
pub struct PlaneCursor<R: Renderer> {
    pub elements: Vec<PlacedElement<R>>,
    pub at: Point<i32, Physical>,
}

/// The cursor for a cursor plane of `max` pixels on `output`: `Some(None)` when there is
/// nothing to show there (hidden, or on another output), `None` when the image does not fit
/// the plane (it must then be drawn with the rest, see [`output_elements`]).
pub fn plane_cursor<R>(
    renderer: &mut R,
    nexq: &Nexq,
    output: &Output,
    cursors: &mut CursorImages,
    max: Size<i32, Physical>,
) -> Option<Option<PlaneCursor<R>>>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Texture + Clone + Send + 'static,
{
    let scale = output.current_scale().fractional_scale();
    let mut elements = Vec::new();
    cursor_elements(renderer, nexq, cursors, scale, &mut elements);
    let Some(bbox) = elements
        .iter()
        .map(|e| e.geometry(Scale::from(scale)))
        .reduce(|a, b| a.merge(b))
        .filter(|bbox| !bbox.is_empty())
    else {
        return Some(None);
    };
    if bbox.size.w > max.w || bbox.size.h > max.h {
        return None;
    }
    let origin = to_phys(output.current_location(), scale);
    let mode = output.current_mode().map(|m| m.size).unwrap_or_default();
    let at = bbox.loc - origin;
    if !Rectangle::new(at, bbox.size).overlaps(Rectangle::from_size(mode)) {
        return Some(None);
    }
    let offset = Point::from((-bbox.loc.x, -bbox.loc.y));
    let elements = elements.into_iter().map(|e| place(e, offset)).collect();
    Some(Some(PlaneCursor { elements, at }))
}

/// What `output` shows, in global physical coordinates at the output's scale.
fn global_elements<R>(
    renderer: &mut R,
    nexq: &Nexq,
    output: &Output,
    cursors: &mut CursorImages,
    with_cursor: bool,
    elements: &mut Vec<OutputElement<R>>,
) where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Texture + Clone + Send + 'static,
{
    let scale = output.current_scale().fractional_scale();
    // About four per window (label, surface, border, a popup or subsurface) and a few more for
    // the cursor and layers: room made at once, not grown element by element.
    elements.reserve(8 + 4 * nexq.windows.len());

    if with_cursor {
        cursor_elements(renderer, nexq, cursors, scale, elements);
    }

    if nexq.session_lock.is_locked() {
        lock_elements(renderer, nexq, output, scale, elements);
        return;
    }

    let push_layers = |renderer: &mut R, layer: Layer, elements: &mut Vec<OutputElement<R>>| {
        for (surface, origin) in nexq.layers.on(output, layer).rev() {
            if nexq.xray {
                // X-ray: the owner's tag and tint over the layer surface (see `labels`).
                let (identity, _) = crate::labels::surface_client(surface.wl_surface());
                surface
                    .user_data()
                    .insert_if_missing(|| RefCell::new(XRayDecor::default()));
                if let Some(xray) = surface.user_data().get::<RefCell<XRayDecor>>() {
                    let mut xray = xray.borrow_mut();
                    let mut geo = surface.bbox();
                    geo.loc += origin;
                    let rect = Rectangle::from_extremities(
                        to_phys(geo.loc, scale),
                        to_phys(geo.loc + geo.size.to_point(), scale),
                    );
                    xray.push_tag(renderer, &identity, rect.loc, scale, elements);
                    xray.push_tints(0, &[rect], identity.color, elements);
                }
            }
            elements.extend(
                surface
                    .render_elements::<WaylandSurfaceRenderElement<R>>(
                        renderer,
                        to_phys(origin, scale),
                        Scale::from(scale),
                        1.0,
                    )
                    .into_iter()
                    .map(OutputElement::Surface),
            );
        }
    };
    push_layers(renderer, Layer::Overlay, elements);
    push_layers(renderer, Layer::Top, elements);

    crate::labels::window_elements(renderer, nexq, scale, elements);

    push_layers(renderer, Layer::Bottom, elements);
    push_layers(renderer, Layer::Background, elements);
}

/// The locked session: the output's lock surface over black, nothing else.
fn lock_elements<R>(
    renderer: &mut R,
    nexq: &Nexq,
    output: &Output,
    scale: f64,
    elements: &mut Vec<OutputElement<R>>,
) where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Texture + Clone + Send + 'static,
{
    let area = crate::outputs::logical_rect(output);
    if let Some(surface) = nexq.session_lock.surface_on(output) {
        elements.extend(
            render_elements_from_surface_tree(
                renderer,
                surface.wl_surface(),
                to_phys(area.loc, scale),
                scale,
                1.0,
                Kind::Unspecified,
            )
            .into_iter()
            .map(OutputElement::Surface),
        );
    }
    let geometry = smithay::utils::Rectangle::new(
        to_phys(area.loc, scale),
        area.size.to_f64().to_physical(scale).to_i32_round(),
    );
    elements.push(OutputElement::Solid(SolidColorRenderElement::new(
        nexq.session_lock.backdrop_id().clone(),
        geometry,
        smithay::backend::renderer::utils::CommitCounter::default(),
        [0.0, 0.0, 0.0, 1.0],
        Kind::Unspecified,
    )));
}

fn cursor_elements<R>(
    renderer: &mut R,
    nexq: &Nexq,
    cursors: &mut CursorImages,
    scale: f64,
    elements: &mut Vec<OutputElement<R>>,
) where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Texture + Clone + Send + 'static,
{
    let pos = nexq.pointer.current_location();
    match &nexq.cursor_status {
        CursorImageStatus::Hidden => {}
        CursorImageStatus::Named(icon) => {
            let planes = cursors.planes;
            let image = cursors.get(*icon);
            let loc = (pos - image.hotspot.to_f64()).to_physical(scale);
            if planes {
                match MemoryRenderBufferRenderElement::from_buffer(
                    renderer,
                    loc,
                    image.buffer(),
                    None,
                    None,
                    None,
                    Kind::Cursor,
                ) {
                    Ok(element) => elements.push(OutputElement::Memory(element)),
                    Err(err) => tracing::warn!(?err, "cannot import cursor image"),
                }
                return;
            }
            match image.texture(renderer) {
                Ok(buffer) => elements.push(OutputElement::Texture(
                    TextureRenderElement::from_texture_buffer(loc, buffer, None, None, None, Kind::Cursor),
                )),
                Err(err) => tracing::warn!(?err, "cannot import cursor image"),
            }
        }
        CursorImageStatus::Surface(surface) => {
            let hotspot = crate::cursor::surface_hotspot(surface);
            let loc = (pos.to_i32_round() - hotspot)
                .to_f64()
                .to_physical(scale)
                .to_i32_round();
            elements.extend(
                render_elements_from_surface_tree(renderer, surface, loc, scale, 1.0, Kind::Cursor)
                    .into_iter()
                    .map(OutputElement::Surface),
            );
        }
    }
}
