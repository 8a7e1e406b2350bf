//! `--frames`: the elements Nexquelium draws besides the client surfaces, with the same kinds,
//! sizes and stacking and none of its logic — per window an opaque 24-pixel title bar above the
//! content (a memory buffer, as Nexquelium's rasterised label is) and a 2-pixel border drawn as a
//! solid frame behind both; over everything, a 20x28 pointer image at the output's corner. With
//! it, the floor shows what drawing Nexquelium's trusted frames costs through Smithay.

use std::cell::RefCell;

use smithay::{
    backend::{
        allocator::Fourcc,
        renderer::{
            element::{
                memory::{MemoryRenderBuffer, MemoryRenderBufferRenderElement},
                solid::{SolidColorBuffer, SolidColorRenderElement},
                surface::WaylandSurfaceRenderElement,
                AsRenderElements, Kind,
            },
            pixman::PixmanRenderer,
        },
    },
    desktop::Window,
    utils::{Logical, Point, Rectangle, Scale, Transform},
};

smithay::backend::renderer::element::render_elements! {
    pub FloorElement<=PixmanRenderer>;
    Surface = WaylandSurfaceRenderElement<PixmanRenderer>,
    Memory = MemoryRenderBufferRenderElement<PixmanRenderer>,
    Solid = SolidColorRenderElement,
}

const TITLE: i32 = 24;
const BORDER: i32 = 2;
const TITLE_BGRA: [u8; 4] = [0x60, 0x40, 0x20, 0xff];
const BORDER_RGBA: [f32; 4] = [0.9, 0.6, 0.1, 1.0];

/// A window's title bar and border, made on its first frame.
struct Decor {
    title: MemoryRenderBuffer,
    title_width: i32,
    border: SolidColorBuffer,
}

/// An opaque `width`×`height` ARGB8888 buffer of one colour.
fn opaque_buffer(width: i32, height: i32, bgra: [u8; 4]) -> MemoryRenderBuffer {
    let pixels: Vec<u8> = bgra.repeat((width * height) as usize);
    MemoryRenderBuffer::from_slice(
        &pixels,
        Fourcc::Argb8888,
        (width, height),
        1,
        Transform::Normal,
        Some(vec![Rectangle::from_size((width, height).into())]),
    )
}

/// The pointer image (transparent but for a 10x14 arrow-sized block), made once.
pub fn pointer_image() -> MemoryRenderBuffer {
    let mut pixels = vec![0u8; 20 * 28 * 4];
    for row in pixels.chunks_mut(20 * 4).take(14) {
        for px in row.chunks_mut(4).take(10) {
            px.copy_from_slice(&[0, 0, 0, 0xff]);
        }
    }
    MemoryRenderBuffer::from_slice(&pixels, Fourcc::Argb8888, (20, 28), 1, Transform::Normal, None)
}

/// `window`'s elements front to back, its content's top-left corner at `content` (logical =
/// physical: the output's scale is 1); with `frames`, its title bar above and border behind.
pub fn window_elements(
    renderer: &mut PixmanRenderer,
    window: &Window,
    content: Point<i32, Logical>,
    frames: bool,
    out: &mut Vec<FloorElement>,
) {
    let scale = Scale::from(1.0);
    let geometry = window.geometry();
    let at = (content - geometry.loc).to_physical(1);
    let surfaces =
        window.render_elements::<WaylandSurfaceRenderElement<PixmanRenderer>>(renderer, at, scale, 1.0);
    if !frames {
        out.extend(surfaces.into_iter().map(FloorElement::Surface));
        return;
    }
    let size = geometry.size;
    window.user_data().insert_if_missing(|| {
        RefCell::new(Decor {
            title: opaque_buffer(size.w, TITLE, TITLE_BGRA),
            title_width: size.w,
            border: SolidColorBuffer::default(),
        })
    });
    let Some(cell) = window.user_data().get::<RefCell<Decor>>() else {
        return;
    };
    let mut decor = cell.borrow_mut();
    if decor.title_width != size.w {
        decor.title = opaque_buffer(size.w, TITLE, TITLE_BGRA);
        decor.title_width = size.w;
    }
    let title_at = Point::from((content.x as f64, (content.y - TITLE) as f64));
    if let Ok(title) = MemoryRenderBufferRenderElement::from_buffer(
        renderer,
        title_at,
        &decor.title,
        None,
        None,
        None,
        Kind::Unspecified,
    ) {
        out.push(FloorElement::Memory(title));
    }
    out.extend(surfaces.into_iter().map(FloorElement::Surface));
    decor
        .border
        .update((size.w + 2 * BORDER, size.h + TITLE + 2 * BORDER), BORDER_RGBA);
    out.push(FloorElement::Solid(SolidColorRenderElement::from_buffer(
        &decor.border,
        (content.x - BORDER, content.y - TITLE - BORDER),
        1.0,
        1.0,
        Kind::Unspecified,
    )));
}
