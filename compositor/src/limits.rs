//! Per-client resource limits (DESIGN.md §4.8): a client that exceeds them gets a protocol error
//! and is disconnected; the session and every other client keep running. A capsule has one
//! Wayland connection, so per client is per capsule; each host connection counts on its own.
//! The numbers come from `[limits]` in the config (surfaces: a fixed cap).
//!
//! Shared memory is counted by buffer: Smithay 0.7 has no hook on pool creation, and pool sizes
//! say little (foot maps sparse pools of hundreds of MiB to scroll by moving its buffers in
//! them). A buffer counts (stride × height) from its first commit until it is destroyed.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
};

use smithay::reexports::wayland_server::backend::ObjectId;

/// Far more than any real client needs (GTK uses tens), low enough to stop a surface flood.
pub const MAX_SURFACES_PER_CLIENT: usize = 512;
/// The default largest buffer side: twice the biggest 8K output dimension.
pub const MAX_BUFFER_SIDE: i32 = 8192;

#[derive(Debug, Default)]
pub struct ClientLimits {
    surfaces: AtomicUsize,
    windows: AtomicUsize,
    shm: Mutex<ShmUsage>,
}

/// A client's committed shm buffers and their bytes.
#[derive(Debug, Default)]
struct ShmUsage {
    buffers: HashMap<ObjectId, u64>,
    total: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("client created more than {MAX_SURFACES_PER_CLIENT} surfaces")]
pub struct TooManySurfaces;

#[derive(Debug, thiserror::Error)]
#[error("client opened more than {0} windows")]
pub struct TooManyWindows(pub u32);

#[derive(Debug, thiserror::Error)]
#[error("client's shared memory ({used} bytes) is over the limit of {limit} bytes")]
pub struct ShmOverLimit {
    pub used: u64,
    pub limit: u64,
}

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

    /// One more toplevel; an error (and no count) beyond `max`.
    pub fn add_window(&self, max: u32) -> Result<(), TooManyWindows> {
        self.windows
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max as usize).then_some(n + 1)
            })
            .map(|_| ())
            .map_err(|_| TooManyWindows(max))
    }

    pub fn remove_window(&self) {
        let _ = self
            .windows
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    pub fn windows(&self) -> usize {
        self.windows.load(Ordering::Relaxed)
    }

    fn shm(&self) -> std::sync::MutexGuard<'_, ShmUsage> {
        // A poisoned lock only means a panic elsewhere; the counts stay consistent.
        self.shm.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A committed shm buffer of `bytes`; an error when the client's buffers now add up to
    /// more than `limit` bytes. A buffer already counted changes nothing.
    pub fn add_shm_buffer(&self, buffer: ObjectId, bytes: u64, limit: u64) -> Result<(), ShmOverLimit> {
        let mut guard = self.shm();
        let shm = &mut *guard;
        if let std::collections::hash_map::Entry::Vacant(e) = shm.buffers.entry(buffer) {
            e.insert(bytes);
            shm.total += bytes;
        }
        if shm.total > limit {
            Err(ShmOverLimit {
                used: shm.total,
                limit,
            })
        } else {
            Ok(())
        }
    }

    /// A buffer was destroyed: it stops counting.
    pub fn remove_shm_buffer(&self, buffer: &ObjectId) {
        let mut shm = self.shm();
        if let Some(bytes) = shm.buffers.remove(buffer) {
            shm.total -= bytes;
        }
    }

    /// Bytes of shared memory counted now.
    pub fn shm_bytes(&self) -> u64 {
        self.shm().total
    }
}

pub fn buffer_too_large(w: i32, h: i32, max: i32) -> String {
    format!("buffer of {w}x{h} exceeds the limit of {max}x{max}")
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

    #[test]
    fn window_limit_refuses_without_counting() {
        let limits = ClientLimits::default();
        for _ in 0..3 {
            limits.add_window(3).unwrap();
        }
        assert!(limits.add_window(3).is_err());
        assert_eq!(limits.windows(), 3);
        limits.remove_window();
        assert!(limits.add_window(3).is_ok());
    }
}
