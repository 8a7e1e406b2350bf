//! Getting rendered frames onto a CRTC, two ways (see ../shared/PLATFORM.md):
//!
//! - [`Scanout::Smithay`]: Smithay's `DrmCompositor` over dumb buffers, which pixman reaches by
//!   exporting them as dma-bufs. Works where the driver exports dumb buffers (virtio-gpu).
//! - [`Scanout::Mapped`]: two dumb buffers mapped into our memory, wrapped as pixman images,
//!   rendered with damage tracking and flipped ourselves. For drivers without dumb-buffer
//!   export (bochs-drm; VirtualBox's vmwgfx).
//!
//! Both scan out XRGB8888 without modifiers; frames are paced by the compositor's own timer
//! (these drivers have no real vblank), a flip event only says the buffer may be reused.

use anyhow::Context;
use smithay::{
    backend::{
        allocator::{dmabuf::Dmabuf, dumb::DumbAllocator, Fourcc},
        drm::{
            compositor::{DrmCompositor, FrameFlags},
            DrmDevice, DrmDeviceFd, DrmSurface, PlaneConfig, PlaneState,
        },
        renderer::{
            damage::OutputDamageTracker, element::RenderElement, element::RenderElementStates,
            pixman::PixmanRenderer, Bind, Color32F,
        },
    },
    output::{Output, OutputModeSource},
    reexports::{
        drm::{
            buffer::DrmFourcc,
            control::{dumbbuffer::DumbBuffer, framebuffer, Device as ControlDevice},
        },
        pixman,
    },
    utils::{Rectangle, Transform},
};

type SmithayCompositor = DrmCompositor<DumbAllocator, DrmDeviceFd, (), DrmDeviceFd>;

/// How frames reach the screen on one CRTC.
pub enum Scanout {
    Smithay(Box<SmithayCompositor>),
    Mapped(Box<MappedScanout>),
}

/// Which scanout path to use; `Auto` tries Smithay's compositor and falls back to mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanoutChoice {
    Auto,
    Smithay,
    Mapped,
}

impl ScanoutChoice {
    /// From `NEXQUELIUM_DRM_SCANOUT` (`smithay`, `mapped`; anything else: auto).
    pub fn from_env() -> Self {
        match std::env::var("NEXQUELIUM_DRM_SCANOUT").as_deref() {
            Ok("smithay") => ScanoutChoice::Smithay,
            Ok("mapped") => ScanoutChoice::Mapped,
            _ => ScanoutChoice::Auto,
        }
    }
}

/// What one render did.
pub struct Rendered {
    pub damaged: bool,
    pub states: RenderElementStates,
}

impl Scanout {
    pub fn new(
        choice: ScanoutChoice,
        device: &DrmDevice,
        fd: &DrmDeviceFd,
        surface: DrmSurface,
        output: &Output,
        renderer: &PixmanRenderer,
    ) -> anyhow::Result<Scanout> {
        if choice == ScanoutChoice::Mapped {
            return Ok(Scanout::Mapped(Box::new(MappedScanout::new(
                fd, surface, output,
            )?)));
        }
        let renderer_formats = Bind::<Dmabuf>::supported_formats(renderer)
            .map(|set| set.iter().copied().collect::<Vec<_>>())
            .unwrap_or_default();
        let smithay = DrmCompositor::new(
            OutputModeSource::from(output),
            surface,
            None,
            DumbAllocator::new(fd.clone()),
            fd.clone(),
            [Fourcc::Xrgb8888, Fourcc::Argb8888],
            renderer_formats,
            device.cursor_size(),
            None::<smithay::reexports::gbm::Device<DrmDeviceFd>>,
        );
        match smithay {
            Ok(compositor) => {
                tracing::info!("scanout: Smithay's DRM compositor over exported dumb buffers");
                Ok(Scanout::Smithay(Box::new(compositor)))
            }
            Err(err) if choice == ScanoutChoice::Auto => {
                // The surface went into the failed compositor: make a new one on the same CRTC.
                tracing::info!(error = ?err, "the driver cannot export dumb buffers; mapping them instead");
                Err(NeedsMapped.into())
            }
            Err(err) => Err(anyhow::anyhow!("Smithay's DRM compositor failed: {err:?}")),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Scanout::Smithay(_) => "smithay",
            Scanout::Mapped(_) => "mapped",
        }
    }

    /// Whether a flip is still in flight (a new frame must wait for its event).
    pub fn busy(&self) -> bool {
        match self {
            // The DRM compositor queues a frame behind a pending one itself.
            Scanout::Smithay(_) => false,
            Scanout::Mapped(m) => m.flip_pending,
        }
    }

    pub fn render<E: RenderElement<PixmanRenderer>>(
        &mut self,
        renderer: &mut PixmanRenderer,
        elements: &[E],
        clear: Color32F,
    ) -> anyhow::Result<Rendered> {
        match self {
            Scanout::Smithay(compositor) => {
                let frame = compositor
                    .render_frame(renderer, elements, clear, FrameFlags::DEFAULT)
                    .map_err(|err| anyhow::anyhow!("rendering the frame failed: {err:?}"))?;
                let damaged = !frame.is_empty;
                let states = frame.states;
                if damaged {
                    compositor
                        .queue_frame(())
                        .map_err(|err| anyhow::anyhow!("queueing the frame failed: {err:?}"))?;
                }
                Ok(Rendered { damaged, states })
            }
            Scanout::Mapped(mapped) => mapped.render(renderer, elements, clear),
        }
    }

    /// The flip queued last has happened.
    pub fn flipped(&mut self) {
        match self {
            Scanout::Smithay(compositor) => {
                if let Err(err) = compositor.frame_submitted() {
                    tracing::warn!(error = ?err, "frame submission failed");
                }
            }
            Scanout::Mapped(mapped) => mapped.flip_pending = false,
        }
    }

    /// After the session comes back (VT switch): the CRTC state must be set again.
    pub fn reset(&mut self) {
        match self {
            Scanout::Smithay(compositor) => {
                if let Err(err) = compositor.reset_state() {
                    tracing::warn!(%err, "cannot reset the DRM state");
                }
            }
            Scanout::Mapped(mapped) => {
                mapped.modeset = true;
                mapped.flip_pending = false;
                for buffer in &mut mapped.buffers {
                    buffer.rendered_at = 0;
                }
            }
        }
    }
}

/// Smithay's compositor could not be used on this device; use [`MappedScanout`].
#[derive(Debug, thiserror::Error)]
#[error("the DRM device cannot export dumb buffers")]
pub struct NeedsMapped;

/// Two mapped dumb buffers, rendered into alternately and flipped onto the CRTC.
pub struct MappedScanout {
    surface: DrmSurface,
    buffers: [MappedBuffer; 2],
    /// The buffer rendered into next.
    back: usize,
    damage: OutputDamageTracker,
    /// Renders so far, to tell each buffer's age.
    renders: u64,
    /// The next frame must be committed with a modeset rather than flipped.
    modeset: bool,
    flip_pending: bool,
}

impl MappedScanout {
    pub fn new(fd: &DrmDeviceFd, surface: DrmSurface, output: &Output) -> anyhow::Result<Self> {
        let (w, h) = surface.pending_mode().size();
        let buffers = [
            MappedBuffer::new(fd, (w.into(), h.into()))?,
            MappedBuffer::new(fd, (w.into(), h.into()))?,
        ];
        tracing::info!(
            width = w,
            height = h,
            "scanout: two mapped dumb buffers (XRGB8888)"
        );
        Ok(Self {
            surface,
            buffers,
            back: 0,
            damage: OutputDamageTracker::from_output(output),
            renders: 0,
            modeset: true,
            flip_pending: false,
        })
    }

    fn render<E: RenderElement<PixmanRenderer>>(
        &mut self,
        renderer: &mut PixmanRenderer,
        elements: &[E],
        clear: Color32F,
    ) -> anyhow::Result<Rendered> {
        self.renders += 1;
        let buffer = &mut self.buffers[self.back];
        // How many renders ago this buffer was brought up to date (0: its content is unknown).
        let age = match buffer.rendered_at {
            0 => 0,
            at => (self.renders - at) as usize,
        };
        let (damaged, states) = {
            let mut target = renderer
                .bind(&mut buffer.image)
                .context("cannot bind the mapped dumb buffer")?;
            let result = self
                .damage
                .render_output(renderer, &mut target, age, elements, clear)
                .map_err(|err| anyhow::anyhow!("pixman rendering failed: {err:?}"))?;
            (result.damage.is_some_and(|d| !d.is_empty()), result.states)
        };
        buffer.rendered_at = self.renders;
        if damaged || self.modeset {
            self.flip()?;
        }
        Ok(Rendered { damaged, states })
    }

    fn flip(&mut self) -> anyhow::Result<()> {
        let (w, h) = self.surface.pending_mode().size();
        let plane = PlaneState {
            handle: self.surface.plane(),
            config: Some(PlaneConfig {
                src: Rectangle::from_size((f64::from(w), f64::from(h)).into()),
                dst: Rectangle::from_size((i32::from(w), i32::from(h)).into()),
                transform: Transform::Normal,
                alpha: 1.0,
                damage_clips: None,
                fb: self.buffers[self.back].fb,
                fence: None,
            }),
        };
        if self.modeset {
            self.surface
                .commit([plane], true)
                .context("the modeset commit failed")?;
            self.modeset = false;
        } else {
            self.surface
                .page_flip([plane], true)
                .context("the page flip failed")?;
        }
        self.flip_pending = true;
        self.back ^= 1;
        Ok(())
    }
}

/// A dumb buffer, its framebuffer, and a pixman image over its mapping.
struct MappedBuffer {
    fd: DrmDeviceFd,
    dumb: Option<DumbBuffer>,
    fb: framebuffer::Handle,
    image: pixman::Image<'static, 'static>,
    map: *mut u8,
    map_len: usize,
    /// The render count when this buffer was last brought up to date (0: never).
    rendered_at: u64,
}

impl MappedBuffer {
    fn new(fd: &DrmDeviceFd, (w, h): (u32, u32)) -> anyhow::Result<Self> {
        let mut dumb = fd
            .create_dumb_buffer((w, h), DrmFourcc::Xrgb8888, 32)
            .with_context(|| format!("cannot create a {w}x{h} dumb buffer"))?;
        let fb = fd
            .add_framebuffer(&dumb, 24, 32)
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
                pixman::FormatCode::X8R8G8B8,
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
