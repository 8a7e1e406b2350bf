//! Backends: headless (pixman into memory, for tests and CI), winit (a nested GLES window; the
//! `winit` cargo feature) and drm (a console: KMS, libinput, a libseat session).

pub mod canvas;
pub mod drm;
pub mod headless;
mod huge_pages;
#[cfg(feature = "winit")]
pub mod winit;

use smithay::output::Output;

use crate::{redraw::RenderOutcome, state::Nexq};
use canvas::CpuFrame;

pub enum Backend {
    Headless(Box<headless::HeadlessBackend>),
    #[cfg(feature = "winit")]
    Winit(Box<winit::WinitBackend>),
    Drm(Box<drm::DrmBackend>),
}

impl Backend {
    pub fn render(&mut self, nexq: &mut Nexq) -> anyhow::Result<RenderOutcome> {
        match self {
            Backend::Headless(b) => b.render(nexq),
            #[cfg(feature = "winit")]
            Backend::Winit(b) => b.render(nexq),
            Backend::Drm(b) => b.render(nexq),
        }
    }

    /// The capture canvases (screenshots, screencopy) of whichever backend runs.
    pub fn captures(&mut self) -> &mut canvas::Captures {
        match self {
            Backend::Headless(b) => &mut b.captures,
            #[cfg(feature = "winit")]
            Backend::Winit(b) => &mut b.captures,
            Backend::Drm(b) => &mut b.captures,
        }
    }

    /// An output's current pixels, rendered up to date, for screenshots and screencopy.
    pub fn capture(
        &mut self,
        nexq: &mut Nexq,
        output: &Output,
        with_cursor: bool,
    ) -> anyhow::Result<CpuFrame> {
        self.captures().capture(nexq, output, with_cursor)
    }

    /// Every output's pixels side by side, as they are arranged: the whole session.
    pub fn capture_all(&mut self, nexq: &mut Nexq, with_cursor: bool) -> anyhow::Result<CpuFrame> {
        let outputs: Vec<Output> = nexq.outputs.iter().cloned().collect();
        let frames = outputs
            .iter()
            .map(|output| self.capture(nexq, output, with_cursor))
            .collect::<anyhow::Result<Vec<_>>>()?;
        match <[CpuFrame; 1]>::try_from(frames) {
            Ok([one]) => Ok(one),
            Err(frames) => Ok(canvas::side_by_side(&frames)),
        }
    }

    pub fn frame_count(&self) -> u64 {
        match self {
            Backend::Headless(b) => b.frame_count,
            #[cfg(feature = "winit")]
            Backend::Winit(b) => b.frame_count,
            Backend::Drm(b) => b.frame_count,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Headless(_) => "headless",
            #[cfg(feature = "winit")]
            Backend::Winit(_) => "winit",
            Backend::Drm(_) => "drm",
        }
    }
}
