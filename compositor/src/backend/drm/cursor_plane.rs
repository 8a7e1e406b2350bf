//! The CRTC's cursor plane, driven by [`super::mapped::MappedScanout`]: the pointer's image is
//! drawn into a small ARGB8888 dumb buffer and the plane is moved, so a pointer motion costs a
//! plane update instead of redrawing the screen under the old and new pointer.
//!
//! Only on atomic drivers that offer a cursor plane for the CRTC (virtio-gpu, vmwgfx; bochs
//! has none). Where there is none, or the image is bigger than the plane, the pointer is drawn
//! with everything else.

use smithay::{
    backend::{
        drm::{DrmDeviceFd, DrmSurface, PlaneClaim, PlaneConfig, PlaneState},
        renderer::{damage::OutputDamageTracker, element::RenderElementStates, pixman::PixmanRenderer, Bind},
    },
    reexports::drm::control::{framebuffer, plane},
    utils::{Buffer, Physical, Point, Rectangle, Size, Transform},
};

use super::mapped_buffer::MappedBuffer;
use crate::render::PlaneCursor;

/// What the plane shows: a framebuffer at a position on the CRTC, or nothing.
pub type Shown = Option<(framebuffer::Handle, Point<i32, Physical>)>;

pub struct CursorPlane {
    plane: plane::Handle,
    _claim: PlaneClaim,
    size: Size<i32, Physical>,
    buffers: [MappedBuffer; 2],
    /// The buffer drawn into next.
    back: usize,
    damage: OutputDamageTracker,
    scale: f64,
    renders: u64,
    /// What the last commit put on the plane.
    pub shown: Shown,
}

/// What [`CursorPlane::prepare`] wants on the plane for the next commit.
pub struct Wanted {
    pub shown: Shown,
    /// The back buffer was drawn into: after the commit it is the front one.
    swap: bool,
    pub states: RenderElementStates,
}

impl CursorPlane {
    /// The cursor plane of `surface`'s CRTC, when the driver is atomic and offers one that we
    /// can claim; `size` is the driver's cursor size.
    pub fn new(
        fd: &DrmDeviceFd,
        surface: &DrmSurface,
        size: Size<u32, Buffer>,
        scale: f64,
    ) -> anyhow::Result<Option<Self>> {
        if surface.is_legacy() {
            return Ok(None);
        }
        let Some(info) = surface.planes().cursor.first() else {
            return Ok(None);
        };
        let Some(claim) = surface.claim_plane(info.handle) else {
            tracing::info!("the cursor plane is taken by another output");
            return Ok(None);
        };
        let (w, h) = (size.w.max(1), size.h.max(1));
        let size = Size::from((w as i32, h as i32));
        Ok(Some(Self {
            plane: info.handle,
            _claim: claim,
            size,
            buffers: [
                MappedBuffer::new(fd, (w, h), true)?,
                MappedBuffer::new(fd, (w, h), true)?,
            ],
            back: 0,
            damage: OutputDamageTracker::new(size, scale, Transform::Normal),
            scale,
            renders: 0,
            shown: None,
        }))
    }

    /// A framebuffer of this plane's size, for a test-only commit.
    pub fn probe_fb(&self) -> framebuffer::Handle {
        self.buffers[0].fb
    }

    pub fn size(&self) -> Size<i32, Physical> {
        self.size
    }

    /// The plane showing `shown` (or switched off).
    pub fn state(&self, shown: Shown) -> PlaneState<'static> {
        PlaneState {
            handle: self.plane,
            config: shown.map(|(fb, at)| PlaneConfig {
                src: Rectangle::from_size((f64::from(self.size.w), f64::from(self.size.h)).into()),
                dst: Rectangle::new(at, self.size),
                transform: Transform::Normal,
                alpha: 1.0,
                damage_clips: None,
                fb,
                fence: None,
            }),
        }
    }

    /// Draws `cursor` (at `scale`) into the back buffer if its image changed, and says what the
    /// plane should show. `None`: the plane goes off.
    pub fn prepare(
        &mut self,
        renderer: &mut PixmanRenderer,
        cursor: Option<&PlaneCursor<PixmanRenderer>>,
        scale: f64,
    ) -> anyhow::Result<Wanted> {
        let Some(cursor) = cursor else {
            return Ok(Wanted {
                shown: None,
                swap: false,
                states: RenderElementStates::default(),
            });
        };
        if scale != self.scale {
            self.damage = OutputDamageTracker::new(self.size, scale, Transform::Normal);
            self.scale = scale;
            for buffer in &mut self.buffers {
                buffer.rendered_at = 0;
            }
        }
        self.renders += 1;
        let buffer = &mut self.buffers[self.back];
        let age = buffer.age(self.renders);
        let (changed, states) = {
            let mut target = renderer
                .bind(&mut buffer.image)
                .map_err(|err| anyhow::anyhow!("cannot bind the cursor buffer: {err:?}"))?;
            let result = self
                .damage
                .render_output(renderer, &mut target, age, &cursor.elements, [0.0; 4])
                .map_err(|err| anyhow::anyhow!("drawing the cursor failed: {err:?}"))?;
            (result.damage.is_some_and(|d| !d.is_empty()), result.states)
        };
        buffer.rendered_at = self.renders;
        // An unchanged image keeps the buffer on screen; a changed one (or a plane that was
        // off) shows the back buffer, now up to date.
        let (fb, swap) = match self.shown {
            Some((fb, _)) if !changed => (fb, false),
            _ => (self.buffers[self.back].fb, true),
        };
        Ok(Wanted {
            shown: Some((fb, cursor.at)),
            swap,
            states,
        })
    }

    /// `wanted` was committed.
    pub fn committed(&mut self, wanted: &Wanted) {
        self.shown = wanted.shown;
        if wanted.swap {
            self.back ^= 1;
        }
    }

    /// The plane's state is unknown (a VT switch): draw and commit everything again.
    pub fn reset(&mut self) {
        self.shown = None;
        for buffer in &mut self.buffers {
            buffer.rendered_at = 0;
        }
    }
}
