//! An offscreen pixman canvas the size of an output: the headless backend's screens, and the
//! capture path (screenshots, screencopy) of every backend.

use std::{collections::HashMap, path::Path};

use anyhow::Context;
use smithay::{
    backend::renderer::{damage::OutputDamageTracker, pixman::PixmanRenderer, Bind},
    output::Output,
    reexports::pixman,
    utils::{Physical, Rectangle},
};

use super::huge_pages::HugePageMemory;
use crate::{
    culling::Culling, cursor::CursorImages, redraw::RenderOutcome, render::FrameElements, state::Nexq,
};

/// Pixels of a whole output in memory: B,G,R,A bytes per pixel (ARGB8888 little-endian).
#[derive(Debug, Clone)]
pub struct CpuFrame {
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub bgra: Vec<u8>,
}

impl CpuFrame {
    pub fn write_png(&self, path: &Path) -> anyhow::Result<()> {
        let file =
            std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut rgba = Vec::with_capacity(self.width as usize * self.height as usize * 4);
        for row in self.bgra.chunks(self.stride).take(self.height as usize) {
            for px in row[..self.width as usize * 4].chunks(4) {
                rgba.extend_from_slice(&[px[2], px[1], px[0], px[3]]);
            }
        }
        writer
            .write_image_data(&rgba)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

pub struct Canvas {
    renderer: PixmanRenderer,
    image: pixman::Image<'static, 'static>,
    /// The image's pixels; declared after `image`, so dropped after it.
    _pixels: HugePageMemory,
    damage_tracker: OutputDamageTracker,
    cursors: CursorImages,
    elements: FrameElements<PixmanRenderer>,
    culling: Culling,
    with_cursor: bool,
    /// Damage of the last render, kept for screencopy's copy_with_damage.
    pub last_damage: Vec<Rectangle<i32, Physical>>,
}

impl Canvas {
    pub fn new(output: &Output, with_cursor: bool) -> anyhow::Result<Self> {
        let renderer = PixmanRenderer::new().context("cannot create the pixman renderer")?;
        let size = output.current_mode().context("the output has no mode")?.size;
        let (image, pixels) = canvas_image(size.w, size.h)?;
        Ok(Self {
            renderer,
            image,
            _pixels: pixels,
            damage_tracker: OutputDamageTracker::from_output(output),
            cursors: CursorImages::default(),
            elements: FrameElements::default(),
            culling: Culling::default(),
            with_cursor,
            last_damage: Vec::new(),
        })
    }

    pub fn render(&mut self, nexq: &Nexq, output: &Output) -> anyhow::Result<RenderOutcome> {
        let clear = nexq.config.appearance.background.to_f32_rgba();
        let scale = output.current_scale().fractional_scale().into();
        let (image, damage_tracker, culling, last_damage) = (
            &mut self.image,
            &mut self.damage_tracker,
            &mut self.culling,
            &mut self.last_damage,
        );
        self.elements.render_with(
            &mut self.renderer,
            nexq,
            output,
            &mut self.cursors,
            self.with_cursor,
            |renderer, elements| {
                let mut framebuffer = renderer.bind(image).context("cannot bind the offscreen image")?;
                // The image keeps its contents between frames, so its age is always 1.
                let elements = culling.cull(elements, scale);
                let result = damage_tracker
                    .render_output(renderer, &mut framebuffer, 1, &elements, clear)
                    .map_err(|err| anyhow::anyhow!("pixman rendering failed: {err:?}"))?;
                *last_damage = result.damage.cloned().unwrap_or_default();
                Ok(RenderOutcome {
                    damaged: result.damage.is_some_and(|d| !d.is_empty()),
                    states: result.states,
                    ..Default::default()
                })
            },
        )
    }

    /// Makes the canvas again when it no longer has `output`'s size (a mode change; an output
    /// without a mode is an error).
    pub fn refit(&mut self, output: &Output) -> anyhow::Result<()> {
        let fits = output.current_mode().is_some_and(|mode| {
            (self.image.width() as i32, self.image.height() as i32) == (mode.size.w, mode.size.h)
        });
        if !fits {
            *self = Canvas::new(output, self.with_cursor)?;
        }
        Ok(())
    }

    /// The pixels as they are now, borrowed.
    pub fn view(&self) -> FrameView<'_> {
        let width = self.image.width();
        let height = self.image.height();
        let stride = self.image.stride();
        // SAFETY: the image owns `stride * height` bytes for as long as `self.image` lives, and
        // no render is in progress while we hold `&self`.
        let bytes = unsafe { std::slice::from_raw_parts(self.image.data() as *const u8, stride * height) };
        FrameView {
            width: width as u32,
            height: height as u32,
            stride,
            bgra: bytes,
        }
    }

    pub fn read(&self) -> CpuFrame {
        self.view().to_owned()
    }
}

/// An ARGB8888 pixman image of `width` x `height` over zeroed memory in huge pages (see
/// [`HugePageMemory`]); the image must be dropped before the memory.
fn canvas_image(
    width: i32,
    height: i32,
) -> anyhow::Result<(pixman::Image<'static, 'static>, HugePageMemory)> {
    let too_large = || anyhow::anyhow!("a {width}x{height} canvas is beyond pixman's 2 GiB");
    let side = |n: i32| usize::try_from(n).with_context(|| format!("a {width}x{height} canvas"));
    let (w, h) = (side(width)?, side(height)?);
    let stride = w.checked_mul(4).ok_or_else(too_large)?;
    let len = stride
        .checked_mul(h)
        .filter(|&len| len <= i32::MAX as usize)
        .ok_or_else(too_large)?;
    let mut pixels = HugePageMemory::new(len)
        .with_context(|| format!("cannot allocate {len} bytes for a {width}x{height} canvas"))?;
    // SAFETY: `pixels` holds `stride * h` zeroed bytes aligned for u32, and the caller keeps it
    // alive for as long as the image.
    let image = unsafe {
        pixman::Image::from_raw_mut(
            pixman::FormatCode::A8R8G8B8,
            w,
            h,
            pixels.as_mut_ptr().cast(),
            stride,
            false,
        )
    }
    .map_err(|_| anyhow::anyhow!("pixman cannot make a {width}x{height} canvas"))?;
    Ok((image, pixels))
}

/// A [`CpuFrame`]'s pixels borrowed from where they were drawn (no copy).
#[derive(Debug, Clone, Copy)]
pub struct FrameView<'a> {
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub bgra: &'a [u8],
}

impl FrameView<'_> {
    pub fn to_owned(self) -> CpuFrame {
        CpuFrame {
            width: self.width,
            height: self.height,
            stride: self.stride,
            bgra: self.bgra.to_vec(),
        }
    }
}

/// Offscreen canvases for captures of each output, with and without the cursor, made on first
/// use and remade when the output's mode changes.
#[derive(Default)]
pub struct Captures {
    canvases: HashMap<(String, bool), Canvas>,
}

impl Captures {
    pub fn capture(&mut self, nexq: &Nexq, output: &Output, with_cursor: bool) -> anyhow::Result<CpuFrame> {
        self.capture_with(nexq, output, with_cursor, |view| view.to_owned())
    }

    /// Brings `output`'s capture canvas up to date and lends its pixels to `f` (screencopy
    /// copies them straight into the client's buffer: no frame-sized copy in between).
    pub fn capture_with<T>(
        &mut self,
        nexq: &Nexq,
        output: &Output,
        with_cursor: bool,
        f: impl FnOnce(FrameView<'_>) -> T,
    ) -> anyhow::Result<T> {
        let canvas = canvas_for(&mut self.canvases, output, with_cursor)?;
        canvas.render(nexq, output)?;
        Ok(f(canvas.view()))
    }

    /// Forget the canvases of outputs no longer in the session.
    pub fn retain(&mut self, nexq: &Nexq) {
        self.canvases
            .retain(|(name, _), _| nexq.outputs.by_name(name).is_some());
    }
}

/// The capture canvas in `canvases` for `output` and `with_cursor`, made or remade to the
/// output's size.
fn canvas_for<'a>(
    canvases: &'a mut HashMap<(String, bool), Canvas>,
    output: &Output,
    with_cursor: bool,
) -> anyhow::Result<&'a mut Canvas> {
    output.current_mode().context("the output has no mode")?;
    let slot = canvases.entry((output.name(), with_cursor));
    let canvas = match slot {
        std::collections::hash_map::Entry::Occupied(entry) => {
            let canvas = entry.into_mut();
            canvas.refit(output)?;
            canvas
        }
        std::collections::hash_map::Entry::Vacant(entry) => entry.insert(Canvas::new(output, with_cursor)?),
    };
    Ok(canvas)
}

/// Frames of outputs side by side, left to right, tops aligned (the outputs' own arrangement):
/// one image of the whole session.
pub fn side_by_side(frames: &[CpuFrame]) -> CpuFrame {
    let width: u32 = frames.iter().map(|f| f.width).sum();
    let height = frames.iter().map(|f| f.height).max().unwrap_or(0);
    let stride = width as usize * 4;
    let mut bgra = vec![0; stride * height as usize];
    let mut x = 0;
    for frame in frames {
        let row_len = frame.width as usize * 4;
        for (y, row) in frame
            .bgra
            .chunks(frame.stride)
            .take(frame.height as usize)
            .enumerate()
        {
            let at = y * stride + x;
            bgra[at..at + row_len].copy_from_slice(&row[..row_len]);
        }
        x += row_len;
    }
    CpuFrame {
        width,
        height,
        stride,
        bgra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(width: u32, height: u32, px: [u8; 4]) -> CpuFrame {
        // A padded stride, as pixman images may have.
        let stride = width as usize * 4 + 8;
        let mut bgra = vec![0xee; stride * height as usize];
        for row in bgra.chunks_mut(stride) {
            for p in row[..width as usize * 4].chunks_mut(4) {
                p.copy_from_slice(&px);
            }
        }
        CpuFrame {
            width,
            height,
            stride,
            bgra,
        }
    }

    #[test]
    fn frames_side_by_side_keep_their_pixels_and_pad_short_ones_black() {
        let a = solid(3, 2, [1, 2, 3, 255]);
        let b = solid(2, 3, [9, 8, 7, 255]);
        let all = side_by_side(&[a, b]);
        assert_eq!((all.width, all.height, all.stride), (5, 3, 20));
        let px = |x: usize, y: usize| &all.bgra[y * all.stride + x * 4..][..4];
        assert_eq!(px(0, 0), [1, 2, 3, 255]);
        assert_eq!(px(2, 1), [1, 2, 3, 255]);
        assert_eq!(px(3, 0), [9, 8, 7, 255]);
        assert_eq!(px(4, 2), [9, 8, 7, 255]);
        assert_eq!(px(0, 2), [0, 0, 0, 0], "below the shorter output");
    }
}
