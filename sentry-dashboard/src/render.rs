//! egui on the CPU: runs one egui pass and rasterises it with `egui_software_backend` straight
//! into a wl_shm ARGB8888 buffer (premultiplied BGRA bytes in memory, like egui's output).

use std::time::{Duration, Instant};

use egui::{Color32, Pos2, Rect, Vec2, ViewportId};
use egui_software_backend::{BufferMutRef, ColorFieldOrder, EguiSoftwareRender};

/// What a frame needs besides the UI code: its size and input.
#[derive(Debug, Clone, Default)]
pub struct FrameInput {
    /// Size in logical pixels (egui points).
    pub logical: Vec2,
    /// Buffer pixels per logical pixel.
    pub scale: f32,
    /// Seconds since the view was created (egui's clock for double clicks and tooltips).
    pub time: f64,
    pub events: Vec<egui::Event>,
    pub modifiers: egui::Modifiers,
    pub focused: bool,
}

/// What a frame tells the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameResult {
    /// egui wants another pass after this long (`Some(ZERO)`: right away), e.g. for a tooltip;
    /// `None`: not until something changes.
    pub repaint_after: Option<Duration>,
    /// The pointer should show a hand (over something clickable) rather than an arrow.
    pub pointer_hand: bool,
}

/// Where the last frame's time went (for the benchmark).
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameTimings {
    /// egui's pass: layout and widgets.
    pub ui: Duration,
    pub tessellate: Duration,
    /// Clearing the buffer and rasterising into it.
    pub raster: Duration,
}

/// One egui context and its software rasteriser (each surface has its own).
pub struct Painter {
    pub ctx: egui::Context,
    renderer: EguiSoftwareRender,
    pub timings: FrameTimings,
    /// The last frame's size, scale and shapes, to recognise a frame that changes nothing.
    last: Option<((Vec2, f32), Vec<egui::epaint::ClippedShape>)>,
}

impl Default for Painter {
    fn default() -> Self {
        Painter::new()
    }
}

impl Painter {
    pub fn new() -> Painter {
        let ctx = egui::Context::default();
        crate::ui::theme::install(&ctx);
        Painter {
            ctx,
            renderer: EguiSoftwareRender::new(ColorFieldOrder::Bgra),
            timings: FrameTimings::default(),
            last: None,
        }
    }

    /// Runs `ui` for one frame. Returns what egui asked for and, unless the frame would look
    /// exactly like the last one (same shapes, same size and scale, no texture change, and not
    /// `force`d), the [`Pass`] to rasterise.
    pub fn run(
        &mut self,
        input: FrameInput,
        force: bool,
        mut ui: impl FnMut(&mut egui::Ui),
    ) -> (FrameResult, Option<Pass>) {
        let mut raw = egui::RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, input.logical)),
            time: Some(input.time),
            events: input.events,
            modifiers: input.modifiers,
            focused: input.focused,
            ..Default::default()
        };
        raw.viewports
            .entry(ViewportId::ROOT)
            .or_default()
            .native_pixels_per_point = Some(input.scale);
        let start = Instant::now();
        let output = self.ctx.run_ui(raw, |root| ui(root));
        self.timings = FrameTimings {
            ui: start.elapsed(),
            ..FrameTimings::default()
        };
        let result = FrameResult {
            repaint_after: output
                .viewport_output
                .get(&ViewportId::ROOT)
                .map(|v| v.repaint_delay)
                .filter(|d| *d < Duration::from_secs(3600)),
            pointer_hand: output.platform_output.cursor_icon == egui::CursorIcon::PointingHand,
        };
        let key = (input.logical, output.pixels_per_point);
        let same = !force
            && output.textures_delta.is_empty()
            && self
                .last
                .as_ref()
                .is_some_and(|(k, shapes)| *k == key && *shapes == output.shapes);
        if same {
            return (result, None);
        }
        self.last = Some((key, output.shapes.clone()));
        let pass = Pass {
            shapes: output.shapes,
            textures_delta: output.textures_delta,
            pixels_per_point: output.pixels_per_point,
        };
        (result, Some(pass))
    }

    /// Draws `pass` into `pixels`, a `width`×`height` ARGB8888 buffer (4 bytes a pixel, no row
    /// padding), which is filled with `background` first (cheaper than painting it: a
    /// background shape would be rasterised again whenever its mesh changes).
    pub fn raster(&mut self, pass: Pass, pixels: &mut [u8], width: u32, height: u32, background: Color32) {
        let start = Instant::now();
        let primitives = self.ctx.tessellate(pass.shapes, pass.pixels_per_point);
        let tessellated = Instant::now();
        // The rasteriser blends over what is there. Color32 is premultiplied RGBA; wl_shm's
        // ARGB8888 is BGRA in memory.
        let [r, g, b, a] = background.to_array();
        let texels: &mut [[u8; 4]] = bytemuck::cast_slice_mut(pixels);
        texels.fill([b, g, r, a]);
        let mut target = BufferMutRef::new(texels, width as usize, height as usize);
        self.renderer.render(
            &mut target,
            &primitives,
            &pass.textures_delta,
            pass.pixels_per_point,
        );
        self.timings.tessellate = tessellated - start;
        self.timings.raster = tessellated.elapsed();
    }

    /// [`run`](Self::run) and [`raster`](Self::raster) in one, always drawing.
    pub fn paint(
        &mut self,
        input: FrameInput,
        pixels: &mut [u8],
        width: u32,
        height: u32,
        background: Color32,
        ui: impl FnMut(&mut egui::Ui),
    ) -> FrameResult {
        let (result, pass) = self.run(input, true, ui);
        if let Some(pass) = pass {
            self.raster(pass, pixels, width, height, background);
        }
        result
    }
}

/// One egui frame, laid out, waiting to be rasterised.
pub struct Pass {
    shapes: Vec<egui::epaint::ClippedShape>,
    textures_delta: egui::TexturesDelta,
    pixels_per_point: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filled_panel_covers_the_buffer_and_text_is_drawn() {
        let mut painter = Painter::new();
        let (w, h) = (64u32, 32u32);
        let mut pixels = vec![0u8; (w * h * 4) as usize];
        let input = FrameInput {
            logical: Vec2::new(32.0, 16.0),
            scale: 2.0,
            ..Default::default()
        };
        painter.paint(input, &mut pixels, w, h, Color32::TRANSPARENT, |ui| {
            ui.painter()
                .rect_filled(ui.max_rect(), 0.0, Color32::from_rgb(0x10, 0x20, 0x30));
        });
        // BGRA in memory, opaque: the whole buffer, at scale 2.
        assert_eq!(&pixels[..4], &[0x30, 0x20, 0x10, 0xff]);
        let last = pixels.len() - 4;
        assert_eq!(&pixels[last..], &[0x30, 0x20, 0x10, 0xff]);
    }

    #[test]
    fn a_frame_that_changes_nothing_is_not_drawn_again() {
        let mut painter = Painter::new();
        let input = || FrameInput {
            logical: Vec2::new(100.0, 40.0),
            scale: 1.0,
            ..Default::default()
        };
        let mut text = "one";
        let ui = |ui: &mut egui::Ui, text: &str| {
            ui.label(text);
        };
        assert!(
            painter.run(input(), false, |u| ui(u, text)).1.is_some(),
            "first frame"
        );
        // The font atlas may settle over a frame or two.
        for _ in 0..3 {
            let _ = painter.run(input(), false, |u| ui(u, text));
        }
        assert!(painter.run(input(), false, |u| ui(u, text)).1.is_none());
        assert!(painter.run(input(), true, |u| ui(u, text)).1.is_some(), "forced");
        text = "two";
        assert!(
            painter.run(input(), false, |u| ui(u, text)).1.is_some(),
            "changed"
        );
    }

    #[test]
    fn the_background_fills_what_egui_leaves_transparent() {
        let mut painter = Painter::new();
        let mut pixels = vec![0u8; 8 * 8 * 4];
        let input = FrameInput {
            logical: Vec2::new(8.0, 8.0),
            scale: 1.0,
            ..Default::default()
        };
        painter.paint(input, &mut pixels, 8, 8, Color32::from_rgb(1, 2, 3), |_| {});
        assert!(pixels.chunks(4).all(|p| p == [3, 2, 1, 0xff]));
    }
}
