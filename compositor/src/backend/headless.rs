//! The headless backend: the output is a pixman image in memory. Needs no GPU and no display.

use crate::{
    backend::canvas::{Canvas, Captures, CpuFrame},
    redraw::RenderOutcome,
    state::Nexq,
};

pub struct HeadlessBackend {
    /// The screen: what a display would show.
    canvas: Option<Canvas>,
    captures: Captures,
    pub frame_count: u64,
}

impl HeadlessBackend {
    pub fn new() -> Self {
        Self {
            canvas: None,
            captures: Captures::default(),
            frame_count: 0,
        }
    }

    fn canvas(&mut self, nexq: &Nexq) -> anyhow::Result<&mut Canvas> {
        if self.canvas.is_none() {
            self.canvas = Some(Canvas::new(&nexq.output, true)?);
        }
        Ok(self.canvas.as_mut().expect("created just above"))
    }

    pub fn render(&mut self, nexq: &mut Nexq) -> anyhow::Result<RenderOutcome> {
        let outcome = self.canvas(nexq)?.render(nexq)?;
        if outcome.damaged {
            self.frame_count += 1;
        }
        Ok(outcome)
    }

    pub fn capture(&mut self, nexq: &mut Nexq, with_cursor: bool) -> anyhow::Result<CpuFrame> {
        self.captures.capture(nexq, with_cursor)
    }
}

impl Default for HeadlessBackend {
    fn default() -> Self {
        Self::new()
    }
}
