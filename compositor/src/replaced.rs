//! Buffers replaced by a commit are released with the next frame, not by the commit.
//!
//! Smithay releases a surface's buffer (`wl_buffer.release`) as soon as a commit replaces it.
//! Sent then, the release goes out on its own: one more write to the client's socket and one
//! more wake-up of the client, for every client in every frame of an animation. Held until the
//! next frame is drawn, it goes out with that frame's callbacks in one write.
//!
//! A client gets one release per buffer it attached, as before, at most one refresh interval
//! later: every commit asks for a frame ([`crate::redraw`]). A buffer is never released while a
//! surface shows it. Smithay keeps one reference per attachment, so when a commit attaches a
//! buffer that is held again (A, then B, then A before a frame), the held reference is kept
//! until no surface that attached it shows it any more; only then are both released.

use smithay::{
    backend::renderer::utils::{with_renderer_surface_state, Buffer, RendererSurfaceStateUserData},
    reexports::wayland_server::{
        protocol::{wl_buffer::WlBuffer, wl_surface::WlSurface},
        Resource,
    },
    wayland::compositor::{with_states, BufferAssignment, SurfaceAttributes},
};

/// The buffers replaced since the last frame, each kept alive (and so not released) until then.
#[derive(Debug, Default)]
pub struct ReplacedBuffers {
    held: Vec<Held>,
}

#[derive(Debug)]
struct Held {
    buffer: Buffer,
    /// The surfaces that attached this buffer again while it was held (almost always none).
    shown_on: Vec<WlSurface>,
}

impl ReplacedBuffers {
    /// Called with a commit of `surface` before it reaches the renderer state: when the commit
    /// attaches a buffer or removes one, keeps the buffer the surface shows now.
    pub fn hold(&mut self, surface: &WlSurface) {
        let Some((attached, shown)) = with_states(surface, |states| {
            let attached = match states
                .cached_state
                .get::<SurfaceAttributes>()
                .current()
                .buffer
                .as_ref()?
            {
                BufferAssignment::NewBuffer(buffer) => Some(buffer.clone()),
                BufferAssignment::Removed => None,
            };
            let renderer = states.data_map.get::<RendererSurfaceStateUserData>()?;
            let shown = renderer.lock().ok()?.buffer().cloned();
            Some((attached, shown))
        }) else {
            return;
        };
        if let Some(attached) = attached {
            for held in self.held.iter_mut().filter(|held| held.buffer == attached) {
                if !held.shown_on.contains(surface) {
                    held.shown_on.push(surface.clone());
                }
            }
        }
        if let Some(buffer) = shown {
            self.held.push(Held {
                buffer,
                shown_on: Vec::new(),
            });
        }
    }

    /// Lets go of the held buffers once a frame is drawn, which releases those no surface shows
    /// any more. One that a surface attached again stays held while that surface shows it.
    pub fn release(&mut self) {
        self.held.retain_mut(|held| {
            held.shown_on.retain(|surface| shows(surface, &held.buffer));
            !held.shown_on.is_empty()
        });
    }
}

/// Whether `surface` is alive and shows `buffer` now.
fn shows(surface: &WlSurface, buffer: &WlBuffer) -> bool {
    surface.is_alive()
        && with_renderer_surface_state(surface, |state| state.buffer().is_some_and(|b| b == buffer))
            .unwrap_or(false)
}
