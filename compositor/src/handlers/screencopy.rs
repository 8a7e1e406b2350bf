//! zwlr_screencopy_manager_v1 (our own implementation in `protocols::screencopy`), used by grim.

use crate::{
    delegate_screencopy,
    protocols::screencopy::{ScreencopyFrame, ScreencopyHandler},
    state::State,
};

impl ScreencopyHandler for State {
    fn frame(&mut self, frame: ScreencopyFrame) {
        self.serve_screencopy(frame);
    }
}

delegate_screencopy!(State);
