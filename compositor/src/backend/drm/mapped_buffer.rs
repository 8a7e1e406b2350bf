//! A dumb buffer mapped into our memory: its framebuffer, and a pixman image over the mapping
//! that the pixman renderer draws into.

use anyhow::Context;
use smithay::{
    backend::drm::DrmDeviceFd,
    reexports::{
        drm::{
            buffer::DrmFourcc,
            control::{dumbbuffer::DumbBuffer, framebuffer, Device as ControlDevice},
        },
        pixman,
    },
};

pub struct MappedBuffer {
    fd: DrmDeviceFd,
    dumb: Option<DumbBuffer>,
    pub fb: framebuffer::Handle,
    pub image: pixman::Image<'static, 'static>,
    map: *mut u8,
    map_len: usize,
    /// The render count when this buffer was last brought up to date (0: never).
    pub rendered_at: u64,
}

impl MappedBuffer {
    /// A `w`×`h` buffer in XRGB8888 (`alpha: false`, for the primary plane) or ARGB8888.
    pub fn new(fd: &DrmDeviceFd, (w, h): (u32, u32), alpha: bool) -> anyhow::Result<Self> {
        let (fourcc, depth, pixman_format) = if alpha {
            (DrmFourcc::Argb8888, 32, pixman::FormatCode::A8R8G8B8)
        } else {
            (DrmFourcc::Xrgb8888, 24, pixman::FormatCode::X8R8G8B8)
        };
        let mut dumb = fd
            .create_dumb_buffer((w, h), fourcc, 32)
            .with_context(|| format!("cannot create a {w}x{h} {fourcc} dumb buffer"))?;
        let fb = fd
            .add_framebuffer(&dumb, depth, 32)
            .context("cannot make a framebuffer of the dumb buffer")?;
        let (map, map_len) = {
            let mut mapping = fd
                .map_dumb_buffer(&mut dumb)
                .context("cannot map the dumb buffer")?;
            let bytes: &mut [u8] = mapping.as_mut();
            let raw = (bytes.as_mut_ptr(), bytes.len());
            // The mapping lives as long as this buffer; `Drop` unmaps it.
            std::mem::forget(mapping);
            raw
        };
        let pitch = smithay::reexports::drm::buffer::Buffer::pitch(&dumb) as usize;
        // SAFETY: `map` is a writable shared mapping of `pitch * h` bytes (the kernel sized the
        // buffer), kept until `Drop` has dropped the image.
        let image = unsafe {
            pixman::Image::from_raw_mut(
                pixman_format,
                w as usize,
                h as usize,
                map.cast::<u32>(),
                pitch,
                false,
            )
        }
        .map_err(|_| anyhow::anyhow!("pixman cannot wrap the {w}x{h} dumb buffer"))?;
        Ok(Self {
            fd: fd.clone(),
            dumb: Some(dumb),
            fb,
            image,
            map,
            map_len,
            rendered_at: 0,
        })
    }

    /// How many renders ago (counting `renders`, the one under way) this buffer was brought
    /// up to date; 0 when its content is unknown.
    pub fn age(&self, renders: u64) -> usize {
        match self.rendered_at {
            0 => 0,
            at => (renders - at) as usize,
        }
    }
}

impl Drop for MappedBuffer {
    fn drop(&mut self) {
        // The image points into the mapping: replace it before unmapping.
        if let Ok(empty) = pixman::Image::new(pixman::FormatCode::X8R8G8B8, 1, 1, false) {
            self.image = empty;
        }
        // SAFETY: `map`/`map_len` are the mapping made in `new`, unmapped only here.
        unsafe { libc::munmap(self.map.cast(), self.map_len) };
        let _ = self.fd.destroy_framebuffer(self.fb);
        if let Some(dumb) = self.dumb.take() {
            let _ = self.fd.destroy_dumb_buffer(dumb);
        }
    }
}
