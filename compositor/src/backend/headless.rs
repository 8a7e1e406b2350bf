//! The headless backend: each output is a pixman image in memory. Needs no GPU and no display.

use std::collections::HashMap;

use crate::{
    backend::canvas::{canvas_for, Canvas, Captures},
    redraw::RenderOutcome,
    state::Nexq,
};

pub struct HeadlessBackend {
    /// The screens: what each display would show, by output name.
    canvases: HashMap<(String, bool), Canvas>,
    pub captures: Captures,
    pub frame_count: u64,
}

impl HeadlessBackend {
    pub fn new() -> Self {
        Self {
            canvases: HashMap::new(),
            captures: Captures::default(),
            frame_count: 0,
        }
    }

    /// Renders every output; the outcome is damaged when any output was.
    pub fn render(&mut self, nexq: &mut Nexq) -> anyhow::Result<RenderOutcome> {
        self.canvases
            .retain(|(name, _), _| nexq.outputs.by_name(name).is_some());
        self.captures.retain(nexq);
        let mut outcome = RenderOutcome::default();
        for output in nexq.outputs.iter() {
            let canvas = canvas_for(&mut self.canvases, output, true, true)?;
            outcome.merge(canvas.render(nexq, output)?);
        }
        if outcome.damaged {
            self.frame_count += 1;
        }
        Ok(outcome)
    }
}

impl Default for HeadlessBackend {
    fn default() -> Self {
        Self::new()
    }
}
