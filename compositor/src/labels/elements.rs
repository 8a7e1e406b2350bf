//! The labels on screen: per-window caches and the render elements of every visible window in
//! the order explained in the [module docs](super).

use std::cell::RefCell;

use exo_shell::{
    config::{Appearance, Color, Config},
    geometry::Rect,
    CapabilitySet,
};
use smithay::{
    backend::{
        allocator::Fourcc,
        renderer::{
            element::{
                memory::{MemoryRenderBuffer, MemoryRenderBufferRenderElement},
                solid::{SolidColorBuffer, SolidColorRenderElement},
                surface::{render_elements_from_surface_tree, WaylandSurfaceRenderElement},
                texture::{TextureBuffer, TextureRenderElement},
                utils::CropRenderElement,
                Element, Kind,
            },
            ImportAll, ImportMem, Renderer, Texture,
        },
    },
    desktop::{PopupManager, Window},
    reexports::wayland_server::{Client, Resource},
    utils::{Logical, Physical, Point, Rectangle, Scale, Transform},
    wayland::{compositor::with_states, shell::xdg::XdgToplevelSurfaceData},
};

use super::{
    framed::{FrameParts, FrameTracker},
    rasterize, rasterize_tag, xray_text, Backdrop, LabelSpec, XRAY_ALPHA,
};
use crate::{
    imported::ImportedTexture,
    render::{push_surface_tree, to_phys, OutputElement},
    state::{ClientIdentity, ClientState, Nexq},
    windows::{content_rect, title_rect, Decor},
};

/// Per-window render state, kept in the window's user data so that element ids stay stable and
/// the damage tracker repaints a label only when it changes.
#[derive(Default)]
struct WindowDecor {
    /// The window's geometry as of its last commit (see [`remember_geometry`]). It places the
    /// window's surfaces every frame, and `Window::geometry` takes two locks and searches the
    /// surface's cached state each time it is asked.
    geometry: Option<Rectangle<i32, Logical>>,
    /// The client that made the window, whose identity the label shows. A toplevel never
    /// changes hands; kept so that frames do not ask the protocol state for it every time.
    owner: Option<Client>,
    /// The generation of the spec (see `spec`) and the size (buffer pixels) the label texture
    /// shows.
    label: Option<(u64, (i32, i32))>,
    label_texture: ImportedTexture,
    /// The label's spec and what it was made from, so that a frame that changed none of that
    /// (an animation frame) reuses it instead of copying and sanitising the title again; with
    /// its generation, bumped when a spec made again differs from the one before, which the
    /// texture cache compares instead of every field of the spec.
    spec: Option<(SpecInputs, LabelSpec, u64)>,
    border: SolidColorBuffer,
    xray: XRayDecor,
    /// The window as one element, when it is drawn as one (see `framed`).
    frame: FrameTracker,
}

/// Gives a new window its label state, first in its user data: that map is a list searched by
/// type, and the label state is looked up for every window every frame.
pub fn attach_decor(window: &Window) {
    window.user_data().insert_if_missing(|| {
        RefCell::new(WindowDecor {
            owner: window.toplevel().and_then(|t| t.wl_surface().client()),
            ..WindowDecor::default()
        })
    });
}

/// `window`'s geometry, kept for the frames that follow: call it after every
/// `Window::on_commit`, the only place a window's geometry changes.
pub fn remember_geometry(window: &Window) -> Rectangle<i32, Logical> {
    let geometry = window.geometry();
    if let Some(mut decor) = window
        .user_data()
        .get::<RefCell<WindowDecor>>()
        .and_then(|cell| cell.try_borrow_mut().ok())
    {
        decor.geometry = Some(geometry);
    }
    geometry
}

/// `window`'s geometry as [`remember_geometry`] last saw it (as `Window::geometry` when it has
/// not yet).
pub fn window_geometry(window: &Window) -> Rectangle<i32, Logical> {
    window
        .user_data()
        .get::<RefCell<WindowDecor>>()
        .and_then(|cell| cell.try_borrow().ok().and_then(|decor| decor.geometry))
        .unwrap_or_else(|| window.geometry())
}

/// Everything a [`LabelSpec`] is made from. The title and the appearance are not compared each
/// frame: a change to either bumps [`Nexq::labels_epoch`].
#[derive(PartialEq)]
struct SpecInputs {
    identity: ClientIdentity,
    caps: CapabilitySet,
    focused: bool,
    epoch: u64,
}

/// The X-ray overlay of one surface owner (a window with its popups, or a layer surface): its
/// tag and its tints, kept so that element ids stay stable while X-ray is on.
#[derive(Default)]
pub struct XRayDecor {
    tag: Option<(String, Color, u64, MemoryRenderBuffer)>,
    tints: Vec<SolidColorBuffer>,
}

impl XRayDecor {
    /// The `[owner]` tag at `origin` (physical), in front of what follows.
    pub fn push_tag<R>(
        &mut self,
        renderer: &mut R,
        identity: &ClientIdentity,
        origin: Point<i32, Physical>,
        scale: f64,
        out: &mut Vec<OutputElement<R>>,
    ) where
        R: Renderer + ImportAll + ImportMem,
        R::TextureId: Texture + Clone + Send + 'static,
    {
        let text = xray_text(identity);
        let key = scale.to_bits();
        let current = self
            .tag
            .as_ref()
            .filter(|(t, c, k, _)| *t == text && *c == identity.color && *k == key);
        let buffer = match current {
            Some((_, _, _, buffer)) => buffer.clone(),
            None => {
                let pixmap = rasterize_tag(&text, identity.color, scale);
                let buffer = MemoryRenderBuffer::from_slice(
                    &pixmap.bgra,
                    Fourcc::Argb8888,
                    (pixmap.width, pixmap.height),
                    1,
                    Transform::Normal,
                    Some(vec![Rectangle::from_size((pixmap.width, pixmap.height).into())]),
                );
                self.tag = Some((text, identity.color, key, buffer.clone()));
                buffer
            }
        };
        match MemoryRenderBufferRenderElement::from_buffer(
            renderer,
            origin.to_f64(),
            &buffer,
            None,
            None,
            None,
            Kind::Unspecified,
        ) {
            Ok(element) => out.push(OutputElement::Memory(element)),
            Err(err) => tracing::warn!(?err, "cannot import an X-ray tag"),
        }
    }

    /// Translucent tints in the owner's colour over `rects` (physical); the `n`-th tint of a
    /// frame always uses the `n`-th buffer.
    pub fn push_tints<R>(
        &mut self,
        first: usize,
        rects: &[Rectangle<i32, Physical>],
        color: Color,
        out: &mut Vec<OutputElement<R>>,
    ) -> usize
    where
        R: Renderer + ImportAll + ImportMem,
        R::TextureId: Texture + Clone + Send + 'static,
    {
        let rgba = color.to_f32_rgba();
        for (i, rect) in rects.iter().enumerate() {
            if self.tints.len() <= first + i {
                self.tints.push(SolidColorBuffer::default());
            }
            let buffer = &mut self.tints[first + i];
            // Sizes are physical here: the buffer is placed at scale 1.
            buffer.update((rect.size.w, rect.size.h), rgba);
            out.push(OutputElement::Solid(SolidColorRenderElement::from_buffer(
                buffer,
                rect.loc,
                1.0,
                XRAY_ALPHA,
                Kind::Unspecified,
            )));
        }
        first + rects.len()
    }
}

impl WindowDecor {
    /// The label spec of `window` as it is now and its generation (`cache` is
    /// [`WindowDecor::spec`]): made again only when one of its inputs changed.
    fn spec<'a>(
        cache: &'a mut Option<(SpecInputs, LabelSpec, u64)>,
        window: &Window,
        identity: &ClientIdentity,
        caps: CapabilitySet,
        focused: bool,
        appearance: &Appearance,
        epoch: u64,
    ) -> (&'a LabelSpec, u64) {
        let unchanged = cache.as_ref().is_some_and(|(inputs, _, _)| {
            inputs.epoch == epoch
                && inputs.caps == caps
                && inputs.focused == focused
                && inputs.identity == *identity
        });
        if !unchanged {
            let spec = with_window_title(window, |title| {
                LabelSpec::new(identity, caps, title, focused, appearance)
            });
            let inputs = SpecInputs {
                identity: identity.clone(),
                caps,
                focused,
                epoch,
            };
            let generation = match cache {
                Some((_, old, generation)) if *old == spec => *generation,
                Some((_, _, generation)) => *generation + 1,
                None => 0,
            };
            *cache = Some((inputs, spec, generation));
        }
        let (_, spec, generation) = cache.as_ref().expect("set just above");
        (spec, *generation)
    }

    /// The label texture for `spec` (of `generation`) at `size` buffer pixels in `renderer`,
    /// rasterised again only on a change.
    /// (`cache` and `texture` are [`WindowDecor::label`] and [`WindowDecor::label_texture`].)
    fn label<'a, R>(
        cache: &mut Option<(u64, (i32, i32))>,
        texture: &'a mut ImportedTexture,
        renderer: &mut R,
        spec: &LabelSpec,
        generation: u64,
        size: (i32, i32),
        scale: f64,
    ) -> Result<&'a TextureBuffer<R::TextureId>, R::Error>
    where
        R: Renderer + ImportMem,
        R::TextureId: Texture + 'static,
    {
        if *cache != Some((generation, size)) {
            *cache = Some((generation, size));
            texture.clear();
        }
        texture.get(renderer, |renderer| {
            let pixmap = rasterize(spec, size.0, size.1, scale);
            // Labels are opaque (labels/tests.rs checks it): without an alpha channel the
            // renderer copies them instead of blending them.
            TextureBuffer::from_memory(
                renderer,
                &pixmap.bgra,
                Fourcc::Xrgb8888,
                (pixmap.width, pixmap.height),
                false,
                1,
                Transform::Normal,
                Some(vec![Rectangle::from_size((pixmap.width, pixmap.height).into())]),
            )
        })
    }
}

/// The client identity and capabilities behind a window; a window whose client is gone (or
/// has no [`ClientState`]) is shown as a host window without badges.
pub fn client_of(window: &Window) -> (ClientIdentity, CapabilitySet) {
    window
        .toplevel()
        .map(|t| surface_client(t.wl_surface()))
        .unwrap_or_else(|| (ClientIdentity::default(), CapabilitySet::empty()))
}

/// The identity and capabilities of the client behind a surface, as [`client_of`].
pub fn surface_client(
    surface: &smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
) -> (ClientIdentity, CapabilitySet) {
    surface
        .client()
        .and_then(|c| {
            c.get_data::<ClientState>()
                .map(|d| (d.identity.clone(), d.caps()))
        })
        .unwrap_or_else(|| (ClientIdentity::default(), CapabilitySet::empty()))
}

/// The title the client set, unsanitised.
pub fn window_title(window: &Window) -> String {
    with_window_title(window, str::to_owned)
}

/// `f` of the title the client set (unsanitised, "" for none), borrowed.
fn with_window_title<T>(window: &Window, f: impl FnOnce(&str) -> T) -> T {
    let Some(toplevel) = window.toplevel() else {
        return f("");
    };
    with_states(toplevel.wl_surface(), |states| {
        let data = states.data_map.get::<XdgToplevelSurfaceData>();
        match data.map(|d| d.lock()) {
            Some(Ok(d)) => f(d.title.as_deref().unwrap_or("")),
            _ => f(""),
        }
    })
}

/// The visible parts of the title bars below the `i`-th window of `stack` (frames from the top,
/// each with its decoration): where that window's popups may neither draw nor take input. A
/// title bar under this window's frame or a higher one is hidden anyway.
pub fn lower_title_bars(stack: &[(Rect, Decor)], i: usize, config: &Config) -> Vec<Rectangle<i32, Logical>> {
    let logical = |r: Rect| Rectangle::<i32, Logical>::new((r.x, r.y).into(), (r.w, r.h).into());
    let occluders = stack[..=i].iter().map(|&(frame, _)| logical(frame));
    let titles = stack[i + 1..]
        .iter()
        .filter_map(|&(frame, decor)| title_rect(frame, decor, config))
        .map(logical);
    Rectangle::subtract_rects_many(titles, occluders)
}

/// A logical rectangle in physical pixels, rounded edge by edge like element locations, so that
/// adjacent rectangles stay adjacent at fractional scales.
fn phys_rect(r: Rect, scale: f64) -> Rectangle<i32, Physical> {
    Rectangle::from_extremities(
        to_phys((r.x, r.y).into(), scale),
        to_phys((r.x + r.w, r.y + r.h).into(), scale),
    )
}

/// One visible window, in the stack walked top to bottom.
struct Stacked<'a> {
    window: &'a Window,
    frame: Rect,
    content: Rect,
    decor: Decor,
    focused: bool,
}

/// Every visible window's elements, top window first, in the order the module docs explain.
pub fn window_elements<R>(renderer: &mut R, nexq: &Nexq, scale: f64, out: &mut Vec<OutputElement<R>>)
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Texture + Clone + Send + 'static,
{
    let focused = nexq.layout.focused().copied();
    let stack: Vec<Stacked> = nexq
        .layout
        .windows_bottom_to_top()
        .into_iter()
        .rev()
        .filter_map(|(id, frame)| {
            let window = nexq.windows.get(&id)?;
            let decor = nexq.decor_of(id);
            Some(Stacked {
                window,
                frame,
                content: content_rect(frame, decor, &nexq.config),
                decor,
                focused: focused == Some(id),
            })
        })
        .collect();
    let frames: Vec<(Rect, Decor)> = stack.iter().map(|w| (w.frame, w.decor)).collect();
    for (i, w) in stack.iter().enumerate() {
        let Some(toplevel) = w.window.toplevel() else {
            continue;
        };
        let title = title_rect(w.frame, w.decor, &nexq.config);
        // Looked up once per frame (the map is a list searched by type, where
        // `attach_decor` put it first).
        let user_data = w.window.user_data();
        let cell = match user_data.get::<RefCell<WindowDecor>>() {
            Some(cell) => cell,
            None => {
                attach_decor(w.window);
                user_data
                    .get::<RefCell<WindowDecor>>()
                    .expect("inserted just above")
            }
        };
        let mut decor_ref = cell.borrow_mut();
        // Fields borrowed apart: the spec stays borrowed while the label and border are made.
        let decor = &mut *decor_ref;
        let geometry = decor.geometry.unwrap_or_else(|| w.window.geometry());
        // Borrowed from the client's state: this runs for every window every frame.
        let state = decor.owner.as_ref().and_then(|c| c.get_data::<ClientState>());
        let host = ClientIdentity::default();
        let identity = state.map_or(&host, |s| &s.identity);
        let caps = state.map_or_else(CapabilitySet::empty, ClientState::caps);
        let (spec, generation) = WindowDecor::spec(
            &mut decor.spec,
            w.window,
            identity,
            caps,
            w.focused,
            &nexq.config.appearance,
            nexq.labels_epoch,
        );

        // 1. The label.
        let label = title.filter(|t| t.w > 0 && t.h > 0).and_then(|title| {
            let size = phys_rect(title, scale).size;
            let label = WindowDecor::label(
                &mut decor.label,
                &mut decor.label_texture,
                renderer,
                spec,
                generation,
                (size.w, size.h),
                scale,
            );
            let location = Point::<f64, Logical>::from((title.x as f64, title.y as f64)).to_physical(scale);
            match label {
                Ok(buffer) => Some(TextureRenderElement::from_texture_buffer(
                    location,
                    buffer,
                    None,
                    Some(Rectangle::from_size((size.w as f64, size.h as f64).into())),
                    Some((title.w, title.h).into()),
                    Kind::Unspecified,
                )),
                Err(err) => {
                    tracing::warn!(?err, "cannot import a window label");
                    None
                }
            }
        });
        let render_loc = to_phys(
            Point::<i32, Logical>::from((w.content.x, w.content.y)) - geometry.loc,
            scale,
        );
        let mut popups = nexq
            .any_popups()
            .then(|| PopupManager::popups_for_surface(toplevel.wl_surface()))
            .into_iter()
            .flatten()
            .peekable();
        let content = phys_rect(w.content, scale);

        // A framed window with nothing between its label and its surfaces is one element
        // (`framed`).
        if w.decor == Decor::Frame && !nexq.xray && popups.peek().is_none() {
            let mut surfaces = Vec::new();
            push_surface_tree(
                renderer,
                toplevel.wl_surface(),
                render_loc,
                scale,
                &mut surfaces,
                Some,
            );
            let content_opaque = covers_opaquely(&surfaces, content, scale);
            let element = decor.frame.element(FrameParts {
                frame: phys_rect(w.frame, scale),
                scale,
                border: spec.colors.border.to_f32_rgba(),
                label: label.map(|l| (l, generation)),
                content,
                content_opaque,
                surfaces,
            });
            out.push(OutputElement::Framed(element));
            continue;
        }
        out.extend(label.map(OutputElement::Texture));

        // X-ray: the owner's tag on the content's corner, and (below) tints over the popups
        // and the content, each just above what it tints so higher windows still hide it.
        let mut tints = 0;
        if nexq.xray {
            let origin = to_phys((w.content.x, w.content.y).into(), scale);
            decor.xray.push_tag(renderer, identity, origin, scale, out);
        }

        // 2. Popups, kept off the visible title bars of lower windows.
        // Computed only for windows with popups: this runs every frame.
        let protected: Vec<_> = match popups.peek() {
            Some(_) => lower_title_bars(&frames, i, &nexq.config)
                .into_iter()
                .map(|r| phys_rect(Rect::new(r.loc.x, r.loc.y, r.size.w, r.size.h), scale))
                .collect(),
            None => Vec::new(),
        };
        for (popup, offset) in popups {
            let loc =
                render_loc + (geometry.loc + offset - popup.geometry().loc).to_physical_precise_round(scale);
            let tree = |renderer: &mut R| {
                render_elements_from_surface_tree::<R, WaylandSurfaceRenderElement<R>>(
                    renderer,
                    popup.wl_surface(),
                    loc,
                    scale,
                    1.0,
                    Kind::Unspecified,
                )
            };
            let elements = tree(renderer);
            let geos: Vec<_> = elements.iter().map(|e| e.geometry(Scale::from(scale))).collect();
            if nexq.xray {
                // Everything the popup's surfaces draw, where they are drawn.
                if let Some(drawn) = geos.iter().copied().reduce(|a, b| a.merge(b)) {
                    let visible = drawn.subtract_rects(protected.iter().copied());
                    tints = decor.xray.push_tints(tints, &visible, identity.color, out);
                }
            }
            if !geos.iter().any(|g| protected.iter().any(|p| p.overlaps(*g))) {
                out.extend(elements.into_iter().map(OutputElement::Surface));
                continue;
            }
            // Each element in the pieces that miss the protected areas; one fresh copy of the
            // tree per piece (elements are not Clone), front-to-back order kept per element.
            let pieces: Vec<Vec<_>> = geos
                .iter()
                .map(|g| g.subtract_rects(protected.iter().copied()))
                .collect();
            let copies = pieces.iter().map(Vec::len).max().unwrap_or(0);
            let mut trees: Vec<Vec<Option<WaylandSurfaceRenderElement<R>>>> = std::iter::once(elements)
                .chain((1..copies).map(|_| tree(renderer)))
                .map(|t| t.into_iter().map(Some).collect())
                .collect();
            for (j, pieces) in pieces.iter().enumerate() {
                for (copy, piece) in pieces.iter().enumerate() {
                    if let Some(e) = trees
                        .get_mut(copy)
                        .and_then(|t| t.get_mut(j))
                        .and_then(Option::take)
                    {
                        out.extend(
                            CropRenderElement::from_element(e, scale, *piece).map(OutputElement::Clipped),
                        );
                    }
                }
            }
        }

        // 3. The window's own surfaces, cropped to its content.
        if nexq.xray {
            decor.xray.push_tints(tints, &[content], identity.color, out);
        }
        let surfaces_start = out.len();
        push_surface_tree(renderer, toplevel.wl_surface(), render_loc, scale, out, |e| {
            // Cropped only where it reaches out of the content: a crop maps every rectangle
            // list the damage tracker asks the element for, each frame.
            if content.contains_rect(e.geometry(Scale::from(scale))) {
                Some(OutputElement::Surface(e))
            } else {
                CropRenderElement::from_element(e, scale, content).map(OutputElement::Clipped)
            }
        });
        let content_opaque = covers_opaquely(&out[surfaces_start..], content, scale);

        // 4. The border, behind the whole frame.
        if w.decor == Decor::Frame {
            decor
                .border
                .update((w.frame.w, w.frame.h), spec.colors.border.to_f32_rgba());
            let backdrop = SolidColorRenderElement::from_buffer(
                &decor.border,
                to_phys((w.frame.x, w.frame.y).into(), scale),
                scale,
                1.0,
                Kind::Unspecified,
            );
            out.push(OutputElement::Backdrop(Backdrop::new(backdrop, !content_opaque)));
        }
    }
}

/// Whether the opaque regions of `elements` (a window's surfaces) cover all of `content`.
fn covers_opaquely(elements: &[impl Element], content: Rectangle<i32, Physical>, scale: f64) -> bool {
    let scale = Scale::from(scale);
    let opaque = elements.iter().flat_map(|e| {
        let at = e.geometry(scale).loc;
        e.opaque_regions(scale).into_iter().map(move |mut r| {
            r.loc += at;
            r
        })
    });
    content.subtract_rects(opaque).is_empty()
}
