//! zwp_text_input_v3, dispatched by hand in front of Smithay.
//!
//! - Smithay drops a text-input's requests while no input method is bound, so an input method
//!   bound after the focused client enabled its text-input would never be activated. They are
//!   kept instead ([`held::Held`]) and replayed to Smithay when an input method is bound
//!   ([`release_held`], from `handlers::input_method`): as many commits as the client made, so
//!   that the serial of `done` stays the client's.
//! - Smithay leaves the input method active when the active text-input is destroyed while its
//!   client has another text-input: it is disabled first.
//! - Smithay panics on an enum value outside the protocol: such requests are dropped.
//! - A text-input created while its client already has keyboard focus gets its `enter` (focus
//!   changes send it in `focus.rs`).

mod held;

use std::{
    cell::{RefCell, RefMut},
    collections::HashMap,
};

use smithay::{
    input::Seat,
    reexports::{
        wayland_protocols::wp::text_input::zv3::server::{
            zwp_text_input_manager_v3::{self, ZwpTextInputManagerV3},
            zwp_text_input_v3::{self, ZwpTextInputV3},
        },
        wayland_server::{
            backend::ClientId, delegate_global_dispatch, Client, DataInit, Dispatch, DisplayHandle, Resource,
            WEnum,
        },
    },
    wayland::text_input::{TextInputManagerState, TextInputSeat, TextInputUserData},
};

use crate::state::State;

use held::Held;

/// Text-input bookkeeping of a seat (in its user data).
#[derive(Debug, Default)]
struct TextInputs {
    /// Live text-inputs per client.
    per_client: HashMap<ClientId, usize>,
    /// Requests held while no input method is bound.
    held: Vec<(ZwpTextInputV3, Held)>,
}

impl TextInputs {
    fn of(seat: &Seat<State>) -> RefMut<'_, TextInputs> {
        let data = seat.user_data();
        data.insert_if_missing(|| RefCell::new(TextInputs::default()));
        data.get::<RefCell<TextInputs>>().unwrap().borrow_mut()
    }

    fn hold(&mut self, text_input: &ZwpTextInputV3, request: zwp_text_input_v3::Request) {
        let index = match self.held.iter().position(|(ti, _)| ti == text_input) {
            Some(index) => index,
            None => {
                self.held.push((text_input.clone(), Held::default()));
                self.held.len() - 1
            }
        };
        self.held[index].1.request(request);
    }
}

/// Keyboard focus moved (`focus.rs`): held text-inputs are no longer enabled.
pub(crate) fn focus_moved(seat: &Seat<State>) {
    for (_, held) in TextInputs::of(seat).held.iter_mut() {
        held.focus_moved();
    }
}

/// An input method was just bound: Smithay gets what the text-inputs asked meanwhile, which
/// activates the input method for the focused client's enabled text-input.
pub(crate) fn release_held(state: &mut State, dh: &DisplayHandle, data_init: &mut DataInit<'_, State>) {
    let held = std::mem::take(&mut TextInputs::of(&state.nexq.seat).held);
    for (text_input, held) in held {
        let (Ok(client), Some(data)) = (
            dh.get_client(text_input.id()),
            text_input.data::<TextInputUserData>(),
        ) else {
            continue;
        };
        for request in held.into_requests() {
            smithay_request(state, &client, &text_input, request, data, dh, data_init);
        }
    }
}

fn smithay_request(
    state: &mut State,
    client: &Client,
    text_input: &ZwpTextInputV3,
    request: zwp_text_input_v3::Request,
    data: &TextInputUserData,
    dh: &DisplayHandle,
    data_init: &mut DataInit<'_, State>,
) {
    <TextInputManagerState as Dispatch<ZwpTextInputV3, TextInputUserData, State>>::request(
        state, client, text_input, request, data, dh, data_init,
    );
}

/// Whether Smithay has `text_input` as the seat's active (enabled) text-input.
fn is_active(seat: &Seat<State>, text_input: &ZwpTextInputV3) -> bool {
    let mut active = false;
    seat.text_input()
        .with_active_text_input(|ti, _| active |= ti == text_input);
    active
}

/// A request carrying an enum value the protocol does not define.
fn out_of_protocol(request: &zwp_text_input_v3::Request) -> bool {
    use zwp_text_input_v3::Request;
    match request {
        Request::SetTextChangeCause { cause } => matches!(cause, WEnum::Unknown(_)),
        Request::SetContentType { hint, purpose } => {
            matches!(hint, WEnum::Unknown(_)) || matches!(purpose, WEnum::Unknown(_))
        }
        _ => false,
    }
}

delegate_global_dispatch!(State: [ZwpTextInputManagerV3: ()] => TextInputManagerState);

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
            *TextInputs::of(&seat).per_client.entry(client.id()).or_default() += 1;
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

impl Dispatch<ZwpTextInputV3, TextInputUserData> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        resource: &ZwpTextInputV3,
        request: zwp_text_input_v3::Request,
        data: &TextInputUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if out_of_protocol(&request) {
            tracing::debug!(?request, "dropping a text-input request outside the protocol");
            return;
        }
        let seat = state.nexq.seat.clone();
        match request {
            zwp_text_input_v3::Request::Destroy => {
                let others = TextInputs::of(&seat)
                    .per_client
                    .get(&client.id())
                    .is_some_and(|n| *n > 1);
                // Smithay deactivates the input method only when a client's last text-input
                // goes; disabling this one first deactivates it now.
                if others && is_active(&seat, resource) {
                    for request in [
                        zwp_text_input_v3::Request::Disable,
                        zwp_text_input_v3::Request::Commit,
                    ] {
                        smithay_request(state, client, resource, request, data, dh, data_init);
                    }
                }
                smithay_request(
                    state,
                    client,
                    resource,
                    zwp_text_input_v3::Request::Destroy,
                    data,
                    dh,
                    data_init,
                );
            }
            request if !state.nexq.input_method_bound => TextInputs::of(&seat).hold(resource, request),
            request => smithay_request(state, client, resource, request, data, dh, data_init),
        }
    }

    fn destroyed(state: &mut Self, client: ClientId, resource: &ZwpTextInputV3, data: &TextInputUserData) {
        let seat = state.nexq.seat.clone();
        let was_active = is_active(&seat, resource);
        <TextInputManagerState as Dispatch<ZwpTextInputV3, TextInputUserData, State>>::destroyed(
            state,
            client.clone(),
            resource,
            data,
        );
        {
            let mut text_inputs = TextInputs::of(&seat);
            text_inputs.held.retain(|(ti, _)| ti != resource);
            if let Some(n) = text_inputs.per_client.get_mut(&client) {
                *n -= 1;
                if *n == 0 {
                    text_inputs.per_client.remove(&client);
                }
            }
        }
        if was_active {
            // Destroyed while active: its client had no other text-input (Smithay deactivated the
            // input method) or is gone. Smithay still holds it as the active one, which would
            // refuse any other: `leave` clears that (and has no live text-input to reach).
            seat.text_input().leave();
        }
    }
}
