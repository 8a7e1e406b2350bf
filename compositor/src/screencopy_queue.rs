//! Serving wlr-screencopy frames: `copy` is answered at once from a fresh capture;
//! `copy_with_damage` waits for the next frame that has damage.

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
        // Frames that asked for the cursor and frames that did not need different captures.
        let (with_cursor, without): (Vec<_>, Vec<_>) = frames.into_iter().partition(|f| f.overlay_cursor());
        for (cursor, frames) in [(true, with_cursor), (false, without)] {
            if !frames.is_empty() {
                self.copy_group(frames, cursor);
            }
        }
    }

    fn copy_group(&mut self, frames: Vec<ScreencopyFrame>, with_cursor: bool) {
        let cpu = match self.backend.capture(&mut self.nexq, with_cursor) {
            Ok(cpu) => cpu,
            Err(err) => {
                tracing::warn!(%err, "screencopy capture failed");
                frames.into_iter().for_each(ScreencopyFrame::failed);
                return;
            }
        };
        let now: std::time::Duration = self.nexq.clock.now().into();
        let size = (cpu.width as i32, cpu.height as i32).into();
        for frame in frames {
            match frame.copy_from(&cpu.bgra, cpu.stride, size) {
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
