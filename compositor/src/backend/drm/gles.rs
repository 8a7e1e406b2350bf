//! GLES on GBM: where the DRM device has a GPU behind it, frames are rendered with OpenGL ES
//! into GBM buffers and scanned out by Smithay's DRM compositor, which also puts the pointer on
//! the cursor plane (it has a GBM device for the cursor buffers). Mesa's EGL and drivers are
//! loaded at run time; without them, or without a render node, pixman renders.
//!
//! `NEXQUELIUM_RENDERER` (or `nexquelium.renderer=` on the kernel command line) chooses:
//! `gles`, `pixman`, or by default GLES only on a hardware renderer with a render node (a
//! software GL such as llvmpipe is slower than pixman for a desktop's 2D work).

use anyhow::Context;
use smithay::backend::{
    allocator::gbm::GbmDevice,
    drm::{DrmDeviceFd, DrmNode, NodeType},
    egl::{EGLContext, EGLDevice, EGLDisplay},
    renderer::gles::{ffi, GlesRenderer},
};

use super::scanout::kernel_setting;

/// Which renderer the DRM backend uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RendererChoice {
    Auto,
    Pixman,
    Gles,
}

impl RendererChoice {
    /// From `NEXQUELIUM_RENDERER`, else the kernel command line's `nexquelium.renderer=`.
    pub fn from_env() -> Self {
        match kernel_setting("NEXQUELIUM_RENDERER", "nexquelium.renderer").as_deref() {
            Some("gles") => RendererChoice::Gles,
            Some("pixman") => RendererChoice::Pixman,
            _ => RendererChoice::Auto,
        }
    }
}

/// A GLES renderer on the DRM device's GBM device.
pub struct Gles {
    pub gbm: GbmDevice<DrmDeviceFd>,
    pub renderer: GlesRenderer,
    /// The GL renderer's name, for the log.
    pub description: String,
}

/// The GLES renderer `choice` asks for on `fd`, or `None` for pixman (with the reason logged
/// when GLES was wanted or could have been used).
pub fn choose(choice: RendererChoice, fd: &DrmDeviceFd) -> Option<Gles> {
    if choice == RendererChoice::Pixman {
        return None;
    }
    if choice == RendererChoice::Auto && !has_render_node(fd) {
        tracing::info!("renderer: pixman (the DRM device has no render node)");
        return None;
    }
    if choice == RendererChoice::Auto && !has_egl() {
        tracing::info!("renderer: pixman (no EGL library, libEGL.so.1, is installed)");
        return None;
    }
    match open(fd) {
        Ok((gles, software)) if software && choice == RendererChoice::Auto => {
            tracing::info!(gl = %gles.description, "renderer: pixman (EGL only offers a software renderer)");
            None
        }
        Ok((gles, software)) => {
            tracing::info!(gl = %gles.description, software, "renderer: GLES on GBM");
            Some(gles)
        }
        Err(err) => {
            tracing::info!("renderer: pixman (GLES on GBM is not available: {err:#})");
            None
        }
    }
}

fn has_render_node(fd: &DrmDeviceFd) -> bool {
    DrmNode::from_file(fd)
        .ok()
        .and_then(|node| node.node_with_type(NodeType::Render))
        .is_some_and(|node| node.is_ok())
}

/// The GL_RENDERER string, e.g. `llvmpipe (LLVM 15.0.6, 128 bits)`.
fn gl_renderer_name(renderer: &mut GlesRenderer) -> String {
    renderer
        .with_context(|gl| {
            // SAFETY: the context is current inside `with_context`; GetString returns a static
            // NUL-terminated string or null.
            let name = unsafe { gl.GetString(ffi::RENDERER) };
            if name.is_null() {
                return "an unnamed GL renderer".to_owned();
            }
            // SAFETY: not null, NUL-terminated (above).
            unsafe { std::ffi::CStr::from_ptr(name.cast()) }
                .to_string_lossy()
                .into_owned()
        })
        .unwrap_or_else(|err| format!("a GL renderer ({err})"))
}

/// Whether libEGL.so.1 can be loaded (without it Mesa's GBM would only warn about drivers it
/// cannot find before giving up).
fn has_egl() -> bool {
    // SAFETY: dlopen with a constant NUL-terminated name; the handle is closed at once.
    unsafe {
        let handle = libc::dlopen(c"libEGL.so.1".as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
        if handle.is_null() {
            return false;
        }
        libc::dlclose(handle);
    }
    true
}

/// GBM, EGL and a GLES context on `fd`; whether the renderer is software.
fn open(fd: &DrmDeviceFd) -> anyhow::Result<(Gles, bool)> {
    let gbm = GbmDevice::new(fd.clone()).context("Mesa's GBM cannot use the device")?;
    // SAFETY: the GBM device outlives the display: both live in `Gles` (the display is kept
    // alive by the context inside the renderer, the device by `gbm`).
    let display = unsafe { EGLDisplay::new(gbm.clone()) }.context("no EGL display on GBM")?;
    let software = EGLDevice::device_for_display(&display).is_ok_and(|device| device.is_software());
    let context = EGLContext::new(&display).context("cannot create an EGL context")?;
    // SAFETY: the context is new and only this renderer makes it current.
    let mut renderer = unsafe { GlesRenderer::new(context) }.context("cannot create the GLES renderer")?;
    let description = gl_renderer_name(&mut renderer);
    Ok((
        Gles {
            gbm,
            renderer,
            description,
        },
        software,
    ))
}
