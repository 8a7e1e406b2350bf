//! Getting rendered frames onto a CRTC, two ways (see ../shared/PLATFORM.md):
//!
//! - [`Scanout::Smithay`]: Smithay's `DrmCompositor` over dumb buffers, which pixman reaches by
//!   exporting them as dma-bufs. Works where the driver exports dumb buffers (virtio-gpu).
//! - [`Scanout::Mapped`]: two dumb buffers mapped into our memory, wrapped as pixman images,
//!   rendered with damage tracking and flipped ourselves, with the pointer on the cursor plane
//!   where the CRTC has one ([`super::mapped`]). For drivers without dumb-buffer export
//!   (bochs-drm; VirtualBox's vmwgfx).
//!
//! Smithay's compositor puts the pointer on a cursor plane only with a GBM device, which needs
//! Mesa's drivers; without one it draws the pointer with the frame.
//!
//! Both scan out XRGB8888 without modifiers; frames are paced by the compositor's own timer
//! (these drivers have no real vblank), a flip event only says the buffer may be reused.

use smithay::{
    backend::{
        allocator::{
            dmabuf::Dmabuf,
            dumb::DumbAllocator,
            gbm::{GbmAllocator, GbmBufferFlags, GbmDevice},
            Fourcc,
        },
        drm::{
            compositor::{DrmCompositor, FrameFlags},
            exporter::gbm::GbmFramebufferExporter,
            DrmDevice, DrmDeviceFd, DrmSurface,
        },
        renderer::{
            element::RenderElement, element::RenderElementStates, gles::GlesRenderer, pixman::PixmanRenderer,
            Bind, Color32F,
        },
    },
    output::{Output, OutputModeSource},
    utils::{Physical, Size},
};

use super::mapped::MappedScanout;
use crate::render::PlaneCursor;

type SmithayCompositor = DrmCompositor<DumbAllocator, DrmDeviceFd, (), DrmDeviceFd>;
type GlesCompositor =
    DrmCompositor<GbmAllocator<DrmDeviceFd>, GbmFramebufferExporter<DrmDeviceFd>, (), DrmDeviceFd>;

/// How frames reach the screen on one CRTC.
pub enum Scanout {
    Smithay(Box<SmithayCompositor>),
    Mapped(Box<MappedScanout>),
    /// Smithay's compositor over GBM buffers rendered with GLES (see [`super::gles`]).
    Gles(Box<GlesCompositor>),
}

/// Renders `elements` with Smithay's DRM compositor and queues the frame if it changed.
macro_rules! compositor_frame {
    ($compositor:expr, $renderer:expr, $elements:expr, $clear:expr) => {{
        let frame = $compositor
            .render_frame($renderer, $elements, $clear, FrameFlags::DEFAULT)
            .map_err(|err| anyhow::anyhow!("rendering the frame failed: {err:?}"))?;
        let damaged = !frame.is_empty;
        let states = frame.states;
        if damaged {
            $compositor
                .queue_frame(())
                .map_err(|err| anyhow::anyhow!("queueing the frame failed: {err:?}"))?;
        }
        Ok(Rendered { damaged, states })
    }};
}

/// Which scanout path to use; `Auto` tries Smithay's compositor and falls back to mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanoutChoice {
    Auto,
    Smithay,
    Mapped,
}

impl ScanoutChoice {
    /// From `NEXQUELIUM_DRM_SCANOUT`, else from the kernel command line's `nexquelium.scanout=`:
    /// `smithay` or `mapped`; anything else (or nothing) is `Auto`.
    pub fn from_env() -> Self {
        match kernel_setting("NEXQUELIUM_DRM_SCANOUT", "nexquelium.scanout").as_deref() {
            Some("smithay") => ScanoutChoice::Smithay,
            Some("mapped") => ScanoutChoice::Mapped,
            _ => ScanoutChoice::Auto,
        }
    }
}

/// A setting from the environment variable `env`, else from the kernel command line's
/// `param=value` (a session booted straight into Nexquelium gets its environment from init).
pub fn kernel_setting(env: &str, param: &str) -> Option<String> {
    std::env::var(env).ok().or_else(|| {
        let cmdline = std::fs::read_to_string("/proc/cmdline").ok()?;
        kernel_param(&cmdline, param).map(str::to_owned)
    })
}

/// The value of the last `key=value` word of a kernel command line.
fn kernel_param<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline
        .split_ascii_whitespace()
        .filter_map(|word| word.strip_prefix(key)?.strip_prefix('='))
        .next_back()
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
                fd,
                surface,
                output,
                device.cursor_size(),
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

    /// Smithay's compositor over GBM buffers for `renderer`, with the cursor plane.
    pub fn new_gles(
        device: &DrmDevice,
        gbm: &GbmDevice<DrmDeviceFd>,
        surface: DrmSurface,
        output: &Output,
        renderer: &GlesRenderer,
    ) -> anyhow::Result<Scanout> {
        let renderer_formats = renderer.egl_context().dmabuf_render_formats().clone();
        let compositor = DrmCompositor::new(
            OutputModeSource::from(output),
            surface,
            None,
            GbmAllocator::new(gbm.clone(), GbmBufferFlags::RENDERING | GbmBufferFlags::SCANOUT),
            GbmFramebufferExporter::new(gbm.clone(), None),
            [Fourcc::Xrgb8888, Fourcc::Argb8888],
            renderer_formats,
            device.cursor_size(),
            Some(gbm.clone()),
        )
        .map_err(|err| anyhow::anyhow!("Smithay's DRM compositor on GBM failed: {err:?}"))?;
        tracing::info!("scanout: Smithay's DRM compositor over GBM buffers (GLES)");
        Ok(Scanout::Gles(Box::new(compositor)))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Scanout::Smithay(_) => "smithay",
            Scanout::Mapped(_) => "mapped",
            Scanout::Gles(_) => "gles",
        }
    }

    /// Whether a flip is still in flight (a new frame must wait for its event).
    pub fn busy(&self) -> bool {
        match self {
            // The DRM compositor queues a frame behind a pending one itself.
            Scanout::Smithay(_) | Scanout::Gles(_) => false,
            Scanout::Mapped(m) => m.flip_pending,
        }
    }

    /// The size of the cursor plane this scanout puts the pointer on, if any.
    pub fn cursor_plane_size(&self) -> Option<Size<i32, Physical>> {
        match self {
            Scanout::Smithay(_) | Scanout::Gles(_) => None,
            Scanout::Mapped(m) => m.cursor_plane_size(),
        }
    }

    /// Shows `elements`, and `cursor` on the cursor plane (see
    /// [`cursor_plane_size`](Self::cursor_plane_size); `None`: nothing there).
    pub fn render<E: RenderElement<PixmanRenderer>>(
        &mut self,
        renderer: &mut PixmanRenderer,
        elements: &[E],
        cursor: Option<&PlaneCursor<PixmanRenderer>>,
        clear: Color32F,
        scale: f64,
    ) -> anyhow::Result<Rendered> {
        match self {
            Scanout::Smithay(compositor) => compositor_frame!(compositor, renderer, elements, clear),
            Scanout::Mapped(mapped) => mapped.render(renderer, elements, cursor, clear, scale),
            Scanout::Gles(_) => anyhow::bail!("a GLES scanout cannot show a pixman frame"),
        }
    }

    /// Shows `elements` rendered with GLES; the pointer's element goes on the cursor plane
    /// where Smithay's compositor can put it there.
    pub fn render_gles<E: RenderElement<GlesRenderer>>(
        &mut self,
        renderer: &mut GlesRenderer,
        elements: &[E],
        clear: Color32F,
    ) -> anyhow::Result<Rendered> {
        match self {
            Scanout::Gles(compositor) => compositor_frame!(compositor, renderer, elements, clear),
            _ => anyhow::bail!("a pixman scanout cannot show a GLES frame"),
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
            Scanout::Gles(compositor) => {
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
            Scanout::Gles(compositor) => {
                if let Err(err) = compositor.reset_state() {
                    tracing::warn!(%err, "cannot reset the DRM state");
                }
            }
            Scanout::Mapped(mapped) => mapped.reset(),
        }
    }
}

/// Smithay's compositor could not be used on this device; use [`MappedScanout`].
#[derive(Debug, thiserror::Error)]
#[error("the DRM device cannot export dumb buffers")]
pub struct NeedsMapped;

#[cfg(test)]
mod tests {
    use super::kernel_param;

    #[test]
    fn kernel_param_takes_the_last_exact_key() {
        let cmdline = "console=ttyS0 nexquelium.scanout=smithay quiet nexquelium.scanout=mapped\n";
        assert_eq!(kernel_param(cmdline, "nexquelium.scanout"), Some("mapped"));
        assert_eq!(
            kernel_param("nexquelium.scanoutx=mapped", "nexquelium.scanout"),
            None
        );
        assert_eq!(
            kernel_param("quiet nexquelium.scanout", "nexquelium.scanout"),
            None
        );
        assert_eq!(kernel_param("", "nexquelium.scanout"), None);
    }
}
