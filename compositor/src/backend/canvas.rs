//! An offscreen pixman canvas the size of the output: the headless backend's screen, and the
//! capture path (screenshots, screencopy) of every backend.

use std::path::Path;

use anyhow::Context;
use smithay::{
    backend::{
        allocator::Fourcc,
        renderer::{damage::OutputDamageTracker, pixman::PixmanRenderer, Bind, Offscreen},
    },
    output::Output,
    reexports::pixman,
    utils::{Physical, Rectangle, Size},
};

use crate::{cursor::CursorImages, redraw::RenderOutcome, render::output_elements, state::Nexq};

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
    damage_tracker: OutputDamageTracker,
    cursors: CursorImages,
    with_cursor: bool,
    /// Damage of the last render, kept for screencopy's copy_with_damage.
    pub last_damage: Vec<Rectangle<i32, Physical>>,
}

impl Canvas {
    pub fn new(output: &Output, with_cursor: bool) -> anyhow::Result<Self> {
        let mut renderer = PixmanRenderer::new().context("cannot create the pixman renderer")?;
        let size = output.current_mode().context("the output has no mode")?.size;
        let image = Offscreen::<pixman::Image<'static, 'static>>::create_buffer(
            &mut renderer,
            Fourcc::Argb8888,
            Size::from((size.w, size.h)),
        )
        .context("cannot allocate the offscreen image")?;
        Ok(Self {
            renderer,
            image,
            damage_tracker: OutputDamageTracker::from_output(output),
            cursors: CursorImages::default(),
            with_cursor,
            last_damage: Vec::new(),
        })
    }

    pub fn render(&mut self, nexq: &Nexq) -> anyhow::Result<RenderOutcome> {
        let elements = output_elements(&mut self.renderer, nexq, &mut self.cursors, self.with_cursor);
        let mut framebuffer = self
            .renderer
            .bind(&mut self.image)
            .context("cannot bind the offscreen image")?;
        let clear = nexq.config.appearance.background.to_f32_rgba();
        // The image keeps its contents between frames, so its age is always 1.
        let result = self
            .damage_tracker
            .render_output(&mut self.renderer, &mut framebuffer, 1, &elements, clear)
            .map_err(|err| anyhow::anyhow!("pixman rendering failed: {err:?}"))?;
        self.last_damage = result.damage.cloned().unwrap_or_default();
        Ok(RenderOutcome {
            damaged: result.damage.is_some_and(|d| !d.is_empty()),
            states: result.states,
        })
    }

    pub fn read(&self) -> CpuFrame {
        let width = self.image.width();
        let height = self.image.height();
        let stride = self.image.stride();
        // SAFETY: the image owns `stride * height` bytes for as long as `self.image` lives, and
        // no render is in progress while we hold `&self`.
        let bytes = unsafe { std::slice::from_raw_parts(self.image.data() as *const u8, stride * height) };
        CpuFrame {
            width: width as u32,
            height: height as u32,
            stride,
            bgra: bytes.to_vec(),
        }
    }
}

/// Offscreen canvases for captures, with and without the cursor, made on first use and
/// remade when the output's mode changes.
#[derive(Default)]
pub struct Captures {
    with_cursor: Option<Canvas>,
    without_cursor: Option<Canvas>,
}

impl Captures {
    pub fn capture(&mut self, nexq: &Nexq, with_cursor: bool) -> anyhow::Result<CpuFrame> {
        let slot = if with_cursor {
            &mut self.with_cursor
        } else {
            &mut self.without_cursor
        };
        let mode = nexq.output.current_mode().context("the output has no mode")?.size;
        let stale = slot
            .as_ref()
            .is_none_or(|c| (c.image.width() as i32, c.image.height() as i32) != (mode.w, mode.h));
        if stale {
            *slot = Some(Canvas::new(&nexq.output, with_cursor)?);
        }
        let canvas = slot.as_mut().expect("created just above");
        canvas.render(nexq)?;
        Ok(canvas.read())
    }
}
