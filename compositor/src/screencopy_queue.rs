//! Serving wlr-screencopy frames: `copy` is answered at once from a fresh capture;
//! `copy_with_damage` waits for the next frame that has damage.

use smithay::output::Output;

use crate::{protocols::screencopy::ScreencopyFrame, state::State};

pub struct PendingScreencopy {
    pub frame: ScreencopyFrame,
}

impl State {
    pub fn serve_screencopy(&mut self, frame: ScreencopyFrame) {
        if !frame.is_alive() {
            return;
        }
        if frame.with_damage() {
            self.nexq.pending_screencopies.push(PendingScreencopy { frame });
            return;
        }
        self.copy_and_submit(vec![frame]);
    }

    pub fn submit_screencopies_after_render(&mut self) {
        if self.nexq.pending_screencopies.is_empty() {
            return;
        }
        let frames = std::mem::take(&mut self.nexq.pending_screencopies)
            .into_iter()
            .map(|p| p.frame)
            .collect();
        self.copy_and_submit(frames);
    }

    fn copy_and_submit(&mut self, frames: Vec<ScreencopyFrame>) {
        // Each output, with and without the cursor, is one capture.
        let mut groups: Vec<(Output, bool, Vec<ScreencopyFrame>)> = Vec::new();
        for frame in frames {
            let key = (frame.output().clone(), frame.overlay_cursor());
            match groups.iter_mut().find(|(o, c, _)| (o, *c) == (&key.0, key.1)) {
                Some((_, _, group)) => group.push(frame),
                None => groups.push((key.0, key.1, vec![frame])),
            }
        }
        for (output, with_cursor, frames) in groups {
            self.copy_group(&output, frames, with_cursor);
        }
    }

    fn copy_group(&mut self, output: &Output, frames: Vec<ScreencopyFrame>, with_cursor: bool) {
        if self.nexq.outputs.index_of(output).is_none() {
            // The output went away after the frame was asked for.
            frames.into_iter().for_each(ScreencopyFrame::failed);
            return;
        }
        let now: std::time::Duration = self.nexq.clock.now().into();
        // The canvas's pixels go straight into each client's buffer.
        let mut waiting = Some(frames);
        let copied = self
            .backend
            .captures()
            .capture_with(&self.nexq, output, with_cursor, |view| {
                let size = (view.width as i32, view.height as i32).into();
                let frames = waiting.take().unwrap_or_default();
                frames
                    .into_iter()
                    .map(|frame| {
                        let copied = frame.copy_from(view.bgra, view.stride, size);
                        (frame, copied)
                    })
                    .collect::<Vec<_>>()
            });
        let copied = match copied {
            Ok(copied) => copied,
            Err(err) => {
                tracing::warn!(%err, "screencopy capture failed");
                waiting.into_iter().flatten().for_each(ScreencopyFrame::failed);
                return;
            }
        };
        for (frame, result) in copied {
            match result {
                // The whole region is reported as damaged: a superset of the real damage is valid.
                Ok(()) => frame.submit(now, &[]),
                Err(err) => {
                    tracing::debug!(%err, "screencopy failed");
                    frame.failed();
                }
            }
        }
    }
}
