//! Frames: the output drawn into an offscreen pixman image by Smithay's damage tracker, and
//! paced as Nexquelium paces them — a commit queues a redraw; a frame sends the frame callbacks
//! and arms a 60 Hz timer that runs the next queued redraw; with nothing queued, no timer.

use std::time::Duration;

use anyhow::{Context, Result};
use smithay::{
    backend::{
        allocator::Fourcc,
        renderer::{
            damage::OutputDamageTracker,
            element::{
                memory::{MemoryRenderBuffer, MemoryRenderBufferRenderElement},
                Kind,
            },
            pixman::PixmanRenderer,
            Bind, Offscreen,
        },
    },
    output::Output,
    reexports::{
        calloop::timer::{TimeoutAction, Timer},
        pixman,
    },
    utils::{Clock, Monotonic},
};

use crate::decor::{self, FloorElement};
use crate::state::Floor;

/// One frame at 60 Hz.
const INTERVAL: Duration = Duration::from_nanos(1_000_000_000 / 60);

/// The colour behind the windows.
const BACKGROUND: [f32; 4] = [0.1, 0.1, 0.15, 1.0];

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Redraw {
    /// Nothing to do and no timer armed.
    #[default]
    Idle,
    /// A redraw runs when the event loop is idle.
    Queued,
    /// A frame was rendered and the timer is armed; it renders again if `queued`.
    Waiting { queued: bool },
}

pub struct Canvas {
    renderer: PixmanRenderer,
    image: pixman::Image<'static, 'static>,
    damage_tracker: OutputDamageTracker,
    clock: Clock<Monotonic>,
    /// `--frames`: title bars, borders and a pointer image are drawn too.
    frames: bool,
    pointer: MemoryRenderBuffer,
}

impl Canvas {
    pub fn new(output: &Output, frames: bool) -> Result<Self> {
        let mut renderer = PixmanRenderer::new().context("cannot create the pixman renderer")?;
        let size = output.current_mode().context("the output has no mode")?.size;
        let image = Offscreen::<pixman::Image<'static, 'static>>::create_buffer(
            &mut renderer,
            Fourcc::Argb8888,
            (size.w, size.h).into(),
        )
        .context("cannot allocate the offscreen image")?;
        Ok(Self {
            renderer,
            image,
            damage_tracker: OutputDamageTracker::from_output(output),
            clock: Clock::new(),
            frames,
            pointer: decor::pointer_image(),
        })
    }
}

impl Floor {
    /// Asks for a frame (after a commit or an unmap).
    pub fn queue_redraw(&mut self) {
        match self.redraw {
            Redraw::Idle => {
                self.redraw = Redraw::Queued;
                self.loop_handle.insert_idle(|floor| {
                    floor.render();
                    floor.arm_timer();
                });
            }
            Redraw::Waiting { queued: false } => self.redraw = Redraw::Waiting { queued: true },
            Redraw::Queued | Redraw::Waiting { queued: true } => {}
        }
    }

    /// Draws the windows front to back over the background, then sends the frame callbacks.
    fn render(&mut self) {
        let canvas = &mut self.canvas;
        let mut elements: Vec<FloorElement> = Vec::with_capacity(1 + 3 * self.space.elements().len());
        if canvas.frames {
            if let Ok(pointer) = MemoryRenderBufferRenderElement::from_buffer(
                &mut canvas.renderer,
                (0.0, 0.0),
                &canvas.pointer,
                None,
                None,
                None,
                Kind::Cursor,
            ) {
                elements.push(FloorElement::Memory(pointer));
            }
        }
        for window in self.space.elements().rev() {
            let content = self.space.element_location(window).unwrap_or_default();
            decor::window_elements(
                &mut canvas.renderer,
                window,
                content,
                canvas.frames,
                &mut elements,
            );
        }
        match canvas.renderer.bind(&mut canvas.image) {
            Ok(mut target) => {
                // The image keeps its contents between frames: its age is always 1.
                if let Err(err) = canvas.damage_tracker.render_output(
                    &mut canvas.renderer,
                    &mut target,
                    1,
                    &elements,
                    BACKGROUND,
                ) {
                    eprintln!("smithay-floor: rendering failed: {err:?}");
                }
            }
            Err(err) => eprintln!("smithay-floor: cannot bind the offscreen image: {err:?}"),
        }
        let now: Duration = canvas.clock.now().into();
        let output = &self.output;
        for window in self.space.elements() {
            window.send_frame(output, now, None, |_, _| Some(output.clone()));
        }
        self.redraw = Redraw::Waiting { queued: false };
    }

    /// Arms the frame timer; it renders while redraws are queued and is dropped when none is.
    fn arm_timer(&mut self) {
        let armed = self
            .loop_handle
            .insert_source(Timer::from_duration(INTERVAL), |due, _, floor| {
                if floor.redraw == (Redraw::Waiting { queued: true }) {
                    floor.render();
                    // On Nexquelium's grid: one interval after the tick, not after the render.
                    TimeoutAction::ToInstant((due + INTERVAL).max(std::time::Instant::now()))
                } else {
                    floor.redraw = Redraw::Idle;
                    TimeoutAction::Drop
                }
            });
        if let Err(err) = armed {
            eprintln!("smithay-floor: cannot arm the frame timer: {err}");
            self.redraw = Redraw::Idle;
        }
    }
}
