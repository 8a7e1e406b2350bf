//! Builds the list of render elements for the output, front to back: cursor, overlay and top
//! layers, windows (each above its server-side frame), bottom and background layers.

use std::cell::RefCell;

use exo_shell::{config::Color, geometry::Rect};
use smithay::{
    backend::renderer::{
        element::{
            memory::MemoryRenderBufferRenderElement,
            solid::{SolidColorBuffer, SolidColorRenderElement},
            surface::{render_elements_from_surface_tree, WaylandSurfaceRenderElement},
            AsRenderElements, Kind,
        },
        ImportAll, ImportMem, Renderer, Texture,
    },
    desktop::{layer_map_for_output, Window},
    input::pointer::CursorImageStatus,
    utils::{Logical, Point, Scale},
    wayland::shell::wlr_layer::Layer,
};

use crate::{cursor::CursorImages, state::Nexq, windows::decoration_rects};

smithay::backend::renderer::element::render_elements! {
    pub OutputElement<R> where R: ImportAll + ImportMem;
    Surface = WaylandSurfaceRenderElement<R>,
    Solid = SolidColorRenderElement,
    Cursor = MemoryRenderBufferRenderElement<R>,
}

/// The two solid rectangles of a window's server-side frame; kept per window so that their ids
/// stay stable and the damage tracker only repaints them when they change.
#[derive(Default)]
struct FrameBuffers {
    border: SolidColorBuffer,
    title: SolidColorBuffer,
}

fn color(c: Color) -> [f32; 4] {
    c.to_f32_rgba()
}

/// Title bars are drawn a shade darker than the border colour so the frame reads as two parts.
fn darker(c: Color) -> [f32; 4] {
    let [r, g, b, a] = c.to_f32_rgba();
    [r * 0.7, g * 0.7, b * 0.7, a]
}

fn to_phys(p: Point<i32, Logical>, scale: f64) -> Point<i32, smithay::utils::Physical> {
    p.to_f64().to_physical(scale).to_i32_round()
}

/// `with_cursor: false` leaves the pointer out (screencopy without overlay_cursor).
pub fn output_elements<R>(
    renderer: &mut R,
    nexq: &Nexq,
    cursors: &mut CursorImages,
    with_cursor: bool,
) -> Vec<OutputElement<R>>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Texture + Clone + Send + 'static,
{
    let output = &nexq.output;
    let scale = output.current_scale().fractional_scale();
    let mut elements: Vec<OutputElement<R>> = Vec::new();

    if with_cursor {
        cursor_elements(renderer, nexq, cursors, scale, &mut elements);
    }

    let layer_map = layer_map_for_output(output);
    let push_layers = |renderer: &mut R, layer: Layer, elements: &mut Vec<OutputElement<R>>| {
        for surface in layer_map.layers_on(layer).rev() {
            if let Some(geo) = layer_map.layer_geometry(surface) {
                elements.extend(
                    surface
                        .render_elements::<WaylandSurfaceRenderElement<R>>(
                            renderer,
                            to_phys(geo.loc, scale),
                            Scale::from(scale),
                            1.0,
                        )
                        .into_iter()
                        .map(OutputElement::Surface),
                );
            }
        }
    };
    push_layers(renderer, Layer::Overlay, &mut elements);
    push_layers(renderer, Layer::Top, &mut elements);

    let focused = nexq.layout.focused().copied();
    for (id, frame) in nexq.layout.windows_bottom_to_top().into_iter().rev() {
        let Some(window) = nexq.windows.get(&id) else {
            continue;
        };
        let info = nexq.layout.window_info(&id);
        let fullscreen = info.map(|i| i.fullscreen).unwrap_or(false);
        let content = crate::windows::content_rect(frame, fullscreen, &nexq.config);
        let render_loc = Point::<i32, Logical>::from((content.x, content.y)) - window.geometry().loc;
        elements.extend(
            window
                .render_elements::<WaylandSurfaceRenderElement<R>>(
                    renderer,
                    to_phys(render_loc, scale),
                    Scale::from(scale),
                    1.0,
                )
                .into_iter()
                .map(OutputElement::Surface),
        );
        if !fullscreen {
            frame_elements(window, frame, focused == Some(id), nexq, scale, &mut elements);
        }
    }

    push_layers(renderer, Layer::Bottom, &mut elements);
    push_layers(renderer, Layer::Background, &mut elements);
    elements
}

fn frame_elements<R>(
    window: &Window,
    frame: Rect,
    focused: bool,
    nexq: &Nexq,
    scale: f64,
    elements: &mut Vec<OutputElement<R>>,
) where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Texture + Clone + Send + 'static,
{
    let appearance = &nexq.config.appearance;
    let base = if focused {
        appearance.focused_border
    } else {
        appearance.unfocused_border
    };
    let (border_rect, title_rect) = decoration_rects(frame, &nexq.config);
    window
        .user_data()
        .insert_if_missing(|| RefCell::new(FrameBuffers::default()));
    let mut buffers = window
        .user_data()
        .get::<RefCell<FrameBuffers>>()
        .expect("inserted just above")
        .borrow_mut();
    buffers.border.update((border_rect.w, border_rect.h), color(base));
    buffers.title.update((title_rect.w, title_rect.h), darker(base));
    elements.push(OutputElement::Solid(SolidColorRenderElement::from_buffer(
        &buffers.title,
        to_phys((title_rect.x, title_rect.y).into(), scale),
        scale,
        1.0,
        Kind::Unspecified,
    )));
    elements.push(OutputElement::Solid(SolidColorRenderElement::from_buffer(
        &buffers.border,
        to_phys((border_rect.x, border_rect.y).into(), scale),
        scale,
        1.0,
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
    let Some(pointer) = nexq.seat.get_pointer() else {
        return;
    };
    let pos = pointer.current_location();
    match &nexq.cursor_status {
        CursorImageStatus::Hidden => {}
        CursorImageStatus::Named(icon) => {
            let image = cursors.get(*icon);
            let loc = (pos - image.hotspot.to_f64()).to_physical(scale);
            match MemoryRenderBufferRenderElement::from_buffer(
                renderer,
                loc,
                &image.buffer,
                None,
                None,
                None,
                Kind::Cursor,
            ) {
                Ok(element) => elements.push(OutputElement::Cursor(element)),
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
