//! wl_seat with cursor-shape, pointer-constraints, relative-pointer and text-input-v3.

use smithay::{
    delegate_cursor_shape, delegate_pointer_constraints, delegate_relative_pointer, delegate_seat,
    input::{
        pointer::{CursorImageStatus, PointerHandle},
        Seat, SeatHandler, SeatState,
    },
    reexports::{
        wayland_protocols::wp::text_input::zv3::server::{
            zwp_text_input_manager_v3::{self, ZwpTextInputManagerV3},
            zwp_text_input_v3::ZwpTextInputV3,
        },
        wayland_server::{
            delegate_dispatch, delegate_global_dispatch, protocol::wl_surface::WlSurface, Client, DataInit,
            Dispatch, DisplayHandle, Resource,
        },
    },
    utils::{Logical, Point},
    wayland::{
        pointer_constraints::{with_pointer_constraint, PointerConstraintsHandler},
        seat::WaylandFocus,
        tablet_manager::TabletSeatHandler,
        text_input::{TextInputManagerState, TextInputSeat, TextInputUserData},
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

// text-input-v3 is delegated by hand so that a text-input created while its client already has
// keyboard focus gets its `enter` (focus changes send it in `focus.rs`).
delegate_global_dispatch!(State: [ZwpTextInputManagerV3: ()] => TextInputManagerState);
delegate_dispatch!(State: [ZwpTextInputV3: TextInputUserData] => TextInputManagerState);

impl Dispatch<ZwpTextInputManagerV3, ()> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        resource: &ZwpTextInputManagerV3,
        request: zwp_text_input_manager_v3::Request,
        data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        let seat = match &request {
            zwp_text_input_manager_v3::Request::GetTextInput { seat, .. } => {
                Seat::<State>::from_resource(seat)
            }
            _ => None,
        };
        // Smithay addresses one text-input per client: only the client's first gets `enter`.
        let had_one = seat.as_ref().is_some_and(|seat| {
            let mut found = false;
            seat.text_input()
                .with_focused_text_input(|ti, _| found |= ti.id().same_client_as(&resource.id()));
            found
        });
        <TextInputManagerState as Dispatch<ZwpTextInputManagerV3, (), State>>::request(
            state, client, resource, request, data, dh, data_init,
        );
        if let Some(seat) = seat {
            let focused = seat.text_input().focus();
            // With an input method bound, Smithay sends the `enter` itself.
            if !state.nexq.input_method_bound
                && !had_one
                && focused.is_some_and(|s| s.id().same_client_as(&resource.id()))
            {
                seat.text_input().enter();
            }
        }
    }
}
