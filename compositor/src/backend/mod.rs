//! Backends: headless (pixman into memory, for tests and CI) and winit (a nested GLES window).

pub mod canvas;
pub mod headless;
pub mod winit;

use crate::{redraw::RenderOutcome, state::Nexq};
use canvas::CpuFrame;

pub enum Backend {
    Headless(Box<headless::HeadlessBackend>),
    Winit(Box<winit::WinitBackend>),
}

impl Backend {
    pub fn render(&mut self, nexq: &mut Nexq) -> anyhow::Result<RenderOutcome> {
        match self {
            Backend::Headless(b) => b.render(nexq),
            Backend::Winit(b) => b.render(nexq),
        }
    }

    /// The output's current pixels, rendered up to date, for screenshots and screencopy.
    pub fn capture(&mut self, nexq: &mut Nexq, with_cursor: bool) -> anyhow::Result<CpuFrame> {
        match self {
            Backend::Headless(b) => b.capture(nexq, with_cursor),
            Backend::Winit(b) => b.capture(nexq, with_cursor),
        }
    }

    pub fn frame_count(&self) -> u64 {
        match self {
            Backend::Headless(b) => b.frame_count,
            Backend::Winit(b) => b.frame_count,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Headless(_) => "headless",
            Backend::Winit(_) => "winit",
        }
    }
}
