//! wl_seat with cursor-shape, pointer-constraints and relative-pointer (text-input-v3: `text_input`).

use smithay::{
    delegate_cursor_shape, delegate_pointer_constraints, delegate_relative_pointer, delegate_seat,
    input::{
        pointer::{CursorImageStatus, PointerHandle},
        Seat, SeatHandler, SeatState,
    },
    reexports::wayland_server::{protocol::wl_surface::WlSurface, Resource},
    utils::{Logical, Point},
    wayland::{
        pointer_constraints::{with_pointer_constraint, PointerConstraintsHandler},
        seat::WaylandFocus,
        tablet_manager::TabletSeatHandler,
    },
};

use crate::{focus::KeyboardFocusTarget, state::State};

impl SeatHandler for State {
    type KeyboardFocus = KeyboardFocusTarget;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;

    fn seat_state(&mut self) -> &mut SeatState<State> {
        &mut self.nexq.seat_state
    }

    fn focus_changed(&mut self, _seat: &Seat<Self>, focused: Option<&KeyboardFocusTarget>) {
        // The clipboard follows keyboard focus: only the focused client may read selections, and
        // only those of its own owner (see `clipboard`).
        let client = focused
            .and_then(|f| f.wl_surface())
            .and_then(|s| self.nexq.display_handle.get_client(s.id()).ok());
        self.selection_focus_to(client);
    }

    fn cursor_image(&mut self, _seat: &Seat<Self>, image: CursorImageStatus) {
        self.nexq.cursor_status = image;
        self.queue_redraw();
    }
}

impl TabletSeatHandler for State {}

impl PointerConstraintsHandler for State {
    fn new_constraint(&mut self, surface: &WlSurface, pointer: &PointerHandle<Self>) {
        // A constraint takes effect at once when its surface already has pointer focus.
        if pointer.current_focus().as_ref() == Some(surface) {
            with_pointer_constraint(surface, pointer, |constraint| {
                if let Some(c) = constraint {
                    c.activate();
                }
            });
        }
    }

    fn cursor_position_hint(
        &mut self,
        surface: &WlSurface,
        pointer: &PointerHandle<Self>,
        location: Point<f64, Logical>,
    ) {
        let active = with_pointer_constraint(surface, pointer, |c| c.is_some_and(|c| c.is_active()));
        if !active {
            return;
        }
        if let Some(origin) = self.surface_origin(surface) {
            pointer.set_location(origin.to_f64() + location);
            self.queue_redraw();
        }
    }
}

delegate_seat!(State);
delegate_cursor_shape!(State);
delegate_pointer_constraints!(State);
delegate_relative_pointer!(State);
