//! The winit backend: Nexquelium in a window of the host desktop, rendered with GLES.
//! Captures (screenshots, screencopy) go through a pixman canvas, like the headless backend.

use anyhow::Context;
use smithay::{
    backend::{
        input::{AbsolutePositionEvent, InputEvent, KeyboardKeyEvent, PointerButtonEvent},
        renderer::{damage::OutputDamageTracker, gles::GlesRenderer},
        winit::{self, WinitEvent, WinitGraphicsBackend},
    },
    output::{Mode, Output},
    reexports::calloop::LoopHandle,
};

use crate::{
    backend::canvas::Captures,
    culling::Culling,
    cursor::CursorImages,
    redraw::RenderOutcome,
    render::output_elements,
    state::{Nexq, State},
};

pub struct WinitBackend {
    graphics: WinitGraphicsBackend<GlesRenderer>,
    damage_tracker: OutputDamageTracker,
    cursors: CursorImages,
    culling: Culling,
    pub captures: Captures,
    pub frame_count: u64,
}

impl WinitBackend {
    /// Open the window and feed its events into the event loop. Returns the window's size in
    /// pixels, which becomes the output mode.
    pub fn new(handle: &LoopHandle<'static, State>, output: &Output) -> anyhow::Result<Self> {
        let (graphics, events) = winit::init::<GlesRenderer>()
            .map_err(|err| anyhow::anyhow!("cannot open a winit window: {err}"))?;
        handle
            .insert_source(events, |event, _, state| handle_event(state, event))
            .map_err(|err| anyhow::anyhow!("cannot watch winit events: {err}"))?;
        let size = graphics.window_size();
        output.change_current_state(
            Some(Mode {
                size,
                refresh: 60_000,
            }),
            None,
            None,
            None,
        );
        output.set_preferred(Mode {
            size,
            refresh: 60_000,
        });
        Ok(Self {
            graphics,
            damage_tracker: OutputDamageTracker::from_output(output),
            cursors: CursorImages::default(),
            culling: Culling::default(),
            captures: Captures::default(),
            frame_count: 0,
        })
    }

    pub fn render(&mut self, nexq: &mut Nexq) -> anyhow::Result<RenderOutcome> {
        let age = self.graphics.buffer_age().unwrap_or(0);
        let clear = nexq.config.appearance.background.to_f32_rgba();
        let (damage, states) = {
            let (renderer, mut framebuffer) = self.graphics.bind().context("cannot bind the winit window")?;
            let output = nexq.outputs.primary();
            let elements = output_elements(renderer, nexq, output, &mut self.cursors, true);
            let scale = output.current_scale().fractional_scale().into();
            let elements = self.culling.cull(&elements, scale);
            let result = self
                .damage_tracker
                .render_output(renderer, &mut framebuffer, age, &elements, clear)
                .map_err(|err| anyhow::anyhow!("GLES rendering failed: {err:?}"))?;
            (result.damage.cloned(), result.states)
        };
        let damaged = damage.as_ref().is_some_and(|d| !d.is_empty());
        if damaged {
            self.graphics
                .submit(damage.as_deref())
                .context("cannot present the frame")?;
            self.frame_count += 1;
        }
        Ok(RenderOutcome {
            damaged,
            states,
            ..Default::default()
        })
    }
}

fn handle_event(state: &mut State, event: WinitEvent) {
    match event {
        WinitEvent::Resized { size, .. } => {
            let mode = Mode {
                size,
                refresh: 60_000,
            };
            let output = state.nexq.outputs.primary().clone();
            output.change_current_state(Some(mode), None, None, None);
            output.set_preferred(mode);
            state.outputs_changed();
            state.queue_redraw();
        }
        WinitEvent::Input(event) => handle_input(state, event),
        WinitEvent::Redraw => state.queue_redraw(),
        WinitEvent::CloseRequested => state.nexq.loop_signal.stop(),
        WinitEvent::Focus(_) => {}
    }
}

fn handle_input(state: &mut State, event: InputEvent<winit::WinitInput>) {
    match event {
        InputEvent::Keyboard { event } => state.keyboard_key(event.key_code().raw(), event.state()),
        InputEvent::PointerMotionAbsolute { event } => {
            let size = state.nexq.primary_rect().size;
            let pos = event.position_transformed(size);
            state.pointer_motion_absolute(pos);
        }
        InputEvent::PointerButton { event } => state.pointer_button(event.button_code(), event.state()),
        _ => {}
    }
}
