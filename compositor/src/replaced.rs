//! Buffers replaced by a commit are released with the next frame, not by the commit.
//!
//! Smithay releases a surface's buffer (`wl_buffer.release`) as soon as a commit replaces it.
//! Sent then, the release goes out on its own: one more write to the client's socket and one
//! more wake-up of the client, for every client in every frame of an animation. Held until the
//! next frame is drawn, it goes out with that frame's callbacks in one write.
//!
//! A client gets the releases it got before, at most one refresh interval later: every commit
//! asks for a frame ([`crate::redraw`]). Smithay keeps one reference per attachment of a buffer
//! other than the one shown, and dropping one sends its release. So when a commit attaches a
//! held buffer again (A, then B, then A before a frame), the held reference is kept until no
//! surface whose commit attached it again shows it: A is not released with the frame while it
//! is back on screen. A client that keeps doing this without waiting for releases gets its
//! oldest releases early, once [`MAX_COPIES`] are held for one buffer; only its own window can
//! show the damage.

use std::collections::HashMap;

use smithay::{
    backend::renderer::utils::{with_renderer_surface_state, Buffer, RendererSurfaceStateUserData},
    reexports::wayland_server::{backend::ObjectId, protocol::wl_surface::WlSurface, Resource},
    wayland::compositor::{with_states, BufferAssignment, SurfaceAttributes},
};

/// The most references to one buffer held at once.
pub const MAX_COPIES: usize = 16;

/// The buffers replaced since the last frame, each kept alive (and so not released) until then,
/// by buffer.
#[derive(Debug, Default)]
pub struct ReplacedBuffers {
    held: HashMap<ObjectId, Held>,
}

#[derive(Debug)]
struct Held {
    /// Smithay's references to the buffer, one per attachment replaced, oldest first.
    copies: Vec<Buffer>,
    /// The surfaces whose commits attached the buffer again while it was held (almost always
    /// none).
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
                BufferAssignment::NewBuffer(buffer) => Some(buffer.id()),
                BufferAssignment::Removed => None,
            };
            let renderer = states.data_map.get::<RendererSurfaceStateUserData>()?;
            let shown = renderer.lock().ok()?.buffer().cloned();
            Some((attached, shown))
        }) else {
            return;
        };
        if let Some(held) = attached.as_ref().and_then(|id| self.held.get_mut(id)) {
            if !held.shown_on.contains(surface) {
                held.shown_on.push(surface.clone());
            }
        }
        // A commit of the buffer the surface already shows makes no new reference: nothing to hold.
        if let Some(buffer) = shown.filter(|shown| attached.as_ref() != Some(&shown.id())) {
            let held = self.held.entry(buffer.id()).or_insert_with(|| Held {
                copies: Vec::new(),
                shown_on: Vec::new(),
            });
            if held.copies.len() == MAX_COPIES {
                held.copies.remove(0);
            }
            held.copies.push(buffer);
        }
    }

    /// Lets go at once of a buffer its client destroyed (or lost by disconnecting): a release
    /// would reach no one, and holding it would keep its pool mapped until the next frame.
    pub fn forget(&mut self, buffer: &ObjectId) {
        self.held.remove(buffer);
    }

    /// Whether `buffer` is held.
    pub fn holds(&self, buffer: &ObjectId) -> bool {
        self.held.contains_key(buffer)
    }

    /// Lets go of the held buffers once a frame is drawn, which releases those no surface shows
    /// any more. One that a surface attached again stays held while that surface shows it.
    pub fn release(&mut self) {
        self.held.retain(|_, held| {
            held.shown_on.retain(|surface| shows(surface, &held.copies[0]));
            !held.shown_on.is_empty()
        });
    }
}

/// Whether `surface` is alive and shows `buffer` now.
fn shows(surface: &WlSurface, buffer: &Buffer) -> bool {
    surface.is_alive()
        && with_renderer_surface_state(surface, |state| state.buffer().is_some_and(|b| **b == **buffer))
            .unwrap_or(false)
}
