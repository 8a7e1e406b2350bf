//! Interactive move and resize as Smithay pointer grabs; the geometry comes from the pure grab
//! math in `exo_shell::layout`, so a grab only forwards pointer positions.

use exo_shell::{
    geometry::{Point as ShellPoint, Size as ShellSize},
    layout::{Edges, MoveGrab, ResizeGrab},
};
use smithay::{
    input::{
        pointer::{
            AxisFrame, ButtonEvent, Focus, GestureHoldBeginEvent, GestureHoldEndEvent,
            GesturePinchBeginEvent, GesturePinchEndEvent, GesturePinchUpdateEvent, GestureSwipeBeginEvent,
            GestureSwipeEndEvent, GestureSwipeUpdateEvent, GrabStartData, MotionEvent, PointerGrab,
            PointerInnerHandle, RelativeMotionEvent,
        },
        Seat,
    },
    reexports::{
        wayland_protocols::xdg::shell::server::xdg_toplevel::ResizeEdge,
        wayland_server::protocol::{wl_seat::WlSeat, wl_surface::WlSurface},
    },
    utils::{Logical, Point, Serial},
    wayland::shell::xdg::ToplevelSurface,
};

use crate::state::{State, WindowId};

/// The smallest frame a resize may produce.
pub const MIN_FRAME: ShellSize = ShellSize { w: 96, h: 64 };

#[derive(Debug, Clone, Copy)]
pub enum GrabKind {
    Move,
    Resize(Edges),
}

pub fn edges_from_xdg(edge: ResizeEdge) -> Edges {
    let (top, bottom, left, right) = match edge {
        ResizeEdge::Top => (true, false, false, false),
        ResizeEdge::Bottom => (false, true, false, false),
        ResizeEdge::Left => (false, false, true, false),
        ResizeEdge::Right => (false, false, false, true),
        ResizeEdge::TopLeft => (true, false, true, false),
        ResizeEdge::TopRight => (true, false, false, true),
        ResizeEdge::BottomLeft => (false, true, true, false),
        ResizeEdge::BottomRight => (false, true, false, true),
        _ => (false, true, false, true),
    };
    Edges {
        top,
        bottom,
        left,
        right,
    }
}

fn shell_point(p: Point<f64, Logical>) -> ShellPoint {
    ShellPoint {
        x: p.x.round() as i32,
        y: p.y.round() as i32,
    }
}

enum Motion {
    Move(MoveGrab),
    Resize(ResizeGrab),
}

pub struct LayoutGrab {
    start_data: GrabStartData<State>,
    window: WindowId,
    motion: Motion,
}

impl State {
    /// Start a move or resize of `window` with the pointer at `start`.
    pub fn start_layout_grab(
        &mut self,
        window: WindowId,
        kind: GrabKind,
        start_data: GrabStartData<State>,
        serial: Serial,
    ) {
        let Some(rect) = self.nexq.layout.rect(&window) else {
            return;
        };
        let start_pointer = shell_point(start_data.location);
        let motion = match kind {
            GrabKind::Move => Motion::Move(MoveGrab {
                start_pointer,
                start_rect: rect,
            }),
            GrabKind::Resize(edges) => Motion::Resize(ResizeGrab {
                start_pointer,
                start_rect: rect,
                edges,
                min_size: MIN_FRAME,
            }),
        };
        // A maximized or fullscreen window is restored before it is dragged.
        self.nexq.layout.set_maximized(&window, false);
        self.nexq.layout.set_fullscreen(&window, false);
        let pointer = self.nexq.pointer.clone();
        pointer.set_grab(
            self,
            LayoutGrab {
                start_data,
                window,
                motion,
            },
            serial,
            Focus::Clear,
        );
    }

    /// xdg_toplevel.move / resize: honoured only for the button press that is still held.
    pub fn client_grab_request(
        &mut self,
        surface: &ToplevelSurface,
        seat: &WlSeat,
        serial: Serial,
        kind: GrabKind,
    ) {
        let Some(seat) = Seat::<State>::from_resource(seat) else {
            return;
        };
        let Some(pointer) = seat.get_pointer() else { return };
        if !pointer.has_grab(serial) {
            return;
        }
        let Some(start_data) = pointer.grab_start_data() else {
            return;
        };
        let same_client = start_data.focus.as_ref().is_some_and(|(focus, _)| {
            smithay::reexports::wayland_server::Resource::id(focus).same_client_as(
                &smithay::reexports::wayland_server::Resource::id(surface.wl_surface()),
            )
        });
        if !same_client {
            return;
        }
        let Some(id) = self.nexq.window_id_for_surface(surface.wl_surface()) else {
            return;
        };
        self.start_layout_grab(id, kind, start_data, serial);
    }
}

impl PointerGrab<State> for LayoutGrab {
    fn motion(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        _focus: Option<(WlSurface, Point<f64, Logical>)>,
        event: &MotionEvent,
    ) {
        // No client gets pointer focus while the compositor drags a window.
        handle.motion(data, None, event);
        let p = shell_point(event.location);
        match &self.motion {
            Motion::Move(grab) => {
                let rect = grab.update(p);
                data.nexq.layout.move_to(&self.window, rect.loc());
            }
            Motion::Resize(grab) => {
                let rect = grab.update(p);
                data.nexq.layout.resize_to(&self.window, rect);
            }
        }
        data.nexq.sync_space();
        data.queue_redraw();
    }

    fn relative_motion(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        focus: Option<(WlSurface, Point<f64, Logical>)>,
        event: &RelativeMotionEvent,
    ) {
        handle.relative_motion(data, focus, event);
    }

    fn button(&mut self, data: &mut State, handle: &mut PointerInnerHandle<'_, State>, event: &ButtonEvent) {
        handle.button(data, event);
        if handle.current_pressed().is_empty() {
            handle.unset_grab(self, data, event.serial, event.time, true);
        }
    }

    fn axis(&mut self, data: &mut State, handle: &mut PointerInnerHandle<'_, State>, details: AxisFrame) {
        handle.axis(data, details)
    }

    fn frame(&mut self, data: &mut State, handle: &mut PointerInnerHandle<'_, State>) {
        handle.frame(data);
    }

    fn gesture_swipe_begin(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureSwipeBeginEvent,
    ) {
        handle.gesture_swipe_begin(data, event)
    }
    fn gesture_swipe_update(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureSwipeUpdateEvent,
    ) {
        handle.gesture_swipe_update(data, event)
    }
    fn gesture_swipe_end(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureSwipeEndEvent,
    ) {
        handle.gesture_swipe_end(data, event)
    }
    fn gesture_pinch_begin(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GesturePinchBeginEvent,
    ) {
        handle.gesture_pinch_begin(data, event)
    }
    fn gesture_pinch_update(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GesturePinchUpdateEvent,
    ) {
        handle.gesture_pinch_update(data, event)
    }
    fn gesture_pinch_end(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GesturePinchEndEvent,
    ) {
        handle.gesture_pinch_end(data, event)
    }
    fn gesture_hold_begin(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureHoldBeginEvent,
    ) {
        handle.gesture_hold_begin(data, event)
    }
    fn gesture_hold_end(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureHoldEndEvent,
    ) {
        handle.gesture_hold_end(data, event)
    }

    fn start_data(&self) -> &GrabStartData<State> {
        &self.start_data
    }

    fn unset(&mut self, _data: &mut State) {}
}
