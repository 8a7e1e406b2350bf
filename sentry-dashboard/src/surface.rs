//! One layer surface (panel, dashboard or launcher): its configured size, its scale, the input
//! that arrived since its last frame, and drawing a frame into a fresh wl_shm buffer.
//!
//! A frame is drawn only when something changed (`dirty`) and the compositor has shown the
//! previous one (its frame callback came), so a burst of changes costs one frame and an idle
//! surface costs nothing.

use std::time::Instant;

use anyhow::Context;
use smithay_client_toolkit::reexports::protocols::wp::fractional_scale::v1::client::wp_fractional_scale_v1::WpFractionalScaleV1;
use smithay_client_toolkit::reexports::protocols::wp::viewporter::client::wp_viewport::WpViewport;
use smithay_client_toolkit::shell::wlr_layer::LayerSurface;
use smithay_client_toolkit::shell::WaylandSurface;
use smithay_client_toolkit::shm::slot::{Buffer, SlotPool};
use wayland_client::protocol::{wl_shm, wl_surface::WlSurface};
use wayland_client::QueueHandle;

use crate::input::InputState;
use crate::render::{FrameInput, FrameResult, Painter};

/// Which of the three surfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewKind {
    Panel,
    Dashboard,
    Launcher,
}

pub struct LayerView {
    pub kind: ViewKind,
    pub layer: LayerSurface,
    viewport: Option<WpViewport>,
    fractional: Option<WpFractionalScaleV1>,
    /// Logical size from the last configure.
    size: Option<(u32, u32)>,
    /// The integer buffer scale (preferred buffer scale, else the outputs').
    int_scale: i32,
    /// The preferred fractional scale in 120ths, when fractional-scale-v1 is in use.
    fractional_120: Option<u32>,
    pub input: InputState,
    /// Something changed since the last frame.
    pub dirty: bool,
    /// A frame was committed and its frame callback has not come yet.
    frame_pending: bool,
    /// A configure came: the next frame commits even if it looks the same.
    needs_commit: bool,
    /// Frames drawn so far (tests and logs).
    pub frames: u64,
    created: Instant,
    /// The buffer on screen; kept until the next one replaces it.
    buffer: Option<Buffer>,
}

impl LayerView {
    pub fn new(
        kind: ViewKind,
        layer: LayerSurface,
        viewport: Option<WpViewport>,
        fractional: Option<WpFractionalScaleV1>,
    ) -> LayerView {
        LayerView {
            kind,
            layer,
            viewport,
            fractional,
            size: None,
            int_scale: 1,
            fractional_120: None,
            input: InputState::default(),
            dirty: true,
            frame_pending: false,
            needs_commit: false,
            frames: 0,
            created: Instant::now(),
            buffer: None,
        }
    }

    pub fn surface(&self) -> &WlSurface {
        self.layer.wl_surface()
    }

    pub fn owns_fractional(&self, object: &WpFractionalScaleV1) -> bool {
        self.fractional.as_ref() == Some(object)
    }

    /// The compositor's configure: the size to draw at.
    pub fn configure(&mut self, width: u32, height: u32) {
        self.size = Some((width, height));
        self.dirty = true;
        self.needs_commit = true;
    }

    pub fn set_int_scale(&mut self, scale: i32) {
        let scale = scale.max(1);
        if scale != self.int_scale {
            self.int_scale = scale;
            // With fractional scaling the integer scale does not change the buffer.
            self.dirty |= self.fractional_120.is_none();
        }
    }

    pub fn set_fractional_scale(&mut self, scale_120: u32) {
        if self.viewport.is_some() && self.fractional_120 != Some(scale_120) {
            self.fractional_120 = Some(scale_120.max(1));
            self.dirty = true;
        }
    }

    /// Buffer pixels per logical pixel.
    pub fn scale(&self) -> f32 {
        match self.fractional_120 {
            Some(s) => s as f32 / 120.0,
            None => self.int_scale as f32,
        }
    }

    /// The buffer size for the current logical size and scale.
    pub fn buffer_size(&self) -> Option<(u32, u32)> {
        let (w, h) = self.size?;
        Some(match self.fractional_120 {
            Some(s) => (
                ((w * s) as f32 / 120.0).round().max(1.0) as u32,
                ((h * s) as f32 / 120.0).round().max(1.0) as u32,
            ),
            None => (w * self.int_scale as u32, h * self.int_scale as u32),
        })
    }

    pub fn frame_done(&mut self) {
        self.frame_pending = false;
    }

    /// Whether a frame should be drawn now.
    pub fn wants_frame(&self) -> bool {
        self.dirty && !self.frame_pending && self.size.is_some_and(|(w, h)| w > 0 && h > 0)
    }

    /// Runs `ui` and, when the picture changed, draws it into a fresh buffer and commits it,
    /// asking for a frame callback. Returns what egui asked for and whether a frame was drawn.
    pub fn draw<D>(
        &mut self,
        painter: &mut Painter,
        pool: &mut SlotPool,
        qh: &QueueHandle<D>,
        background: egui::Color32,
        ui: impl FnMut(&mut egui::Ui),
    ) -> anyhow::Result<(FrameResult, bool)>
    where
        D: wayland_client::Dispatch<wayland_client::protocol::wl_callback::WlCallback, WlSurface> + 'static,
    {
        let (width, height) = self.size.context("draw before configure")?;
        let (bw, bh) = self.buffer_size().context("draw before configure")?;
        let input = FrameInput {
            logical: egui::vec2(width as f32, height as f32),
            scale: self.scale(),
            time: self.created.elapsed().as_secs_f64(),
            events: self.input.take_events(),
            modifiers: self.input.modifiers,
            focused: self.input.keyboard_focus,
        };
        // A configure is answered with a commit, and a new surface needs its first buffer.
        let force = std::mem::take(&mut self.needs_commit) || self.frames == 0;
        self.dirty = false;
        let (result, pass) = painter.run(input, force, ui);
        let Some(pass) = pass else {
            // Nothing visible changed (the pointer moved over nothing, say): no new buffer.
            return Ok((result, false));
        };
        let (buffer, canvas) = pool
            .create_buffer(bw as i32, bh as i32, bw as i32 * 4, wl_shm::Format::Argb8888)
            .context("cannot allocate a wl_shm buffer")?;
        painter.raster(pass, canvas, bw, bh, background);

        let surface = self.layer.wl_surface();
        match &self.viewport {
            Some(viewport) if self.fractional_120.is_some() => {
                surface.set_buffer_scale(1);
                viewport.set_destination(width as i32, height as i32);
            }
            _ => surface.set_buffer_scale(self.int_scale),
        }
        surface.damage_buffer(0, 0, bw as i32, bh as i32);
        surface.frame(qh, surface.clone());
        buffer.attach_to(surface).context("cannot attach the buffer")?;
        self.layer.commit();
        self.buffer = Some(buffer);
        self.frame_pending = true;
        self.frames += 1;
        Ok((result, true))
    }
}

impl Drop for LayerView {
    fn drop(&mut self) {
        if let Some(viewport) = self.viewport.take() {
            viewport.destroy();
        }
        if let Some(fractional) = self.fractional.take() {
            fractional.destroy();
        }
    }
}
