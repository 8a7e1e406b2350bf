//! Buffers replaced by a commit are released with the next frame, not by the commit.
//!
//! Smithay releases a surface's buffer (`wl_buffer.release`) as soon as a commit replaces it.
//! Sent then, the release goes out on its own: one more write to the client's socket and one
//! more wake-up of the client, for every client in every frame of an animation. Held until the
//! next frame is drawn, it goes out with that frame's callbacks in one write.
//!
//! The client gets the same events in the same order, only later: at most one refresh interval
//! later, since every commit asks for a frame ([`crate::redraw`]). A buffer that a later commit
//! attaches again is still shown, so letting go of the held copy sends nothing.

use smithay::{
    backend::renderer::utils::{Buffer, RendererSurfaceStateUserData},
    reexports::wayland_server::protocol::wl_surface::WlSurface,
    wayland::compositor::{with_states, SurfaceAttributes},
};

/// The buffers replaced since the last frame, each kept alive (and so not released) until then.
#[derive(Debug, Default)]
pub struct ReplacedBuffers {
    held: Vec<Buffer>,
}

impl ReplacedBuffers {
    /// Called with a commit of `surface` before it reaches the renderer state: when the commit
    /// attaches a buffer or removes one, keeps the buffer the surface shows now.
    pub fn hold(&mut self, surface: &WlSurface) {
        let shown = with_states(surface, |states| {
            let replaced = states
                .cached_state
                .get::<SurfaceAttributes>()
                .current()
                .buffer
                .is_some();
            if !replaced {
                return None;
            }
            let renderer = states.data_map.get::<RendererSurfaceStateUserData>()?;
            let shown = renderer.lock().ok()?.buffer().cloned();
            shown
        });
        self.held.extend(shown);
    }

    /// Lets go of the held buffers once a frame is drawn: each one no surface shows any more is
    /// released now.
    pub fn release(&mut self) {
        self.held.clear();
    }
}
