//! The compositor thread: the real Nexquelium `State` on the headless backend, with WLCS's
//! commands arriving over a calloop channel and handled through the compositor's own input and
//! layout paths.

use std::{collections::HashMap, sync::Arc, thread::JoinHandle};

use anyhow::Context;
use exo_shell::{config::Config, CapabilitySet};
use nexquelium::{
    backend::Backend,
    init::{create_output, insert_display, OutputSpec},
    state::{ClientIdentity, ClientState, State},
};
use smithay::{
    backend::input::ButtonState,
    desktop::LayerSurface,
    reexports::{
        calloop::{
            channel::{channel, Channel, Event, Sender},
            EventLoop,
        },
        wayland_server::{protocol::wl_surface::WlSurface, Client, Display, Resource},
    },
    utils::{Logical, Point},
    wayland::{
        compositor::with_states,
        shell::wlr_layer::{Anchor, LayerSurfaceCachedState, Margins},
    },
};

use crate::{Command, Request};

/// The output WLCS tests run on. WLCS places windows and moves the pointer in global
/// coordinates up to about 1000 px; the pointer is confined to the output, so make it roomy.
const OUTPUT: OutputSpec = OutputSpec {
    width: 1920,
    height: 1080,
    scale: 1.0,
    refresh_hz: 60.0,
};

/// Start a compositor thread; returns once the compositor is ready for clients.
pub(crate) fn start() -> anyhow::Result<(Sender<Request>, JoinHandle<()>)> {
    let (sender, channel) = channel::<Request>();
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("nexquelium".into())
        .spawn(move || match build(channel) {
            Ok((mut event_loop, mut state)) => {
                let _ = ready_tx.send(Ok(()));
                // The binary's loop (run.rs).
                if let Err(err) = event_loop.run(None, &mut state, |state| state.after_dispatch()) {
                    eprintln!("nexquelium-wlcs: event loop failed: {err}");
                }
            }
            Err(err) => {
                let _ = ready_tx.send(Err(err));
            }
        })
        .context("cannot start the compositor thread")?;
    ready_rx
        .recv()
        .context("the compositor thread died while starting")??;
    Ok((sender, thread))
}

/// WLCS names clients by the fd number of their end of the socket pair.
#[derive(Default)]
struct Clients(HashMap<i32, Client>);

/// The compositor as the binary builds it (run.rs), minus the listening and control sockets.
fn build(channel: Channel<Request>) -> anyhow::Result<(EventLoop<'static, State>, State)> {
    let event_loop: EventLoop<'static, State> = EventLoop::try_new().context("event loop")?;
    let display: Display<State> = Display::new().context("display")?;
    let dh = display.handle();
    let output = create_output(&dh, "WLCS-1", OUTPUT);
    insert_display(&event_loop, display)?;
    let mut state = State::new(
        &event_loop,
        dh,
        Backend::Headless(Box::default()),
        vec![output],
        Config::default(),
        None,
        "wlcs".into(),
    )?;
    state.update_usable_area();

    let mut clients = Clients::default();
    event_loop
        .handle()
        .insert_source(channel, move |event, _, state| {
            let Event::Msg(Request { command, done }) = event else {
                // Every sender is gone: the library was unloaded without a stop.
                state.nexq.loop_signal.stop();
                return;
            };
            handle(state, &mut clients, command);
            // A client that went away is not an error here.
            let _ = state.nexq.display_handle.flush_clients();
            let _ = done.send(());
        })
        .map_err(|err| anyhow::anyhow!("cannot watch the WLCS channel: {err}"))?;
    Ok((event_loop, state))
}

fn handle(state: &mut State, clients: &mut Clients, command: Command) {
    match command {
        Command::Stop => state.nexq.loop_signal.stop(),
        Command::NewClient { stream, client_fd } => {
            // A host client with every capability: WLCS tests the protocols, not Exosphere's
            // capability policy.
            let data = ClientState::new(ClientIdentity::default(), CapabilitySet::all());
            match state.nexq.display_handle.insert_client(stream, Arc::new(data)) {
                Ok(client) => {
                    clients.0.insert(client_fd, client);
                }
                Err(err) => eprintln!("nexquelium-wlcs: cannot insert client: {err}"),
            }
        }
        Command::PositionWindow {
            client_fd,
            surface_id,
            location,
        } => {
            let Some(client) = clients.0.get(&client_fd) else {
                eprintln!("nexquelium-wlcs: position_window for an unknown client");
                return;
            };
            let is_it = |surface: &WlSurface| {
                surface.id().protocol_id() == surface_id
                    && surface.client().is_some_and(|c| c.id() == client.id())
            };
            let id = state
                .nexq
                .windows
                .iter()
                .find_map(|(id, window)| is_it(window.toplevel()?.wl_surface()).then_some(*id));
            if let Some(id) = id {
                state.place_content_at(id, location);
                return;
            }
            let layer = state.nexq.layers.iter().find(|l| is_it(l.wl_surface())).cloned();
            match layer {
                Some(layer) => place_layer_at(state, &layer, location),
                None => eprintln!("nexquelium-wlcs: position_window for a surface that is neither a mapped toplevel nor a layer surface"),
            }
        }
        // WLCS's absolute moves come from a device that only knows positions (no relative
        // motion, as from a tablet); its relative moves from a mouse-like one.
        Command::PointerMoveAbsolute(location) => state.pointer_motion(location, None),
        Command::PointerMoveRelative(delta) => {
            let location = state
                .nexq
                .seat
                .get_pointer()
                .map(|p| p.current_location())
                .unwrap_or_default();
            state.pointer_motion(location + delta, Some(delta));
        }
        Command::PointerButton { button, pressed } => state.pointer_button(
            button,
            if pressed {
                ButtonState::Pressed
            } else {
                ButtonState::Released
            },
        ),
        Command::TouchDown(slot, location) => state.touch_down(Some(slot).into(), location),
        Command::TouchMove(slot, location) => state.touch_motion(Some(slot).into(), location),
        Command::TouchUp(slot) => state.touch_up(Some(slot).into()),
    }
}

/// WLCS moves layer surfaces too, which Exosphere never does: they sit where their anchors put
/// them. The test hook anchors the surface to the output's top-left corner with margins that put
/// it at `location`, in both its current and pending state (so that its next commits keep it
/// there), and has the layer surfaces arranged again.
fn place_layer_at(state: &mut State, layer: &LayerSurface, location: Point<i32, Logical>) {
    with_states(layer.wl_surface(), |states| {
        let mut cached = states.cached_state.get::<LayerSurfaceCachedState>();
        let place = |attributes: &mut LayerSurfaceCachedState| {
            attributes.anchor = Anchor::TOP | Anchor::LEFT;
            attributes.margin = Margins {
                top: location.y,
                left: location.x,
                right: 0,
                bottom: 0,
            };
        };
        place(cached.pending());
        place(cached.current());
    });
    // Places every layer surface again.
    state.update_usable_area();
    state.refresh_pointer_focus();
    state.queue_redraw();
}
