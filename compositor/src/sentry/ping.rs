//! Unresponsive clients: `xdg_wm_base.ping`, only where a person is looking. When a capsule's
//! toplevel gets the keyboard focus, and while it keeps it and gets key presses (at most once
//! every [`PING_INTERVAL`]), its client is pinged. No pong within the capsule's
//! `unresponsive_secs` is an `unresponsive {window}` event (notice); the pong that finally
//! comes tells the rules the window answers again. Nothing is pinged without focus or input,
//! so an idle session stays idle.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use exo_shell::sentry::{EventKind, Severity};
use smithay::{
    reexports::{
        calloop::{
            timer::{TimeoutAction, Timer},
            RegistrationToken,
        },
        wayland_server::Resource,
    },
    utils::SERIAL_COUNTER,
    wayland::shell::xdg::{ShellClient, ToplevelSurface, XdgToplevelSurfaceData},
};

use crate::state::{ClientState, State};

/// The least time between two pings of one capsule's client.
pub const PING_INTERVAL: Duration = Duration::from_secs(3);

#[derive(Debug)]
struct Pending {
    client: ShellClient,
    window: String,
    timer: Option<RegistrationToken>,
    /// The timeout passed and `unresponsive` was recorded.
    late: bool,
}

/// Pings awaiting their pong, and when each capsule was last pinged.
#[derive(Debug, Default)]
pub struct Pings {
    pending: HashMap<String, Pending>,
    last: HashMap<String, Instant>,
}

/// A toplevel's title, else its app id, else `"untitled"`.
fn window_name(toplevel: &ToplevelSurface) -> String {
    smithay::wayland::compositor::with_states(toplevel.wl_surface(), |states| {
        let data = states.data_map.get::<XdgToplevelSurfaceData>()?;
        let data = data.lock().ok()?;
        data.title
            .clone()
            .filter(|t| !t.is_empty())
            .or_else(|| data.app_id.clone().filter(|a| !a.is_empty()))
    })
    .unwrap_or_else(|| "untitled".into())
}

impl State {
    /// The keyboard focus changed, or the focused window got a key press: ping its client if
    /// it is a capsule's and was not pinged in the last [`PING_INTERVAL`].
    pub fn sentry_ping_focused(&mut self) {
        let Some(focus) = self.nexq.seat.get_keyboard().and_then(|k| k.current_focus()) else {
            return;
        };
        let surface = focus.0;
        let Some(toplevel) = self
            .nexq
            .windows
            .values()
            .filter_map(|w| w.toplevel())
            .find(|t| *t.wl_surface() == surface)
            .cloned()
        else {
            return;
        };
        let Some(capsule) = surface
            .client()
            .and_then(|c| c.get_data::<ClientState>()?.identity.capsule.clone())
        else {
            return;
        };
        let pings = &mut self.nexq.sentry.agent.pings;
        if pings.pending.get(&capsule).is_some_and(|p| p.client.alive()) {
            return;
        }
        let now = Instant::now();
        if pings.last.get(&capsule).is_some_and(|t| now - *t < PING_INTERVAL) {
            return;
        }
        let client = toplevel.client();
        if client.send_ping(SERIAL_COUNTER.next_serial()).is_err() {
            return;
        }
        pings.last.insert(capsule.clone(), now);
        let secs = self
            .nexq
            .sentry
            .agent
            .rules
            .thresholds(&capsule)
            .unresponsive_secs;
        let owned = capsule.clone();
        let timer = self
            .nexq
            .loop_handle
            .insert_source(
                Timer::from_duration(Duration::from_secs(u64::from(secs))),
                move |_, _, state| {
                    state.ping_timed_out(&owned);
                    TimeoutAction::Drop
                },
            )
            .ok();
        let window = window_name(&toplevel);
        let pending = Pending {
            client,
            window,
            timer,
            late: false,
        };
        if let Some(old) = self.nexq.sentry.agent.pings.pending.insert(capsule, pending) {
            if let Some(token) = old.timer {
                self.nexq.loop_handle.remove(token);
            }
        }
    }

    fn ping_timed_out(&mut self, capsule: &str) {
        let Some(pending) = self.nexq.sentry.agent.pings.pending.get_mut(capsule) else {
            return;
        };
        pending.timer = None;
        if !pending.client.alive() {
            self.nexq.sentry.agent.pings.pending.remove(capsule);
            return;
        }
        pending.late = true;
        let window = pending.window.clone();
        tracing::info!(capsule, window, "no pong in time: unresponsive");
        self.record_event(
            Some(capsule),
            Severity::Notice,
            EventKind::Unresponsive { window },
        );
    }

    /// A client answered its ping (from `XdgShellHandler::client_pong`).
    pub fn sentry_pong(&mut self, client: &ShellClient) {
        let pings = &mut self.nexq.sentry.agent.pings;
        let Some(capsule) = pings
            .pending
            .iter()
            .find(|(_, p)| p.client == *client)
            .map(|(c, _)| c.clone())
        else {
            return;
        };
        let Some(pending) = pings.pending.remove(&capsule) else {
            return;
        };
        if let Some(token) = pending.timer {
            self.nexq.loop_handle.remove(token);
        }
        if pending.late {
            tracing::info!(capsule, window = pending.window, "answered its ping again");
            self.nexq.sentry.agent.rules.responsive(&capsule, &pending.window);
        }
    }
}
