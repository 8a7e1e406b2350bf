//! Cursor images: the default arrow ships in `assets/cursor.png`; the other named shapes of
//! cursor-shape-v1 are drawn here so that a shape change is visible without a cursor theme.

use smithay::{
    backend::{
        allocator::Fourcc,
        renderer::{
            element::{memory::MemoryRenderBuffer, texture::TextureBuffer},
            ImportMem, Renderer, Texture,
        },
    },
    input::pointer::{CursorIcon, CursorImageSurfaceData},
    reexports::wayland_server::protocol::wl_surface::WlSurface,
    utils::{Logical, Point, Transform},
    wayland::compositor::with_states,
};

use crate::imported::ImportedTexture;

const DEFAULT_CURSOR_PNG: &[u8] = include_bytes!("../../assets/cursor.png");

/// Abgr8888 in DRM fourcc terms is R,G,B,A byte order in memory, as PNG gives it.
const PIXEL_FORMAT: Fourcc = Fourcc::Abgr8888;

/// One cursor shape: its pixels, its hotspot and its texture in the renderer that draws it.
pub struct CursorImage {
    pixels: Pixels,
    pub hotspot: Point<i32, Logical>,
    texture: ImportedTexture,
    /// The pixels as a memory buffer, made on first use: see [`CursorImages::for_planes`].
    buffer: Option<MemoryRenderBuffer>,
}

impl CursorImage {
    /// The image as a memory buffer, whose elements a DRM compositor can copy onto a cursor
    /// plane (it cannot read a texture's pixels back).
    pub fn buffer(&mut self) -> &MemoryRenderBuffer {
        let pixels = &self.pixels;
        self.buffer.get_or_insert_with(|| {
            MemoryRenderBuffer::from_slice(
                &pixels.rgba,
                PIXEL_FORMAT,
                pixels.size(),
                1,
                Transform::Normal,
                None,
            )
        })
    }

    /// The image's texture in `renderer`, imported on first use.
    pub fn texture<R>(&mut self, renderer: &mut R) -> Result<&TextureBuffer<R::TextureId>, R::Error>
    where
        R: Renderer + ImportMem,
        R::TextureId: Texture + 'static,
    {
        let pixels = &self.pixels;
        self.texture.get(renderer, |renderer| {
            TextureBuffer::from_memory(
                renderer,
                &pixels.rgba,
                PIXEL_FORMAT,
                pixels.size(),
                false,
                1,
                Transform::Normal,
                None,
            )
        })
    }
}

/// RGBA pixels of a cursor before upload.
struct Pixels {
    width: usize,
    height: usize,
    rgba: Vec<u8>,
}

impl Pixels {
    fn size(&self) -> (i32, i32) {
        (self.width as i32, self.height as i32)
    }

    fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            rgba: vec![0; width * height * 4],
        }
    }
    fn fill(&mut self, x0: usize, y0: usize, w: usize, h: usize, rgba: [u8; 4]) {
        for y in y0..(y0 + h).min(self.height) {
            for x in x0..(x0 + w).min(self.width) {
                let i = (y * self.width + x) * 4;
                self.rgba[i..i + 4].copy_from_slice(&rgba);
            }
        }
    }
}

const BLACK: [u8; 4] = [0, 0, 0, 255];
const WHITE: [u8; 4] = [255, 255, 255, 255];

fn decode_png(bytes: &[u8]) -> Pixels {
    let decoder = png::Decoder::new(bytes);
    // The asset is part of the binary and checked by a test, so failing here is a build bug.
    let mut reader = decoder.read_info().expect("assets/cursor.png is a valid PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("assets/cursor.png decodes");
    assert_eq!(
        info.color_type,
        png::ColorType::Rgba,
        "assets/cursor.png must be RGBA"
    );
    buf.truncate(info.buffer_size());
    Pixels {
        width: info.width as usize,
        height: info.height as usize,
        rgba: buf,
    }
}

/// An I-beam for text, a cross for precise selection, a four-way cross for moving and a
/// white box with a black outline for every other shape.
fn draw_shape(icon: CursorIcon) -> (Pixels, Point<i32, Logical>) {
    let mut p = Pixels::new(24, 24);
    match icon {
        CursorIcon::Text | CursorIcon::VerticalText => {
            p.fill(9, 2, 6, 3, BLACK);
            p.fill(11, 2, 3, 20, BLACK);
            p.fill(9, 19, 6, 3, BLACK);
            p.fill(12, 3, 1, 18, WHITE);
            (p, (12, 12).into())
        }
        CursorIcon::Crosshair | CursorIcon::Cell => {
            p.fill(11, 0, 3, 24, BLACK);
            p.fill(0, 11, 24, 3, BLACK);
            (p, (12, 12).into())
        }
        CursorIcon::Move | CursorIcon::AllScroll | CursorIcon::Grab | CursorIcon::Grabbing => {
            p.fill(10, 0, 4, 24, BLACK);
            p.fill(0, 10, 24, 4, BLACK);
            p.fill(11, 1, 2, 22, WHITE);
            p.fill(1, 11, 22, 2, WHITE);
            (p, (12, 12).into())
        }
        _ => {
            p.fill(2, 2, 20, 20, BLACK);
            p.fill(4, 4, 16, 16, WHITE);
            (p, (12, 12).into())
        }
    }
}

/// Cursor images by shape, created on first use; a session uses a handful, so a list searched
/// from the front (most recently used first) is quicker than hashing the shape every frame.
#[derive(Default)]
pub struct CursorImages {
    images: Vec<(CursorIcon, CursorImage)>,
    /// Whether the cursor is drawn from memory buffers (see [`CursorImages::for_planes`]).
    pub planes: bool,
}

impl CursorImages {
    /// Images drawn from memory buffers, so that a DRM compositor can put the pointer on a
    /// cursor plane; the default draws them from textures imported once, which is cheaper
    /// per frame where there is no such plane.
    pub fn for_planes() -> Self {
        Self {
            images: Vec::new(),
            planes: true,
        }
    }

    pub fn get(&mut self, icon: CursorIcon) -> &mut CursorImage {
        match self.images.iter().position(|(i, _)| *i == icon) {
            Some(0) => {}
            Some(at) => self.images[..=at].rotate_right(1),
            None => self.images.insert(0, (icon, Self::make(icon))),
        }
        &mut self.images[0].1
    }

    fn make(icon: CursorIcon) -> CursorImage {
        let (pixels, hotspot) = if icon == CursorIcon::Default {
            (decode_png(DEFAULT_CURSOR_PNG), Point::from((0, 0)))
        } else {
            draw_shape(icon)
        };
        CursorImage {
            pixels,
            hotspot,
            texture: ImportedTexture::default(),
            buffer: None,
        }
    }
}

pub fn surface_hotspot(surface: &WlSurface) -> Point<i32, Logical> {
    with_states(surface, |states| {
        states
            .data_map
            .get::<CursorImageSurfaceData>()
            .map(|data| data.lock().map(|d| d.hotspot).unwrap_or_default())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cursor_asset_decodes_with_visible_pixels() {
        let p = decode_png(DEFAULT_CURSOR_PNG);
        assert!(p.width >= 8 && p.height >= 8);
        let opaque = p.rgba.chunks(4).filter(|px| px[3] == 255).count();
        assert!(opaque > 20, "cursor has only {opaque} opaque pixels");
    }

    #[test]
    fn images_are_kept_per_shape_whatever_the_order_of_use() {
        let mut images = CursorImages::default();
        let shapes = [
            CursorIcon::Text,
            CursorIcon::Default,
            CursorIcon::Move,
            CursorIcon::Text,
        ];
        for icon in shapes.into_iter().chain(shapes.into_iter().rev()) {
            let want = if icon == CursorIcon::Default {
                (decode_png(DEFAULT_CURSOR_PNG), Point::from((0, 0)))
            } else {
                draw_shape(icon)
            };
            let got = images.get(icon);
            assert_eq!(
                (&got.pixels.rgba, got.hotspot),
                (&want.0.rgba, want.1),
                "{icon:?}"
            );
        }
        assert_eq!(images.images.len(), 3);
    }

    #[test]
    fn text_cursor_differs_from_default() {
        let (text, _) = draw_shape(CursorIcon::Text);
        let (other, _) = draw_shape(CursorIcon::Pointer);
        assert_ne!(text.rgba, other.rgba);
    }
}
