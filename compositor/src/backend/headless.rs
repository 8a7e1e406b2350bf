//! The headless backend: each output is a pixman image in memory. Needs no GPU and no display.

use smithay::output::Output;

use crate::{
    backend::canvas::{Canvas, Captures},
    redraw::RenderOutcome,
    state::Nexq,
};

pub struct HeadlessBackend {
    /// The screens: what each display would show, with their outputs (compared by identity, so
    /// finding a screen allocates nothing).
    canvases: Vec<(Output, Canvas)>,
    pub captures: Captures,
    pub frame_count: u64,
}

impl HeadlessBackend {
    pub fn new() -> Self {
        Self {
            canvases: Vec::new(),
            captures: Captures::default(),
            frame_count: 0,
        }
    }

    /// Renders every output; the outcome is damaged when any output was.
    pub fn render(&mut self, nexq: &mut Nexq) -> anyhow::Result<RenderOutcome> {
        self.canvases
            .retain(|(output, _)| nexq.outputs.iter().any(|o| o == output));
        self.captures.retain(nexq);
        let mut outcome = RenderOutcome::default();
        for output in nexq.outputs.iter() {
            let canvas = screen_of(&mut self.canvases, output)?;
            outcome.merge(canvas.render(nexq, output)?);
        }
        if outcome.damaged {
            self.frame_count += 1;
        }
        Ok(outcome)
    }
}

/// The screen canvas of `output` in `canvases`, made (or made again) at the output's size.
fn screen_of<'a>(canvases: &'a mut Vec<(Output, Canvas)>, output: &Output) -> anyhow::Result<&'a mut Canvas> {
    let i = match canvases.iter().position(|(o, _)| o == output) {
        Some(i) => {
            canvases[i].1.refit(output)?;
            i
        }
        None => {
            canvases.push((output.clone(), Canvas::new(output, true)?));
            canvases.len() - 1
        }
    };
    Ok(&mut canvases[i].1)
}

impl Default for HeadlessBackend {
    fn default() -> Self {
        Self::new()
    }
}
