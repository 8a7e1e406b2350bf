//! libinput devices (keyboards, mice, touchpads, tablets, touchscreens) into the seat.

use smithay::{
    backend::{
        input::{
            AbsolutePositionEvent, Axis, AxisSource, ButtonState, Event, InputBackend, InputEvent,
            KeyboardKeyEvent, PointerAxisEvent, PointerButtonEvent, PointerMotionEvent, TabletToolTipEvent,
            TabletToolTipState, TouchEvent,
        },
        libinput::LibinputInputBackend,
    },
    input::pointer::AxisFrame,
};

use crate::state::State;

/// BTN_LEFT: a tablet pen touching down clicks like the left button.
const BTN_LEFT: u32 = 0x110;

pub fn handle(state: &mut State, event: InputEvent<LibinputInputBackend>) {
    match event {
        InputEvent::DeviceAdded { device } => {
            tracing::info!(name = device.name(), "input device added");
        }
        InputEvent::DeviceRemoved { device } => {
            tracing::info!(name = device.name(), "input device removed");
        }
        InputEvent::Keyboard { event } => state.keyboard_key(event.key_code().raw(), event.state()),
        InputEvent::PointerMotion { event } => {
            let pointer = state.nexq.pointer.clone();
            let delta = event.delta();
            state.pointer_motion(pointer.current_location() + delta, Some(event.delta_unaccel()));
        }
        InputEvent::PointerMotionAbsolute { event } => {
            let size = state.nexq.primary_rect().size;
            state.pointer_motion_absolute(event.position_transformed(size));
        }
        InputEvent::PointerButton { event } => state.pointer_button(event.button_code(), event.state()),
        InputEvent::PointerAxis { event } => pointer_axis::<LibinputInputBackend>(state, &event),
        InputEvent::TabletToolAxis { event } => {
            let size = state.nexq.primary_rect().size;
            state.pointer_motion_absolute(
                AbsolutePositionEvent::<LibinputInputBackend>::position_transformed(&event, size),
            );
        }
        InputEvent::TabletToolTip { event } => {
            let size = state.nexq.primary_rect().size;
            state.pointer_motion_absolute(
                AbsolutePositionEvent::<LibinputInputBackend>::position_transformed(&event, size),
            );
            let button = match TabletToolTipEvent::<LibinputInputBackend>::tip_state(&event) {
                TabletToolTipState::Down => ButtonState::Pressed,
                TabletToolTipState::Up => ButtonState::Released,
            };
            state.pointer_button(BTN_LEFT, button);
        }
        InputEvent::TouchDown { event } => {
            let size = state.nexq.primary_rect().size;
            state.touch_down(event.slot(), event.position_transformed(size));
        }
        InputEvent::TouchMotion { event } => {
            let size = state.nexq.primary_rect().size;
            state.touch_motion(event.slot(), event.position_transformed(size));
        }
        InputEvent::TouchUp { event } => state.touch_up(event.slot()),
        _ => {}
    }
}

/// Scrolling: wheels in discrete steps (v120), touchpads and the rest continuously.
fn pointer_axis<B: InputBackend>(state: &mut State, event: &B::PointerAxisEvent) {
    let pointer = state.nexq.pointer.clone();
    let source = event.source();
    let mut frame = AxisFrame::new(event.time_msec()).source(source);
    for axis in [Axis::Horizontal, Axis::Vertical] {
        let amount = event
            .amount(axis)
            .or_else(|| event.amount_v120(axis).map(|v| v * 15.0 / 120.0));
        if let Some(amount) = amount.filter(|a| *a != 0.0) {
            frame = frame.value(axis, amount);
            if let Some(v120) = event.amount_v120(axis) {
                frame = frame.v120(axis, v120 as i32);
            }
        } else if source == AxisSource::Finger && amount.is_some() {
            frame = frame.stop(axis);
        }
    }
    pointer.axis(state, frame);
    pointer.frame(state);
}
