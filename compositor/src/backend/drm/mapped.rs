//! The scanout path for drivers without dumb-buffer export (bochs-drm; VirtualBox's vmwgfx):
//! two dumb buffers mapped into our memory, rendered into alternately with damage tracking and
//! flipped ourselves, and the pointer on the CRTC's cursor plane where there is one.

use anyhow::Context;
use smithay::{
    backend::{
        drm::{DrmDeviceFd, DrmSurface, PlaneConfig, PlaneState},
        renderer::{
            damage::OutputDamageTracker, element::RenderElement, pixman::PixmanRenderer, Bind, Color32F,
        },
    },
    output::Output,
    reexports::drm::control::framebuffer,
    utils::{Buffer, Physical, Rectangle, Size, Transform},
};

use super::{cursor_plane::CursorPlane, mapped_buffer::MappedBuffer, scanout::Rendered};
use crate::{culling::Culling, render::PlaneCursor};

/// Two mapped dumb buffers, rendered into alternately and flipped onto the CRTC.
pub struct MappedScanout {
    surface: DrmSurface,
    buffers: [MappedBuffer; 2],
    /// The buffer rendered into next.
    back: usize,
    damage: OutputDamageTracker,
    culling: Culling,
    /// Renders so far, to tell each buffer's age.
    renders: u64,
    cursor: Option<CursorPlane>,
    /// The next frame must be committed with a modeset rather than flipped.
    pub modeset: bool,
    pub flip_pending: bool,
}

impl MappedScanout {
    pub fn new(
        fd: &DrmDeviceFd,
        surface: DrmSurface,
        output: &Output,
        cursor_size: Size<u32, Buffer>,
    ) -> anyhow::Result<Self> {
        let (w, h) = surface.pending_mode().size();
        let buffers = [
            MappedBuffer::new(fd, (w.into(), h.into()), false)?,
            MappedBuffer::new(fd, (w.into(), h.into()), false)?,
        ];
        let scale = output.current_scale().fractional_scale();
        let cursor = match CursorPlane::new(fd, &surface, cursor_size, scale) {
            Ok(Some(cursor)) => usable_cursor_plane(&surface, &buffers[0], cursor),
            Ok(None) => None,
            Err(err) => {
                tracing::warn!("cannot use the cursor plane: {err:#}");
                None
            }
        };
        tracing::info!(
            width = w,
            height = h,
            cursor_plane = %cursor.as_ref().map_or("none".into(), |c| format!("{}x{}", c.size().w, c.size().h)),
            "scanout: two mapped dumb buffers (XRGB8888)"
        );
        Ok(Self {
            surface,
            buffers,
            back: 0,
            damage: OutputDamageTracker::from_output(output),
            culling: Culling::default(),
            renders: 0,
            cursor,
            modeset: true,
            flip_pending: false,
        })
    }

    /// The cursor plane's size, when the pointer goes on one.
    pub fn cursor_plane_size(&self) -> Option<Size<i32, Physical>> {
        self.cursor.as_ref().map(CursorPlane::size)
    }

    /// Draws the frame and shows it, with `cursor` on the cursor plane (`None`: plane off).
    pub fn render<E: RenderElement<PixmanRenderer>>(
        &mut self,
        renderer: &mut PixmanRenderer,
        elements: &[E],
        cursor: Option<&PlaneCursor<PixmanRenderer>>,
        clear: Color32F,
        scale: f64,
    ) -> anyhow::Result<Rendered> {
        self.renders += 1;
        let buffer = &mut self.buffers[self.back];
        let age = buffer.age(self.renders);
        let (damaged, mut states) = {
            let mut target = renderer
                .bind(&mut buffer.image)
                .context("cannot bind the mapped dumb buffer")?;
            let elements = self.culling.cull(elements, scale.into());
            let result = self
                .damage
                .render_output(renderer, &mut target, age, &elements, clear)
                .map_err(|err| anyhow::anyhow!("pixman rendering failed: {err:?}"))?;
            (result.damage.is_some_and(|d| !d.is_empty()), result.states)
        };
        buffer.rendered_at = self.renders;
        let cursor = match &mut self.cursor {
            Some(plane) => {
                let mut wanted = plane.prepare(renderer, cursor, scale)?;
                states.states.extend(wanted.states.states.drain());
                Some(wanted)
            }
            None => None,
        };
        let cursor_changed = cursor
            .as_ref()
            .zip(self.cursor.as_ref())
            .is_some_and(|(w, p)| w.shown != p.shown);
        if damaged || self.modeset || cursor_changed {
            self.flip(damaged || self.modeset, cursor.as_ref())?;
        }
        if let (Some(plane), Some(wanted)) = (&mut self.cursor, &cursor) {
            plane.committed(wanted);
        }
        Ok(Rendered {
            damaged: damaged || cursor_changed,
            states,
        })
    }

    /// Commits the back buffer (when `primary`) and the cursor plane's wanted state.
    fn flip(&mut self, primary: bool, cursor: Option<&super::cursor_plane::Wanted>) -> anyhow::Result<()> {
        let mut planes = Vec::with_capacity(2);
        if primary {
            planes.push(primary_plane(&self.surface, self.buffers[self.back].fb));
        }
        if let (Some(plane), Some(wanted)) = (&self.cursor, cursor) {
            planes.push(plane.state(wanted.shown));
        }
        if self.modeset {
            self.surface
                .commit(planes, true)
                .context("the modeset commit failed")?;
            self.modeset = false;
        } else {
            self.surface
                .page_flip(planes, true)
                .context("the page flip failed")?;
        }
        self.flip_pending = true;
        if primary {
            self.back ^= 1;
        }
        Ok(())
    }

    /// The CRTC's state is unknown (a VT switch): commit everything again with a modeset.
    pub fn reset(&mut self) {
        self.modeset = true;
        self.flip_pending = false;
        for buffer in &mut self.buffers {
            buffer.rendered_at = 0;
        }
        if let Some(cursor) = &mut self.cursor {
            cursor.reset();
        }
    }
}

/// `cursor` if the driver accepts the primary plane and the cursor plane together (asked with a
/// test-only commit), else `None` with the reason logged.
fn usable_cursor_plane(
    surface: &DrmSurface,
    primary: &MappedBuffer,
    mut cursor: CursorPlane,
) -> Option<CursorPlane> {
    let primary = primary_plane(surface, primary.fb);
    let probe = cursor.probe_fb();
    match surface.test_state([primary, cursor.state(Some((probe, (0, 0).into())))], true) {
        Ok(()) => {
            cursor.reset();
            Some(cursor)
        }
        Err(err) => {
            tracing::info!(%err, "the driver refuses the cursor plane; the pointer is drawn with the frame");
            None
        }
    }
}

/// The primary plane showing all of `fb` over the whole CRTC.
fn primary_plane(surface: &DrmSurface, fb: framebuffer::Handle) -> PlaneState<'static> {
    let (w, h) = surface.pending_mode().size();
    PlaneState {
        handle: surface.plane(),
        config: Some(PlaneConfig {
            src: Rectangle::from_size((f64::from(w), f64::from(h)).into()),
            dst: Rectangle::from_size((i32::from(w), i32::from(h)).into()),
            transform: Transform::Normal,
            alpha: 1.0,
            damage_clips: None,
            fb,
            fence: None,
        }),
    }
}
