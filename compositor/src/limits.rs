//! Per-client resource limits: a client that exceeds them gets a protocol error and is
//! disconnected; the session and every other client keep running.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Far more than any real client needs (GTK uses tens), low enough to stop a surface flood.
pub const MAX_SURFACES_PER_CLIENT: usize = 512;
/// The largest buffer side accepted: twice the biggest 8K output dimension.
pub const MAX_BUFFER_SIDE: i32 = 8192;

#[derive(Debug, Default)]
pub struct ClientLimits {
    surfaces: AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
#[error("client created more than {MAX_SURFACES_PER_CLIENT} surfaces")]
pub struct TooManySurfaces;

impl ClientLimits {
    pub fn add_surface(&self) -> Result<(), TooManySurfaces> {
        let n = self.surfaces.fetch_add(1, Ordering::Relaxed) + 1;
        if n > MAX_SURFACES_PER_CLIENT {
            Err(TooManySurfaces)
        } else {
            Ok(())
        }
    }

    pub fn remove_surface(&self) {
        let _ = self
            .surfaces
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

pub fn buffer_too_large(w: i32, h: i32) -> String {
    format!("buffer of {w}x{h} exceeds the limit of {MAX_BUFFER_SIDE}x{MAX_BUFFER_SIDE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surface_limit_trips_after_the_maximum() {
        let limits = ClientLimits::default();
        for _ in 0..MAX_SURFACES_PER_CLIENT {
            limits.add_surface().unwrap();
        }
        assert!(limits.add_surface().is_err());
        limits.remove_surface();
        limits.remove_surface();
        assert!(limits.add_surface().is_ok());
    }
}
